//! The admin API under `/sandbox/admin` (documented in the crate README): members and
//! pages, breaking a member's grants (or one token) the ways providers do, faults,
//! LinkedIn's app mode, published posts, the clock and a reset. Bodies are JSON; the same
//! endpoints take HTML form posts from the `/sandbox` page and answer those with a
//! redirect back to it. `instagram` names the Facebook world wherever a member, page or
//! fault is meant (Instagram accounts live there); for posts it names Instagram's.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use url::form_urlencoded;

use crate::clock::{epoch_secs, Millis};
use crate::facebook;
use crate::faults::{Fault, FaultError, FaultSpec};
use crate::params::is_form;
use crate::state::{instagram_username, CreateError, MemberId, PageId, Provider, World};
use crate::tokens::Death;
use crate::Sandbox;

/// What a reset does to Apostle, said wherever a reset can be asked for.
pub(crate) const RESET_WARNING: &str = "Resetting forgets every member, grant and token: \
    Apostle's connections made against this sandbox will break and must be connected again.";

pub(crate) fn router() -> Router<Sandbox> {
    Router::new()
        .route("/members", get(list_members).post(create_member))
        .route("/pages", post(create_page))
        .route("/pages/roles", post(give_page_role))
        .route("/members/{provider}/{handle}/{action}", post(member_action))
        .route("/apps/linkedin", get(linkedin_app).post(set_linkedin_app))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/faults/clear", post(clear_faults_form))
        .route("/posts", get(list_posts))
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance_clock))
        .route("/reset", post(reset))
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminError {
    #[error("unknown provider {0:?}: linkedin, x, facebook or instagram")]
    UnknownProvider(String),
    #[error("no {provider} member with handle {handle:?}")]
    UnknownMember {
        provider: &'static str,
        handle: String,
    },
    #[error("no {provider} page {page_id:?} on which this member has a role")]
    UnknownPage {
        provider: &'static str,
        page_id: String,
    },
    #[error(
        "unknown action {0:?}: revoke, change-password, expire-tokens, remove-app, \
         lose-page-role, or for Facebook checkpoint, clear-checkpoint, unconfirm, confirm, \
         log-out, invalidate-session, expire-data-access, block-posts or unblock-posts"
    )]
    UnknownAction(String),
    #[error("{action} does not apply to {provider}")]
    Unsupported {
        action: String,
        provider: &'static str,
    },
    #[error("no {provider} page {page_id:?}")]
    NoSuchPage {
        provider: &'static str,
        page_id: String,
    },
    #[error("lose-page-role needs \"page_id\"")]
    MissingPageId,
    #[error("no live token of this member matches \"token\"")]
    UnknownToken,
    #[error("{0} applies to the whole member; only revoke, invalidate-session, log-out and expire-tokens take \"token\"")]
    NotPerToken(String),
    #[error(transparent)]
    Create(#[from] CreateError),
    #[error(transparent)]
    Fault(#[from] FaultError),
    #[error("bad request body: {0}")]
    BadBody(String),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match &self {
            AdminError::UnknownMember { .. }
            | AdminError::UnknownPage { .. }
            | AdminError::NoSuchPage { .. }
            | AdminError::UnknownToken => StatusCode::NOT_FOUND,
            AdminError::Create(CreateError::DuplicateHandle { .. }) => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}

/// A JSON or HTML-form body. Empty form fields count as absent; an empty body is `{}`.
struct Input<T> {
    value: T,
    form: bool,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Input<T> {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form = is_form(req.headers());
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| AdminError::BadBody(e.to_string()))?;
        let value = if form {
            let filled: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form_urlencoded::parse(&body).filter(|(_, v)| !v.trim().is_empty()))
                .finish();
            serde_urlencoded::from_str(&filled).map_err(|e| AdminError::BadBody(e.to_string()))
        } else if body.iter().all(u8::is_ascii_whitespace) {
            serde_json::from_str("{}").map_err(|e| AdminError::BadBody(e.to_string()))
        } else {
            serde_json::from_slice(&body).map_err(|e| AdminError::BadBody(e.to_string()))
        }?;
        Ok(Input { value, form })
    }
}

