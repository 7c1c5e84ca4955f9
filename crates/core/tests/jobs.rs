//! The job runner and the email outbox against a real (SQLite) store, with
//! a clock the tests move instead of sleeping.

use apostle_core::clock::ManualClock;
use apostle_core::email::{queue_email, InviteEmail, Mailer};
use apostle_core::jobs::{enqueue, BackgroundJob, JobContext, JobError, Runner, RunnerConfig};
use apostle_core::store::{EmailState, JobState};
use apostle_core::{Clock, Core, CoreSettings};
use apostle_domain::EmailAddress;
use apostle_store_sqlite::SqliteStore;
use chrono::{Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

fn test_keyring() -> apostle_encryption::Keyring {
    apostle_encryption::Keyring::parse(&apostle_encryption::Keyring::generate_entry("test"))
        .unwrap()
}

async fn core_with(mailer: Mailer) -> (Core, ManualClock) {
    let dir = std::env::temp_dir().join(format!(
        "apostle-core-{}",
        apostle_core::secrets::random_token()
    ));
    let store = SqliteStore::connect(&format!("sqlite://{}", dir.join("t.db").display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap());
    let core = Core {
        store: Arc::new(store),
        clock: Arc::new(clock.clone()),
        mailer,
        keyring: Arc::new(test_keyring()),
        settings: Arc::new(CoreSettings {
            public_url: "http://127.0.0.1:8080".parse().unwrap(),
            mail_from: "Apostle <apostle@localhost>".parse().unwrap(),
            invite_ttl: Duration::days(7),
            session_ttl: Duration::days(30),
        }),
    };
    (core, clock)
}

/// Runs recorded per test name, so tests in parallel stay apart.
fn runs() -> &'static Mutex<HashMap<String, i32>> {
    static RUNS: OnceLock<Mutex<HashMap<String, i32>>> = OnceLock::new();
    RUNS.get_or_init(Mutex::default)
}

fn run_count(name: &str) -> i32 {
    runs().lock().unwrap().get(name).copied().unwrap_or(0)
}

/// Fails `failures` times, then succeeds.
#[derive(Serialize, Deserialize)]
struct Flaky {
    name: String,
    failures: i32,
    permanent: bool,
}

impl BackgroundJob for Flaky {
    const KIND: &'static str = "test_flaky";
    const MAX_ATTEMPTS: i32 = 3;

    fn dedupe_key(&self) -> Option<String> {
        Some(self.name.clone())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let n = {
            let mut map = runs().lock().unwrap();
            let n = map.entry(self.name.clone()).or_default();
            *n += 1;
            *n
        };
        assert_eq!(ctx.attempt, n, "the attempt number counts runs");
        if self.permanent {
            Err(JobError::Permanent("cannot ever work".into()))
        } else if n <= self.failures {
            Err(JobError::Retry(format!("failure {n}")))
        } else {
            Ok(())
        }
    }
}

async fn submit(core: &Core, job: &Flaky) -> bool {
    let mut tx = core.store.begin().await.unwrap();
    let id = enqueue(&mut *tx, job, core.clock.now()).await.unwrap();
    tx.commit().await.unwrap();
    id.is_some()
}

fn runner(core: &Core) -> Runner {
    Runner::new(core.clone(), RunnerConfig::default()).register::<Flaky>()
}

async fn jobs_in(core: &Core, state: JobState) -> Vec<apostle_core::store::Job> {
    let mut tx = core.store.begin_read().await.unwrap();
    tx.list_jobs(state, 100).await.unwrap()
}

#[tokio::test]
async fn a_failing_job_is_retried_after_backoff_and_then_completes() {
    let (core, clock) = core_with(Mailer::memory()).await;
    let job = Flaky {
        name: "retried".into(),
        failures: 2,
        permanent: false,
    };
    assert!(submit(&core, &job).await);
    let runner = runner(&core);
    assert_eq!(runner.run_pending().await.unwrap(), 1);
    assert_eq!(run_count("retried"), 1);
    assert_eq!(
        runner.run_pending().await.unwrap(),
        0,
        "not due before its backoff"
    );
    clock.advance(Duration::seconds(5));
    assert_eq!(runner.run_pending().await.unwrap(), 1);
    let pending = jobs_in(&core, JobState::Pending).await;
    assert_eq!(pending[0].last_error.as_deref(), Some("failure 2"));
    assert_eq!(
        pending[0].run_at,
        clock.now() + Duration::seconds(10),
        "backoff doubles"
    );
    clock.advance(Duration::seconds(10));
    assert_eq!(runner.run_pending().await.unwrap(), 1);
    assert_eq!(run_count("retried"), 3);
    assert!(jobs_in(&core, JobState::Pending).await.is_empty());
    assert!(jobs_in(&core, JobState::Dead).await.is_empty());
}

#[tokio::test]
async fn a_job_that_keeps_failing_is_dead_after_its_attempts_and_kept() {
    let (core, clock) = core_with(Mailer::memory()).await;
    submit(
        &core,
        &Flaky {
            name: "doomed".into(),
            failures: 99,
            permanent: false,
        },
    )
    .await;
    let runner = runner(&core);
    for _ in 0..5 {
        runner.run_pending().await.unwrap();
        clock.advance(Duration::hours(1));
    }
    assert_eq!(run_count("doomed"), 3, "MAX_ATTEMPTS runs, no more");
    let dead = jobs_in(&core, JobState::Dead).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].last_error.as_deref(), Some("failure 3"));
}

