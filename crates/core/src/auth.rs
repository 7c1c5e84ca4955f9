//! Signing in: passwords, browser sessions and the mobile app's bearer tokens.

use crate::error::{CoreError, CoreResult};
use crate::passwords::{check_new_password, hash_password, verify_password};
use crate::secrets::{random_token, token_hash};
use crate::store::{ApiToken, Session, TeamRole, User};
use crate::teams::TeamAccess;
use crate::Core;
use apostle_domain::{ApiTokenId, EmailAddress, PersonName, UserId};
use chrono::{DateTime, Utc};
use secrecy::SecretString;

/// A session just started: the cookie value goes to the browser once.
pub struct NewSession {
    pub cookie: SecretString,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A bearer token just issued: shown to the client once, stored hashed.
pub struct IssuedToken {
    pub token: SecretString,
    pub record: ApiToken,
    pub user: User,
}

/// A caller of the JSON API, as its bearer token shows them.
#[derive(Debug, Clone)]
pub struct BearerSession {
    pub token: ApiToken,
    pub user: User,
    /// The user's teams with their role in each, ordered by name.
    pub teams: Vec<TeamRole>,
}

impl BearerSession {
    /// The caller's access to one of their teams, or `NotFound` as for
    /// [`Core::team_access`]: outsiders cannot tell a foreign team from a
    /// missing one.
    pub fn team_access(&self, team_slug: &str) -> CoreResult<TeamAccess> {
        let found = self
            .teams
            .iter()
            .find(|tr| tr.team.slug.as_str() == team_slug)
            .ok_or(CoreError::NotFound("team"))?;
        Ok(TeamAccess {
            team: found.team.clone(),
            user: self.user.clone(),
            role: found.role,
        })
    }
}

/// How precisely a bearer token's last use is kept (Personal Settings shows
/// it to the minute).
pub const TOKEN_USE_RESOLUTION: chrono::Duration = chrono::Duration::minutes(1);

/// A bearer token not used for this long expires: a lost phone's app stops
/// working by itself, while an app in use never has to sign in again.
pub const TOKEN_IDLE_EXPIRY: chrono::Duration = chrono::Duration::days(90);

impl Core {
    /// The user if the password is theirs. Unknown emails and malformed
    /// input get the same error after the same amount of work.
    pub async fn verify_credentials(
        &self,
        email: &str,
        password: SecretString,
    ) -> CoreResult<User> {
        let user = match EmailAddress::parse(email) {
            Ok(email) => {
                let mut tx = self.store.begin_read().await?;
                tx.user_by_email(&email).await?
            }
            Err(_) => None,
        };
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        if verify_password(password, stored).await? {
            user.ok_or(CoreError::BadCredentials)
        } else {
            Err(CoreError::BadCredentials)
        }
    }

    pub async fn start_session(&self, user: UserId) -> CoreResult<NewSession> {
        let cookie = random_token();
        let now = self.clock.now();
        let session = Session {
            user_id: user,
            csrf_token: random_token(),
            created_at: now,
            expires_at: now + self.settings.session_ttl,
        };
        let mut tx = self.store.begin().await?;
        tx.create_session(&token_hash(&cookie), &session).await?;
        tx.commit().await?;
        Ok(NewSession {
            cookie: cookie.into(),
            csrf_token: session.csrf_token,
            expires_at: session.expires_at,
        })
    }

