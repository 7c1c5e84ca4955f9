//! The service layer's error: what went wrong in terms a handler can map to a
//! status code and a sentence for the user.

use crate::store::StoreError;
use apostle_domain::InvalidValue;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// Wrong email or password; deliberately does not say which.
    #[error("the email or password is not correct")]
    BadCredentials,
    #[error("you need to sign in")]
    Unauthenticated,
    #[error("you are not allowed to do that")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("this invitation has expired; ask your admin for a new one")]
    InviteExpired,
    #[error("this invitation has already been used")]
    InviteUsed,
    #[error("this password reset link has expired or was already used; ask for a new one")]
    ResetLinkClosed,
    /// A one-click link that is not ours, or was altered.
    #[error("{0}")]
    LinkInvalid(&'static str),
    /// A one-click link that was ours: used already, or expired.
    #[error("{0}")]
    LinkClosed(&'static str),
    #[error("a team needs at least one admin")]
    LastAdmin,
    /// Too many passwords being checked at once; worth a retry shortly.
    #[error("Apostle is busy right now; try again in a few seconds")]
    Overloaded,
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

pub type CoreResult<T> = Result<T, CoreError>;
