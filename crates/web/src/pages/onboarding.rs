//! The step a new member lands on after accepting an invitation: connect personal
//! LinkedIn and X, or skip for now. Its buttons are Personal accounts' Connect
//! buttons, so onboarding and a later reconnect run the very same flow; only the
//! return path differs.

use super::settings::{connect_label, connectable};
use super::{page, Chrome};
use crate::error::PageError;
use crate::session::{Flash, SignedIn};
use crate::AppState;
use apostle_core::connections::ConnectionFilter;
use apostle_core::store::{AccountKind, ConnectionStatus};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

/// Where the onboarding step of team `slug` is, and where its flows come back to.
pub fn path(slug: &str) -> String {
    format!("/t/{slug}/welcome")
}

/// One provider on the step: its Connect button (provider, label), and the
/// member's working accounts there.
pub struct Step {
    pub provider: &'static str,
    pub button: (&'static str, &'static str),
    pub connected: Vec<String>,
}

#[derive(Template)]
#[template(path = "onboarding.html")]
struct OnboardingPage {
    chrome: Chrome,
    steps: Vec<Step>,
}

impl OnboardingPage {
    fn any_connected(&self) -> bool {
        self.steps.iter().any(|s| !s.connected.is_empty())
    }
}

pub async fn step(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    let personal = ConnectionFilter {
        kind: Some(AccountKind::Personal),
        status: Some(ConnectionStatus::Active),
        ..Default::default()
    };
    let accounts = state.core.list_connections(me.user.id, &personal).await?;
    let steps = connectable(&state, AccountKind::Personal)
        .into_iter()
        .map(|p| Step {
            provider: p.display_name(),
            button: (p.as_str(), connect_label(p, AccountKind::Personal)),
            connected: accounts
                .iter()
                .filter(|c| c.provider == p)
                .map(|c| c.name.clone())
                .collect(),
        })
        .collect();
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = OnboardingPage { chrome, steps }.render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}
