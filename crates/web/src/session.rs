//! Who is asking: the signed-in browser (session cookie), the mobile app
//! (bearer token), and the checks that go with them — CSRF on every form,
//! one-shot notices, readable form errors.

use crate::cookies;
use crate::error::{ApiError, PageError};
use crate::AppState;
use apostle_core::auth::BearerSession;
use apostle_core::store::User;
use apostle_core::CoreError;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use subtle::ConstantTimeEq;

/// A browser with a live session.
pub struct SignedIn {
    pub user: User,
    pub csrf: String,
    pub cookie: String,
}

/// A browser's session cookie, not yet checked: for a page that checks it
/// in the same transaction as its own reads. Without one the browser is
/// sent to sign in.
pub struct SessionCookie {
    pub cookie: String,
    /// Where signing in returns to: this page.
    pub next: String,
}

impl SessionCookie {
    /// The browser's session has ended (or never was): sign in and return here.
    pub fn expired(self) -> PageError {
        PageError::SignIn { next: self.next }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionCookie {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, PageError> {
        let next = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        match cookies::get(&parts.headers, cookies::SESSION) {
            Some(cookie) => Ok(SessionCookie {
                cookie: cookie.to_owned(),
                next,
            }),
            None => Err(PageError::SignIn { next }),
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let session = SessionCookie::from_request_parts(parts, state).await?;
        match state.core.session(&session.cookie).await? {
            Some((live, user)) => Ok(SignedIn {
                user,
                csrf: live.csrf_token,
                cookie: session.cookie,
            }),
            None => Err(session.expired()),
        }
    }
}

/// Pages open to anyone that act on behalf of the signed-in member when
/// there is one (the one-click links from emails).
impl axum::extract::OptionalFromRequestParts<AppState> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, PageError> {
        match <SignedIn as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(me) => Ok(Some(me)),
            Err(PageError::SignIn { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl SignedIn {
    /// Every state-changing form carries the session's CSRF token.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), PageError> {
        tokens_match(&self.csrf, submitted)
    }
}

pub fn tokens_match(expected: &str, submitted: &str) -> Result<(), PageError> {
    if !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes())) {
        Ok(())
    } else {
        Err(PageError::Csrf)
    }
}

/// For forms shown before there is a session (sign-in, accepting an
/// invite): a double-submit token kept in a cookie.
pub struct PreSessionCsrf(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for PreSessionCsrf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PreSessionCsrf(
            cookies::get(&parts.headers, cookies::PRE_CSRF).map(str::to_owned),
        ))
    }
}

impl PreSessionCsrf {
    pub fn check(&self, submitted: &str) -> Result<(), PageError> {
        tokens_match(self.0.as_deref().unwrap_or(""), submitted)
    }
}

/// A notice left by the previous response, shown once.
pub struct Flash(pub Option<Notice>);

#[derive(Debug, Clone)]
pub struct Notice {
    pub ok: bool,
    pub text: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Flash {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let notice = cookies::get(&parts.headers, cookies::FLASH).and_then(|raw| {
            let decoded = urlencoding::decode(raw).ok()?;
            let (kind, text) = decoded.split_once(':')?;
            Some(Notice {
                ok: kind == "ok",
                text: text.chars().take(300).collect(),
            })
        });
        Ok(Flash(notice))
    }
}

/// The `Set-Cookie` value that leaves a notice for the next page.
pub fn flash_cookie(ok: bool, text: &str, secure: bool) -> String {
    let kind = if ok { "ok" } else { "error" };
    cookies::set(
        cookies::FLASH,
        &urlencoding::encode(&format!("{kind}:{text}")),
        60,
        secure,
    )
}

/// The client's address when the server was started with connect info.
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        ))
    }
}

/// The mobile app, by `Authorization: Bearer …`.
pub struct Bearer(pub BearerSession);

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Core(CoreError::Unauthenticated))?;
        let session = state
            .core
            .authenticate_bearer(token)
            .await?
            .ok_or(ApiError::Core(CoreError::Unauthenticated))?;
        Ok(Bearer(session))
    }
}

/// A URL-encoded form whose failures render as a readable page. Stricter
/// than `axum::Form`: a field that is not valid UTF-8 once decoded is
/// refused instead of being silently replaced.
pub struct HtmlForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for HtmlForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
        let body = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                PageError::BadForm(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The form is too large.".to_owned(),
                )
            } else {
                unreadable_form()
            }
        })?;
        if !is_strict_utf8_form(&body) {
            return Err(unreadable_form());
        }
        serde_urlencoded::from_bytes(&body)
            .map(HtmlForm)
            .map_err(|_| unreadable_form())
    }
}

fn unreadable_form() -> PageError {
    PageError::BadForm(
        StatusCode::BAD_REQUEST,
        "The form could not be read: a field is missing or is not valid UTF-8 text.".to_owned(),
    )
}

/// Every name and value decodes to valid UTF-8.
fn is_strict_utf8_form(body: &[u8]) -> bool {
    body.split(|b| *b == b'&')
        .flat_map(|pair| pair.splitn(2, |b| *b == b'='))
        .all(|part| std::str::from_utf8(&urlencoding::decode_binary(part)).is_ok())
}

/// A JSON body whose failures come back as an API error.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        // Every body of the API is an object; serde would also take a struct
        // from an array of its fields in order, which nobody means to send.
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state)
            .await
            .map_err(|rejection| json_error(&rejection))?;
        if !value.is_object() {
            return Err(unreadable_body("the body must be a JSON object"));
        }
        T::deserialize(value)
            .map(ApiJson)
            .map_err(|e| unreadable_body(&e.to_string()))
    }
}

fn unreadable_body(why: &str) -> ApiError {
    ApiError::BadRequest(
        StatusCode::BAD_REQUEST,
        format!("The request body could not be read: {why}"),
    )
}

/// For a field that holds a struct: only a JSON object is taken (serde alone
/// would also read one from an array), as `#[serde(deserialize_with = "object")]`.
pub fn object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::de::Error;
    let map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
    T::deserialize(serde_json::Value::Object(map)).map_err(D::Error::custom)
}

/// [`object`] for an optional field (with `#[serde(default)]`).
pub fn optional_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::de::Error;
    match Option::<serde_json::Map<String, serde_json::Value>>::deserialize(deserializer)? {
        None => Ok(None),
        Some(map) => T::deserialize(serde_json::Value::Object(map))
            .map(Some)
            .map_err(D::Error::custom),
    }
}

/// A query string whose failures come back as an API error.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::BadRequest(
                StatusCode::BAD_REQUEST,
                format!("The query could not be read: {}", rejection.body_text()),
            )),
        }
    }
}

fn json_error(rejection: &JsonRejection) -> ApiError {
    // Too large and not JSON keep their own status; a body that is JSON but
    // not the one expected is a bad request, whatever axum would say.
    let status = match rejection.status() {
        s @ (StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE) => s,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::BadRequest(
        status,
        format!(
            "The request body could not be read: {}",
            rejection.body_text()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::is_strict_utf8_form;

    #[test]
    fn percent_encoded_invalid_utf8_is_detected() {
        assert!(is_strict_utf8_form(b"name=Am%C3%A9lie&csrf=abc"));
        assert!(is_strict_utf8_form(b""));
        assert!(!is_strict_utf8_form(b"name=%FF%FE"));
        assert!(!is_strict_utf8_form(b"%FF=x"));
        assert!(!is_strict_utf8_form(&[b'n', b'=', 0xff]));
    }
}