#[tokio::test]
async fn a_permanent_failure_is_dead_at_once() {
    let (core, _) = core_with(Mailer::memory()).await;
    submit(
        &core,
        &Flaky {
            name: "permanent".into(),
            failures: 0,
            permanent: true,
        },
    )
    .await;
    runner(&core).run_pending().await.unwrap();
    assert_eq!(run_count("permanent"), 1);
    assert_eq!(jobs_in(&core, JobState::Dead).await.len(), 1);
}

#[tokio::test]
async fn a_second_enqueue_with_the_same_key_is_a_no_op_while_pending() {
    let (core, _) = core_with(Mailer::memory()).await;
    let job = Flaky {
        name: "deduped".into(),
        failures: 0,
        permanent: false,
    };
    assert!(submit(&core, &job).await);
    assert!(!submit(&core, &job).await);
    assert_eq!(runner(&core).run_pending().await.unwrap(), 1);
    assert_eq!(run_count("deduped"), 1);
    assert!(
        submit(&core, &job).await,
        "once done, the key is free again"
    );
}

#[tokio::test]
async fn a_job_of_an_unknown_kind_is_dead_not_lost() {
    let (core, _) = core_with(Mailer::memory()).await;
    submit(
        &core,
        &Flaky {
            name: "orphan".into(),
            failures: 0,
            permanent: false,
        },
    )
    .await;
    let bare = Runner::new(core.clone(), RunnerConfig::default());
    bare.run_pending().await.unwrap();
    let dead = jobs_in(&core, JobState::Dead).await;
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("no handler for job kind test_flaky")
    );
}

/// Never finishes on its own.
#[derive(Serialize, Deserialize)]
struct Endless;

