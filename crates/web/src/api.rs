//! The JSON API under `/api/v1`, used by the mobile app with bearer tokens.
//! `GET /api/v1/openapi.json` describes it.

use crate::error::ApiError;
use crate::session::{ApiJson, Bearer, ClientIp};
use crate::AppState;
use apostle_core::store::{Member, User};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/auth/token",
            post(issue_token).delete(revoke_current_token),
        )
        .route("/me", get(me))
        .route("/teams/{slug}/members", get(team_members))
        .route("/openapi.json", get(openapi))
}

#[derive(Deserialize)]
struct TokenRequest {
    email: String,
    password: SecretString,
    #[serde(default)]
    device_name: String,
}

#[derive(Serialize)]
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

/// `POST /auth/token`: email and password for a bearer token.
async fn issue_token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Response, ApiError> {
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
            let body = serde_json::json!({
                "token": issued.token.expose_secret(),
                "token_type": "bearer",
                "token_id": issued.record.id.0,
                "user": UserView::from(&issued.user),
            });
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
        Err(e @ apostle_core::CoreError::BadCredentials) => {
            state.limiter.record_failure(&keys).await?;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// `DELETE /auth/token`: signs the app out by revoking the token it used.
async fn revoke_current_token(
    State(state): State<AppState>,
    bearer: Bearer,
) -> Result<StatusCode, ApiError> {
    state
        .core
        .revoke_api_token(bearer.user.id, bearer.token.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct TeamView {
    slug: String,
    name: String,
    role: &'static str,
}

/// `GET /me`: the user and their teams with roles.
async fn me(
    State(state): State<AppState>,
    bearer: Bearer,
) -> Result<Json<serde_json::Value>, ApiError> {
    let teams: Vec<TeamView> = state
        .core
        .teams_of(bearer.user.id)
        .await?
        .into_iter()
        .map(|tr| TeamView {
            slug: tr.team.slug.to_string(),
            name: tr.team.name.to_string(),
            role: tr.role.as_str(),
        })
        .collect();
    Ok(Json(serde_json::json!({
        "user": UserView::from(&bearer.user),
        "teams": teams,
    })))
}

#[derive(Serialize)]
struct MemberView {
    user: UserView,
    role: &'static str,
}

/// `GET /teams/{slug}/members`: only for members of that team.
async fn team_members(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(slug): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let access = state.core.team_access(&slug, &bearer.user).await?;
    let members: Vec<MemberView> = state
        .core
        .members(&access)
        .await?
        .iter()
        .map(|m: &Member| MemberView {
            user: UserView::from(&m.user),
            role: m.role.as_str(),
        })
        .collect();
    Ok(Json(serde_json::json!({ "members": members })))
}

/// `GET /openapi.json`.
async fn openapi() -> Json<serde_json::Value> {
    Json(openapi_document())
}

/// The API description. A test checks that every route above is in it.
pub fn openapi_document() -> serde_json::Value {
    let error = serde_json::json!({"$ref": "#/components/schemas/Error"});
    let err = |desc: &str| serde_json::json!({"description": desc, "content": {"application/json": {"schema": error}}});
    serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "Apostle API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "User": {"type": "object", "required": ["id", "email", "name"], "properties": {
                    "id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"}}},
                "Team": {"type": "object", "required": ["slug", "name", "role"], "properties": {
                    "slug": {"type": "string"}, "name": {"type": "string"},
                    "role": {"type": "string", "enum": ["admin", "ambassador"]}}}
            }
        },
        "paths": {
            "/auth/token": {
                "post": {
                    "summary": "Sign in: exchange email and password for a bearer token",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["email", "password"],
                        "properties": {"email": {"type": "string"}, "password": {"type": "string"},
                                       "device_name": {"type": "string"}}}}}},
                    "responses": {
                        "201": {"description": "Token issued", "content": {"application/json": {"schema": {
                            "type": "object", "required": ["token", "token_type", "token_id", "user"],
                            "properties": {"token": {"type": "string"}, "token_type": {"type": "string"},
                                           "token_id": {"type": "integer"},
                                           "user": {"$ref": "#/components/schemas/User"}}}}}},
                        "400": err("Unreadable body"),
                        "401": err("Wrong email or password"),
                        "429": err("Too many attempts; see Retry-After")
                    }
                },
                "delete": {
                    "summary": "Sign out: revoke the token used for this request",
                    "security": [{"bearer": []}],
                    "responses": {"204": {"description": "Revoked"}, "401": err("Missing or revoked token")}
                }
            },
            "/me": {"get": {
                "summary": "The signed-in user and their teams",
                "security": [{"bearer": []}],
                "responses": {
                    "200": {"description": "The user", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["user", "teams"],
                        "properties": {"user": {"$ref": "#/components/schemas/User"},
                                       "teams": {"type": "array", "items": {"$ref": "#/components/schemas/Team"}}}}}}},
                    "401": err("Missing or revoked token")
                }
            }},
            "/teams/{slug}/members": {"get": {
                "summary": "Members of a team the user belongs to",
                "security": [{"bearer": []}],
                "parameters": [{"name": "slug", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "Members", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["members"], "properties": {"members": {"type": "array", "items": {
                            "type": "object", "properties": {"user": {"$ref": "#/components/schemas/User"},
                                                               "role": {"type": "string"}}}}}}}}},
                    "401": err("Missing or revoked token"),
                    "404": err("No such team, or not a member")
                }
            }},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        }
    })
}
