//! The app's notifications with their read state ("alerts" here, since the
//! email digest's queue is already called notifications): a connection that
//! broke, a reminder to reconnect, a new suggestion. Each is written in the
//! same transaction as the email that tells the same thing, with the same key,
//! so a member hears of an event once in the app whatever retries happen.

use crate::error::{CoreError, CoreResult};
use crate::store::{Account, AccountOwner, Alert, AlertKind, NewAlert, Tx};
use crate::Core;
use apostle_domain::{AccountId, TeamId, UserId};
use chrono::{DateTime, Utc};

/// Tells `user` in the app, in `tx`, about a connection: `subject` is the
/// account to open and, for a business page, its team.
pub(crate) async fn tell(
    tx: &mut dyn Tx,
    user: UserId,
    kind: AlertKind,
    subject: Option<(AccountId, Option<TeamId>)>,
    text: String,
    dedupe_key: String,
    now: DateTime<Utc>,
) -> CoreResult<()> {
    tx.add_alert(&NewAlert {
        user_id: user,
        kind,
        team_id: subject.and_then(|(_, team)| team),
        account_id: subject.map(|(account, _)| account),
        post_id: None,
        text,
        dedupe_key,
        created_at: now,
    })
    .await?;
    Ok(())
}

/// The subject of a notification about `accounts`: the first one.
pub(crate) fn first_of(accounts: &[Account]) -> Option<(AccountId, Option<TeamId>)> {
    accounts.first().map(|a| {
        let team = match a.owner {
            AccountOwner::Business(team) => Some(team),
            AccountOwner::Personal(_) => None,
        };
        (a.id, team)
    })
}

impl Core {
    /// The member's notifications, newest first, below the id `before`;
    /// at most `limit`.
    pub async fn alerts(
        &self,
        user: UserId,
        before: Option<i64>,
        unread_only: bool,
        limit: usize,
    ) -> CoreResult<Vec<Alert>> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx
            .alerts_of(user, before, unread_only, limit as i64)
            .await?)
    }

    pub async fn unread_alerts(&self, user: UserId) -> CoreResult<i64> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx.unread_alerts(user).await?)
    }

    /// Marks one of the member's notifications read; another's is not found.
    pub async fn mark_alert_read(&self, user: UserId, id: i64) -> CoreResult<Alert> {
        let mut tx = self.store.begin().await?;
        let alert = tx
            .mark_alert_read(user, id, self.clock.now())
            .await?
            .ok_or(CoreError::NotFound("notification"))?;
        tx.commit().await?;
        Ok(alert)
    }

    /// Marks all the member's notifications read; how many were unread.
    pub async fn mark_alerts_read(&self, user: UserId) -> CoreResult<u64> {
        let mut tx = self.store.begin().await?;
        let n = tx.mark_alerts_read(user, self.clock.now()).await?;
        tx.commit().await?;
        Ok(n)
    }
}
