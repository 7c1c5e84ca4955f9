//! X: OAuth 2.0 with PKCE (S256) on `x.com` (`/i/oauth2/authorize`) and the API on
//! `api.x.com` (`/2/oauth2/token`, `/2/oauth2/revoke`, `/2/users/me`, `/2/tweets`,
//! `/2/users/{id}/tweets`), under `/sandbox/x`. Confidential clients authenticate with HTTP Basic; refresh tokens are
//! single-use and rotate on every refresh. A tweet repeating the user's last one answers
//! 403 duplicate content, and so does any tweet while a `duplicate-content` fault lasts.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::{epoch_secs, seconds_until, HOUR, MINUTE};
use crate::errors::{self, ProviderError};
use crate::faults::{guard, FaultKind, Surface};
use crate::oauth;
use crate::params::{basic_credentials, bearer, Params};
use crate::state::{MemberId, Post, Provider};
use crate::tokens::{Access, Death, TokenKind};
use crate::Sandbox;

const ACCESS_LIFETIME: u64 = 2 * HOUR;
const MAX_CHARS: usize = 280;
/// Posting limit per user: 100 tweets per 15 minutes.
const POSTS_PER_WINDOW: usize = 100;
const POST_WINDOW_MS: i64 = 15 * MINUTE as i64 * 1000;

pub(crate) fn router(sandbox: &Sandbox) -> Router<Sandbox> {
    let token = Router::new()
        .route("/2/oauth2/token", post(token))
        .route("/2/oauth2/revoke", post(revoke));
    let api = Router::new()
        .route("/2/users/me", get(users_me))
        .route("/2/tweets", post(create_tweet))
        .route("/2/users/{id}/tweets", get(user_tweets));
    Router::new()
        .route("/i/oauth2/authorize", oauth::authorize_route(Provider::X))
        .merge(guard(token, sandbox, Provider::X, Surface::TokenEndpoint))
        .merge(guard(api, sandbox, Provider::X, Surface::Api))
}

#[derive(Serialize)]
struct TokenResponse {
    token_type: &'static str,
    expires_in: i64,
    access_token: String,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

fn authenticate_client(sandbox: &Sandbox, headers: &HeaderMap) -> Result<String, ProviderError> {
    match basic_credentials(headers) {
        Some((client_id, secret)) if sandbox.secret_matches(&secret) => Ok(client_id),
        _ => Err(errors::oauth(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        )),
    }
}

fn missing(parameter: &str) -> ProviderError {
    errors::oauth(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        &format!("Missing required parameter [{parameter}]."),
    )
}

async fn token(
    State(sandbox): State<Sandbox>,
    params: Params,
) -> Result<Json<TokenResponse>, ProviderError> {
    let client_id = authenticate_client(&sandbox, &params.headers)?;
    let clock = sandbox.clock();
    let now = clock.now();
    let mut world = sandbox.world();
    let grant = match params.get("grant_type") {
        Some("authorization_code") => {
            let code = params.nonempty("code").ok_or_else(|| missing("code"))?;
            let redirect_uri = params
                .nonempty("redirect_uri")
                .ok_or_else(|| missing("redirect_uri"))?;
            let verifier = params
                .nonempty("code_verifier")
                .ok_or_else(|| missing("code_verifier"))?;
            world
                .redeem_code(
                    Provider::X,
                    code,
                    &client_id,
                    redirect_uri,
                    Some(verifier),
                    now,
                )
                .map_err(|_| errors::x_invalid_token())?
        }
        Some("refresh_token") => {
            let presented = params
                .nonempty("refresh_token")
                .ok_or_else(|| missing("refresh_token"))?;
            let refresh = world
                .check_any(Provider::X, presented, now)
                .map_err(|_| errors::x_invalid_token())?;
            if refresh.kind != TokenKind::Refresh || refresh.client_id != client_id {
                return Err(errors::x_invalid_token());
            }
            // Single use: the presented refresh token dies as its successor is issued.
            world.kill_token(presented, Death::Rotated);
            refresh.grant
        }
        _ => {
            return Err(errors::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Value passed for the grant type was invalid.",
            ))
        }
    };
    let access = world.issue_for(
        grant,
        TokenKind::Access,
        now,
        clock.lifetime(ACCESS_LIFETIME),
    );
    let scopes = world.grant(grant).scopes.clone();
    let refresh_token = scopes.iter().any(|s| s == "offline.access").then(|| {
        world
            .issue_token(grant, TokenKind::Refresh, scopes.clone(), now, None)
            .token
    });
    Ok(Json(TokenResponse {
        token_type: "bearer",
        expires_in: seconds_until(now, access.expires.unwrap_or(now)),
        access_token: access.token,
        scope: scopes.join(" "),
        refresh_token,
    }))
}

async fn revoke(
    State(sandbox): State<Sandbox>,
    params: Params,
) -> Result<Json<Value>, ProviderError> {
    authenticate_client(&sandbox, &params.headers)?;
    let token = params.nonempty("token").ok_or_else(|| missing("token"))?;
    sandbox.world().kill_token(token, Death::Revoked);
    Ok(Json(json!({"revoked": true})))
}

fn authorize(sandbox: &Sandbox, headers: &HeaderMap) -> Result<Access, ProviderError> {
    let token = bearer(headers).ok_or_else(errors::x_unauthorized)?;
    let now = sandbox.clock().now();
    sandbox
        .world()
        .check_access(Provider::X, token, now)
        .map_err(|_| errors::x_unauthorized())
}

