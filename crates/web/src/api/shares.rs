//! Sharing through the API: the caller shares a post to chosen accounts and
//! follows each target. A broken personal account among them answers `409`
//! `reconnect_required` with the reconnect to open; nothing is published
//! until the app shares again after it.

use super::paging::{PageQuery, Paging};
use crate::error::{ApiError, ErrorBody};
use crate::session::{ApiJson, Bearer};
use crate::AppState;
use apostle_core::sharing::{provider_post_url, ShareOutcome};
use apostle_core::store::{FlowPurpose, ShareTarget};
use apostle_core::teams::TeamAccess;
use apostle_domain::{AccountId, PostId};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"targets": [5, 6], "text": "Worth a read", "redirect_uri": "apostle://posts"}))]
pub(crate) struct ShareRequest {
    /// Connection ids: the caller's personal accounts, or (admins) the team's pages.
    targets: Vec<i64>,
    /// The caller's own text, within each provider's limit; default the post's.
    #[serde(default)]
    text: Option<String>,
    /// Where a reconnect, if one is needed first, returns (a path on this site
    /// or an allowed app link); `post_id` is added to it.
    #[serde(default)]
    redirect_uri: Option<String>,
}

/// One account the caller shares the post to.
#[derive(Serialize, ToSchema)]
pub(crate) struct ShareTargetView {
    id: i64,
    connection_id: i64,
    provider: String,
    /// `queued`, `publishing`, `published`, `failed`, `waiting_for_reconnect`
    /// or `unsure` (the member should look at their account).
    status: String,
    /// The provider's refusal in plain words, for `failed` and `unsure`.
    error: Option<String>,
    /// The post at the provider, once published.
    url: Option<String>,
    published_at: Option<DateTime<Utc>>,
}

impl From<ShareTarget> for ShareTargetView {
    fn from(t: ShareTarget) -> Self {
        ShareTargetView {
            id: t.id.0,
            connection_id: t.account_id.0,
            url: t
                .provider_post_id
                .as_deref()
                .and_then(|id| provider_post_url(&t.provider, id)),
            provider: t.provider,
            status: t.status.as_str().to_owned(),
            error: t.error,
            published_at: t.published_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SharesView {
    targets: Vec<ShareTargetView>,
    /// For the next page of a list; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The caller's access to the team of `post`.
async fn access_to_post(
    state: &AppState,
    bearer: &apostle_core::auth::BearerSession,
    post: PostId,
) -> Result<TeamAccess, ApiError> {
    let team = state.core.team_of_post(post).await?;
    let slug = bearer
        .teams
        .iter()
        .find(|t| t.team.id == team)
        .map(|t| t.team.slug.to_string())
        .ok_or(apostle_core::CoreError::NotFound("post"))?;
    Ok(bearer.team_access(&slug)?)
}

/// Shares a post to the chosen accounts: one target each, published at most
/// once (an `Idempotency-Key` makes a retried request find its targets).
#[utoipa::path(
    post,
    path = "/posts/{id}/shares",
    params(
        ("id" = i64, Path, description = "The post"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key on a retry finds the same targets"),
    ),
    request_body = ShareRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Each target and its state", body = SharesView),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such post for the caller, or not their account", body = ErrorBody),
        (status = 409, description = "`reconnect_required`: a chosen personal account is broken; nothing was shared", body = ErrorBody),
        (status = 410, description = "The post can no longer be shared", body = ErrorBody),
        (status = 422, description = "No target, a network the post does not suit, or a text too long", body = ErrorBody),
    )
)]
pub(crate) async fn share(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(id): Path<i64>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ShareRequest>,
) -> Result<(StatusCode, Json<SharesView>), ApiError> {
    let post = PostId(id);
    let access = access_to_post(&state, &bearer, post).await?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200);
    let targets: Vec<AccountId> = req.targets.iter().copied().map(AccountId).collect();
    match state
        .core
        .share_post(&access, post, &targets, req.text.as_deref(), key)
        .await?
    {
        ShareOutcome::Queued(targets) => Ok((
            StatusCode::CREATED,
            Json(SharesView {
                targets: targets.into_iter().map(ShareTargetView::from).collect(),
                next_cursor: None,
            }),
        )),
        ShareOutcome::ReconnectFirst { account } => {
            let back = req
                .redirect_uri
                .unwrap_or_else(|| format!("/t/{}/inbox", access.team.slug));
            let separator = if back.contains('?') { '&' } else { '?' };
            let back = format!("{back}{separator}post_id={id}");
            let url = state
                .core
                .start_reconnect(&access.user, account.id, &back, FlowPurpose::Share)
                .await?;
            Err(ApiError::ReconnectRequired {
                connection_id: account.id.0,
                provider: account.provider,
                authorize_url: url.to_string(),
            })
        }
    }
}

/// The caller's shares of a post: each target's state and, once published,
/// the post at the provider.
#[utoipa::path(
    get,
    path = "/posts/{id}/shares",
    params(("id" = i64, Path, description = "The post"), PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's targets, oldest first", body = SharesView),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such post for the caller", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(id): Path<i64>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let post = PostId(id);
    let access = access_to_post(&state, &bearer, post).await?;
    let targets = state.core.shares_of(&access, post).await?;
    let page = paging.page(targets, |t| t.id.0)?;
    paging.respond(&SharesView {
        targets: page.items.into_iter().map(ShareTargetView::from).collect(),
        next_cursor: page.next_cursor,
    })
}

/// One post in the caller's share history.
#[derive(Serialize, ToSchema)]
pub(crate) struct SharedPostView {
    post_id: i64,
    /// The post's text as suggested (each target says what it published).
    text: String,
    /// Each account it went to, newest first.
    targets: Vec<HistoryTargetView>,
}

/// One account a post went to, in the history.
#[derive(Serialize, ToSchema)]
pub(crate) struct HistoryTargetView {
    #[serde(flatten)]
    target: ShareTargetView,
    /// The account's name.
    account: String,
    /// For `queued`: publishes no earlier than this (a held share rescheduled).
    publish_after: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ShareHistory {
    /// Newest first.
    posts: Vec<SharedPostView>,
    /// For the next page of a list; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The caller's share history in a team, newest first: each post, each
/// account it went to with its state, the provider's post once published and
/// the reason when it failed.
#[utoipa::path(
    get,
    path = "/teams/{slug}/shares/mine",
    params(("slug" = String, Path, description = "The team's slug"), PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's shares, newest first", body = ShareHistory),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such team, or the user is not in it", body = ErrorBody),
    )
)]
pub(crate) async fn history(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(slug): Path<String>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let access = bearer.team_access(&slug)?;
    let history = state.core.share_history(&access).await?;
    // A post's first target is its newest: its id orders the posts.
    let page = paging.page(history, |entry| {
        Reverse(entry.targets.first().map_or(0, |(t, _)| t.id.0))
    })?;
    let posts = page
        .items
        .into_iter()
        .map(|entry| SharedPostView {
            post_id: entry.post.id.0,
            text: entry.post.content.text,
            targets: entry
                .targets
                .into_iter()
                .map(|(t, account)| HistoryTargetView {
                    account: account.name,
                    publish_after: t.publish_after,
                    created_at: t.created_at,
                    target: ShareTargetView::from(t),
                })
                .collect(),
        })
        .collect();
    paging.respond(&ShareHistory {
        posts,
        next_cursor: page.next_cursor,
    })
}
