//! An app built in-process on a fresh SQLite file and served on loopback,
//! and `wrk` runs against it read back as figures: what the benchmarks that
//! drive the running app over HTTP share.

use apostle::settings::Settings;
use apostle::startup::Application;
use apostle_core::store::{Team, User};
use apostle_core::Core;
use apostle_domain::Role;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const CONNECTIONS: &str = "64";
/// wrk's threads; a Lua script that numbers requests across threads
/// counts on it.
pub const THREADS: usize = 2;
pub const SECONDS: &str = "4s";
/// A request slower than this counts as a timeout, not as a latency.
pub const TIMEOUT: &str = "2s";

/// The password of the admin [`acme`] makes.
pub const PASSWORD: &str = "correct horse battery";

/// Team Acme and its admin, Ada (`ada@acme.example`, [`PASSWORD`]).
pub async fn acme(core: &Core) -> (Team, User) {
    let team = core.create_team("acme", "Acme").await.expect("team");
    let admin = core
        .add_user(
            "acme",
            "ada@acme.example",
            "Ada Admin",
            Role::Admin,
            PASSWORD.to_owned().into(),
        )
        .await
        .expect("admin");
    (team, admin)
}

/// Whether wrk is here; says so when it is not.
pub fn wrk_installed() -> bool {
    let found = Command::new("wrk").arg("--version").output().is_ok();
    if !found {
        println!("skipped: wrk is not installed (apt-get install wrk)");
    }
    found
}

/// A scratch directory for this process and `part`, and the settings of an
/// app on loopback port 0 with its mail there and a SQLite file there.
pub fn sqlite_env(part: &str) -> (PathBuf, HashMap<String, String>) {
    let scratch = std::env::temp_dir().join(format!("apostle-bench-{part}-{}", std::process::id()));
    let env = HashMap::from([
        ("APOSTLE_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        (
            "APOSTLE_MAIL_DIR".to_owned(),
            scratch.join("mail").display().to_string(),
        ),
        (
            "APOSTLE_DATABASE_URL".to_owned(),
            format!("sqlite://{}/apostle.db", scratch.display()),
        ),
    ]);
    (scratch, env)
}

/// An app serving on loopback until [`Served::stop`].
pub struct Served {
    pub core: Core,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stop: watch::Sender<bool>,
    server: JoinHandle<Result<(), apostle::error::AppError>>,
}

impl Served {
    pub async fn start(env: HashMap<String, String>) -> Served {
        let settings = Settings::load_from(None, env).expect("bench settings");
        let app = Application::build(settings).await.expect("app builds");
        let core = app.core().clone();
        let base = format!("http://{}", app.address());
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(app.run_until_stopped(stopped));
        Served {
            core,
            base,
            stop,
            server,
        }
    }

    pub async fn stop(self) {
        self.stop.send(true).ok();
        self.server
            .await
            .expect("server task")
            .expect("server stops");
    }
}

/// What one wrk run measured.
pub struct Run {
    pub rate: f64,
    /// The 99th percentile of latency, in milliseconds.
    pub p99_ms: f64,
    /// Answers with a status of 400 or more (wrk's "Non-2xx or 3xx").
    pub failed: u64,
    /// Connect, read and write errors and timeouts.
    pub socket_errors: u64,
}

/// wrk on `url` with `headers` and, if given, a Lua `script` (and its
/// arguments): its rate, p99 and failures, which are printed, not hidden.
pub fn wrk(url: &str, headers: &[&str], script: Option<(&Path, &[String])>) -> Run {
    let mut command = Command::new("wrk");
    command.args([
        "-t",
        &THREADS.to_string(),
        "-c",
        CONNECTIONS,
        "-d",
        SECONDS,
        "--timeout",
        TIMEOUT,
        "--latency",
    ]);
    for header in headers {
        command.args(["-H", header]);
    }
    if let Some((path, _)) = script {
        command.arg("-s").arg(path);
    }
    command.arg(url);
    if let Some((_, args)) = script {
        command.arg("--").args(args);
    }
    let out = command.output().expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    let rate = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no rate in wrk's output:\n{text}"));
    let p99_ms = field("99%")
        .and_then(|v| millis(&v))
        .unwrap_or_else(|| panic!("no p99 in wrk's output:\n{text}"));
    let failed = field("Non-2xx or 3xx responses:").map_or(0, |v| v.parse().unwrap_or(u64::MAX));
    // "connect 0, read 0, write 0, timeout 0"
    let socket_errors = field("Socket errors:").map_or(0, |v| {
        v.split(',')
            .filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum()
    });
    Run {
        rate,
        p99_ms,
        failed,
        socket_errors,
    }
}

/// wrk's durations ("812.00us", "4.21ms", "1.02s") in milliseconds.
fn millis(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    match unit {
        "us" => Some(number / 1000.0),
        "ms" => Some(number),
        "s" => Some(number * 1000.0),
        "m" => Some(number * 60_000.0),
        _ => None,
    }
}

/// The mean of the rounds' rates and p99s, and every failure.
#[derive(Default)]
pub struct Figures {
    pub rate: f64,
    pub p99_ms: f64,
    pub failed: u64,
    rounds: usize,
}

impl Figures {
    pub fn add(&mut self, run: Run) {
        let n = self.rounds as f64;
        self.rate = (self.rate * n + run.rate) / (n + 1.0);
        self.p99_ms = (self.p99_ms * n + run.p99_ms) / (n + 1.0);
        self.failed += run.failed + run.socket_errors;
        self.rounds += 1;
    }
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} req/s, p99 {:.1} ms, non-2xx or socket errors {}",
            self.rate, self.p99_ms, self.failed
        )
    }
}