/// JSON for scripts; a redirect back to the page for forms.
fn reply(form: bool, status: StatusCode, body: Value, anchor: &str) -> Response {
    if form {
        (
            StatusCode::SEE_OTHER,
            [(LOCATION, format!("/sandbox#{anchor}"))],
        )
            .into_response()
    } else {
        (status, Json(body)).into_response()
    }
}

/// The world a slug names (`instagram` is Facebook's).
fn provider(slug: &str) -> Result<Provider, AdminError> {
    Provider::parse_world(slug).ok_or_else(|| AdminError::UnknownProvider(slug.to_owned()))
}

fn find_member(world: &World, provider: Provider, handle: &str) -> Result<MemberId, AdminError> {
    world
        .member_by_handle(provider, handle)
        .ok_or_else(|| AdminError::UnknownMember {
            provider: provider.slug(),
            handle: handle.to_owned(),
        })
}

/// The member actions the page offers as buttons (`lose-page-role` sits beside each page).
pub(crate) fn actions_for(provider: Provider) -> Vec<&'static str> {
    let mut actions = vec!["revoke", "change-password", "expire-tokens", "remove-app"];
    if provider.is_graph() {
        actions.extend(GRAPH_ACTIONS);
    }
    actions
}

/// Facebook's own breaks and holds: checkpoint (190/459), unconfirmed (190/464), logged out
/// (190/467), invalid session (102), data-access lapse (190/493), posts refused (368); and
/// the member doing at Facebook what a hold asks, which lifts it without a new login.
const GRAPH_ACTIONS: [&str; 9] = [
    "checkpoint",
    "clear-checkpoint",
    "unconfirm",
    "confirm",
    "log-out",
    "invalidate-session",
    "expire-data-access",
    "block-posts",
    "unblock-posts",
];

/// Actions that may name one token instead of the whole member.
const PER_TOKEN_ACTIONS: [&str; 4] = ["revoke", "invalidate-session", "log-out", "expire-tokens"];

fn page_json(world: &World, page: PageId) -> Value {
    let record = world.page(page);
    let mut body = json!({
        "provider": record.provider,
        "id": record.external_id,
        "name": record.name,
        "owner": world.member(record.owner).handle,
        "admins": record
            .admins
            .iter()
            .map(|&m| world.member(m).handle.as_str())
            .collect::<Vec<_>>(),
    });
    if let Some(ig) = &record.instagram {
        body["instagram_business_account"] = json!({"id": ig.id, "username": ig.username});
    }
    body
}

fn member_json(world: &World, member: MemberId, now: Millis) -> Value {
    let record = world.member(member);
    let grants: Vec<Value> = world
        .grants_of(member)
        .into_iter()
        .map(|g| {
            json!({
                "client_id": world.grant(g).client_id,
                "state": world.grant_status(g, now),
                "scopes": world.grant(g).scopes,
            })
        })
        .collect();
    let pages: Vec<Value> = world
        .pages_of(member)
        .into_iter()
        .map(|p| page_json(world, p))
        .collect();
    json!({
        "provider": record.provider,
        "handle": record.handle,
        "name": record.name,
        "id": record.external_id,
        "checkpoint": record.checkpoint,
        "unconfirmed": record.unconfirmed,
        "posts_blocked": record.posts_blocked,
        "pages": pages,
        "grants": grants,
    })
}

#[derive(Deserialize)]
struct ProviderFilter {
    provider: Option<String>,
}

impl ProviderFilter {
    /// Whether a member, page or fault of world `provider` passes.
    fn matches(&self, provider: Provider) -> Result<bool, AdminError> {
        match &self.provider {
            None => Ok(true),
            Some(slug) => Ok(self::provider(slug)? == provider),
        }
    }

    /// Whether a post published on `provider` passes: `instagram` means Instagram media.
    fn matches_post(&self, provider: Provider) -> Result<bool, AdminError> {
        match &self.provider {
            None => Ok(true),
            Some(slug) => Provider::parse(slug)
                .map(|wanted| wanted == provider)
                .ok_or_else(|| AdminError::UnknownProvider(slug.clone())),
        }
    }
}

async fn list_members(
    State(sandbox): State<Sandbox>,
    Query(filter): Query<ProviderFilter>,
) -> Result<Json<Value>, AdminError> {
    let now = sandbox.clock().now();
    let world = sandbox.world();
    let mut members = Vec::new();
    for (index, member) in world.members.iter().enumerate() {
        if filter.matches(member.provider)? {
            members.push(member_json(&world, MemberId(index), now));
        }
    }
    Ok(Json(Value::Array(members)))
}

