//! Server-rendered pages. Every page for a signed-in user shares the
//! [`Chrome`]: the team switcher, the top-right menu (Personal Settings,
//! Members for admins, Sign out) and a one-shot notice.

mod actions;
mod approvals;
mod auth;
mod composer;
mod connections;
mod inbox;
mod members;
mod notifications;
mod onboarding;
mod password;
mod posts;
mod settings;
mod team;
mod team_health;
mod waiting;

use crate::cookies;
use crate::error::PageError;
use crate::session::{Flash, Notice, SignedIn};
use crate::AppState;
use apostle_core::layout::{Layout, INBOX_COUNT_CAP};
use apostle_core::teams::TeamAccess;
use apostle_domain::LocalPath;
use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::net::IpAddr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(team::home))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route(
            "/invites/{token}",
            get(auth::invite_page).post(auth::accept_invite),
        )
        .route(
            "/password/forgot",
            get(password::forgot_page).post(password::forgot),
        )
        .route(
            "/password/reset/{token}",
            get(password::reset_page).post(password::reset),
        )
        .route("/t/{slug}", get(team::team_page))
        .route("/t/{slug}/welcome", get(onboarding::step))
        .route("/t/{slug}/settings", get(team::profile_tab))
        .route("/t/{slug}/settings/profile", post(team::update_profile))
        .route("/t/{slug}/settings/password", post(team::change_password))
        .route(
            "/t/{slug}/settings/devices/{token}/revoke",
            post(team::revoke_device),
        )
        .route("/t/{slug}/settings/accounts", get(team::accounts_tab))
        .route("/t/{slug}/settings/pages", get(team::pages_tab))
        .route("/t/{slug}/settings/connect", post(settings::connect))
        .route(
            "/t/{slug}/settings/connections/{id}/reconnect",
            post(settings::reconnect),
        )
        .route(
            "/t/{slug}/settings/connections/{id}/remove",
            get(settings::remove_page).post(settings::remove),
        )
        .route("/settings/connections/{id}", get(settings::open))
        .route("/t/{slug}/connections", get(team_health::health_page))
        .route("/t/{slug}/connections/remind", post(team_health::remind))
        .route(
            "/t/{slug}/connections/auto-reminders",
            post(team_health::auto_reminders),
        )
        .route(
            "/t/{slug}/connections/{id}",
            get(team_health::timeline_page),
        )
        .route("/t/{slug}/posts", get(posts::list))
        .route("/t/{slug}/posts/window", post(posts::set_window))
        .route("/t/{slug}/posts/{id}", get(posts::detail))
        .route("/t/{slug}/posts/{id}/{action}", post(posts::act))
        .route("/media/{public_id}", get(posts::media))
        .route("/t/{slug}/inbox", get(inbox::inbox))
        .route("/t/{slug}/inbox/shared", get(inbox::shared))
        .route("/t/{slug}/inbox/{id}", get(inbox::item))
        .route("/t/{slug}/inbox/{id}/reject", post(inbox::reject))
        .route("/t/{slug}/inbox/{id}/share", post(inbox::share))
        .route(
            "/t/{slug}/waiting",
            get(waiting::waiting).post(waiting::decide),
        )
        .route("/t/{slug}/shares", get(waiting::numbers))
        .route("/t/{slug}/shares/mine", get(waiting::history))
        .route("/t/{slug}/inbox/{id}/reschedule", post(inbox::reschedule))
        .route("/t/{slug}/approvals", get(approvals::approvals_page))
        .route("/t/{slug}/approvals/auto", post(approvals::auto_approve))
        .route("/t/{slug}/approvals/{id}", post(approvals::decide))
        .route("/settings/notifications", get(notifications::open))
        .route(
            "/t/{slug}/settings/notifications",
            get(notifications::tab).post(notifications::save),
        )
        .merge(actions::routes())
        .route("/t/{slug}/members", get(members::members_page))
        .route("/t/{slug}/members/invite", post(members::invite))
        .route("/t/{slug}/members/{user}/role", post(members::change_role))
        .route("/t/{slug}/members/{user}/remove", post(members::remove))
        .route(
            "/t/{slug}/invites/{invite}/{action}",
            post(members::invite_action),
        )
        .route("/oauth/{provider}/callback", get(connections::callback))
        .route(
            "/oauth/facebook/deauthorize",
            post(connections::facebook_deauthorize),
        )
        .route("/connections", get(connections::list))
        .route("/connections/start", post(connections::start))
        .route("/connections/{id}", get(connections::show))
        .route("/connections/{id}/reconnect", post(connections::reconnect))
        .route("/connections/{id}/check", post(connections::check))
        .route("/connections/{id}/remove", post(connections::remove))
        .route(
            "/connections/flows/{id}",
            get(connections::choose_page).post(connections::choose),
        )
        .route("/assets/app.css", get(stylesheet))
        .route("/assets/app.js", get(script))
        .route("/manifest.webmanifest", get(manifest))
        .route("/assets/icon.svg", get(icon_svg))
        .route("/assets/icon-192.png", get(icon_192))
        .route("/assets/icon-512.png", get(icon_512))
}

/// The composer's pages: its form carries an image, so its body may be as
/// large as the largest image accepted, beyond the limit of other forms.
pub fn upload_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/posts/new",
            get(composer::new_page).post(composer::create),
        )
        .route(
            "/t/{slug}/posts/{id}/edit",
            get(composer::edit_page).post(composer::update),
        )
        .layer(axum::extract::DefaultBodyLimit::max(composer::UPLOAD_LIMIT))
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_bytes!("../../assets/app.css"),
    )
}

/// Served as a file because the CSP allows no inline script.
async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/app.js"),
    )
}

