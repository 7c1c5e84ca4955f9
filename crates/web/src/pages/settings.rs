//! The connection tabs of Personal Settings: Personal accounts (every member's
//! LinkedIn and X) and Business Pages (the pages of the teams one administers), with
//! connecting, reconnecting and removing, and where the disconnection email's link
//! lands. A flow started here comes back to its tab; a business page reconnected goes
//! on to its team page, the fifth of the help center's five steps.

use super::connections::{provider_and_kind, start_failed, ConnectionRow};
use super::{page, redirect_with, team_form, Chrome, CsrfForm};
use crate::error::PageError;
use crate::session::{Flash, HtmlForm, SignedIn};
use crate::AppState;
use apostle_core::connections::{Connection, ConnectionFilter, StartFlow};
use apostle_core::store::{AccountKind, FlowPurpose};
use apostle_domain::AccountId;
use apostle_providers::Provider;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// A tab's address: the search, and the outcome a flow came back with.
#[derive(Debug, Default, Deserialize)]
pub struct TabQuery {
    pub q: Option<String>,
    pub status: Option<String>,
    pub connection_id: Option<i64>,
}

/// What a connection tab lists.
pub struct ConnectionsTab {
    pub rows: Vec<ConnectionRow>,
    pub q: String,
    /// The Connect buttons: provider and label.
    pub providers: Vec<(&'static str, &'static str)>,
}

impl ConnectionsTab {
    pub fn any_shown(&self) -> bool {
        self.rows.iter().any(|r| !r.hidden)
    }
}

fn tab_path(slug: &str, kind: AccountKind) -> String {
    match kind {
        AccountKind::Personal => format!("/t/{slug}/settings/accounts"),
        AccountKind::Business => format!("/t/{slug}/settings/pages"),
    }
}

/// Where a connection is managed: its team's Business Pages, or the Personal
/// accounts tab of the team the member is looking at.
fn home_of(c: &Connection, here: &str) -> String {
    match &c.team {
        Some((slug, _)) => tab_path(slug.as_str(), AccountKind::Business),
        None => tab_path(here, AccountKind::Personal),
    }
}

/// The member's connections of `kind`, every one listed and those the search leaves
/// out hidden, so the box can widen the search again without asking the server.
pub async fn tab(
    state: &AppState,
    me: &SignedIn,
    kind: AccountKind,
    query: &TabQuery,
) -> Result<ConnectionsTab, PageError> {
    let mut q = query.q.clone().unwrap_or_default();
    // Back from a flow that did not work out: show the connection it was about.
    if let (None, Some(id), Some(_)) = (&query.q, query.connection_id, &query.status) {
        if let Ok(c) = state.core.connection(me.user.id, AccountId(id)).await {
            q = c.name;
        }
    }
    let listed = state
        .core
        .list_connections(
            me.user.id,
            &ConnectionFilter {
                kind: Some(kind),
                ..Default::default()
            },
        )
        .await?;
    let search = ConnectionFilter {
        q: Some(q.clone()),
        ..Default::default()
    };
    let rows = listed
        .iter()
        .map(|c| ConnectionRow {
            hidden: !search.keeps(c),
            ..ConnectionRow::from(c)
        })
        .collect();
    let providers = connectable(state, kind)
        .into_iter()
        .map(|p| (p.as_str(), connect_label(p, kind)))
        .collect();
    Ok(ConnectionsTab { rows, q, providers })
}

/// The providers this server can connect accounts of `kind` to.
pub fn connectable(state: &AppState, kind: AccountKind) -> Vec<Provider> {
    match kind {
        AccountKind::Personal => vec![Provider::LinkedIn, Provider::X],
        AccountKind::Business => Provider::ALL.to_vec(),
    }
    .into_iter()
    .filter(|p| state.core.connections.is_configured(*p))
    .collect()
}

pub fn connect_label(provider: Provider, kind: AccountKind) -> &'static str {
    match (kind, provider) {
        (AccountKind::Personal, Provider::LinkedIn) => "Connect LinkedIn",
        (AccountKind::Personal, _) => "Connect X",
        (AccountKind::Business, Provider::LinkedIn) => "Connect a LinkedIn page",
        (AccountKind::Business, Provider::Facebook) => "Connect a Facebook page",
        (AccountKind::Business, Provider::Instagram) => "Connect an Instagram account",
        (AccountKind::Business, Provider::X) => "Connect an X account",
    }
}

