//! Wiring: from [`Settings`] to a running process. [`Application`] binds
//! the listener first (port 0 works, tests read the port back), opens the
//! database, and serves the web app, the JSON API, the provider sandbox and
//! the background workers until told to stop.

use crate::database::{self, DatabaseUrl};
use crate::error::AppError;
use crate::providers::{consent_origins, provider_configs};
use crate::settings::{MailTransport, Settings, SettingsError};
use crate::telemetry;
use apostle_core::connections::{ConnectionSettings, Connections, HealthRunner};
use apostle_core::email::Mailer;
use apostle_core::jobs::{Runner, RunnerConfig};
use apostle_core::posts::dispatch::DeliveryRunner;
use apostle_core::{Clock, Core, CoreSettings, SystemClock};
use apostle_encryption::Keyring;
use apostle_providers::{Http, Provider, ProviderConfig};
use apostle_sandbox::{Sandbox, SandboxConfig};
use apostle_web::WebConfig;
use secrecy::{ExposeSecret, SecretString};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use url::{Host, Url};

/// The services on the configured database, mailer and clock, with links
/// based on `public_url`.
pub async fn build_core(
    settings: &Settings,
    public_url: Url,
    clock: Arc<dyn Clock>,
) -> Result<Core, AppError> {
    let mailer = match &settings.mail {
        MailTransport::Smtp(url) => {
            Mailer::smtp(url.expose_secret()).map_err(|reason| SettingsError::Invalid {
                key: "smtp_url".to_owned(),
                reason,
            })?
        }
        MailTransport::Files(dir) => Mailer::File(dir.clone()),
    };
    let keyring = keyring(settings)?;
    let store = database::open(&settings.database).await?;
    Ok(Core {
        store,
        connections: Arc::new(Connections::none(clock.clone())),
        clock,
        mailer,
        keyring: Arc::new(keyring),
        settings: Arc::new(CoreSettings {
            public_url,
            mail_from: settings.mail_from.clone(),
            invite_ttl: settings.invite_ttl,
            session_ttl: settings.session_ttl,
        }),
    })
}

/// The keys that seal secrets at rest: `encryption_keys` when set. Without
/// it, an SQLite install keeps a generated key in `encryption.keys` beside
/// its database file (one machine, one file); PostgreSQL installs run
/// several processes that must share keys, so they have to configure them.
pub fn keyring(settings: &Settings) -> Result<Keyring, AppError> {
    let invalid = |reason: String| SettingsError::Invalid {
        key: "encryption_keys".to_owned(),
        reason,
    };
    if let Some(keys) = &settings.encryption_keys {
        return Keyring::parse(keys).map_err(|e| invalid(e.to_string()).into());
    }
    match &settings.database {
        DatabaseUrl::Postgres(_) => Err(invalid(
            "is required with PostgreSQL, where every process must share the same keys; \
             `apostle keys generate` prints one"
                .to_owned(),
        )
        .into()),
        DatabaseUrl::Sqlite(url) => match sqlite_file(url) {
            Some(db) => local_keyring(&db.with_file_name(KEY_FILE)),
            None => Keyring::parse(&Keyring::generate_entry("memory"))
                .map_err(|e| invalid(e.to_string()).into()),
        },
    }
}

/// The key file an SQLite install keeps beside its database.
const KEY_FILE: &str = "encryption.keys";

/// The database file of an SQLite URL, or `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Reads the key file, creating it (readable by its owner only) on first use.
fn local_keyring(path: &Path) -> Result<Keyring, AppError> {
    let refused = |what: &str, e: &dyn std::fmt::Display| {
        AppError::Refused(format!("{what} {}: {e}", path.display()))
    };
    if !path.exists() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| refused("cannot create the folder of", &e))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .map_err(|e| refused("cannot create the key file", &e))?;
        let entry = Keyring::generate_entry("local-1");
        std::io::Write::write_all(&mut file, entry.expose_secret().as_bytes())
            .map_err(|e| refused("cannot write the key file", &e))?;
        tracing::info!(file = %path.display(), "generated an encryption key");
    }
    let keys =
        std::fs::read_to_string(path).map_err(|e| refused("cannot read the key file", &e))?;
    Keyring::parse(&SecretString::from(keys.trim().to_owned()))
        .map_err(|e| refused("the key file", &e))
}

