//! The caller's side of delivery: deciding about a suggestion delivered to them
//! (reject, remind me later) and their delivery settings, which the mobile app
//! also uses to set the time zone from the device.

use super::posts::DeliveryView;
use crate::error::{ApiError, ErrorBody};
use crate::session::{ApiJson, Bearer};
use crate::AppState;
use apostle_core::CoreError;
use apostle_domain::{DeliveryId, NotificationKind};
use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The caller's delivery as it is now.
async fn current(
    state: &AppState,
    access: &apostle_core::teams::TeamAccess,
    id: DeliveryId,
) -> Result<Json<DeliveryView>, ApiError> {
    let (delivery, _) = state.core.delivery_for(access, id).await?;
    Ok(Json(delivery.into()))
}

/// "Not for me": the suggestion leaves the caller's current suggestions.
#[utoipa::path(
    post,
    path = "/teams/{slug}/deliveries/{id}/reject",
    params(
        ("slug" = String, Path, description = "The team's slug"),
        ("id" = i64, Path, description = "The caller's delivery (a feed post's `delivery.id`)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Rejected", body = DeliveryView),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such delivery to the caller in this team", body = ErrorBody),
        (status = 410, description = "Already decided, or the post can no longer be shared",
            body = ErrorBody),
    )
)]
pub(crate) async fn reject(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path((slug, id)): Path<(String, i64)>,
) -> Result<Json<DeliveryView>, ApiError> {
    let access = bearer.team_access(&slug)?;
    let (delivery, _) = state.core.delivery_for(&access, DeliveryId(id)).await?;
    state
        .core
        .reject_delivery(access.user.id, delivery.id)
        .await?;
    current(&state, &access, delivery.id).await
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"at": "2026-12-01T09:00:00Z"}))]
pub(crate) struct Reschedule {
    /// When the suggestion comes back: in the future, before the post expires.
    at: DateTime<Utc>,
}

/// "Remind me later": the suggestion leaves the caller's current suggestions
/// and comes back at `at`, in the inbox and by email.
#[utoipa::path(
    post,
    path = "/teams/{slug}/deliveries/{id}/reschedule",
    params(
        ("slug" = String, Path, description = "The team's slug"),
        ("id" = i64, Path, description = "The caller's delivery (a feed post's `delivery.id`)"),
    ),
    request_body = Reschedule,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Pending until `at`", body = DeliveryView),
        (status = 400, description = "The body is not the JSON expected", body = ErrorBody),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such delivery to the caller in this team", body = ErrorBody),
        (status = 410, description = "Already decided, or the post can no longer be shared",
            body = ErrorBody),
        (status = 422, description = "`at` is past, or not before the post expires",
            body = ErrorBody),
    )
)]
pub(crate) async fn reschedule(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path((slug, id)): Path<(String, i64)>,
    ApiJson(req): ApiJson<Reschedule>,
) -> Result<Json<DeliveryView>, ApiError> {
    let access = bearer.team_access(&slug)?;
    let (delivery, _) = state.core.delivery_for(&access, DeliveryId(id)).await?;
    state
        .core
        .reschedule_delivery(access.user.id, delivery.id, req.at)
        .await?;
    current(&state, &access, delivery.id).await
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"time_zone": "Europe/Paris",
    "email_notifications": ["suggestion", "approval"]}))]
pub(crate) struct SettingsView {
    /// IANA name; delivery moments are in this time zone.
    time_zone: String,
    /// The notifications that come by email, among `suggestion`, `approval`
    /// and `share_reminder`. Disconnection notices always come.
    email_notifications: Vec<&'static str>,
}

async fn settings_of(state: &AppState, bearer: &Bearer) -> Result<Json<SettingsView>, ApiError> {
    let settings = state.core.member_settings(bearer.0.user.id).await?;
    Ok(Json(SettingsView {
        time_zone: settings.time_zone,
        email_notifications: NotificationKind::ALL
            .iter()
            .filter(|k| !settings.muted.contains(k))
            .map(|k| k.as_str())
            .collect(),
    }))
}

/// The caller's delivery settings.
#[utoipa::path(
    get,
    path = "/me/settings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings", body = SettingsView),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
    )
)]
pub(crate) async fn get_settings(
    State(state): State<AppState>,
    bearer: Bearer,
) -> Result<Json<SettingsView>, ApiError> {
    settings_of(&state, &bearer).await
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"time_zone": "America/New_York"}))]
pub(crate) struct SettingsChange {
    /// IANA name, e.g. from the device.
    time_zone: Option<String>,
    /// The notifications to get by email; the others are turned off.
    email_notifications: Option<Vec<String>>,
}

/// Changes the caller's delivery settings; what is absent stays as it was.
/// Nothing changes when a value is not valid.
#[utoipa::path(
    patch,
    path = "/me/settings",
    request_body = SettingsChange,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings now", body = SettingsView),
        (status = 400, description = "The body is not the JSON expected", body = ErrorBody),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 422, description = "An unknown time zone or notification kind",
            body = ErrorBody),
    )
)]
pub(crate) async fn change_settings(
    State(state): State<AppState>,
    bearer: Bearer,
    ApiJson(req): ApiJson<SettingsChange>,
) -> Result<Json<SettingsView>, ApiError> {
    let user = bearer.0.user.id;
    let wanted = req
        .email_notifications
        .map(|kinds| {
            kinds
                .iter()
                .map(|k| NotificationKind::parse(k))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(CoreError::from)?;
    if let Some(zone) = &req.time_zone {
        state.core.set_time_zone(user, zone).await?;
    }
    if let Some(wanted) = &wanted {
        state.core.set_email_notifications(user, wanted).await?;
    }
    settings_of(&state, &bearer).await
}