#[derive(Deserialize)]
struct NewMember {
    provider: String,
    handle: String,
    name: Option<String>,
}

async fn create_member(
    State(sandbox): State<Sandbox>,
    input: Input<NewMember>,
) -> Result<Response, AdminError> {
    let provider = provider(&input.value.provider)?;
    let now = sandbox.clock().now();
    let mut world = sandbox.world();
    let member = world.create_member(provider, &input.value.handle, input.value.name.as_deref())?;
    let body = member_json(&world, member, now);
    Ok(reply(
        input.form,
        StatusCode::CREATED,
        body,
        provider.slug(),
    ))
}

#[derive(Deserialize)]
struct NewPage {
    provider: String,
    owner: String,
    name: String,
    /// Facebook: the Instagram business account linked to the page.
    instagram: Option<InstagramChoice>,
}

/// A new Facebook page's Instagram business account: a username, or `false` for none.
#[derive(Deserialize)]
#[serde(untagged)]
enum InstagramChoice {
    Linked(bool),
    Username(String),
}

/// A Facebook page gets an Instagram business account linked, named after the page,
/// unless `instagram` names it or is `false`: so a page made for a Facebook test also
/// serves an Instagram one, as consent-made pages do.
async fn create_page(
    State(sandbox): State<Sandbox>,
    input: Input<NewPage>,
) -> Result<Response, AdminError> {
    let NewPage {
        provider,
        owner,
        name,
        instagram,
    } = &input.value;
    let provider = self::provider(provider)?;
    let instagram = match (instagram, provider) {
        (Some(InstagramChoice::Username(username)), _) => Some(username.clone()),
        (Some(InstagramChoice::Linked(false)), _) => None,
        (_, Provider::Facebook) => Some(instagram_username(name)),
        (Some(InstagramChoice::Linked(true)), _) => {
            return Err(CreateError::InstagramOutsideFacebook.into())
        }
        (None, _) => None,
    };
    let mut world = sandbox.world();
    let owner = find_member(&world, provider, owner)?;
    let page = world.create_page(provider, owner, name, instagram.as_deref())?;
    let body = page_json(&world, page);
    Ok(reply(
        input.form,
        StatusCode::CREATED,
        body,
        provider.slug(),
    ))
}

#[derive(Deserialize)]
struct NewRole {
    provider: String,
    page_id: String,
    /// The handle of the member who gets a role on the page.
    member: String,
}

/// Gives a member a role on a page (the inverse of `lose-page-role`): their login then
/// manages it, and their page tokens for it work.
async fn give_page_role(
    State(sandbox): State<Sandbox>,
    input: Input<NewRole>,
) -> Result<Response, AdminError> {
    let NewRole {
        provider,
        page_id,
        member,
    } = &input.value;
    let provider = self::provider(provider)?;
    let mut world = sandbox.world();
    let member = find_member(&world, provider, member)?;
    let page = world
        .page_by_external_id(provider, page_id)
        .ok_or_else(|| AdminError::NoSuchPage {
            provider: provider.slug(),
            page_id: page_id.clone(),
        })?;
    if !world.page(page).admins.contains(&member) {
        world.pages[page.0].admins.push(member);
    }
    let body = page_json(&world, page);
    Ok(reply(input.form, StatusCode::OK, body, provider.slug()))
}

#[derive(Deserialize)]
struct ActionBody {
    page_id: Option<String>,
    /// One token to break instead of all the member's (see `PER_TOKEN_ACTIONS`).
    token: Option<String>,
}

