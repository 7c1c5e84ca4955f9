//! Sign-in throttling: after too many failures under one key (an email, a
//! client address) inside a window, further attempts are refused until the
//! window has moved past them. Time comes from the [`Clock`].
//!
//! A single process (SQLite) counts in its memory, which must stay bounded
//! whatever clients send: keys are kept as SHA-256 digests, failures that
//! left the window are swept once a minute, and past [`MAX_TRACKED_KEYS`]
//! the keys idle longest are forgotten. Several processes on one PostgreSQL
//! count in the database instead, so that a guesser spreading attempts over
//! them meets one limit, not one per process.

use crate::clock::Clock;
use crate::error::CoreResult;
use crate::secrets::token_hash;
use crate::store::Store;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// The most keys one process remembers: a few MiB.
pub const MAX_TRACKED_KEYS: usize = 100_000;

/// How often, in clock time, failures that left the window are swept away.
const SWEEP_EVERY: Duration = Duration::minutes(1);

pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    clock: Arc<dyn Clock>,
    counts: Counts,
    next_sweep: Mutex<DateTime<Utc>>,
}

enum Counts {
    Memory(Mutex<MemoryCounts>),
    Store(Arc<dyn Store>),
}

#[derive(Default)]
struct MemoryCounts {
    /// Failure times per key digest, oldest first, at most `max_failures`:
    /// older ones cannot matter any more.
    failures: HashMap<[u8; 32], VecDeque<DateTime<Utc>>>,
}

impl LoginLimiter {
    /// Counts in this process's memory.
    pub fn in_memory(
        max_failures: u32,
        window: std::time::Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::new(
            max_failures,
            window,
            clock,
            Counts::Memory(Mutex::default()),
        )
    }

    /// Counts in the database, shared by every process on it.
    pub fn in_store(
        max_failures: u32,
        window: std::time::Duration,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
    ) -> Self {
        Self::new(max_failures, window, clock, Counts::Store(store))
    }

    fn new(
        max_failures: u32,
        window: std::time::Duration,
        clock: Arc<dyn Clock>,
        counts: Counts,
    ) -> Self {
        Self {
            max_failures: (max_failures as usize).max(1),
            window: Duration::from_std(window).expect("a sign-in window fits chrono's range"),
            clock,
            counts,
            next_sweep: Mutex::new(DateTime::<Utc>::MIN_UTC),
        }
    }

    /// `Err(wait)` when any of `keys` is over the limit.
    pub async fn check(&self, keys: &[String]) -> CoreResult<Result<(), std::time::Duration>> {
        let now = self.clock.now();
        let since = now - self.window;
        let sweep = self.sweep_due(now);
        let mut wait = None;
        match &self.counts {
            Counts::Memory(counts) => {
                let mut counts = counts.lock().expect("limiter lock");
                if sweep {
                    counts.sweep(since);
                }
                for key in keys {
                    if let Some(times) = counts.failures.get(&digest(key)) {
                        let newest_first = times.iter().rev().copied();
                        wait = wait.max(self.wait(newest_first.take_while(|t| *t > since), now));
                    }
                }
            }
            Counts::Store(store) => {
                if sweep {
                    let mut tx = store.begin().await?;
                    tx.purge_login_failures(since).await?;
                    tx.commit().await?;
                }
                let mut tx = store.begin_read().await?;
                for key in keys {
                    let limit = i64::try_from(self.max_failures).unwrap_or(i64::MAX);
                    let recent = tx
                        .recent_login_failures(&token_hash(key), since, limit)
                        .await?;
                    wait = wait.max(self.wait(recent.into_iter(), now));
                }
            }
        }
        Ok(wait.map_or(Ok(()), Err))
    }

