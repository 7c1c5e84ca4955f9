//! The JSON API under `/api/v1`, used by the mobile app with bearer tokens.
//! Its description, `GET /api/v1/openapi.json`, is generated from the
//! handlers' `#[utoipa::path]` attributes: routes are added only through
//! [`Documented::routes`], which takes nothing but documented handlers.

mod approvals;
mod connections;
mod contract;
mod devices;
mod inbox;
mod notifications;
mod paging;
mod posts;
mod shares;

pub use contract::envelope;

use crate::error::{ApiError, ErrorBody};
use crate::session::{ApiJson, Bearer, ClientIp};
use crate::AppState;
use apostle_core::posts::media::MAX_IMAGE_BYTES;
use apostle_core::store::User;
use apostle_domain::Role;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Json, Router};
use paging::{PageQuery, Paging};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::{Modify, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

/// The routes to nest under `/api/v1`, but for [`upload_routes`].
pub fn routes() -> Router<AppState> {
    documented()
        .split_for_parts()
        .0
        .fallback(contract::no_such_path)
}

/// The routes to nest under `/api/v1` whose bodies are larger than the app's
/// limit allows (images): they bring their own, so they go beside the app's.
pub fn upload_routes() -> Router<AppState> {
    uploads().split_for_parts().0
}

/// The description of [`routes`] and [`upload_routes`], as served.
pub fn openapi_document() -> &'static OpenApi {
    static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(|| {
        let mut doc = documented().merge(uploads()).split_for_parts().1;
        contract::complete(&mut doc);
        doc
    });
    &DOCUMENT
}

fn documented() -> OpenApiRouter<AppState> {
    Documented(OpenApiRouter::with_openapi(
        <ApiDoc as utoipa::OpenApi>::openapi(),
    ))
    .routes(routes!(issue_token, revoke_current_token))
    .routes(routes!(me))
    .routes(routes!(inbox::get_settings, inbox::change_settings))
    .routes(routes!(devices::list))
    .routes(routes!(devices::sign_out))
    .routes(routes!(team_members))
    .routes(routes!(connections::list_connections, connections::connect))
    .routes(routes!(connections::get_connection, connections::remove))
    .routes(routes!(connections::reconnect))
    .routes(routes!(connections::check))
    .routes(routes!(connections::flow_pages, connections::choose_pages))
    .routes(routes!(posts::create_post, posts::feed))
    .routes(routes!(posts::get_post, posts::delete_post))
    .routes(routes!(posts::restore_post))
    .routes(routes!(posts::archive_post))
    .routes(routes!(posts::remind))
    .routes(routes!(inbox::reject))
    .routes(routes!(inbox::reschedule))
    .routes(routes!(approvals::pending))
    .routes(routes!(approvals::decide))
    .routes(routes!(approvals::set_auto_approve))
    .routes(routes!(shares::share, shares::list))
    .routes(routes!(notifications::list))
    .routes(routes!(notifications::mark_read))
    .routes(routes!(notifications::mark_all_read))
    .routes(routes!(shares::history))
    .routes(routes!(openapi))
    .0
}

fn uploads() -> OpenApiRouter<AppState> {
    Documented(OpenApiRouter::new())
        .routes(routes!(posts::upload_image))
        .0
        .layer(RequestBodyLimitLayer::new(MAX_IMAGE_BYTES))
}

/// An API router that accepts only what `routes!` makes of handlers with a
/// `#[utoipa::path]`: a route cannot be added without its description.
struct Documented(OpenApiRouter<AppState>);

