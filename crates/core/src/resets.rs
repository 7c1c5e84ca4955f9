//! Forgotten passwords: a single-use link by email, valid for an hour.
//! Asking never reveals whether an address has an account.

use crate::email::{queue_email, PasswordResetEmail};
use crate::error::{CoreError, CoreResult};
use crate::passwords::{check_new_password, hash_password};
use crate::secrets::{random_token, token_hash};
use crate::store::User;
use crate::Core;
use apostle_domain::EmailAddress;
use secrecy::SecretString;

/// How long a reset link works.
pub const RESET_TTL_MINUTES: i64 = 60;

impl Core {
    /// Emails a reset link if `email` belongs to a user; does nothing
    /// (and says nothing different) otherwise.
    pub async fn request_password_reset(&self, email: &str) -> CoreResult<()> {
        let Ok(email) = EmailAddress::parse(email) else {
            return Ok(());
        };
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let Some(user) = tx.user_by_email(&email).await? else {
            return Ok(());
        };
        let token = random_token();
        let expires_at = now + chrono::Duration::minutes(RESET_TTL_MINUTES);
        tx.create_password_reset(user.id, &token_hash(&token), now, expires_at)
            .await?;
        let link = self.settings.link(&format!("/password/reset/{token}"));
        let expires = expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
        let message = PasswordResetEmail {
            name: user.name.as_str(),
            link: &link,
            expires: &expires,
        };
        queue_email(&mut *tx, self, &user.email, &message, None, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether a reset link can still be used.
    pub async fn check_password_reset(&self, token: &str) -> CoreResult<()> {
        let mut tx = self.store.begin_read().await?;
        match tx
            .password_reset_user(&token_hash(token), self.clock.now())
            .await?
        {
            Some(_) => Ok(()),
            None => Err(CoreError::ResetLinkClosed),
        }
    }

    /// Sets a new password through a reset link, once, and signs the user
    /// out everywhere, mobile apps included. Returns the user, to sign them
    /// in here.
    pub async fn reset_password(&self, token: &str, new: SecretString) -> CoreResult<User> {
        check_new_password(&new)?;
        self.check_password_reset(token).await?;
        let hash = hash_password(new).await?;
        let mut tx = self.store.begin().await?;
        let user = tx
            .use_password_reset(&token_hash(token), self.clock.now())
            .await?
            .ok_or(CoreError::ResetLinkClosed)?;
        tx.set_password_hash(user, &hash).await?;
        tx.delete_sessions_of_user(user).await?;
        tx.revoke_api_tokens_of_user(user, self.clock.now()).await?;
        let user = tx
            .user_by_id(user)
            .await?
            .ok_or(CoreError::NotFound("user"))?;
        tx.commit().await?;
        Ok(user)
    }
}
