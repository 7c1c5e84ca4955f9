//! `/api/v1/teams/{slug}/posts`: composing a post (admins), the caller's feed,
//! an admin's view of one post and its life (bin, restore, archive, remind), and
//! the images posts carry.

use super::connections::{KindName, StatusName};
use super::paging::{PageQuery, Paging};
use crate::error::{ApiError, ErrorBody};
use crate::session::{object, optional_object, ApiJson, Bearer};
use crate::AppState;
use apostle_core::posts::inbox::{FeedItem, Target};
use apostle_core::posts::{PostDetail, PostInput};
use apostle_core::store::{Delivery, Post};
use apostle_core::teams::TeamAccess;
use apostle_domain::{AccountId, DeliveryState, ImageId, PostId, Schedule, UserId, Utm};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A post as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": 12, "text": "We are hiring in Lyon!", "variants": {"x": "Hiring in Lyon"},
    "link": "https://acme.example/jobs", "link_title": "Jobs at Acme",
    "utm": {"source": "apostle", "campaign": "hiring"}, "image_id": null, "image_url": null,
    "providers": ["linkedin", "x"], "schedule": {"kind": "now"},
    "expires_at": "2026-12-14T10:00:00Z", "status": "scheduled", "in_bin": false,
    "created_at": "2026-11-30T10:00:00Z"
}))]
pub(crate) struct PostView {
    id: i64,
    text: String,
    /// Provider → the text used there instead of `text`.
    variants: BTreeMap<String, String>,
    link: Option<String>,
    link_title: Option<String>,
    /// UTM parameters added to the link when it is shared: `source`, `medium`,
    /// `campaign`, `term`, `content` (each optional).
    #[schema(value_type = Object)]
    utm: Utm,
    image_id: Option<i64>,
    /// Where the image is served to anyone (Instagram fetches it from there).
    image_url: Option<String>,
    /// Among `linkedin`, `x`, `facebook`, `instagram`.
    providers: Vec<String>,
    /// `{"kind": "now"}`, `{"kind": "at", "date": "2026-12-01", "time": "10:00:00"}`
    /// or `{"kind": "days", "days": ["2026-12-01", …], "skip_weekends": true}`; dates
    /// and times are each recipient's own.
    #[schema(value_type = Object)]
    schedule: Schedule,
    /// After this the post is neither delivered nor shareable.
    expires_at: DateTime<Utc>,
    /// `draft`, `scheduled`, `sent`, `expired` or `archived`.
    status: &'static str,
    /// Deleted: in the bin until restored, and not shareable.
    in_bin: bool,
    created_at: DateTime<Utc>,
}

impl PostView {
    fn new(post: Post, now: DateTime<Utc>, images: &BTreeMap<ImageId, String>) -> Self {
        let status = post.shown_status(now).as_str();
        let content = post.content;
        PostView {
            id: post.id.0,
            text: content.text,
            variants: content.variants,
            link: content.link,
            link_title: content.link_title,
            utm: content.utm,
            image_id: content.image_id.map(|i| i.0),
            image_url: content.image_id.and_then(|i| images.get(&i).cloned()),
            providers: content.providers,
            schedule: content.schedule,
            expires_at: content.expires_at,
            status,
            in_bin: post.deleted_at.is_some(),
            created_at: post.created_at,
        }
    }
}

/// Views of `posts`, each image's URL looked up once.
pub(crate) async fn post_views(
    state: &AppState,
    access: &TeamAccess,
    posts: Vec<Post>,
) -> Result<Vec<PostView>, ApiError> {
    let ids: Vec<ImageId> = posts.iter().filter_map(|p| p.content.image_id).collect();
    let images = state.core.image_urls(access, &ids).await?;
    let now = state.core.clock.now();
    Ok(posts
        .into_iter()
        .map(|p| PostView::new(p, now, &images))
        .collect())
}

