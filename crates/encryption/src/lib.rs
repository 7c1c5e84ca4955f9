//! Secrets at rest: AES-256-GCM with a keyring of named keys. The first key
//! encrypts; every key decrypts, so keys can be rotated without losing what
//! was written before. A sealed value is `len(key id) ‖ key id ‖ nonce ‖
//! ciphertext`, and the caller binds it to where it is stored through the
//! associated data (a row's identity), so a value copied elsewhere does not
//! open.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;

/// Why a keyring specification was refused. Entries are named by position,
/// never by content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("is empty")]
    Empty,
    #[error("entry {0} is not ID:BASE64KEY")]
    Shape(usize),
    #[error("entry {0} has an ID that is not 1 to 32 letters, digits, - or _")]
    Id(usize),
    #[error("entry {0} repeats an ID used before")]
    Repeated(usize),
    #[error("entry {0} has a key that is not base64")]
    Base64(usize),
    #[error("entry {0} has a key that is not 32 bytes (apostle keys generate makes one)")]
    Length(usize),
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the sealed value is truncated")]
    Truncated,
    #[error("the sealed value names key {0:?}, which is not in the keyring")]
    UnknownKey(String),
    #[error("the sealed value does not open with its key and place (tampered, or moved)")]
    Forged,
}

/// What [`Keyring::reseal_text`] made of a sealed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resealed {
    /// Sealed with the active key already; nothing to write.
    Current,
    /// Opened with an older key and sealed with the active one, for the
    /// same place.
    Under(String),
}

/// The signing key of a keyring entry: derived, so a leaked signature key
/// would not open sealed values.
fn signer_from(key: &[u8]) -> Hmac<Sha256> {
    let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    derive.update(b"apostle link signing");
    let derived = derive.finalize().into_bytes();
    <Hmac<Sha256> as Mac>::new_from_slice(&derived).expect("HMAC takes any key length")
}

/// Named AES-256-GCM keys; the first one seals.
pub struct Keyring {
    keys: Vec<(String, Aes256Gcm)>,
    /// Per key, an HMAC-SHA256 key derived from it for signing links.
    signers: Vec<Hmac<Sha256>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

impl Keyring {
    /// Parses `ID:BASE64KEY[,ID:BASE64KEY…]`, 32-byte keys, the first active.
    pub fn parse(spec: &SecretString) -> Result<Keyring, KeyringError> {
        let mut keys: Vec<(String, Aes256Gcm)> = Vec::new();
        let mut signers = Vec::new();
        for (n, entry) in spec.expose_secret().split(',').map(str::trim).enumerate() {
            let position = n + 1;
            if entry.is_empty() {
                continue;
            }
            let (id, key) = entry.split_once(':').ok_or(KeyringError::Shape(position))?;
            if id.is_empty()
                || id.len() > 32
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(KeyringError::Id(position));
            }
            if keys.iter().any(|(known, _)| known == id) {
                return Err(KeyringError::Repeated(position));
            }
            let bytes = STANDARD
                .decode(key.trim())
                .map_err(|_| KeyringError::Base64(position))?;
            let cipher =
                Aes256Gcm::new_from_slice(&bytes).map_err(|_| KeyringError::Length(position))?;
            keys.push((id.to_owned(), cipher));
            signers.push(signer_from(&bytes));
        }
        if keys.is_empty() {
            return Err(KeyringError::Empty);
        }
        Ok(Keyring { keys, signers })
    }

    /// A fresh keyring entry `ID:BASE64KEY` with a random key.
    pub fn generate_entry(id: &str) -> SecretString {
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        format!("{id}:{}", STANDARD.encode(key)).into()
    }

    /// Signs `message` with the active key: `KEYID.TAG` (URL-safe), for
    /// links that must not be forged or altered.
    pub fn sign(&self, message: &[u8]) -> String {
        let mut mac = self.signers[0].clone();
        mac.update(message);
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{}.{tag}", self.keys[0].0)
    }

