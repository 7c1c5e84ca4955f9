//! The Graph API, where Facebook pages and the Instagram business accounts linked to them
//! live: Facebook Login (`/{version}/dialog/oauth`, `/{version}/oauth/access_token` with
//! the short → long-lived exchange), `debug_token`, `/me`, `/me/accounts` (page tokens,
//! linked Instagram business accounts), `/me/permissions`, and objects and edges by id
//! (listing edges of posts share [`post_list`]).
//! Mounted at `/sandbox/facebook` and again at `/sandbox/instagram`: one world, two
//! prefixes, as Instagram's Graph API is graph.facebook.com with the Facebook login's
//! tokens. Page publishing lives in [`crate::facebook`], media containers in
//! [`crate::instagram`].

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::clock::{epoch_secs, seconds_until, Millis, DAY, HOUR};
use crate::errors::{GraphError, ProviderError};
use crate::faults::{guard, Surface};
use crate::oauth::{self, CodeProblem};
use crate::params::{bearer, Params};
use crate::state::{Page, PageId, Provider, World};
use crate::tokens::{Access, Death, TokenKind};
use crate::{facebook, instagram, Sandbox};

/// Short-lived user tokens from the code exchange live hours.
const SHORT_LIVED: u64 = 2 * HOUR;
const LONG_LIVED: u64 = 60 * DAY;
const DEFAULT_ACCOUNT_FIELDS: &str = "access_token,category,category_list,name,id,tasks";

/// The one world the Graph API serves.
const GRAPH: Provider = Provider::Facebook;

pub(crate) fn router(sandbox: &Sandbox) -> Router<Sandbox> {
    let token = Router::new()
        .route("/oauth/access_token", get(access_token).post(access_token))
        .route(
            "/{version}/oauth/access_token",
            get(access_token).post(access_token),
        );
    let api = Router::new()
        .route("/debug_token", get(debug_token))
        .route("/{version}/debug_token", get(debug_token))
        .route("/{version}/me", get(me))
        .route("/{version}/me/accounts", get(accounts))
        .route("/{version}/me/permissions", delete(remove_permissions))
        .route("/{version}/{id}", get(object))
        .route("/{version}/{id}/{edge}", get(edge_get).post(edge_post));
    Router::new()
        .route("/{version}/dialog/oauth", oauth::authorize_route(GRAPH))
        .merge(guard(token, sandbox, GRAPH, Surface::TokenEndpoint))
        .merge(guard(api, sandbox, GRAPH, Surface::Api))
}

/// `vN.M`, as every versioned Graph path starts.
fn check_version(version: &str) -> Result<(), GraphError> {
    let valid = version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| {
            [major, minor]
                .iter()
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
    if valid {
        Ok(())
    } else {
        Err(GraphError::new(
            2500,
            format!("Unknown path components: /{version}"),
        ))
    }
}

/// The token of a Graph call: `access_token` parameter, or an `Authorization` header.
fn presented_token(params: &Params) -> Option<&str> {
    params
        .nonempty("access_token")
        .or_else(|| bearer(&params.headers))
}

/// A Graph API call: a valid `vN.M` version, its parameters and a token that passed its
/// check (any kind of token).
pub(crate) struct GraphCall {
    pub(crate) access: Access,
    pub(crate) params: Params,
}

impl FromRequest<Sandbox> for GraphCall {
    type Rejection = Response;

    async fn from_request(req: Request, sandbox: &Sandbox) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Path(path) = Path::<HashMap<String, String>>::from_request_parts(&mut parts, sandbox)
            .await
            .map_err(IntoResponse::into_response)?;
        if let Some(version) = path.get("version") {
            check_version(version).map_err(IntoResponse::into_response)?;
        }
        let params = Params::from_request(Request::from_parts(parts, body), sandbox).await?;
        let token =
            presented_token(&params).ok_or_else(|| GraphError::missing_token().into_response())?;
        let now = sandbox.clock().now();
        let access = sandbox
            .world()
            .check_any(GRAPH, token, now)
            .map_err(|problem| GraphError::for_token(problem).into_response())?;
        Ok(GraphCall { access, params })
    }
}

