//! Durable background jobs: rows enqueued inside the caller's transaction,
//! claimed with a lease, retried with exponential backoff, dead after
//! `max_attempts` and kept for inspection.
//!
//! A job type implements [`BackgroundJob`]; the [`Runner`] maps stored kinds
//! back to handlers. Tests call [`Runner::run_pending`] instead of sleeping.
//!
//! A running job's lease is renewed while it runs, so a long job is not
//! handed to a second worker; a worker whose lease was lost anyway records
//! nothing. The runner claims and completes in batches to keep database
//! round trips per job few.

use crate::error::{CoreError, CoreResult};
use crate::store::{Job, JobState, NewJob, Tx};
use crate::Core;
use apostle_domain::JobId;
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Why a run failed. `Permanent` skips the remaining attempts; the others
/// count as an attempt and are retried until `max_attempts`.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Retried after the exponential [`backoff`].
    #[error("{0}")]
    Retry(String),
    /// Retried no earlier than the given moment instead of after the
    /// backoff, e.g. when a provider's rate limit resets.
    #[error("{1}")]
    RetryAt(DateTime<Utc>, String),
    #[error("{0}")]
    Permanent(String),
}

impl From<CoreError> for JobError {
    fn from(e: CoreError) -> Self {
        JobError::Retry(e.to_string())
    }
}

impl From<crate::store::StoreError> for JobError {
    fn from(e: crate::store::StoreError) -> Self {
        JobError::Retry(e.to_string())
    }
}

pub trait BackgroundJob: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stored kind; never rename one that may still be in a queue.
    const KIND: &'static str;
    const MAX_ATTEMPTS: i32 = 10;

    /// Jobs with the same key are not enqueued twice while one is pending.
    fn dedupe_key(&self) -> Option<String> {
        None
    }

    fn run(self, ctx: JobContext) -> impl Future<Output = Result<(), JobError>> + Send;
}

/// What a job sees while it runs.
#[derive(Clone)]
pub struct JobContext {
    pub core: Core,
    /// This run's number, from 1.
    pub attempt: i32,
    pub max_attempts: i32,
}

impl JobContext {
    /// Whether a failure now makes the job dead.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// Enqueues `job` in the caller's transaction, due at once (`now`).
/// Returns `None` when deduplicated.
pub async fn enqueue<J: BackgroundJob>(
    tx: &mut dyn Tx,
    job: &J,
    now: DateTime<Utc>,
) -> CoreResult<Option<JobId>> {
    enqueue_at(tx, job, now, now).await
}

/// Enqueues `job` in the caller's transaction to run no earlier than
/// `run_at`. Returns `None` when deduplicated.
pub async fn enqueue_at<J: BackgroundJob>(
    tx: &mut dyn Tx,
    job: &J,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> CoreResult<Option<JobId>> {
    let payload = serde_json::to_value(job)
        .map_err(|e| CoreError::Internal(format!("job {} payload: {e}", J::KIND)))?;
    Ok(tx
        .enqueue_job(&NewJob {
            kind: J::KIND.to_owned(),
            payload,
            dedupe_key: job.dedupe_key(),
            run_at,
            max_attempts: J::MAX_ATTEMPTS,
            created_at: now,
        })
        .await?)
}

impl Core {
    /// Jobs in `state`, newest first: what operators look at when work is stuck.
    pub async fn jobs_in_state(&self, state: JobState, limit: i64) -> CoreResult<Vec<Job>> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx.list_jobs(state, limit).await?)
    }

    /// Puts a dead job back in the queue with fresh attempts.
    pub async fn retry_dead_job(&self, job: JobId) -> CoreResult<()> {
        let mut tx = self.store.begin().await?;
        let retried = tx.retry_dead_job(job, self.clock.now()).await?;
        tx.commit().await?;
        if retried {
            Ok(())
        } else {
            Err(CoreError::NotFound("dead job"))
        }
    }
}

/// Delay before attempt `attempts + 1`: 5 s doubling, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 30) - 1;
    let secs = 5i64.saturating_mul(1i64 << exp.min(20));
    Duration::seconds(secs.min(3600))
}

/// How often a running worker does its housekeeping.
const UPKEEP_INTERVAL: Duration = Duration::hours(1);

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
type Handler = Arc<dyn Fn(JobContext, serde_json::Value) -> BoxFuture + Send + Sync>;

