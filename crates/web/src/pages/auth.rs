//! Signing in and out, and accepting an invitation.

use super::{login_limit_keys, next_or_home, page, redirect_with};
use crate::cookies;
use crate::error::PageError;
use crate::session::{ClientIp, HtmlForm, PreSessionCsrf, SignedIn};
use crate::AppState;
use apostle_core::CoreError;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    next: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The pre-session CSRF token to put in a form, and whether it is new (and
/// so must be set as a cookie with the page).
pub fn pre_csrf(existing: PreSessionCsrf) -> (String, bool) {
    match existing.0 {
        Some(t) if t.len() >= 32 => (t, false),
        _ => (apostle_core::secrets::random_token(), true),
    }
}

pub fn with_pre_csrf(
    mut response: Response,
    state: &AppState,
    token: &str,
    is_new: bool,
) -> Response {
    if is_new {
        let cookie = cookies::set(
            cookies::PRE_CSRF,
            token,
            60 * 60 * 24,
            state.config.secure_cookies,
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    csrf: PreSessionCsrf,
    Query(q): Query<NextQuery>,
) -> Result<Response, PageError> {
    let next = next_or_home(q.next.as_deref());
    // Someone already signed in goes straight on.
    if let Some(cookie) = cookies::get(&headers, cookies::SESSION) {
        if state.core.session(cookie).await?.is_some() {
            return Ok(Redirect::to(next.as_str()).into_response());
        }
    }
    let (token, is_new) = pre_csrf(csrf);
    let html = LoginPage {
        csrf: &token,
        next: next.as_str(),
        email: "",
        error: None,
    }
    .render()?;
    Ok(with_pre_csrf(
        page(StatusCode::OK, html, &state, false),
        &state,
        &token,
        is_new,
    ))
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: SecretString,
    csrf: String,
    #[serde(default)]
    next: String,
    /// The browser's time zone, filled in by the page's script.
    #[serde(default)]
    time_zone: String,
}

pub async fn login(
    State(state): State<AppState>,
    csrf: PreSessionCsrf,
    ClientIp(ip): ClientIp,
    HtmlForm(form): HtmlForm<LoginForm>,
) -> Result<Response, PageError> {
    csrf.check(&form.csrf)?;
    let keys = login_limit_keys(&form.email, ip);
    state
        .limiter
        .check(&keys)
        .await?
        .map_err(PageError::TooManyAttempts)?;
    let next = next_or_home(Some(&form.next));
    match state
        .core
        .verify_credentials(&form.email, form.password)
        .await
    {
        Ok(user) => {
            state.limiter.record_success(&keys[0]).await?;
            if !form.time_zone.is_empty() {
                state
                    .core
                    .detect_time_zone(user.id, &form.time_zone)
                    .await?;
            }
            let to = Redirect::to(next.as_str()).into_response();
            with_new_session(&state, user.id, to).await
        }
        Err(CoreError::BadCredentials) => {
            state.limiter.record_failure(&keys).await?;
            let html = LoginPage {
                csrf: &form.csrf,
                next: next.as_str(),
                email: form.email.trim(),
                error: Some("The email or password is not correct."),
            }
            .render()?;
            Ok(page(StatusCode::UNAUTHORIZED, html, &state, false))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn logout(
    State(state): State<AppState>,
    me: SignedIn,
    HtmlForm(form): HtmlForm<super::CsrfForm>,
) -> Result<Response, PageError> {
    me.check_csrf(&form.csrf)?;
    state.core.end_session(&me.cookie).await?;
    let cookie = cookies::clear(cookies::SESSION, state.config.secure_cookies);
    let mut response = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage<'a> {
    csrf: &'a str,
    team_name: &'a str,
    email: &'a str,
    role: &'a str,
    existing_user: bool,
    error: Option<&'a str>,
}

pub async fn invite_page(
    State(state): State<AppState>,
    csrf: PreSessionCsrf,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let view = state.core.open_invite(&token).await?;
    let (csrf_token, is_new) = pre_csrf(csrf);
    let html = InvitePage {
        csrf: &csrf_token,
        team_name: view.team.name.as_str(),
        email: view.invite.email.as_str(),
        role: view.invite.role.as_str(),
        existing_user: view.existing_user,
        error: None,
    }
    .render()?;
    Ok(with_pre_csrf(
        page(StatusCode::OK, html, &state, false),
        &state,
        &csrf_token,
        is_new,
    ))
}

#[derive(Deserialize)]
pub struct AcceptForm {
    csrf: String,
    password: SecretString,
    #[serde(default)]
    confirm: Option<SecretString>,
}

pub async fn accept_invite(
    State(state): State<AppState>,
    csrf: PreSessionCsrf,
    Path(token): Path<String>,
    HtmlForm(form): HtmlForm<AcceptForm>,
) -> Result<Response, PageError> {
    csrf.check(&form.csrf)?;
    let view = state.core.open_invite(&token).await?;
    let retry = |message: &str| -> Result<Response, PageError> {
        let html = InvitePage {
            csrf: &form.csrf,
            team_name: view.team.name.as_str(),
            email: view.invite.email.as_str(),
            role: view.invite.role.as_str(),
            existing_user: view.existing_user,
            error: Some(message),
        }
        .render()?;
        Ok(page(StatusCode::UNPROCESSABLE_ENTITY, html, &state, false))
    };
    if !view.existing_user
        && form.confirm.as_ref().map(|c| c.expose_secret()) != Some(form.password.expose_secret())
    {
        return retry("The two passwords are not the same.");
    }
    let (user, team) = match state
        .core
        .accept_invite(&token, form.password.clone())
        .await
    {
        Ok(done) => done,
        Err(e @ (CoreError::Invalid(_) | CoreError::BadCredentials)) => {
            return retry(&super::capitalised(&e.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    // A new member is guided to connect their accounts first; the step can be skipped.
    let response = redirect_with(
        &state,
        &super::onboarding::path(team.slug.as_str()),
        true,
        &format!("Welcome to {}!", team.name),
    );
    with_new_session(&state, user.id, response).await
}

/// Starts a session for `user` and sets its cookie on `response`.
pub async fn with_new_session(
    state: &AppState,
    user: apostle_domain::UserId,
    mut response: Response,
) -> Result<Response, PageError> {
    let session = state.core.start_session(user).await?;
    let ttl = (session.expires_at - state.core.clock.now()).num_seconds();
    let cookie = cookies::set(
        cookies::SESSION,
        session.cookie.expose_secret(),
        ttl,
        state.config.secure_cookies,
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}
