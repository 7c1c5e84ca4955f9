//! Apostle's domain: identifiers and the small value types that must be valid
//! before anything else may hold them (parse, don't validate). No I/O here.

mod ids;
pub mod posts;
mod values;

pub use ids::{
    AccountId, ApiTokenId, ApprovalId, DeliveryId, EmailId, EventId, FlowId, GrantId, ImageId,
    InviteId, JobId, PostId, ShareTargetId, TeamId, UserId, UtmPresetId,
};
pub use posts::{
    ApprovalState, DeliveryState, DeliveryWindow, NotificationKind, PostStatus, Schedule,
    ShareStatus, TimeZoneName, Utm,
};
pub use values::{EmailAddress, InvalidValue, LocalPath, PersonName, Role, TeamName, TeamSlug};
