//! The error of every provider call. It names the call by method and path only: query
//! strings carry secrets (Facebook's code exchange sends `client_secret` and tokens there).

use std::fmt;

use reqwest::{Method, StatusCode};
use url::Url;

use crate::classify::{self, Classification, Endpoint, FailedResponse};
use crate::Provider;

/// A provider call: enough to name it in logs, never its query.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub(crate) provider: Provider,
    pub(crate) endpoint: Endpoint,
    pub(crate) method: Method,
    pub(crate) path: String,
}

impl Call {
    pub(crate) fn new(provider: Provider, endpoint: Endpoint, method: Method, url: &Url) -> Self {
        Call {
            provider,
            endpoint,
            method,
            path: url.path().to_owned(),
        }
    }

    pub(crate) fn error(&self, problem: Problem) -> Error {
        Error {
            provider: self.provider,
            call: Some((self.method.clone(), self.path.clone())),
            problem,
        }
    }

    pub(crate) fn failed(&self, response: &FailedResponse) -> Error {
        let classification = classify::classify(
            self.provider,
            self.endpoint,
            response,
            std::time::SystemTime::now(),
        );
        self.error(Problem::Status {
            status: response.status,
            codes: classify::codes(response),
            classification,
        })
    }

    pub(crate) fn transport(&self, error: reqwest::Error) -> Error {
        let classification = classify::classify_transport(&error);
        self.error(Problem::Transport {
            // reqwest names the URL, query and all, in its message.
            source: error.without_url(),
            classification,
        })
    }

    pub(crate) fn malformed(&self, what: &'static str) -> Error {
        self.error(Problem::Malformed(what))
    }
}

#[derive(Debug)]
pub struct Error {
    provider: Provider,
    /// Method and path of the call, or `None` when nothing was sent.
    call: Option<(Method, String)>,
    problem: Problem,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.call {
            Some((method, path)) => write!(f, "{} {method} {path}: ", self.provider)?,
            None => write!(f, "{}: ", self.provider)?,
        }
        write!(f, "{}", self.problem)
    }
}

// The problem is part of this error's own message; its cause (if any) comes next.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.problem)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The provider answered with an error status.
    #[error("HTTP {status} {codes}: {classification}")]
    Status {
        status: StatusCode,
        /// The parsed fields that decided, e.g. `serviceErrorCode=65601`.
        codes: String,
        classification: Classification,
    },
    /// The provider answered 200 but reports a state that fails the call: a token that
    /// introspection or `debug_token` finds unusable, an Instagram container in `ERROR`.
    #[error("the provider reports {state}: {classification}")]
    Reported {
        state: String,
        classification: Classification,
    },
    /// No answer at all.
    #[error("no answer: {classification}")]
    Transport {
        source: reqwest::Error,
        classification: Classification,
    },
    /// A success whose body is not what the provider documents.
    #[error("unexpected answer: {0}")]
    Malformed(&'static str),
    /// Refused before anything was sent: the post cannot go to this provider as it is.
    #[error("{0}")]
    Refused(&'static str),
    /// Asked of a provider that has no such step (a Facebook refresh).
    #[error("{0}")]
    Unsupported(&'static str),
}

impl Error {
    /// An error found before any request was sent.
    pub(crate) fn unsent(provider: Provider, problem: Problem) -> Self {
        Error {
            provider,
            call: None,
            problem,
        }
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// The HTTP status the provider answered with, if it answered with an error status.
    pub fn status(&self) -> Option<StatusCode> {
        match &self.problem {
            Problem::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn classification(&self) -> Classification {
        match &self.problem {
            Problem::Status { classification, .. }
            | Problem::Reported { classification, .. }
            | Problem::Transport { classification, .. } => *classification,
            Problem::Malformed(_) | Problem::Unsupported(_) => Classification::Unknown,
            Problem::Refused(_) => Classification::PostRejected,
        }
    }
}
