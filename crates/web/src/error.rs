//! Errors at the edge: the same failures rendered as an HTML page for the
//! web app and as JSON for the API. 5xx bodies reveal nothing internal; the
//! cause is logged once, here.

use apostle_core::CoreError;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use std::time::Duration;

/// Status and a stable code for a service error.
fn classify(e: &CoreError) -> (StatusCode, &'static str) {
    match e {
        CoreError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        CoreError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
        CoreError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        CoreError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
        CoreError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        CoreError::Conflict(_) | CoreError::LastAdmin => (StatusCode::CONFLICT, "conflict"),
        CoreError::InviteExpired | CoreError::InviteUsed => (StatusCode::GONE, "invite_closed"),
        CoreError::ResetLinkClosed => (StatusCode::GONE, "reset_closed"),
        CoreError::LinkInvalid(_) => (StatusCode::BAD_REQUEST, "link_invalid"),
        CoreError::LinkClosed(_) => (StatusCode::GONE, "link_closed"),
        CoreError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
        CoreError::Store(_) | CoreError::Internal(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    }
}

/// What a busy server asks clients to wait, in seconds: about as long as
/// a password check waits for its turn before giving up.
const BUSY_RETRY_AFTER_SECS: u64 = 2;

/// Tells the client when to come back.
fn retry_after(response: &mut Response, secs: u64) {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
}

/// The sentence shown to the user; internal causes stay in the log.
fn public_message(e: &CoreError, status: StatusCode) -> String {
    if status.is_server_error() && !matches!(e, CoreError::Overloaded) {
        tracing::error!(error = %e, "request failed");
        "Something went wrong on our side. Please try again.".to_owned()
    } else {
        let msg = e.to_string();
        let mut chars = msg.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => msg,
        }
    }
}

fn wait_text(wait: Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    format!(
        "Too many sign-in attempts. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

/// An error on an HTML route.
#[derive(Debug)]
pub enum PageError {
    Core(CoreError),
    /// Not signed in: go to the sign-in page, then back to `next`.
    SignIn {
        next: String,
    },
    BadForm(StatusCode, String),
    Csrf,
    TooManyAttempts(Duration),
    Render(askama::Error),
}

impl From<CoreError> for PageError {
    fn from(e: CoreError) -> Self {
        PageError::Core(e)
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Render(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            PageError::SignIn { next } => {
                let to = format!("/login?next={}", urlencoding::encode(&next));
                return Redirect::to(&to).into_response();
            }
            PageError::Core(e) => {
                let (status, _) = classify(&e);
                (status, public_message(&e, status))
            }
            PageError::BadForm(status, m) => (status, m),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from Apostle. Go back, reload the page and try again.".to_owned(),
            ),
            PageError::TooManyAttempts(wait) => (StatusCode::TOO_MANY_REQUESTS, wait_text(wait)),
            PageError::Render(e) => {
                tracing::error!(error = %e, "rendering a page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side. Please try again.".to_owned(),
                )
            }
        };
        let body = crate::pages::error_page(status, &message);
        let mut response =
            (status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            retry_after(&mut response, BUSY_RETRY_AFTER_SECS);
        }
        response
    }
}

/// The body of every error on a JSON route: `{"error": {"code", "message"}}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct ErrorDetail {
    /// Stable, for programs: `bad_request`, `bad_credentials`,
    /// `unauthenticated`, `forbidden`, `not_found`, `method_not_allowed`,
    /// `conflict`, `too_large`, `unsupported_media_type`, `invalid`,
    /// `rate_limited`, `busy`, `reconnect_required`, ….
    code: &'static str,
    /// For people; may change.
    message: String,
    /// `reconnect_required`: the broken connection to reconnect first.
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_id: Option<i64>,
    /// `reconnect_required`: its provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<String>,
    /// `reconnect_required`: open it to reconnect; the flow returns to the
    /// request's `redirect_uri` with `post_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    authorize_url: Option<String>,
}

/// The code of a request the API could not take as it came.
fn request_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "bad_request",
    }
}

/// An error on a JSON route.
#[derive(Debug)]
pub enum ApiError {
    Core(CoreError),
    BadRequest(StatusCode, String),
    TooManyAttempts(Duration),
    /// A share chose a broken personal account: nothing was published.
    ReconnectRequired {
        connection_id: i64,
        provider: String,
        authorize_url: String,
    },
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        ApiError::Core(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut reconnect = None;
        let (status, code, message, retry) = match self {
            ApiError::ReconnectRequired {
                connection_id,
                provider,
                authorize_url,
            } => {
                reconnect = Some((connection_id, provider, authorize_url));
                (
                    StatusCode::CONFLICT,
                    "reconnect_required",
                    "Reconnect this account first: nothing was shared. Share again once it is back."
                        .to_owned(),
                    None,
                )
            }
            ApiError::Core(e) => {
                let (status, code) = classify(&e);
                let retry =
                    (status == StatusCode::SERVICE_UNAVAILABLE).then_some(BUSY_RETRY_AFTER_SECS);
                (status, code, public_message(&e, status), retry)
            }
            ApiError::BadRequest(status, m) => (status, request_code(status), m, None),
            ApiError::TooManyAttempts(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                wait_text(wait),
                Some(wait.as_secs().max(1)),
            ),
        };
        let (connection_id, provider, authorize_url) = match reconnect {
            Some((id, provider, url)) => (Some(id), Some(provider), Some(url)),
            None => (None, None, None),
        };
        let body = Json(ErrorBody {
            error: ErrorDetail {
                code,
                message,
                connection_id,
                provider,
                authorize_url,
            },
        });
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(secs) = retry {
            retry_after(&mut response, secs);
        }
        response
    }
}
