//! Job-queue throughput: how many jobs per second go through enqueue, claim
//! and complete, with 1 and with 4 concurrent workers, on SQLite and (when
//! `APOSTLE_TEST_POSTGRES_URL` is set) on PostgreSQL. Each worker has its own
//! pool, as a separate worker process would. Every configuration runs a fixed
//! number of jobs on a fresh database that is removed afterwards.

use apostle_core::store::{NewJob, Store};
use apostle_store_tests::harness::{Backend, TestDb, POSTGRES_URL_VAR};
use chrono::Utc;
use std::time::Instant;

const JOBS: usize = 2000;

#[tokio::main]
async fn main() {
    println!("job queue: enqueue + claim + complete, {JOBS} jobs per run");
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for workers in [1, 4] {
            let Some(db) = TestDb::create(backend).await else {
                println!("{backend:?}: skipped, {POSTGRES_URL_VAR} is not set");
                break;
            };
            let rate = throughput(&db, workers).await;
            println!("{backend:?}, {workers} worker(s): {rate:.0} jobs/s");
            db.destroy().await;
        }
    }
}

/// Jobs per second: each worker enqueues a job in its own transaction, claims
/// one due job (any worker's) and completes it; what is left is drained.
async fn throughput(db: &TestDb, workers: usize) -> f64 {
    let mut pools = Vec::new();
    for _ in 0..workers {
        pools.push(db.open_another().await);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for pool in pools {
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            for _ in 0..JOBS / workers {
                let mut tx = pool.begin().await.expect("begin");
                tx.enqueue_job(&job()).await.expect("enqueue");
                tx.commit().await.expect("commit");
                done += claim_and_complete(pool.as_ref()).await;
            }
            pool.close().await;
            done
        }));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await.expect("worker");
    }
    while done < JOBS {
        let drained = claim_and_complete(db.store()).await;
        assert!(drained > 0, "{} jobs went missing", JOBS - done);
        done += drained;
    }
    JOBS as f64 / started.elapsed().as_secs_f64()
}

async fn claim_and_complete(store: &dyn Store) -> usize {
    let claimed = store
        .claim_jobs(Utc::now(), chrono::Duration::minutes(5), 1)
        .await
        .expect("claim");
    let mut tx = store.begin().await.expect("begin");
    for job in &claimed {
        let lease = job.lease_token.as_deref().expect("lease");
        assert_eq!(
            tx.complete_jobs(&[(job.id, lease)])
                .await
                .expect("complete")
                .len(),
            1
        );
    }
    tx.commit().await.expect("commit");
    claimed.len()
}

fn job() -> NewJob {
    NewJob {
        kind: "bench".to_owned(),
        payload: serde_json::json!({ "to": "amy@acme.example" }),
        dedupe_key: None,
        run_at: Utc::now(),
        max_attempts: 5,
        created_at: Utc::now(),
    }
}
