//! Where time comes from. Production reads the system clock; tests hold a
//! [`ManualClock`] and move it.

use chrono::{DateTime, Duration, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::watch;

/// A wait for a moment on some clock.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once `now()` has reached `deadline`. Timers that decide
    /// what happens (lease renewal, housekeeping) wait on this, so a test
    /// that moves its clock moves them too.
    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep {
        let left = (deadline - self.now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(left))
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told to move; moving it wakes whatever
/// sleeps until a moment it has reached.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<watch::Sender<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(watch::Sender::new(start)))
    }

    pub fn advance(&self, by: Duration) {
        self.0.send_modify(|now| *now += by);
    }

    pub fn set(&self, to: DateTime<Utc>) {
        self.0.send_replace(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.borrow()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep {
        let clock = Arc::clone(&self.0);
        Box::pin(async move {
            // Holding `clock` keeps the sender alive, so this waits for time
            // and never ends early on a closed channel.
            let mut now = clock.subscribe();
            let _ = now.wait_for(|now| *now >= deadline).await;
        })
    }
}
