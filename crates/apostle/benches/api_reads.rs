//! What an API read costs against the floor: `GET /api/v1/me` (a bearer
//! token, the user and their teams) against `GET /readyz` (one database
//! query on a clean connection: the least any data route can cost), in the
//! same run, with `wrk` on loopback (64 connections, a few seconds each), on
//! SQLite and — when `APOSTLE_TEST_POSTGRES_URL` is set — on PostgreSQL.
//! Prints requests per second and their ratio; the goal is 0.4 or more.

use apostle::settings::Settings;
use apostle::startup::Application;
use apostle_domain::Role;
use secrecy::ExposeSecret;
use sqlx::Connection;
use std::collections::HashMap;
use std::process::Command;
use tokio::sync::watch;

const POSTGRES_URL_VAR: &str = "APOSTLE_TEST_POSTGRES_URL";
const CONNECTIONS: &str = "64";
const SECONDS: &str = "4s";
const PASSWORD: &str = "correct horse battery";
/// Each path is measured this many times, alternating with the other.
const ROUNDS: usize = 2;

#[tokio::main]
async fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("skipped: wrk is not installed (apt-get install wrk)");
        return;
    }
    println!("API reads: wrk, {CONNECTIONS} connections, {SECONDS} per path, loopback");
    let scratch = std::env::temp_dir().join(format!("apostle-bench-{}", std::process::id()));
    let mut env = HashMap::from([
        ("APOSTLE_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        (
            "APOSTLE_MAIL_DIR".to_owned(),
            scratch.join("mail").display().to_string(),
        ),
    ]);
    env.insert(
        "APOSTLE_DATABASE_URL".to_owned(),
        format!("sqlite://{}/apostle.db", scratch.display()),
    );
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
    let settings = Settings::load_from(None, env).expect("bench settings");
    let app = Application::build(settings).await.expect("app builds");
    let core = app.core().clone();
    core.create_team("acme", "Acme").await.expect("team");
    core.add_user(
        "acme",
        "ada@acme.example",
        "Ada Admin",
        Role::Admin,
        PASSWORD.to_owned().into(),
    )
    .await
    .expect("user");
    let token = core
        .issue_api_token("ada@acme.example", PASSWORD.to_owned().into(), "bench")
        .await
        .expect("token")
        .token;
    let base = format!("http://{}", app.address());
    let (stop, stopped) = watch::channel(false);
    let server = tokio::spawn(app.run_until_stopped(stopped));

    let auth = format!("Authorization: Bearer {}", token.expose_secret());
    // Alternated, so that a noisy moment weighs on both alike.
    let (mut floor, mut me, mut errors) = (0.0, 0.0, 0);
    for _ in 0..ROUNDS {
        let (rate, failed) = wrk(&format!("{base}/readyz"), None);
        floor += rate / ROUNDS as f64;
        errors += failed;
        let (rate, failed) = wrk(&format!("{base}/api/v1/me"), Some(&auth));
        me += rate / ROUNDS as f64;
        errors += failed;
    }
    println!(
        "{backend}: GET /readyz {floor:.0} req/s, GET /api/v1/me {me:.0} req/s, \
         ratio {:.2}, non-2xx answers {errors}",
        me / floor
    );
    stop.send(true).ok();
    server.await.expect("server task").expect("server stops");
}

/// Requests per second that wrk reports for `url`, and how many answers
/// were not 2xx (there should be none: they are printed, not hidden).
fn wrk(url: &str, header: Option<&str>) -> (f64, u64) {
    let mut command = Command::new("wrk");
    command.args(["-t2", "-c", CONNECTIONS, "-d", SECONDS]);
    if let Some(header) = header {
        command.args(["-H", header]);
    }
    let out = command.arg(url).output().expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    let rate = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no rate in wrk's output:\n{text}"));
    let errors = field("Non-2xx or 3xx responses:").map_or(0, |v| v.parse().unwrap_or(u64::MAX));
    (rate, errors)
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
