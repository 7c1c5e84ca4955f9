//! LinkedIn: OAuth on `www.linkedin.com` (`/oauth/v2/authorization`, `accessToken`,
//! `introspectToken`, `revoke`) and the API on `api.linkedin.com` (`/v2/userinfo`,
//! `/rest/posts` (create, and find by author), `/rest/organizationAcls`, `/rest/organizations/{id}`), both under
//! `/sandbox/linkedin`. Refresh tokens do not rotate and die 365 days after the first
//! authorization, however often they are used. Only approved partner apps get them: the
//! app mode (`World::linkedin`, per client id or for all) decides whether a code exchange
//! hands one out or a 60-day access token alone.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Datelike};
use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::{epoch_secs, seconds_until, DAY};
use crate::errors::{self, ProviderError};
use crate::faults::{guard, Surface};
use crate::oauth::{self, CodeProblem, LINKEDIN_REFRESH_LIFETIME};
use crate::params::{bearer, Params};
use crate::state::{PageId, Post, Provider};
use crate::tokens::{Access, Death, TokenKind, TokenProblem};
use crate::Sandbox;

const ACCESS_LIFETIME: u64 = 60 * DAY;
/// The oldest `LinkedIn-Version` the sandbox still serves.
const OLDEST_VERSION: u32 = 202401;

pub(crate) fn router(sandbox: &Sandbox) -> Router<Sandbox> {
    let token = Router::new()
        .route("/oauth/v2/accessToken", post(access_token))
        .route("/oauth/v2/introspectToken", post(introspect))
        .route("/oauth/v2/revoke", post(revoke));
    let api = Router::new()
        .route("/v2/userinfo", get(userinfo))
        .route("/rest/posts", post(create_post).get(find_posts))
        .route("/rest/organizationAcls", get(organization_acls))
        .route("/v2/organizationAcls", get(organization_acls))
        .route("/rest/organizations/{id}", get(organization))
        .route("/v2/organizations/{id}", get(organization));
    Router::new()
        .route(
            "/oauth/v2/authorization",
            oauth::authorize_route(Provider::LinkedIn),
        )
        .merge(guard(
            token,
            sandbox,
            Provider::LinkedIn,
            Surface::TokenEndpoint,
        ))
        .merge(guard(api, sandbox, Provider::LinkedIn, Surface::Api))
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
    /// Approved partner apps only.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_expires_in: Option<i64>,
    scope: String,
    token_type: &'static str,
}

fn missing(parameter: &str) -> ProviderError {
    errors::oauth(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        &format!("A required parameter \"{parameter}\" is missing"),
    )
}

fn invalid_grant() -> ProviderError {
    errors::oauth(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "The provided authorization grant or refresh token is invalid, expired or revoked.",
    )
}

/// client_secret_post: `client_id` and `client_secret` in the form body.
fn authenticate_client(sandbox: &Sandbox, params: &Params) -> Result<String, ProviderError> {
    let client_id = params
        .nonempty("client_id")
        .ok_or_else(|| missing("client_id"))?;
    match params.get("client_secret") {
        Some(secret) if sandbox.secret_matches(secret) => Ok(client_id.to_owned()),
        _ => Err(errors::oauth(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        )),
    }
}