impl Documented {
    fn routes(self, documented: UtoipaMethodRouter<AppState>) -> Self {
        Documented(self.0.routes(documented))
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Apostle API",
        version = "1",
        description = "What the Apostle mobile app uses. Every error has the body \
                       `{\"error\": {\"code\", \"message\"}}`, also those no operation \
                       lists: `404` for a path the API does not have and `405` (with \
                       `Allow`) for a method a path does not take. Lists take `cursor` \
                       and `limit`, answer `next_cursor` while more follow, and an `ETag` \
                       for `If-None-Match`."
    ),
    servers((url = "/api/v1")),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

#[derive(Deserialize, ToSchema)]
struct TokenRequest {
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    /// Shown in the user's list of signed-in devices.
    #[serde(default)]
    device_name: String,
}

#[derive(Serialize, ToSchema)]
struct UserView {
    id: i64,
    email: String,
    name: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.0,
            email: u.email.to_string(),
            name: u.name.to_string(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum RoleView {
    Admin,
    Ambassador,
}

impl From<Role> for RoleView {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => RoleView::Admin,
            Role::Ambassador => RoleView::Ambassador,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct IssuedToken {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    /// Always `bearer`.
    token_type: &'static str,
    /// Names the token in the user's list of devices.
    token_id: i64,
    user: UserView,
}

/// Signs the app in: email and password for a bearer token.
#[utoipa::path(
    post,
    path = "/auth/token",
    request_body = TokenRequest,
    responses(
        (status = 201, description = "Signed in", body = IssuedToken),
        (status = 400, description = "The body is not the JSON expected", body = ErrorBody),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 422, description = "The device name is too long or not printable",
            body = ErrorBody),
        (status = 429, description = "Too many failed attempts for this email or address",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 503, description = "Too many sign-ins at once", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
async fn issue_token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let keys = crate::pages::login_limit_keys(&req.email, ip);
    state
        .limiter
        .check(&keys)
        .await?
        .map_err(ApiError::TooManyAttempts)?;
    match state
        .core
        .issue_api_token(&req.email, req.password, &req.device_name)
        .await
    {
        Ok(issued) => {
            state.limiter.record_success(&keys[0]).await?;
            let body = IssuedToken {
                token: issued.token.expose_secret().to_owned(),
                token_type: "bearer",
                token_id: issued.record.id.0,
                user: UserView::from(&issued.user),
            };
            Ok((StatusCode::CREATED, Json(body)))
        }
        Err(e @ apostle_core::CoreError::BadCredentials) => {
            state.limiter.record_failure(&keys).await?;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Signs the app out by revoking the token of this request.
#[utoipa::path(
    delete,
    path = "/auth/token",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
    )
)]
async fn revoke_current_token(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
) -> Result<StatusCode, ApiError> {
    state
        .core
        .revoke_api_token(bearer.user.id, bearer.token.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
struct TeamView {
    slug: String,
    name: String,
    role: RoleView,
}

#[derive(Serialize, ToSchema)]
struct MeView {
    user: UserView,
    /// Ordered by name.
    teams: Vec<TeamView>,
}

/// The signed-in user and their teams, with their role in each.
#[utoipa::path(
    get,
    path = "/me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = MeView),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
    )
)]
async fn me(Bearer(bearer): Bearer) -> Result<Json<MeView>, ApiError> {
    let teams = bearer
        .teams
        .iter()
        .map(|tr| TeamView {
            slug: tr.team.slug.to_string(),
            name: tr.team.name.to_string(),
            role: tr.role.into(),
        })
        .collect();
    Ok(Json(MeView {
        user: UserView::from(&bearer.user),
        teams,
    }))
}

#[derive(Serialize, ToSchema)]
struct MemberView {
    user: UserView,
    role: RoleView,
}

#[derive(Serialize, ToSchema)]
struct MembersView {
    /// Ordered by name.
    members: Vec<MemberView>,
    /// For the next page of a list; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The members of a team the user belongs to.
#[utoipa::path(
    get,
    path = "/teams/{slug}/members",
    params(("slug" = String, Path, description = "The team's slug"), PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The members", body = MembersView),
        (status = 401, description = "No token, or a revoked one", body = ErrorBody),
        (status = 404, description = "No such team, or the user is not in it", body = ErrorBody),
    )
)]
async fn team_members(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(slug): Path<String>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let access = bearer.team_access(&slug)?;
    let members = state.core.members(&access).await?;
    let page = paging.page(members, |m| (m.user.name.to_string(), m.user.id.0))?;
    paging.respond(&MembersView {
        members: page
            .items
            .iter()
            .map(|m| MemberView {
                user: UserView::from(&m.user),
                role: m.role.into(),
            })
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// This description of the API (OpenAPI 3.1).
#[utoipa::path(
    get,
    path = "/openapi.json",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
async fn openapi() -> Json<&'static OpenApi> {
    Json(openapi_document())
}
