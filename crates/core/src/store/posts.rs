//! The storage contract for posts and their delivery: posts, the deliveries
//! planned from them (set-based, one statement per time zone and day),
//! page-owner approvals, notifications waiting to be emailed, members'
//! delivery settings, images, UTM presets and used one-click links.
//!
//! Every method that reads or changes a team's rows takes the team first.

use super::StoreResult;
use apostle_domain::{
    AccountId, ApprovalId, ApprovalState, DeliveryId, DeliveryState, DeliveryWindow, ImageId,
    NotificationKind, PostId, PostStatus, Schedule, TeamId, UserId, Utm, UtmPresetId,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// A post's content and settings, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostContent {
    pub text: String,
    /// Provider → the text used there instead of `text`.
    pub variants: BTreeMap<String, String>,
    pub link: Option<String>,
    pub link_title: Option<String>,
    pub utm: Utm,
    pub image_id: Option<ImageId>,
    /// Providers the post suits, e.g. `["linkedin", "x"]`.
    pub providers: Vec<String>,
    /// Everyone in the team (at planning time), or the chosen recipients.
    pub recipients_all: bool,
    pub schedule: Schedule,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub id: PostId,
    pub team_id: TeamId,
    pub author_id: UserId,
    pub content: PostContent,
    pub status: PostStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// In the bin since then.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Post {
    /// Whether the post can still be delivered or shared at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.deleted_at.is_none()
            && matches!(self.status, PostStatus::Scheduled | PostStatus::Sent)
            && now < self.content.expires_at
    }

    /// The post's link as it is shared: with its UTM parameters.
    pub fn shared_link(&self) -> Option<url::Url> {
        let link = url::Url::parse(self.content.link.as_deref()?).ok()?;
        Some(self.content.utm.apply(&link))
    }

    /// The status a person sees: a post past its expiry is expired whatever
    /// was stored.
    pub fn shown_status(&self, now: DateTime<Utc>) -> PostStatus {
        match self.status {
            PostStatus::Scheduled | PostStatus::Sent if now >= self.content.expires_at => {
                PostStatus::Expired
            }
            other => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub post_id: PostId,
    pub team_id: TeamId,
    pub user_id: UserId,
    pub due_at: DateTime<Utc>,
    pub state: DeliveryState,
    pub delivered_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// One statement of a plan: the recipients in `time_zone` whose hash picks
/// day `day_index` of `day_count` get a moment in `[start, start + span)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSlot {
    pub time_zone: String,
    pub start: DateTime<Utc>,
    pub span_seconds: i64,
    pub day_index: i64,
    pub day_count: i64,
    /// Chosen at random per post: spreads members differently every time.
    pub seed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApproval {
    pub post_id: PostId,
    pub account_id: AccountId,
    pub state: ApprovalState,
    pub publish_at: DateTime<Utc>,
    pub decided_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub id: ApprovalId,
    pub post_id: PostId,
    pub team_id: TeamId,
    pub account_id: AccountId,
    pub state: ApprovalState,
    pub publish_at: DateTime<Utc>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub user_id: UserId,
    pub team_id: TeamId,
    pub kind: NotificationKind,
    pub post_id: PostId,
    pub delivery_id: Option<DeliveryId>,
    pub approval_id: Option<ApprovalId>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub user_id: UserId,
    pub team_id: TeamId,
    pub kind: NotificationKind,
    pub post_id: PostId,
    pub delivery_id: Option<DeliveryId>,
    pub approval_id: Option<ApprovalId>,
    pub created_at: DateTime<Utc>,
}

/// What a member chose about delivery, and when they were last emailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSettings {
    pub time_zone: String,
    /// Chosen by the member; otherwise detected from their browser, or UTC.
    pub time_zone_chosen: bool,
    pub muted: Vec<NotificationKind>,
    pub last_notified_at: Option<DateTime<Utc>>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    pub id: ImageId,
    pub team_id: TeamId,
    /// The unguessable name in its public URL.
    pub public_id: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("id", &self.id)
            .field("team_id", &self.team_id)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtmPreset {
    pub id: UtmPresetId,
    pub team_id: TeamId,
    pub name: String,
    pub utm: Utm,
}

/// A delivery with its post, as an inbox shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub delivery: Delivery,
    pub post: Post,
}

/// A current suggestion as a card in a list: the member's delivery and what
/// the card shows of its post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxCard {
    pub delivery: DeliveryId,
    pub delivered_at: Option<DateTime<Utc>>,
    /// When the member shared it (or turned it down).
    pub decided_at: Option<DateTime<Utc>>,
    pub post: PostId,
    pub text: String,
    pub link: Option<String>,
    pub link_title: Option<String>,
    pub image_id: Option<ImageId>,
    pub expires_at: DateTime<Utc>,
}

