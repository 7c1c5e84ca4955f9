//! The connection scheduler's claim: how long selecting and leasing 1,000 due
//! grants takes among 10,000 and among 1,000,000 stored grants, on SQLite and
//! (when `APOSTLE_TEST_POSTGRES_URL` is set) on PostgreSQL. The claim reads the
//! partial index of due grants, so the two should cost about the same; the
//! ratio of the larger to the smaller is printed (the goal is 1.5 or less).
//!
//! Grants are seeded set-based in one statement (a recursive CTE on SQLite,
//! `generate_series` on PostgreSQL), owned by one user, with tokens the size
//! of sealed X tokens. Every `SIZE / DUE`-th grant is due (scattered over the
//! table, overdue by up to an hour); the others are due over the next six
//! hours. Each claim is timed through the store, then its leases are released
//! for the next; claims on the two tables alternate, and the median of each is
//! printed.

#[path = "shared/beside.rs"]
mod beside;

use apostle_core::store::Store;
use apostle_domain::{EmailAddress, PersonName, UserId};
use apostle_encryption::Keyring;
use apostle_store_tests::harness::{Backend, TestDb, POSTGRES_URL_VAR};
use beside::{execute, Arg};
use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

const SIZES: [i64; 2] = [10_000, 1_000_000];
const DUE: i64 = 1_000;
const RUNS: usize = 11;

/// The seed, shared by both backends. `$1` the owner, `$2` and `$3` the
/// sealed tokens, `$4` now, `$5` the stride of due grants, `$6` how many;
/// `n` counts from 1. SQLite keeps times as microseconds, PostgreSQL as
/// `timestamptz`: `$seconds` turns a number of seconds into either.
macro_rules! seed {
    (series: $series:literal, seconds: $seconds:literal) => {
        concat!(
            $series,
            " INSERT INTO grants (owner_user_id, provider, external_user_id, scopes, \
                 access_token, refresh_token, access_expires_at, status, next_due_at, \
                 created_at, updated_at) \
             SELECT $1, 'x', 'bench-' || n, 'tweet.read tweet.write users.read offline.access', \
                 $2, $3, $4 + 7200",
            $seconds,
            ", 'active', \
                 CASE WHEN n % $5 = 0 THEN $4 - (n % 3600)",
            $seconds,
            " ELSE $4 + (60 + n % 21600)",
            $seconds,
            " END, $4, $4 \
             FROM series"
        )
    };
}
const SQLITE_SEED: &str = seed!(
    series: "WITH RECURSIVE series(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM series WHERE n < $6)",
    seconds: " * 1000000"
);
const PG_SEED: &str = seed!(
    series: "WITH series AS (SELECT generate_series(1, $6::bigint) AS n)",
    seconds: " * interval '1 second'"
);
const RELEASE: &str =
    "UPDATE grants SET lease_token = NULL, leased_until = NULL WHERE lease_token IS NOT NULL";

#[tokio::main]
async fn main() {
    println!(
        "grant scheduler: one claim of {DUE} due grants, median of {RUNS}, \
         among {} and {} stored grants",
        SIZES[0], SIZES[1]
    );
    let now = Utc::now();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let mut dbs = Vec::new();
        for size in SIZES {
            let Some(db) = TestDb::create(backend).await else {
                println!("{backend:?}: skipped, {POSTGRES_URL_VAR} is not set");
                break;
            };
            let started = Instant::now();
            seed(&db, size, now).await;
            println!(
                "{backend:?}: {size} grants seeded in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            dbs.push(db);
        }
        let [small, large] = &dbs[..] else { continue };
        // Alternated, so that a noisy moment weighs on both alike.
        let (mut small_times, mut large_times) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            small_times.push(claim(small, now).await);
            large_times.push(claim(large, now).await);
        }
        let (small_time, large_time) = (median(small_times), median(large_times));
        println!(
            "{backend:?}: claim among {} {:.1} ms, among {} {:.1} ms, ratio {:.2}",
            SIZES[0],
            ms(small_time),
            SIZES[1],
            ms(large_time),
            large_time.as_secs_f64() / small_time.as_secs_f64()
        );
        for db in dbs {
            db.destroy().await;
        }
    }
}

/// How long one claim of the [`DUE`] grants due at `now` takes; its leases are
/// released afterwards.
async fn claim(db: &TestDb, now: DateTime<Utc>) -> Duration {
    let started = Instant::now();
    let claimed = db
        .store()
        .claim_due_grants(now, chrono::Duration::minutes(2), DUE)
        .await
        .expect("claim");
    let elapsed = started.elapsed();
    assert_eq!(claimed.len() as i64, DUE, "every due grant is claimed");
    execute(db, RELEASE, &[]).await;
    elapsed
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Stores `size` grants of one new user, [`DUE`] of them due at `now`.
async fn seed(db: &TestDb, size: i64, now: DateTime<Utc>) {
    let owner = owner(db.store(), now).await;
    // A token as long as X's, sealed as the engine seals it.
    let keyring = Keyring::parse(&Keyring::generate_entry("bench")).expect("keyring");
    let sealed = keyring.seal_text(&"t".repeat(79), "grant");
    let args = [
        Arg::Int(owner.0),
        Arg::Text(sealed.clone()),
        Arg::Text(sealed),
        Arg::Time(now),
        Arg::Int(size / DUE),
        Arg::Int(size),
    ];
    match db.backend() {
        Backend::Sqlite => {
            execute(db, SQLITE_SEED, &args).await;
        }
        Backend::Postgres => {
            execute(db, PG_SEED, &args).await;
            // What autovacuum does after a bulk insert, done now so that every
            // claim runs on the plan a settled table gets.
            execute(db, "ANALYZE grants", &[]).await;
        }
    }
}

async fn owner(store: &dyn Store, now: DateTime<Utc>) -> UserId {
    let mut tx = store.begin().await.expect("begin");
    let user = tx
        .create_user(
            &EmailAddress::parse("owner@bench.example").expect("email"),
            &PersonName::parse("Bench Owner").expect("name"),
            None,
            now,
        )
        .await
        .expect("user");
    tx.commit().await.expect("commit");
    user.id
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
