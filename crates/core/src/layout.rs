//! What the layout of every signed-in page shows besides the page itself:
//! the member's teams, their broken connections (the banner that offers to
//! fix them) and how many suggestions wait in their inbox. Every page pays
//! for it, so one statement counts all three, and the lists behind the
//! counts are read only when there is something to show: another team to
//! switch to, a broken connection.

use crate::connections::{Connection, ConnectionFilter};
use crate::error::{CoreError, CoreResult};
use crate::store::{ConnectionStatus, LayoutCounts, Session, TeamRole, Tx};
use crate::teams::TeamAccess;
use crate::Core;
use apostle_domain::{TeamSlug, TimeZoneName};

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

/// A signed-in member's page in a team, before its own content.
pub struct TeamPage {
    pub session: Session,
    pub access: TeamAccess,
    pub zone: TimeZoneName,
    pub layout: Layout,
}

impl Core {
    pub async fn layout(&self, access: &TeamAccess) -> CoreResult<Layout> {
        let mut tx = self.store.begin_read().await?;
        let counts = tx
            .layout_counts(
                access.team.id,
                access.user.id,
                self.clock.now(),
                INBOX_COUNT_CAP,
            )
            .await?;
        self.layout_in(&mut *tx, access, counts).await
    }

    /// The session whose cookie hashes to `session_hash`, the member's place
    /// in the team `team_slug`, their time zone and the layout, in `tx`: none
    /// when the session is missing or expired, not found when they are not
    /// in that team.
    pub(crate) async fn team_page_in(
        &self,
        tx: &mut dyn Tx,
        session_hash: &str,
        team_slug: &str,
    ) -> CoreResult<Option<TeamPage>> {
        let now = self.clock.now();
        let Ok(slug) = TeamSlug::parse(team_slug) else {
            // No such team; whether to say so or to ask for a sign-in first
            // is the session's to tell.
            return match tx.session_by_hash(session_hash, now).await? {
                Some(_) => Err(CoreError::NotFound("team")),
                None => Ok(None),
            };
        };
        let Some(context) = tx
            .page_context(session_hash, &slug, now, INBOX_COUNT_CAP)
            .await?
        else {
            return Ok(None);
        };
        let membership = context.membership.ok_or(CoreError::NotFound("team"))?;
        let access = TeamAccess {
            team: membership.team,
            user: context.user,
            role: membership.role,
        };
        let zone = crate::posts::stored_zone(&context.time_zone);
        let layout = self.layout_in(tx, &access, context.counts).await?;
        Ok(Some(TeamPage {
            session: context.session,
            access,
            zone,
            layout,
        }))
    }

    /// The lists behind the layout's counts, read only when not empty.
    async fn layout_in(
        &self,
        tx: &mut dyn Tx,
        access: &TeamAccess,
        counts: LayoutCounts,
    ) -> CoreResult<Layout> {
        let user = access.user.id;
        let teams = if counts.teams > 1 {
            tx.teams_of_user(user).await?
        } else {
            vec![TeamRole {
                team: access.team.clone(),
                role: access.role,
            }]
        };
        let broken = if counts.broken > 0 {
            let broken_only = ConnectionFilter {
                status: Some(ConnectionStatus::Broken),
                ..Default::default()
            };
            self.connections_in(tx, user, &teams, &broken_only).await?
        } else {
            Vec::new()
        };
        Ok(Layout {
            teams,
            broken,
            inbox_count: usize::try_from(counts.inbox).unwrap_or(0),
        })
    }
}
