//! What the layout of every signed-in page shows besides the page itself:
//! the member's teams, their broken connections (the banner that offers to
//! fix them) and how many suggestions wait in their inbox. Read together, in
//! one transaction, because every page pays for it.

use crate::connections::{Connection, ConnectionFilter};
use crate::error::CoreResult;
use crate::store::{ConnectionStatus, TeamRole};
use crate::teams::TeamAccess;
use crate::Core;

/// The Inbox link counts this far ("99+" beyond): a member with a thousand
/// suggestions would otherwise have each one counted on every page.
pub const INBOX_COUNT_CAP: i64 = 100;

/// The layout's reads for one member in one team.
pub struct Layout {
    pub teams: Vec<TeamRole>,
    /// Every connection of the member's that is broken.
    pub broken: Vec<Connection>,
    /// Current suggestions in the member's inbox of this team, up to
    /// [`INBOX_COUNT_CAP`].
    pub inbox_count: usize,
}

impl Core {
    pub async fn layout(&self, access: &TeamAccess) -> CoreResult<Layout> {
        let now = self.clock.now();
        let user = access.user.id;
        let mut tx = self.store.begin_read().await?;
        let teams = tx.teams_of_user(user).await?;
        let broken_only = ConnectionFilter {
            status: Some(ConnectionStatus::Broken),
            ..Default::default()
        };
        let broken = self
            .connections_in(&mut *tx, user, &teams, &broken_only)
            .await?;
        let inbox_count = tx
            .inbox_count(access.team.id, user, now, INBOX_COUNT_CAP)
            .await?;
        Ok(Layout {
            teams,
            broken,
            inbox_count: usize::try_from(inbox_count).unwrap_or(0),
        })
    }
}