impl BackgroundJob for Endless {
    const KIND: &'static str = "test_endless";

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[tokio::test]
async fn on_shutdown_an_unfinished_job_is_released_for_another_worker() {
    let (core, _) = core_with(Mailer::memory()).await;
    let mut tx = core.store.begin().await.unwrap();
    enqueue(&mut *tx, &Endless, core.clock.now()).await.unwrap();
    tx.commit().await.unwrap();
    let config = RunnerConfig {
        poll_interval: std::time::Duration::from_millis(10),
        shutdown_grace: std::time::Duration::from_millis(50),
        ..RunnerConfig::default()
    };
    let runner = Runner::new(core.clone(), config).register::<Endless>();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(runner.run(stopped));
    // Wait until the runner has claimed the job (observable state, not time).
    loop {
        if !jobs_in(&core, JobState::Running).await.is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    stop.send(true).unwrap();
    handle.await.unwrap();
    let pending = jobs_in(&core, JobState::Pending).await;
    assert_eq!(pending.len(), 1, "released back to pending");
    assert_eq!(pending[0].attempts, 0, "a released run is not counted");
    assert_eq!(
        core.store
            .claim_jobs(core.clock.now(), Duration::minutes(5), 10)
            .await
            .unwrap()
            .len(),
        1,
        "another worker can take it at once"
    );
}

fn invite_email() -> InviteEmail<'static> {
    InviteEmail {
        team_name: "Acme",
        inviter_name: "Ada Admin",
        invitee_name: "Amy",
        role: "ambassador",
        link: "http://127.0.0.1:8080/invites/token",
        expires: "2026-12-02 09:00 UTC",
    }
}

/// Queues the invitation email to amy@acme.example and commits.
async fn queue_invite_email(core: &Core, dedupe_key: Option<&str>) -> EmailAddress {
    let to = EmailAddress::parse("amy@acme.example").unwrap();
    let mut tx = core.store.begin().await.unwrap();
    queue_email(
        &mut *tx,
        &core.keyring,
        &to,
        &invite_email(),
        dedupe_key.map(str::to_owned),
        core.clock.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    to
}

async fn email_state(core: &Core, to: &str) -> Vec<EmailState> {
    let mut tx = core.store.begin_read().await.unwrap();
    tx.emails_to(&EmailAddress::parse(to).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.state)
        .collect()
}

#[tokio::test]
async fn an_email_is_sent_once_even_when_queued_twice_with_one_key() {
    let mailer = Mailer::memory();
    let (core, _) = core_with(mailer.clone()).await;
    for _ in 0..2 {
        queue_invite_email(&core, Some("invite:1")).await;
    }
    Runner::with_all_jobs(core.clone(), RunnerConfig::default())
        .run_pending()
        .await
        .unwrap();
    let sent = mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "amy@acme.example");
    assert_eq!(
        email_state(&core, "amy@acme.example").await,
        vec![EmailState::Sent]
    );
}

#[tokio::test]
async fn an_email_queued_in_a_rolled_back_transaction_is_never_sent() {
    let mailer = Mailer::memory();
    let (core, _) = core_with(mailer.clone()).await;
    let to = EmailAddress::parse("amy@acme.example").unwrap();
    let mut tx = core.store.begin().await.unwrap();
    queue_email(
        &mut *tx,
        &core.keyring,
        &to,
        &invite_email(),
        None,
        core.clock.now(),
    )
    .await
    .unwrap();
    drop(tx);
    Runner::with_all_jobs(core.clone(), RunnerConfig::default())
        .run_pending()
        .await
        .unwrap();
    assert!(mailer.sent().is_empty());
    assert!(email_state(&core, "amy@acme.example").await.is_empty());
}

#[tokio::test]
async fn the_file_transport_writes_a_message_with_text_and_html_parts() {
    let dir = std::env::temp_dir().join(format!(
        "apostle-mail-{}",
        apostle_core::secrets::random_token()
    ));
    let (core, _) = core_with(Mailer::File(dir.clone())).await;
    queue_invite_email(&core, None).await;
    Runner::with_all_jobs(core.clone(), RunnerConfig::default())
        .run_pending()
        .await
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(raw.contains("To: amy@acme.example"));
    assert!(raw.contains("multipart/alternative"));
    assert!(raw.contains("text/plain") && raw.contains("text/html"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_running_worker_purges_expired_sessions_and_keeps_live_ones() {
    use apostle_core::secrets::token_hash;
    use secrecy::ExposeSecret;
    let (core, clock) = core_with(Mailer::memory()).await;
    core.create_team("acme", "Acme").await.unwrap();
    let user = core
        .add_user(
            "acme",
            "ada@acme.example",
            "Ada",
            apostle_domain::Role::Admin,
            "correct horse battery".into(),
        )
        .await
        .unwrap();
    let started = clock.now();
    let old = core.start_session(user.id).await.unwrap();
    clock.advance(Duration::days(31));
    let live = core.start_session(user.id).await.unwrap();
    // Looking up as of the start shows whether a row is still stored.
    let stored = |cookie: String| {
        let core = core.clone();
        async move {
            let mut tx = core.store.begin_read().await.unwrap();
            tx.session_by_hash(&token_hash(&cookie), started)
                .await
                .unwrap()
                .is_some()
        }
    };
    assert!(stored(old.cookie.expose_secret().to_owned()).await);

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(Runner::new(core.clone(), RunnerConfig::default()).run(stopped));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stored(old.cookie.expose_secret().to_owned()).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the expired session was not purged"
        );
        tokio::task::yield_now().await;
    }
    stop.send(true).unwrap();
    handle.await.unwrap();
    assert!(core
        .session(live.cookie.expose_secret())
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_queued_email_is_stored_sealed_and_sent_in_clear() {
    let mailer = Mailer::memory();
    let (core, _) = core_with(mailer.clone()).await;
    let to = queue_invite_email(&core, None).await;
    let stored = {
        let mut tx = core.store.begin_read().await.unwrap();
        tx.emails_to(&to).await.unwrap().pop().unwrap()
    };
    for body in [&stored.text_body, &stored.html_body] {
        assert!(
            !body.contains("/invites/token"),
            "the link is stored in clear"
        );
        assert!(!body.contains("Ada Admin"));
    }
    Runner::with_all_jobs(core.clone(), RunnerConfig::default())
        .run_pending()
        .await
        .unwrap();
    let sent = mailer.sent().pop().unwrap();
    assert!(sent.text.contains("http://127.0.0.1:8080/invites/token"));
    assert!(sent.html.contains("Ada Admin"));
}

#[tokio::test]
async fn an_email_sealed_with_a_key_no_longer_held_is_dead_not_sent() {
    let mailer = Mailer::memory();
    let (core, _) = core_with(mailer.clone()).await;
    queue_invite_email(&core, None).await;
    let rotated = Core {
        keyring: Arc::new(test_keyring()),
        ..core.clone()
    };
    Runner::with_all_jobs(rotated, RunnerConfig::default())
        .run_pending()
        .await
        .unwrap();
    assert!(mailer.sent().is_empty());
    let dead = jobs_in(&core, JobState::Dead).await;
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("cannot be opened"),
        "{dead:?}"
    );
}
