//! Approvals for admins: suggestions to the business pages they answer for,
//! with Approve and Decline, and each such page's Auto Approve switch.

use super::inbox::{image_ids, local_time, PostCard};
use super::{after_form, page, team_form, Chrome};
use crate::error::PageError;
use crate::session::{Flash, HtmlForm, SignedIn};
use crate::AppState;
use apostle_core::posts::notify::provider_name;
use apostle_core::teams::TeamAccess;
use apostle_core::CoreError;
use apostle_domain::{AccountId, ApprovalId};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

pub struct ApprovalRow {
    pub id: i64,
    pub page: String,
    pub publish_at: String,
    pub card: PostCard,
}

pub struct PageRow {
    pub id: i64,
    pub name: String,
    pub provider: &'static str,
    pub auto: bool,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    chrome: Chrome,
    rows: Vec<ApprovalRow>,
    pages: Vec<PageRow>,
}

pub async fn approvals_page(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    let owned = state.core.owned_pages(&access).await?;
    let zone = state.core.time_zone_of(me.user.id).await?;
    let pending = state.core.pending_approvals(&access).await?;
    let urls = state
        .core
        .image_urls(&access, &image_ids(pending.iter().map(|i| &i.post)))
        .await?;
    let rows = pending
        .iter()
        .map(|item| ApprovalRow {
            id: item.approval.id.0,
            page: owned
                .iter()
                .find(|(p, _)| p.id == item.approval.account_id)
                .map_or_else(|| "A page".to_owned(), |(p, _)| p.name.clone()),
            publish_at: local_time(item.approval.publish_at, &zone),
            card: PostCard::listed(&item.post, &urls, &zone),
        })
        .collect();
    let pages = owned
        .iter()
        .map(|(p, auto)| PageRow {
            id: p.id.0,
            name: p.name.clone(),
            provider: provider_name(&p.provider),
            auto: *auto,
        })
        .collect();
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = ApprovalsPage {
        chrome,
        rows,
        pages,
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

/// Approvals are for admins: anyone else is refused outright rather than
/// sent back to a page they cannot open.
async fn admin_form(
    state: &AppState,
    me: &SignedIn,
    slug: &str,
    csrf: &str,
) -> Result<TeamAccess, PageError> {
    let access = team_form(state, me, slug, csrf).await?;
    if !access.is_admin() {
        return Err(CoreError::Forbidden.into());
    }
    Ok(access)
}

#[derive(Deserialize)]
pub struct DecisionForm {
    csrf: String,
    /// `approve` or `decline`.
    decision: String,
}

pub async fn decide(
    State(state): State<AppState>,
    me: SignedIn,
    Path((slug, id)): Path<(String, i64)>,
    HtmlForm(form): HtmlForm<DecisionForm>,
) -> Result<Response, PageError> {
    let access = admin_form(&state, &me, &slug, &form.csrf).await?;
    let approve = match form.decision.as_str() {
        "approve" => true,
        "decline" => false,
        _ => {
            return Err(PageError::BadForm(
                StatusCode::BAD_REQUEST,
                "Choose Approve or Decline.".to_owned(),
            ))
        }
    };
    let result = state
        .core
        .decide_approval(&access, ApprovalId(id), approve)
        .await
        .map(|_| {
            if approve {
                "Approved: the post will be published at its scheduled time.".to_owned()
            } else {
                "Declined: the post will not go to that page.".to_owned()
            }
        });
    after_form(
        &state,
        &format!("/t/{}/approvals", access.team.slug),
        result,
    )
}

#[derive(Deserialize)]
pub struct AutoForm {
    csrf: String,
    page: i64,
    /// `on` or `off`.
    auto: String,
}

/// Auto Approve for one page the admin owns.
pub async fn auto_approve(
    State(state): State<AppState>,
    me: SignedIn,
    Path(slug): Path<String>,
    HtmlForm(form): HtmlForm<AutoForm>,
) -> Result<Response, PageError> {
    let access = admin_form(&state, &me, &slug, &form.csrf).await?;
    let on = form.auto == "on";
    let result = state
        .core
        .set_auto_approve(&access, AccountId(form.page), on)
        .await
        .map(|()| {
            if on {
                "Auto Approve is on: posts for this page no longer wait for you.".to_owned()
            } else {
                "Auto Approve is off: posts for this page wait for your approval.".to_owned()
            }
        });
    after_form(
        &state,
        &format!("/t/{}/approvals", access.team.slug),
        result,
    )
}
