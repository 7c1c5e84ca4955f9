//! Row identifiers as distinct types, so a team id can never be passed where a
//! user id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type!(
    /// A person who can sign in.
    UserId,
    /// A company using Apostle.
    TeamId,
    /// A pending invitation to join a team.
    InviteId,
    /// A bearer token issued to the mobile app.
    ApiTokenId,
    /// A durable unit of background work.
    JobId,
    /// A row of the email outbox.
    EmailId,
    /// One OAuth authorization at a provider for one external user.
    GrantId,
    /// Something to post as: a personal profile or a business page.
    AccountId,
    /// A started OAuth authorization, used once.
    FlowId,
    /// One entry of a connection's timeline.
    EventId,
    /// A suggestion by an admin to a team.
    PostId,
    /// One post offered to one member.
    DeliveryId,
    /// A suggestion to a business page waiting for its owner.
    ApprovalId,
    /// An image stored with a post, served at a public URL.
    ImageId,
    /// A team's saved set of UTM parameters.
    UtmPresetId,
    /// One account a member shares a post to: its own publish job and result.
    ShareTargetId,
);
