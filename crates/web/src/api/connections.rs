//! `/api/v1/connections`: the caller's personal accounts and their teams' business
//! pages, connecting and reconnecting (an authorize URL for the app to open), checking
//! now, removing, and choosing the pages a business login manages.

use super::paging::{PageQuery, Paging};
use crate::error::{ApiError, ErrorBody};
use crate::session::{ApiJson, ApiQuery, Bearer};
use crate::AppState;
use apostle_core::connections::{Connection, ConnectionFilter, StartFlow};
use apostle_core::store::{AccountKind, ConnectionStatus, FlowPurpose};
use apostle_core::CoreError;
use apostle_domain::{AccountId, FlowId};
use apostle_providers::Provider;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ProviderName {
    Linkedin,
    X,
    Facebook,
    Instagram,
}

impl From<ProviderName> for Provider {
    fn from(p: ProviderName) -> Self {
        match p {
            ProviderName::Linkedin => Provider::LinkedIn,
            ProviderName::X => Provider::X,
            ProviderName::Facebook => Provider::Facebook,
            ProviderName::Instagram => Provider::Instagram,
        }
    }
}

impl From<Provider> for ProviderName {
    fn from(p: Provider) -> Self {
        match p {
            Provider::LinkedIn => ProviderName::Linkedin,
            Provider::X => ProviderName::X,
            Provider::Facebook => ProviderName::Facebook,
            Provider::Instagram => ProviderName::Instagram,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum KindName {
    Personal,
    Business,
}

impl From<KindName> for AccountKind {
    fn from(k: KindName) -> Self {
        match k {
            KindName::Personal => AccountKind::Personal,
            KindName::Business => AccountKind::Business,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StatusName {
    Active,
    Broken,
    Removed,
}

impl From<StatusName> for ConnectionStatus {
    fn from(s: StatusName) -> Self {
        match s {
            StatusName::Active => ConnectionStatus::Active,
            StatusName::Broken => ConnectionStatus::Broken,
            StatusName::Removed => ConnectionStatus::Removed,
        }
    }
}

impl From<ConnectionStatus> for StatusName {
    fn from(s: ConnectionStatus) -> Self {
        match s {
            ConnectionStatus::Active => StatusName::Active,
            ConnectionStatus::Broken => StatusName::Broken,
            ConnectionStatus::Removed => StatusName::Removed,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TeamRef {
    slug: String,
    name: String,
}

/// One connection: an account to post as, with its health.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": 7, "provider": "linkedin", "kind": "business", "name": "Acme",
    "status": "broken", "reason": "password_changed",
    "reason_text": "The password of the account was changed, which ends every app's access.",
    "provider_action": null, "broken_since": "2026-11-29T09:00:00Z",
    "team": {"slug": "acme", "name": "Acme"}, "connected_by": "Ada Admin",
    "expires_at": null
}))]
pub(crate) struct ConnectionView {
    id: i64,
    provider: ProviderName,
    kind: KindName,
    name: String,
    status: StatusName,
    /// Why it is broken: `token_expired`, `token_revoked`, `password_changed`,
    /// `app_removed`, `permission_missing`, `page_access_lost`,
    /// `provider_action_required`, `refresh_failed`.
    reason: Option<String>,
    /// The reason in plain words.
    reason_text: Option<String>,
    /// For `provider_action_required`: what to do at the provider (a reconnect does
    /// not help; the connection heals by itself once it is done).
    provider_action: Option<String>,
    broken_since: Option<DateTime<Utc>>,
    /// The team, for business pages.
    team: Option<TeamRef>,
    /// Who connected it.
    connected_by: String,
    /// When the access ends, for tokens that cannot be renewed by themselves.
    expires_at: Option<DateTime<Utc>>,
}

impl From<Connection> for ConnectionView {
    fn from(c: Connection) -> Self {
        ConnectionView {
            id: c.id.0,
            provider: c.provider.into(),
            kind: match c.kind {
                AccountKind::Personal => KindName::Personal,
                AccountKind::Business => KindName::Business,
            },
            name: c.name,
            status: c.status.into(),
            reason: c.reason.map(|r| r.as_str().to_owned()),
            reason_text: c.reason.map(|r| r.description().to_owned()),
            provider_action: c
                .reason
                .and_then(|r| r.provider_action(c.provider))
                .map(str::to_owned),
            broken_since: c.broken_since,
            team: c.team.map(|(slug, name)| TeamRef {
                slug: slug.to_string(),
                name,
            }),
            connected_by: c.connected_by,
            expires_at: c.expires_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ConnectionList {
    connections: Vec<ConnectionView>,
    /// For the next page of a list; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only connections in this state (removed ones are listed only when asked for).
    status: Option<StatusName>,
    kind: Option<KindName>,
    provider: Option<ProviderName>,
    /// Search in names, providers and teams.
    q: Option<String>,
}

/// The caller's personal accounts and, where they are an admin, their teams'
/// business pages, oldest first.
#[utoipa::path(
    get,
    path = "/connections",
    params(ListQuery, PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The connections", body = ConnectionList),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
    )
)]
pub(crate) async fn list_connections(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    ApiQuery(query): ApiQuery<ListQuery>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let filter = ConnectionFilter {
        status: query.status.map(Into::into),
        kind: query.kind.map(Into::into),
        provider: query.provider.map(Into::into),
        q: query.q,
    };
    let connections = state.core.list_connections(bearer.user.id, &filter).await?;
    let page = paging.page(connections, |c| c.id.0)?;
    paging.respond(&ConnectionList {
        connections: page.items.into_iter().map(ConnectionView::from).collect(),
        next_cursor: page.next_cursor,
    })
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"provider": "linkedin", "kind": "personal",
    "redirect_uri": "apostle://connections"}))]
pub(crate) struct ConnectRequest {
    provider: ProviderName,
    kind: KindName,
    /// The team's slug, for business pages.
    team: Option<String>,
    /// Where to come back after the provider: a path on this site, or a link into
    /// the app (`apostle://…`). The result is added as `status`, `connection_id`,
    /// `flow` (for `choose_pages`) and `message`.
    redirect_uri: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"authorize_url": "https://www.linkedin.com/oauth/v2/authorization?response_type=code&client_id=…"}))]