async fn member_action(
    State(sandbox): State<Sandbox>,
    Path((slug, handle, action)): Path<(String, String, String)>,
    input: Input<ActionBody>,
) -> Result<Response, AdminError> {
    let provider = provider(&slug)?;
    let now = sandbox.clock().now();
    let deauthorize_user = {
        let mut world = sandbox.world();
        let member = find_member(&world, provider, &handle)?;
        let graph_only = GRAPH_ACTIONS.contains(&action.as_str());
        if graph_only && !provider.is_graph() {
            return Err(AdminError::Unsupported {
                action,
                provider: provider.slug(),
            });
        }
        if let Some(token) = &input.value.token {
            if !PER_TOKEN_ACTIONS.contains(&action.as_str()) {
                return Err(AdminError::NotPerToken(action));
            }
            break_one_token(&mut world, member, token, &action, now)?;
        } else {
            break_member(&mut world, provider, member, &action, &input.value, now)?;
        }
        (action == "remove-app" && provider.is_graph())
            .then(|| world.member(member).external_id.clone())
    };
    let mut body = json!({"provider": provider, "handle": handle, "action": action});
    if let (Some(user_id), Some(url)) = (
        deauthorize_user,
        sandbox.config().facebook_deauthorize_url.clone(),
    ) {
        let status = facebook::send_deauthorize(&sandbox, &url, &user_id, now).await;
        body["deauthorize_callback"] = json!({"url": url, "status": status});
    }
    Ok(reply(input.form, StatusCode::OK, body, provider.slug()))
}

/// An action on every grant (or page, or hold) of `member`.
fn break_member(
    world: &mut World,
    provider: Provider,
    member: MemberId,
    action: &str,
    body: &ActionBody,
    now: Millis,
) -> Result<(), AdminError> {
    let kill = |world: &mut World, death: Death| {
        for grant in world.grants_of(member) {
            world.kill_grant(grant, death);
        }
    };
    match action {
        "revoke" => kill(world, Death::Revoked),
        "change-password" => kill(world, Death::PasswordChanged),
        "remove-app" => kill(world, Death::AppRemoved),
        "log-out" => kill(world, Death::LoggedOut),
        "invalidate-session" => kill(world, Death::SessionInvalid),
        "expire-tokens" => world.expire_member_tokens(member, now),
        "expire-data-access" => {
            for grant in world.grants_of(member) {
                let record = &mut world.grants[grant.0];
                record.data_access_expires = record.data_access_expires.min(now);
            }
        }
        "checkpoint" => world.members[member.0].checkpoint = true,
        "clear-checkpoint" => world.members[member.0].checkpoint = false,
        "unconfirm" => world.members[member.0].unconfirmed = true,
        "confirm" => world.members[member.0].unconfirmed = false,
        "block-posts" => world.members[member.0].posts_blocked = true,
        "unblock-posts" => world.members[member.0].posts_blocked = false,
        "lose-page-role" => {
            let page_id = body.page_id.as_deref().ok_or(AdminError::MissingPageId)?;
            let page = world
                .page_by_external_id(provider, page_id)
                .filter(|&p| world.page(p).admins.contains(&member))
                .ok_or_else(|| AdminError::UnknownPage {
                    provider: provider.slug(),
                    page_id: page_id.to_owned(),
                })?;
            world.pages[page.0].admins.retain(|&m| m != member);
        }
        _ => return Err(AdminError::UnknownAction(action.to_owned())),
    }
    Ok(())
}

/// A per-token action on one token of `member`; the grant and its other tokens live on.
fn break_one_token(
    world: &mut World,
    member: MemberId,
    token: &str,
    action: &str,
    now: Millis,
) -> Result<(), AdminError> {
    let grants = world.grants_of(member);
    let record = world
        .token_mut(token)
        .filter(|t| grants.contains(&t.grant))
        .ok_or(AdminError::UnknownToken)?;
    match action {
        "revoke" => record.dead = record.dead.or(Some(Death::Revoked)),
        "invalidate-session" => record.dead = record.dead.or(Some(Death::SessionInvalid)),
        "log-out" => record.dead = record.dead.or(Some(Death::LoggedOut)),
        _ => record.expires = Some(record.expires.map_or(now, |at| at.min(now))),
    }
    Ok(())
}

fn fault_json(fault: &Fault) -> Value {
    json!({
        "id": fault.id,
        "provider": fault.provider,
        "kind": fault.kind,
        "calls": fault.calls,
        "until": fault.until.map(epoch_secs),
        "ms": fault.ms,
        "fraction": fault.fraction,
        "code": fault.code,
    })
}

async fn list_faults(State(sandbox): State<Sandbox>) -> Json<Value> {
    let world = sandbox.world();
    Json(Value::Array(world.faults.iter().map(fault_json).collect()))
}

