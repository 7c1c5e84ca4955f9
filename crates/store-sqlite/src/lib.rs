//! Apostle's [`Store`] on SQLite, the embedded default database.
//!
//! One file in WAL mode, shared by every process that opens it. Write
//! transactions start with `BEGIN IMMEDIATE` so they take the single write
//! lock up front and never fail half-way on a lock upgrade; read transactions
//! use a plain deferred `BEGIN`. Timestamps are stored as INTEGER microseconds
//! since the epoch, so they compare and sort as numbers.

use apostle_core::store::{Grant, Job, Store, StoreError, StoreResult, Tx};
use apostle_store_sql::pool::{detached, discarded, outside_transaction, release_when_clean};
use apostle_store_sql::rows::{
    classify, decode_all, sort_claimed, sort_claimed_grants, GrantRow, JobRow,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::error::DatabaseError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Sqlite, SqliteConnection, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How timestamps come back from SQLite: microseconds since the epoch.
type Micros = i64;

fn micros(t: DateTime<Utc>) -> Micros {
    t.timestamp_micros()
}

/// SQLITE_BUSY (5) and SQLITE_LOCKED (6), with any extended code.
fn is_busy(db: &dyn DatabaseError) -> bool {
    db.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

fn err(e: sqlx::Error) -> StoreError {
    classify(e, "row", is_busy)
}

fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| classify(e, what, is_busy)
}

const CLAIM_JOBS: &str = apostle_store_sql::claim_jobs!(
    token: "lower(hex(randomblob(16)))",
    lock: "",
    payload: "payload"
);

const CLAIM_DUE_GRANTS: &str = apostle_store_sql::claim_due_grants!(
    token: "lower(hex(randomblob(16)))",
    lock: ""
);

/// Connections in the pool. SQLite admits one writer at a time anyway; a few
/// connections let reads proceed beside it.
const POOL_SIZE: u32 = 8;

/// How long a statement waits for another connection's write lock before
/// reporting [`StoreError::Busy`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A SQLite database file and its connection pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// SQLite admits one writer at a time. Writers queue here, woken the moment the
    /// one before them is done, instead of polling in SQLite's busy handler (which
    /// sleeps in steps up to 100 ms and left many workers waiting on a free lock).
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl SqliteStore {
    /// Opens the database named by a `sqlite://path` URL, creating the file
    /// and its parent directory if missing.
    pub async fn connect(url: &str) -> StoreResult<SqliteStore> {
        Self::connect_with_pool_size(url, POOL_SIZE).await
    }

    /// [`connect`](Self::connect) with at most `connections` connections; a
    /// one-connection pool lets tests see any connection left unclean.
    pub async fn connect_with_pool_size(url: &str, connections: u32) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let path = options.get_filename().to_owned();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Database(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            // An embedded database cannot hang up: a ping before every
            // acquire would only add a round trip to the worker thread.
            .test_before_acquire(false)
            .after_release(release_when_clean::<SqliteConnection>)
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::Database(format!(
                    "cannot open SQLite database {}: {e}",
                    path.display()
                ))
            })?;
        Ok(SqliteStore {
            pool,
            writer: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Brings the schema up to date with the migrations built into this crate.
    pub async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Database(format!("SQLite migration failed: {e}")))
    }

    /// Runs a claim statement (`$1` now, `$2` the lease end, `$3` the limit)
    /// in a transaction of its own, all on one task: a caller that stops
    /// waiting must not leave rows claimed by nobody until their lease runs out.
    /// Waits for this process's turn to write, as long as SQLite would wait for the
    /// lock itself.
    async fn write_turn(&self) -> StoreResult<tokio::sync::OwnedMutexGuard<()>> {
        tokio::time::timeout(BUSY_TIMEOUT, Arc::clone(&self.writer).lock_owned())
            .await
            .map_err(|_| StoreError::Busy)
    }

    async fn claim<R>(
        &self,
        claim: &'static str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> StoreResult<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin + 'static,
    {
        let pool = self.pool.clone();
        let writer = self.write_turn().await?;
        detached(async move {
            let _writer = writer;
            // The write lock, taken up front, keeps other claimers out until commit.
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
            let rows: Vec<R> = sqlx::query_as(claim)
                .bind(micros(now))
                .bind(micros(now + lease))
                .bind(limit)
                .fetch_all(&mut *tx)
                .await
                .map_err(err)?;
            tx.commit().await.map_err(err)?;
            Ok(rows)
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let writer = self.write_turn().await?;
        let pool = self.pool.clone();
        let tx =
            detached(async move { pool.begin_with("BEGIN IMMEDIATE").await.map_err(err) }).await?;
        Ok(Box::new(SqliteTx {
            tx,
            _writer: Some(writer),
        }))
    }

    async fn begin_read(&self) -> StoreResult<Box<dyn Tx>> {
        let pool = self.pool.clone();
        let tx = detached(async move { pool.begin().await.map_err(err) }).await?;
        Ok(Box::new(SqliteTx { tx, _writer: None }))
    }

    async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> StoreResult<Vec<Job>> {
        let rows: Vec<JobRow<Micros>> = self.claim(CLAIM_JOBS, now, lease, limit).await?;
        let mut jobs = decode_all(rows, JobRow::decode)?;
        sort_claimed(&mut jobs);
        Ok(jobs)
    }

    async fn claim_due_grants(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> StoreResult<Vec<Grant>> {
        let rows: Vec<GrantRow<Micros>> = self.claim(CLAIM_DUE_GRANTS, now, lease, limit).await?;
        let mut grants = decode_all(rows, GrantRow::decode)?;
        sort_claimed_grants(&mut grants);
        Ok(grants)
    }

    async fn check_ready(&self) -> StoreResult<()> {
        let pool = self.pool.clone();
        detached(async move {
            let mut conn = pool.acquire().await.map_err(err)?;
            if !discarded(outside_transaction(&mut *conn).await.map_err(err)?) {
                conn.close_on_drop();
                return Err(StoreError::Database(
                    "a pooled connection was inside a transaction".to_owned(),
                ));
            }
            sqlx::query("SELECT count(*) FROM sqlite_schema")
                .execute(&mut *conn)
                .await
                .map_err(err)?;
            Ok(())
        })
        .await
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// An open SQLite transaction; dropping it rolls back.
struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    /// This writer's turn, held until the transaction ends.
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

apostle_store_sql::impl_tx! {
    tx: SqliteTx,
    database: Sqlite,
    time: Micros = micros,
    errors: err, conflict,
    payload: select "payload", insert "$2",
    lock_rows: "",
    job_pairs: "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($1)",
}

apostle_store_sql::impl_shares_tx! { tx: SqliteTx, time: Micros = micros, errors: err }

apostle_store_sql::impl_alerts_tx! { tx: SqliteTx, time: Micros = micros, errors: err, ids: "SELECT value FROM json_each($1)" }

apostle_store_sql::impl_posts_tx! {
    tx: SqliteTx,
    database: Sqlite,
    time: Micros = micros,
    errors: err, conflict,
    plan: start "$4" seconds " * 1000000",
    ids: "SELECT value FROM json_each($1)",
}
