//! The storage contract for sharing: one target per account a member shares
//! a post to, each with its own publish job and result.

use super::StoreResult;
use apostle_domain::{AccountId, PostId, ShareStatus, ShareTargetId, TeamId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShareTarget {
    pub team_id: TeamId,
    pub post_id: PostId,
    pub user_id: UserId,
    pub account_id: AccountId,
    pub provider: String,
    /// The text as it goes out there (the post's, a variant, or edited).
    pub text: String,
    /// Unique: a retried request with the same key finds its target.
    pub idempotency_key: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareTarget {
    pub id: ShareTargetId,
    pub team_id: TeamId,
    pub post_id: PostId,
    pub user_id: UserId,
    pub account_id: AccountId,
    pub provider: String,
    pub text: String,
    pub idempotency_key: String,
    pub status: ShareStatus,
    /// Provider calls started.
    pub attempts: i32,
    pub provider_post_id: Option<String>,
    /// The provider's refusal in plain words, for `failed`.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    /// A held share the member rescheduled publishes no earlier than this.
    pub publish_after: Option<DateTime<Utc>>,
}

/// How many of a team's targets share a post, provider, member and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareCount {
    pub post_id: PostId,
    pub provider: String,
    pub user_id: UserId,
    pub status: ShareStatus,
    pub count: i64,
}

#[async_trait]
pub trait SharesTx: Send {
    /// The team's targets counted by post, provider, member and status.
    async fn share_counts(&mut self, team: TeamId) -> StoreResult<Vec<ShareCount>>;
    /// Stores a queued target; `None` when the member already has a live
    /// (not failed) target for this post and account, or the key was used.
    async fn add_share_target(
        &mut self,
        target: &NewShareTarget,
    ) -> StoreResult<Option<ShareTarget>>;
    async fn share_target(&mut self, id: ShareTargetId) -> StoreResult<Option<ShareTarget>>;
    /// The member's live target for a post and account.
    async fn live_share_target(
        &mut self,
        post: PostId,
        user: UserId,
        account: AccountId,
    ) -> StoreResult<Option<ShareTarget>>;
    async fn share_target_by_key(&mut self, key: &str) -> StoreResult<Option<ShareTarget>>;
    /// The member's targets of a post, oldest first.
    async fn share_targets_of(
        &mut self,
        user: UserId,
        post: PostId,
    ) -> StoreResult<Vec<ShareTarget>>;
    /// The member's targets in `status`, oldest first.
    async fn member_share_targets(
        &mut self,
        user: UserId,
        status: ShareStatus,
    ) -> StoreResult<Vec<ShareTarget>>;
    /// The member's targets in one team, newest first, at most `limit`.
    async fn member_share_history(
        &mut self,
        user: UserId,
        team: TeamId,
        limit: i64,
    ) -> StoreResult<Vec<ShareTarget>>;
    /// A held (`waiting_for_reconnect`) target goes back to the queue to
    /// publish no earlier than `at`. False when it was not held.
    async fn schedule_share_target(
        &mut self,
        id: ShareTargetId,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Moves a target from one of `from` to `to`, counting an attempt when
    /// `to` is `publishing` and recording the provider's post id or the
    /// error. False when it was not in `from`.
    async fn move_share_target(
        &mut self,
        id: ShareTargetId,
        from: &[ShareStatus],
        to: ShareStatus,
        provider_post_id: Option<&str>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}
