//! Job-queue throughput: how many jobs per second go through enqueue, claim
//! and complete, with 1 and with 4 concurrent workers, on SQLite and (when
//! `APOSTLE_TEST_POSTGRES_URL` is set) on PostgreSQL.
//!
//! Beside each figure, in the same run, the raw cycle: the same work without
//! the store ([`queue_cycle`] says how), and the queue's ratio to it. A last
//! line per backend drains a backlog, where a claim must not cost more as the
//! backlog grows.

#[path = "shared/queue_cycle.rs"]
mod queue_cycle;

use apostle_store_tests::harness::{Backend, TestDb, POSTGRES_URL_VAR};
use queue_cycle::{claim_and_complete, cycle_rates, job, CLAIM_BATCH, JOBS};
use std::time::Instant;

/// Due jobs waiting before the backlog run starts.
const BACKLOG: usize = 20_000;

#[tokio::main]
async fn main() {
    println!("job queue: enqueue + claim + complete, {JOBS} jobs per run");
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for workers in [1, 4] {
            let Some(rates) = cycle_rates(backend, workers).await else {
                println!("{backend:?}: skipped, {POSTGRES_URL_VAR} is not set");
                break;
            };
            println!(
                "{backend:?}, {workers} worker(s): queue {:.0} jobs/s, raw {:.0} jobs/s, \
                 ratio {:.2}",
                rates.queue,
                rates.raw,
                rates.ratio()
            );
        }
        if let Some(db) = TestDb::create(backend).await {
            let rate = drain_backlog(&db).await;
            db.destroy().await;
            println!("{backend:?}, 1 worker, {BACKLOG} jobs waiting: drained at {rate:.0} jobs/s");
        }
    }
}

/// Jobs per second while one worker works through [`BACKLOG`] due jobs,
/// enqueued beforehand in one transaction.
async fn drain_backlog(db: &TestDb) -> f64 {
    let mut tx = db.store().begin().await.expect("begin");
    for _ in 0..BACKLOG {
        tx.enqueue_job(&job()).await.expect("enqueue");
    }
    tx.commit().await.expect("commit");
    let started = Instant::now();
    let mut done = 0;
    while done < BACKLOG {
        let drained = claim_and_complete(db.store(), CLAIM_BATCH).await;
        assert!(drained > 0, "{} jobs went missing", BACKLOG - done);
        done += drained;
    }
    BACKLOG as f64 / started.elapsed().as_secs_f64()
}