async fn post_view(
    state: &AppState,
    access: &TeamAccess,
    post: Post,
) -> Result<PostView, ApiError> {
    let images = state
        .core
        .image_urls(access, post.content.image_id.as_slice())
        .await?;
    Ok(PostView::new(post, state.core.clock.now(), &images))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "text": "We are hiring in Lyon!", "link": "https://acme.example/jobs",
    "providers": ["linkedin", "x"], "schedule": {"kind": "days",
    "days": ["2026-12-01", "2026-12-02"], "skip_weekends": true}
}))]
pub(crate) struct NewPost {
    text: String,
    /// Provider → its own text, where its limit or audience differs (X: 280
    /// characters, a link counting as 23).
    #[serde(default)]
    variants: BTreeMap<String, String>,
    link: Option<String>,
    link_title: Option<String>,
    /// `source`, `medium`, `campaign`, `term`, `content` (each optional).
    #[serde(default, deserialize_with = "object")]
    #[schema(value_type = Object)]
    utm: Utm,
    /// An image uploaded with `POST /teams/{slug}/images`; needed for Instagram.
    image_id: Option<i64>,
    /// Among `linkedin`, `x`, `facebook`, `instagram`; the chosen pages' providers
    /// are added.
    #[serde(default)]
    providers: Vec<String>,
    /// User ids of members of the team; absent: the whole team.
    recipients: Option<Vec<i64>>,
    /// Business pages (connection ids) to post on; each waits for its owner's
    /// approval unless Auto Approve is on.
    #[serde(default)]
    pages: Vec<i64>,
    /// As in a post; absent: now.
    #[serde(default, deserialize_with = "optional_object")]
    #[schema(value_type = Option<Object>)]
    schedule: Option<Schedule>,
    /// Absent: 14 days after the last delivery moment.
    expires_at: Option<DateTime<Utc>>,
    /// Save without delivering to anyone.
    #[serde(default)]
    draft: bool,
}

impl From<NewPost> for PostInput {
    fn from(p: NewPost) -> Self {
        PostInput {
            text: p.text,
            variants: p.variants,
            link: p.link,
            link_title: p.link_title,
            utm: p.utm,
            image: p.image_id.map(ImageId),
            providers: p.providers,
            recipients: p
                .recipients
                .map(|users| users.into_iter().map(UserId).collect()),
            pages: p.pages.into_iter().map(AccountId).collect(),
            schedule: p.schedule,
            expires_at: p.expires_at,
            draft: p.draft,
        }
    }
}

/// Suggests a post to the team (admins): delivered to each recipient at their
/// moment, or saved as a draft.
#[utoipa::path(
    post,
    path = "/teams/{slug}/posts",
    params(("slug" = String, Path, description = "The team's slug")),
    request_body = NewPost,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = PostView),
        (status = 400, description = "The body is not the JSON expected", body = ErrorBody),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 403, description = "Not an admin of the team", body = ErrorBody),
        (status = 404, description = "No such team, or no such image", body = ErrorBody),
        (status = 422, description = "A value is not valid: empty or too long text, an \
            unknown provider, a time in the past, a recipient outside the team, \
            Instagram without an image, …", body = ErrorBody),
    )
)]
pub(crate) async fn create_post(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(slug): Path<String>,
    ApiJson(req): ApiJson<NewPost>,
) -> Result<(StatusCode, Json<PostView>), ApiError> {
    let access = bearer.team_access(&slug)?;
    let post = state.core.create_post(&access, req.into()).await?;
    Ok((
        StatusCode::CREATED,
        Json(post_view(&state, &access, post).await?),
    ))
}

/// An account a post can go to, from the caller's side.
#[derive(Serialize, ToSchema)]
pub(crate) struct TargetView {
    connection_id: i64,
    provider: String,
    name: String,
    /// `personal` (the caller's own) or `business` (a page of the team, for admins).
    kind: KindName,
    /// The connection's health: a broken one needs reconnecting before sharing.
    status: StatusName,
}

impl From<Target> for TargetView {
    fn from(t: Target) -> Self {
        TargetView {
            connection_id: t.connection_id.0,
            provider: t.provider,
            name: t.name,
            kind: if t.business {
                KindName::Business
            } else {
                KindName::Personal
            },
            status: t.status.into(),
        }
    }
}

