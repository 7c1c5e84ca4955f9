//! Apostle's [`Store`] on PostgreSQL, for installations that run several
//! processes (`apostle serve` beside `apostle worker`s) on one database.
//!
//! Claiming takes rows with `FOR UPDATE SKIP LOCKED`, so concurrent workers
//! each get different jobs without waiting on one another. The SQL, row
//! decoding and `Tx` methods are shared with the SQLite store (see
//! `apostle-store-sql`); this file holds what is PostgreSQL's own: connecting,
//! `TIMESTAMPTZ` values, the `JSONB` payload and the claim's row locks.

use apostle_core::store::{Grant, Job, Store, StoreError, StoreResult, Tx};
use apostle_store_sql::pool::{detached, discarded, outside_transaction, ReleaseCheck};
use apostle_store_sql::rows::{
    classify, decode_all, sort_claimed, sort_claimed_grants, GrantRow, JobRow,
};
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::error::DatabaseError;
use sqlx::pool::PoolConnectionMetadata;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Executor, PgConnection, Postgres, Row, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// Timestamps as PostgreSQL stores them, to the microsecond.
fn at(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// Serialization failure, deadlock, lock not available: worth a retry.
fn is_busy(db: &dyn DatabaseError) -> bool {
    matches!(db.code().as_deref(), Some("40001" | "40P01" | "55P03"))
}

fn err(e: sqlx::Error) -> StoreError {
    classify(e, "row", is_busy)
}

fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| classify(e, what, is_busy)
}

const CLAIM_JOBS: &str = apostle_store_sql::claim_jobs!(
    token: "replace(gen_random_uuid()::text, '-', '')",
    lock: "FOR UPDATE SKIP LOCKED",
    payload: "payload::text AS payload"
);

const CLAIM_DUE_GRANTS: &str = apostle_store_sql::claim_due_grants!(
    token: "replace(gen_random_uuid()::text, '-', '')",
    lock: "FOR UPDATE SKIP LOCKED"
);

/// True only on a connection outside any explicit transaction: the first
/// statement of a transaction sees its own start as the transaction's, and a
/// statement run inside one that an earlier `BEGIN` opened does not.
const OUTSIDE_TRANSACTION: &str = "SELECT statement_timestamp() = transaction_timestamp()";

/// Whether the server, not only sqlx's count, says the connection is
/// outside a transaction. Asked of every connection coming back to the pool,
/// after any rollback queued for it has run.
async fn clean(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    if !outside_transaction(conn).await? {
        return Ok(false);
    }
    // The simple protocol: one message, so one statement time. The extended
    // protocol's Bind and Execute would each move the statement time.
    // A query without arguments goes as one simple-protocol message.
    let row = conn.fetch_one(OUTSIDE_TRANSACTION).await?;
    row.try_get::<bool, _>(0)
}

fn release_when_clean(conn: &mut PgConnection, _meta: PoolConnectionMetadata) -> ReleaseCheck<'_> {
    Box::pin(async move { clean(conn).await.map(discarded) })
}

/// Connections per process.
const POOL_SIZE: u32 = 10;

/// How long connecting, or waiting for a free connection, may take.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL database and this process's connection pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database named by a `postgres://user:password@host:port/db`
    /// URL. Errors name the host and port, never the password.
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        Self::connect_with_pool_size(url, POOL_SIZE).await
    }

    /// [`connect`](Self::connect) with at most `connections` connections; a
    /// one-connection pool lets tests see any connection left unclean.
    pub async fn connect_with_pool_size(url: &str, connections: u32) -> StoreResult<PgStore> {
        let redact = |message: String| match password_in(url) {
            Some(password) => message.replace(password, "***"),
            None => message,
        };
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            StoreError::Database(redact(format!(
                "invalid PostgreSQL URL (expected postgres://user:password@host:port/database): {e}"
            )))
        })?;
        let (host, port) = (options.get_host().to_owned(), options.get_port());
        // One direct connection first: the pool would retry a refused
        // connection until its acquire timeout, where a wrong host or port
        // should be reported at once.
        let probe = PgConnection::connect_with(&options).await.map_err(|e| {
            StoreError::Database(redact(format!(
                "cannot connect to PostgreSQL at {host}:{port}: {e}"
            )))
        })?;
        probe.close().await.map_err(err)?;
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_release(release_when_clean)
            .connect_lazy_with(options);
        Ok(PgStore { pool })
    }

    /// Brings the schema up to date with the migrations built into this crate.
    pub async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Database(format!("PostgreSQL migration failed: {e}")))
    }

    /// Runs a claim statement (`$1` now, `$2` the lease end, `$3` the limit)
    /// on its own task: a caller that stops waiting must not leave rows
    /// claimed by nobody until their lease runs out.
    async fn claim<R>(
        &self,
        claim: &'static str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> StoreResult<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin + 'static,
    {
        let pool = self.pool.clone();
        detached(async move {
            sqlx::query_as(claim)
                .bind(at(now))
                .bind(at(now + lease))
                .bind(limit)
                .fetch_all(&pool)
                .await
                .map_err(err)
        })
        .await
    }
}