    /// Counts a failure under each of `keys`.
    pub async fn record_failure(&self, keys: &[String]) -> CoreResult<()> {
        let now = self.clock.now();
        match &self.counts {
            Counts::Memory(counts) => {
                let mut counts = counts.lock().expect("limiter lock");
                for key in keys {
                    counts.record(digest(key), now, now - self.window, self.max_failures);
                }
            }
            Counts::Store(store) => {
                let mut tx = store.begin().await?;
                for key in keys {
                    tx.record_login_failure(&token_hash(key), now).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// A successful sign-in forgives the failures under `key` (its email's,
    /// not its address's).
    pub async fn record_success(&self, key: &str) -> CoreResult<()> {
        match &self.counts {
            Counts::Memory(counts) => {
                counts
                    .lock()
                    .expect("limiter lock")
                    .failures
                    .remove(&digest(key));
            }
            Counts::Store(store) => {
                let mut tx = store.begin().await?;
                tx.forget_login_failures(&token_hash(key)).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Whether a sweep is due at `now`; if so, the next one is scheduled.
    fn sweep_due(&self, now: DateTime<Utc>) -> bool {
        let mut next = self.next_sweep.lock().expect("limiter lock");
        let due = now >= *next;
        if due {
            *next = now + SWEEP_EVERY;
        }
        due
    }

    /// How long until fewer than `max_failures` of the failures in the
    /// window (`newest_first`) remain in it; `None` when that is already so.
    fn wait(
        &self,
        mut newest_first: impl Iterator<Item = DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<std::time::Duration> {
        let oldest_that_counts = newest_first.nth(self.max_failures - 1)?;
        let left = oldest_that_counts + self.window - now;
        Some(left.to_std().unwrap_or_default())
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl MemoryCounts {
    fn record(&mut self, key: [u8; 32], now: DateTime<Utc>, since: DateTime<Utc>, max: usize) {
        if self.failures.len() >= MAX_TRACKED_KEYS && !self.failures.contains_key(&key) {
            self.make_room(since);
        }
        let times = self.failures.entry(key).or_default();
        times.push_back(now);
        while times.len() > max {
            times.pop_front();
        }
    }

    fn sweep(&mut self, since: DateTime<Utc>) {
        self.failures.retain(|_, times| {
            while times.front().is_some_and(|t| *t <= since) {
                times.pop_front();
            }
            !times.is_empty()
        });
    }

    /// Sweeps, and when every key is still in its window, forgets the
    /// quarter idle longest: a flood of made-up keys then costs the
    /// tracking of old failures, never unbounded memory. A quarter at once
    /// keeps the cost of choosing them to one pass per many new keys.
    fn make_room(&mut self, since: DateTime<Utc>) {
        self.sweep(since);
        if self.failures.len() < MAX_TRACKED_KEYS {
            return;
        }
        let mut idle: Vec<(DateTime<Utc>, [u8; 32])> = self
            .failures
            .iter()
            .filter_map(|(key, times)| Some((*times.back()?, *key)))
            .collect();
        let forget = MAX_TRACKED_KEYS / 4;
        idle.select_nth_unstable(forget);
        for (_, key) in &idle[..forget] {
            self.failures.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::TimeZone;

    const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);

    fn limiter(max_failures: u32) -> (LoginLimiter, ManualClock) {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap());
        let limiter = LoginLimiter::in_memory(max_failures, MINUTE, Arc::new(clock.clone()));
        (limiter, clock)
    }

    fn tracked_keys(limiter: &LoginLimiter) -> usize {
        match &limiter.counts {
            Counts::Memory(counts) => counts.lock().unwrap().failures.len(),
            Counts::Store(_) => unreachable!("a memory limiter"),
        }
    }

    fn key(s: &str) -> Vec<String> {
        vec![s.to_owned()]
    }

    #[tokio::test]
    async fn refuses_after_the_limit_and_names_the_wait() {
        let (l, clock) = limiter(3);
        let keys = key("email:a@b.c");
        for _ in 0..3 {
            assert!(l.check(&keys).await.unwrap().is_ok());
            l.record_failure(&keys).await.unwrap();
            clock.advance(Duration::seconds(10));
        }
        let wait = l.check(&keys).await.unwrap().unwrap_err();
        assert_eq!(wait, std::time::Duration::from_secs(30));
        assert!(l.check(&key("email:other@b.c")).await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn success_clears_the_email_count() {
        let (l, _) = limiter(1);
        let keys = key("email:a@b.c");
        l.record_failure(&keys).await.unwrap();
        assert!(l.check(&keys).await.unwrap().is_err());
        l.record_success("email:a@b.c").await.unwrap();
        assert!(l.check(&keys).await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn failures_older_than_the_window_are_forgotten() {
        let (l, clock) = limiter(2);
        let keys = key("ip:127.0.0.1");
        l.record_failure(&keys).await.unwrap();
        clock.advance(Duration::seconds(30));
        l.record_failure(&keys).await.unwrap();
        assert!(l.check(&keys).await.unwrap().is_err());
        clock.advance(Duration::seconds(31));
        assert!(
            l.check(&keys).await.unwrap().is_ok(),
            "the first failure has left the window"
        );
    }

    #[tokio::test]
    async fn memory_stays_bounded_under_many_distinct_keys() {
        let (l, clock) = limiter(3);
        for n in 0..MAX_TRACKED_KEYS + MAX_TRACKED_KEYS / 2 {
            l.record_failure(&key(&format!("email:{n}@flood.example")))
                .await
                .unwrap();
        }
        assert!(tracked_keys(&l) <= MAX_TRACKED_KEYS);
        let target = key("email:victim@acme.example");
        for _ in 0..3 {
            l.record_failure(&target).await.unwrap();
        }
        assert!(
            l.check(&target).await.unwrap().is_err(),
            "the key recorded last is kept"
        );
        clock.advance(Duration::minutes(2));
        assert!(l.check(&target).await.unwrap().is_ok());
        assert_eq!(tracked_keys(&l), 0, "the sweep forgot every expired key");
    }
}
