//! `/api/v1/me/devices`: the apps signed in as the caller (one bearer token
//! each), as Personal Settings lists them, and signing another one out.

use super::paging::{PageQuery, Paging};
use crate::error::{ApiError, ErrorBody};
use crate::session::Bearer;
use crate::AppState;
use apostle_core::store::ApiToken;
use apostle_core::CoreError;
use apostle_domain::ApiTokenId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 4, "name": "Pixel 9", "created_at": "2026-11-01T08:00:00Z",
    "last_used_at": "2026-11-30T09:12:00Z", "current": true}))]
pub(crate) struct DeviceView {
    /// The `token_id` given at sign-in.
    id: i64,
    /// The `device_name` given at sign-in.
    name: String,
    created_at: DateTime<Utc>,
    /// To the minute.
    last_used_at: Option<DateTime<Utc>>,
    /// The device making this request.
    current: bool,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DeviceList {
    /// Newest first.
    devices: Vec<DeviceView>,
    /// For the next page of a list; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The apps signed in as the caller.
#[utoipa::path(
    get,
    path = "/me/devices",
    params(PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The devices", body = DeviceList),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    paging: Paging,
) -> Result<Response, ApiError> {
    let signed_in: Vec<ApiToken> = state
        .core
        .api_tokens(bearer.user.id)
        .await?
        .into_iter()
        .filter(|t| t.revoked_at.is_none())
        .collect();
    let page = paging.page(signed_in, |t| std::cmp::Reverse(t.id.0))?;
    paging.respond(&DeviceList {
        devices: page
            .items
            .into_iter()
            .map(|t| DeviceView {
                current: t.id == bearer.token.id,
                id: t.id.0,
                name: t.name,
                created_at: t.created_at,
                last_used_at: t.last_used_at,
            })
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// Signs another of the caller's devices out; this one signs out with
/// `DELETE /auth/token`.
#[utoipa::path(
    delete,
    path = "/me/devices/{id}",
    params(("id" = i64, Path, description = "The device")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such device signed in as the caller", body = ErrorBody),
        (status = 409, description = "The device making this request", body = ErrorBody),
    )
)]
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if id == bearer.token.id.0 {
        return Err(CoreError::Conflict(
            "this is the device making the request: sign it out with DELETE /auth/token",
        )
        .into());
    }
    state
        .core
        .revoke_api_token(bearer.user.id, ApiTokenId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
