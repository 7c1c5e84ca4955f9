//! Connections on the web: the OAuth callbacks every flow (web and app) comes back to,
//! Facebook's deauthorize callback, and plain pages to connect, reconnect, check and
//! remove a connection and to choose a business login's pages. Personal Settings'
//! tabs (`settings`) show the same connections inside the team's pages.

use super::{capitalised, error_page, page, redirect_with, CsrfForm};
use crate::cookies;
use crate::error::PageError;
use crate::session::{Flash, HtmlForm, SignedIn};
use crate::AppState;
use apostle_core::connections::{CallbackParams, Connection, FlowStatus, StartFlow};
use apostle_core::store::{AccountKind, ConnectionStatus, FlowPurpose};
use apostle_core::CoreError;
use apostle_domain::{AccountId, FlowId, Role};
use apostle_providers::Provider;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

/// Who the browser is signed in as, if anyone.
async fn browser_user(state: &AppState, headers: &HeaderMap) -> Option<apostle_domain::UserId> {
    let cookie = cookies::get(headers, cookies::SESSION)?;
    match state.core.session(cookie).await {
        Ok(found) => found.map(|(_, user)| user.id),
        Err(e) => {
            tracing::warn!(error = %e, "reading the session at a callback");
            None
        }
    }
}

/// The provider sends the browser back here after its consent page.
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    let user = browser_user(&state, &headers).await;
    let mut response = match state.core.finish_flow(&provider, &params, user).await {
        Ok(outcome)
            if outcome.location.starts_with('/') && !crate::app::is_app_path(&outcome.location) =>
        {
            // A page of ours: the message goes in a notice, not the address bar.
            let to = match (outcome.status, outcome.flow_id) {
                (FlowStatus::ChoosePages, Some(flow)) => format!("/connections/flows/{}", flow.0),
                _ => outcome.location.clone(),
            };
            let ok = matches!(
                outcome.status,
                FlowStatus::Connected | FlowStatus::Reconnected | FlowStatus::ChoosePages
            );
            let done = matches!(
                outcome.status,
                FlowStatus::Connected | FlowStatus::Reconnected
            );
            match &outcome.message {
                Some(text) if done => redirect_with(&state, &to, ok, &format!("Success! {text}")),
                Some(text) => redirect_with(&state, &to, ok, text),
                None => Redirect::to(&to).into_response(),
            }
        }
        // The app reads the result from its address, as from a deep link
        // (which has the message in it already).
        Ok(outcome) => match &outcome.message {
            Some(text) if outcome.location.starts_with('/') => {
                let (path, fragment) = match outcome.location.split_once('#') {
                    Some((path, fragment)) => (path, format!("#{fragment}")),
                    None => (outcome.location.as_str(), String::new()),
                };
                let separator = if path.contains('?') { '&' } else { '?' };
                let message = urlencoding::encode(text);
                Redirect::to(&format!("{path}{separator}message={message}{fragment}"))
                    .into_response()
            }
            _ => Redirect::to(&outcome.location).into_response(),
        },
        Err(refused) => (
            StatusCode::BAD_REQUEST,
            [(header::CACHE_CONTROL, "no-store")],
            Html(error_page(StatusCode::BAD_REQUEST, &refused.to_string())),
        )
            .into_response(),
    };
    // The callback's address carries the code: no page it leads to may see it.
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[derive(Deserialize)]
pub struct DeauthorizeForm {
    signed_request: String,
}

/// Facebook tells us a member removed the app: their grants break at once.
pub async fn facebook_deauthorize(
    State(state): State<AppState>,
    HtmlForm(form): HtmlForm<DeauthorizeForm>,
) -> Response {
    match state.core.deauthorize_facebook(&form.signed_request).await {
        Ok(broke) => {
            tracing::info!(broke, "Facebook deauthorization");
            (StatusCode::OK, axum::Json(serde_json::json!({"ok": true}))).into_response()
        }
        Err(CoreError::Forbidden) => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": {"code": "bad_signature",
                "message": "The signed request is not valid."}})),
        )
            .into_response(),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// A connection as the pages show it.
