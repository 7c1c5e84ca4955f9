//! HTML for people: the providers' consent and error pages, and `/sandbox`, which shows
//! every provider's members, pages, grant states, faults and published posts, with a
//! button for each admin action. Plain server-rendered forms; the admin API answers a
//! form with a redirect back here.

use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::DateTime;

use crate::admin::{actions_for, RESET_WARNING};
use crate::clock::Millis;
use crate::oauth::AuthorizeRequest;
use crate::state::{MemberId, Provider, World};
use crate::Sandbox;

#[derive(Template)]
#[template(path = "consent.html")]
struct Consent<'a> {
    provider: &'static str,
    app_name: &'a str,
    scopes: &'a [String],
    hidden: &'a [(String, String)],
    members: Vec<(String, String)>,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "authorize_error.html")]
struct AuthorizeError<'a> {
    provider: &'static str,
    reason: &'a str,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    now: String,
    time_scale: f64,
    reset_warning: &'static str,
    providers: Vec<ProviderView>,
}

struct ProviderView {
    slug: &'static str,
    name: &'static str,
    has_pages: bool,
    actions: Vec<&'static str>,
    /// The fault kinds this provider takes besides outage, latency and flaky.
    fault_kinds: Vec<(&'static str, &'static str)>,
    faults: Vec<String>,
    /// LinkedIn: the app mode, and the client ids with a mode of their own.
    app: Option<AppView>,
    members: Vec<MemberView>,
    feeds: Vec<FeedView>,
}

struct AppView {
    refresh_tokens: bool,
    clients: Vec<(String, bool)>,
}

struct FeedView {
    title: &'static str,
    posts: Vec<PostView>,
}

struct MemberView {
    handle: String,
    name: String,
    id: String,
    /// What Facebook asks of the member or refuses: checkpoint, unconfirmed, posts blocked.
    holds: Vec<&'static str>,
    grants: Vec<GrantView>,
    pages: Vec<PageView>,
}

struct GrantView {
    client_id: String,
    status: &'static str,
    scopes: String,
}

struct PageView {
    id: String,
    name: String,
    instagram: Option<String>,
    has_role: bool,
}

struct PostView {
    id: String,
    author: String,
    text: String,
    link: Option<String>,
    image: Option<String>,
    at: String,
}

fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "sandbox template failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The one stylesheet of these pages (no inline style: the app's security
/// headers refuse it).
pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../assets/sandbox.css"),
    )
        .into_response()
}

/// The consent page of `request`, with an optional error from a previous submission.
pub(crate) fn consent(
    sandbox: &Sandbox,
    request: &AuthorizeRequest,
    error: Option<&str>,
) -> Response {
    let members = {
        let world = sandbox.world();
        world
            .members
            .iter()
            .filter(|m| m.provider == request.provider)
            .map(|m| (m.handle.clone(), m.name.clone()))
            .collect()
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &Consent {
            provider: request.provider.display(),
            app_name: &sandbox.config().app_name,
            scopes: &request.scopes,
            hidden: &request.original,
            members,
            error,
        },
    )
}

/// The page a provider shows for a malformed authorization request (it does not
/// redirect to a redirect URI it cannot trust).
pub(crate) fn authorize_error(provider: Provider, reason: &str) -> Response {
    render(
        StatusCode::BAD_REQUEST,
        &AuthorizeError {
            provider: provider.display(),
            reason,
        },
    )
}

