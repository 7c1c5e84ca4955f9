//! The team page and Personal Settings (profile, personal accounts,
//! business pages).

use super::settings::{self, ConnectionsTab, TabQuery};
use super::{after_form, page, team_form, Chrome, CsrfForm};
use crate::error::PageError;
use crate::session::{Flash, HtmlForm, SignedIn};
use crate::AppState;
use apostle_core::store::AccountKind;
use apostle_domain::ApiTokenId;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "no_team.html")]
struct NoTeamPage<'a> {
    user_name: &'a str,
    csrf: &'a str,
}

/// `/`: the first team's page, or sign in.
pub async fn home(State(state): State<AppState>, me: SignedIn) -> Result<Response, PageError> {
    let teams = state.core.teams_of(me.user.id).await?;
    match teams.first() {
        Some(first) => Ok(Redirect::to(&format!("/t/{}", first.team.slug)).into_response()),
        None => {
            let html = NoTeamPage {
                user_name: me.user.name.as_str(),
                csrf: &me.csrf,
            }
            .render()?;
            Ok(page(StatusCode::OK, html, &state, false))
        }
    }
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    chrome: Chrome,
    role: &'static str,
    member_count: usize,
    /// The first current suggestions: delivery id and the start of the text.
    suggestions: Vec<(i64, String)>,
    /// Shares held while a connection was broken.
    waiting: usize,
}

pub async fn team_page(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    let member_count = state.core.members(&access).await?.len();
    let suggestions = state
        .core
        .inbox_page(&access, None)
        .await?
        .items
        .into_iter()
        .take(5)
        .map(|card| {
            let text = &card.text;
            let excerpt: String = text.chars().take(120).collect();
            let more = if text.chars().count() > 120 {
                "…"
            } else {
                ""
            };
            (card.delivery.0, format!("{excerpt}{more}"))
        })
        .collect();
    let waiting = state.core.waiting_for_reconnect(&access).await?.len();
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = TeamPage {
        waiting,
        chrome,
        role: access.role.as_str(),
        member_count,
        suggestions,
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

/// Shown where accounts would be connected when the server has no
/// provider to connect them to.
pub const NOT_CONNECTABLE: &str = "Connecting accounts is not configured on this server. \
     Ask whoever runs Apostle to set up LinkedIn, X, Facebook or Instagram.";

/// Which Personal Settings tab is open.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Profile,
    Accounts,
    Pages,
}

impl Tab {
    /// How `settings_tabs.html` knows the open tab.
    pub fn name(self) -> &'static str {
        match self {
            Tab::Profile => "profile",
            Tab::Accounts => "accounts",
            Tab::Pages => "pages",
        }
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage<'a> {
    chrome: Chrome,
    tab: Tab,
    name: &'a str,
    email: &'a str,
    devices: Vec<DeviceRow>,
    connections_enabled: bool,
    /// The Personal accounts or Business Pages list.
    listed: Option<ConnectionsTab>,
}

/// A mobile app signed in with a bearer token.
pub struct DeviceRow {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub last_used: String,
}

async fn settings(
    state: AppState,
    me: SignedIn,
    flash: Flash,
    slug: String,
    tab: Tab,
    query: TabQuery,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    if tab == Tab::Pages {
        if let Some(onwards) = settings::after_flow(access.team.slug.as_str(), &query) {
            return Ok(onwards);
        }
    }
    let listed = match tab {
        Tab::Profile => None,
        Tab::Accounts => Some(settings::tab(&state, &me, AccountKind::Personal, &query).await?),
        Tab::Pages => Some(settings::tab(&state, &me, AccountKind::Business, &query).await?),
    };
    let devices = if tab == Tab::Profile {
        state
            .core
            .api_tokens(me.user.id)
            .await?
            .into_iter()
            .filter(|t| t.revoked_at.is_none())
            .map(|t| DeviceRow {
                id: t.id.0,
                name: t.name,
                created: t.created_at.format("%Y-%m-%d").to_string(),
                last_used: t.last_used_at.map_or_else(
                    || "never".to_owned(),
                    |at| at.format("%Y-%m-%d %H:%M UTC").to_string(),
                ),
            })
            .collect()
    } else {
        Vec::new()
    };
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = SettingsPage {
        chrome,
        tab,
        name: me.user.name.as_str(),
        email: me.user.email.as_str(),
        devices,
        connections_enabled: state.config.connections_enabled,
        listed,
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

pub async fn profile_tab(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    settings(state, me, flash, slug, Tab::Profile, TabQuery::default()).await
}

pub async fn accounts_tab(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
    Query(query): Query<TabQuery>,
) -> Result<Response, PageError> {
    settings(state, me, flash, slug, Tab::Accounts, query).await
}

pub async fn pages_tab(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
    Query(query): Query<TabQuery>,
) -> Result<Response, PageError> {
    settings(state, me, flash, slug, Tab::Pages, query).await
}

#[derive(Deserialize)]
pub struct ProfileForm {
    csrf: String,
    name: String,
}

pub async fn update_profile(
    State(state): State<AppState>,
    me: SignedIn,
    Path(slug): Path<String>,
    HtmlForm(form): HtmlForm<ProfileForm>,
) -> Result<Response, PageError> {
    let access = team_form(&state, &me, &slug, &form.csrf).await?;
    let result = state
        .core
        .update_profile(me.user.id, &form.name)
        .await
        .map(|()| "Your profile is saved.".to_owned());
    after_form(&state, &format!("/t/{}/settings", access.team.slug), result)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current: SecretString,
    new: SecretString,
}

pub async fn change_password(
    State(state): State<AppState>,
    me: SignedIn,
    Path(slug): Path<String>,
    HtmlForm(form): HtmlForm<PasswordForm>,
) -> Result<Response, PageError> {
    let access = team_form(&state, &me, &slug, &form.csrf).await?;
    let result = state
        .core
        .change_password(&me.user, form.current, form.new)
        .await
        .map(|()| {
            "Your password is changed. Other browsers and the mobile app have been signed out."
                .to_owned()
        });
    let ok = result.is_ok();
    let response = after_form(&state, &format!("/t/{}/settings", access.team.slug), result)?;
    if ok {
        // Changing the password ended every session, this one included:
        // start a fresh one so the person who just changed it stays in.
        return super::auth::with_new_session(&state, me.user.id, response).await;
    }
    Ok(response)
}

/// Signs a mobile app out by revoking its token.
pub async fn revoke_device(
    State(state): State<AppState>,
    me: SignedIn,
    Path((slug, token)): Path<(String, i64)>,
    HtmlForm(form): HtmlForm<CsrfForm>,
) -> Result<Response, PageError> {
    let access = team_form(&state, &me, &slug, &form.csrf).await?;
    let result = state
        .core
        .revoke_api_token(me.user.id, ApiTokenId(token))
        .await
        .map(|()| "The app on that device is signed out.".to_owned());
    after_form(&state, &format!("/t/{}/settings", access.team.slug), result)
}
