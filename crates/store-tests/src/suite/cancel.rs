//! Cancellation: a caller may stop waiting at any `.await` — a client gives
//! up on a request, a job is aborted at shutdown. Each check drops one kind
//! of store work at its first suspension, then at its second, and so on
//! until the work finishes uncut, on a one-connection pool so that a
//! connection left inside a transaction cannot hide behind another, and
//! after every cut asks the next transaction to work normally.

use super::{commit, lease, mins, new_job, read, slug, t0, write};
use crate::harness::TestDb;
use apostle_core::store::{JobState, Store};
use apostle_domain::{JobId, TeamName};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::Poll;

/// Enough rounds for every suspension of the work under test; a work that
/// still suspends after this many is reported rather than looped on.
const MAX_ROUNDS: usize = 200;

/// Polls `work` until it has suspended `suspensions` times, then drops it.
/// True when it finished before that.
async fn cancel_after<F: Future>(suspensions: usize, work: F) -> bool {
    let mut work = std::pin::pin!(work);
    let mut seen = 0;
    std::future::poll_fn(|cx| match work.as_mut().poll(cx) {
        Poll::Ready(_) => Poll::Ready(true),
        Poll::Pending if seen == suspensions => Poll::Ready(false),
        Poll::Pending => {
            seen += 1;
            Poll::Pending
        }
    })
    .await
}

/// What every later user of the pool must find after a cut: a clean
/// connection, a write that commits, a write that rolls back when dropped.
async fn next_transactions_work(store: &dyn Store, label: &str, round: usize) {
    let kept = slug(&format!("kept-{label}-{round}"));
    let dropped = slug(&format!("dropped-{label}-{round}"));
    let name = TeamName::parse("Acme").unwrap();
    let next = async {
        store
            .check_ready()
            .await
            .unwrap_or_else(|e| panic!("round {round}: the pool is unclean: {e}"));
        let mut tx = store
            .begin()
            .await
            .unwrap_or_else(|e| panic!("round {round}: begin after a cut: {e}"));
        tx.create_team(&kept, &name, t0()).await.unwrap();
        commit(tx).await;
        let mut tx = write(store).await;
        tx.create_team(&dropped, &name, t0()).await.unwrap();
        drop(tx);
        let mut tx = read(store).await;
        assert!(
            tx.team_by_slug(&kept).await.unwrap().is_some(),
            "round {round}: commit kept"
        );
        assert!(
            tx.team_by_slug(&dropped).await.unwrap().is_none(),
            "round {round}: a dropped transaction is rolled back"
        );
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), next)
        .await
        .unwrap_or_else(|_| panic!("round {round}: the pool stopped answering after a cut"));
}

/// Cuts `work(round)` at each suspension in turn, checking the pool after
/// each cut and `after(round, finished)` for what the work left behind.
async fn cut_at_every_await<W, Wf, A, Af>(store: &dyn Store, label: &str, mut work: W, mut after: A)
where
    W: FnMut(usize) -> Wf,
    Wf: Future,
    A: FnMut(usize, bool) -> Af,
    Af: Future<Output = ()>,
{
    for round in 0..MAX_ROUNDS {
        let finished = cancel_after(round, work(round)).await;
        // A cut task may still be finishing in the background; on a
        // one-connection pool the next acquire waits for it.
        next_transactions_work(store, label, round).await;
        after(round, finished).await;
        if finished {
            return;
        }
    }
    panic!("the work still suspended after {MAX_ROUNDS} rounds");
}

