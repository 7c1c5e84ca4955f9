//! The storage contract for the app's notifications: what happened that a
//! member should see in the app (a connection broke, a reminder to reconnect,
//! a new suggestion), each with its read state. Separate from the email
//! digest's queue, which forgets a row once it is mailed.

use super::StoreResult;
use apostle_domain::{AccountId, DeliveryId, PostId, TeamId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    ConnectionBroken,
    ReconnectReminder,
    Suggestion,
}

impl AlertKind {
    pub const ALL: [AlertKind; 3] = [
        AlertKind::ConnectionBroken,
        AlertKind::ReconnectReminder,
        AlertKind::Suggestion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::ConnectionBroken => "connection_broken",
            AlertKind::ReconnectReminder => "reconnect_reminder",
            AlertKind::Suggestion => "suggestion",
        }
    }

    pub fn parse(s: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub user_id: UserId,
    pub kind: AlertKind,
    pub team_id: Option<TeamId>,
    /// The connection it is about.
    pub account_id: Option<AccountId>,
    pub post_id: Option<PostId>,
    /// What the app shows, in plain words.
    pub text: String,
    /// Unique: the same event told twice adds nothing.
    pub dedupe_key: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: i64,
    pub user_id: UserId,
    pub kind: AlertKind,
    pub team_id: Option<TeamId>,
    pub account_id: Option<AccountId>,
    pub post_id: Option<PostId>,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait AlertsTx: Send {
    /// Stores a notification; `false` when its key was already used.
    async fn add_alert(&mut self, alert: &NewAlert) -> StoreResult<bool>;
    /// A suggestion notification for each of these deliveries (whatever the
    /// member's email settings): the team's name and the post's first words.
    async fn add_suggestion_alerts(
        &mut self,
        deliveries: &[DeliveryId],
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// The member's notifications, newest first, with ids below `before`.
    async fn alerts_of(
        &mut self,
        user: UserId,
        before: Option<i64>,
        unread_only: bool,
        limit: i64,
    ) -> StoreResult<Vec<Alert>>;
    async fn unread_alerts(&mut self, user: UserId) -> StoreResult<i64>;
    /// Marks one of the member's notifications read (kept as first read);
    /// `None` when it is not theirs.
    async fn mark_alert_read(
        &mut self,
        user: UserId,
        id: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Alert>>;
    /// Marks every unread notification of the member read; how many.
    async fn mark_alerts_read(&mut self, user: UserId, now: DateTime<Utc>) -> StoreResult<u64>;
}