fn require_scopes(access: &Access, scopes: &[&str]) -> Result<(), ProviderError> {
    if scopes.iter().all(|s| access.has_scope(s)) {
        Ok(())
    } else {
        Err(errors::x_forbidden(
            "You are not permitted to perform this action.",
        ))
    }
}

async fn users_me(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
) -> Result<Json<Value>, ProviderError> {
    let access = authorize(&sandbox, &headers)?;
    require_scopes(&access, &["users.read", "tweet.read"])?;
    let world = sandbox.world();
    let member = world.member(access.member);
    Ok(Json(json!({
        "data": {"id": member.external_id, "name": member.name, "username": member.handle}
    })))
}

fn invalid_parameter(parameter: &str, value: &str, message: &str) -> ProviderError {
    errors::x_problem_with(
        StatusCode::BAD_REQUEST,
        "https://api.twitter.com/2/problems/invalid-request",
        "One or more parameters to your request was invalid.",
        Some(json!([{"parameters": {parameter: [value]}, "message": message}])),
    )
}

fn invalid_text(text: &str, message: &str) -> ProviderError {
    invalid_parameter("text", text, message)
}

/// `GET /2/users/{id}/tweets`: the user's tweets, newest first, `max_results` (5 to 100,
/// default 10) at most. `created_at` comes when `tweet.fields` asks for it. Without tweets
/// X leaves `data` out; an unknown user is a 200 with `errors`, as X answers.
async fn user_tweets(
    State(sandbox): State<Sandbox>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ProviderError> {
    let access = authorize(&sandbox, &params.headers)?;
    require_scopes(&access, &["tweet.read", "users.read"])?;
    let max_results = match params.get("max_results") {
        None => 10,
        Some(value) => value
            .parse::<usize>()
            .ok()
            .filter(|n| (5..=100).contains(n))
            .ok_or_else(|| {
                invalid_parameter(
                    "max_results",
                    value,
                    &format!(
                        "The `max_results` query parameter value [{value}] is not between 5 and 100"
                    ),
                )
            })?,
    };
    let with_created_at = params
        .get("tweet.fields")
        .is_some_and(|fields| fields.split(',').any(|f| f.trim() == "created_at"));
    let world = sandbox.world();
    let Some(member) = world
        .members
        .iter()
        .position(|m| m.provider == Provider::X && m.external_id == id)
        .map(MemberId)
    else {
        return Ok(Json(json!({"errors": [{
            "value": id,
            "detail": format!("Could not find user with id: [{id}]."),
            "title": "Not Found Error",
            "resource_type": "user",
            "parameter": "id",
            "resource_id": id,
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }]})));
    };
    let tweets: Vec<Value> = world
        .posts
        .iter()
        .rev()
        .filter(|p| p.provider == Provider::X && p.member == member)
        .take(max_results)
        .map(|p| {
            let mut tweet = json!({"id": p.id, "text": p.text, "edit_history_tweet_ids": [p.id]});
            if with_created_at {
                tweet["created_at"] = json!(iso_time(p.created));
            }
            tweet
        })
        .collect();
    let mut body = json!({"meta": {"result_count": tweets.len()}});
    if let (Some(newest), Some(oldest)) = (tweets.first(), tweets.last()) {
        body["meta"]["newest_id"] = newest["id"].clone();
        body["meta"]["oldest_id"] = oldest["id"].clone();
        body["data"] = Value::Array(tweets);
    }
    Ok(Json(body))
}

/// X's timestamps: ISO 8601 in UTC with milliseconds.
fn iso_time(at: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

async fn create_tweet(
    State(sandbox): State<Sandbox>,
    params: Params,
) -> Result<Response, ProviderError> {
    let access = authorize(&sandbox, &params.headers)?;
    require_scopes(&access, &["tweet.write", "users.read", "tweet.read"])?;
    let body: Value = serde_json::from_slice(&params.body)
        .map_err(|_| invalid_text("", "Request body must be a JSON object"))?;
    let text = body
        .get("text")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| invalid_text("", "The `text` field is required"))?
        .to_owned();
    if text.chars().count() > MAX_CHARS {
        return Err(errors::x_forbidden(
            "Your Tweet text is too long. For more information on how X determines text length \
             see https://github.com/twitter/twitter-text.",
        ));
    }
    let now = sandbox.clock().now();
    let mut world = sandbox.world();
    let recent: Vec<i64> = world
        .posts
        .iter()
        .filter(|p| p.member == access.member && p.created > now - POST_WINDOW_MS)
        .map(|p| p.created)
        .collect();
    if recent.len() >= POSTS_PER_WINDOW {
        let reset = recent.iter().min().copied().unwrap_or(now) + POST_WINDOW_MS;
        return Err(errors::x_rate_limited(
            POSTS_PER_WINDOW as u32,
            epoch_secs(reset),
        ));
    }
    let duplicate = world
        .posts
        .iter()
        .rev()
        .find(|p| p.member == access.member)
        .is_some_and(|p| p.text == text);
    if duplicate || world.take_fault(Provider::X, FaultKind::DuplicateContent, now) {
        return Err(errors::x_duplicate_content());
    }
    let id = world.random_digits(19);
    let author = world.member(access.member).handle.clone();
    world.record_post(Post {
        provider: Provider::X,
        id: id.clone(),
        member: access.member,
        page: None,
        author,
        text: text.clone(),
        link: None,
        image_url: None,
        created: now,
    });
    let body = json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
