//! Apostle's provider adapters: LinkedIn, X, Facebook pages and Instagram business
//! accounts. No other crate talks to a provider.
//!
//! Modules: [`config`] endpoints and credentials, with the real providers' as defaults.

mod break_reason;
pub mod config;
mod provider;

pub use break_reason::{BreakReason, UnknownBreakReason};
pub use config::{Credentials, ProviderConfig, ProviderEndpoints, GRAPH_VERSION};
pub use provider::{Provider, UnknownProvider};
