//! Teams and their members: creating teams, inviting people by email,
//! accepting invitations, changing roles and removing members. Every
//! operation checks the actor's role in that team first.

use crate::email::{queue_email, InviteEmail};
use crate::error::{CoreError, CoreResult};
use crate::passwords::{check_new_password, hash_password, verify_password};
use crate::secrets::{random_token, token_hash};
use crate::store::{Invite, Member, MemberChange, NewInvite, Team, User};
use crate::Core;
use apostle_domain::{EmailAddress, InviteId, PersonName, Role, TeamName, TeamSlug, UserId};
use secrecy::SecretString;

/// A user acting inside a team they belong to.
#[derive(Debug, Clone)]
pub struct TeamAccess {
    pub team: Team,
    pub user: User,
    pub role: Role,
}

impl TeamAccess {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub(crate) fn require_admin(&self) -> CoreResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(CoreError::Forbidden)
        }
    }
}

/// An invitation just created; the link carries the only copy of its token.
pub struct SentInvite {
    pub invite: Invite,
    pub link: String,
}

/// What the invite page shows before accepting.
pub struct InviteView {
    pub invite: Invite,
    pub team: Team,
    /// Whether the invitee already has an account (then they confirm with
    /// their current password instead of choosing one).
    pub existing_user: bool,
}

impl Core {
    pub async fn create_team(&self, slug: &str, name: &str) -> CoreResult<Team> {
        let slug = TeamSlug::parse(slug)?;
        let name = TeamName::parse(name)?;
        let mut tx = self.store.begin().await?;
        let team = tx.create_team(&slug, &name, self.clock.now()).await?;
        tx.commit().await?;
        Ok(team)
    }

