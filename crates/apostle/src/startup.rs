//! Wiring: from [`Settings`] to a running process. [`Application`] binds
//! the listener first (port 0 works, tests read the port back), opens the
//! database, and serves the web app, the JSON API, the provider sandbox and
//! the background workers until told to stop.

use crate::database::{self, DatabaseUrl};
use crate::error::AppError;
use crate::settings::{MailTransport, Settings, SettingsError};
use crate::telemetry;
use apostle_core::email::Mailer;
use apostle_core::jobs::{Runner, RunnerConfig};
use apostle_core::{Clock, Core, CoreSettings, SystemClock};
use apostle_encryption::Keyring;
use apostle_sandbox::{Sandbox, SandboxConfig};
use apostle_web::WebConfig;
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use url::Url;

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

/// The sandbox as configured, for `serve` and `sandbox`.
pub fn sandbox(settings: &Settings) -> Sandbox {
    Sandbox::new(SandboxConfig {
        time_scale: settings.sandbox.time_scale,
        client_secret: settings.sandbox.client_secret.expose_secret().to_owned(),
        facebook_deauthorize_url: settings
            .sandbox
            .facebook_deauthorize_url
            .as_ref()
            .map(|u| u.to_string()),
        ..SandboxConfig::default()
    })
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
    runner: RunnerConfig,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, AppError> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Like [`Application::build`] with another clock (tests move time).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
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
        let core = build_core(&settings, public_url.clone(), clock).await?;
        let web = WebConfig {
            secure_cookies: public_url.scheme() == "https",
            metrics: telemetry::metrics_handle(),
            login_attempts: settings.login_attempts,
            login_window: settings.login_window,
            shared_login_limits: matches!(settings.database, DatabaseUrl::Postgres(_)),
        };
        // Real provider credentials mean real providers; without any, the
        // sandbox plays all four so that everything works out of the box.
        let sandbox = (!settings.providers.any_configured()).then(|| sandbox(&settings));
        Ok(Application {
            listener,
            address,
            core,
            web,
            sandbox,
            runner: runner_config(&settings),
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

    /// Serves requests and runs background jobs until `shutdown` turns
    /// true; then stops accepting, lets in-flight requests finish, and
    /// stops the job runner (which finishes or releases its claimed jobs).
    pub async fn run_until_stopped(self, shutdown: watch::Receiver<bool>) -> Result<(), AppError> {
        let runner = Runner::with_all_jobs(self.core.clone(), self.runner);
        let workers = tokio::spawn(runner.run(shutdown.clone()));
        let mut router = apostle_web::router(self.core.clone(), self.web);
        if let Some(sandbox) = &self.sandbox {
            router = router.merge(sandbox.router());
        }
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
        self.core.store.close().await;
        tracing::info!("stopped");
        served.map_err(AppError::Serve)
    }
}
