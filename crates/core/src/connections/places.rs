//! Where each sealed connection secret belongs. The keyring binds a sealed value to
//! its place (associated data), so a token copied into another row does not open. A
//! place is built from the row's natural key, which exists before the row is inserted
//! and never changes while the value is stored: sealing needs no second write, and
//! `apostle keys rotate` can rebuild every place from the row alone.

use apostle_domain::{TeamId, UserId};

/// A grant's `access` or `refresh` token: one login of one member at a provider.
pub fn grant_token(owner: UserId, provider: &str, external_user_id: &str, field: &str) -> String {
    format!("grant:{}:{provider}:{external_user_id}:{field}", owner.0)
}

/// A business page's own token (Facebook pages): one page of one team.
pub fn page_token(team: TeamId, provider: &str, external_id: &str) -> String {
    format!("account:{}:{provider}:{external_id}:page_token", team.0)
}

/// A flow's PKCE verifier, bound to the flow's state (its hash is the flow's key).
pub fn flow_verifier(state_hash: &str) -> String {
    format!("flow:{state_hash}:pkce")
}
