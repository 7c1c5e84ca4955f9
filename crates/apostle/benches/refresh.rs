//! Refreshing grants: how fast, and at what cost, the connection engine refreshes X
//! grants, on SQLite and (when `APOSTLE_TEST_POSTGRES_URL` is set) on PostgreSQL.
//!
//! - `throughput`: the sandbox answers every X call 100 ms late; prints refreshes per
//!   second against the limit `concurrency / latency` and the fraction of it reached
//!   (the goal is 0.8 or more).
//! - `cost`: 1,000 grants, no fault; prints refreshes per second and CPU-seconds per
//!   1,000 refreshes of this process plus the database (PostgreSQL's backends serving
//!   this run, from `/proc`; SQLite runs in this process). The goals are 800
//!   refreshes per second or more and 1.5 CPU-seconds or less.
//!
//! The sandbox runs as its own process (`apostle sandbox` on loopback), so its CPU is
//! not counted. Grants are connected through the real path: the engine's authorize
//! URL, the sandbox's consent answered with one POST, the engine's callback (code
//! exchange, identity, verifying probe). Then the engine's clock and the sandbox's move
//! past the two-hour life of X access tokens, so every grant is due for a refresh with
//! an expired access token, and the scheduler's rounds (`check_due_connections`, with
//! the default settings) run until every grant is refreshed. Only those rounds are
//! timed. `cargo bench -p apostle --bench refresh -- cost` runs one part.

#[path = "support/connect.rs"]
mod connect;

use apostle_core::connections::{ConnectionSettings, Connections};
use apostle_core::email::Mailer;
use apostle_core::store::Store;
use apostle_core::{Clock, Core, CoreSettings, ManualClock, SystemClock};
use apostle_domain::{EmailAddress, GrantId, PersonName};
use apostle_encryption::Keyring;
use apostle_providers::{Credentials, Http, Provider, ProviderConfig, ProviderEndpoints};
use chrono::Utc;
use serde_json::{json, Value};
use sqlx::Connection;
use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

const POSTGRES_URL_VAR: &str = "APOSTLE_TEST_POSTGRES_URL";
/// Grants in the throughput run: ten waves at the default concurrency.
const THROUGHPUT_GRANTS: usize = 640;
const LATENCY_MS: u64 = 100;
const COST_GRANTS: usize = 1_000;
/// Past the two-hour life of an X access token.
const PAST_LIFETIME: chrono::Duration = chrono::Duration::minutes(121);
/// `/proc` counts CPU time in ticks of 1/100 s (`USER_HZ`, fixed on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

#[tokio::main]
async fn main() {
    // cargo passes `--bench`; any other word names a part to run alone.
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    let sandbox = SandboxProcess::spawn();
    let settings = ConnectionSettings::default();
    if runs("throughput") {
        let limit = settings.concurrency as f64 * 1000.0 / LATENCY_MS as f64;
        println!(
            "refresh throughput: {THROUGHPUT_GRANTS} X grants, sandbox latency {LATENCY_MS} ms, \
             concurrency {}, batch {}",
            settings.concurrency, settings.batch
        );
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let Some(db) = Database::create(backend, "throughput").await else {
                println!("{backend:?}: skipped, {POSTGRES_URL_VAR} is not set");
                continue;
            };
            let members = format!("throughput-{backend:?}").to_lowercase();
            let engine =
                Engine::connect(&db, &sandbox, &settings, THROUGHPUT_GRANTS, &members).await;
            sandbox
                .admin(
                    reqwest::Method::POST,
                    "/faults",
                    json!({"provider": "x", "kind": "latency", "ms": LATENCY_MS}),
                )
                .await;
            engine.make_due(&sandbox).await;
            let elapsed = engine.run_rounds().await;
            engine.assert_all_refreshed().await;
            sandbox
                .admin(reqwest::Method::DELETE, "/faults?provider=x", Value::Null)
                .await;
            engine.close().await;
            db.destroy().await;
            let rate = THROUGHPUT_GRANTS as f64 / elapsed.as_secs_f64();
            println!(
                "{backend:?}: {rate:.0} refreshes/s, limit {limit:.0}/s, fraction {:.2}",
                rate / limit
            );
        }
    }
    if runs("cost") {
        println!(
            "refresh cost: {COST_GRANTS} X grants with expired access tokens, no fault, \
             concurrency {}, batch {}",
            settings.concurrency, settings.batch
        );
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let Some(db) = Database::create(backend, "cost").await else {
                println!("{backend:?}: skipped, {POSTGRES_URL_VAR} is not set");
                continue;
            };
            let members = format!("cost-{backend:?}").to_lowercase();
            let engine = Engine::connect(&db, &sandbox, &settings, COST_GRANTS, &members).await;
            engine.make_due(&sandbox).await;
            let before = Cpu::read(&db);
            let elapsed = engine.run_rounds().await;
            let (ours, database) = Cpu::read(&db).since(&before);
            engine.assert_all_refreshed().await;
            engine.close().await;
            db.destroy().await;
            let per_thousand = |cpu: f64| cpu * 1000.0 / COST_GRANTS as f64;
            let rate = COST_GRANTS as f64 / elapsed.as_secs_f64();
            match database {
                Some(database) => println!(
                    "{backend:?}: {rate:.0} refreshes/s; CPU-s per 1,000: {:.2} total \
                     ({:.2} ours + {:.2} PostgreSQL backends)",
                    per_thousand(ours + database),
                    per_thousand(ours),
                    per_thousand(database)
                ),
                None => println!(
                    "{backend:?}: {rate:.0} refreshes/s; CPU-s per 1,000: {:.2} \
                     (ours, the database included)",
                    per_thousand(ours)
                ),
            }
        }
    }
}

