//! Every error body the sandbox sends, in each provider's exact shape (providers.md):
//! LinkedIn `{status, serviceErrorCode, code, message}`, X problem+json, OAuth token
//! endpoint errors, and Graph errors shared by Facebook and Instagram.

use axum::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde::Serialize;

use crate::tokens::{Death, TokenProblem};

/// An error as a provider sends it: status, body, content type and extra headers.
pub(crate) struct ProviderError {
    status: StatusCode,
    content_type: &'static str,
    body: String,
    headers: Vec<(HeaderName, String)>,
}

impl ProviderError {
    fn json(status: StatusCode, content_type: &'static str, body: &impl Serialize) -> Self {
        ProviderError {
            status,
            content_type,
            body: serde_json::to_string(body).unwrap_or_default(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((HeaderName::from_static(name), value));
        self
    }
}

impl IntoResponse for ProviderError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

// ---------------------------------------------------------------- OAuth token endpoints

#[derive(Serialize)]
struct OAuthBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// `{"error", "error_description"}`, as LinkedIn's and X's token endpoints answer.
pub(crate) fn oauth(status: StatusCode, error: &str, description: &str) -> ProviderError {
    ProviderError::json(
        status,
        "application/json",
        &OAuthBody {
            error,
            error_description: description,
        },
    )
}

// ---------------------------------------------------------------- LinkedIn

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LinkedInBody<'a> {
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_error_code: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    message: &'a str,
}

pub(crate) fn linkedin(
    status: StatusCode,
    service_error_code: Option<u32>,
    code: Option<&str>,
    message: &str,
) -> ProviderError {
    ProviderError::json(
        status,
        "application/json",
        &LinkedInBody {
            status: status.as_u16(),
            service_error_code,
            code,
            message,
        },
    )
}

pub(crate) fn linkedin_revoked() -> ProviderError {
    linkedin(
        StatusCode::UNAUTHORIZED,
        Some(65601),
        Some("REVOKED_ACCESS_TOKEN"),
        "The token used in the request has been revoked by the user",
    )
}

pub(crate) fn linkedin_token(problem: TokenProblem) -> ProviderError {
    match problem {
        TokenProblem::Expired => linkedin(
            StatusCode::UNAUTHORIZED,
            Some(65602),
            Some("EXPIRED_ACCESS_TOKEN"),
            "The token used in the request has expired",
        ),
        TokenProblem::Dead(_) => linkedin_revoked(),
        // Checkpoints, confirmations, data access and page roles are Facebook's; LinkedIn
        // never reports them, so a token that met one is simply invalid.
        TokenProblem::Unknown
        | TokenProblem::Checkpoint
        | TokenProblem::Unconfirmed
        | TokenProblem::DataAccessExpired
        | TokenProblem::PageRoleLost => linkedin(
            StatusCode::UNAUTHORIZED,
            Some(65600),
            Some("INVALID_ACCESS_TOKEN"),
            "Invalid access token",
        ),
    }
}

pub(crate) fn linkedin_forbidden(what: &str) -> ProviderError {
    linkedin(
        StatusCode::FORBIDDEN,
        Some(100),
        Some("ACCESS_DENIED"),
        &format!("Not enough permissions to access: {what}"),
    )
}

// ---------------------------------------------------------------- X

#[derive(Serialize)]
struct Problem<'a> {
    title: &'a str,
    detail: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<serde_json::Value>,
}

/// X's `application/problem+json` body.
pub(crate) fn x_problem(status: StatusCode, kind: &str, detail: &str) -> ProviderError {
    x_problem_with(status, kind, detail, None)
}

pub(crate) fn x_problem_with(
    status: StatusCode,
    kind: &str,
    detail: &str,
    errors: Option<serde_json::Value>,
) -> ProviderError {
    let title = if kind.ends_with("invalid-request") {
        "Invalid Request"
    } else {
        status.canonical_reason().unwrap_or("Error")
    };
    ProviderError::json(
        status,
        "application/problem+json",
        &Problem {
            title,
            detail,
            kind,
            status: status.as_u16(),
            errors,
        },
    )
}

pub(crate) fn x_unauthorized() -> ProviderError {
    x_problem(StatusCode::UNAUTHORIZED, "about:blank", "Unauthorized")
}

pub(crate) fn x_forbidden(detail: &str) -> ProviderError {
    x_problem(StatusCode::FORBIDDEN, "about:blank", detail)
}

/// X's 403 for an app that may not use the API (not attached to a project, or without the
/// access level): the body the real API sends, without `status`. Our configuration.
pub(crate) fn x_client_forbidden(client_id: Option<&str>) -> ProviderError {
    #[derive(Serialize)]
    struct ClientForbidden<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<&'a str>,
        detail: &'a str,
        registration_url: &'a str,
        title: &'a str,
        required_enrollment: &'a str,
        reason: &'a str,
        #[serde(rename = "type")]
        kind: &'a str,
    }
    ProviderError::json(
        StatusCode::FORBIDDEN,
        "application/problem+json",
        &ClientForbidden {
            client_id,
            detail: "When authenticating requests to the Twitter API v2 endpoints, you must use \
                     keys and tokens from a Twitter developer App that is attached to a Project. \
                     You can create a project via the developer portal.",
            registration_url: "https://developer.twitter.com/en/docs/projects/overview",
            title: "Client Forbidden",
            required_enrollment: "Appropriate Level of API Access",
            reason: "client-not-enrolled",
            kind: "https://api.twitter.com/2/problems/client-forbidden",
        },
    )
}

/// X's 403 for a tweet whose text repeats one the user already posted: the post's problem.
pub(crate) fn x_duplicate_content() -> ProviderError {
    x_forbidden("You are not allowed to create a Tweet with duplicate content.")
}