/// A post as the baseline list shows it: what one indexed read gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostHeadline {
    pub id: PostId,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// An approval with its post, as the page owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalItem {
    pub approval: Approval,
    pub post: Post,
}

#[async_trait]
pub trait PostsTx: Send {
    // ---- posts ----------------------------------------------------------
    async fn create_post(
        &mut self,
        team: TeamId,
        author: UserId,
        content: &PostContent,
        status: PostStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<Post>;
    /// Rewrites a draft's content; false when the post is not a draft.
    async fn update_draft(
        &mut self,
        team: TeamId,
        post: PostId,
        content: &PostContent,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn post_by_id(&mut self, team: TeamId, post: PostId) -> StoreResult<Option<Post>>;
    /// The team's posts among `posts`, in no particular order; ids of other
    /// teams' posts or of none find nothing.
    async fn posts_by_ids(&mut self, team: TeamId, posts: &[PostId]) -> StoreResult<Vec<Post>>;
    /// The team a post belongs to (for calls that name the post alone).
    async fn post_team(&mut self, post: PostId) -> StoreResult<Option<TeamId>>;
    /// The team's posts, newest first: those in the bin, or the others.
    async fn list_posts(&mut self, team: TeamId, in_bin: bool) -> StoreResult<Vec<Post>>;
    /// The team's `limit` newest posts out of the bin, newest first: one
    /// indexed read, the floor any feed is measured against.
    async fn newest_posts(&mut self, team: TeamId, limit: i64) -> StoreResult<Vec<PostHeadline>>;
    /// Moves a post from one of `from` to `to`.
    async fn set_post_status(
        &mut self,
        team: TeamId,
        post: PostId,
        from: &[PostStatus],
        to: PostStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Puts a post in the bin (`Some`) or takes it out (`None`).
    async fn set_post_deleted(
        &mut self,
        team: TeamId,
        post: PostId,
        deleted_at: Option<DateTime<Utc>>,
    ) -> StoreResult<bool>;
    /// Scheduled posts with no pending delivery left become `sent`.
    async fn mark_posts_sent(&mut self, posts: &[PostId], now: DateTime<Utc>) -> StoreResult<u64>;
    async fn set_post_recipients(&mut self, post: PostId, users: &[UserId]) -> StoreResult<()>;
    async fn post_recipients(&mut self, post: PostId) -> StoreResult<Vec<UserId>>;
    async fn set_post_pages(&mut self, post: PostId, accounts: &[AccountId]) -> StoreResult<()>;
    async fn post_pages(&mut self, post: PostId) -> StoreResult<Vec<AccountId>>;

    // ---- planning and dispatch -------------------------------------------
    /// The distinct time zones of a post's recipients.
    async fn recipient_time_zones(
        &mut self,
        team: TeamId,
        post: PostId,
    ) -> StoreResult<Vec<String>>;
    /// Inserts the deliveries of one slot, set-based; a member who already
    /// has a delivery of this post keeps it. Returns how many were added.
    async fn plan_deliveries(
        &mut self,
        team: TeamId,
        post: PostId,
        slot: &PlanSlot,
    ) -> StoreResult<u64>;
    /// Pending deliveries due at `now`, oldest first, of posts not in the bin.
    async fn due_deliveries(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Delivery>>;
    /// Moves pending deliveries to `to` (delivered or expired); returns
    /// those this call moved.
    async fn finish_pending_deliveries(
        &mut self,
        deliveries: &[DeliveryId],
        to: DeliveryState,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<DeliveryId>>;
    /// Queues a suggestion notification for each of these deliveries whose
    /// member has not turned suggestions off; returns those members.
    async fn notify_delivered(
        &mut self,
        deliveries: &[DeliveryId],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<UserId>>;
    async fn delivery_by_id(&mut self, delivery: DeliveryId) -> StoreResult<Option<Delivery>>;
    async fn delivery_of(
        &mut self,
        team: TeamId,
        post: PostId,
        user: UserId,
    ) -> StoreResult<Option<Delivery>>;
    /// A member's decision: from one of `from` to `to`.
    async fn decide_delivery(
        &mut self,
        user: UserId,
        delivery: DeliveryId,
        from: &[DeliveryState],
        to: DeliveryState,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Back to pending at `due_at`, from pending or delivered.
    async fn reschedule_delivery(
        &mut self,
        user: UserId,
        delivery: DeliveryId,
        due_at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// A member's deliveries in a team in one of `states`, newest first.
    async fn member_inbox(
        &mut self,
        team: TeamId,
        user: UserId,
        states: &[DeliveryState],
    ) -> StoreResult<Vec<InboxItem>>;
    /// One page of the suggestions that wait for the member's decision
    /// (delivered, of posts still live at `now`) as cards, newest delivery
    /// first: up to `limit` of those delivered before the member's
    /// delivery `before` (by delivery time, then id), or the newest.
    async fn inbox_page(
        &mut self,
        team: TeamId,
        user: UserId,
        now: DateTime<Utc>,
        before: Option<DeliveryId>,
        limit: i64,
    ) -> StoreResult<Vec<InboxCard>>;
    /// One page of what the member shared of posts out of the bin, as
    /// cards, newest share first: up to `limit` of those shared before
    /// the member's delivery `before` (by share time, then id), or the newest.
    async fn shared_page(
        &mut self,
        team: TeamId,
        user: UserId,
        before: Option<DeliveryId>,
        limit: i64,
    ) -> StoreResult<Vec<InboxCard>>;
    async fn delivery_counts(
        &mut self,
        team: TeamId,
        post: PostId,
    ) -> StoreResult<Vec<(DeliveryState, i64)>>;
    /// Members whose delivery of the post waits for their decision.
    async fn undecided_members(&mut self, team: TeamId, post: PostId) -> StoreResult<Vec<UserId>>;

    // ---- approvals ---------------------------------------------------------
    async fn create_approval(
        &mut self,
        team: TeamId,
        approval: &NewApproval,
    ) -> StoreResult<Option<Approval>>;
    async fn approval_by_id(
        &mut self,
        team: TeamId,
        approval: ApprovalId,
    ) -> StoreResult<Option<Approval>>;
    async fn approvals_of_post(&mut self, team: TeamId, post: PostId)
        -> StoreResult<Vec<Approval>>;
    /// From pending to approved or rejected.
    async fn decide_approval(
        &mut self,
        team: TeamId,
        approval: ApprovalId,
        to: ApprovalState,
        by: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Pending approvals `user` answers for: pages they connected while
    /// they are an admin, and pages whose connecting member is no longer an
    /// admin when `user` is.
    async fn approvals_for(&mut self, team: TeamId, user: UserId)
        -> StoreResult<Vec<ApprovalItem>>;
    async fn set_auto_approve(
        &mut self,
        team: TeamId,
        account: AccountId,
        on: bool,
    ) -> StoreResult<bool>;
    async fn auto_approve(&mut self, team: TeamId, account: AccountId) -> StoreResult<bool>;

    // ---- members' settings and notifications --------------------------------
    async fn member_settings(&mut self, user: UserId) -> StoreResult<Option<MemberSettings>>;
    /// Sets the member's time zone: `chosen` by them, or detected (which
    /// changes nothing once they chose one).
    async fn set_time_zone(
        &mut self,
        user: UserId,
        time_zone: &str,
        chosen: bool,
    ) -> StoreResult<bool>;
    async fn set_muted_notifications(
        &mut self,
        user: UserId,
        muted: &[NotificationKind],
    ) -> StoreResult<bool>;
    async fn set_last_notified(&mut self, user: UserId, at: DateTime<Utc>) -> StoreResult<bool>;
    async fn team_window(&mut self, team: TeamId) -> StoreResult<DeliveryWindow>;
    async fn set_team_window(&mut self, team: TeamId, window: DeliveryWindow) -> StoreResult<bool>;
    async fn insert_notification(&mut self, notification: &NewNotification) -> StoreResult<()>;
    /// A member's notifications not yet emailed, oldest first.
    async fn unsent_notifications(&mut self, user: UserId) -> StoreResult<Vec<Notification>>;
    async fn mark_notifications_emailed(
        &mut self,
        user: UserId,
        notifications: &[i64],
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    // ---- images, UTM presets, one-click links ---------------------------------
    async fn insert_image(
        &mut self,
        team: TeamId,
        public_id: &str,
        content_type: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Image>;
    async fn image_by_public_id(&mut self, public_id: &str) -> StoreResult<Option<Image>>;
    /// The name in a team image's public URL (its bytes are not read).
    async fn image_public_id(
        &mut self,
        team: TeamId,
        image: ImageId,
    ) -> StoreResult<Option<String>>;
    async fn save_utm_preset(
        &mut self,
        team: TeamId,
        name: &str,
        utm: &Utm,
        now: DateTime<Utc>,
    ) -> StoreResult<UtmPreset>;
    async fn utm_presets(&mut self, team: TeamId) -> StoreResult<Vec<UtmPreset>>;
    async fn delete_utm_preset(&mut self, team: TeamId, preset: UtmPresetId) -> StoreResult<bool>;
    /// Whether a one-click link was used.
    async fn action_link_used(&mut self, signature_hash: &str) -> StoreResult<bool>;
    /// Records a one-click link as used; false when it was used before.
    async fn use_action_link(
        &mut self,
        signature_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    // ---- connections seen from delivery ------------------------------------------
    /// Active personal grants of these members not heard from since `before`.
    async fn stale_personal_grants(
        &mut self,
        users: &[UserId],
        before: DateTime<Utc>,
    ) -> StoreResult<Vec<apostle_domain::GrantId>>;
    /// Records that the provider answered about `grant` at `at`.
    async fn mark_grant_checked(
        &mut self,
        grant: apostle_domain::GrantId,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}