/// When a runner's claim loop last went round, for `/readyz`: a loop that
/// stopped (its claims failing, its task gone) stops beating. An idle queue
/// still beats.
#[derive(Debug, Clone, Default)]
pub struct Pulse(Arc<std::sync::Mutex<Option<DateTime<Utc>>>>);

impl Pulse {
    pub fn beat(&self, now: DateTime<Utc>) {
        *self.0.lock().expect("pulse lock") = Some(now);
    }

    /// The last beat, `None` before the first.
    pub fn last(&self) -> Option<DateTime<Utc>> {
        *self.0.lock().expect("pulse lock")
    }
}

/// Tuning for a [`Runner`].
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// How long a claim is ours before another worker may take the job; a
    /// running job renews it every third of this.
    pub lease: Duration,
    /// Jobs run at once by one process.
    pub concurrency: usize,
    /// Sleep between polls when the queue is empty.
    pub poll_interval: std::time::Duration,
    /// On shutdown, how long in-flight jobs may finish before being released.
    pub shutdown_grace: std::time::Duration,
    /// Beats on every round of the claim loop.
    pub pulse: Pulse,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            lease: Duration::minutes(5),
            concurrency: 4,
            poll_interval: std::time::Duration::from_millis(500),
            shutdown_grace: std::time::Duration::from_secs(10),
            pulse: Pulse::default(),
        }
    }
}

/// Claims and runs jobs.
#[derive(Clone)]
pub struct Runner {
    core: Core,
    handlers: HashMap<&'static str, Handler>,
    config: RunnerConfig,
}

/// What a claimed job's recorded run did to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Completed,
    Retrying,
    Dead,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Retrying => "retrying",
            Outcome::Dead => "dead",
        }
    }
}

/// A claimed job and the result of running it.
type Finished = (Job, Result<(), JobError>);

fn lease_of(job: &Job) -> &str {
    job.lease_token.as_deref().unwrap_or_default()
}

impl Runner {
    pub fn new(core: Core, config: RunnerConfig) -> Self {
        Self {
            core,
            handlers: HashMap::new(),
            config,
        }
    }

    /// A runner that knows every job type of Apostle.
    pub fn with_all_jobs(core: Core, config: RunnerConfig) -> Self {
        Self::new(core, config)
            .register::<crate::email::SendEmail>()
            .register::<crate::posts::notify::FlushNotifications>()
            .register::<crate::sharing::publish::PublishTarget>()
    }

    pub fn register<J: BackgroundJob>(mut self) -> Self {
        let handler: Handler = Arc::new(|ctx, payload| {
            Box::pin(async move {
                let job: J = serde_json::from_value(payload)
                    .map_err(|e| JobError::Permanent(format!("unreadable payload: {e}")))?;
                job.run(ctx).await
            })
        });
        self.handlers.insert(J::KIND, handler);
        self
    }

    /// Runs every job that is due now, one after another, until none is
    /// left; returns how many runs happened. Retries scheduled in the future
    /// are not waited for: move the clock and call again.
    pub async fn run_pending(&self) -> CoreResult<usize> {
        let mut runs = 0;
        loop {
            let now = self.core.clock.now();
            let jobs = self
                .core
                .store
                .claim_jobs(now, self.config.lease, 1)
                .await?;
            if jobs.is_empty() {
                return Ok(runs);
            }
            for job in jobs {
                let result = self.work(&job).await;
                self.record(vec![(job, result)]).await?;
                runs += 1;
            }
        }
    }

