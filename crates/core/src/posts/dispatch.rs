//! Deliveries going out: due deliveries are taken in batches through their
//! index (`deliveries_due`); each recipient's personal accounts are probed
//! first unless heard from within the hour, so a suggestion to someone whose
//! LinkedIn or X just broke arrives with the offer to reconnect; then, in one
//! transaction per batch, the deliveries enter the inboxes and their
//! notifications are queued. Deliveries of posts that expired or were
//! archived meanwhile are closed as expired instead.

use super::notify;
use crate::error::CoreResult;
use crate::store::Post;
use crate::Core;
use apostle_domain::{DeliveryId, DeliveryState, PostId, UserId};
use chrono::Duration;
use std::collections::HashMap;
use tokio::sync::watch;

/// Deliveries taken per transaction.
pub const DISPATCH_BATCH: i64 = 500;

/// A personal account heard from within this long is not probed again
/// before a delivery.
pub const FRESH_CHECK: Duration = Duration::hours(1);

/// Probes run at once before a batch goes out.
const PROBE_CONCURRENCY: usize = 8;

impl Core {
    /// Sends every due delivery; answers how many entered inboxes.
    pub async fn dispatch_due_deliveries(&self) -> CoreResult<usize> {
        let mut delivered = 0;
        loop {
            let (n, more) = self.dispatch_batch().await?;
            delivered += n;
            if !more {
                return Ok(delivered);
            }
        }
    }

    /// One batch; answers how many went out and whether a full batch was due.
    async fn dispatch_batch(&self) -> CoreResult<(usize, bool)> {
        let now = self.clock.now();
        let (due, posts) = {
            let mut tx = self.store.begin_read().await?;
            let due = tx.due_deliveries(now, DISPATCH_BATCH).await?;
            let mut posts: HashMap<PostId, Option<Post>> = HashMap::new();
            for d in &due {
                if let std::collections::hash_map::Entry::Vacant(slot) = posts.entry(d.post_id) {
                    slot.insert(tx.post_by_id(d.team_id, d.post_id).await?);
                }
            }
            (due, posts)
        };
        if due.is_empty() {
            return Ok((0, false));
        }
        let live = |post: PostId| {
            posts
                .get(&post)
                .and_then(Option::as_ref)
                .is_some_and(|p| p.is_live(now))
        };
        let (going, closing): (Vec<_>, Vec<_>) = due.iter().partition(|d| live(d.post_id));
        let mut users: Vec<UserId> = going.iter().map(|d| d.user_id).collect();
        users.sort_unstable();
        users.dedup();
        self.probe_before_delivery(&users).await?;

        let going: Vec<DeliveryId> = going.iter().map(|d| d.id).collect();
        let closing: Vec<DeliveryId> = closing.iter().map(|d| d.id).collect();
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let moved = tx
            .finish_pending_deliveries(&going, DeliveryState::Delivered, now)
            .await?;
        tx.finish_pending_deliveries(&closing, DeliveryState::Expired, now)
            .await?;
        // In the app whatever the member's email settings; by email as they chose.
        tx.add_suggestion_alerts(&moved, now).await?;
        for user in tx.notify_delivered(&moved, now).await? {
            notify::flush_soon(&mut *tx, user, now).await?;
        }
        let touched: Vec<PostId> = posts.keys().copied().collect();
        tx.mark_posts_sent(&touched, now).await?;
        tx.commit().await?;
        metrics::counter!("apostle_deliveries_total", "outcome" => "delivered")
            .increment(moved.len() as u64);
        metrics::counter!("apostle_deliveries_total", "outcome" => "expired")
            .increment(closing.len() as u64);
        Ok((moved.len(), due.len() as i64 == DISPATCH_BATCH))
    }

    /// Checks the recipients' personal grants not heard from within the
    /// hour. A check that fails to run is logged; the delivery still goes.
    async fn probe_before_delivery(&self, users: &[UserId]) -> CoreResult<()> {
        let before = self.engine_now() - FRESH_CHECK;
        let stale = {
            let mut tx = self.store.begin_read().await?;
            tx.stale_personal_grants(users, before).await?
        };
        for chunk in stale.chunks(PROBE_CONCURRENCY) {
            let mut checks = tokio::task::JoinSet::new();
            for grant in chunk {
                let core = self.clone();
                let grant = *grant;
                checks.spawn(async move { (grant, core.check_grant_now(grant).await) });
            }
            while let Some(done) = checks.join_next().await {
                match done {
                    Ok((grant, Err(e))) => {
                        tracing::warn!(grant = grant.0, error = %e, "probe before delivery failed");
                    }
                    Ok((grant, Ok(outcome))) => {
                        tracing::debug!(grant = grant.0, ?outcome, "probed before delivery");
                    }
                    Err(e) => tracing::warn!(error = %e, "probe before delivery panicked"),
                }
            }
        }
        Ok(())
    }
}

/// Dispatches due deliveries in the background (`serve` and `worker`).
pub struct DeliveryRunner {
    core: Core,
    /// Sleep between rounds that found nothing due.
    pub idle: std::time::Duration,
}

impl DeliveryRunner {
    pub fn new(core: Core) -> Self {
        DeliveryRunner {
            core,
            idle: std::time::Duration::from_secs(1),
        }
    }

    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!("delivery runner started");
        while !*shutdown.borrow() {
            if let Err(e) = self.core.dispatch_due_deliveries().await {
                tracing::error!(error = %e, "dispatching due deliveries");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.idle) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!("delivery runner stopped");
    }
}