pub(crate) struct AuthorizeView {
    /// Open this in a browser; it leads back to `redirect_uri`.
    authorize_url: String,
}

/// A `redirect_uri` that is neither this site nor the app is a bad request.
fn flow_error(e: CoreError) -> ApiError {
    match e {
        CoreError::Invalid(v) if v.field == "redirect_uri" => {
            ApiError::BadRequest(StatusCode::BAD_REQUEST, v.to_string())
        }
        e => e.into(),
    }
}

/// Starts connecting: the app opens the returned URL in a browser. Personal accounts
/// are LinkedIn and X; business pages need `team` and its admin.
#[utoipa::path(
    post,
    path = "/connections",
    request_body = ConnectRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Started", body = AuthorizeView),
        (status = 400, description = "The body is not the JSON expected, or `redirect_uri` is not allowed", body = ErrorBody),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 403, description = "Not an admin of the team", body = ErrorBody),
        (status = 404, description = "No such team", body = ErrorBody),
        (status = 409, description = "Not possible (a personal Facebook or Instagram, a provider not set up)", body = ErrorBody),
        (status = 422, description = "A value is not valid", body = ErrorBody),
    )
)]
pub(crate) async fn connect(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    ApiJson(req): ApiJson<ConnectRequest>,
) -> Result<(StatusCode, Json<AuthorizeView>), ApiError> {
    let url = state
        .core
        .start_connect(
            &bearer.user,
            StartFlow {
                provider: req.provider.into(),
                kind: req.kind.into(),
                team: req.team.as_deref(),
                redirect_uri: &req.redirect_uri,
            },
        )
        .await
        .map_err(flow_error)?;
    Ok((
        StatusCode::CREATED,
        Json(AuthorizeView {
            authorize_url: url.into(),
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"redirect_uri": "apostle://connections"}))]
pub(crate) struct ReconnectRequest {
    /// As for connecting.
    redirect_uri: String,
}

/// Starts reconnecting a connection in place (broken or not).
#[utoipa::path(
    post,
    path = "/connections/{id}/reconnect",
    params(("id" = i64, Path, description = "The connection")),
    request_body = ReconnectRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Started", body = AuthorizeView),
        (status = 400, description = "The body is not the JSON expected, or `redirect_uri` is not allowed", body = ErrorBody),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such connection for this user", body = ErrorBody),
        (status = 409, description = "The provider is not set up", body = ErrorBody),
    )
)]
pub(crate) async fn reconnect(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<ReconnectRequest>,
) -> Result<(StatusCode, Json<AuthorizeView>), ApiError> {
    let url = state
        .core
        .start_reconnect(
            &bearer.user,
            AccountId(id),
            &req.redirect_uri,
            FlowPurpose::Reconnect,
        )
        .await
        .map_err(flow_error)?;
    Ok((
        StatusCode::CREATED,
        Json(AuthorizeView {
            authorize_url: url.into(),
        }),
    ))
}