    /// Creates the user (or sets the password of an existing one) and puts
    /// them in the team with `role`. Used to bootstrap an install.
    pub async fn add_user(
        &self,
        team_slug: &str,
        email: &str,
        name: &str,
        role: Role,
        password: SecretString,
    ) -> CoreResult<User> {
        let slug = TeamSlug::parse(team_slug)?;
        let email = EmailAddress::parse(email)?;
        let name = PersonName::parse(name)?;
        check_new_password(&password)?;
        let hash = hash_password(password).await?;
        let mut tx = self.store.begin().await?;
        let team = tx
            .team_by_slug(&slug)
            .await?
            .ok_or(CoreError::NotFound("team"))?;
        let user = match tx.user_by_email(&email).await? {
            Some(user) => {
                tx.set_password_hash(user.id, &hash).await?;
                tx.set_user_name(user.id, &name).await?;
                user
            }
            None => {
                tx.create_user(&email, &name, Some(&hash), self.clock.now())
                    .await?
            }
        };
        tx.upsert_member(team.id, user.id, role).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The user's access to a team, or `NotFound` when they are not a
    /// member: outsiders cannot tell a foreign team from a missing one.
    pub async fn team_access(&self, team_slug: &str, user: &User) -> CoreResult<TeamAccess> {
        let slug = TeamSlug::parse(team_slug).map_err(|_| CoreError::NotFound("team"))?;
        let mut tx = self.store.begin_read().await?;
        let team = tx
            .team_by_slug(&slug)
            .await?
            .ok_or(CoreError::NotFound("team"))?;
        let role = tx
            .member_role(team.id, user.id)
            .await?
            .ok_or(CoreError::NotFound("team"))?;
        Ok(TeamAccess {
            team,
            user: user.clone(),
            role,
        })
    }

    pub async fn members(&self, access: &TeamAccess) -> CoreResult<Vec<Member>> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx.list_members(access.team.id).await?)
    }

    pub async fn open_invites(&self, access: &TeamAccess) -> CoreResult<Vec<Invite>> {
        access.require_admin()?;
        let mut tx = self.store.begin_read().await?;
        Ok(tx
            .list_open_invites(access.team.id, self.clock.now())
            .await?)
    }

    /// Invites someone by email: stores the invitation and its email in one
    /// transaction.
    pub async fn invite(
        &self,
        access: &TeamAccess,
        email: &str,
        name: &str,
        role: Role,
    ) -> CoreResult<SentInvite> {
        access.require_admin()?;
        let email = EmailAddress::parse(email)?;
        let name = PersonName::parse(name)?;
        self.send_invite(access, email, name, role, None).await
    }

    /// Sends an open invitation again with a fresh link and expiry; the
    /// old link stops working.
    pub async fn resend_invite(
        &self,
        access: &TeamAccess,
        invite: InviteId,
    ) -> CoreResult<SentInvite> {
        access.require_admin()?;
        let open = {
            let mut tx = self.store.begin_read().await?;
            tx.list_open_invites(access.team.id, self.clock.now())
                .await?
        };
        let old = open
            .into_iter()
            .find(|i| i.id == invite)
            .ok_or(CoreError::NotFound("invitation"))?;
        self.send_invite(access, old.email, old.name, old.role, Some(old.id))
            .await
    }

    /// Stores an invitation (replacing `replaces`) and its email in one
    /// transaction.
    async fn send_invite(
        &self,
        access: &TeamAccess,
        email: EmailAddress,
        name: PersonName,
        role: Role,
        replaces: Option<InviteId>,
    ) -> CoreResult<SentInvite> {
        let token = random_token();
        let now = self.clock.now();
        let new = NewInvite {
            email: email.clone(),
            name: name.clone(),
            role,
            token_hash: token_hash(&token),
            invited_by: access.user.id,
            created_at: now,
            expires_at: now + self.settings.invite_ttl,
        };
        let link = self.settings.link(&format!("/invites/{token}"));
        let mut tx = self.store.begin().await?;
        if let Some(old) = replaces {
            if !tx.delete_invite(access.team.id, old).await? {
                return Err(CoreError::NotFound("invitation"));
            }
        }
        if let Some(existing) = tx.user_by_email(&email).await? {
            if tx.member_role(access.team.id, existing.id).await?.is_some() {
                return Err(CoreError::Conflict(
                    "that person is already a member of this team",
                ));
            }
        }
        let invite = tx.create_invite(access.team.id, &new).await?;
        let expires = new.expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
        let message = InviteEmail {
            team_name: access.team.name.as_str(),
            inviter_name: access.user.name.as_str(),
            invitee_name: name.as_str(),
            role: role.as_str(),
            link: &link,
            expires: &expires,
        };
        queue_email(
            &mut *tx,
            self,
            &email,
            &message,
            Some(format!("invite:{}", invite.id)),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(SentInvite { invite, link })
    }

    pub async fn cancel_invite(&self, access: &TeamAccess, invite: InviteId) -> CoreResult<()> {
        access.require_admin()?;
        let mut tx = self.store.begin().await?;
        let deleted = tx.delete_invite(access.team.id, invite).await?;
        tx.commit().await?;
        if deleted {
            Ok(())
        } else {
            Err(CoreError::NotFound("invitation"))
        }
    }

    /// The invitation behind a link, if it can still be accepted.
    pub async fn open_invite(&self, token: &str) -> CoreResult<InviteView> {
        let mut tx = self.store.begin_read().await?;
        let invite = tx
            .invite_by_token_hash(&token_hash(token))
            .await?
            .ok_or(CoreError::NotFound("invitation"))?;
        check_invite_open(&invite, self.clock.now())?;
        let team = tx
            .team_by_id(invite.team_id)
            .await?
            .ok_or(CoreError::NotFound("team"))?;
        let existing_user = tx.user_by_email(&invite.email).await?.is_some();
        Ok(InviteView {
            invite,
            team,
            existing_user,
        })
    }

    /// Accepts an invitation: a new user chooses a password; an existing
    /// user confirms with theirs. Single use: a second acceptance fails and
    /// changes nothing.
    pub async fn accept_invite(
        &self,
        token: &str,
        password: SecretString,
    ) -> CoreResult<(User, Team)> {
        let view = self.open_invite(token).await?;
        let existing = {
            let mut tx = self.store.begin_read().await?;
            tx.user_by_email(&view.invite.email).await?
        };
        let new_hash = match &existing {
            Some(user) => {
                if !verify_password(password, user.password_hash.clone()).await? {
                    return Err(CoreError::BadCredentials);
                }
                None
            }
            None => {
                check_new_password(&password)?;
                Some(hash_password(password).await?)
            }
        };
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tx.mark_invite_accepted(view.invite.id, now).await? {
            return Err(CoreError::InviteUsed);
        }
        let user = match (existing, new_hash) {
            (Some(user), _) => user,
            (None, hash) => {
                tx.create_user(&view.invite.email, &view.invite.name, hash.as_deref(), now)
                    .await?
            }
        };
        if tx.member_role(view.team.id, user.id).await?.is_none() {
            tx.upsert_member(view.team.id, user.id, view.invite.role)
                .await?;
        }
        tx.commit().await?;
        Ok((user, view.team))
    }

    pub async fn change_role(
        &self,
        access: &TeamAccess,
        member: UserId,
        role: Role,
    ) -> CoreResult<()> {
        access.require_admin()?;
        let mut tx = self.store.begin().await?;
        let change = tx.set_member_role(access.team.id, member, role).await?;
        member_changed(change)?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_member(&self, access: &TeamAccess, member: UserId) -> CoreResult<()> {
        access.require_admin()?;
        let mut tx = self.store.begin().await?;
        let change = tx.remove_member(access.team.id, member).await?;
        member_changed(change)?;
        tx.commit().await?;
        Ok(())
    }
}

fn check_invite_open(invite: &Invite, now: chrono::DateTime<chrono::Utc>) -> CoreResult<()> {
    if invite.accepted_at.is_some() {
        return Err(CoreError::InviteUsed);
    }
    if invite.expires_at <= now {
        return Err(CoreError::InviteExpired);
    }
    Ok(())
}

fn member_changed(change: MemberChange) -> CoreResult<()> {
    match change {
        MemberChange::Done => Ok(()),
        MemberChange::NotMember => Err(CoreError::NotFound("member")),
        MemberChange::LastAdmin => Err(CoreError::LastAdmin),
    }
}
