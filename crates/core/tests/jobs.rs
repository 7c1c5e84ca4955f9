//! The job runner and the email outbox against a real (SQLite) store, with
//! a clock the tests move instead of sleeping.

use apostle_core::clock::ManualClock;
use apostle_core::email::{queue_email, InviteEmail, Mailer};
use apostle_core::jobs::{
    backoff, enqueue, enqueue_at, BackgroundJob, JobContext, JobError, Runner, RunnerConfig,
};
use apostle_core::store::{EmailState, Grant, Job, JobState, Store, StoreError, StoreResult, Tx};
use apostle_core::{Clock, Core, CoreSettings};
use apostle_domain::EmailAddress;
use apostle_store_sqlite::SqliteStore;
use chrono::{DateTime, Duration, TimeZone, Utc};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{watch, Notify};

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
        connections: Arc::new(apostle_core::connections::Connections::none(Arc::new(
            clock.clone(),
        ))),
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

async fn submit(core: &Core, job: &impl BackgroundJob) -> bool {
    let mut tx = core.store.begin().await.unwrap();
    let id = enqueue(&mut *tx, job, core.clock.now()).await.unwrap();
    tx.commit().await.unwrap();
    id.is_some()
}

fn runner(core: &Core) -> Runner {
    runner_with(core, RunnerConfig::default())
}

fn runner_with(core: &Core, config: RunnerConfig) -> Runner {
    Runner::new(core.clone(), config).register::<Flaky>()
}

async fn jobs_in(core: &Core, state: JobState) -> Vec<Job> {
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
        core,
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
        &core,
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
async fn the_file_transport_writes_a_message_with_its_message_id_and_both_parts() {
    let dir = std::env::temp_dir().join(format!(
        "apostle-mail-{}",
        apostle_core::secrets::random_token()
    ));
    let (core, _) = core_with(Mailer::File(dir.clone())).await;
    let to = queue_invite_email(&core, None).await;
    let mut tx = core.store.begin_read().await.unwrap();
    let stored = tx.emails_to(&to).await.unwrap().pop().unwrap();
    drop(tx);
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
    assert!(raw.contains(&format!("Message-ID: {}", stored.message_id)));
    assert!(raw.contains("multipart/alternative"));
    assert!(raw.contains("text/plain") && raw.contains("text/html"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_running_worker_purges_expired_sessions_hourly_by_its_clock_and_keeps_live_ones() {
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
    let stored = |cookie: &str| {
        let (core, hash) = (core.clone(), token_hash(cookie));
        async move {
            let mut tx = core.store.begin_read().await.unwrap();
            tx.session_by_hash(&hash, started).await.unwrap().is_some()
        }
    };
    assert!(stored(old.cookie.expose_secret()).await);

    let (stop, worker) = start_worker(Runner::new(core.clone(), fast_polling()));
    eventually("the expired session is purged at start", || async {
        !stored(old.cookie.expose_secret()).await
    })
    .await;
    assert!(core
        .session(live.cookie.expose_secret())
        .await
        .unwrap()
        .is_some());
    // An hour later by the worker's clock, the other session has expired too.
    clock.advance(Duration::days(31));
    eventually("the worker purges again an hour on", || async {
        !stored(live.cookie.expose_secret()).await
    })
    .await;
    stop.send(true).unwrap();
    worker.await.unwrap();
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

/// Waits until `check` holds, for what the test cannot otherwise await: the
/// effect of a worker running beside it. Bounded, so a regression fails.
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::task::yield_now().await;
    }
}

async fn no_jobs_left(core: &Core) -> bool {
    let mut tx = core.store.begin_read().await.unwrap();
    let counts = tx.count_jobs_by_state().await.unwrap();
    counts.iter().all(|(_, n)| *n == 0)
}

/// A worker's `run` loop in the background; send `true` to stop it, then
/// await the handle.
fn start_worker(runner: Runner) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    (stop, tokio::spawn(runner.run(stopped)))
}

fn fast_polling() -> RunnerConfig {
    RunnerConfig {
        poll_interval: std::time::Duration::from_millis(10),
        ..RunnerConfig::default()
    }
}

/// The process-wide metrics, as `/metrics` would show them. Counted only
/// once installed: a test reading them calls this before its jobs run.
fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .install_recorder()
            .expect("one metrics recorder per test binary")
    })
}

