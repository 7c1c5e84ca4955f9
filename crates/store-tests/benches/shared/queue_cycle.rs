//! The job queue's cycle, measured two ways, each on a fresh database that
//! is removed afterwards: through the store (enqueue, claim, complete, as
//! callers and the runner do) and raw, the same work without the store: per
//! job one insert, one claim (the store's own `UPDATE … RETURNING`) and one
//! delete, each its own transaction, on one connection per worker through
//! rusqlite (the SQLite library sqlx links, with the store's pragmas) or
//! tokio-postgres (prepared statements). The queue's ratio to the raw cycle
//! is what to compare between runs and machines, and what other benchmarks
//! print beside their own rates from the same run.
//!
//! Shared by the benches that include it (`#[path]`); each worker has its
//! own pool (or connection), as a separate worker process would.

use apostle_core::store::{NewJob, Store};
use apostle_store_tests::harness::{Backend, TestDb, POSTGRES_URL_VAR};
use chrono::Utc;
use std::time::{Duration, Instant, SystemTime};

/// Jobs in one measured run.
pub const JOBS: usize = 4000;

/// Jobs one worker claims at once: the runner claims up to its concurrency
/// (4 by default) and completes the jobs that finished together in one go.
pub const CLAIM_BATCH: usize = 4;

/// Jobs per second through the store and raw, with the same workers.
#[derive(Debug, Clone, Copy)]
pub struct CycleRates {
    pub queue: f64,
    pub raw: f64,
}

impl CycleRates {
    /// The queue's share of the raw cycle's rate.
    pub fn ratio(&self) -> f64 {
        self.queue / self.raw
    }
}

/// Both rates with `workers` workers, each on a fresh database; `None` for
/// PostgreSQL when no server is configured.
pub async fn cycle_rates(backend: Backend, workers: usize) -> Option<CycleRates> {
    let db = TestDb::create(backend).await?;
    let queue = throughput(&db, workers).await;
    db.destroy().await;
    let db = TestDb::create(backend).await.expect("database");
    let raw = match backend {
        Backend::Sqlite => raw_sqlite(&db, workers).await,
        Backend::Postgres => raw_postgres(&db, workers).await,
    };
    db.destroy().await;
    Some(CycleRates { queue, raw })
}

/// Jobs per second through the store: each worker enqueues a few jobs, one
/// transaction each as the callers that cause them would, then claims up to
/// [`CLAIM_BATCH`] due jobs (any worker's) and completes them together, as
/// the runner does; what is left at the end is drained.
async fn throughput(db: &TestDb, workers: usize) -> f64 {
    let batch = CLAIM_BATCH;
    let rounds = JOBS / workers / batch;
    let total = rounds * workers * batch;
    let mut pools = Vec::new();
    for _ in 0..workers {
        pools.push(db.open_another().await);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for pool in pools {
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            for _ in 0..rounds {
                for _ in 0..batch {
                    let mut tx = pool.begin().await.expect("begin");
                    tx.enqueue_job(&job()).await.expect("enqueue");
                    tx.commit().await.expect("commit");
                }
                done += claim_and_complete(pool.as_ref(), batch).await;
            }
            pool.close().await;
            done
        }));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await.expect("worker");
    }
    while done < total {
        let drained = claim_and_complete(db.store(), batch).await;
        assert!(drained > 0, "{} jobs went missing", total - done);
        done += drained;
    }
    total as f64 / started.elapsed().as_secs_f64()
}

pub async fn claim_and_complete(store: &dyn Store, batch: usize) -> usize {
    let claimed = store
        .claim_jobs(Utc::now(), chrono::Duration::minutes(5), batch as i64)
        .await
        .expect("claim");
    let finished: Vec<_> = claimed
        .iter()
        .map(|job| (job.id, job.lease_token.as_deref().expect("lease")))
        .collect();
    let mut tx = store.begin().await.expect("begin");
    let completed = tx.complete_jobs(&finished).await.expect("complete");
    assert_eq!(completed.len(), claimed.len());
    tx.commit().await.expect("commit");
    claimed.len()
}

pub fn job() -> NewJob {
    NewJob {
        kind: "bench".to_owned(),
        payload: serde_json::json!({ "to": "amy@acme.example" }),
        dedupe_key: None,
        run_at: Utc::now(),
        max_attempts: 5,
        created_at: Utc::now(),
    }
}

const PAYLOAD: &str = r#"{"to":"amy@acme.example"}"#;

// The raw cycles run the store's own statements, with each backend's
// fragments as its store passes them.
const SQLITE_ENQUEUE: &str = apostle_store_sql::enqueue_job!("$2");
const SQLITE_CLAIM: &str = apostle_store_sql::claim_jobs!(
    token: "lower(hex(randomblob(16)))",
    lock: "",
    payload: "payload"
);
const PG_ENQUEUE: &str = apostle_store_sql::enqueue_job!("$2::text::jsonb");
const PG_CLAIM: &str = apostle_store_sql::claim_jobs!(
    token: "replace(gen_random_uuid()::text, '-', '')",
    lock: "FOR UPDATE SKIP LOCKED",
    payload: "payload::text AS payload"
);
/// One finished job, as the store deleted it before batches.
const DELETE_JOB: &str =
    "DELETE FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'running'";