    /// Whether `signature` is [`sign`](Self::sign)'s of `message` under any
    /// key of the ring (so links outlive a rotation), compared in constant
    /// time.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Some((id, tag)) = signature.split_once('.') else {
            return false;
        };
        let Some(n) = self.keys.iter().position(|(known, _)| known == id) else {
            return false;
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        let mut mac = self.signers[n].clone();
        mac.update(message);
        mac.verify_slice(&tag).is_ok()
    }

    /// The id of the key that seals.
    pub fn active_key_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Seals `plaintext` with the active key, bound to `place`.
    pub fn seal(&self, plaintext: &[u8], place: &[u8]) -> Vec<u8> {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: place,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut sealed = Vec::with_capacity(1 + id.len() + NONCE_LEN + ciphertext.len());
        sealed.push(id.len() as u8);
        sealed.extend_from_slice(id.as_bytes());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Opens what [`Keyring::seal`] made for the same `place`, with whichever
    /// key sealed it.
    pub fn open(&self, sealed: &[u8], place: &[u8]) -> Result<Vec<u8>, OpenError> {
        let Parts {
            key_id,
            nonce,
            ciphertext,
        } = split(sealed)?;
        let id = String::from_utf8_lossy(key_id);
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(known, _)| *known == id)
            .ok_or_else(|| OpenError::UnknownKey(id.into_owned()))?;
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: place,
                },
            )
            .map_err(|_| OpenError::Forged)
    }

    /// [`Keyring::seal`] as base64 text, for text columns.
    pub fn seal_text(&self, plaintext: &str, place: &str) -> String {
        STANDARD.encode(self.seal(plaintext.as_bytes(), place.as_bytes()))
    }

    /// Opens what [`Keyring::seal_text`] made.
    pub fn open_text(&self, sealed: &str, place: &str) -> Result<String, OpenError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| OpenError::Truncated)?;
        let plain = self.open(&bytes, place.as_bytes())?;
        String::from_utf8(plain).map_err(|_| OpenError::Forged)
    }

    /// Brings what [`Keyring::seal_text`] made under the active key, for the
    /// same place: rotation. A value already under the active key must
    /// still open to count as current, so a damaged one is reported either
    /// way rather than carried along.
    pub fn reseal_text(&self, sealed: &str, place: &str) -> Result<Resealed, OpenError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| OpenError::Truncated)?;
        let plain = Zeroizing::new(self.open(&bytes, place.as_bytes())?);
        if split(&bytes)?.key_id == self.active_key_id().as_bytes() {
            return Ok(Resealed::Current);
        }
        Ok(Resealed::Under(
            STANDARD.encode(self.seal(&plain, place.as_bytes())),
        ))
    }
}

/// The parts of a sealed value.
struct Parts<'a> {
    key_id: &'a [u8],
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

