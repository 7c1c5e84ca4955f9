//! The error of every provider call. It names the call by method and path only: query
//! strings carry secrets (Facebook's code exchange sends `client_secret` and tokens there).

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
            method: self.method.clone(),
            path: self.path.clone(),
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

#[derive(Debug, thiserror::Error)]
#[error("{provider} {method} {path}: {problem}")]
pub struct Error {
    provider: Provider,
    method: Method,
    path: String,
    problem: Problem,
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
}

impl Error {
    pub(crate) fn refused(provider: Provider, method: Method, what: &'static str) -> Self {
        Error {
            provider,
            method,
            path: String::new(),
            problem: Problem::Refused(what),
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
            Problem::Malformed(_) => Classification::Unknown,
            Problem::Refused(_) => Classification::PostRejected,
        }
    }
}
