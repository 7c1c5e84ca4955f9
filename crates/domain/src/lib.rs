//! Apostle's domain: identifiers and the small value types that must be valid
//! before anything else may hold them (parse, don't validate). No I/O here.

mod ids;
mod values;

pub use ids::{ApiTokenId, EmailId, InviteId, JobId, TeamId, UserId};
pub use values::{EmailAddress, InvalidValue, LocalPath, PersonName, Role, TeamName, TeamSlug};