/// 429 with X's rate-limit headers; `reset` is epoch seconds.
pub(crate) fn x_rate_limited(limit: u32, reset: i64) -> ProviderError {
    x_problem(
        StatusCode::TOO_MANY_REQUESTS,
        "about:blank",
        "Too Many Requests",
    )
    .with_header("x-rate-limit-limit", limit.to_string())
    .with_header("x-rate-limit-remaining", "0".to_owned())
    .with_header("x-rate-limit-reset", reset.to_string())
}

/// The dead-refresh-token answer of X's token endpoint.
pub(crate) fn x_invalid_token() -> ProviderError {
    oauth(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "Value passed for the token was invalid.",
    )
}

// ---------------------------------------------------------------- Graph (Facebook, Instagram)

/// A Graph API error: `{"error": {message, type, code, error_subcode, fbtrace_id, …}}`,
/// HTTP 400 unless said otherwise.
pub(crate) struct GraphError {
    status: StatusCode,
    message: String,
    kind: &'static str,
    code: u32,
    subcode: Option<u32>,
    transient: Option<bool>,
    user: Option<(&'static str, &'static str)>,
}

#[derive(Serialize)]
struct GraphEnvelope<'a> {
    error: GraphBody<'a>,
}

#[derive(Serialize)]
struct GraphBody<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    code: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_subcode: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_transient: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_user_title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_user_msg: Option<&'a str>,
    fbtrace_id: &'a str,
}

impl GraphError {
    pub(crate) fn new(code: u32, message: impl Into<String>) -> Self {
        GraphError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "OAuthException",
            code,
            subcode: None,
            transient: None,
            user: None,
        }
    }

    pub(crate) fn subcode(mut self, subcode: u32) -> Self {
        self.subcode = Some(subcode);
        self
    }

    pub(crate) fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub(crate) fn transient(mut self, transient: bool) -> Self {
        self.transient = Some(transient);
        self
    }

    pub(crate) fn instagram(mut self) -> Self {
        self.kind = "IGApiException";
        self
    }

    pub(crate) fn user_message(mut self, title: &'static str, message: &'static str) -> Self {
        self.user = Some((title, message));
        self
    }

    /// Graph's answer for an object id that does not exist (or is not reachable).
    pub(crate) fn unsupported(method: &str, id: &str) -> Self {
        GraphError::new(
            100,
            format!(
                "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be \
                 loaded due to missing permissions, or does not support this operation. Please \
                 read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
        )
        .subcode(33)
    }

    pub(crate) fn missing_token() -> Self {
        GraphError::new(
            2500,
            "An active access token must be used to query information about the current user.",
        )
    }

    pub(crate) fn bad_client_secret() -> Self {
        GraphError::new(1, "Error validating client secret.")
    }

    pub(crate) fn for_token(problem: TokenProblem) -> Self {
        let invalid = |subcode: Option<u32>, message: &str| {
            let error = GraphError::new(190, format!("Error validating access token: {message}"));
            match subcode {
                Some(subcode) => error.subcode(subcode),
                None => error,
            }
        };
        match problem {
            TokenProblem::Unknown | TokenProblem::Dead(Death::Rotated) => GraphError::new(
                190,
                "Invalid OAuth access token - Cannot parse access token",
            ),
            TokenProblem::Expired => invalid(Some(463), "Session has expired."),
            TokenProblem::Dead(Death::Revoked) => invalid(
                None,
                "The session was invalidated explicitly using an API call.",
            ),
            TokenProblem::Dead(Death::PasswordChanged) => invalid(
                Some(460),
                "The session has been invalidated because the user changed their password or \
                 Facebook has changed the session for security reasons.",
            ),
            TokenProblem::Dead(Death::AppRemoved) => {
                invalid(Some(458), "The user has not authorized the application.")
            }
            TokenProblem::Dead(Death::SessionInvalid) => {
                GraphError::new(102, "Session key invalid or no longer valid")
            }
            TokenProblem::Dead(Death::LoggedOut) => invalid(
                Some(467),
                "The session is invalid because the user logged out.",
            ),
            TokenProblem::Unconfirmed => invalid(
                Some(464),
                "Sessions for the user are not allowed because the user is not a confirmed user.",
            ),
            TokenProblem::DataAccessExpired => invalid(
                Some(493),
                "Data access for this user has expired. The user must log in to the app again.",
            ),
            TokenProblem::Checkpoint => invalid(
                Some(459),
                "You cannot access the app till you log in to www.facebook.com and follow the \
                 instructions given.",
            ),
            TokenProblem::PageRoleLost => GraphError::new(
                190,
                "(#190) The user must be an administrator, editor, or moderator of the page in \
                 order to impersonate it.",
            )
            .subcode(492),
        }
    }

    /// The code, subcode and message a `debug_token` answer embeds for a dead token.
    pub(crate) fn debug_parts(&self) -> (u32, Option<u32>, &str) {
        (self.code, self.subcode, &self.message)
    }
}

impl From<GraphError> for ProviderError {
    fn from(error: GraphError) -> Self {
        let trace: String = rand::thread_rng()
            .sample_iter(&rand::distributions::Alphanumeric)
            .take(11)
            .map(char::from)
            .collect();
        let user = error.user;
        ProviderError::json(
            error.status,
            "application/json",
            &GraphEnvelope {
                error: GraphBody {
                    message: &error.message,
                    kind: error.kind,
                    code: error.code,
                    error_subcode: error.subcode,
                    is_transient: error.transient,
                    error_user_title: user.map(|(title, _)| title),
                    error_user_msg: user.map(|(_, msg)| msg),
                    fbtrace_id: &format!("A{trace}"),
                },
            },
        )
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        ProviderError::from(self).into_response()
    }
}