fn is_user_token(kind: TokenKind) -> bool {
    matches!(kind, TokenKind::Access | TokenKind::LongLivedUser)
}

fn token_json(token: String, expires_in: Option<i64>) -> Json<Value> {
    let mut body = json!({"access_token": token, "token_type": "bearer"});
    if let Some(expires_in) = expires_in {
        body["expires_in"] = json!(expires_in);
    }
    Json(body)
}

async fn access_token(
    State(sandbox): State<Sandbox>,
    params: Params,
) -> Result<Json<Value>, ProviderError> {
    let client_id = params
        .nonempty("client_id")
        .ok_or_else(|| GraphError::new(101, "Missing client_id parameter."))?;
    let secret = params
        .get("client_secret")
        .filter(|s| sandbox.secret_matches(s))
        .ok_or_else(GraphError::bad_client_secret)?;
    let clock = sandbox.clock();
    let now = clock.now();
    let mut world = sandbox.world();
    match params.get("grant_type") {
        None | Some("authorization_code") => {
            let redirect_uri = params
                .nonempty("redirect_uri")
                .ok_or_else(|| GraphError::new(100, "Missing redirect_uri parameter."))?;
            let code = params
                .nonempty("code")
                .ok_or_else(|| GraphError::new(100, "Missing code parameter."))?;
            let grant = world
                .redeem_code(GRAPH, code, client_id, redirect_uri, None, now)
                .map_err(code_error)?;
            let issued =
                world.issue_for(grant, TokenKind::Access, now, clock.lifetime(SHORT_LIVED));
            Ok(token_json(
                issued.token,
                issued.expires.map(|at| seconds_until(now, at)),
            ))
        }
        Some("fb_exchange_token") => {
            let short = params
                .nonempty("fb_exchange_token")
                .ok_or_else(|| GraphError::new(100, "Missing fb_exchange_token parameter."))?;
            let access = world
                .check_any(GRAPH, short, now)
                .map_err(GraphError::for_token)?;
            if !is_user_token(access.kind) || access.client_id != client_id {
                return Err(GraphError::new(190, "Invalid OAuth access token.").into());
            }
            let issued = world.issue_for(
                access.grant,
                TokenKind::LongLivedUser,
                now,
                clock.lifetime(LONG_LIVED),
            );
            Ok(token_json(
                issued.token,
                issued.expires.map(|at| seconds_until(now, at)),
            ))
        }
        Some("client_credentials") => Ok(token_json(format!("{client_id}|{secret}"), None)),
        Some(other) => Err(GraphError::new(100, format!("Unsupported grant_type: {other}")).into()),
    }
}

fn code_error(problem: CodeProblem) -> GraphError {
    match problem {
        CodeProblem::Used => {
            GraphError::new(100, "This authorization code has been used.").subcode(36009)
        }
        CodeProblem::Expired => {
            GraphError::new(100, "This authorization code has expired.").subcode(36007)
        }
        CodeProblem::RedirectMismatch => GraphError::new(
            100,
            "Error validating verification code. Please make sure your redirect_uri is \
             identical to the one you used in the OAuth dialog request",
        )
        .subcode(36008),
        CodeProblem::Invalid | CodeProblem::VerifierMismatch => {
            GraphError::new(100, "Invalid verification code format.")
        }
    }
}