pub(crate) fn format_time(at: Millis) -> String {
    DateTime::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// `GET /sandbox`.
pub(crate) async fn dashboard(State(sandbox): State<Sandbox>) -> Response {
    let now = sandbox.clock().now();
    let providers = {
        let world = sandbox.world();
        Provider::WORLDS
            .into_iter()
            .map(|provider| provider_view(&world, provider, now))
            .collect()
    };
    render(
        StatusCode::OK,
        &Dashboard {
            now: format_time(now),
            time_scale: sandbox.config().time_scale,
            reset_warning: RESET_WARNING,
            providers,
        },
    )
}

/// One world's section: LinkedIn, X, or Facebook with the Instagram accounts linked to
/// its pages (two feeds).
fn provider_view(world: &World, provider: Provider, now: Millis) -> ProviderView {
    let members = (0..world.members.len())
        .map(MemberId)
        .filter(|&m| world.member(m).provider == provider)
        .map(|m| member_view(world, m, now))
        .collect();
    let (fault_kinds, app, feeds) = match provider {
        Provider::LinkedIn => (
            vec![
                ("rate-limit", "rate limit (429)"),
                ("spurious-revoked", "spurious revoked (65601)"),
            ],
            Some(AppView {
                refresh_tokens: world.linkedin.refresh_tokens,
                clients: world
                    .linkedin
                    .clients
                    .iter()
                    .map(|(id, on)| (id.clone(), *on))
                    .collect(),
            }),
            vec![feed(world, Provider::LinkedIn, "Published")],
        ),
        Provider::X => (
            vec![
                ("rate-limit", "rate limit (429)"),
                ("client-forbidden", "client-forbidden (403)"),
                ("duplicate-content", "duplicate content on posting (403)"),
            ],
            None,
            vec![feed(world, Provider::X, "Published")],
        ),
        Provider::Facebook | Provider::Instagram => (
            vec![
                ("rate-limit", "throttled (HTTP 400, code below)"),
                ("rate-limit-429", "throttled (HTTP 429)"),
                ("media-error", "Instagram containers end in ERROR"),
                (
                    "media-not-ready",
                    "Instagram publishing answers media not ready",
                ),
            ],
            None,
            vec![
                feed(world, Provider::Facebook, "Published on Facebook"),
                feed(world, Provider::Instagram, "Published on Instagram"),
            ],
        ),
    };
    ProviderView {
        slug: provider.slug(),
        name: provider.world_display(),
        has_pages: provider.has_pages(),
        actions: actions_for(provider),
        fault_kinds,
        faults: world
            .faults
            .iter()
            .filter(|f| f.provider == provider)
            .map(ToString::to_string)
            .collect(),
        app,
        members,
        feeds,
    }
}

/// Posts published on `provider`, newest first.
fn feed(world: &World, provider: Provider, title: &'static str) -> FeedView {
    let mut posts: Vec<PostView> = world
        .posts
        .iter()
        .filter(|p| p.provider == provider)
        .map(|post| PostView {
            id: post.id.clone(),
            author: match post.page {
                Some(page) => world.page(page).name.clone(),
                None => world.member(post.member).name.clone(),
            },
            text: post.text.clone(),
            link: post
                .link
                .clone()
                .filter(|l| l.starts_with("https://") || l.starts_with("http://")),
            image: post.image_url.clone(),
            at: format_time(post.created),
        })
        .collect();
    posts.reverse();
    FeedView { title, posts }
}

fn member_view(world: &World, member: MemberId, now: Millis) -> MemberView {
    let record = world.member(member);
    let grants = world
        .grants_of(member)
        .into_iter()
        .map(|g| GrantView {
            client_id: world.grant(g).client_id.clone(),
            status: world.grant_status(g, now),
            scopes: world.grant(g).scopes.join(" "),
        })
        .collect();
    let pages = world
        .pages
        .iter()
        .filter(|p| p.owner == member || p.admins.contains(&member))
        .map(|p| PageView {
            id: p.external_id.clone(),
            name: p.name.clone(),
            instagram: p
                .instagram
                .as_ref()
                .map(|ig| format!("{} @{}", ig.id, ig.username)),
            has_role: p.admins.contains(&member),
        })
        .collect();
    MemberView {
        handle: record.handle.clone(),
        name: record.name.clone(),
        id: record.external_id.clone(),
        holds: [
            (record.checkpoint, "checkpoint"),
            (record.unconfirmed, "unconfirmed"),
            (record.posts_blocked, "posts blocked"),
        ]
        .into_iter()
        .filter_map(|(on, hold)| on.then_some(hold))
        .collect(),
        grants,
        pages,
    }
}