/// `apostle sandbox` on a loopback port of its own choosing, stopped when dropped.
struct SandboxProcess {
    child: Child,
    /// Held open: the sandbox prints to it.
    _stdout: std::io::BufReader<ChildStdout>,
    /// `http://127.0.0.1:PORT/sandbox`.
    base: String,
    http: reqwest::Client,
}

impl SandboxProcess {
    fn spawn() -> SandboxProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_apostle"))
            .args(["sandbox", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("apostle sandbox starts");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("its output"));
        // Printed once it listens: "provider sandbox at http://ADDRESS/sandbox".
        let mut line = String::new();
        stdout.read_line(&mut line).expect("apostle sandbox prints");
        let base = line
            .trim()
            .strip_prefix("provider sandbox at ")
            .unwrap_or_else(|| panic!("apostle sandbox said {line:?}"))
            .to_owned();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        SandboxProcess {
            child,
            _stdout: stdout,
            base,
            http,
        }
    }

    /// X's endpoints at this sandbox.
    fn x(&self) -> ProviderConfig {
        let base = Url::parse(&format!("{}/x", self.base)).expect("sandbox URL");
        ProviderConfig {
            credentials: Credentials::new("apostle-bench", "sandbox-secret"),
            endpoints: ProviderEndpoints::from_bases(Provider::X, &base, &base),
        }
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Value) {
        let mut request = self
            .http
            .request(method, format!("{}/admin{path}", self.base));
        if !body.is_null() {
            request = request.json(&body);
        }
        let answer = request.send().await.expect("sandbox answers");
        let status = answer.status();
        assert!(status.is_success(), "sandbox {path}: {status}");
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// The engine on a fresh database, its own clock, X at the sandbox, and the grants it
/// connected.
struct Engine {
    core: Core,
    clock: ManualClock,
    grants: Vec<GrantId>,
}

impl Engine {
    /// Connects `members` new sandbox members (handles `{tag}-{i}`), one user each,
    /// through the real path.
    async fn connect(
        db: &Database,
        sandbox: &SandboxProcess,
        settings: &ConnectionSettings,
        members: usize,
        tag: &str,
    ) -> Engine {
        let store = db.open().await;
        let clock = ManualClock::new(Utc::now());
        let keyring = Keyring::parse(&Keyring::generate_entry("bench")).expect("keyring");
        let core = Core {
            store,
            clock: Arc::new(SystemClock),
            mailer: Mailer::memory(),
            keyring: Arc::new(keyring),
            settings: Arc::new(CoreSettings {
                // Only names the callback in the consent's redirect, which is read,
                // never followed.
                public_url: Url::parse("http://127.0.0.1:8080/").expect("URL"),
                mail_from: "Apostle <apostle@bench.example>".parse().expect("mailbox"),
                invite_ttl: chrono::Duration::days(7),
                session_ttl: chrono::Duration::days(30),
            }),
            connections: Arc::new(Connections::new(
                vec![(Provider::X, sandbox.x())],
                Http::new().expect("HTTP client"),
                settings.clone(),
                Arc::new(clock.clone()),
            )),
        };
        let mut tx = core.store.begin().await.expect("begin");
        let mut users = Vec::new();
        for i in 0..members {
            let email = EmailAddress::parse(&format!("{tag}-{i}@bench.example")).expect("email");
            let name = PersonName::parse(&format!("Member {i}")).expect("name");
            let user = tx.create_user(&email, &name, None, Utc::now()).await;
            users.push(user.expect("user"));
        }
        tx.commit().await.expect("commit");

        let grants = connect::connect_x(&core, users, tag)
            .await
            .into_iter()
            .map(|account| account.grant_id)
            .collect();
        Engine {
            core,
            clock,
            grants,
        }
    }

    /// Moves both clocks past the access tokens' life: every grant is due for a
    /// refresh, and its access token expired at the sandbox.
    async fn make_due(&self, sandbox: &SandboxProcess) {
        self.clock.advance(PAST_LIFETIME);
        sandbox
            .admin(
                reqwest::Method::POST,
                "/clock/advance",
                json!({"seconds": PAST_LIFETIME.num_seconds()}),
            )
            .await;
    }

    /// Runs the scheduler's rounds until every grant was checked; how long that
    /// took.
    async fn run_rounds(&self) -> Duration {
        let started = Instant::now();
        let mut checked = 0;
        while checked < self.grants.len() {
            let round = self.core.check_due_connections().await.expect("a round");
            assert!(
                round > 0,
                "{} grants were not due",
                self.grants.len() - checked
            );
            checked += round;
        }
        started.elapsed()
    }

    /// Every grant holds a new access token: the rounds refreshed them all.
    async fn assert_all_refreshed(&self) {
        let now = self.clock.now();
        let mut tx = self.core.store.begin_read().await.expect("begin");
        for id in &self.grants {
            let grant = tx.grant_by_id(*id).await.expect("read").expect("grant");
            assert!(
                grant.access_expires_at > now,
                "grant {} was not refreshed",
                id.0
            );
        }
    }

    async fn close(self) {
        self.core.store.close().await;
    }
}

/// A fresh database for one run: a temporary SQLite file, or a PostgreSQL database
/// on the server `APOSTLE_TEST_POSTGRES_URL` names.
struct Database {
    url: String,
    /// PostgreSQL's server URL and this database's name.
    postgres: Option<(String, String)>,
    dir: Option<std::path::PathBuf>,
}

impl Database {
    /// Named after this process and `part`, so that no other run's shares its name.
    async fn create(backend: Backend, part: &str) -> Option<Database> {
        let suffix = format!("{}_{part}", std::process::id());
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("apostle-bench-{suffix}"));
                Some(Database {
                    url: format!("sqlite://{}", dir.join("apostle.db").display()),
                    postgres: None,
                    dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let server = std::env::var(POSTGRES_URL_VAR).ok()?;
                let name = format!("apostle_bench_{suffix}");
                admin(&server, &format!("CREATE DATABASE {name}")).await;
                let mut url = Url::parse(&server).expect("a postgres URL");
                url.set_path(&name);
                Some(Database {
                    url: url.to_string(),
                    postgres: Some((server, name)),
                    dir: None,
                })
            }
        }
    }

    async fn open(&self) -> Arc<dyn Store> {
        let url = apostle::database::DatabaseUrl::parse(&self.url).expect("database URL");
        apostle::database::open(&url).await.expect("database opens")
    }

    /// CPU-seconds so far of each PostgreSQL backend serving this database, by pid;
    /// `None` for SQLite.
    fn backends_cpu_seconds(&self) -> Option<HashMap<String, f64>> {
        let (_, name) = self.postgres.as_ref()?;
        let mut backends = HashMap::new();
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            // A backend's title: "postgres: USER DATABASE HOST(PORT) STATE".
            let Ok(title) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let title = String::from_utf8_lossy(&title);
            if title.split([' ', '\0']).any(|word| word == name) {
                if let Some(cpu) = cpu_seconds(&pid) {
                    backends.insert(pid, cpu);
                }
            }
        }
        Some(backends)
    }

