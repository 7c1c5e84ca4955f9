//! Connection hygiene both pools share. A caller may stop waiting at any
//! `.await` (a client hangs up, a job is aborted at shutdown), and sqlx starts
//! a transaction before the guard that would roll it back exists: a future
//! dropped in between hands its connection back to the pool inside an
//! orphaned transaction, and every later user of that connection fails or,
//! worse, nests silently. So beginning and committing run on tasks of their
//! own that finish whatever the caller does, and every connection is checked
//! as it comes back and closed when it is not clean.

use apostle_core::store::{StoreError, StoreResult};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::Connection;
use std::future::Future;
use std::pin::Pin;

/// Runs `work` to completion on its own task, even when the caller stops
/// waiting for it; the caller sees its result when it does wait.
pub async fn detached<T, F>(work: F) -> StoreResult<T>
where
    F: Future<Output = StoreResult<T>> + Send + 'static,
    T: Send + 'static,
{
    tokio::spawn(work)
        .await
        .map_err(|e| StoreError::Database(format!("database task failed: {e}")))?
}

/// What a pool's `after_release` hook returns.
pub type ReleaseCheck<'c> = Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + 'c>>;

/// Whether a returning connection is outside any transaction by sqlx's own
/// count. A transaction dropped without commit queues its rollback, which may
/// not have landed yet: a ping waits for it before the count is read. A
/// rollback that failed (SQLite rolled back by itself after an I/O error)
/// leaves the count up, and the connection is closed instead of reused.
pub async fn outside_transaction<C: Connection>(conn: &mut C) -> Result<bool, sqlx::Error> {
    if conn.is_in_transaction() {
        conn.ping().await?;
    }
    Ok(!conn.is_in_transaction())
}

/// Logs and counts a connection the pool is about to close for being unclean.
pub fn discarded(clean: bool) -> bool {
    if !clean {
        tracing::warn!("closing a database connection that came back inside a transaction");
        metrics::counter!("apostle_db_connections_discarded_total").increment(1);
    }
    clean
}

/// An `after_release` hook that keeps a connection only when it is clean by
/// [`outside_transaction`].
pub fn release_when_clean<C: Connection>(
    conn: &mut C,
    _meta: PoolConnectionMetadata,
) -> ReleaseCheck<'_> {
    Box::pin(async move { outside_transaction(conn).await.map(discarded) })
}