pub struct ConnectionRow {
    pub id: i64,
    pub provider: &'static str,
    pub kind: &'static str,
    pub name: String,
    pub team: String,
    /// What the search box matches, lowercase: name, provider and team, one a line.
    pub search: String,
    /// Left out by the search on the page.
    pub hidden: bool,
    pub broken: bool,
    pub reason: String,
    pub action: String,
    pub since: String,
    pub connected_by: String,
    pub expires: String,
}

impl From<&Connection> for ConnectionRow {
    fn from(c: &Connection) -> Self {
        ConnectionRow {
            id: c.id.0,
            provider: c.provider.display_name(),
            kind: match c.kind {
                AccountKind::Personal => "Personal account",
                AccountKind::Business => "Business page",
            },
            name: c.name.clone(),
            team: c
                .team
                .as_ref()
                .map(|(_, name)| name.clone())
                .unwrap_or_default(),
            search: [c.name.as_str(), c.provider.display_name()]
                .into_iter()
                .chain(c.team.iter().flat_map(|(s, n)| [s.as_str(), n.as_str()]))
                .collect::<Vec<_>>()
                .join("\n")
                .to_lowercase(),
            hidden: false,
            broken: c.status == ConnectionStatus::Broken,
            reason: c
                .reason
                .map(|r| r.description().to_owned())
                .unwrap_or_default(),
            action: c
                .reason
                .and_then(|r| r.provider_action(c.provider))
                .unwrap_or_default()
                .to_owned(),
            since: c
                .broken_since
                .map(|t| t.format("%-d %B %Y, %H:%M UTC").to_string())
                .unwrap_or_default(),
            connected_by: c.connected_by.clone(),
            expires: c
                .expires_at
                .map(|t| t.format("%-d %B %Y").to_string())
                .unwrap_or_default(),
        }
    }
}

pub struct AdminTeam {
    pub slug: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "connections.html")]
struct ConnectionsPage {
    csrf: String,
    notice: Option<crate::session::Notice>,
    rows: Vec<ConnectionRow>,
    admin_teams: Vec<AdminTeam>,
    enabled: bool,
}

