//! What an API read costs against the floor: `GET /api/v1/me` (a bearer
//! token, the user and their teams) against `GET /readyz` (one database
//! query on a clean connection: the least any data route can cost), in the
//! same run, with `wrk` on loopback (64 connections, a few seconds each), on
//! SQLite and — when `APOSTLE_TEST_POSTGRES_URL` is set — on PostgreSQL.
//! Prints requests per second and their ratio; the goal is 0.4 or more.

#[path = "support/served.rs"]
mod served;

use secrecy::ExposeSecret;
use served::{Figures, Served, CONNECTIONS, PASSWORD, SECONDS};
use sqlx::Connection;
use std::collections::HashMap;

const POSTGRES_URL_VAR: &str = "APOSTLE_TEST_POSTGRES_URL";
/// Each path is measured this many times, alternating with the other.
const ROUNDS: usize = 2;

#[tokio::main]
async fn main() {
    if !served::wrk_installed() {
        return;
    }
    println!("API reads: wrk, {CONNECTIONS} connections, {SECONDS} per path, loopback");
    let (scratch, mut env) = served::sqlite_env("api-reads");
    measure("SQLite", env.clone()).await;
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(admin_url) => {
            let name = format!("apostle_bench_{}", std::process::id());
            admin(&admin_url, &format!("CREATE DATABASE {name}")).await;
            let mut url = url::Url::parse(&admin_url).expect("a postgres URL");
            url.set_path(&name);
            env.insert("APOSTLE_DATABASE_URL".to_owned(), url.to_string());
            env.insert(
                "APOSTLE_ENCRYPTION_KEYS".to_owned(),
                apostle_encryption::Keyring::generate_entry("bench")
                    .expose_secret()
                    .to_owned(),
            );
            measure("PostgreSQL", env).await;
            admin(
                &admin_url,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
        Err(_) => println!("PostgreSQL: skipped, {POSTGRES_URL_VAR} is not set"),
    }
    std::fs::remove_dir_all(&scratch).ok();
}

async fn measure(backend: &str, env: HashMap<String, String>) {
    let app = Served::start(env).await;
    let core = &app.core;
    served::acme(core).await;
    let token = core
        .issue_api_token("ada@acme.example", PASSWORD.to_owned().into(), "bench")
        .await
        .expect("token")
        .token;
    let auth = format!("Authorization: Bearer {}", token.expose_secret());
    // Alternated, so that a noisy moment weighs on both alike.
    let (mut floor, mut me) = (Figures::default(), Figures::default());
    for _ in 0..ROUNDS {
        floor.add(served::wrk(&format!("{}/readyz", app.base), &[], None));
        me.add(served::wrk(
            &format!("{}/api/v1/me", app.base),
            &[&auth],
            None,
        ));
    }
    println!(
        "{backend}: GET /readyz {floor}; GET /api/v1/me {me}; ratio {:.2}",
        me.rate / floor.rate
    );
    app.stop().await;
}

/// Runs one statement on the PostgreSQL server tests may use.
async fn admin(admin_url: &str, statement: &str) {
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("the PostgreSQL server answers");
    sqlx::query(statement)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    conn.close().await.ok();
}
