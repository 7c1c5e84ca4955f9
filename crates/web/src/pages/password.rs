//! Forgotten passwords: ask for a link by email, then choose a new password.

use super::auth::{pre_csrf, with_new_session, with_pre_csrf};
use super::{capitalised, page, redirect_with};
use crate::error::PageError;
use crate::session::{ClientIp, HtmlForm, PreSessionCsrf};
use crate::AppState;
use apostle_core::CoreError;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage<'a> {
    csrf: &'a str,
    sent_to: Option<&'a str>,
}

pub async fn forgot_page(
    State(state): State<AppState>,
    csrf: PreSessionCsrf,
) -> Result<Response, PageError> {
    let (token, is_new) = pre_csrf(csrf);
    let html = ForgotPage {
        csrf: &token,
        sent_to: None,
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
pub struct ForgotForm {
    csrf: String,
    email: String,
}

/// Always the same answer, whether or not the address has an account.
pub async fn forgot(
    State(state): State<AppState>,
    csrf: PreSessionCsrf,
    ClientIp(ip): ClientIp,
    HtmlForm(form): HtmlForm<ForgotForm>,
) -> Result<Response, PageError> {
    csrf.check(&form.csrf)?;
    // Each request counts, so nobody can flood an inbox with reset links.
    let mut keys = vec![format!("reset:{}", form.email.trim().to_lowercase())];
    if let Some(ip) = ip {
        keys.push(format!("reset-ip:{ip}"));
    }
    state
        .limiter
        .check(&keys)
        .await?
        .map_err(PageError::TooManyAttempts)?;
    state.limiter.record_failure(&keys).await?;
    state.core.request_password_reset(&form.email).await?;
    let html = ForgotPage {
        csrf: &form.csrf,
        sent_to: Some(form.email.trim()),
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, false))
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
}

pub async fn reset_page(
    State(state): State<AppState>,
    csrf: PreSessionCsrf,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    state.core.check_password_reset(&token).await?;
    let (csrf_token, is_new) = pre_csrf(csrf);
    let html = ResetPage {
        csrf: &csrf_token,
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
pub struct ResetForm {
    csrf: String,
    password: SecretString,
    confirm: SecretString,
}

pub async fn reset(
    State(state): State<AppState>,
    csrf: PreSessionCsrf,
    Path(token): Path<String>,
    HtmlForm(form): HtmlForm<ResetForm>,
) -> Result<Response, PageError> {
    csrf.check(&form.csrf)?;
    let retry = |message: &str| -> Result<Response, PageError> {
        let html = ResetPage {
            csrf: &form.csrf,
            error: Some(message),
        }
        .render()?;
        Ok(page(StatusCode::UNPROCESSABLE_ENTITY, html, &state, false))
    };
    if form.password.expose_secret() != form.confirm.expose_secret() {
        return retry("The two passwords are not the same.");
    }
    match state
        .core
        .reset_password(&token, form.password.clone())
        .await
    {
        Ok(user) => {
            let to = redirect_with(
                &state,
                "/",
                true,
                "Your password is changed. You are signed in.",
            );
            with_new_session(&state, user.id, to).await
        }
        Err(e @ CoreError::Invalid(_)) => retry(&capitalised(&e.to_string())),
        Err(e) => Err(e.into()),
    }
}
