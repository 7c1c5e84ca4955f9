//! What the tests stand on: a fresh database per test (SQLite in a temp
//! directory, or a new PostgreSQL database when `APOSTLE_TEST_POSTGRES_URL`
//! is set), the real application on port 0, the real binary as a child
//! process, and a real SMTP server (Python's aiosmtpd).

use apostle::settings::Settings;
use apostle::startup::{self, Application};
use apostle::AppError;
use apostle_core::jobs::{Runner, RunnerConfig};
use apostle_core::secrets::{random_token, token_hash};
use apostle_core::teams::TeamAccess;
use apostle_core::{Clock, Core, SystemClock};
use apostle_domain::Role;
use sqlx::Connection;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a child process or server may take to do what a test waits for.
const PATIENCE: Duration = Duration::from_secs(60);

/// A short random name part, lowercase hex.
/// One keyring for every PostgreSQL test of this run.
fn test_keys() -> &'static str {
    static KEYS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        use secrecy::ExposeSecret;
        apostle_encryption::Keyring::generate_entry("test")
            .expose_secret()
            .to_owned()
    })
}

pub fn unique() -> String {
    token_hash(&random_token())[..12].to_owned()
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A fresh, empty database and a scratch directory, both for one test.
pub struct TestDb {
    pub url: String,
    pub dir: PathBuf,
    /// The server's admin URL and the database's name, to drop it after.
    postgres: Option<(String, String)>,
}

/// The database a test runs on. Tests that store data run on both, through
/// [`on_both_backends!`](crate::on_both_backends); the rest on SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    static BACKEND: Backend;
}

const POSTGRES_URL_VAR: &str = "APOSTLE_TEST_POSTGRES_URL";

/// Says plainly why a test did not run; in CI (`CI` set), where every
/// dependency is installed on purpose, a skip hides a missing install and
/// fails instead.
pub fn skip(reason: &str) {
    assert!(std::env::var_os("CI").is_none(), "required in CI: {reason}");
    println!("skipped: {reason}");
}

/// Runs `test` with [`TestDb::new`] on `backend`; a PostgreSQL run without
/// a server to use is skipped.
pub async fn run_on(backend: Backend, test: impl std::future::Future<Output = ()>) {
    if backend == Backend::Postgres && std::env::var(POSTGRES_URL_VAR).is_err() {
        return skip(&format!("{POSTGRES_URL_VAR} is not set"));
    }
    BACKEND.scope(backend, test).await;
}

/// One `sqlite` and one `postgres` test per named `async fn`, each running
/// it on that backend: `crate::on_both_backends!(a_test, another_test);`.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            use $crate::helpers::{run_on, Backend};

            #[tokio::test]
            async fn sqlite() {
                run_on(Backend::Sqlite, super::$test()).await;
            }

            #[tokio::test]
            async fn postgres() {
                run_on(Backend::Postgres, super::$test()).await;
            }
        }
    )*};
}

impl TestDb {
    /// A database on the backend of the current [`run_on`], else SQLite.
    pub async fn new() -> TestDb {
        let dir = std::env::temp_dir().join(format!("apostle-test-{}", unique()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let backend = BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite);
        match (backend, std::env::var(POSTGRES_URL_VAR)) {
            (Backend::Postgres, Ok(admin_url)) => {
                let name = format!("apostle_test_{}", unique());
                let url = create_postgres_database(&admin_url, &name).await;
                TestDb {
                    url,
                    dir,
                    postgres: Some((admin_url, name)),
                }
            }
            _ => TestDb {
                url: format!("sqlite://{}/apostle.db", dir.display()),
                dir,
                postgres: None,
            },
        }
    }

    /// The environment an app under test runs with: this database, any
    /// free port, mail as files in the scratch directory.
    pub fn env(&self) -> HashMap<String, String> {
        let mut env = HashMap::from([
            ("APOSTLE_DATABASE_URL".to_owned(), self.url.clone()),
            ("APOSTLE_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            (
                "APOSTLE_MAIL_DIR".to_owned(),
                self.dir.join("mail").display().to_string(),
            ),
        ]);
        // SQLite keeps a key file beside the database; PostgreSQL needs keys.
        if self.url.starts_with("postgres") {
            env.insert("APOSTLE_ENCRYPTION_KEYS".to_owned(), test_keys().to_owned());
        }
        env
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    pub fn settings(&self, extra: &[(&str, &str)]) -> Settings {
        let mut env = self.env();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Settings::load_from(None, env).expect("test settings are valid")
    }

    /// The services on this database, as the binary would build them.
    pub async fn core(&self, extra: &[(&str, &str)], clock: Arc<dyn Clock>) -> Core {
        let settings = self.settings(extra);
        let url = settings.public_url_for(settings.listen);
        startup::build_core(&settings, url, clock)
            .await
            .expect("core builds")
    }

    /// The `apostle` binary, run in the scratch directory with only this
    /// test's configuration in its environment.
    pub fn apostle(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_apostle"));
        command
            .args(args)
            .current_dir(&self.dir)
            .env_clear()
            .envs(self.env())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null());
        command
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin_url, name)) = self.postgres.take() {
            // Drop runs inside the test's runtime, which cannot be blocked
            // on: a thread of its own does the asynchronous work.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(admin(
                    &admin_url,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ));
            })
            .join();
            if dropped.is_err() {
                eprintln!("could not drop a test database");
            }
        }
    }
}