fn split(sealed: &[u8]) -> Result<Parts<'_>, OpenError> {
    let (&id_len, rest) = sealed.split_first().ok_or(OpenError::Truncated)?;
    let id_len = usize::from(id_len);
    if rest.len() < id_len + NONCE_LEN {
        return Err(OpenError::Truncated);
    }
    let (key_id, rest) = rest.split_at(id_len);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    Ok(Parts {
        key_id,
        nonce,
        ciphertext,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(spec: &str) -> Keyring {
        Keyring::parse(&spec.to_owned().into()).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_in_its_place_and_hides_the_plaintext() {
        let keys = ring(Keyring::generate_entry("k1").expose_secret());
        let sealed = keys.seal(b"invite link token", b"email:1");
        assert!(!sealed.windows(6).any(|w| w == b"invite"));
        assert_eq!(
            keys.open(&sealed, b"email:1").unwrap(),
            b"invite link token"
        );
        assert_eq!(keys.open(&sealed, b"email:2"), Err(OpenError::Forged));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(keys.open(&tampered, b"email:1"), Err(OpenError::Forged));
        assert_eq!(
            keys.open(&sealed[..5], b"email:1"),
            Err(OpenError::Truncated)
        );
    }

    #[test]
    fn a_signature_verifies_under_every_key_of_the_ring_and_nothing_altered_does() {
        let old = Keyring::generate_entry("k1");
        let keys = ring(old.expose_secret());
        let signature = keys.sign(b"reject:7:3");
        assert!(keys.verify(b"reject:7:3", &signature));
        assert!(!keys.verify(b"reject:7:4", &signature));
        let mut forged = signature.clone();
        forged.pop();
        forged.push(if signature.ends_with('A') { 'B' } else { 'A' });
        assert!(!keys.verify(b"reject:7:3", &forged));
        assert!(!keys.verify(b"reject:7:3", "k9.AAAA"));
        assert!(!keys.verify(b"reject:7:3", "no-dot"));
        let rotated = ring(&format!(
            "{},{}",
            Keyring::generate_entry("k2").expose_secret(),
            old.expose_secret()
        ));
        assert!(rotated.verify(b"reject:7:3", &signature));
        assert!(rotated.sign(b"x").starts_with("k2."));
    }

    #[test]
    fn sealing_twice_gives_different_values() {
        let keys = ring(Keyring::generate_entry("k1").expose_secret());
        assert_ne!(keys.seal(b"same", b"p"), keys.seal(b"same", b"p"));
    }

    #[test]
    fn after_rotation_old_values_open_and_new_ones_use_the_new_key() {
        let old_entry = Keyring::generate_entry("old");
        let new_entry = Keyring::generate_entry("new");
        let before = ring(old_entry.expose_secret());
        let sealed_before = before.seal_text("secret", "row:7");
        let after = ring(&format!(
            "{},{}",
            new_entry.expose_secret(),
            old_entry.expose_secret()
        ));
        assert_eq!(after.active_key_id(), "new");
        assert_eq!(after.open_text(&sealed_before, "row:7").unwrap(), "secret");
        let sealed_after = after.seal_text("secret", "row:7");
        assert_eq!(
            before.open_text(&sealed_after, "row:7"),
            Err(OpenError::UnknownKey("new".to_owned()))
        );
    }

    #[test]
    fn resealing_moves_old_values_to_the_active_key_and_leaves_current_ones() {
        let old_entry = Keyring::generate_entry("old");
        let new_entry = Keyring::generate_entry("new");
        let before = ring(old_entry.expose_secret());
        let after = ring(&format!(
            "{},{}",
            new_entry.expose_secret(),
            old_entry.expose_secret()
        ));
        let sealed = before.seal_text("refresh token", "grant:1:x:42:refresh");
        let Resealed::Under(resealed) = after.reseal_text(&sealed, "grant:1:x:42:refresh").unwrap()
        else {
            panic!("a value under the old key is sealed again");
        };
        let new_only = ring(new_entry.expose_secret());
        assert_eq!(
            new_only
                .open_text(&resealed, "grant:1:x:42:refresh")
                .unwrap(),
            "refresh token"
        );
        assert_eq!(
            after.reseal_text(&resealed, "grant:1:x:42:refresh"),
            Ok(Resealed::Current)
        );
        assert_eq!(
            after.reseal_text(&sealed, "grant:2:x:42:refresh"),
            Err(OpenError::Forged),
            "a value that does not open in its place is not resealed"
        );
        assert_eq!(
            new_only.reseal_text(&sealed, "grant:1:x:42:refresh"),
            Err(OpenError::UnknownKey("old".to_owned()))
        );
    }

    #[test]
    fn bad_specifications_name_the_entry_not_the_key() {
        let good = Keyring::generate_entry("a");
        let cases = [
            ("", KeyringError::Empty),
            ("nokey", KeyringError::Shape(1)),
            (
                &format!("{},bad id:AAAA", good.expose_secret()) as &str,
                KeyringError::Id(2),
            ),
            (
                &format!("{},{}", good.expose_secret(), good.expose_secret()),
                KeyringError::Repeated(2),
            ),
            ("k:not base64!", KeyringError::Base64(1)),
            ("k:AAAA", KeyringError::Length(1)),
        ];
        for (spec, expected) in cases {
            let err = Keyring::parse(&spec.to_owned().into()).unwrap_err();
            assert_eq!(err, expected, "{spec}");
        }
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let entry = Keyring::generate_entry("k1");
        let keys = ring(entry.expose_secret());
        let shown = format!("{keys:?}");
        assert_eq!(shown, "Keyring { key_ids: [\"k1\"] }");
    }
}
