//! Suggestions to business pages waiting for their owner, and the owner's
//! Auto Approve switch per page.

use super::paging::{PageQuery, Paging};
use super::posts::{post_views, ApprovalView, PostView};
use crate::error::{ApiError, ErrorBody};
use crate::session::{ApiJson, Bearer};
use crate::AppState;
use apostle_domain::{AccountId, ApprovalId};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub(crate) struct PendingApproval {
    #[serde(flatten)]
    approval: ApprovalView,
    post: PostView,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PendingApprovals {
    /// Oldest first.
    approvals: Vec<PendingApproval>,
    /// For the next page of a list; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The suggestions to pages the caller answers for (the admin who connected
/// the page, or every admin once that one has left), waiting for an answer.
#[utoipa::path(
    get,
    path = "/teams/{slug}/approvals",
    params(("slug" = String, Path, description = "The team's slug"), PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Waiting for the caller", body = PendingApprovals),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such team, or the user is not in it", body = ErrorBody),
    )
)]
pub(crate) async fn pending(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(slug): Path<String>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let access = bearer.team_access(&slug)?;
    let pending = state.core.pending_approvals(&access).await?;
    let page = paging.page(pending, |item| item.approval.id.0)?;
    let (approvals, posts): (Vec<_>, Vec<_>) = page
        .items
        .into_iter()
        .map(|item| (item.approval, item.post))
        .unzip();
    let approvals = approvals
        .into_iter()
        .zip(post_views(&state, &access, posts).await?)
        .map(|(approval, post)| PendingApproval {
            approval: approval.into(),
            post,
        })
        .collect();
    paging.respond(&PendingApprovals {
        approvals,
        next_cursor: page.next_cursor,
    })
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"approve": true}))]
pub(crate) struct Decision {
    /// `true` to publish on the page at its time, `false` to decline.
    approve: bool,
}

/// Answers a suggestion to a page the caller answers for.
#[utoipa::path(
    post,
    path = "/teams/{slug}/approvals/{id}",
    params(
        ("slug" = String, Path, description = "The team's slug"),
        ("id" = i64, Path, description = "The approval"),
    ),
    request_body = Decision,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Answered", body = ApprovalView),
        (status = 400, description = "The body is not the JSON expected", body = ErrorBody),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 403, description = "The caller does not answer for this page", body = ErrorBody),
        (status = 404, description = "No such team or approval", body = ErrorBody),
        (status = 409, description = "Already answered", body = ErrorBody),
        (status = 410, description = "The post can no longer be shared", body = ErrorBody),
    )
)]
pub(crate) async fn decide(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path((slug, id)): Path<(String, i64)>,
    ApiJson(req): ApiJson<Decision>,
) -> Result<Json<ApprovalView>, ApiError> {
    let access = bearer.team_access(&slug)?;
    let decided = state
        .core
        .decide_approval(&access, ApprovalId(id), req.approve)
        .await?;
    Ok(Json(decided.into()))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"on": true}))]
pub(crate) struct AutoApprove {
    /// On: suggestions to this page are approved without asking.
    on: bool,
}

/// Turns Auto Approve on or off for a page the caller owns.
#[utoipa::path(
    put,
    path = "/teams/{slug}/pages/{id}/auto-approve",
    params(
        ("slug" = String, Path, description = "The team's slug"),
        ("id" = i64, Path, description = "The page (a connection id)"),
    ),
    request_body = AutoApprove,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Set"),
        (status = 400, description = "The body is not the JSON expected", body = ErrorBody),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 403, description = "The caller does not own this page", body = ErrorBody),
        (status = 404, description = "No such team or page", body = ErrorBody),
    )
)]
pub(crate) async fn set_auto_approve(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path((slug, id)): Path<(String, i64)>,
    ApiJson(req): ApiJson<AutoApprove>,
) -> Result<StatusCode, ApiError> {
    let access = bearer.team_access(&slug)?;
    state
        .core
        .set_auto_approve(&access, AccountId(id), req.on)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