async fn access_token(
    State(sandbox): State<Sandbox>,
    params: Params,
) -> Result<Json<TokenResponse>, ProviderError> {
    let client_id = authenticate_client(&sandbox, &params)?;
    let clock = sandbox.clock();
    let now = clock.now();
    let mut world = sandbox.world();
    match params.get("grant_type") {
        Some("authorization_code") => {
            let code = params.nonempty("code").ok_or_else(|| missing("code"))?;
            let redirect_uri = params
                .nonempty("redirect_uri")
                .ok_or_else(|| missing("redirect_uri"))?;
            let grant = world
                .redeem_code(
                    Provider::LinkedIn,
                    code,
                    &client_id,
                    redirect_uri,
                    None,
                    now,
                )
                .map_err(|problem| match problem {
                    CodeProblem::Used | CodeProblem::Expired => invalid_grant(),
                    _ => errors::oauth(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "Unable to retrieve access token: appid/redirect uri/code verifier does \
                         not match authorization code. Or authorization code expired. Or \
                         external member binding exists",
                    ),
                })?;
            let access = world.issue_for(
                grant,
                TokenKind::Access,
                now,
                clock.lifetime(ACCESS_LIFETIME),
            );
            let scopes = world.grant(grant).scopes.clone();
            let refresh = world.linkedin.refresh_tokens_for(&client_id).then(|| {
                let expires =
                    world.grant(grant).refresh_anchor + clock.lifetime(LINKEDIN_REFRESH_LIFETIME);
                world.issue_token(
                    grant,
                    TokenKind::Refresh,
                    scopes.clone(),
                    now,
                    Some(expires),
                )
            });
            Ok(Json(TokenResponse {
                access_token: access.token,
                expires_in: seconds_until(now, access.expires.unwrap_or(now)),
                refresh_token_expires_in: refresh
                    .as_ref()
                    .map(|r| seconds_until(now, r.expires.unwrap_or(now))),
                refresh_token: refresh.map(|r| r.token),
                scope: scopes.join(","),
                token_type: "Bearer",
            }))
        }
        Some("refresh_token") => {
            let refresh_token = params
                .nonempty("refresh_token")
                .ok_or_else(|| missing("refresh_token"))?;
            let refresh = world
                .check_any(Provider::LinkedIn, refresh_token, now)
                .map_err(|_| invalid_grant())?;
            if refresh.kind != TokenKind::Refresh || refresh.client_id != client_id {
                return Err(invalid_grant());
            }
            let access = world.issue_for(
                refresh.grant,
                TokenKind::Access,
                now,
                clock.lifetime(ACCESS_LIFETIME),
            );
            Ok(Json(TokenResponse {
                access_token: access.token,
                expires_in: seconds_until(now, access.expires.unwrap_or(now)),
                refresh_token: Some(refresh_token.to_owned()),
                refresh_token_expires_in: Some(seconds_until(now, refresh.expires.unwrap_or(now))),
                scope: refresh.scopes.join(","),
                token_type: "Bearer",
            }))
        }
        _ => Err(errors::oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        )),
    }
}

async fn introspect(
    State(sandbox): State<Sandbox>,
    params: Params,
) -> Result<Json<Value>, ProviderError> {
    authenticate_client(&sandbox, &params)?;
    let token = params.nonempty("token").ok_or_else(|| missing("token"))?;
    let now = sandbox.clock().now();
    let world = sandbox.world();
    let Some(record) = world.token(token) else {
        return Ok(Json(json!({"active": false})));
    };
    let grant = world.grant(record.grant);
    if grant.provider != Provider::LinkedIn {
        return Ok(Json(json!({"active": false})));
    }
    let status = match world.check_any(Provider::LinkedIn, token, now) {
        Ok(_) => "active",
        Err(TokenProblem::Expired) => "expired",
        Err(_) => "revoked",
    };
    Ok(Json(json!({
        "active": status == "active",
        "client_id": grant.client_id,
        "authorized_at": epoch_secs(grant.refresh_anchor),
        "created_at": epoch_secs(record.issued),
        "status": status,
        "expires_at": record.expires.map(epoch_secs),
        "scope": record.scopes.join(","),
        "auth_type": "3L",
    })))
}

async fn revoke(State(sandbox): State<Sandbox>, params: Params) -> Result<Response, ProviderError> {
    authenticate_client(&sandbox, &params)?;
    let token = params.nonempty("token").ok_or_else(|| missing("token"))?;
    sandbox.world().kill_token(token, Death::Revoked);
    Ok(StatusCode::OK.into_response())
}

fn authorize(sandbox: &Sandbox, headers: &HeaderMap) -> Result<Access, ProviderError> {
    let token = bearer(headers).ok_or_else(|| errors::linkedin_token(TokenProblem::Unknown))?;
    let now = sandbox.clock().now();
    sandbox
        .world()
        .check_access(Provider::LinkedIn, token, now)
        .map_err(errors::linkedin_token)
}

/// The `/rest` API needs an active `LinkedIn-Version` (YYYYMM) header.
fn check_version(sandbox: &Sandbox, headers: &HeaderMap) -> Result<(), ProviderError> {
    let Some(version) = headers.get("linkedin-version") else {
        return Err(errors::linkedin(
            StatusCode::BAD_REQUEST,
            None,
            Some("VERSION_MISSING"),
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        ));
    };
    let version = version.to_str().unwrap_or_default();
    let now = DateTime::from_timestamp_millis(sandbox.clock().now()).unwrap_or_default();
    let current = now.year() as u32 * 100 + now.month();
    let active = version
        .split('.')
        .next()
        .filter(|v| v.len() == 6)
        .and_then(|v| v.parse::<u32>().ok())
        .is_some_and(|v| (1..=12).contains(&(v % 100)) && (OLDEST_VERSION..=current).contains(&v));
    if active {
        Ok(())
    } else {
        Err(errors::linkedin(
            StatusCode::UPGRADE_REQUIRED,
            None,
            Some("NONEXISTENT_VERSION"),
            &format!("Requested version {version} is not active"),
        ))
    }
}