/// A post offered to the caller.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    id: i64,
    /// `pending`, `delivered`, `shared`, `rejected` or `expired`.
    state: &'static str,
    /// When it comes (or came) to the inbox.
    due_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            id: d.id.0,
            state: d.state.as_str(),
            due_at: d.due_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct FeedPost {
    #[serde(flatten)]
    post: PostView,
    /// The caller's accounts it can go to.
    targets: Vec<TargetView>,
    /// The caller's delivery of it, when it is one of the recipients (for an
    /// admin it may still be `pending`).
    delivery: Option<DeliveryView>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Feed {
    /// Newest first (by when the post was written): for an admin among the
    /// 500 newest posts, for an ambassador among the 200 newest suggestions.
    posts: Vec<FeedPost>,
    /// For the next page of a list; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The caller's feed: for an ambassador the suggestions delivered to them
/// (waiting, shared, rejected or expired), for an admin every post of the team
/// not in the bin.
#[utoipa::path(
    get,
    path = "/teams/{slug}/posts",
    params(("slug" = String, Path, description = "The team's slug"), PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The feed", body = Feed),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such team, or the user is not in it", body = ErrorBody),
    )
)]
pub(crate) async fn feed(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(slug): Path<String>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let access = bearer.team_access(&slug)?;
    let feed = state.core.feed(&access).await?;
    let page = paging.page(feed, |item| Reverse((item.post.created_at, item.post.id.0)))?;
    let (posts, rest): (Vec<Post>, Vec<_>) = page
        .items
        .into_iter()
        .map(
            |FeedItem {
                 post,
                 delivery,
                 targets,
             }| (post, (delivery, targets)),
        )
        .unzip();
    let posts = post_views(&state, &access, posts)
        .await?
        .into_iter()
        .zip(rest)
        .map(|(post, (delivery, targets))| FeedPost {
            post,
            targets: targets.into_iter().map(TargetView::from).collect(),
            delivery: delivery.map(DeliveryView::from),
        })
        .collect();
    paging.respond(&Feed {
        posts,
        next_cursor: page.next_cursor,
    })
}

/// A business page a post goes to.
#[derive(Serialize, ToSchema)]
pub(crate) struct PageRef {
    connection_id: i64,
    provider: String,
    name: String,
    status: StatusName,
}

/// A suggestion to a business page and its owner's answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct ApprovalView {
    id: i64,
    post_id: i64,
    /// The page (a connection id).
    page_id: i64,
    /// `pending`, `approved` or `rejected`.
    state: &'static str,
    /// When it is published once approved.
    publish_at: DateTime<Utc>,
    /// Who answered (user id).
    decided_by: Option<i64>,
    decided_at: Option<DateTime<Utc>>,
}

impl From<apostle_core::store::Approval> for ApprovalView {
    fn from(a: apostle_core::store::Approval) -> Self {
        ApprovalView {
            id: a.id.0,
            post_id: a.post_id.0,
            page_id: a.account_id.0,
            state: a.state.as_str(),
            publish_at: a.publish_at,
            decided_by: a.decided_by.map(|u| u.0),
            decided_at: a.decided_at,
        }
    }
}

/// A post with what an admin follows about it.
#[derive(Serialize, ToSchema)]
pub(crate) struct PostDetailView {
    #[serde(flatten)]
    post: PostView,
    /// The chosen members (user ids); empty when it goes to the whole team.
    recipients: Vec<i64>,
    pages: Vec<PageRef>,
    /// How many deliveries are in each state: `pending`, `delivered`, `shared`,
    /// `rejected`, `expired`.
    deliveries: BTreeMap<&'static str, i64>,
    approvals: Vec<ApprovalView>,
}

/// One post of the team, with its deliveries counted by state and its page
/// approvals (admins).
#[utoipa::path(
    get,
    path = "/teams/{slug}/posts/{id}",
    params(
        ("slug" = String, Path, description = "The team's slug"),
        ("id" = i64, Path, description = "The post"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The post", body = PostDetailView),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 403, description = "Not an admin of the team", body = ErrorBody),
        (status = 404, description = "No such team or post", body = ErrorBody),
    )
)]
pub(crate) async fn get_post(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path((slug, id)): Path<(String, i64)>,
) -> Result<Json<PostDetailView>, ApiError> {
    let access = bearer.team_access(&slug)?;
    let PostDetail {
        post,
        recipients,
        pages,
        counts,
        approvals,
        ..
    } = state.core.post_detail(&access, PostId(id)).await?;
    let mut deliveries: BTreeMap<&'static str, i64> =
        DeliveryState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for (delivery_state, count) in counts {
        deliveries.insert(delivery_state.as_str(), count);
    }
    Ok(Json(PostDetailView {
        post: post_view(&state, &access, post).await?,
        recipients: recipients.into_iter().map(|u| u.0).collect(),
        pages: pages
            .into_iter()
            .map(|a| PageRef {
                connection_id: a.id.0,
                provider: a.provider,
                name: a.name,
                status: a.status.into(),
            })
            .collect(),
        deliveries,
        approvals: approvals.into_iter().map(ApprovalView::from).collect(),
    }))
}