/// `debug_token`: the app token (`{client_id}|{secret}`) inspects any token.
async fn debug_token(
    State(sandbox): State<Sandbox>,
    params: Params,
) -> Result<Json<Value>, ProviderError> {
    let app_token_ok = presented_token(&params)
        .and_then(|t| t.split_once('|'))
        .is_some_and(|(_, secret)| sandbox.secret_matches(secret));
    if !app_token_ok {
        return Err(GraphError::new(
            100,
            "(#100) You must provide an app access token, or a user access token that is an \
             owner or developer of the app",
        )
        .into());
    }
    let input = params
        .nonempty("input_token")
        .ok_or_else(|| GraphError::new(100, "(#100) The parameter input_token is required"))?;
    let now = sandbox.clock().now();
    let world = sandbox.world();
    let record = world
        .token(input)
        .filter(|t| world.grant(t.grant).provider == GRAPH);
    let Some(record) = record else {
        return Ok(Json(json!({"data": {
            "error": {"code": 190, "message": "Invalid OAuth access token."},
            "is_valid": false,
            "scopes": [],
        }})));
    };
    let grant = world.grant(record.grant);
    let member = grant.member;
    let pages = world.pages_of(member);
    let granular: Vec<Value> = record
        .scopes
        .iter()
        .map(|scope| {
            let targets: Vec<&str> = if scope.starts_with("pages_") {
                pages
                    .iter()
                    .map(|&p| world.page(p).external_id.as_str())
                    .collect()
            } else if scope.starts_with("instagram_") {
                pages
                    .iter()
                    .filter_map(|&p| world.page(p).instagram.as_ref())
                    .map(|ig| ig.id.as_str())
                    .collect()
            } else {
                return json!({"scope": scope});
            };
            json!({"scope": scope, "target_ids": targets})
        })
        .collect();
    let mut data = json!({
        "app_id": grant.client_id,
        "type": if matches!(record.kind, TokenKind::Page(_)) { "PAGE" } else { "USER" },
        "application": sandbox.config().app_name,
        "data_access_expires_at": epoch_secs(grant.data_access_expires),
        "expires_at": record.expires.map_or(0, epoch_secs),
        "is_valid": true,
        "issued_at": epoch_secs(record.issued),
        "scopes": record.scopes,
        "granular_scopes": granular,
        "user_id": world.member(member).external_id,
    });
    if let TokenKind::Page(page) = record.kind {
        data["profile_id"] = json!(world.page(page).external_id);
    }
    if let Err(problem) = world.check_any(GRAPH, input, now) {
        let error = GraphError::for_token(problem);
        let (code, subcode, message) = error.debug_parts();
        data["is_valid"] = json!(false);
        data["error"] = json!({"code": code, "message": message, "subcode": subcode});
    }
    Ok(Json(json!({ "data": data })))
}

async fn me(State(sandbox): State<Sandbox>, call: GraphCall) -> Json<Value> {
    let access = call.access;
    let world = sandbox.world();
    let body = match access.kind {
        TokenKind::Page(page) => {
            json!({"id": world.page(page).external_id, "name": world.page(page).name})
        }
        _ => {
            let member = world.member(access.member);
            json!({"id": member.external_id, "name": member.name})
        }
    };
    Json(body)
}

/// The page token for `page` under `access` (a user token): reused while it lives and
/// lasts as long as a new one would.
fn page_token(world: &mut World, access: &Access, page: PageId, now: i64) -> String {
    let expires = match access.kind {
        TokenKind::LongLivedUser => None,
        _ => access.expires,
    };
    if let Some(existing) = world.page_tokens.get(&(access.grant, page)) {
        let reusable = world.token(existing).is_some_and(|t| {
            t.dead.is_none()
                && match (t.expires, expires) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(old), Some(new)) => old >= new && old > now,
                }
        });
        if reusable {
            return existing.clone();
        }
    }
    let scopes = access.scopes.clone();
    let issued = world.issue_token(access.grant, TokenKind::Page(page), scopes, now, expires);
    world
        .page_tokens
        .insert((access.grant, page), issued.token.clone());
    issued.token
}

