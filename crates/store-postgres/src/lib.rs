//! Apostle's [`Store`] on PostgreSQL, for installations that run several
//! processes (`apostle serve` beside `apostle worker`s) on one database.
//!
//! Claiming takes rows with `FOR UPDATE SKIP LOCKED`, so concurrent workers
//! each get different jobs without waiting on one another. The SQL, row
//! decoding and `Tx` methods are shared with the SQLite store (see
//! `apostle-store-sql`); this file holds what is PostgreSQL's own: connecting,
//! `TIMESTAMPTZ` values, the `JSONB` payload and the claim's row locks.

use apostle_core::store::{Job, Store, StoreError, StoreResult, Tx};
use apostle_store_sql::rows::{classify, decode_all, sort_claimed, JobRow};
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::error::DatabaseError;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres, Transaction};
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
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
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
        let tx = self.pool.begin().await.map_err(err)?;
        Ok(Box::new(PgTx { tx }))
    }

    async fn begin_read(&self) -> StoreResult<Box<dyn Tx>> {
        let tx = self.pool.begin().await.map_err(err)?;
        Ok(Box::new(PgTx { tx }))
    }

    async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> StoreResult<Vec<Job>> {
        let rows: Vec<JobRow<DateTime<Utc>>> = sqlx::query_as(CLAIM_JOBS)
            .bind(at(now))
            .bind(at(now + lease))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let mut jobs = decode_all(rows, JobRow::decode)?;
        sort_claimed(&mut jobs);
        Ok(jobs)
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
    job_pairs: "SELECT (pair->>0)::bigint, pair->>1 FROM jsonb_array_elements($1::jsonb) AS pair",
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