/// Moves a post to the bin (admins): nothing in it is delivered or shareable
/// until it is restored.
#[utoipa::path(
    delete,
    path = "/teams/{slug}/posts/{id}",
    params(
        ("slug" = String, Path, description = "The team's slug"),
        ("id" = i64, Path, description = "The post"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "In the bin"),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 403, description = "Not an admin of the team", body = ErrorBody),
        (status = 404, description = "No such team or post", body = ErrorBody),
    )
)]
pub(crate) async fn delete_post(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path((slug, id)): Path<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    let access = bearer.team_access(&slug)?;
    state.core.delete_post(&access, PostId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a post out of the bin, as it was (admins).
#[utoipa::path(
    post,
    path = "/teams/{slug}/posts/{id}/restore",
    params(
        ("slug" = String, Path, description = "The team's slug"),
        ("id" = i64, Path, description = "The post"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Restored"),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 403, description = "Not an admin of the team", body = ErrorBody),
        (status = 404, description = "No such team or post", body = ErrorBody),
    )
)]
pub(crate) async fn restore_post(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path((slug, id)): Path<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    let access = bearer.team_access(&slug)?;
    state.core.restore_post(&access, PostId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Archives a post (admins): no longer offered; what was shared stays shared.
#[utoipa::path(
    post,
    path = "/teams/{slug}/posts/{id}/archive",
    params(
        ("slug" = String, Path, description = "The team's slug"),
        ("id" = i64, Path, description = "The post"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Archived"),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 403, description = "Not an admin of the team", body = ErrorBody),
        (status = 404, description = "No such team or post", body = ErrorBody),
    )
)]
pub(crate) async fn archive_post(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path((slug, id)): Path<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    let access = bearer.team_access(&slug)?;
    state.core.archive_post(&access, PostId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Reminded {
    /// How many members were reminded (those who have it in their inbox and
    /// have not decided yet).
    reminded: usize,
}

/// Reminds the members who have not shared a post yet (admins), by the
/// usual hourly-batched notification email.
#[utoipa::path(
    post,
    path = "/teams/{slug}/posts/{id}/remind",
    params(
        ("slug" = String, Path, description = "The team's slug"),
        ("id" = i64, Path, description = "The post"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Reminded", body = Reminded),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 403, description = "Not an admin of the team", body = ErrorBody),
        (status = 404, description = "No such team or post", body = ErrorBody),
        (status = 409, description = "The post can no longer be shared", body = ErrorBody),
    )
)]
pub(crate) async fn remind(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path((slug, id)): Path<(String, i64)>,
) -> Result<Json<Reminded>, ApiError> {
    let access = bearer.team_access(&slug)?;
    let reminded = state.core.remind_unshared(&access, PostId(id)).await?;
    Ok(Json(Reminded { reminded }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ImageView {
    /// For a post's `image_id`.
    id: i64,
    /// Where it is served to anyone.
    url: String,
}

/// Uploads an image for the team's posts (admins): JPEG, PNG, GIF or WebP, at
/// most 5 MB, sent as the raw request body.
#[utoipa::path(
    post,
    path = "/teams/{slug}/images",
    params(("slug" = String, Path, description = "The team's slug")),
    request_body(
        description = "The image's bytes; its type is read from them, whatever `Content-Type` says",
        content(("image/jpeg"), ("image/png"), ("image/gif"), ("image/webp"), ("application/octet-stream")),
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored", body = ImageView),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 403, description = "Not an admin of the team", body = ErrorBody),
        (status = 404, description = "No such team", body = ErrorBody),
        (status = 413, description = "Larger than 5 MB", body = ErrorBody),
        (status = 422, description = "Empty, or not a JPEG, PNG, GIF or WebP", body = ErrorBody),
    )
)]
pub(crate) async fn upload_image(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(slug): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<ImageView>), ApiError> {
    let access = bearer.team_access(&slug)?;
    let image = state.core.store_image(&access, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(ImageView {
            id: image.id.0,
            url: state.core.image_url(&image.public_id),
        }),
    ))
}