    async fn destroy(self) {
        if let Some((server, name)) = &self.postgres {
            admin(
                server,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
        if let Some(dir) = &self.dir {
            std::fs::remove_dir_all(dir).ok();
        }
    }
}

/// CPU-seconds used so far by this process and by the database's backends.
struct Cpu {
    ours: f64,
    /// By pid; `None` for SQLite, which runs in this process.
    backends: Option<HashMap<String, f64>>,
}

impl Cpu {
    fn read(db: &Database) -> Cpu {
        Cpu {
            ours: cpu_seconds("self").expect("our own /proc entry"),
            backends: db.backends_cpu_seconds(),
        }
    }

    /// What this process and the database used since `before`; a backend that
    /// started meanwhile counts whole.
    fn since(&self, before: &Cpu) -> (f64, Option<f64>) {
        let backends = self.backends.as_ref().map(|now| {
            let then = before.backends.as_ref();
            now.iter()
                .map(|(pid, t)| t - then.and_then(|b| b.get(pid)).copied().unwrap_or_default())
                .sum()
        });
        (self.ours - before.ours, backends)
    }
}

/// User plus system CPU-seconds of process `pid` (or `self`), from `/proc`.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name (in parentheses, spaces allowed) come the state (field
    // 3), ... utime (14) and stime (15).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / TICKS_PER_SECOND)
}

/// Runs one statement on the PostgreSQL server.
async fn admin(server: &str, statement: &str) {
    let mut conn = sqlx::PgConnection::connect(server)
        .await
        .expect("the PostgreSQL server answers");
    sqlx::query(statement)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    conn.close().await.ok();
}
