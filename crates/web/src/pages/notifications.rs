//! Notification settings, a tab of Personal Settings: which notifications
//! come by email, and the member's time zone (suggestions arrive inside the
//! team's delivery window in it).

use super::{after_form, page, team_form, Chrome, Fields};
use crate::error::PageError;
use crate::session::{Flash, HtmlForm, SignedIn};
use crate::AppState;
use apostle_domain::{NotificationKind, TimeZoneName};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

pub struct KindRow {
    pub name: &'static str,
    pub label: &'static str,
    pub on: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    chrome: Chrome,
    kinds: Vec<KindRow>,
    zone: String,
    zones: Vec<&'static str>,
    /// Never chosen: the page's script offers the browser's zone.
    detect: bool,
}

impl NotificationsPage {
    fn is_chosen(&self, zone: &str) -> bool {
        self.zone == zone
    }
}

fn tab_path(slug: &str) -> String {
    format!("/t/{slug}/settings/notifications")
}

/// The link in every notification email: this tab in the member's first team.
pub async fn open(State(state): State<AppState>, me: SignedIn) -> Result<Response, PageError> {
    let teams = state.core.teams_of(me.user.id).await?;
    let to = teams
        .first()
        .map_or_else(|| "/".to_owned(), |t| tab_path(t.team.slug.as_str()));
    Ok(Redirect::to(&to).into_response())
}

pub async fn tab(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    let settings = state.core.member_settings(me.user.id).await?;
    let kinds = NotificationKind::ALL
        .iter()
        .map(|k| KindRow {
            name: k.as_str(),
            label: k.label(),
            on: !settings.muted.contains(k),
        })
        .collect();
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = NotificationsPage {
        chrome,
        kinds,
        detect: !settings.time_zone_chosen,
        zone: settings.time_zone,
        zones: TimeZoneName::known().collect(),
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

/// The form: `csrf`, `time_zone`, and one `notify` field per wanted kind.
pub async fn save(
    State(state): State<AppState>,
    me: SignedIn,
    Path(slug): Path<String>,
    HtmlForm(fields): HtmlForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = Fields(fields);
    let field = |name: &str| fields.one(name).unwrap_or_default();
    let access = team_form(&state, &me, &slug, field("csrf")).await?;
    let mut wanted = Vec::new();
    for value in fields.all("notify") {
        wanted.push(NotificationKind::parse(value).map_err(apostle_core::CoreError::from)?);
    }
    let result = async {
        state
            .core
            .set_time_zone(me.user.id, field("time_zone"))
            .await?;
        state
            .core
            .set_email_notifications(me.user.id, &wanted)
            .await?;
        Ok("Your notification settings are saved.".to_owned())
    }
    .await;
    after_form(&state, &tab_path(access.team.slug.as_str()), result)
}