/// The raw cycle on SQLite: per job an insert, a claim and a delete, each in
/// its own `BEGIN IMMEDIATE` transaction, on one connection per worker opened
/// as the store opens its own (WAL, `synchronous = NORMAL`, foreign keys).
async fn raw_sqlite(db: &TestDb, workers: usize) -> f64 {
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    let started = Instant::now();
    let mut threads = Vec::new();
    for _ in 0..workers {
        let path = path.clone();
        threads.push(tokio::task::spawn_blocking(move || {
            let raw = RawSqlite::open(&path);
            let mut done = 0;
            for _ in 0..JOBS / workers {
                raw.insert();
                done += raw.claim_and_delete();
            }
            done
        }));
    }
    let mut done = 0;
    for thread in threads {
        done += thread.await.expect("worker");
    }
    let raw = RawSqlite::open(&path);
    while done < JOBS / workers * workers {
        let drained = raw.claim_and_delete();
        assert!(drained > 0, "raw jobs went missing");
        done += drained;
    }
    done as f64 / started.elapsed().as_secs_f64()
}

struct RawSqlite(rusqlite::Connection);

impl RawSqlite {
    fn open(path: &str) -> RawSqlite {
        let conn = rusqlite::Connection::open(path).expect("open");
        conn.busy_timeout(Duration::from_secs(10))
            .expect("busy timeout");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .expect("pragmas");
        RawSqlite(conn)
    }

    fn insert(&self) {
        let now = Utc::now().timestamp_micros();
        self.in_tx(|conn| {
            conn.prepare_cached(SQLITE_ENQUEUE)?
                .query_row(
                    rusqlite::named_params! {
                        "$1": "bench", "$2": PAYLOAD, "$3": None::<String>, "$4": 5,
                        "$5": now, "$6": now,
                    },
                    |row| row.get::<_, i64>(0),
                )
                .map(drop)
        });
    }

    /// Claims one due job and deletes it; 0 when none was due.
    fn claim_and_delete(&self) -> usize {
        let now = Utc::now().timestamp_micros();
        let claimed: Option<(i64, String)> = self.in_tx(|conn| {
            let mut claim = conn.prepare_cached(SQLITE_CLAIM)?;
            let mut rows = claim.query(rusqlite::named_params! {
                "$1": now, "$2": now + 300_000_000, "$3": 1,
            })?;
            let row = rows.next()?;
            row.map(|r| Ok((r.get("id")?, r.get("lease_token")?)))
                .transpose()
        });
        let Some((id, lease)) = claimed else { return 0 };
        self.in_tx(|conn| {
            conn.prepare_cached(DELETE_JOB)?
                .execute(rusqlite::named_params! { "$1": id, "$2": lease })
                .map(drop)
        });
        1
    }

    fn in_tx<T>(&self, body: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>) -> T {
        self.0.execute_batch("BEGIN IMMEDIATE").expect("begin");
        let value = body(&self.0).expect("statement");
        self.0.execute_batch("COMMIT").expect("commit");
        value
    }
}

/// The raw cycle on PostgreSQL: per job an insert, a claim and a delete,
/// each a statement committing on its own, prepared once, on one connection
/// per worker.
async fn raw_postgres(db: &TestDb, workers: usize) -> f64 {
    let config: tokio_postgres::Config = db.url().parse().expect("postgres URL");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let config = config.clone();
        tasks.push(tokio::spawn(async move {
            let raw = RawPostgres::connect(&config).await;
            let mut done = 0;
            for _ in 0..JOBS / workers {
                raw.insert().await;
                done += raw.claim_and_delete().await;
            }
            done
        }));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await.expect("worker");
    }
    let raw = RawPostgres::connect(&config).await;
    while done < JOBS / workers * workers {
        let drained = raw.claim_and_delete().await;
        assert!(drained > 0, "raw jobs went missing");
        done += drained;
    }
    done as f64 / started.elapsed().as_secs_f64()
}

struct RawPostgres {
    client: tokio_postgres::Client,
    insert: tokio_postgres::Statement,
    claim: tokio_postgres::Statement,
    delete: tokio_postgres::Statement,
}

impl RawPostgres {
    /// Connects over plain TCP (the server is on loopback; the connection is
    /// driven by its own task) and prepares the cycle's statements.
    async fn connect(config: &tokio_postgres::Config) -> RawPostgres {
        let tokio_postgres::config::Host::Tcp(host) = &config.get_hosts()[0] else {
            panic!("{POSTGRES_URL_VAR} must name a TCP host");
        };
        let stream = tokio::net::TcpStream::connect((host.as_str(), config.get_ports()[0]))
            .await
            .expect("connect to PostgreSQL");
        let (client, connection) = config
            .connect_raw(stream, tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL handshake");
        tokio::spawn(connection);
        let insert = client.prepare(PG_ENQUEUE);
        let claim = client.prepare(PG_CLAIM);
        let delete = client.prepare(DELETE_JOB);
        RawPostgres {
            insert: insert.await.expect("prepare insert"),
            claim: claim.await.expect("prepare claim"),
            delete: delete.await.expect("prepare delete"),
            client,
        }
    }

    async fn insert(&self) {
        let now = SystemTime::now();
        self.client
            .query_one(
                &self.insert,
                &[&"bench", &PAYLOAD, &None::<String>, &5i32, &now, &now],
            )
            .await
            .expect("insert");
    }

    /// Claims one due job and deletes it; 0 when none was due.
    async fn claim_and_delete(&self) -> usize {
        let now = SystemTime::now();
        let lease_end = now + Duration::from_secs(300);
        let claimed = self
            .client
            .query_opt(&self.claim, &[&now, &lease_end, &1i64])
            .await
            .expect("claim");
        let Some(row) = claimed else { return 0 };
        let (id, lease): (i64, String) = (row.get("id"), row.get("lease_token"));
        self.client
            .execute(&self.delete, &[&id, &lease])
            .await
            .expect("delete");
        1
    }
}
