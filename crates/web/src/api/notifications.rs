//! `/api/v1/notifications`: what the app shows in its notifications screen —
//! a connection that broke, a reminder to reconnect, a new suggestion — with
//! each one's read state.

use super::paging::{PageQuery, Paging};
use crate::error::{ApiError, ErrorBody};
use crate::session::{ApiQuery, Bearer};
use crate::AppState;
use apostle_core::auth::BearerSession;
use apostle_core::store::{Alert, AlertKind};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NotificationKindName {
    /// A connection broke: `connection_id` is the one to reconnect.
    ConnectionBroken,
    /// A connection still needs reconnecting, or soon stops working.
    ReconnectReminder,
    /// A post was suggested to the member: `post_id` in `team`.
    Suggestion,
}

impl From<AlertKind> for NotificationKindName {
    fn from(k: AlertKind) -> Self {
        match k {
            AlertKind::ConnectionBroken => NotificationKindName::ConnectionBroken,
            AlertKind::ReconnectReminder => NotificationKindName::ReconnectReminder,
            AlertKind::Suggestion => NotificationKindName::Suggestion,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": 31, "kind": "connection_broken",
    "text": "Acme on LinkedIn is disconnected: The password of the account was changed, which ends every app's access.",
    "team": "acme", "connection_id": 7, "post_id": null,
    "created_at": "2026-11-29T09:00:00Z", "read": false, "read_at": null
}))]
pub(crate) struct NotificationView {
    id: i64,
    kind: NotificationKindName,
    /// What happened, in plain words.
    text: String,
    /// The team's slug, for a business page or a suggestion.
    team: Option<String>,
    connection_id: Option<i64>,
    post_id: Option<i64>,
    created_at: DateTime<Utc>,
    read: bool,
    read_at: Option<DateTime<Utc>>,
}

fn view(bearer: &BearerSession, a: Alert) -> NotificationView {
    NotificationView {
        id: a.id,
        kind: a.kind.into(),
        text: a.text,
        team: a.team_id.and_then(|id| {
            bearer
                .teams
                .iter()
                .find(|t| t.team.id == id)
                .map(|t| t.team.slug.to_string())
        }),
        connection_id: a.account_id.map(|id| id.0),
        post_id: a.post_id.map(|id| id.0),
        created_at: a.created_at,
        read: a.read_at.is_some(),
        read_at: a.read_at,
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct NotificationList {
    /// Newest first.
    notifications: Vec<NotificationView>,
    /// How many are unread in all (for the badge).
    unread: i64,
    /// For the next page of a list; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NotificationsQuery {
    /// Only those not read yet.
    #[serde(default)]
    unread: bool,
}

/// The caller's notifications, newest first.
#[utoipa::path(
    get,
    path = "/notifications",
    params(NotificationsQuery, PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The notifications", body = NotificationList),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    ApiQuery(query): ApiQuery<NotificationsQuery>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let user = bearer.user.id;
    let before: Option<i64> = paging.after()?;
    let rows = state
        .core
        .alerts(user, before, query.unread, paging.fetch())
        .await?;
    let page = paging.page(rows, |a| Reverse(a.id))?;
    let unread = state.core.unread_alerts(user).await?;
    paging.respond(&NotificationList {
        notifications: page.items.into_iter().map(|a| view(&bearer, a)).collect(),
        unread,
        next_cursor: page.next_cursor,
    })
}

/// Marks one of the caller's notifications read.
#[utoipa::path(
    post,
    path = "/notifications/{id}/read",
    params(("id" = i64, Path, description = "The notification")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Read", body = NotificationView),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such notification for the caller", body = ErrorBody),
    )
)]
pub(crate) async fn mark_read(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(id): Path<i64>,
) -> Result<Json<NotificationView>, ApiError> {
    let alert = state.core.mark_alert_read(bearer.user.id, id).await?;
    Ok(Json(view(&bearer, alert)))
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"marked": 3}))]
pub(crate) struct MarkedRead {
    /// How many were unread.
    marked: u64,
}

/// Marks all the caller's notifications read.
#[utoipa::path(
    post,
    path = "/notifications/read",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "All read", body = MarkedRead),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
    )
)]
pub(crate) async fn mark_all_read(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
) -> Result<Json<MarkedRead>, ApiError> {
    let marked = state.core.mark_alerts_read(bearer.user.id).await?;
    Ok(Json(MarkedRead { marked }))
}