/// After a reconnect from Business Pages the admin goes on to the team page, where
/// the notice the callback left says "Success!"; every other outcome stays here.
pub fn after_flow(slug: &str, query: &TabQuery) -> Option<Response> {
    (query.status.as_deref() == Some("reconnected"))
        .then(|| Redirect::to(&format!("/t/{slug}")).into_response())
}

#[derive(Deserialize)]
pub struct ConnectForm {
    csrf: String,
    provider: String,
    kind: String,
    /// Started from the onboarding step, which the flow comes back to instead.
    #[serde(default)]
    onboarding: bool,
}

/// Connect LinkedIn or X (Personal accounts or the onboarding step), or a page
/// (Business Pages): off to the provider, back to where it was started.
pub async fn connect(
    State(state): State<AppState>,
    me: SignedIn,
    Path(slug): Path<String>,
    HtmlForm(form): HtmlForm<ConnectForm>,
) -> Result<Response, PageError> {
    let access = team_form(&state, &me, &slug, &form.csrf).await?;
    let (provider, kind) = provider_and_kind(&form.provider, &form.kind)?;
    let slug = access.team.slug.to_string();
    let back = if form.onboarding && kind == AccountKind::Personal {
        super::onboarding::path(&slug)
    } else {
        tab_path(&slug, kind)
    };
    let start = StartFlow {
        provider,
        kind,
        team: (kind == AccountKind::Business).then_some(slug.as_str()),
        redirect_uri: &back,
    };
    match state.core.start_connect(&me.user, start).await {
        Ok(url) => Ok(Redirect::to(url.as_str()).into_response()),
        Err(e) => start_failed(&state, &back, e),
    }
}

/// The start of a form about one connection: the CSRF token, the member's access
/// to the team, the connection if theirs to manage, and the tab it is managed on.
async fn connection_form(
    state: &AppState,
    me: &SignedIn,
    slug: &str,
    id: i64,
    csrf: &str,
) -> Result<(Connection, String), PageError> {
    let access = team_form(state, me, slug, csrf).await?;
    let c = state.core.connection(me.user.id, AccountId(id)).await?;
    let back = home_of(&c, access.team.slug.as_str());
    Ok((c, back))
}

pub async fn reconnect(
    State(state): State<AppState>,
    me: SignedIn,
    Path((slug, id)): Path<(String, i64)>,
    HtmlForm(form): HtmlForm<CsrfForm>,
) -> Result<Response, PageError> {
    let (c, back) = connection_form(&state, &me, &slug, id, &form.csrf).await?;
    match state
        .core
        .start_reconnect(&me.user, c.id, &back, FlowPurpose::Reconnect)
        .await
    {
        Ok(url) => Ok(Redirect::to(url.as_str()).into_response()),
        Err(e) => start_failed(&state, &back, e),
    }
}

#[derive(Template)]
#[template(path = "remove_connection.html")]
struct RemovePage {
    chrome: Chrome,
    row: ConnectionRow,
    back: String,
}

/// Before removing: a broken connection is offered Reconnect first, and the page
/// says what removing loses.
pub async fn remove_page(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path((slug, id)): Path<(String, i64)>,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    let c = state.core.connection(me.user.id, AccountId(id)).await?;
    let back = home_of(&c, access.team.slug.as_str());
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = RemovePage {
        chrome,
        row: ConnectionRow::from(&c),
        back,
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

pub async fn remove(
    State(state): State<AppState>,
    me: SignedIn,
    Path((slug, id)): Path<(String, i64)>,
    HtmlForm(form): HtmlForm<CsrfForm>,
) -> Result<Response, PageError> {
    let (c, back) = connection_form(&state, &me, &slug, id, &form.csrf).await?;
    state.core.remove_connection(me.user.id, c.id).await?;
    Ok(redirect_with(
        &state,
        &back,
        true,
        &format!("{} was removed.", c.name),
    ))
}

/// The disconnection email's link: the connection's tab, searched for it, through
/// sign-in first when needed.
pub async fn open(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let c = state.core.connection(me.user.id, AccountId(id)).await?;
    let teams = state.core.teams_of(me.user.id).await?;
    let tab = match (&c.team, teams.first()) {
        (Some(_), _) => home_of(&c, ""),
        (None, Some(first)) => home_of(&c, first.team.slug.as_str()),
        // Not in a team any more: the plain page still reconnects it.
        (None, None) => return Ok(Redirect::to(&format!("/connections/{id}")).into_response()),
    };
    let to = format!("{tab}?q={}#connection-{id}", urlencoding::encode(&c.name));
    Ok(Redirect::to(&to).into_response())
}
