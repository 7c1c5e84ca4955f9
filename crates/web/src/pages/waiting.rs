//! Shares held while a connection was broken, in one place: after the
//! reconnect the member chooses — Share now, Reschedule or Discard. Nothing held goes
//! out by itself.

use super::inbox::{local_time, share_state};
use super::{after_form, page, team_form, Chrome, Fields};
use crate::error::PageError;
use crate::session::{Flash, HtmlForm, SignedIn};
use crate::AppState;
use apostle_core::posts::inbox::RemindAt;
use apostle_core::posts::notify::provider_name;
use apostle_core::sharing::{provider_post_url, HeldChoice};
use apostle_core::store::ConnectionStatus;
use apostle_domain::{AccountId, ShareStatus, ShareTargetId};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

/// One held share as the page lists it.
pub struct HeldRow {
    pub id: i64,
    pub excerpt: String,
    pub account: String,
    pub provider: &'static str,
    /// The account works again: it can be shared now.
    pub ready: bool,
    /// The account still needs reconnecting: its id, for the Reconnect form.
    pub reconnect: Option<i64>,
    pub expired: bool,
    /// The latest moment Reschedule accepts (the post's expiry), local.
    pub max: String,
}

#[derive(Template)]
#[template(path = "waiting.html")]
struct WaitingPage {
    chrome: Chrome,
    rows: Vec<HeldRow>,
    ready: usize,
    /// The earliest moment Reschedule accepts, in the member's time.
    min: String,
}

pub async fn waiting(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    let now = state.core.clock.now();
    let zone = state.core.time_zone_of(me.user.id).await?;
    let mut rows = Vec::new();
    for target in state.core.waiting_for_reconnect(&access).await? {
        let connection = state
            .core
            .connection(me.user.id, AccountId(target.account_id.0))
            .await
            .ok();
        let post = state.core.post_of_share(&access, &target).await?;
        let excerpt: String = target.text.chars().take(140).collect();
        let works = connection
            .as_ref()
            .is_some_and(|c| c.status == ConnectionStatus::Active);
        let expired = !post.is_live(now);
        rows.push(HeldRow {
            id: target.id.0,
            excerpt,
            account: connection.map_or_else(|| "An account".to_owned(), |c| c.name),
            provider: provider_name(&target.provider),
            ready: works && !expired,
            reconnect: (!works && !expired).then_some(target.account_id.0),
            expired,
            max: post
                .content
                .expires_at
                .with_timezone(&zone.tz())
                .format("%Y-%m-%dT%H:%M")
                .to_string(),
        });
    }
    let ready = rows.iter().filter(|r| r.ready).count();
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = WaitingPage {
        chrome,
        rows,
        ready,
        min: now
            .with_timezone(&zone.tz())
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

/// `action` is `share`, `reschedule` (with the member's local `at`) or
/// `discard`; `target` (repeated) the held shares.
pub async fn decide(
    State(state): State<AppState>,
    me: SignedIn,
    Path(slug): Path<String>,
    HtmlForm(fields): HtmlForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = Fields(fields);
    let access = team_form(&state, &me, &slug, fields.one("csrf").unwrap_or_default()).await?;
    let back = format!("/t/{}/waiting", access.team.slug);
    let targets: Vec<ShareTargetId> = fields
        .ids("target", "Choose the posts.")?
        .into_iter()
        .map(ShareTargetId)
        .collect();
    let result = async {
        let zone = state.core.time_zone_of(me.user.id).await?;
        let choice = match fields.one("action") {
            Some("share") => HeldChoice::ShareNow,
            Some("reschedule") => {
                let at = RemindAt::parse("at", fields.one("at"))?;
                HeldChoice::At(at.resolve(&zone, state.core.clock.now()))
            }
            _ => HeldChoice::Discard,
        };
        let n = state.core.resume_waiting(&access, &targets, choice).await?;
        let posts = if n == 1 { "post" } else { "posts" };
        Ok(match choice {
            HeldChoice::ShareNow => format!(
                "{n} {posts} on {} way.",
                if n == 1 { "its" } else { "their" }
            ),
            HeldChoice::At(at) => {
                format!("{n} {posts} will be shared on {}.", local_time(at, &zone))
            }
            HeldChoice::Discard => format!("{n} {posts} discarded."),
        })
    }
    .await;
    after_form(&state, &back, result)
}

#[derive(Template)]
#[template(path = "share_numbers.html")]
struct NumbersPage {
    chrome: Chrome,
    numbers: apostle_core::sharing::ShareNumbers,
}

/// The team's shares in numbers (admins): per post, per network, per member,
/// and what waits on broken connections.
pub async fn numbers(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    let numbers = state.core.share_numbers(&access).await?;
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = NumbersPage { chrome, numbers }.render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

/// One account a post went to, as the share history shows it.
pub struct HistoryTarget {
    pub id: i64,
    pub account: String,
    pub provider: &'static str,
    pub state: &'static str,
    /// When it was shared, or when it goes out if rescheduled.
    pub when: String,
    /// The post at the provider, once published.
    pub url: Option<String>,
    /// The provider's reason (failed), or what to do (unsure).
    pub detail: Option<String>,
    /// Held, and the account works again: Share now.
    pub share_now: bool,
    /// Held, and the account still needs reconnecting.
    pub reconnect: bool,
}

pub struct HistoryPost {
    pub excerpt: String,
    pub targets: Vec<HistoryTarget>,
}

#[derive(Template)]
#[template(path = "share_history.html")]
struct HistoryPage {
    chrome: Chrome,
    posts: Vec<HistoryPost>,
}

/// The member's shares, newest first: each post, where it went and how
/// that went.
pub async fn history(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    let zone = state.core.time_zone_of(me.user.id).await?;
    let now = state.core.clock.now();
    let posts = state
        .core
        .share_history(&access)
        .await?
        .into_iter()
        .map(|entry| HistoryPost {
            excerpt: entry.post.content.text.chars().take(140).collect(),
            targets: entry
                .targets
                .into_iter()
                .map(|(t, account)| {
                    let later = t
                        .publish_after
                        .filter(|at| *at > now && t.status == ShareStatus::Queued);
                    let held = t.status == ShareStatus::WaitingForReconnect;
                    let works = account.status == ConnectionStatus::Active;
                    HistoryTarget {
                        id: t.id.0,
                        account: account.name,
                        provider: provider_name(&t.provider),
                        state: if later.is_some() {
                            "Scheduled"
                        } else {
                            share_state(t.status)
                        },
                        when: match later {
                            Some(at) => format!("Goes out on {}", local_time(at, &zone)),
                            None => local_time(t.published_at.unwrap_or(t.created_at), &zone),
                        },
                        url: t
                            .provider_post_id
                            .as_deref()
                            .and_then(|id| provider_post_url(&t.provider, id)),
                        detail: t.error,
                        share_now: held && works && entry.post.is_live(now),
                        reconnect: held && !works,
                    }
                })
                .collect(),
        })
        .collect();
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = HistoryPage { chrome, posts }.render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}