/// The password part of a URL's `user:password@`, if there is one.
fn password_in(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let credentials = authority.rsplit_once('@')?.0;
    let password = credentials.split_once(':')?.1;
    (!password.is_empty()).then_some(password)
}

#[async_trait]
impl Store for PgStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let pool = self.pool.clone();
        let tx = detached(async move { pool.begin().await.map_err(err) }).await?;
        Ok(Box::new(PgTx { tx }))
    }

    async fn begin_read(&self) -> StoreResult<Box<dyn Tx>> {
        self.begin().await
    }

    async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> StoreResult<Vec<Job>> {
        let rows: Vec<JobRow<DateTime<Utc>>> = self.claim(CLAIM_JOBS, now, lease, limit).await?;
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
        let rows: Vec<GrantRow<DateTime<Utc>>> =
            self.claim(CLAIM_DUE_GRANTS, now, lease, limit).await?;
        let mut grants = decode_all(rows, GrantRow::decode)?;
        sort_claimed_grants(&mut grants);
        Ok(grants)
    }

    async fn check_ready(&self) -> StoreResult<()> {
        let pool = self.pool.clone();
        detached(async move {
            let mut conn = pool.acquire().await.map_err(err)?;
            if !discarded(clean(&mut conn).await.map_err(err)?) {
                conn.close_on_drop();
                return Err(StoreError::Database(
                    "a pooled connection was inside a transaction".to_owned(),
                ));
            }
            Ok(())
        })
        .await
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// An open PostgreSQL transaction; dropping it rolls back.
struct PgTx {
    tx: Transaction<'static, Postgres>,
}

apostle_store_sql::impl_tx! {
    tx: PgTx,
    database: Postgres,
    time: DateTime<Utc> = at,
    errors: err, conflict,
    payload: select "payload::text AS payload", insert "$2::jsonb",
    lock_rows: "FOR UPDATE",
    job_pairs: "SELECT (pair->>0)::bigint, pair->>1 FROM jsonb_array_elements($1::jsonb) AS pair",
}

apostle_store_sql::impl_shares_tx! { tx: PgTx, time: DateTime<Utc> = at, errors: err }

apostle_store_sql::impl_alerts_tx! {
    tx: PgTx,
    time: DateTime<Utc> = at,
    errors: err,
    ids: "SELECT jsonb_array_elements_text($1::jsonb)::bigint",
}

apostle_store_sql::impl_posts_tx! {
    tx: PgTx,
    database: Postgres,
    time: DateTime<Utc> = at,
    errors: err, conflict,
    plan: start "$4" seconds " * interval '1 second'",
    ids: "SELECT jsonb_array_elements_text($1::jsonb)::bigint",
}

#[cfg(test)]
mod tests {
    use super::password_in;

    #[test]
    fn password_is_found_only_where_the_url_has_one() {
        assert_eq!(
            password_in("postgres://amy:s3cr%40t@db:5432/x"),
            Some("s3cr%40t")
        );
        assert_eq!(password_in("postgres://amy:p@ss@db/x"), Some("p@ss"));
        assert_eq!(password_in("postgres://amy@db:5432/x"), None);
        assert_eq!(password_in("postgres://db:5432/x"), None);
        assert_eq!(password_in("not a url"), None);
    }
}