/// The request path: begin, write, commit — the team is there in full or
/// not at all.
pub async fn a_write_cut_at_any_await_leaves_the_pool_clean(db: &TestDb) {
    let store = db.open_with_pool_size(1).await;
    let store = store.as_ref();
    let name = TeamName::parse("Cut").unwrap();
    cut_at_every_await(
        store,
        "write",
        |round| {
            let name = name.clone();
            async move {
                let mut tx = store.begin().await.unwrap();
                tx.create_team(&slug(&format!("cut-{round}")), &name, t0())
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
        },
        |round, finished| async move {
            let mut tx = read(store).await;
            let team = tx
                .team_by_slug(&slug(&format!("cut-{round}")))
                .await
                .unwrap();
            if finished {
                assert!(team.is_some(), "an uncut write is committed");
            }
        },
    )
    .await;
    store.close().await;
}

/// The read path, as most API requests take it.
pub async fn a_read_cut_at_any_await_leaves_the_pool_clean(db: &TestDb) {
    let store = db.open_with_pool_size(1).await;
    let store = store.as_ref();
    cut_at_every_await(
        store,
        "read",
        |_| async {
            let mut tx = store.begin_read().await.unwrap();
            tx.team_by_slug(&slug("anyone")).await.unwrap();
            tx.count_jobs_by_state().await.unwrap();
        },
        |_, _| async {},
    )
    .await;
    store.close().await;
}

/// A worker's claim: every job is pending or claimed, never lost.
pub async fn a_claim_cut_at_any_await_loses_no_job(db: &TestDb) {
    let store = db.open_with_pool_size(1).await;
    let store = store.as_ref();
    cut_at_every_await(
        store,
        "claim",
        |round| async move {
            let mut tx = store.begin().await.unwrap();
            tx.enqueue_job(&new_job(&format!("claim-{round}"), None, t0()))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            store.claim_jobs(t0(), mins(5), 10).await.unwrap();
        },
        |_, _| async {
            let mut tx = read(store).await;
            let running = tx.list_jobs(JobState::Running, 1000).await.unwrap();
            let dead = tx.list_jobs(JobState::Dead, 1000).await.unwrap();
            assert!(dead.is_empty(), "no job died of a cut: {dead:?}");
            assert!(running.iter().all(|j| j.lease_token.is_some()));
        },
    )
    .await;
    // Whatever was cut, every job is still claimable once its lease ends.
    let all = store
        .claim_jobs(t0() + mins(10), mins(5), 1000)
        .await
        .unwrap();
    let mut tx = read(store).await;
    assert!(tx
        .list_jobs(JobState::Pending, 1000)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        tx.list_jobs(JobState::Running, 1000).await.unwrap().len(),
        all.len()
    );
    drop(tx);
    store.close().await;
}

/// Recording a job's result — completion and failure alike — cut at any
/// await: the result is recorded in full or the claim still stands.
pub async fn a_job_result_cut_at_any_await_is_recorded_whole_or_not_at_all(db: &TestDb) {
    let store = db.open_with_pool_size(1).await;
    let store = store.as_ref();
    for fail in [false, true] {
        // The job a round claimed, handed from the work to its check.
        let claimed: Arc<Mutex<Option<(JobId, String)>>> = Arc::default();
        cut_at_every_await(
            store,
            if fail { "fail" } else { "complete" },
            |round| {
                let claimed = Arc::clone(&claimed);
                async move {
                    let kind = format!("result-{fail}-{round}");
                    let mut tx = store.begin().await.unwrap();
                    tx.enqueue_job(&new_job(&kind, None, t0())).await.unwrap();
                    tx.commit().await.unwrap();
                    // Claimed uncut: only the result is under test.
                    let job = store.claim_jobs(t0(), mins(5), 1).await.unwrap().remove(0);
                    *claimed.lock().unwrap() = Some((job.id, lease(&job).to_owned()));
                    let mut tx = store.begin().await.unwrap();
                    if fail {
                        tx.fail_job(job.id, lease(&job), "boom", None)
                            .await
                            .unwrap();
                    } else {
                        tx.complete_jobs(&[(job.id, lease(&job))]).await.unwrap();
                    }
                    tx.commit().await.unwrap();
                }
            },
            |_, finished| {
                let claimed = claimed.lock().unwrap().take();
                async move {
                    let Some((id, token)) = claimed else {
                        return; // cut before the claim
                    };
                    let mut tx = read(store).await;
                    let job = tx.job_by_id(id).await.unwrap();
                    drop(tx);
                    match (fail, job) {
                        (false, None) => {}
                        (true, Some(job)) if job.state == JobState::Dead => {}
                        (_, Some(job)) => {
                            assert!(!finished, "an uncut result is recorded: {job:?}");
                            assert_eq!(job.state, JobState::Running);
                            // The claim still stands: its owner can still record.
                            let mut tx = write(store).await;
                            assert_eq!(tx.complete_jobs(&[(id, &token)]).await.unwrap(), [id]);
                            commit(tx).await;
                        }
                        (true, None) => panic!("a failed job vanished"),
                    }
                }
            },
        )
        .await;
    }
    store.close().await;
}