/// How the job runner of this process is tuned.
pub fn runner_config(settings: &Settings) -> RunnerConfig {
    RunnerConfig {
        concurrency: settings.jobs.concurrency,
        shutdown_grace: settings.jobs.shutdown_grace,
        ..RunnerConfig::default()
    }
}

/// Where the sandbox is served, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SandboxMode {
    Off,
    /// On a loopback address: only this machine reaches it.
    Local,
    /// Elsewhere, because `sandbox.enabled` says so.
    Exposed,
}

/// The sandbox's fake providers let anyone sign in as anyone, so it is
/// served by itself only where nobody else can reach it: a loopback
/// listener whose public URL is loopback too (or any public URL for
/// `serve --demo`, which says it is a demo). Elsewhere it takes
/// `sandbox.enabled = true`.
fn sandbox_mode(settings: &Settings, public_url: &Url, demo: bool) -> SandboxMode {
    let local = is_loopback(settings.listen.ip()) && (demo || is_loopback_url(public_url));
    match settings.sandbox.enabled {
        Some(false) => SandboxMode::Off,
        _ if local => SandboxMode::Local,
        Some(true) => SandboxMode::Exposed,
        None => SandboxMode::Off,
    }
}

/// `0.0.0.0` and `::` are not loopback: they listen on every interface.
fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => is_loopback(ip.into()),
        Some(Host::Ipv6(ip)) => is_loopback(ip.into()),
        None => false,
    }
}

/// The sandbox as configured, for `serve` and `sandbox`.
pub fn sandbox(settings: &Settings) -> Sandbox {
    Sandbox::new(sandbox_config(settings))
}

fn sandbox_config(settings: &Settings) -> SandboxConfig {
    SandboxConfig {
        time_scale: settings.sandbox.time_scale,
        client_secret: settings.sandbox.client_secret.expose_secret().to_owned(),
        facebook_deauthorize_url: settings
            .sandbox
            .facebook_deauthorize_url
            .as_ref()
            .map(|u| u.to_string()),
        ..SandboxConfig::default()
    }
}

/// The sandbox `serve` mounts: its world kept beside an SQLite database, so a
/// restarted demo's connections stay healthy, and Facebook's deauthorize
/// callbacks sent to this app.
fn mounted_sandbox(settings: &Settings, public_url: &Url) -> Sandbox {
    let mut config = sandbox_config(settings);
    if let DatabaseUrl::Sqlite(url) = &settings.database {
        config.state_path = sqlite_file(url).map(|db| db.with_file_name("sandbox.json"));
    }
    if config.facebook_deauthorize_url.is_none() {
        config.facebook_deauthorize_url = Some(link(public_url, "/oauth/facebook/deauthorize"));
    }
    Sandbox::new(config)
}

fn link(public_url: &Url, path: &str) -> String {
    format!("{}{path}", public_url.as_str().trim_end_matches('/'))
}

/// The sandbox's clock for the connection engine: moving the sandbox's time
/// moves token expiry and the scheduler with it (sign-in sessions and the job
/// queue keep the app's clock).
struct SandboxClock(Sandbox);

impl Clock for SandboxClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.0.now_millis())
            .unwrap_or_else(chrono::Utc::now)
    }
}

/// The connection engine: the providers, its settings, and its clock (the
/// sandbox's when every provider is the sandbox).
pub fn connections(
    settings: &Settings,
    providers: Vec<(Provider, ProviderConfig)>,
    sandbox: Option<&Sandbox>,
    clock: Arc<dyn Clock>,
) -> Result<Connections, AppError> {
    let http = Http::new().map_err(|e| AppError::Refused(format!("HTTP client: {e}")))?;
    let clock: Arc<dyn Clock> = match sandbox {
        Some(sandbox) => Arc::new(SandboxClock(sandbox.clone())),
        None => clock,
    };
    let engine = ConnectionSettings {
        probe_interval: settings.connections.probe_interval,
        app_redirects: settings.connections.app_redirects.clone(),
        ..ConnectionSettings::default()
    };
    Ok(Connections::new(providers, http, engine, clock))
}