fn require_scope(access: &Access, scope: &str, what: &str) -> Result<(), ProviderError> {
    if access.has_scope(scope) {
        Ok(())
    } else {
        Err(errors::linkedin_forbidden(what))
    }
}

async fn userinfo(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
) -> Result<Json<Value>, ProviderError> {
    let access = authorize(&sandbox, &headers)?;
    require_scope(&access, "openid", "GET /v2/userinfo")?;
    let world = sandbox.world();
    let member = world.member(access.member);
    let (given, family) = member.name.split_once(' ').unwrap_or((&member.name, ""));
    let mut info = json!({
        "sub": member.external_id,
        "locale": {"country": "US", "language": "en"},
    });
    if access.has_scope("profile") {
        info["name"] = json!(member.name);
        info["given_name"] = json!(given);
        info["family_name"] = json!(family);
        info["picture"] = json!(format!(
            "https://media.licdn.com/sandbox/{}",
            member.external_id
        ));
    }
    if access.has_scope("email") {
        info["email"] = json!(format!("{}@example.com", member.handle));
        info["email_verified"] = json!(true);
    }
    Ok(Json(info))
}

fn required<'a>(body: &'a Value, field: &str) -> Result<&'a Value, ProviderError> {
    body.get(field).filter(|v| !v.is_null()).ok_or_else(|| {
        errors::linkedin(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("MISSING_FIELD"),
            &format!("Field /{field} is required when creating a Post"),
        )
    })
}

async fn create_post(
    State(sandbox): State<Sandbox>,
    params: Params,
) -> Result<Response, ProviderError> {
    check_version(&sandbox, &params.headers)?;
    let access = authorize(&sandbox, &params.headers)?;
    let body: Value = serde_json::from_slice(&params.body).map_err(|_| {
        errors::linkedin(
            StatusCode::BAD_REQUEST,
            None,
            Some("ILLEGAL_ARGUMENT"),
            "Request body is not valid JSON",
        )
    })?;
    let author = required(&body, "author")?
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let commentary = required(&body, "commentary")?
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for field in ["visibility", "distribution", "lifecycleState"] {
        required(&body, field)?;
    }
    let link = body
        .pointer("/content/article/source")
        .and_then(Value::as_str)
        .map(str::to_owned);
    const WHAT: &str = "POST /rest/posts";
    let mut world = sandbox.world();
    let page = if let Some(person) = author.strip_prefix("urn:li:person:") {
        require_scope(&access, "w_member_social", WHAT)?;
        if world.member(access.member).external_id != person {
            return Err(errors::linkedin_forbidden(WHAT));
        }
        None
    } else if let Some(organization) = author.strip_prefix("urn:li:organization:") {
        require_scope(&access, "w_organization_social", WHAT)?;
        let page = world
            .page_by_external_id(Provider::LinkedIn, organization)
            .filter(|&p| world.page(p).admins.contains(&access.member))
            .ok_or_else(|| errors::linkedin_forbidden(WHAT))?;
        Some(page)
    } else {
        return Err(errors::linkedin(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("INVALID_URN"),
            &format!("/author: {author} is not a person or organization URN"),
        ));
    };
    let id = format!("urn:li:share:{}", world.random_digits(19));
    let created = sandbox.clock().now();
    world.record_post(Post {
        provider: Provider::LinkedIn,
        id: id.clone(),
        member: access.member,
        page,
        author,
        text: commentary,
        link,
        image_url: None,
        created,
    });
    Ok((StatusCode::CREATED, [("x-restli-id", id)]).into_response())
}