async fn add_fault(
    State(sandbox): State<Sandbox>,
    input: Input<FaultSpec>,
) -> Result<Response, AdminError> {
    let now = sandbox.clock().now();
    let fault = sandbox.world().add_fault(&input.value, now)?;
    Ok(reply(
        input.form,
        StatusCode::CREATED,
        fault_json(&fault),
        fault.provider.slug(),
    ))
}

fn clear(sandbox: &Sandbox, filter: &ProviderFilter) -> Result<Value, AdminError> {
    let mut world = sandbox.world();
    let before = world.faults.len();
    let mut keep = Vec::new();
    for fault in world.faults.drain(..) {
        if !filter.matches(fault.provider)? {
            keep.push(fault);
        }
    }
    world.faults = keep;
    Ok(json!({"cleared": before - world.faults.len()}))
}

async fn clear_faults(
    State(sandbox): State<Sandbox>,
    Query(filter): Query<ProviderFilter>,
) -> Result<Json<Value>, AdminError> {
    clear(&sandbox, &filter).map(Json)
}

async fn clear_faults_form(
    State(sandbox): State<Sandbox>,
    input: Input<ProviderFilter>,
) -> Result<Response, AdminError> {
    let body = clear(&sandbox, &input.value)?;
    let anchor = input.value.provider.clone().unwrap_or_default();
    Ok(reply(input.form, StatusCode::OK, body, &anchor))
}

async fn list_posts(
    State(sandbox): State<Sandbox>,
    Query(filter): Query<ProviderFilter>,
) -> Result<Json<Value>, AdminError> {
    let world = sandbox.world();
    let mut posts = Vec::new();
    for post in world.posts.iter().rev() {
        if !filter.matches_post(post.provider)? {
            continue;
        }
        posts.push(json!({
            "provider": post.provider,
            "id": post.id,
            "member": world.member(post.member).handle,
            "page_id": post.page.map(|p| world.page(p).external_id.clone()),
            "author": post.author,
            "text": post.text,
            "link": post.link,
            "image_url": post.image_url,
            "created_at": epoch_secs(post.created),
        }));
    }
    Ok(Json(Value::Array(posts)))
}

fn clock_json(sandbox: &Sandbox) -> Value {
    let now = sandbox.clock().now();
    json!({"now": epoch_secs(now), "now_ms": now, "time_scale": sandbox.config().time_scale})
}

async fn clock(State(sandbox): State<Sandbox>) -> Json<Value> {
    Json(clock_json(&sandbox))
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

async fn advance_clock(
    State(sandbox): State<Sandbox>,
    input: Input<Advance>,
) -> Result<Response, AdminError> {
    if !input.value.seconds.is_finite() {
        return Err(AdminError::BadBody("seconds must be a number".to_owned()));
    }
    sandbox.advance_clock(input.value.seconds);
    Ok(reply(input.form, StatusCode::OK, clock_json(&sandbox), ""))
}

async fn reset(State(sandbox): State<Sandbox>, input: Input<Value>) -> Response {
    sandbox.reset();
    tracing::warn!("sandbox: reset; Apostle's connections made against it are now broken");
    let body = json!({"reset": true, "warning": RESET_WARNING});
    reply(input.form, StatusCode::OK, body, "")
}

fn linkedin_app_json(world: &World) -> Value {
    json!({
        "provider": Provider::LinkedIn,
        "refresh_tokens": world.linkedin.refresh_tokens,
        "clients": world.linkedin.clients,
    })
}

async fn linkedin_app(State(sandbox): State<Sandbox>) -> Json<Value> {
    Json(linkedin_app_json(&sandbox.world()))
}

#[derive(Deserialize)]
struct AppMode {
    /// Whether code exchanges hand out refresh tokens (an approved partner app).
    refresh_tokens: bool,
    /// The one client id the mode is for; absent, every client without a mode of its own.
    client_id: Option<String>,
}

async fn set_linkedin_app(State(sandbox): State<Sandbox>, input: Input<AppMode>) -> Response {
    let AppMode {
        refresh_tokens,
        client_id,
    } = input.value;
    let mut world = sandbox.world();
    match client_id {
        Some(client_id) => {
            world.linkedin.clients.insert(client_id, refresh_tokens);
        }
        None => world.linkedin.refresh_tokens = refresh_tokens,
    }
    let body = linkedin_app_json(&world);
    reply(input.form, StatusCode::OK, body, "linkedin")
}
