//! Sign-in throttling: after too many failures for one email or from one
//! address inside a window, further attempts are refused until it passes.
//! Kept in memory: each process limits what it sees, which is enough to make
//! password guessing slow.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::default(),
        }
    }

    /// `Err(wait)` when any of `keys` is over the limit.
    pub fn check(&self, keys: &[String]) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("limiter lock");
        let mut wait = None;
        for key in keys {
            if let Some(times) = map.get_mut(key) {
                times.retain(|t| now.duration_since(*t) < self.window);
                if times.len() >= self.max_failures as usize {
                    let oldest = times[0];
                    let left = self.window.saturating_sub(now.duration_since(oldest));
                    wait = Some(wait.map_or(left, |w: Duration| w.max(left)));
                }
            }
        }
        map.retain(|_, times| !times.is_empty());
        wait.map_or(Ok(()), Err)
    }

    pub fn record_failure(&self, keys: &[String]) {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("limiter lock");
        for key in keys {
            map.entry(key.clone()).or_default().push(now);
        }
    }

    /// A successful sign-in forgives the email's failures (not the address's).
    pub fn record_success(&self, email_key: &str) {
        self.failures
            .lock()
            .expect("limiter lock")
            .remove(email_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_the_limit_and_names_a_wait() {
        let l = LoginLimiter::new(3, Duration::from_secs(60));
        let keys = vec!["email:a@b.c".to_owned()];
        for _ in 0..3 {
            assert!(l.check(&keys).is_ok());
            l.record_failure(&keys);
        }
        let wait = l.check(&keys).unwrap_err();
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60));
        assert!(l.check(&["email:other@b.c".to_owned()]).is_ok());
    }

    #[test]
    fn success_clears_the_email_count() {
        let l = LoginLimiter::new(1, Duration::from_secs(60));
        let keys = vec!["email:a@b.c".to_owned()];
        l.record_failure(&keys);
        assert!(l.check(&keys).is_err());
        l.record_success("email:a@b.c");
        assert!(l.check(&keys).is_ok());
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let l = LoginLimiter::new(1, Duration::from_millis(1));
        let keys = vec!["ip:127.0.0.1".to_owned()];
        l.record_failure(&keys);
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.check(&keys).is_ok());
    }
}