/// `GET /rest/posts?q=author&author={urn}&count=`: the author's posts, newest first,
/// `count` (default 10, at most 100) at most. A person's posts need `r_member_social`
/// and are the token's member's only; an organization's need `r_organization_social` and
/// a role on it.
async fn find_posts(
    State(sandbox): State<Sandbox>,
    params: Params,
) -> Result<Json<Value>, ProviderError> {
    check_version(&sandbox, &params.headers)?;
    let access = authorize(&sandbox, &params.headers)?;
    let illegal = |message: &str| {
        errors::linkedin(
            StatusCode::BAD_REQUEST,
            None,
            Some("ILLEGAL_ARGUMENT"),
            message,
        )
    };
    if params.get("q") != Some("author") {
        return Err(illegal("GET /rest/posts needs the finder q=author"));
    }
    let author = params
        .nonempty("author")
        .ok_or_else(|| illegal("q=author needs the author parameter"))?;
    let count = match params.get("count") {
        None => 10,
        Some(count) => count
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| illegal("count must be between 1 and 100"))?,
    };
    const WHAT: &str = "GET /rest/posts";
    let world = sandbox.world();
    if let Some(person) = author.strip_prefix("urn:li:person:") {
        require_scope(&access, "r_member_social", WHAT)?;
        if world.member(access.member).external_id != person {
            return Err(errors::linkedin_forbidden(WHAT));
        }
    } else if let Some(organization) = author.strip_prefix("urn:li:organization:") {
        require_scope(&access, "r_organization_social", WHAT)?;
        world
            .page_by_external_id(Provider::LinkedIn, organization)
            .filter(|&p| world.page(p).admins.contains(&access.member))
            .ok_or_else(|| errors::linkedin_forbidden(WHAT))?;
    } else {
        return Err(illegal(&format!(
            "author: {author} is not a person or organization URN"
        )));
    }
    let elements: Vec<Value> = world
        .posts
        .iter()
        .rev()
        .filter(|p| p.provider == Provider::LinkedIn && p.author == author)
        .take(count)
        .map(|p| {
            let mut element = json!({
                "id": p.id,
                "author": p.author,
                "commentary": p.text,
                "visibility": "PUBLIC",
                "distribution": {
                    "feedDistribution": "MAIN_FEED",
                    "targetEntities": [],
                    "thirdPartyDistributionChannels": [],
                },
                "lifecycleState": "PUBLISHED",
                "isReshareDisabledByAuthor": false,
                "createdAt": p.created,
                "publishedAt": p.created,
                "lastModifiedAt": p.created,
            });
            if let Some(link) = &p.link {
                element["content"] = json!({"article": {"source": link}});
            }
            element
        })
        .collect();
    Ok(Json(json!({
        "paging": {"start": 0, "count": count, "links": []},
        "elements": elements,
    })))
}

fn organization_urn(world: &crate::state::World, page: PageId) -> String {
    format!("urn:li:organization:{}", world.page(page).external_id)
}

async fn organization_acls(
    State(sandbox): State<Sandbox>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<Value>, ProviderError> {
    if uri.path().starts_with("/rest/") {
        check_version(&sandbox, &headers)?;
    }
    let access = authorize(&sandbox, &headers)?;
    require_scope(
        &access,
        "rw_organization_admin",
        "GET /rest/organizationAcls",
    )?;
    let world = sandbox.world();
    let person = format!("urn:li:person:{}", world.member(access.member).external_id);
    let elements: Vec<Value> = world
        .pages_of(access.member)
        .into_iter()
        .map(|page| {
            json!({
                "roleAssignee": person,
                "state": "APPROVED",
                "role": "ADMINISTRATOR",
                "organization": organization_urn(&world, page),
            })
        })
        .collect();
    Ok(Json(json!({
        "paging": {"start": 0, "count": elements.len(), "links": []},
        "elements": elements,
    })))
}

async fn organization(
    State(sandbox): State<Sandbox>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<Value>, ProviderError> {
    if uri.path().starts_with("/rest/") {
        check_version(&sandbox, &headers)?;
    }
    let access = authorize(&sandbox, &headers)?;
    if !access.has_scope("rw_organization_admin") && !access.has_scope("r_organization_social") {
        return Err(errors::linkedin_forbidden("GET /rest/organizations"));
    }
    let world = sandbox.world();
    let page = world
        .page_by_external_id(Provider::LinkedIn, &id)
        .ok_or_else(|| {
            errors::linkedin(
                StatusCode::NOT_FOUND,
                None,
                Some("NOT_FOUND"),
                &format!("Organization {id} not found"),
            )
        })?;
    let record = world.page(page);
    let vanity: String = record
        .name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    Ok(Json(json!({
        "id": record.external_id.parse::<u64>().unwrap_or_default(),
        "localizedName": record.name,
        "vanityName": vanity,
    })))
}
