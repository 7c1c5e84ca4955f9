//! Posts and their delivery on either backend: row shapes, their decoding,
//! and the `PostsTx` implementation as a macro each backend instantiates
//! with its timestamp type and its two SQL fragments.

use crate::rows::StoredTime;
use apostle_core::store::{
    Approval, Delivery, Image, InboxCard, MemberSettings, Notification, Post, PostContent,
    PostHeadline, StoreError, StoreResult, UtmPreset,
};
use apostle_domain::{
    AccountId, ApprovalId, ApprovalState, DeliveryId, DeliveryState, ImageId, NotificationKind,
    PostId, PostStatus, Schedule, TeamId, UserId, Utm, UtmPresetId,
};
use std::collections::BTreeMap;

fn corrupt(what: &str) -> impl Fn(String) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

fn json<T: serde::de::DeserializeOwned>(what: &str, raw: &str) -> StoreResult<T> {
    serde_json::from_str(raw).map_err(|e| corrupt(what)(e.to_string()))
}

/// JSON text of a value the store writes (never fails for these types).
pub fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("posts' JSON columns serialize")
}

/// Ids as the JSON array the backends' id-list fragments read.
pub fn id_list(ids: impl IntoIterator<Item = i64>) -> String {
    to_json(&ids.into_iter().collect::<Vec<_>>())
}

/// A list of states or statuses as the `LIKE`-matched, comma-separated text.
pub fn comma_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items.into_iter().collect::<Vec<_>>().join(",")
}

#[derive(sqlx::FromRow)]
pub struct PostRow<T> {
    id: i64,
    team_id: i64,
    author_id: i64,
    text: String,
    variants: String,
    link: Option<String>,
    link_title: Option<String>,
    utm: String,
    image_id: Option<i64>,
    providers: String,
    recipients_all: bool,
    schedule: String,
    status: String,
    expires_at: T,
    created_at: T,
    updated_at: T,
    deleted_at: Option<T>,
}

