//! Shares held while a connection was broken, in one place: after the
//! reconnect the member chooses — Share now or Discard. Nothing held goes
//! out by itself.

use super::{after_form, page, team_form, Chrome, Fields};
use crate::error::PageError;
use crate::session::{Flash, HtmlForm, SignedIn};
use crate::AppState;
use apostle_core::posts::notify::provider_name;
use apostle_core::store::ConnectionStatus;
use apostle_domain::{AccountId, ShareTargetId};
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
}

#[derive(Template)]
#[template(path = "waiting.html")]
struct WaitingPage {
    chrome: Chrome,
    rows: Vec<HeldRow>,
    ready: usize,
}

pub async fn waiting(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    let now = state.core.clock.now();
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
        });
    }
    let ready = rows.iter().filter(|r| r.ready).count();
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = WaitingPage {
        chrome,
        rows,
        ready,
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

/// `action` is `share` or `discard`; `target` (repeated) the held shares.
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
    let share = fields.one("action") == Some("share");
    let result = state
        .core
        .resume_waiting(&access, &targets, share)
        .await
        .map(|n| {
            let posts = if n == 1 { "post" } else { "posts" };
            if share {
                format!(
                    "{n} {posts} on {} way.",
                    if n == 1 { "its" } else { "their" }
                )
            } else {
                format!("{n} {posts} discarded.")
            }
        });
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