async fn accounts(
    State(sandbox): State<Sandbox>,
    call: GraphCall,
) -> Result<Json<Value>, ProviderError> {
    let GraphCall { access, params } = call;
    if !is_user_token(access.kind) {
        return Err(GraphError::new(
            100,
            "(#100) Tried accessing nonexisting field (accounts) on node type (Page)",
        )
        .into());
    }
    if !access.has_scope("pages_show_list") {
        return Ok(Json(json!({"data": []})));
    }
    let fields = parse_fields(params.get("fields").unwrap_or(DEFAULT_ACCOUNT_FIELDS));
    let now = sandbox.clock().now();
    let mut world = sandbox.world();
    let mut data = Vec::new();
    for page in world.pages_of(access.member) {
        let mut entry = Map::new();
        for field in &fields {
            let record = world.page(page);
            let value = match field.name.as_str() {
                "id" => json!(record.external_id),
                "name" => json!(record.name),
                "category" => json!("Company"),
                "category_list" => json!([{"id": "2200", "name": "Company"}]),
                "tasks" => json!([
                    "ADVERTISE",
                    "ANALYZE",
                    "CREATE_CONTENT",
                    "MESSAGING",
                    "MODERATE",
                    "MANAGE"
                ]),
                "instagram_business_account" => match instagram_json(record, &field.fields) {
                    Some(account) => account,
                    None => continue,
                },
                "access_token" => json!(page_token(&mut world, &access, page, now)),
                _ => continue,
            };
            entry.insert(field.name.clone(), value);
        }
        entry
            .entry("id")
            .or_insert_with(|| json!(world.page(page).external_id));
        data.push(Value::Object(entry));
    }
    Ok(Json(json!({
        "data": data,
        "paging": {"cursors": {"before": "QVFIUmxtZA", "after": "QVFIUmxtZA"}},
    })))
}

/// `DELETE /me/permissions`: the member's grant is revoked.
async fn remove_permissions(State(sandbox): State<Sandbox>, call: GraphCall) -> Json<Value> {
    sandbox
        .world()
        .kill_grant(call.access.grant, Death::Revoked);
    Json(json!({"success": true}))
}

async fn object(
    State(sandbox): State<Sandbox>,
    Path((_, id)): Path<(String, String)>,
    call: GraphCall,
) -> Result<Json<Value>, ProviderError> {
    let fields = parse_fields(call.params.get("fields").unwrap_or("id,name"));
    let now = sandbox.clock().now();
    let world = sandbox.world();
    if let Some(page) = world.page_by_external_id(GRAPH, &id) {
        let record = world.page(page);
        let mut body = json!({"id": record.external_id, "name": record.name});
        let linked = fields
            .iter()
            .find(|f| f.name == "instagram_business_account")
            .and_then(|f| instagram_json(record, &f.fields));
        if let Some(account) = linked {
            body["instagram_business_account"] = account;
        }
        return Ok(Json(body));
    }
    if let Some(post) = world
        .posts
        .iter()
        .find(|p| p.provider == GRAPH && p.id == id)
    {
        return Ok(Json(json!({
            "id": post.id,
            "message": post.text,
            "created_time": crate::pages::format_time(post.created),
        })));
    }
    instagram::describe(&world, &id, now)
        .map(Json)
        .ok_or_else(|| GraphError::unsupported("get", &id).into())
}

async fn edge_get(
    State(sandbox): State<Sandbox>,
    Path((_, id, edge)): Path<(String, String, String)>,
    call: GraphCall,
) -> Result<Json<Value>, ProviderError> {
    match edge.as_str() {
        "content_publishing_limit" => instagram::publishing_limit(&sandbox, &call.access, &id),
        "feed" => facebook::feed(&sandbox, &call, &id),
        "media" => instagram::media(&sandbox, &call, &id),
        _ => Err(GraphError::unsupported("get", &id).into()),
    }
}

async fn edge_post(
    State(sandbox): State<Sandbox>,
    Path((_, id, edge)): Path<(String, String, String)>,
    call: GraphCall,
) -> Result<Response, ProviderError> {
    let GraphCall { access, params } = call;
    match edge.as_str() {
        "feed" => facebook::publish(&sandbox, &access, &id, &params),
        "media" => instagram::create_container(&sandbox, &access, &id, &params),
        "media_publish" => instagram::publish(&sandbox, &access, &id, &params),
        _ => Err(GraphError::unsupported("post", &id).into()),
    }
}