/// The value of one series (`name{labels}`) in the rendered metrics.
fn metric(series: &str) -> Option<f64> {
    metrics().render().lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

/// Succeeds, or on its first run asks to be retried `reset_in_minutes` later,
/// as a job told by a provider when its rate limit resets would.
#[derive(Serialize, Deserialize)]
struct RateLimited {
    name: String,
    reset_in_minutes: Option<i64>,
}

impl BackgroundJob for RateLimited {
    const KIND: &'static str = "test_rate_limited";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let n = {
            let mut map = runs().lock().unwrap();
            let n = map.entry(self.name.clone()).or_default();
            *n += 1;
            *n
        };
        match self.reset_in_minutes {
            Some(minutes) if n == 1 => {
                let reset = ctx.core.clock.now() + Duration::minutes(minutes);
                Err(JobError::RetryAt(
                    reset,
                    "rate limited until the window resets".into(),
                ))
            }
            _ => Ok(()),
        }
    }
}

#[tokio::test]
async fn a_job_enqueued_for_later_runs_no_earlier_than_its_time() {
    let (core, clock) = core_with(Mailer::memory()).await;
    let job = RateLimited {
        name: "later".into(),
        reset_in_minutes: None,
    };
    let mut tx = core.store.begin().await.unwrap();
    let due = clock.now() + Duration::hours(1);
    enqueue_at(&mut *tx, &job, due, clock.now()).await.unwrap();
    tx.commit().await.unwrap();
    let runner = Runner::new(core.clone(), RunnerConfig::default()).register::<RateLimited>();
    assert_eq!(runner.run_pending().await.unwrap(), 0);
    clock.advance(Duration::minutes(59) + Duration::seconds(59));
    assert_eq!(runner.run_pending().await.unwrap(), 0, "a second early");
    clock.advance(Duration::seconds(1));
    assert_eq!(runner.run_pending().await.unwrap(), 1);
    assert_eq!(run_count("later"), 1);
    assert!(no_jobs_left(&core).await);
}

#[tokio::test]
async fn a_rate_limited_job_runs_again_when_the_limit_resets_not_after_the_backoff() {
    let (core, clock) = core_with(Mailer::memory()).await;
    let started = clock.now();
    submit(
        &core,
        &RateLimited {
            name: "limited".into(),
            reset_in_minutes: Some(15),
        },
    )
    .await;
    let runner = Runner::new(core.clone(), RunnerConfig::default()).register::<RateLimited>();
    assert_eq!(runner.run_pending().await.unwrap(), 1);
    let pending = jobs_in(&core, JobState::Pending).await;
    assert_eq!(pending[0].run_at, started + Duration::minutes(15));
    assert_eq!(
        pending[0].last_error.as_deref(),
        Some("rate limited until the window resets")
    );
    clock.advance(backoff(1));
    assert_eq!(
        runner.run_pending().await.unwrap(),
        0,
        "not after the backoff"
    );
    clock.set(started + Duration::minutes(15) - Duration::seconds(1));
    assert_eq!(
        runner.run_pending().await.unwrap(),
        0,
        "not before the reset"
    );
    clock.advance(Duration::seconds(1));
    assert_eq!(runner.run_pending().await.unwrap(), 1);
    assert_eq!(run_count("limited"), 2);
    assert!(no_jobs_left(&core).await);
}

/// Waits for the test to let it finish.
#[derive(Serialize, Deserialize)]
struct Slow {
    name: String,
}

fn slow_gate() -> &'static Notify {
    static GATE: OnceLock<Notify> = OnceLock::new();
    GATE.get_or_init(Notify::new)
}