/// What a phone needs to add Apostle to its home screen as an app of its own.
async fn manifest() -> Response {
    asset(
        "application/manifest+json",
        include_bytes!("../../assets/manifest.webmanifest"),
    )
}

async fn icon_svg() -> Response {
    asset("image/svg+xml", include_bytes!("../../assets/icon.svg"))
}

/// Home screens that take no SVG (iOS among them) get these sizes.
async fn icon_192() -> Response {
    asset("image/png", include_bytes!("../../assets/icon-192.png"))
}

async fn icon_512() -> Response {
    asset("image/png", include_bytes!("../../assets/icon-512.png"))
}

/// A form whose only field is the CSRF token (buttons that do one thing).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

pub struct TeamLink {
    pub slug: String,
    pub name: String,
}

/// What the layout of a signed-in page shows.
pub struct Chrome {
    pub user_name: String,
    pub csrf: String,
    pub teams: Vec<TeamLink>,
    pub team: TeamLink,
    pub is_admin: bool,
    pub notice: Option<Notice>,
    /// The user's broken connections (the first few), for the banner that offers
    /// to fix them, and how many more there are.
    pub broken: Vec<connections::ConnectionRow>,
    pub more_broken: usize,
    /// Current suggestions in the member's inbox, for the Inbox link.
    pub inbox_count: usize,
}

/// The banner names this many broken connections and links to the rest.
const BANNER_ROWS: usize = 3;

impl Chrome {
    /// The Inbox link's count: "99+" once it reaches the count's cap.
    pub fn inbox_badge(&self) -> String {
        if self.inbox_count as i64 >= INBOX_COUNT_CAP {
            format!("{}+", INBOX_COUNT_CAP - 1)
        } else {
            self.inbox_count.to_string()
        }
    }

    pub async fn load(
        state: &AppState,
        me: &SignedIn,
        access: &TeamAccess,
        flash: Flash,
    ) -> Result<Chrome, PageError> {
        let layout = state.core.layout(access).await?;
        Ok(Chrome::new(me, access, layout, flash))
    }

    pub fn new(me: &SignedIn, access: &TeamAccess, layout: Layout, flash: Flash) -> Chrome {
        let teams = layout
            .teams
            .into_iter()
            .map(|tr| TeamLink {
                slug: tr.team.slug.to_string(),
                name: tr.team.name.to_string(),
            })
            .collect();
        let more_broken = layout.broken.len().saturating_sub(BANNER_ROWS);
        let broken = layout
            .broken
            .iter()
            .take(BANNER_ROWS)
            .map(connections::ConnectionRow::from)
            .collect();
        Chrome {
            user_name: me.user.name.to_string(),
            csrf: me.csrf.clone(),
            teams,
            team: TeamLink {
                slug: access.team.slug.to_string(),
                name: access.team.name.to_string(),
            },
            is_admin: access.is_admin(),
            notice: flash.0,
            broken,
            more_broken,
            inbox_count: layout.inbox_count,
        }
    }
}

/// A rendered page. A notice, once shown, is cleared.
pub fn page(status: StatusCode, html: String, state: &AppState, shown_notice: bool) -> Response {
    let mut response = (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response();
    if shown_notice {
        if let Ok(v) = cookies::clear(cookies::FLASH, state.config.secure_cookies).parse() {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// A posted form whose fields may repeat (check boxes), in order.
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`.
    pub fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` as an id; anything else is the member's mistake,
    /// answered with `mistake`.
    pub fn ids(&self, name: &str, mistake: &str) -> Result<Vec<i64>, PageError> {
        self.all(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| PageError::BadForm(StatusCode::BAD_REQUEST, mistake.to_owned()))
            })
            .collect()
    }
}

/// The start of every team form: the session's CSRF token, then the
/// user's access to the team.
pub async fn team_form(
    state: &AppState,
    me: &SignedIn,
    slug: &str,
    csrf: &str,
) -> Result<TeamAccess, PageError> {
    me.check_csrf(csrf)?;
    Ok(state.core.team_access(slug, &me.user).await?)
}

/// Redirect (303) to `to`, leaving a notice for the next page.
pub fn redirect_with(state: &AppState, to: &str, ok: bool, text: &str) -> Response {
    let cookie = crate::session::flash_cookie(ok, text, state.config.secure_cookies);
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, to.to_owned()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response()
}

/// After a form: success notice, or the user's mistake as an error notice
/// on the same page. Server faults still render an error page.
pub fn after_form(
    state: &AppState,
    to: &str,
    result: Result<String, apostle_core::CoreError>,
) -> Result<Response, PageError> {
    match result {
        Ok(text) => Ok(redirect_with(state, to, true, &text)),
        Err(e @ (apostle_core::CoreError::Store(_) | apostle_core::CoreError::Internal(_))) => {
            Err(e.into())
        }
        Err(e) => Ok(redirect_with(
            state,
            to,
            false,
            &capitalised(&e.to_string()),
        )),
    }
}

pub fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    reason: &'a str,
    message: &'a str,
}

pub fn error_page(status: StatusCode, message: &str) -> String {
    ErrorPage {
        reason: status.canonical_reason().unwrap_or("Error"),
        message,
    }
    .render()
    .unwrap_or_else(|_| message.to_owned())
}

/// Where to go after signing in: `next` when it is a path on this site,
/// else the home page.
pub fn next_or_home(next: Option<&str>) -> LocalPath {
    next.and_then(|n| LocalPath::parse(n).ok())
        .unwrap_or_else(LocalPath::root)
}

/// Keys the sign-in limiter counts under.
pub fn login_limit_keys(email: &str, ip: Option<IpAddr>) -> Vec<String> {
    let mut keys = vec![format!("email:{}", email.trim().to_lowercase())];
    if let Some(ip) = ip {
        keys.push(format!("ip:{ip}"));
    }
    keys
}