impl<T: StoredTime> PostRow<T> {
    pub fn decode(self) -> StoreResult<Post> {
        let variants: BTreeMap<String, String> = json("post variants", &self.variants)?;
        let utm: Utm = json("post utm", &self.utm)?;
        let schedule: Schedule = json("post schedule", &self.schedule)?;
        Ok(Post {
            id: PostId(self.id),
            team_id: TeamId(self.team_id),
            author_id: UserId(self.author_id),
            content: PostContent {
                text: self.text,
                variants,
                link: self.link,
                link_title: self.link_title,
                utm,
                image_id: self.image_id.map(ImageId),
                providers: self
                    .providers
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
                recipients_all: self.recipients_all,
                schedule,
                expires_at: self.expires_at.into_utc()?,
            },
            status: PostStatus::parse(&self.status).map_err(|e| corrupt("post")(e.to_string()))?,
            created_at: self.created_at.into_utc()?,
            updated_at: self.updated_at.into_utc()?,
            deleted_at: self.deleted_at.map(StoredTime::into_utc).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct DeliveryRow<T> {
    id: i64,
    post_id: i64,
    team_id: i64,
    user_id: i64,
    due_at: T,
    state: String,
    delivered_at: Option<T>,
    decided_at: Option<T>,
}

impl<T: StoredTime> DeliveryRow<T> {
    pub fn decode(self) -> StoreResult<Delivery> {
        Ok(Delivery {
            id: DeliveryId(self.id),
            post_id: PostId(self.post_id),
            team_id: TeamId(self.team_id),
            user_id: UserId(self.user_id),
            due_at: self.due_at.into_utc()?,
            state: DeliveryState::parse(&self.state)
                .map_err(|e| corrupt("delivery")(e.to_string()))?,
            delivered_at: self.delivered_at.map(StoredTime::into_utc).transpose()?,
            decided_at: self.decided_at.map(StoredTime::into_utc).transpose()?,
        })
    }
}

/// A suggestion as a card (`INBOX_PAGE`): the post's columns by their
/// names, the delivery's prefixed `d_`.
#[derive(sqlx::FromRow)]
pub struct InboxCardRow<T> {
    d_id: i64,
    d_delivered_at: Option<T>,
    d_decided_at: Option<T>,
    id: i64,
    text: String,
    link: Option<String>,
    link_title: Option<String>,
    image_id: Option<i64>,
    expires_at: T,
}

impl<T: StoredTime> InboxCardRow<T> {
    pub fn decode(self) -> StoreResult<InboxCard> {
        Ok(InboxCard {
            delivery: DeliveryId(self.d_id),
            delivered_at: self.d_delivered_at.map(StoredTime::into_utc).transpose()?,
            decided_at: self.d_decided_at.map(StoredTime::into_utc).transpose()?,
            post: PostId(self.id),
            text: self.text,
            link: self.link,
            link_title: self.link_title,
            image_id: self.image_id.map(ImageId),
            expires_at: self.expires_at.into_utc()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct PostHeadlineRow<T> {
    id: i64,
    text: String,
    created_at: T,
}

impl<T: StoredTime> PostHeadlineRow<T> {
    pub fn decode(self) -> StoreResult<PostHeadline> {
        Ok(PostHeadline {
            id: PostId(self.id),
            text: self.text,
            created_at: self.created_at.into_utc()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ApprovalRow<T> {
    id: i64,
    post_id: i64,
    team_id: i64,
    account_id: i64,
    state: String,
    publish_at: T,
    decided_by: Option<i64>,
    decided_at: Option<T>,
    created_at: T,
}

impl<T: StoredTime> ApprovalRow<T> {
    pub fn decode(self) -> StoreResult<Approval> {
        Ok(Approval {
            id: ApprovalId(self.id),
            post_id: PostId(self.post_id),
            team_id: TeamId(self.team_id),
            account_id: AccountId(self.account_id),
            state: ApprovalState::parse(&self.state)
                .map_err(|e| corrupt("approval")(e.to_string()))?,
            publish_at: self.publish_at.into_utc()?,
            decided_by: self.decided_by.map(UserId),
            decided_at: self.decided_at.map(StoredTime::into_utc).transpose()?,
            created_at: self.created_at.into_utc()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct NotificationRow<T> {
    id: i64,
    user_id: i64,
    team_id: i64,
    kind: String,
    post_id: i64,
    delivery_id: Option<i64>,
    approval_id: Option<i64>,
    created_at: T,
}

impl<T: StoredTime> NotificationRow<T> {
    pub fn decode(self) -> StoreResult<Notification> {
        Ok(Notification {
            id: self.id,
            user_id: UserId(self.user_id),
            team_id: TeamId(self.team_id),
            kind: NotificationKind::parse(&self.kind)
                .map_err(|e| corrupt("notification")(e.to_string()))?,
            post_id: PostId(self.post_id),
            delivery_id: self.delivery_id.map(DeliveryId),
            approval_id: self.approval_id.map(ApprovalId),
            created_at: self.created_at.into_utc()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct MemberSettingsRow<T> {
    time_zone: String,
    time_zone_chosen: bool,
    muted_notifications: String,
    last_notified_at: Option<T>,
}

impl<T: StoredTime> MemberSettingsRow<T> {
    pub fn decode(self) -> StoreResult<MemberSettings> {
        Ok(MemberSettings {
            time_zone: self.time_zone,
            time_zone_chosen: self.time_zone_chosen,
            muted: self
                .muted_notifications
                .split(',')
                .filter(|k| !k.is_empty())
                .map(NotificationKind::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| corrupt("muted notifications")(e.to_string()))?,
            last_notified_at: self
                .last_notified_at
                .map(StoredTime::into_utc)
                .transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ImageRow<T> {
    id: i64,
    team_id: i64,
    public_id: String,
    content_type: String,
    bytes: Vec<u8>,
    created_at: T,
}

impl<T: StoredTime> ImageRow<T> {
    pub fn decode(self) -> StoreResult<Image> {
        Ok(Image {
            id: ImageId(self.id),
            team_id: TeamId(self.team_id),
            public_id: self.public_id,
            content_type: self.content_type,
            bytes: self.bytes,
            created_at: self.created_at.into_utc()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct UtmPresetRow {
    id: i64,
    team_id: i64,
    name: String,
    utm: String,
}

impl UtmPresetRow {
    pub fn decode(self) -> StoreResult<UtmPreset> {
        Ok(UtmPreset {
            id: UtmPresetId(self.id),
            team_id: TeamId(self.team_id),
            name: self.name,
            utm: json("utm preset", &self.utm)?,
        })
    }
}

/// `PostsTx` for a backend's transaction type. `plan_start`/`plan_seconds`
/// add a number of seconds to the slot start (`$4`); `ids` reads a JSON
/// array of ids from `$1`.
#[macro_export]
macro_rules! impl_posts_tx {
    (
        tx: $tx:ident,
        database: $db:ty,
        time: $time:ty = $encode:path,
        errors: $err:path, $conflict:path,
        plan: start $start:literal seconds $seconds:literal,
        ids: $ids:literal $(,)?
    ) => {
        const _: () = {
            use ::apostle_core::store::{
                Approval, ApprovalItem, Delivery, Image, InboxItem, MemberSettings, NewApproval,
                NewNotification, Notification, PlanSlot, Post, PostContent, PostHeadline, PostsTx,
                StoreResult, UtmPreset,
            };
            use ::apostle_domain::{
                AccountId, ApprovalId, ApprovalState, DeliveryId, DeliveryState, DeliveryWindow,
                GrantId, ImageId, NotificationKind, PostId, PostStatus, TeamId, UserId, Utm,
                UtmPresetId,
            };
            use ::chrono::{DateTime, Utc};
            use $crate::posts::{
                comma_list, id_list, to_json, ApprovalRow, DeliveryRow, ImageRow, InboxCardRow,
                MemberSettingsRow, NotificationRow, PostHeadlineRow, PostRow, UtmPresetRow,
            };
            use $crate::posts_sql as sql;

    const PLAN: &str = $crate::plan_deliveries!(start: $start, seconds: $seconds);
            const FINISH: &str = $crate::finish_pending_deliveries!($ids);
            const NOTIFY: &str = $crate::notify_delivered!($ids);
            const STALE: &str = $crate::stale_personal_grants!($ids);
            const POSTS_BY_IDS: &str = $crate::posts_by_ids!($ids);

            type PostsQuery<'q> =
                ::sqlx::query::Query<'q, $db, <$db as ::sqlx::Database>::Arguments<'q>>;

            impl $tx {
                async fn posts_changed(&mut self, query: PostsQuery<'_>) -> StoreResult<u64> {
                    Ok(query
                        .execute(&mut *self.tx)
                        .await
                        .map_err($err)?
                        .rows_affected())
                }

                async fn approvals_with_posts(
                    &mut self,
                    team: TeamId,
                    approvals: Vec<Approval>,
                ) -> StoreResult<Vec<ApprovalItem>> {
                    let mut out = Vec::with_capacity(approvals.len());
                    for approval in approvals {
                        if let Some(post) = self.post_by_id(team, approval.post_id).await? {
                            out.push(ApprovalItem { approval, post });
                        }
                    }
                    Ok(out)
                }
            }

            #[::async_trait::async_trait]
            impl PostsTx for $tx {
                async fn create_post(
                    &mut self,
                    team: TeamId,
                    author: UserId,
                    content: &PostContent,
                    status: PostStatus,
                    now: DateTime<Utc>,
                ) -> StoreResult<Post> {
                    let row: PostRow<$time> = ::sqlx::query_as(sql::CREATE_POST)
                        .bind(team.0)
                        .bind(author.0)
                        .bind(&content.text)
                        .bind(to_json(&content.variants))
                        .bind(&content.link)
                        .bind(&content.link_title)
                        .bind(to_json(&content.utm))
                        .bind(content.image_id.map(|i| i.0))
                        .bind(content.providers.join(","))
                        .bind(content.recipients_all)
                        .bind(to_json(&content.schedule))
                        .bind(status.as_str())
                        .bind($encode(content.expires_at))
                        .bind($encode(now))
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.decode()
                }

                async fn update_draft(
                    &mut self,
                    team: TeamId,
                    post: PostId,
                    content: &PostContent,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::UPDATE_DRAFT)
                        .bind(team.0)
                        .bind(post.0)
                        .bind(&content.text)
                        .bind(to_json(&content.variants))
                        .bind(&content.link)
                        .bind(&content.link_title)
                        .bind(to_json(&content.utm))
                        .bind(content.image_id.map(|i| i.0))
                        .bind(content.providers.join(","))
                        .bind(content.recipients_all)
                        .bind(to_json(&content.schedule))
                        .bind($encode(content.expires_at))
                        .bind($encode(now));
                    Ok(self.posts_changed(q).await? == 1)
                }

                async fn post_by_id(
                    &mut self,
                    team: TeamId,
                    post: PostId,
                ) -> StoreResult<Option<Post>> {
                    let row: Option<PostRow<$time>> = ::sqlx::query_as(sql::POST_BY_ID)
                        .bind(team.0)
                        .bind(post.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(PostRow::decode).transpose()
                }

                async fn posts_by_ids(
                    &mut self,
                    team: TeamId,
                    posts: &[PostId],
                ) -> StoreResult<Vec<Post>> {
                    if posts.is_empty() {
                        return Ok(Vec::new());
                    }
                    let rows: Vec<PostRow<$time>> = ::sqlx::query_as(POSTS_BY_IDS)
                        .bind(id_list(posts.iter().map(|p| p.0)))
                        .bind(team.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter().map(PostRow::decode).collect()
                }

                async fn post_team(&mut self, post: PostId) -> StoreResult<Option<TeamId>> {
                    let team: Option<i64> = ::sqlx::query_scalar(sql::POST_TEAM)
                        .bind(post.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(team.map(TeamId))
                }

                async fn list_posts(
                    &mut self,
                    team: TeamId,
                    in_bin: bool,
                ) -> StoreResult<Vec<Post>> {
                    let rows: Vec<PostRow<$time>> = ::sqlx::query_as(sql::LIST_POSTS)
                        .bind(team.0)
                        .bind(in_bin)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter().map(PostRow::decode).collect()
                }

                async fn newest_posts(
                    &mut self,
                    team: TeamId,
                    limit: i64,
                ) -> StoreResult<Vec<PostHeadline>> {
                    let rows: Vec<PostHeadlineRow<$time>> = ::sqlx::query_as(sql::NEWEST_POSTS)
                        .bind(team.0)
                        .bind(limit)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter().map(PostHeadlineRow::decode).collect()
                }

                async fn set_post_status(
                    &mut self,
                    team: TeamId,
                    post: PostId,
                    from: &[PostStatus],
                    to: PostStatus,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::SET_POST_STATUS)
                        .bind(team.0)
                        .bind(post.0)
                        .bind(comma_list(from.iter().map(|s| s.as_str())))
                        .bind(to.as_str())
                        .bind($encode(now));
                    Ok(self.posts_changed(q).await? == 1)
                }

                async fn set_post_deleted(
                    &mut self,
                    team: TeamId,
                    post: PostId,
                    deleted_at: Option<DateTime<Utc>>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::SET_POST_DELETED)
                        .bind(team.0)
                        .bind(post.0)
                        .bind(deleted_at.map($encode));
                    Ok(self.posts_changed(q).await? == 1)
                }

                async fn mark_posts_sent(
                    &mut self,
                    posts: &[PostId],
                    now: DateTime<Utc>,
                ) -> StoreResult<u64> {
                    let mut changed = 0;
                    for post in posts {
                        let q = ::sqlx::query(sql::MARK_POST_SENT)
                            .bind(post.0)
                            .bind($encode(now));
                        changed += self.posts_changed(q).await?;
                    }
                    Ok(changed)
                }

                async fn set_post_recipients(
                    &mut self,
                    post: PostId,
                    users: &[UserId],
                ) -> StoreResult<()> {
                    let q = ::sqlx::query(sql::CLEAR_POST_RECIPIENTS).bind(post.0);
                    self.posts_changed(q).await?;
                    for user in users {
                        let q = ::sqlx::query(sql::ADD_POST_RECIPIENT)
                            .bind(post.0)
                            .bind(user.0);
                        self.posts_changed(q).await?;
                    }
                    Ok(())
                }

                async fn post_recipients(&mut self, post: PostId) -> StoreResult<Vec<UserId>> {
                    let ids: Vec<i64> = ::sqlx::query_scalar(sql::POST_RECIPIENTS)
                        .bind(post.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(ids.into_iter().map(UserId).collect())
                }

                async fn set_post_pages(
                    &mut self,
                    post: PostId,
                    accounts: &[AccountId],
                ) -> StoreResult<()> {
                    let q = ::sqlx::query(sql::CLEAR_POST_PAGES).bind(post.0);
                    self.posts_changed(q).await?;
                    for account in accounts {
                        let q = ::sqlx::query(sql::ADD_POST_PAGE)
                            .bind(post.0)
                            .bind(account.0);
                        self.posts_changed(q).await?;
                    }
                    Ok(())
                }

                async fn post_pages(&mut self, post: PostId) -> StoreResult<Vec<AccountId>> {
                    let ids: Vec<i64> = ::sqlx::query_scalar(sql::POST_PAGES)
                        .bind(post.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(ids.into_iter().map(AccountId).collect())
                }

                async fn recipient_time_zones(
                    &mut self,
                    team: TeamId,
                    post: PostId,
                ) -> StoreResult<Vec<String>> {
                    ::sqlx::query_scalar(sql::RECIPIENT_TIME_ZONES)
                        .bind(team.0)
                        .bind(post.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)
                }

                async fn plan_deliveries(
                    &mut self,
                    team: TeamId,
                    post: PostId,
                    slot: &PlanSlot,
                ) -> StoreResult<u64> {
                    let q = ::sqlx::query(PLAN)
                        .bind(team.0)
                        .bind(post.0)
                        .bind(&slot.time_zone)
                        .bind($encode(slot.start))
                        .bind(slot.span_seconds)
                        .bind(slot.seed)
                        .bind(slot.day_index)
                        .bind(slot.day_count);
                    self.posts_changed(q).await
                }

                async fn due_deliveries(
                    &mut self,
                    now: DateTime<Utc>,
                    limit: i64,
                ) -> StoreResult<Vec<Delivery>> {
                    let rows: Vec<DeliveryRow<$time>> = ::sqlx::query_as(sql::DUE_DELIVERIES)
                        .bind($encode(now))
                        .bind(limit)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter().map(DeliveryRow::decode).collect()
                }

                async fn finish_pending_deliveries(
                    &mut self,
                    deliveries: &[DeliveryId],
                    to: DeliveryState,
                    now: DateTime<Utc>,
                ) -> StoreResult<Vec<DeliveryId>> {
                    if deliveries.is_empty() {
                        return Ok(Vec::new());
                    }
                    let ids: Vec<i64> = ::sqlx::query_scalar(FINISH)
                        .bind(id_list(deliveries.iter().map(|d| d.0)))
                        .bind(to.as_str())
                        .bind($encode(now))
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(ids.into_iter().map(DeliveryId).collect())
                }

                async fn notify_delivered(
                    &mut self,
                    deliveries: &[DeliveryId],
                    now: DateTime<Utc>,
                ) -> StoreResult<Vec<UserId>> {
                    if deliveries.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut users: Vec<i64> = ::sqlx::query_scalar(NOTIFY)
                        .bind(id_list(deliveries.iter().map(|d| d.0)))
                        .bind($encode(now))
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    users.sort_unstable();
                    users.dedup();
                    Ok(users.into_iter().map(UserId).collect())
                }

                async fn delivery_by_id(
                    &mut self,
                    delivery: DeliveryId,
                ) -> StoreResult<Option<Delivery>> {
                    let row: Option<DeliveryRow<$time>> = ::sqlx::query_as(sql::DELIVERY_BY_ID)
                        .bind(delivery.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(DeliveryRow::decode).transpose()
                }

                async fn delivery_of(
                    &mut self,
                    team: TeamId,
                    post: PostId,
                    user: UserId,
                ) -> StoreResult<Option<Delivery>> {
                    let row: Option<DeliveryRow<$time>> = ::sqlx::query_as(sql::DELIVERY_OF)
                        .bind(team.0)
                        .bind(post.0)
                        .bind(user.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(DeliveryRow::decode).transpose()
                }

                async fn decide_delivery(
                    &mut self,
                    user: UserId,
                    delivery: DeliveryId,
                    from: &[DeliveryState],
                    to: DeliveryState,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::DECIDE_DELIVERY)
                        .bind(user.0)
                        .bind(delivery.0)
                        .bind(comma_list(from.iter().map(|s| s.as_str())))
                        .bind(to.as_str())
                        .bind($encode(now));
                    Ok(self.posts_changed(q).await? == 1)
                }

                async fn reschedule_delivery(
                    &mut self,
                    user: UserId,
                    delivery: DeliveryId,
                    due_at: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::RESCHEDULE_DELIVERY)
                        .bind(user.0)
                        .bind(delivery.0)
                        .bind($encode(due_at));
                    Ok(self.posts_changed(q).await? == 1)
                }

                async fn member_inbox(
                    &mut self,
                    team: TeamId,
                    user: UserId,
                    states: &[DeliveryState],
                ) -> StoreResult<Vec<InboxItem>> {
                    let rows: Vec<DeliveryRow<$time>> = ::sqlx::query_as(sql::MEMBER_INBOX)
                        .bind(team.0)
                        .bind(user.0)
                        .bind(comma_list(states.iter().map(|s| s.as_str())))
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    let mut out = Vec::with_capacity(rows.len());
                    for row in rows {
                        let delivery = row.decode()?;
                        if let Some(post) = self.post_by_id(team, delivery.post_id).await? {
                            out.push(InboxItem { delivery, post });
                        }
                    }
                    Ok(out)
                }

                async fn inbox_page(
                    &mut self,
                    team: TeamId,
                    user: UserId,
                    now: DateTime<Utc>,
                    before: Option<DeliveryId>,
                    limit: i64,
                ) -> StoreResult<Vec<::apostle_core::store::InboxCard>> {
                    let rows: Vec<InboxCardRow<$time>> = ::sqlx::query_as(sql::INBOX_PAGE)
                        .bind(team.0)
                        .bind(user.0)
                        .bind($encode(now))
                        .bind(before.map(|d| d.0))
                        .bind(limit)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter().map(InboxCardRow::decode).collect()
                }

                async fn shared_page(
                    &mut self,
                    team: TeamId,
                    user: UserId,
                    before: Option<DeliveryId>,
                    limit: i64,
                ) -> StoreResult<Vec<::apostle_core::store::InboxCard>> {
                    let rows: Vec<InboxCardRow<$time>> = ::sqlx::query_as(sql::SHARED_PAGE)
                        .bind(team.0)
                        .bind(user.0)
                        .bind(before.map(|d| d.0))
                        .bind(limit)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter().map(InboxCardRow::decode).collect()
                }

                async fn delivery_counts(
                    &mut self,
                    team: TeamId,
                    post: PostId,
                ) -> StoreResult<Vec<(DeliveryState, i64)>> {
                    let rows: Vec<(String, i64)> = ::sqlx::query_as(sql::DELIVERY_COUNTS)
                        .bind(team.0)
                        .bind(post.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter()
                        .map(|(state, n)| {
                            DeliveryState::parse(&state)
                                .map(|s| (s, n))
                                .map_err(|e| ::apostle_core::StoreError::Corrupt(e.to_string()))
                        })
                        .collect()
                }

                async fn undecided_members(
                    &mut self,
                    team: TeamId,
                    post: PostId,
                ) -> StoreResult<Vec<UserId>> {
                    let ids: Vec<i64> = ::sqlx::query_scalar(sql::UNDECIDED_MEMBERS)
                        .bind(team.0)
                        .bind(post.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(ids.into_iter().map(UserId).collect())
                }

                async fn create_approval(
                    &mut self,
                    team: TeamId,
                    approval: &NewApproval,
                ) -> StoreResult<Option<Approval>> {
                    let row: Option<ApprovalRow<$time>> = ::sqlx::query_as(sql::CREATE_APPROVAL)
                        .bind(team.0)
                        .bind(approval.post_id.0)
                        .bind(approval.account_id.0)
                        .bind(approval.state.as_str())
                        .bind($encode(approval.publish_at))
                        .bind(approval.decided_by.map(|u| u.0))
                        .bind($encode(approval.created_at))
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(ApprovalRow::decode).transpose()
                }

                async fn approval_by_id(
                    &mut self,
                    team: TeamId,
                    approval: ApprovalId,
                ) -> StoreResult<Option<Approval>> {
                    let row: Option<ApprovalRow<$time>> = ::sqlx::query_as(sql::APPROVAL_BY_ID)
                        .bind(team.0)
                        .bind(approval.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(ApprovalRow::decode).transpose()
                }

                async fn approvals_of_post(
                    &mut self,
                    team: TeamId,
                    post: PostId,
                ) -> StoreResult<Vec<Approval>> {
                    let rows: Vec<ApprovalRow<$time>> = ::sqlx::query_as(sql::APPROVALS_OF_POST)
                        .bind(team.0)
                        .bind(post.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter().map(ApprovalRow::decode).collect()
                }

                async fn decide_approval(
                    &mut self,
                    team: TeamId,
                    approval: ApprovalId,
                    to: ApprovalState,
                    by: UserId,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::DECIDE_APPROVAL)
                        .bind(team.0)
                        .bind(approval.0)
                        .bind(to.as_str())
                        .bind(by.0)
                        .bind($encode(now));
                    Ok(self.posts_changed(q).await? == 1)
                }

                async fn approvals_for(
                    &mut self,
                    team: TeamId,
                    user: UserId,
                ) -> StoreResult<Vec<ApprovalItem>> {
                    let rows: Vec<ApprovalRow<$time>> = ::sqlx::query_as(sql::APPROVALS_FOR)
                        .bind(team.0)
                        .bind(user.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    let approvals = rows
                        .into_iter()
                        .map(ApprovalRow::decode)
                        .collect::<StoreResult<Vec<_>>>()?;
                    self.approvals_with_posts(team, approvals).await
                }

                async fn set_auto_approve(
                    &mut self,
                    team: TeamId,
                    account: AccountId,
                    on: bool,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::SET_AUTO_APPROVE)
                        .bind(team.0)
                        .bind(account.0)
                        .bind(on);
                    Ok(self.posts_changed(q).await? == 1)
                }

                async fn auto_approve(
                    &mut self,
                    team: TeamId,
                    account: AccountId,
                ) -> StoreResult<bool> {
                    let on: Option<bool> = ::sqlx::query_scalar(sql::AUTO_APPROVE)
                        .bind(team.0)
                        .bind(account.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(on.unwrap_or(false))
                }

                async fn member_settings(
                    &mut self,
                    user: UserId,
                ) -> StoreResult<Option<MemberSettings>> {
                    let row: Option<MemberSettingsRow<$time>> =
                        ::sqlx::query_as(sql::MEMBER_SETTINGS)
                            .bind(user.0)
                            .fetch_optional(&mut *self.tx)
                            .await
                            .map_err($err)?;
                    row.map(MemberSettingsRow::decode).transpose()
                }

                async fn set_time_zone(
                    &mut self,
                    user: UserId,
                    time_zone: &str,
                    chosen: bool,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::SET_TIME_ZONE)
                        .bind(user.0)
                        .bind(time_zone)
                        .bind(chosen)
                        .bind(false);
                    Ok(self.posts_changed(q).await? == 1)
                }

                async fn set_muted_notifications(
                    &mut self,
                    user: UserId,
                    muted: &[NotificationKind],
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::SET_MUTED)
                        .bind(user.0)
                        .bind(comma_list(muted.iter().map(|k| k.as_str())));
                    Ok(self.posts_changed(q).await? == 1)
                }

                async fn set_last_notified(
                    &mut self,
                    user: UserId,
                    at: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::SET_LAST_NOTIFIED)
                        .bind(user.0)
                        .bind($encode(at));
                    Ok(self.posts_changed(q).await? == 1)
                }

                async fn team_window(&mut self, team: TeamId) -> StoreResult<DeliveryWindow> {
                    let row: Option<(i32, i32)> = ::sqlx::query_as(sql::TEAM_WINDOW)
                        .bind(team.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(row
                        .and_then(|(start, end)| DeliveryWindow::new(start, end).ok())
                        .unwrap_or(DeliveryWindow::DEFAULT))
                }

                async fn set_team_window(
                    &mut self,
                    team: TeamId,
                    window: DeliveryWindow,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::SET_TEAM_WINDOW)
                        .bind(team.0)
                        .bind(window.start_minute)
                        .bind(window.end_minute);
                    Ok(self.posts_changed(q).await? == 1)
                }

                async fn insert_notification(&mut self, n: &NewNotification) -> StoreResult<()> {
                    let q = ::sqlx::query(sql::INSERT_NOTIFICATION)
                        .bind(n.user_id.0)
                        .bind(n.team_id.0)
                        .bind(n.kind.as_str())
                        .bind(n.post_id.0)
                        .bind(n.delivery_id.map(|d| d.0))
                        .bind(n.approval_id.map(|a| a.0))
                        .bind($encode(n.created_at));
                    self.posts_changed(q).await?;
                    Ok(())
                }

                async fn unsent_notifications(
                    &mut self,
                    user: UserId,
                ) -> StoreResult<Vec<Notification>> {
                    let rows: Vec<NotificationRow<$time>> =
                        ::sqlx::query_as(sql::UNSENT_NOTIFICATIONS)
                            .bind(user.0)
                            .fetch_all(&mut *self.tx)
                            .await
                            .map_err($err)?;
                    rows.into_iter().map(NotificationRow::decode).collect()
                }

                async fn mark_notifications_emailed(
                    &mut self,
                    user: UserId,
                    notifications: &[i64],
                    now: DateTime<Utc>,
                ) -> StoreResult<u64> {
                    let mut changed = 0;
                    for id in notifications {
                        let q = ::sqlx::query(sql::MARK_NOTIFICATION_EMAILED)
                            .bind(user.0)
                            .bind(*id)
                            .bind($encode(now));
                        changed += self.posts_changed(q).await?;
                    }
                    Ok(changed)
                }

                async fn insert_image(
                    &mut self,
                    team: TeamId,
                    public_id: &str,
                    content_type: &str,
                    bytes: &[u8],
                    now: DateTime<Utc>,
                ) -> StoreResult<Image> {
                    let row: ImageRow<$time> = ::sqlx::query_as(sql::INSERT_IMAGE)
                        .bind(team.0)
                        .bind(public_id)
                        .bind(content_type)
                        .bind(bytes)
                        .bind($encode(now))
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($conflict("image name"))?;
                    row.decode()
                }

                async fn image_by_public_id(
                    &mut self,
                    public_id: &str,
                ) -> StoreResult<Option<Image>> {
                    let row: Option<ImageRow<$time>> = ::sqlx::query_as(sql::IMAGE_BY_PUBLIC_ID)
                        .bind(public_id)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(ImageRow::decode).transpose()
                }

                async fn image_public_id(
                    &mut self,
                    team: TeamId,
                    image: ImageId,
                ) -> StoreResult<Option<String>> {
                    ::sqlx::query_scalar(sql::IMAGE_PUBLIC_ID)
                        .bind(team.0)
                        .bind(image.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)
                }

                async fn save_utm_preset(
                    &mut self,
                    team: TeamId,
                    name: &str,
                    utm: &Utm,
                    now: DateTime<Utc>,
                ) -> StoreResult<UtmPreset> {
                    let row: UtmPresetRow = ::sqlx::query_as(sql::SAVE_UTM_PRESET)
                        .bind(team.0)
                        .bind(name)
                        .bind(to_json(utm))
                        .bind($encode(now))
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.decode()
                }

                async fn utm_presets(&mut self, team: TeamId) -> StoreResult<Vec<UtmPreset>> {
                    let rows: Vec<UtmPresetRow> = ::sqlx::query_as(sql::UTM_PRESETS)
                        .bind(team.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter().map(UtmPresetRow::decode).collect()
                }

                async fn delete_utm_preset(
                    &mut self,
                    team: TeamId,
                    preset: UtmPresetId,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::DELETE_UTM_PRESET)
                        .bind(team.0)
                        .bind(preset.0);
                    Ok(self.posts_changed(q).await? == 1)
                }

                async fn action_link_used(&mut self, signature_hash: &str) -> StoreResult<bool> {
                    let n: i64 = ::sqlx::query_scalar(sql::ACTION_LINK_USED)
                        .bind(signature_hash)
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(n > 0)
                }

                async fn use_action_link(
                    &mut self,
                    signature_hash: &str,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::USE_ACTION_LINK)
                        .bind(signature_hash)
                        .bind($encode(now));
                    Ok(self.posts_changed(q).await? == 1)
                }

                async fn stale_personal_grants(
                    &mut self,
                    users: &[UserId],
                    before: DateTime<Utc>,
                ) -> StoreResult<Vec<GrantId>> {
                    if users.is_empty() {
                        return Ok(Vec::new());
                    }
                    let ids: Vec<i64> = ::sqlx::query_scalar(STALE)
                        .bind(id_list(users.iter().map(|u| u.0)))
                        .bind($encode(before))
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(ids.into_iter().map(GrantId).collect())
                }

                async fn mark_grant_checked(
                    &mut self,
                    grant: GrantId,
                    at: DateTime<Utc>,
                ) -> StoreResult<()> {
                    let q = ::sqlx::query(sql::MARK_GRANT_CHECKED)
                        .bind(grant.0)
                        .bind($encode(at));
                    self.posts_changed(q).await?;
                    Ok(())
                }
            }
        };
    };
}