/// Where a mounted sandbox is reached: `/sandbox` under the public URL,
/// for browsers (consent pages) and for this process (token calls) alike.
fn sandbox_base(public_url: &Url) -> Url {
    let mut base = public_url.clone();
    base.set_path(&format!(
        "{}/sandbox",
        public_url.path().trim_end_matches('/')
    ));
    base
}

/// Resolves once `shutdown` turns true (or its sender is gone).
pub async fn stopped(mut shutdown: watch::Receiver<bool>) {
    // An error means the sender is gone: nobody can ask to stop any more,
    // so stopping now is the only sensible reading.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The whole app, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    core: Core,
    web: WebConfig,
    sandbox: Option<Sandbox>,
    providers: Vec<(Provider, ProviderConfig)>,
    runner: RunnerConfig,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, AppError> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Like [`Application::build`] for `serve --demo`, which serves the
    /// sandbox on a loopback listener whatever the public URL.
    pub async fn build_demo(settings: Settings) -> Result<Application, AppError> {
        Self::assemble(settings, Arc::new(SystemClock), true).await
    }

    /// Like [`Application::build`] with another clock (tests move time).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Application, AppError> {
        Self::assemble(settings, clock, false).await
    }

    async fn assemble(
        settings: Settings,
        clock: Arc<dyn Clock>,
        demo: bool,
    ) -> Result<Application, AppError> {
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| AppError::Listen {
                    address: settings.listen,
                    source,
                })?;
        let address = listener.local_addr().map_err(|source| AppError::Listen {
            address: settings.listen,
            source,
        })?;
        let public_url = settings.public_url_for(address);
        let mode = sandbox_mode(&settings, &public_url, demo);
        let sandbox = (mode != SandboxMode::Off).then(|| mounted_sandbox(&settings, &public_url));
        let sandbox_base = sandbox.is_some().then(|| sandbox_base(&public_url));
        let providers = provider_configs(&settings, sandbox_base.as_ref())?;
        let mut core = build_core(&settings, public_url.clone(), Arc::clone(&clock)).await?;
        // With no provider of its own, every provider is the sandbox: the engine
        // then keeps the sandbox's time.
        let uses_sandbox = sandbox.is_some() && !settings.providers.any_configured();
        core.connections = Arc::new(connections(
            &settings,
            providers.clone(),
            sandbox.as_ref().filter(|_| uses_sandbox),
            clock,
        )?);
        let runner = runner_config(&settings);
        match mode {
            SandboxMode::Off => {}
            SandboxMode::Local => tracing::info!("serving the provider sandbox at /sandbox"),
            SandboxMode::Exposed => tracing::warn!(
                address = %address,
                "serving the provider sandbox at /sandbox beyond this machine \
                 (sandbox.enabled = true): anyone who reaches it can sign in to its \
                 fake providers, never do this on a real deployment"
            ),
        }
        let web = WebConfig {
            secure_cookies: public_url.scheme() == "https",
            metrics: telemetry::metrics_handle(),
            login_attempts: settings.login_attempts,
            login_window: settings.login_window,
            job_runner: Some(runner.pulse.clone()),
            form_action_origins: consent_origins(&providers),
            connections_enabled: !providers.is_empty(),
            shared_login_limits: matches!(settings.database, DatabaseUrl::Postgres(_)),
            baseline_route: settings.baseline_route,
        };
        Ok(Application {
            listener,
            address,
            core,
            web,
            sandbox,
            providers,
            runner,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The services this app runs on (tests seed data through them).
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// Where people reach the app: the configured public URL or the
    /// listener's address.
    pub fn public_url(&self) -> &Url {
        &self.core.settings.public_url
    }

    /// Whether the provider sandbox is served at `/sandbox`.
    pub fn serves_sandbox(&self) -> bool {
        self.sandbox.is_some()
    }

    /// The providers members can connect to through this app, each with
    /// its app and endpoints (see [`provider_configs`]).
    pub fn providers(&self) -> &[(Provider, ProviderConfig)] {
        &self.providers
    }

    /// Serves requests and runs background jobs until `shutdown` turns
    /// true; then stops accepting, lets in-flight requests finish, and
    /// stops the job runner (which finishes or releases its claimed jobs).
    pub async fn run_until_stopped(self, shutdown: watch::Receiver<bool>) -> Result<(), AppError> {
        let runner = Runner::with_all_jobs(self.core.clone(), self.runner);
        let workers = tokio::spawn(runner.run(shutdown.clone()));
        let health = tokio::spawn(HealthRunner::new(self.core.clone()).run(shutdown.clone()));
        let deliveries = tokio::spawn(DeliveryRunner::new(self.core.clone()).run(shutdown.clone()));
        let sandbox = self
            .sandbox
            .as_ref()
            .map_or_else(axum::Router::new, Sandbox::router);
        let router = apostle_web::router(self.core.clone(), self.web, sandbox);
        tracing::info!(address = %self.address, public_url = %self.core.settings.public_url, "listening");
        let served = axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped(shutdown))
        .await;
        if let Err(e) = workers.await {
            tracing::error!(error = %e, "job runner ended abnormally");
        }
        if let Err(e) = health.await {
            tracing::error!(error = %e, "connection health runner ended abnormally");
        }
        if let Err(e) = deliveries.await {
            tracing::error!(error = %e, "delivery runner ended abnormally");
        }
        self.core.store.close().await;
        tracing::info!("stopped");
        served.map_err(AppError::Serve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn mode(
        listen: &str,
        public_url: Option<&str>,
        enabled: Option<&str>,
        demo: bool,
    ) -> SandboxMode {
        let mut env = HashMap::from([("APOSTLE_LISTEN".to_owned(), listen.to_owned())]);
        if let Some(url) = public_url {
            env.insert("APOSTLE_PUBLIC_URL".to_owned(), url.to_owned());
        }
        if let Some(enabled) = enabled {
            env.insert("APOSTLE_SANDBOX__ENABLED".to_owned(), enabled.to_owned());
        }
        let settings = Settings::load_from(None, env).unwrap();
        let url = settings.public_url_for(settings.listen);
        sandbox_mode(&settings, &url, demo)
    }

    #[test]
    fn the_sandbox_serves_itself_only_where_nobody_else_reaches_it() {
        use SandboxMode::{Exposed, Local, Off};
        for (listen, public_url, demo, expected) in [
            ("127.0.0.1:8080", None, false, Local),
            ("[::1]:8080", None, false, Local),
            ("[::ffff:127.0.0.1]:8080", None, false, Local),
            (
                "127.0.0.1:8080",
                Some("http://localhost:8080"),
                false,
                Local,
            ),
            ("127.0.0.1:8080", Some("http://[::1]:8080"), false, Local),
            (
                "127.0.0.1:8080",
                Some("https://apostle.example.com"),
                false,
                Off,
            ),
            (
                "127.0.0.1:8080",
                Some("https://apostle.example.com"),
                true,
                Local,
            ),
            ("0.0.0.0:8080", None, false, Off),
            ("0.0.0.0:8080", None, true, Off),
            ("[::]:8080", None, false, Off),
            ("10.0.0.5:8080", Some("http://localhost:8080"), false, Off),
        ] {
            assert_eq!(
                mode(listen, public_url, None, demo),
                expected,
                "{listen} {public_url:?} demo={demo}"
            );
        }
        assert_eq!(mode("0.0.0.0:8080", None, Some("true"), false), Exposed);
        assert_eq!(mode("127.0.0.1:8080", None, Some("true"), false), Local);
        assert_eq!(mode("127.0.0.1:8080", None, Some("false"), true), Off);
    }
}
