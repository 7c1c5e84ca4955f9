//! Password hashing with argon2id, on a blocking thread so the async
//! runtime keeps serving while a hash is computed.

use crate::error::{CoreError, CoreResult};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use secrecy::{ExposeSecret, SecretString};
use std::sync::OnceLock;

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks the length rules a new password must meet.
pub fn check_new_password(password: &SecretString) -> CoreResult<()> {
    let p = password.expose_secret();
    if p.chars().count() < MIN_PASSWORD_CHARS {
        return Err(apostle_domain::InvalidValue {
            field: "password",
            reason: "must be at least 10 characters",
        }
        .into());
    }
    if p.len() > MAX_PASSWORD_BYTES {
        return Err(apostle_domain::InvalidValue {
            field: "password",
            reason: "is longer than 1024 bytes",
        }
        .into());
    }
    Ok(())
}

pub async fn hash_password(password: SecretString) -> CoreResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| CoreError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| CoreError::Internal(format!("password hashing task: {e}")))?
}

/// Verifies against `stored`, or against a fixed dummy hash when there is no
/// user, so that an unknown email takes as long as a wrong password.
pub async fn verify_password(password: SecretString, stored: Option<String>) -> CoreResult<bool> {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => (dummy_hash().to_owned(), false),
        };
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| CoreError::Internal(format!("stored password hash unreadable: {e}")))?;
        let ok = Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(ok && real)
    })
    .await
    .map_err(|e| CoreError::Internal(format!("password verification task: {e}")))?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"apostle-no-such-user", &salt)
            .expect("argon2 with default parameters hashes")
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse battery".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(!verify_password("wrong horse battery".into(), Some(hash))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn no_stored_hash_never_verifies() {
        assert!(!verify_password("apostle-no-such-user".into(), None)
            .await
            .unwrap());
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check_new_password(&"short".into()).is_err());
        assert!(check_new_password(&"x".repeat(2000).into()).is_err());
        assert!(check_new_password(&"long enough pass".into()).is_ok());
    }
}
