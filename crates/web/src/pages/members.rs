//! Team members, for admins: invite by email, change roles, remove people,
//! cancel open invitations.

use super::{after_form, page, team_form, Chrome, CsrfForm};
use crate::error::PageError;
use crate::session::{Flash, HtmlForm, SignedIn};
use crate::AppState;
use apostle_core::CoreError;
use apostle_domain::{InviteId, Role, UserId};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

pub struct MemberRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    pub is_me: bool,
}

pub struct InviteRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    chrome: Chrome,
    members: Vec<MemberRow>,
    invites: Vec<InviteRow>,
}

pub async fn members_page(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    if !access.is_admin() {
        return Err(CoreError::Forbidden.into());
    }
    let members = state
        .core
        .members(&access)
        .await?
        .into_iter()
        .map(|m| MemberRow {
            id: m.user.id.0,
            name: m.user.name.to_string(),
            email: m.user.email.to_string(),
            is_admin: m.role == Role::Admin,
            is_me: m.user.id == me.user.id,
        })
        .collect();
    let invites = state
        .core
        .open_invites(&access)
        .await?
        .into_iter()
        .map(|i| InviteRow {
            id: i.id.0,
            name: i.name.to_string(),
            email: i.email.to_string(),
            role: i.role.as_str(),
            expires: i.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        })
        .collect();
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = MembersPage {
        chrome,
        members,
        invites,
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

fn members_path(slug: &str) -> String {
    format!("/t/{slug}/members")
}

#[derive(Deserialize)]
pub struct InviteForm {
    csrf: String,
    email: String,
    name: String,
    role: String,
}

pub async fn invite(
    State(state): State<AppState>,
    me: SignedIn,
    Path(slug): Path<String>,
    HtmlForm(form): HtmlForm<InviteForm>,
) -> Result<Response, PageError> {
    let access = team_form(&state, &me, &slug, &form.csrf).await?;
    let result = match form.role.parse::<Role>() {
        Ok(role) => state
            .core
            .invite(&access, &form.email, &form.name, role)
            .await
            .map(|sent| format!("Invitation sent to {}.", sent.invite.email)),
        Err(e) => Err(e.into()),
    };
    after_form(&state, &members_path(&slug), result)
}

#[derive(Deserialize)]
pub struct RoleForm {
    csrf: String,
    role: String,
}

pub async fn change_role(
    State(state): State<AppState>,
    me: SignedIn,
    Path((slug, user)): Path<(String, i64)>,
    HtmlForm(form): HtmlForm<RoleForm>,
) -> Result<Response, PageError> {
    let access = team_form(&state, &me, &slug, &form.csrf).await?;
    let result = match form.role.parse::<Role>() {
        Ok(role) => state
            .core
            .change_role(&access, UserId(user), role)
            .await
            .map(|()| format!("Role changed to {role}.")),
        Err(e) => Err(e.into()),
    };
    after_form(&state, &members_path(&slug), result)
}

pub async fn remove(
    State(state): State<AppState>,
    me: SignedIn,
    Path((slug, user)): Path<(String, i64)>,
    HtmlForm(form): HtmlForm<CsrfForm>,
) -> Result<Response, PageError> {
    let access = team_form(&state, &me, &slug, &form.csrf).await?;
    let result = state
        .core
        .remove_member(&access, UserId(user))
        .await
        .map(|()| "Member removed.".to_owned());
    after_form(&state, &members_path(&slug), result)
}

/// What an admin can do with an open invitation.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum InviteAction {
    /// The link stops working.
    Cancel,
    /// A fresh link and expiry; the old link stops working.
    Resend,
}

pub async fn invite_action(
    State(state): State<AppState>,
    me: SignedIn,
    Path((slug, invite, action)): Path<(String, i64, InviteAction)>,
    HtmlForm(form): HtmlForm<CsrfForm>,
) -> Result<Response, PageError> {
    let access = team_form(&state, &me, &slug, &form.csrf).await?;
    let invite = InviteId(invite);
    let result = match action {
        InviteAction::Cancel => state
            .core
            .cancel_invite(&access, invite)
            .await
            .map(|()| "Invitation cancelled.".to_owned()),
        InviteAction::Resend => state
            .core
            .resend_invite(&access, invite)
            .await
            .map(|sent| format!("Invitation sent again to {}.", sent.invite.email)),
    };
    after_form(&state, &members_path(&slug), result)
}