    /// Polls and runs jobs until `shutdown` turns true, then lets in-flight
    /// jobs finish within the grace period and releases the rest so another
    /// process can take them at once.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut running: JoinSet<Result<(), JobError>> = JoinSet::new();
        let mut claimed: HashMap<tokio::task::Id, Job> = HashMap::new();
        let mut finished: Vec<Finished> = Vec::new();
        tracing::info!(concurrency = self.config.concurrency, "job runner started");
        let mut next_upkeep = self.core.clock.now();
        while !*shutdown.borrow() {
            let now = self.core.clock.now();
            if now >= next_upkeep {
                // Counted from the start, so a slow upkeep does not push the next one back.
                next_upkeep = now + UPKEEP_INTERVAL;
                self.upkeep().await;
            }
            while let Some(joined) = running.try_join_next_with_id() {
                finished.extend(take_finished(&mut claimed, joined));
            }
            // Results of jobs that finished together go in one transaction.
            self.record_logged(std::mem::take(&mut finished)).await;
            let free = self.config.concurrency.saturating_sub(running.len());
            let mut started = 0;
            if free == 0 {
                self.config.pulse.beat(self.core.clock.now());
            } else {
                let now = self.core.clock.now();
                match self
                    .core
                    .store
                    .claim_jobs(now, self.config.lease, free as i64)
                    .await
                {
                    Ok(jobs) => {
                        self.config.pulse.beat(now);
                        started = jobs.len();
                        for job in jobs {
                            let runner = self.clone();
                            let run = job.clone();
                            let task = running.spawn(async move { runner.work(&run).await });
                            claimed.insert(task.id(), job);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming jobs failed"),
                }
            }
            if started == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                    _ = shutdown.changed() => {}
                    Some(joined) = running.join_next_with_id(), if !running.is_empty() => {
                        finished.extend(take_finished(&mut claimed, joined));
                    }
                }
            }
        }
        let _ = tokio::time::timeout(self.config.shutdown_grace, async {
            while let Some(joined) = running.join_next_with_id().await {
                finished.extend(take_finished(&mut claimed, joined));
            }
        })
        .await;
        running.abort_all();
        while let Some(joined) = running.join_next_with_id().await {
            finished.extend(take_finished(&mut claimed, joined));
        }
        self.record_logged(finished).await;
        // What is left was cut off by the grace period.
        self.release(claimed.into_values()).await;
        tracing::info!("job runner stopped");
    }

    /// Housekeeping that needs no queue: expired sessions go.
    async fn upkeep(&self) {
        match self.core.purge_expired_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "purged expired sessions"),
            Err(e) => tracing::warn!(error = %e, "purging expired sessions failed"),
        }
        match self.core.purge_expired_flows().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(flows = n, "purged expired connection flows"),
            Err(e) => tracing::warn!(error = %e, "purging expired flows failed"),
        }
    }

    async fn release(&self, unfinished: impl Iterator<Item = Job>) {
        for job in unfinished {
            let now = self.core.clock.now();
            let released = async {
                let mut tx = self.core.store.begin().await?;
                let done = tx.release_job(job.id, lease_of(&job), now).await?;
                tx.commit().await?;
                Ok::<_, crate::store::StoreError>(done)
            }
            .await;
            match released {
                Ok(_) => tracing::info!(job = %job.id, "released unfinished job"),
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "could not release job; its lease will expire")
                }
            }
        }
    }

    /// Runs one claimed job's handler, renewing its lease meanwhile.
    async fn work(&self, job: &Job) -> Result<(), JobError> {
        let Some(handler) = self.handlers.get(job.kind.as_str()) else {
            return Err(JobError::Permanent(format!(
                "no handler for job kind {}",
                job.kind
            )));
        };
        let ctx = JobContext {
            core: self.core.clone(),
            attempt: job.attempts,
            max_attempts: job.max_attempts,
        };
        let run = handler(ctx, job.payload.clone());
        tokio::pin!(run);
        tokio::select! {
            result = &mut run => result,
            // The lease is gone: the run goes on, but its result will be
            // refused when recorded.
            () = self.keep_lease(job) => run.await,
        }
    }

    /// Renews the job's lease every third of its length; returns only when
    /// the lease turns out to be someone else's.
    async fn keep_lease(&self, job: &Job) {
        let lease = self.config.lease;
        let every = lease / 3;
        // Counted from the claim, not from when this task got to run.
        let claimed = job.locked_until.map(|end| end - lease);
        let mut next = claimed.unwrap_or_else(|| self.core.clock.now()) + every;
        loop {
            self.core.clock.sleep_until(next).await;
            let now = self.core.clock.now();
            next = now + every;
            let renewed = async {
                let mut tx = self.core.store.begin().await?;
                let ours = tx
                    .extend_job_lease(job.id, lease_of(job), now + lease)
                    .await?;
                tx.commit().await?;
                Ok::<_, crate::store::StoreError>(ours)
            }
            .await;
            match renewed {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(job = %job.id, kind = %job.kind, "job lease lost while running");
                    return;
                }
                // The next try still comes before the lease runs out.
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "could not renew job lease")
                }
            }
        }
    }

    /// Records finished runs; a failure to record is logged and the jobs'
    /// leases will expire, so they run again.
    async fn record_logged(&self, finished: Vec<Finished>) {
        if let Err(e) = self.record(finished).await {
            tracing::error!(error = %e, "could not record job results");
        }
    }

    /// Records the results of finished runs in one transaction, each fenced
    /// by its lease: successes in one statement, failures one by one.
    async fn record(&self, finished: Vec<Finished>) -> CoreResult<()> {
        if finished.is_empty() {
            return Ok(());
        }
        let now = self.core.clock.now();
        let mut tx = self.core.store.begin().await?;
        let succeeded: Vec<(JobId, &str)> = finished
            .iter()
            .filter(|(_, result)| result.is_ok())
            .map(|(job, _)| (job.id, lease_of(job)))
            .collect();
        let completed: HashSet<JobId> = tx.complete_jobs(&succeeded).await?.into_iter().collect();
        let mut outcomes = Vec::with_capacity(finished.len());
        for (job, result) in &finished {
            // `None`: another worker holds the job now, so nothing was recorded.
            let outcome = match result {
                Ok(()) => completed.contains(&job.id).then_some(Outcome::Completed),
                Err(e) => {
                    let retry_at = retry_time(job, e, now);
                    let ours = tx
                        .fail_job(job.id, lease_of(job), &e.to_string(), retry_at)
                        .await?;
                    ours.then_some(match retry_at {
                        Some(_) => Outcome::Retrying,
                        None => Outcome::Dead,
                    })
                }
            };
            outcomes.push(outcome);
        }
        tx.commit().await?;
        for ((job, result), outcome) in finished.iter().zip(outcomes) {
            report(job, result, outcome);
        }
        Ok(())
    }
}