/// One connection.
#[utoipa::path(
    get,
    path = "/connections/{id}",
    params(("id" = i64, Path, description = "The connection")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The connection", body = ConnectionView),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such connection for this user", body = ErrorBody),
    )
)]
pub(crate) async fn get_connection(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(id): Path<i64>,
) -> Result<Json<ConnectionView>, ApiError> {
    let c = state.core.connection(bearer.user.id, AccountId(id)).await?;
    Ok(Json(c.into()))
}

/// Checks a connection with the provider now and answers its health.
#[utoipa::path(
    post,
    path = "/connections/{id}/check",
    params(("id" = i64, Path, description = "The connection")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The connection after the check", body = ConnectionView),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such connection for this user", body = ErrorBody),
    )
)]
pub(crate) async fn check(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(id): Path<i64>,
) -> Result<Json<ConnectionView>, ApiError> {
    let c = state
        .core
        .check_connection(bearer.user.id, AccountId(id))
        .await?;
    Ok(Json(c.into()))
}

/// Removes a connection (revoked at the provider when nothing else uses the login).
#[utoipa::path(
    delete,
    path = "/connections/{id}",
    params(("id" = i64, Path, description = "The connection")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such connection for this user", body = ErrorBody),
    )
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .core
        .remove_connection(bearer.user.id, AccountId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PageView {
    /// The provider's id of the page or organization.
    id: String,
    name: String,
    /// Already one of the team's business pages through this login.
    connected: bool,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"flow": 12, "provider": "facebook", "team": "acme",
    "pages": [{"id": "1001", "name": "Acme", "connected": false}]}))]
pub(crate) struct PageChoiceView {
    flow: i64,
    provider: ProviderName,
    /// The team's slug.
    team: String,
    pages: Vec<PageView>,
}

/// The pages and organizations a business login manages, after `choose_pages`.
#[utoipa::path(
    get,
    path = "/connections/flows/{id}",
    params(("id" = i64, Path, description = "The `flow` of the `choose_pages` return")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The pages to choose from", body = PageChoiceView),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 403, description = "No longer an admin of the team", body = ErrorBody),
        (status = 404, description = "No such flow for this user", body = ErrorBody),
        (status = 409, description = "Too late to choose, or the provider did not answer", body = ErrorBody),
    )
)]
pub(crate) async fn flow_pages(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(id): Path<i64>,
) -> Result<Json<PageChoiceView>, ApiError> {
    let choice = state.core.flow_pages(bearer.user.id, FlowId(id)).await?;
    Ok(Json(PageChoiceView {
        flow: choice.flow_id.0,
        provider: choice.provider.into(),
        team: choice.team_slug.to_string(),
        pages: choice
            .pages
            .into_iter()
            .map(|(page, connected)| PageView {
                id: page.id,
                name: page.name,
                connected,
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"pages": ["1001"]}))]
pub(crate) struct ChoosePages {
    /// The `id`s of the pages to add.
    pages: Vec<String>,
}

/// Adds the chosen pages to the team.
#[utoipa::path(
    post,
    path = "/connections/flows/{id}",
    params(("id" = i64, Path, description = "The `flow` of the `choose_pages` return")),
    request_body = ChoosePages,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = ConnectionList),
        (status = 400, description = "The body is not the JSON expected", body = ErrorBody),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 403, description = "No longer an admin of the team", body = ErrorBody),
        (status = 404, description = "No such flow for this user", body = ErrorBody),
        (status = 409, description = "Too late to choose, or the provider did not answer", body = ErrorBody),
        (status = 422, description = "No page chosen, or one the login does not manage", body = ErrorBody),
    )
)]
pub(crate) async fn choose_pages(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<ChoosePages>,
) -> Result<(StatusCode, Json<ConnectionList>), ApiError> {
    let connections = state
        .core
        .choose_pages(bearer.user.id, FlowId(id), &req.pages)
        .await?
        .into_iter()
        .map(ConnectionView::from)
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(ConnectionList {
            connections,
            next_cursor: None,
        }),
    ))
}
