//! Apostle's provider adapters: LinkedIn, X, Facebook pages and Instagram business
//! accounts. Each adapter does OAuth (authorize URL, code exchange, refresh or Facebook's
//! long-lived exchange, revoke), identity, listing pages, a health probe, publishing and
//! listing the account's recent posts, against the real endpoints by default and any
//! configured ones otherwise. Each provider also has an error classifier that says what a
//! failure means for the connection ([`Classification`]); an adapter's [`Error`] carries it.
//!
//! [`Adapter`] puts the four behind one type for the steps they all have.
//!
//! Modules: [`config`] endpoints and credentials; `http` the one HTTP client (no
//! redirects) and its bridge to the `oauth2` crate; `oauth` the OAuth steps providers
//! share; `classify` what classifiers share; one module per provider. No other crate talks
//! to a provider.

mod adapter;
mod break_reason;
mod classify;
pub mod config;
mod error;
mod facebook;
mod http;
mod instagram;
mod linkedin;
mod oauth;
mod provider;
mod types;
mod x;

pub use adapter::{Adapter, PostAs};
pub use break_reason::{BreakReason, UnknownBreakReason};
pub use classify::{
    classify, classify_transport, Classification, Confirm, Endpoint, FailedResponse,
};
pub use config::{Credentials, ProviderConfig, ProviderEndpoints, GRAPH_VERSION};
pub use error::{Error, Problem};
pub use facebook::{Facebook, FacebookLogin};
pub use http::Http;
pub use instagram::{Instagram, PublishingLimit};
pub use linkedin::{Author, LinkedIn, LINKEDIN_VERSION};
pub use oauth::{Authorization, ScopeSet, TokenSet};
pub use provider::{Provider, UnknownProvider};
pub use types::{Identity, Page, PostContent, Published, RecentPost};
pub use x::X;
