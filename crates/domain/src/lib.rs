//! Apostle's domain: identifiers and the small value types that must be valid
//! before anything else may hold them (parse, don't validate). No I/O here.

mod ids;
mod values;

pub use ids::{
    AccountId, ApiTokenId, EmailId, EventId, FlowId, GrantId, InviteId, JobId, TeamId, UserId,
};
pub use values::{EmailAddress, InvalidValue, LocalPath, PersonName, Role, TeamName, TeamSlug};
