//! Team connection health, for a team's admins: counts, what needs attention, the
//! breaks-and-reconnects chart drawn as SVG on the server (the CSP allows no script
//! and no inline style, so the bars are plain shapes coloured by class), each
//! connection's timeline, and the reconnect reminders to members.

use super::connections::ConnectionRow;
use super::{page, redirect_with, team_form, Chrome};
use crate::error::PageError;
use crate::session::{Flash, HtmlForm, SignedIn};
use crate::AppState;
use apostle_core::connections::{DayTally, HealthCount};
use apostle_core::store::AccountKind;
use apostle_domain::{AccountId, UserId};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// Events shown on a connection's timeline.
const TIMELINE: i64 = 100;
/// The chart's drawing box: one slot per day.
const SLOT: i64 = 20;
const BAR: i64 = 8;
const CHART_HEIGHT: i64 = 100;

pub struct CountRow {
    pub provider: &'static str,
    pub kind: &'static str,
    pub healthy: usize,
    pub broken: usize,
}

impl From<&HealthCount> for CountRow {
    fn from(c: &HealthCount) -> Self {
        CountRow {
            provider: c.provider.display_name(),
            kind: match c.kind {
                AccountKind::Business => "Business pages",
                AccountKind::Personal => "Personal accounts",
            },
            healthy: c.healthy,
            broken: c.broken,
        }
    }
}

pub struct MemberRow {
    pub id: i64,
    pub name: String,
    pub accounts: Vec<ConnectionRow>,
}

/// One bar of the chart, in the SVG's coordinates.
pub struct Bar {
    pub class: &'static str,
    pub x: i64,
    pub y: i64,
    pub height: i64,
    pub title: String,
}

/// Two bars a day (breaks, then reconnects), scaled to the busiest day.
fn chart(days: &[DayTally]) -> Vec<Bar> {
    let most = days
        .iter()
        .map(|d| d.breaks.max(d.reconnects))
        .max()
        .unwrap_or(0)
        .max(1) as i64;
    let mut bars = Vec::new();
    for (i, d) in (0i64..).zip(days) {
        let label = d.day.format("%-d %B");
        for (class, n, offset, what) in [
            ("break", d.breaks, 1, "break"),
            ("reconnect", d.reconnects, 1 + BAR, "reconnect"),
        ] {
            if n == 0 {
                continue;
            }
            let height = (n as i64 * CHART_HEIGHT / most).max(2);
            bars.push(Bar {
                class,
                x: i * SLOT + offset,
                y: CHART_HEIGHT - height,
                height,
                title: format!("{label}: {n} {what}{}", if n == 1 { "" } else { "s" }),
            });
        }
    }
    bars
}

#[derive(Template)]
#[template(path = "team_health.html")]
struct HealthPage {
    chrome: Chrome,
    counts: Vec<CountRow>,
    pages: Vec<ConnectionRow>,
    /// Pages whose access ends soon, with whole days left.
    expiring: Vec<(ConnectionRow, i64)>,
    members: Vec<MemberRow>,
    /// Whether the team's automatic reminders are on.
    auto_reminders: bool,
    bars: Vec<Bar>,
    first_day: String,
    last_day: String,
    width: i64,
    height: i64,
    bar: i64,
}

pub async fn health_page(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    let health = state.core.team_health(&access).await?;
    let auto_reminders = state.core.auto_reminders(&access).await?;
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let day = |d: Option<&DayTally>| d.map(|d| d.day.format("%-d %B").to_string());
    let html = HealthPage {
        chrome,
        counts: health.counts().iter().map(CountRow::from).collect(),
        pages: health.broken_pages().map(ConnectionRow::from).collect(),
        expiring: health
            .expiring_pages()
            .into_iter()
            .map(|(c, left)| (ConnectionRow::from(c), left))
            .collect(),
        members: health
            .broken_members
            .iter()
            .map(|m| MemberRow {
                id: m.user.0,
                name: m.name.clone(),
                accounts: m.accounts.iter().map(ConnectionRow::from).collect(),
            })
            .collect(),
        auto_reminders,
        bars: chart(&health.days),
        first_day: day(health.days.first()).unwrap_or_default(),
        last_day: day(health.days.last()).unwrap_or_default(),
        width: health.days.len() as i64 * SLOT,
        height: CHART_HEIGHT,
        bar: BAR,
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

pub struct EventRow {
    pub at: String,
    pub what: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "team_connection.html")]
struct TimelinePage {
    chrome: Chrome,
    row: ConnectionRow,
    events: Vec<EventRow>,
}

pub async fn timeline_page(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path((slug, id)): Path<(String, i64)>,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    let (connection, events) = state
        .core
        .team_connection(&access, AccountId(id), TIMELINE)
        .await?;
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = TimelinePage {
        chrome,
        row: ConnectionRow::from(&connection),
        events: events
            .into_iter()
            .map(|e| EventRow {
                at: e.at.format("%-d %B %Y, %H:%M UTC").to_string(),
                what: match e.reason {
                    Some(reason) => format!("{} ({reason})", e.kind),
                    None => e.kind,
                },
                detail: e.detail,
            })
            .collect(),
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

#[derive(Deserialize)]
pub struct RemindForm {
    csrf: String,
    /// One member; absent for everyone with a broken account.
    #[serde(default)]
    user: Option<i64>,
}

pub async fn remind(
    State(state): State<AppState>,
    me: SignedIn,
    Path(slug): Path<String>,
    HtmlForm(form): HtmlForm<RemindForm>,
) -> Result<Response, PageError> {
    let access = team_form(&state, &me, &slug, &form.csrf).await?;
    let sent = state
        .core
        .send_reconnect_reminders(&access, form.user.map(UserId))
        .await?;
    let text = match sent {
        0 => "No reminder sent: everyone with a broken account was already reminded today."
            .to_owned(),
        1 => "Reminder sent.".to_owned(),
        n => format!("{n} reminders sent."),
    };
    Ok(redirect_with(
        &state,
        &format!("/t/{}/connections", access.team.slug),
        sent > 0,
        &text,
    ))
}

#[derive(Deserialize)]
pub struct AutoRemindersForm {
    csrf: String,
    /// `on` or `off`.
    reminders: String,
}

/// Turns the team's automatic reminders (3 and 7 days after a break) on or off.
pub async fn auto_reminders(
    State(state): State<AppState>,
    me: SignedIn,
    Path(slug): Path<String>,
    HtmlForm(form): HtmlForm<AutoRemindersForm>,
) -> Result<Response, PageError> {
    let access = team_form(&state, &me, &slug, &form.csrf).await?;
    let on = form.reminders == "on";
    state.core.set_auto_reminders(&access, on).await?;
    let text = if on {
        "Members will be reminded 3 and 7 days after a personal account breaks."
    } else {
        "Automatic reminders are off."
    };
    Ok(redirect_with(
        &state,
        &format!("/t/{}/connections", access.team.slug),
        true,
        text,
    ))
}