pub async fn list(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
) -> Result<Response, PageError> {
    let connections = state
        .core
        .list_connections(me.user.id, &Default::default())
        .await?;
    let admin_teams = state
        .core
        .teams_of(me.user.id)
        .await?
        .into_iter()
        .filter(|tr| tr.role == Role::Admin)
        .map(|tr| AdminTeam {
            slug: tr.team.slug.to_string(),
            name: tr.team.name.to_string(),
        })
        .collect();
    let shown = flash.0.is_some();
    let html = ConnectionsPage {
        csrf: me.csrf.clone(),
        notice: flash.0,
        rows: connections.iter().map(ConnectionRow::from).collect(),
        admin_teams,
        enabled: state.config.connections_enabled,
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

#[derive(Template)]
#[template(path = "connection.html")]
struct ConnectionPage {
    csrf: String,
    notice: Option<crate::session::Notice>,
    row: ConnectionRow,
}

pub async fn show(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let connection = state.core.connection(me.user.id, AccountId(id)).await?;
    let shown = flash.0.is_some();
    let html = ConnectionPage {
        csrf: me.csrf.clone(),
        notice: flash.0,
        row: ConnectionRow::from(&connection),
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

#[derive(Deserialize)]
pub struct StartForm {
    csrf: String,
    provider: String,
    kind: String,
    #[serde(default)]
    team: String,
}

/// What a Connect button asks for, or a plain 400.
pub fn provider_and_kind(provider: &str, kind: &str) -> Result<(Provider, AccountKind), PageError> {
    let bad = || PageError::BadForm(StatusCode::BAD_REQUEST, "Unknown provider or kind.".into());
    Ok((
        Provider::parse(provider).map_err(|_| bad())?,
        AccountKind::parse(kind).map_err(|_| bad())?,
    ))
}

/// A start failure shown as a notice on the page it was started from.
pub fn start_failed(state: &AppState, to: &str, e: CoreError) -> Result<Response, PageError> {
    match e {
        e @ (CoreError::Store(_) | CoreError::Internal(_)) => Err(e.into()),
        e => Ok(redirect_with(
            state,
            to,
            false,
            &capitalised(&e.to_string()),
        )),
    }
}

pub async fn start(
    State(state): State<AppState>,
    me: SignedIn,
    HtmlForm(form): HtmlForm<StartForm>,
) -> Result<Response, PageError> {
    me.check_csrf(&form.csrf)?;
    let (provider, kind) = provider_and_kind(&form.provider, &form.kind)?;
    let start = StartFlow {
        provider,
        kind,
        team: (!form.team.is_empty()).then_some(form.team.as_str()),
        redirect_uri: "/connections",
    };
    match state.core.start_connect(&me.user, start).await {
        Ok(url) => Ok(Redirect::to(url.as_str()).into_response()),
        Err(e) => start_failed(&state, "/connections", e),
    }
}

pub async fn reconnect(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<i64>,
    HtmlForm(form): HtmlForm<CsrfForm>,
) -> Result<Response, PageError> {
    me.check_csrf(&form.csrf)?;
    let back = format!("/connections/{id}");
    match state
        .core
        .start_reconnect(&me.user, AccountId(id), &back, FlowPurpose::Reconnect)
        .await
    {
        Ok(url) => Ok(Redirect::to(url.as_str()).into_response()),
        Err(e) => start_failed(&state, &back, e),
    }
}

pub async fn check(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<i64>,
    HtmlForm(form): HtmlForm<CsrfForm>,
) -> Result<Response, PageError> {
    me.check_csrf(&form.csrf)?;
    let back = format!("/connections/{id}");
    let c = state
        .core
        .check_connection(me.user.id, AccountId(id))
        .await?;
    let text = if c.status == ConnectionStatus::Active {
        format!("{} works.", c.name)
    } else {
        format!("{} is broken.", c.name)
    };
    Ok(redirect_with(
        &state,
        &back,
        c.status == ConnectionStatus::Active,
        &text,
    ))
}

pub async fn remove(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<i64>,
    HtmlForm(form): HtmlForm<CsrfForm>,
) -> Result<Response, PageError> {
    me.check_csrf(&form.csrf)?;
    let c = state.core.connection(me.user.id, AccountId(id)).await?;
    state
        .core
        .remove_connection(me.user.id, AccountId(id))
        .await?;
    Ok(redirect_with(
        &state,
        "/connections",
        true,
        &format!("{} was removed.", c.name),
    ))
}

pub struct PageOption {
    pub id: String,
    pub name: String,
    pub connected: bool,
}

#[derive(Template)]
#[template(path = "choose_pages.html")]
struct ChoosePagesPage {
    csrf: String,
    notice: Option<crate::session::Notice>,
    flow: i64,
    provider: &'static str,
    team: String,
    pages: Vec<PageOption>,
}

pub async fn choose_page(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(flow): Path<i64>,
) -> Result<Response, PageError> {
    let choice = state.core.flow_pages(me.user.id, FlowId(flow)).await?;
    let shown = flash.0.is_some();
    let html = ChoosePagesPage {
        csrf: me.csrf.clone(),
        notice: flash.0,
        flow,
        provider: choice.provider.display_name(),
        team: choice.team_slug.to_string(),
        pages: choice
            .pages
            .into_iter()
            .map(|(p, connected)| PageOption {
                id: p.id,
                name: p.name,
                connected,
            })
            .collect(),
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

/// The form repeats `page` once per ticked box.
pub async fn choose(
    State(state): State<AppState>,
    me: SignedIn,
    Path(flow): Path<i64>,
    HtmlForm(fields): HtmlForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = super::Fields(fields);
    me.check_csrf(fields.one("csrf").unwrap_or_default())?;
    let chosen: Vec<String> = fields.all("page").map(str::to_owned).collect();
    match state
        .core
        .choose_pages(me.user.id, FlowId(flow), &chosen)
        .await
    {
        Ok(added) => {
            let names: Vec<&str> = added.iter().map(|c| c.name.as_str()).collect();
            let text = format!(
                "Success! {} connected and ready for sharing.",
                names.join(", ")
            );
            // Pages are chosen for one team: its Business Pages show them.
            let to = added.iter().find_map(|c| c.team.as_ref()).map_or_else(
                || "/connections".to_owned(),
                |(slug, _)| format!("/t/{slug}/settings/pages"),
            );
            Ok(redirect_with(&state, &to, true, &text))
        }
        Err(e) => start_failed(&state, &format!("/connections/flows/{flow}"), e),
    }
}