/// How a listing edge (a page's `feed`, an Instagram account's `media`) names its posts'
/// fields.
pub(crate) struct PostFields {
    pub(crate) provider: Provider,
    /// The fields listed when the call names none.
    pub(crate) default: &'static str,
    /// Where the post's text goes (`message`, `caption`) and its time (`created_time`,
    /// `timestamp`).
    pub(crate) text: &'static str,
    pub(crate) time: &'static str,
}

/// `provider`'s posts of `page`, newest first, `limit` (default 25, at most 100) at most,
/// with the fields asked for. A post without text has no text field, as in Graph.
pub(crate) fn post_list(
    world: &World,
    params: &Params,
    page: PageId,
    fields: &PostFields,
) -> Result<Json<Value>, ProviderError> {
    let limit = match params.get("limit") {
        None => 25,
        Some(limit) => limit
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| GraphError::new(100, "(#100) The parameter limit must be 1 to 100"))?,
    };
    let asked = parse_fields(params.get("fields").unwrap_or(fields.default));
    let data: Vec<Value> = world
        .posts
        .iter()
        .rev()
        .filter(|p| p.provider == fields.provider && p.page == Some(page))
        .take(limit)
        .map(|post| {
            let mut entry = Map::new();
            entry.insert("id".to_owned(), json!(post.id));
            for field in &asked {
                let value = match field.name.as_str() {
                    name if name == fields.text && !post.text.is_empty() => json!(post.text),
                    name if name == fields.time => json!(graph_time(post.created)),
                    "media_type" if post.image_url.is_some() => json!("IMAGE"),
                    "media_url" => match &post.image_url {
                        Some(url) => json!(url),
                        None => continue,
                    },
                    _ => continue,
                };
                entry.insert(field.name.clone(), value);
            }
            Value::Object(entry)
        })
        .collect();
    Ok(Json(json!({
        "data": data,
        "paging": {"cursors": {"before": "QVFIUmxtZA", "after": "QVFIUmxtZA"}},
    })))
}

/// Graph's timestamps: ISO 8601 with a `+0000` offset.
fn graph_time(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%z").to_string())
        .unwrap_or_default()
}

/// One field a Graph call asks for, with the fields asked of it in braces:
/// `instagram_business_account{id,username}`.
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) fields: Vec<Field>,
}

/// Graph's `fields` parameter: comma-separated, nested in braces.
pub(crate) fn parse_fields(spec: &str) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (at, c) in spec.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                fields.extend(parse_field(&spec[start..at]));
                start = at + 1;
            }
            _ => {}
        }
    }
    fields.extend(parse_field(&spec[start..]));
    fields
}

fn parse_field(part: &str) -> Option<Field> {
    let part = part.trim();
    if part.is_empty() {
        return None;
    }
    Some(match part.split_once('{') {
        Some((name, nested)) => Field {
            name: name.trim().to_owned(),
            fields: parse_fields(nested.strip_suffix('}').unwrap_or(nested)),
        },
        None => Field {
            name: part.to_owned(),
            fields: Vec::new(),
        },
    })
}

/// A page's linked Instagram business account with the fields asked of it (`id` always).
fn instagram_json(page: &Page, fields: &[Field]) -> Option<Value> {
    let account = page.instagram.as_ref()?;
    let mut body = Map::new();
    body.insert("id".to_owned(), json!(account.id));
    for field in fields {
        let value = match field.name.as_str() {
            "username" => json!(account.username),
            "name" => json!(page.name),
            _ => continue,
        };
        body.insert(field.name.clone(), value);
    }
    Some(Value::Object(body))
}

/// Graph's missing-permission answer.
pub(crate) fn permission_error() -> GraphError {
    GraphError::new(
        200,
        "(#200) If posting to a page, requires both pages_read_engagement and \
         pages_manage_posts as an admin with sufficient administrative permission",
    )
}

/// A 200 OK JSON response for publishing endpoints.
pub(crate) fn created(body: Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}