/// When a failed run is tried again; `None` makes the job dead.
fn retry_time(job: &Job, error: &JobError, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match error {
        JobError::Permanent(_) => None,
        _ if job.attempts >= job.max_attempts => None,
        JobError::RetryAt(at, _) => Some((*at).max(now)),
        JobError::Retry(_) => Some(now + backoff(job.attempts)),
    }
}

/// The claimed job a finished task ran, with its result; `None` for a task
/// cut off at shutdown, whose job is still claimed and gets released.
fn take_finished(
    claimed: &mut HashMap<tokio::task::Id, Job>,
    joined: Result<(tokio::task::Id, Result<(), JobError>), tokio::task::JoinError>,
) -> Option<Finished> {
    let (task, result) = match joined {
        Ok((task, result)) => (task, result),
        Err(e) if e.is_panic() => (e.id(), Err(JobError::Retry("the job panicked".into()))),
        Err(_) => return None,
    };
    claimed.remove(&task).map(|job| (job, result))
}

/// Logs and counts what happened to one run once its transaction is
/// committed; `None` is a run whose lease was lost.
fn report(job: &Job, result: &Result<(), JobError>, outcome: Option<Outcome>) {
    let error = result.as_ref().err().map(ToString::to_string);
    let error = error.as_deref().unwrap_or_default();
    let Some(outcome) = outcome else {
        tracing::warn!(job = %job.id, kind = %job.kind, "job lease lost: another worker holds the job, this run's result is not recorded");
        metrics::counter!("apostle_jobs_lease_lost_total", "kind" => job.kind.clone()).increment(1);
        return;
    };
    match outcome {
        Outcome::Completed => {}
        Outcome::Retrying => {
            tracing::warn!(job = %job.id, kind = %job.kind, attempts = job.attempts, error, "job failed, will retry")
        }
        Outcome::Dead => {
            tracing::error!(job = %job.id, kind = %job.kind, attempts = job.attempts, error, "job is dead")
        }
    }
    metrics::counter!("apostle_jobs_runs_total", "kind" => job.kind.clone(), "outcome" => outcome.as_str())
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use chrono::Duration;

    #[test]
    fn backoff_doubles_from_five_seconds_and_stops_at_an_hour() {
        assert_eq!(backoff(1), Duration::seconds(5));
        assert_eq!(backoff(2), Duration::seconds(10));
        assert_eq!(backoff(5), Duration::seconds(80));
        assert_eq!(backoff(12), Duration::seconds(3600));
        assert_eq!(backoff(1000), Duration::seconds(3600));
    }
}