async fn create_postgres_database(admin_url: &str, name: &str) -> String {
    admin(admin_url, &format!("CREATE DATABASE {name}")).await;
    let mut url = url::Url::parse(admin_url).expect("APOSTLE_TEST_POSTGRES_URL is a URL");
    url.set_path(name);
    url.to_string()
}

/// Runs one statement on the server `APOSTLE_TEST_POSTGRES_URL` names.
async fn admin(admin_url: &str, statement: &str) {
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("APOSTLE_TEST_POSTGRES_URL answers");
    sqlx::query(statement)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    conn.close().await.ok();
}

/// Runs a command to its end and returns what it printed.
pub fn output(mut command: Command) -> Output {
    command.output().expect("apostle runs")
}

/// Runs a command with `input` on its standard input.
pub fn output_with_input(mut command: Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("apostle starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("apostle runs")
}

pub fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The real application on a free port, serving in the background.
pub struct TestApp {
    pub address: SocketAddr,
    pub http: reqwest::Client,
    /// The services the app runs on (seed data through them).
    pub core: Core,
    /// Where the app writes outgoing mail.
    pub mail_dir: PathBuf,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<Result<(), AppError>>,
    _db: Arc<TestDb>,
}

/// Builds and starts the application. The listener is bound before this
/// returns, so requests can be sent at once.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Like [`spawn_app`] with `extra` environment variables.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_app_on(Arc::new(TestDb::new().await), extra).await
}

/// Like [`spawn_app`] on a database that other apps (processes) may share,
/// with `extra` settings.
pub async fn spawn_app_on(db: Arc<TestDb>, extra: &[(&str, &str)]) -> TestApp {
    spawn_app_at(db, extra, system_clock()).await
}