impl BackgroundJob for Slow {
    const KIND: &'static str = "test_slow";

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        *runs().lock().unwrap().entry(self.name).or_default() += 1;
        slow_gate().notified().await;
        Ok(())
    }
}

#[tokio::test]
async fn a_job_that_outlives_its_first_lease_runs_once_and_completes_once() {
    let _ = metrics();
    let (core, clock) = core_with(Mailer::memory()).await;
    submit(
        &core,
        &Slow {
            name: "outlives".into(),
        },
    )
    .await;
    let config = fast_polling();
    let lease = config.lease;
    let (stop, worker) = start_worker(Runner::new(core.clone(), config).register::<Slow>());
    eventually("the worker claims the job", || async {
        !jobs_in(&core, JobState::Running).await.is_empty()
    })
    .await;
    let first_lease_end = jobs_in(&core, JobState::Running).await[0]
        .locked_until
        .unwrap();
    while clock.now() <= first_lease_end {
        clock.advance(lease / 3 + Duration::seconds(1));
        let renewed_until = clock.now() + lease;
        eventually("the running worker renews the lease", || async {
            let running = jobs_in(&core, JobState::Running).await;
            running[0].locked_until == Some(renewed_until)
        })
        .await;
    }
    let other = Runner::new(core.clone(), RunnerConfig::default()).register::<Slow>();
    assert_eq!(
        other.run_pending().await.unwrap(),
        0,
        "another worker finds nothing to take past the first lease"
    );
    slow_gate().notify_one();
    eventually("the job is completed", || no_jobs_left(&core)).await;
    stop.send(true).unwrap();
    worker.await.unwrap();
    assert_eq!(run_count("outlives"), 1);
    assert_eq!(
        metric(r#"apostle_jobs_runs_total{kind="test_slow",outcome="completed"}"#),
        Some(1.0)
    );
}

/// Stalls past its lease: another worker claims the job meanwhile (at a
/// later moment, without moving the shared clock), then this run ends.
#[derive(Serialize, Deserialize)]
struct Overtaken {
    fails: bool,
}

impl BackgroundJob for Overtaken {
    const KIND: &'static str = "test_overtaken";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let later = ctx.core.clock.now() + Duration::minutes(6);
        let taken = ctx
            .core
            .store
            .claim_jobs(later, Duration::minutes(5), 1)
            .await?;
        assert_eq!(taken.len(), 1, "the other worker takes this job");
        if self.fails {
            Err(JobError::Retry("failed after losing the lease".into()))
        } else {
            Ok(())
        }
    }
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_records_neither_success_nor_failure() {
    let _ = metrics();
    let (core, _) = core_with(Mailer::memory()).await;
    let runner = Runner::new(core.clone(), RunnerConfig::default()).register::<Overtaken>();
    for fails in [false, true] {
        submit(&core, &Overtaken { fails }).await;
        assert_eq!(runner.run_pending().await.unwrap(), 1);
    }
    let running = jobs_in(&core, JobState::Running).await;
    assert_eq!(running.len(), 2, "both stay with the worker that took them");
    for job in &running {
        assert_eq!(job.attempts, 2);
        assert_eq!(job.last_error, None, "the late failure is not recorded");
    }
    assert!(jobs_in(&core, JobState::Pending).await.is_empty());
    assert!(jobs_in(&core, JobState::Dead).await.is_empty());
    assert_eq!(
        metric(r#"apostle_jobs_lease_lost_total{kind="test_overtaken"}"#),
        Some(2.0)
    );
    assert!(
        !metrics()
            .render()
            .contains(r#"apostle_jobs_runs_total{kind="test_overtaken""#),
        "no run is counted as recorded"
    );
}

#[tokio::test]
async fn a_running_worker_runs_every_queued_job_once() {
    let (core, _) = core_with(Mailer::memory()).await;
    for n in 0..10 {
        let job = Flaky {
            name: format!("together-{n}"),
            failures: 0,
            permanent: false,
        };
        submit(&core, &job).await;
    }
    let (stop, worker) = start_worker(runner_with(&core, fast_polling()));
    eventually("every job is completed", || no_jobs_left(&core)).await;
    stop.send(true).unwrap();
    worker.await.unwrap();
    for n in 0..10 {
        assert_eq!(run_count(&format!("together-{n}")), 1);
    }
}

/// Panics, as a bug in a handler would.
#[derive(Serialize, Deserialize)]
struct Panics;

impl BackgroundJob for Panics {
    const KIND: &'static str = "test_panics";

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        panic!("a bug in the handler");
    }
}

#[tokio::test]
async fn a_job_whose_handler_panics_is_retried_after_backoff_not_lost() {
    let (core, clock) = core_with(Mailer::memory()).await;
    submit(&core, &Panics).await;
    let worker = Runner::new(core.clone(), fast_polling()).register::<Panics>();
    let (stop, worker) = start_worker(worker);
    eventually("the panic is recorded as a failed attempt", || async {
        let pending = jobs_in(&core, JobState::Pending).await;
        pending.first().is_some_and(|job| job.last_error.is_some())
    })
    .await;
    stop.send(true).unwrap();
    worker.await.unwrap();
    let pending = jobs_in(&core, JobState::Pending).await;
    assert_eq!(pending[0].attempts, 1);
    assert_eq!(pending[0].last_error.as_deref(), Some("the job panicked"));
    assert_eq!(pending[0].run_at, clock.now() + backoff(1));
}

/// A store cut off for writing, as a worker's database connection is when
/// the worker dies: reads and claims still go through.
struct WritesLost(Arc<dyn Store>);

#[async_trait::async_trait]
impl Store for WritesLost {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        Err(StoreError::Database("connection lost".into()))
    }

    async fn begin_read(&self) -> StoreResult<Box<dyn Tx>> {
        self.0.begin_read().await
    }

    async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> StoreResult<Vec<Job>> {
        self.0.claim_jobs(now, lease, limit).await
    }

    async fn claim_due_grants(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> StoreResult<Vec<Grant>> {
        self.0.claim_due_grants(now, lease, limit).await
    }

    async fn check_ready(&self) -> StoreResult<()> {
        self.0.check_ready().await
    }

    async fn close(&self) {
        self.0.close().await;
    }
}

#[tokio::test]
async fn an_email_sent_again_after_a_crash_before_it_was_recorded_keeps_its_message_id() {
    let mailer = Mailer::memory();
    let (core, clock) = core_with(mailer.clone()).await;
    let to = queue_invite_email(&core, None).await;
    let message_id = {
        let mut tx = core.store.begin_read().await.unwrap();
        tx.emails_to(&to).await.unwrap().pop().unwrap().message_id
    };
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@127.0.0.1>"),
        "{message_id}"
    );
    // The mail server accepts it; the worker dies before it can record that.
    let dying = Core {
        store: Arc::new(WritesLost(Arc::clone(&core.store))),
        ..core.clone()
    };
    assert!(Runner::with_all_jobs(dying, RunnerConfig::default())
        .run_pending()
        .await
        .is_err());
    assert_eq!(mailer.sent().len(), 1);
    assert_eq!(
        email_state(&core, "amy@acme.example").await,
        vec![EmailState::Queued]
    );
    // Once the dead worker's lease is over, another one sends it again.
    clock.advance(RunnerConfig::default().lease);
    let runner = Runner::with_all_jobs(core.clone(), RunnerConfig::default());
    assert_eq!(runner.run_pending().await.unwrap(), 1);
    let sent = mailer.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (&sent[0].message_id, &sent[1].message_id),
        (&message_id, &message_id),
        "the receiver can tell the second one is a resend"
    );
    assert_eq!(
        email_state(&core, "amy@acme.example").await,
        vec![EmailState::Sent]
    );
    clock.advance(Duration::days(1));
    assert_eq!(runner.run_pending().await.unwrap(), 0);
    assert_eq!(mailer.sent().len(), 2);
}
