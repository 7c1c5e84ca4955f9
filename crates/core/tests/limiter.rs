//! The sign-in limit kept in the database (as several processes on one
//! PostgreSQL share it), here on a SQLite store, with a clock the tests move.

use apostle_core::clock::ManualClock;
use apostle_core::limiter::LoginLimiter;
use apostle_core::Store;
use apostle_store_sqlite::SqliteStore;
use chrono::{Duration, TimeZone, Utc};
use std::sync::Arc;

async fn shared_limiter(max_failures: u32) -> (LoginLimiter, Arc<dyn Store>, ManualClock) {
    let dir = std::env::temp_dir().join(format!(
        "apostle-limiter-{}",
        apostle_core::secrets::random_token()
    ));
    let store = SqliteStore::connect(&format!("sqlite://{}", dir.join("t.db").display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let clock = ManualClock::new(start());
    let window = std::time::Duration::from_secs(15 * 60);
    let limiter = LoginLimiter::in_store(
        max_failures,
        window,
        Arc::new(clock.clone()),
        Arc::clone(&store),
    );
    (limiter, store, clock)
}

#[tokio::test]
async fn a_limit_kept_in_the_database_refuses_until_the_window_has_passed() {
    let (limiter, _, clock) = shared_limiter(2).await;
    let keys = vec![
        "email:amy@acme.example".to_owned(),
        "ip:10.0.0.1".to_owned(),
    ];
    limiter.record_failure(&keys).await.unwrap();
    clock.advance(Duration::minutes(5));
    limiter.record_failure(&keys[..1]).await.unwrap();
    let wait = limiter.check(&keys).await.unwrap().unwrap_err();
    assert_eq!(wait, std::time::Duration::from_secs(10 * 60));
    assert!(limiter.check(&keys[1..]).await.unwrap().is_ok());
    clock.advance(Duration::minutes(10));
    assert!(limiter.check(&keys).await.unwrap().is_ok());
}

#[tokio::test]
async fn a_sign_in_forgives_the_email_and_expired_failures_leave_the_table() {
    let (limiter, store, clock) = shared_limiter(1).await;
    let amy = vec!["email:amy@acme.example".to_owned()];
    let flood: Vec<String> = (0..50)
        .map(|n| format!("email:{n}@flood.example"))
        .collect();
    limiter.record_failure(&amy).await.unwrap();
    limiter.record_failure(&flood).await.unwrap();
    limiter.record_success(&amy[0]).await.unwrap();
    assert!(limiter.check(&amy).await.unwrap().is_ok());
    clock.advance(Duration::minutes(16));
    assert!(limiter.check(&amy).await.unwrap().is_ok());
    let mut tx = store.begin().await.unwrap();
    let everything = tx
        .purge_login_failures(start() + Duration::days(365))
        .await
        .unwrap();
    assert_eq!(everything, 0, "the check swept them all");
}

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
}