/// Like [`spawn_app_on`] on `clock` (tests move time).
pub async fn spawn_app_at(
    db: Arc<TestDb>,
    extra: &[(&str, &str)],
    clock: Arc<dyn Clock>,
) -> TestApp {
    let app = Application::build_with_clock(db.settings(extra), clock)
        .await
        .expect("application builds");
    let (shutdown, stop) = watch::channel(false);
    let address = app.address();
    let core = app.core().clone();
    let server = tokio::spawn(app.run_until_stopped(stop));
    TestApp {
        address,
        core,
        mail_dir: db.dir.join("mail"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        shutdown,
        server,
        _db: db,
    }
}

impl TestApp {
    /// `path` on this app; an app listening on every interface is reached
    /// on loopback.
    pub fn url(&self, path: &str) -> String {
        let port = self.address.port();
        if self.address.ip().is_unspecified() {
            format!("http://127.0.0.1:{port}{path}")
        } else {
            format!("http://{}{path}", self.address)
        }
    }

    /// A browser-like client (cookies, no redirects followed) signed in
    /// as `email` through the sign-in page.
    pub async fn signed_in(&self, email: &str, password: &str) -> reqwest::Client {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        let page = client.get(self.url("/login")).send().await.unwrap();
        let html = page.text().await.unwrap();
        let marker = "name=\"csrf\" value=\"";
        let start = html
            .find(marker)
            .expect("the sign-in page has a csrf field")
            + marker.len();
        let csrf = &html[start..start + html[start..].find('"').unwrap()];
        let signed_in = client
            .post(self.url("/login"))
            .form(&[("email", email), ("password", password), ("csrf", csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), 303, "{email} signs in");
        client
    }

    /// Asks the app to stop and waits until it has.
    pub async fn stop(self) -> Result<(), AppError> {
        self.shutdown.send(true).expect("app is running");
        tokio::time::timeout(PATIENCE, self.server)
            .await
            .expect("app stops in time")
            .expect("app task did not panic")
    }
}

/// A bearer token for the admin of [`admin_of_new_team`], issued through
/// the API as the mobile app signs in.
pub async fn admin_api_token(app: &TestApp, device_name: &str) -> String {
    let issued = app
        .http
        .post(app.url("/api/v1/auth/token"))
        .json(&serde_json::json!({
            "email": "ada@acme.example",
            "password": "correct horse battery",
            "device_name": device_name,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 201);
    let body: serde_json::Value = issued.json().await.unwrap();
    body["token"].as_str().expect("a token").to_owned()
}

/// A team "acme" with an admin, acting as that admin.
pub async fn admin_of_new_team(core: &Core) -> TeamAccess {
    core.create_team("acme", "Acme").await.expect("team");
    let user = core
        .add_user(
            "acme",
            "ada@acme.example",
            "Ada Admin",
            Role::Admin,
            "correct horse battery".to_owned().into(),
        )
        .await
        .expect("admin");
    core.team_access("acme", &user).await.expect("access")
}

/// The JSON body of the answer to `request`.
pub async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

pub fn runner(core: &Core) -> Runner {
    Runner::with_all_jobs(core.clone(), RunnerConfig::default())
}

pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// A child `apostle` process whose stdout lines arrive on a channel.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn start(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("apostle starts");
        let (send, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let collected = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            collected.lock().expect("stderr lock").push_str(&text);
        });
        Running {
            child,
            lines,
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    /// All the process wrote on stderr; waits for it to end first, so
    /// call it after [`Running::terminate`].
    pub fn stderr(&mut self) -> String {
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().expect("stderr reader");
        }
        self.stderr.lock().expect("stderr lock").clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first line printed from now on that starts with `prefix`
    /// (leading spaces ignored).
    pub fn line_starting_with(&self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.trim_start().starts_with(prefix) => return line,
                Ok(_) => {}
                Err(e) => panic!(
                    "apostle printed no line starting with {prefix:?} ({e}); stderr:\n{}",
                    self.stderr.lock().expect("stderr lock")
                ),
            }
        }
    }

    /// Every line printed so far and not yet read.
    pub fn lines_so_far(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// Sends SIGTERM and waits for the process to end.
    pub fn terminate(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM was delivered");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "apostle did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP server that accepts connections and never says a word: an SMTP
/// server that hangs. Accepted connections arrive on the channel and stay
/// open while held.
pub fn silent_server() -> (u16, mpsc::Receiver<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (send, accepted) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            if send.send(stream).is_err() {
                break;
            }
        }
    });
    (port, accepted)
}

pub fn wait_for_connection(accepted: &mpsc::Receiver<TcpStream>) -> TcpStream {
    accepted
        .recv_timeout(PATIENCE)
        .expect("the app connected to the mail server")
}

/// A real SMTP server (aiosmtpd) storing what it receives in a maildir.
pub struct SmtpServer {
    child: Child,
    maildir: PathBuf,
}

impl SmtpServer {
    /// Whether aiosmtpd is installed; says plainly when it is not.
    pub fn available() -> bool {
        let found = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            skip("aiosmtpd is not installed (pip install aiosmtpd)");
        }
        found
    }

    /// Starts aiosmtpd on `port` and returns once it accepts connections.
    pub fn start(port: u16, maildir: &Path) -> SmtpServer {
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts aiosmtpd");
        let server = SmtpServer {
            child,
            maildir: maildir.to_owned(),
        };
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The raw messages received so far.
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries
            .map(|e| std::fs::read_to_string(e.expect("maildir entry").path()).expect("message"))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
