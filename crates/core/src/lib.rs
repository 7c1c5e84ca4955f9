//! Apostle's services and the traits they run on (storage, time, mail).
//! Web handlers, the CLI and workers call into here; nothing here knows
//! about HTTP.

pub mod alerts;
pub mod auth;
pub mod clock;
pub mod connections;
pub mod demo;
pub mod email;
pub mod error;
pub mod jobs;
pub mod keys;
pub mod layout;
pub mod limiter;
pub mod passwords;
pub mod posts;
pub mod resets;
pub mod secrets;
pub mod sharing;
pub mod store;
pub mod teams;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{CoreError, CoreResult};
pub use store::{Store, StoreError, StoreResult, Tx};

use lettre::message::Mailbox;
use std::sync::Arc;

/// Settings the services need (the binary builds them from configuration).
#[derive(Debug, Clone)]
pub struct CoreSettings {
    /// Base of links in emails, e.g. `https://apostle.example.com`.
    pub public_url: url::Url,
    pub mail_from: Mailbox,
    pub invite_ttl: chrono::Duration,
    pub session_ttl: chrono::Duration,
}

impl CoreSettings {
    /// An absolute link to `path` (which starts with `/`).
    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.public_url.as_str().trim_end_matches('/'), path)
    }
}

/// The services with everything they run on. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub mailer: email::Mailer,
    /// Seals secrets before they reach the store (emailed links, tokens).
    pub keyring: Arc<apostle_encryption::Keyring>,
    pub settings: Arc<CoreSettings>,
    /// The providers, and the connection engine's settings and clock.
    pub connections: Arc<connections::Connections>,
}
