//! Password hashing with argon2id, on threads of its own so the async
//! runtime keeps serving while a hash is computed, and never more hashes at
//! once than the machine has cores.

use crate::error::{CoreError, CoreResult};
use argon2::password_hash::{
    rand_core::OsRng, Output, ParamsString, PasswordHash, Salt, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::cell::RefCell;
use std::sync::{mpsc, Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{oneshot, Semaphore};

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

/// How long a hash may wait for its turn before the request is turned away
/// with [`CoreError::Overloaded`].
const HASHING_WAIT: Duration = Duration::from_secs(2);

type Task = Box<dyn FnOnce() + Send>;

/// The threads that compute hashes: one per core, since more would not
/// finish any sooner, and a slot for each. Each hash holds argon2's 19 MiB
/// while it runs and sign-in needs no account, so without a bound a flood
/// of wrong sign-ins is a flood of memory. Threads of their own rather than
/// tokio's blocking pool, which starts new ones at will: each keeps its
/// argon2 memory for the next hash ([`MEMORY`]), so their number must stay
/// fixed.
struct HashingPool {
    slots: Semaphore,
    tasks: mpsc::Sender<Task>,
}

static POOL: LazyLock<HashingPool> = LazyLock::new(HashingPool::start);

impl HashingPool {
    fn start() -> HashingPool {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let (tasks, queue) = mpsc::channel::<Task>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("apostle-hashing-{n}"))
                .spawn(move || loop {
                    let next = queue.lock().map(|q| q.recv());
                    let Ok(Ok(task)) = next else { return };
                    task();
                })
                .expect("starting a password hashing thread");
        }
        HashingPool {
            slots: Semaphore::new(threads),
            tasks,
        }
    }
}

/// Runs `work` on a hashing thread once one is free.
async fn hashing<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> CoreResult<T> + Send + 'static,
) -> CoreResult<T> {
    let internal = |e: &dyn std::fmt::Display| CoreError::Internal(format!("{what}: {e}"));
    let Ok(slot) = tokio::time::timeout(HASHING_WAIT, POOL.slots.acquire()).await else {
        metrics::counter!("apostle_password_hashes_refused_total").increment(1);
        return Err(CoreError::Overloaded);
    };
    let slot = slot.map_err(|e| internal(&e))?;
    let (done, result) = oneshot::channel();
    let task: Task = Box::new(move || {
        // Held by the thread, not the request: a client that hangs up
        // must not free the slot while its hash still runs.
        let _slot = slot;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        let _ = done.send(outcome);
    });
    POOL.tasks.send(task).map_err(|e| internal(&e))?;
    match result.await.map_err(|e| internal(&e))? {
        Ok(outcome) => outcome,
        Err(_) => Err(internal(&"panicked")),
    }
}

thread_local! {
    /// Argon2's working memory, kept by each hashing thread for its next
    /// hash. Allocated afresh for every hash, the 19 MiB (aligned) blocks
    /// fragment the allocator, and resident memory climbs to several times
    /// what the hashes running at once need.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// What argon2's `PasswordHasher::hash_password` computes, in this thread's kept
/// memory.
fn argon2_output(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &SecretString,
    salt: Salt<'_>,
) -> argon2::password_hash::Result<Output> {
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    MEMORY.with_borrow_mut(|memory| {
        memory.resize(blocks, Block::default());
        Output::init_with(output_len, |out| {
            argon2
                .hash_password_into_with_memory(
                    password.expose_secret().as_bytes(),
                    salt,
                    out,
                    &mut memory[..],
                )
                .map_err(Into::into)
        })
    })
}

/// A fresh PHC string (argon2id, default parameters, random salt).
fn new_hash(password: &SecretString) -> argon2::password_hash::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let params = Params::default();
    let (algorithm, version) = (Algorithm::default(), Version::default());
    let hash = PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2_output(
            algorithm,
            version,
            params,
            password,
            salt.as_salt(),
        )?),
    };
    Ok(hash.to_string())
}

pub async fn hash_password(password: SecretString) -> CoreResult<String> {
    hashing("password hashing", move || {
        new_hash(&password)
            .map_err(|e| CoreError::Internal(format!("password hashing failed: {e}")))
    })
    .await
}

/// Verifies against `stored`, or against a fixed dummy hash when there is no
/// user, so that an unknown email takes as long as a wrong password.
pub async fn verify_password(password: SecretString, stored: Option<String>) -> CoreResult<bool> {
    hashing("password verification", move || {
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => (dummy_hash().to_owned(), false),
        };
        let unreadable = |e: &dyn std::fmt::Display| {
            CoreError::Internal(format!("stored password hash unreadable: {e}"))
        };
        let parsed = PasswordHash::new(&hash).map_err(|e| unreadable(&e))?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(unreadable(&"no salt or no hash"));
        };
        let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| unreadable(&e))?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).map_err(|e| unreadable(&e))?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).map_err(|e| unreadable(&e))?;
        // As in argon2's own verifier, a hash that cannot be computed
        // (an over-long password) is a mismatch.
        let ok = argon2_output(algorithm, version, params, &password, salt)
            .is_ok_and(|computed| computed == expected);
        Ok(ok && real)
    })
    .await
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        new_hash(&"apostle-no-such-user".into()).expect("argon2 with default parameters hashes")
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
    async fn hashes_stored_before_keep_verifying_and_new_ones_are_standard() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::generate(&mut OsRng);
        let earlier = Argon2::default()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(
            verify_password("correct horse battery".into(), Some(earlier))
                .await
                .unwrap()
        );
        let ours = hash_password("correct horse battery".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
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
