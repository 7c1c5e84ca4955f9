//! The sandbox's clock: wall time plus whatever the admin API advanced it by, and the
//! scaling of token lifetimes (`time_scale`) so tests can watch long-lived tokens die.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, on the sandbox's clock.
pub(crate) type Millis = i64;

pub(crate) const MINUTE: u64 = 60;
pub(crate) const HOUR: u64 = 60 * MINUTE;
pub(crate) const DAY: u64 = 24 * HOUR;

pub(crate) struct Clock {
    offset_ms: AtomicI64,
    scale: f64,
}

impl Clock {
    pub(crate) fn new(scale: f64) -> Clock {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Clock {
            offset_ms: AtomicI64::new(0),
            scale,
        }
    }

    pub(crate) fn now(&self) -> Millis {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        wall + self.offset_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn advance(&self, seconds: f64) {
        self.offset_ms
            .fetch_add((seconds * 1000.0).round() as i64, Ordering::Relaxed);
    }

    /// What the admin API has added to wall time, in milliseconds.
    pub(crate) fn offset(&self) -> Millis {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Restores the offset a saved world had.
    pub(crate) fn set_offset(&self, offset: Millis) {
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    pub(crate) fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }

    /// A token lifetime of `nominal_secs` at real speed, scaled, in milliseconds (at least 1).
    pub(crate) fn lifetime(&self, nominal_secs: u64) -> Millis {
        ((nominal_secs as f64 * 1000.0 * self.scale).round() as i64).max(1)
    }
}

/// Whole seconds from `now` until `at`, rounded up, as `expires_in` fields report them.
pub(crate) fn seconds_until(now: Millis, at: Millis) -> i64 {
    ((at - now).max(0) + 999) / 1000
}

/// Epoch seconds of a sandbox instant.
pub(crate) fn epoch_secs(at: Millis) -> i64 {
    at.div_euclid(1000)
}