    /// The live session behind a cookie value, with its user.
    pub async fn session(&self, cookie: &str) -> CoreResult<Option<(Session, User)>> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx
            .session_by_hash(&token_hash(cookie), self.clock.now())
            .await?)
    }

    pub async fn end_session(&self, cookie: &str) -> CoreResult<()> {
        let mut tx = self.store.begin().await?;
        tx.delete_session(&token_hash(cookie)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes sessions that have expired; returns how many.
    pub async fn purge_expired_sessions(&self) -> CoreResult<u64> {
        let mut tx = self.store.begin().await?;
        let purged = tx.delete_expired_sessions(self.clock.now()).await?;
        tx.commit().await?;
        Ok(purged)
    }

    /// Signs in the mobile app: a new bearer token for the user.
    pub async fn issue_api_token(
        &self,
        email: &str,
        password: SecretString,
        device_name: &str,
    ) -> CoreResult<IssuedToken> {
        let user = self.verify_credentials(email, password).await?;
        let name = device_name.trim();
        if name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(apostle_domain::InvalidValue {
                field: "device name",
                reason: "must be at most 100 printable characters",
            }
            .into());
        }
        let name = if name.is_empty() { "mobile app" } else { name };
        let token = format!("apo_{}", random_token());
        let mut tx = self.store.begin().await?;
        let record = tx
            .create_api_token(user.id, &token_hash(&token), name, self.clock.now())
            .await?;
        tx.commit().await?;
        Ok(IssuedToken {
            token: token.into(),
            record,
            user,
        })
    }

    /// Who calls with a bearer token, unless it was revoked or has not been
    /// used for [`TOKEN_IDLE_EXPIRY`]: the token,
    /// its user and the user's teams, read in one transaction because almost
    /// every API request needs all three. The token's last use is recorded
    /// at most once per [`TOKEN_USE_RESOLUTION`], so that requests read
    /// without queueing behind the database's writers.
    pub async fn authenticate_bearer(&self, token: &str) -> CoreResult<Option<BearerSession>> {
        let mut tx = self.store.begin_read().await?;
        let Some((mut record, user)) = tx.api_token_by_hash(&token_hash(token)).await? else {
            return Ok(None);
        };
        let teams = tx.teams_of_user(user.id).await?;
        tx.commit().await?;
        let now = self.clock.now();
        if record.last_used_at.unwrap_or(record.created_at) < now - TOKEN_IDLE_EXPIRY {
            return Ok(None);
        }
        let recent = now - TOKEN_USE_RESOLUTION;
        if record.last_used_at.is_none_or(|used| used < recent) {
            let mut tx = self.store.begin().await?;
            if tx.record_api_token_use(record.id, now, recent).await? {
                record.last_used_at = Some(now);
            }
            tx.commit().await?;
        }
        Ok(Some(BearerSession {
            token: record,
            user,
            teams,
        }))
    }

    pub async fn api_tokens(&self, user: UserId) -> CoreResult<Vec<ApiToken>> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx.list_api_tokens(user).await?)
    }

    pub async fn revoke_api_token(&self, user: UserId, token: ApiTokenId) -> CoreResult<()> {
        let mut tx = self.store.begin().await?;
        let revoked = tx.revoke_api_token(user, token, self.clock.now()).await?;
        tx.commit().await?;
        if revoked {
            Ok(())
        } else {
            Err(CoreError::NotFound("token"))
        }
    }

    /// The teams a user belongs to, with their role in each.
    pub async fn teams_of(&self, user: UserId) -> CoreResult<Vec<TeamRole>> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx.teams_of_user(user).await?)
    }

    pub async fn update_profile(&self, user: UserId, name: &str) -> CoreResult<()> {
        let name = PersonName::parse(name)?;
        let mut tx = self.store.begin().await?;
        tx.set_user_name(user, &name).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the password after checking the current one, and signs out
    /// every other browser and every mobile app.
    pub async fn change_password(
        &self,
        user: &User,
        current: SecretString,
        new: SecretString,
    ) -> CoreResult<()> {
        if !verify_password(current, user.password_hash.clone()).await? {
            return Err(CoreError::BadCredentials);
        }
        check_new_password(&new)?;
        let hash = hash_password(new).await?;
        let mut tx = self.store.begin().await?;
        tx.set_password_hash(user.id, &hash).await?;
        tx.delete_sessions_of_user(user.id).await?;
        tx.revoke_api_tokens_of_user(user.id, self.clock.now())
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
