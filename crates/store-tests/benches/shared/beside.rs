//! Statements run beside the store, for what benchmarks do that no store
//! method does: seeding large tables set-based, refreshing planner
//! statistics, counting rows a check needs. Shared by the benches that
//! include it (`#[path]`).

use apostle_store_tests::harness::{Backend, TestDb};
use chrono::{DateTime, Utc};
use sqlx::{Connection, Row};
use std::time::Duration;

pub enum Arg {
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
}

/// Runs one statement beside the store: through rusqlite on the store's
/// file (times as microseconds, as the store keeps them), or on its own
/// PostgreSQL connection. Answers the first column of the first row, for
/// a statement that returns rows.
pub async fn execute(db: &TestDb, statement: &str, args: &[Arg]) -> Option<i64> {
    match db.backend() {
        Backend::Sqlite => {
            let conn =
                rusqlite::Connection::open(db.url().trim_start_matches("sqlite://")).expect("open");
            conn.busy_timeout(Duration::from_secs(10))
                .expect("busy timeout");
            let values: Vec<(String, rusqlite::types::Value)> = args
                .iter()
                .enumerate()
                .map(|(i, arg)| {
                    let value = match arg {
                        Arg::Int(n) => (*n).into(),
                        Arg::Text(s) => s.clone().into(),
                        Arg::Time(t) => t.timestamp_micros().into(),
                    };
                    (format!("${}", i + 1), value)
                })
                .collect();
            let named: Vec<(&str, &dyn rusqlite::ToSql)> = values
                .iter()
                .map(|(name, value)| (name.as_str(), value as &dyn rusqlite::ToSql))
                .collect();
            let mut prepared = conn
                .prepare(statement)
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
            let mut rows = prepared
                .query(named.as_slice())
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
            rows.next()
                .and_then(|row| row.map(|r| r.get(0)).transpose())
                .unwrap_or_else(|e| panic!("{statement}: {e}"))
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url())
                .await
                .expect("connect");
            let mut query = sqlx::query(statement);
            for arg in args {
                query = match arg {
                    Arg::Int(n) => query.bind(*n),
                    Arg::Text(s) => query.bind(s.as_str()),
                    Arg::Time(t) => query.bind(*t),
                };
            }
            let row = query
                .fetch_optional(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
            conn.close().await.ok();
            row.map(|r| r.get(0))
        }
    }
}
