//! Configuration: an optional TOML file (`--config PATH`) overlaid by
//! `APOSTLE_*` environment variables, read once at start and checked into a
//! typed [`Settings`]. A wrong value stops the program with one line that
//! names the key; secrets never appear in that line nor in `Debug`.
//!
//! Nested keys take `__` in the environment: `providers.x.client_id` is
//! `APOSTLE_PROVIDERS__X__CLIENT_ID`, `jobs.concurrency` is
//! `APOSTLE_JOBS__CONCURRENCY`. A list such as `providers.linkedin.scopes`
//! is a TOML array in the file and a space- or comma-separated string in
//! the environment.
//!
//! A key the file does not know is refused, since a misspelt key would
//! otherwise leave its setting at the default without a word. The
//! environment is shared with everything else on the machine, so an unknown
//! `APOSTLE_*` variable is only reported, to be logged at start.

use crate::database::DatabaseUrl;
use apostle_encryption::Keyring;
use config::{Config, Environment, File, FileFormat};
use lettre::message::Mailbox;
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// Where to listen when nothing says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The embedded database used when nothing says otherwise.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./apostle-data/apostle.db";
/// Where mail goes when no SMTP server is configured.
pub const DEFAULT_MAIL_DIR: &str = "./apostle-data/mail";
pub const DEFAULT_MAIL_FROM: &str = "Apostle <apostle@localhost>";
const DEFAULT_INVITE_TTL_DAYS: u32 = 7;
const DEFAULT_SESSION_TTL_DAYS: u32 = 30;
const DEFAULT_LOGIN_ATTEMPTS: u32 = 10;
const DEFAULT_LOGIN_WINDOW_MINUTES: u32 = 15;
const DEFAULT_JOB_CONCURRENCY: u32 = 4;
const DEFAULT_SHUTDOWN_GRACE_SECS: u32 = 10;
const DEFAULT_SANDBOX_TIME_SCALE: f64 = 1.0;
const DEFAULT_SANDBOX_CLIENT_SECRET: &str = "sandbox-secret";
const DEFAULT_PROBE_INTERVAL: &str = "6h";
const DEFAULT_APP_REDIRECTS: &[&str] = &["apostle://"];

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A value was read but is wrong; `key` is its dotted name.
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
    /// The file or the environment could not be read into the expected
    /// shape (missing file, TOML syntax, a word where a number belongs).
    /// The `config` crate's message names the file or the key.
    #[error("{0}")]
    Unreadable(String),
}

impl SettingsError {
    fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        SettingsError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Where outgoing mail goes.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// An SMTP server; the URL may carry a user and password.
    Smtp(SecretString),
    /// One `.eml` file per message in this directory.
    Files(PathBuf),
}

impl std::fmt::Display for MailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailTransport::Smtp(_) => f.write_str("an SMTP server"),
            MailTransport::Files(dir) => write!(f, "files under {}", dir.display()),
        }
    }
}

/// One provider's OAuth client and, optionally, where its endpoints live
/// and which scopes to ask for. Whatever is unset keeps the real
/// provider's value (see `crate::providers`).
#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// Base of the provider's sign-in (consent) pages; the real one when unset.
    pub auth_base_url: Option<Url>,
    /// Base of the provider's API; the real one when unset.
    pub api_base_url: Option<Url>,
    /// Each endpoint on its own, over whatever the bases give: a regional
    /// endpoint or another OAuth server can stand in for one of them.
    pub authorize_url: Option<Url>,
    pub token_url: Option<Url>,
    pub userinfo_url: Option<Url>,
    pub revoke_url: Option<Url>,
    pub introspect_url: Option<Url>,
    /// Scopes asked for every connection (personal use).
    pub scopes: Option<Vec<String>>,
    /// Scopes added when a connection also serves business pages.
    pub page_scopes: Option<Vec<String>>,
}

impl ProviderSettings {
    /// Instagram never has credentials of its own: it signs in with Facebook's app.
    pub fn has_credentials(&self) -> bool {
        self.client_id.is_some()
    }
}

/// The four social networks Apostle posts to.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    pub linkedin: ProviderSettings,
    pub x: ProviderSettings,
    pub facebook: ProviderSettings,
    pub instagram: ProviderSettings,
}

impl Providers {
    fn all(&self) -> [&ProviderSettings; 4] {
        [&self.linkedin, &self.x, &self.facebook, &self.instagram]
    }

    /// Whether any provider has real OAuth credentials.
    pub fn any_configured(&self) -> bool {
        self.all().iter().any(|p| p.has_credentials())
    }
}

/// The background job runner's tuning.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Jobs one process runs at once.
    pub concurrency: usize,
    /// On shutdown, how long running jobs may finish before they are
    /// handed back to the queue.
    pub shutdown_grace: Duration,
}

/// How connections are kept healthy and where their flows may return.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// How often every active grant is probed at its provider.
    pub probe_interval: chrono::Duration,
    /// Deep-link prefixes (`scheme://`, lowercase) a connect or reconnect
    /// flow may return to, besides paths on this site.
    pub app_redirects: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// `Some(true)` serves the sandbox wherever Apostle listens,
    /// `Some(false)` never; `None` serves it on loopback addresses only.
    pub enabled: Option<bool>,
    /// Factor on every token lifetime in the sandbox (0.001 makes an hour
    /// last 3.6 s).
    pub time_scale: f64,
    /// The one client secret the sandbox accepts from any client id.
    pub client_secret: SecretString,
    /// Where `remove-app` POSTs Facebook's signed deauthorization request.
    pub facebook_deauthorize_url: Option<Url>,
}

/// Everything `apostle` can be configured with, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Base of every link Apostle hands out; `None` means
    /// `http://<listen address>` (see [`Settings::public_url_for`]).
    pub public_url: Option<Url>,
    pub database: DatabaseUrl,
    pub mail: MailTransport,
    pub mail_from: Mailbox,
    /// The keyring for tokens at rest: `ID:BASE64KEY` entries separated by
    /// commas, each key 32 bytes; the first one encrypts.
    pub encryption_keys: Option<SecretString>,
    pub log_format: LogFormat,
    pub invite_ttl: chrono::Duration,
    pub session_ttl: chrono::Duration,
    /// Failed sign-ins allowed per email and per client in `login_window`.
    pub login_attempts: u32,
    pub login_window: Duration,
    pub jobs: JobSettings,
    pub providers: Providers,
    pub connections: ConnectionSettings,
    pub sandbox: SandboxSettings,
    /// Serve the feed benchmark's baseline route, which lists any team's
    /// newest posts without a session (`baseline_route = true`; off by
    /// default, for benchmarks only).
    pub baseline_route: bool,
    /// `APOSTLE_*` variables that are neither a setting nor read by a
    /// command or the tests: most likely misspelt, so they are logged at
    /// start.
    pub unknown_environment: Vec<String>,
}

/// `APOSTLE_*` variables that single commands and the tests read; they
/// share the prefix but are not settings.
const NOT_SETTINGS: &[&str] = &[
    "APOSTLE_DEMO_PASSWORD",
    "APOSTLE_PASSWORD",
    "APOSTLE_TEST_POSTGRES_URL",
];

impl Settings {
    /// Reads the file at `path` (if given) and the process environment.
    pub fn load(path: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::read(path, environment())
    }

    /// Like [`Settings::load`], with `env` standing in for the process
    /// environment (names as in the environment, e.g. `APOSTLE_LISTEN`).
    pub fn load_from(
        path: Option<&Path>,
        env: HashMap<String, String>,
    ) -> Result<Settings, SettingsError> {
        Self::read(path, environment().source(Some(env.into_iter().collect())))
    }

    fn read(path: Option<&Path>, env: Environment) -> Result<Settings, SettingsError> {
        let mut builder = Config::builder();
        if let Some(path) = path {
            let file = File::from(path).format(FileFormat::Toml).required(true);
            let (_, unknown) = deserialize(Config::builder().add_source(file.clone()))?;
            if let Some(key) = unknown.into_iter().next() {
                return Err(SettingsError::invalid(
                    key,
                    format!("is not a setting (in {})", path.display()),
                ));
            }
            builder = builder.add_source(file);
        }
        // The file has no unknown key, so whatever is left over came from
        // the environment.
        let (raw, unknown) = deserialize(builder.add_source(env))?;
        let mut settings = raw.check()?;
        settings.unknown_environment = unknown
            .iter()
            .map(|key| format!("APOSTLE_{}", key.replace('.', "__").to_uppercase()))
            .filter(|name| !NOT_SETTINGS.contains(&name.as_str()))
            .collect();
        Ok(settings)
    }

    /// Warns about each `APOSTLE_*` variable that is not a setting; called
    /// once logging is set up.
    pub fn log_unknown_environment(&self) {
        for name in &self.unknown_environment {
            tracing::warn!(
                variable = %name,
                "ignored an APOSTLE_* variable that is not a setting; check its spelling"
            );
        }
    }

    /// The public URL, or `http://<address>` when none is configured (a
    /// wildcard address becomes `localhost`).
    pub fn public_url_for(&self, address: SocketAddr) -> Url {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let host = if address.ip().is_unspecified() {
            format!("localhost:{}", address.port())
        } else {
            address.to_string()
        };
        Url::parse(&format!("http://{host}")).expect("a socket address makes a valid URL")
    }
}

/// `APOSTLE_LISTEN` → `listen`, `APOSTLE_PROVIDERS__X__CLIENT_ID` →
/// `providers.x.client_id`. Without `prefix_separator`, config 0.15 would
/// expect `APOSTLE__LISTEN` (it defaults to the nesting separator).
fn environment() -> Environment {
    Environment::with_prefix("APOSTLE")
        .prefix_separator("_")
        .separator("__")
        .ignore_empty(true)
}

/// The sources read into [`RawSettings`], and the dotted keys they hold
/// that are not settings.
fn deserialize(
    builder: config::ConfigBuilder<config::builder::DefaultState>,
) -> Result<(RawSettings, Vec<String>), SettingsError> {
    let unreadable = |e: config::ConfigError| SettingsError::Unreadable(e.to_string());
    let config = builder.build().map_err(unreadable)?;
    let mut unknown = Vec::new();
    let raw = serde_ignored::deserialize(config, |key| unknown.push(key.to_string()))
        .map_err(unreadable)?;
    Ok((raw, unknown))
}

/// The configuration as read, before checking.
#[derive(Default, Deserialize)]
#[serde(default)]
struct RawSettings {
    listen: Option<String>,
    public_url: Option<String>,
    database_url: Option<String>,
    smtp_url: Option<String>,
    mail_dir: Option<PathBuf>,
    mail_from: Option<String>,
    encryption_keys: Option<String>,
    log_format: Option<String>,
    invite_ttl_days: Option<u32>,
    session_ttl_days: Option<u32>,
    login_attempts: Option<u32>,
    login_window_minutes: Option<u32>,
    jobs: RawJobs,
    providers: RawProviders,
    connections: RawConnections,
    sandbox: RawSandbox,
    baseline_route: Option<bool>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawJobs {
    concurrency: Option<u32>,
    shutdown_grace_secs: Option<u32>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawProviders {
    linkedin: RawProvider,
    x: RawProvider,
    facebook: RawProvider,
    instagram: RawProvider,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawProvider {
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    auth_base_url: Option<String>,
    api_base_url: Option<String>,
    authorize_url: Option<String>,
    token_url: Option<String>,
    userinfo_url: Option<String>,
    revoke_url: Option<String>,
    introspect_url: Option<String>,
    scopes: Option<RawList>,
    page_scopes: Option<RawList>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawConnections {
    probe_interval: Option<RawDuration>,
    app_redirects: Option<RawList>,
}

/// A list: an array in the file, a space- or comma-separated string in the
/// environment (which has no arrays).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawList {
    Items(Vec<String>),
    Text(String),
}

impl RawList {
    /// The entries, each one word: a string splits on spaces and commas; an
    /// array entry holding several words is refused rather than guessed at.
    fn entries(self, key: &str) -> Result<Vec<String>, SettingsError> {
        match self {
            RawList::Text(text) => Ok(text
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect()),
            RawList::Items(items) => items
                .iter()
                .map(|item| {
                    let entry = item.trim();
                    if entry.is_empty() || entry.contains(|c: char| c == ',' || c.is_whitespace()) {
                        Err(SettingsError::invalid(
                            key,
                            format!("{item:?} is not one entry; give each as its own string"),
                        ))
                    } else {
                        Ok(entry.to_owned())
                    }
                })
                .collect(),
        }
    }
}

/// A duration: whole seconds as a number, or text such as `90s`, `15m`,
/// `6h`, `1d` (the environment always gives text).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawDuration {
    Seconds(u64),
    Text(String),
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawSandbox {
    enabled: Option<bool>,
    time_scale: Option<f64>,
    client_secret: Option<SecretString>,
    facebook_deauthorize_url: Option<String>,
}

impl RawSettings {
    fn check(self) -> Result<Settings, SettingsError> {
        let listen = self.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen.trim().parse().map_err(|_| {
            SettingsError::invalid(
                "listen",
                format!("{listen:?} is not an address and port like 127.0.0.1:8080"),
            )
        })?;
        let public_url = self
            .public_url
            .as_deref()
            .map(|s| parse_http_url("public_url", s))
            .transpose()?;
        let database =
            DatabaseUrl::parse(self.database_url.as_deref().unwrap_or(DEFAULT_DATABASE_URL))
                .map_err(|reason| SettingsError::invalid("database_url", reason))?;
        let mail = match self.smtp_url {
            Some(url) => {
                check_smtp_url(&url)?;
                MailTransport::Smtp(url.into())
            }
            None => MailTransport::Files(
                self.mail_dir
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_MAIL_DIR)),
            ),
        };
        let mail_from = self.mail_from.as_deref().unwrap_or(DEFAULT_MAIL_FROM);
        let mail_from: Mailbox = mail_from.parse().map_err(|_| {
            SettingsError::invalid(
                "mail_from",
                format!("{mail_from:?} is not a mailbox like \"Apostle <apostle@example.com>\""),
            )
        })?;
        let encryption_keys = self
            .encryption_keys
            .map(|keys| {
                let keys = SecretString::from(keys);
                Keyring::parse(&keys)
                    .map(|_| keys)
                    .map_err(|e| SettingsError::invalid("encryption_keys", e.to_string()))
            })
            .transpose()?;
        let log_format = match self.log_format.as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(SettingsError::invalid(
                    "log_format",
                    format!("unknown format {other:?}; use text or json"),
                ))
            }
        };
        let days = |key: &str, value: Option<u32>, default: u32| {
            at_least_one(key, value.unwrap_or(default)).map(|d| chrono::Duration::days(d.into()))
        };
        let invite_ttl = days(
            "invite_ttl_days",
            self.invite_ttl_days,
            DEFAULT_INVITE_TTL_DAYS,
        )?;
        let session_ttl = days(
            "session_ttl_days",
            self.session_ttl_days,
            DEFAULT_SESSION_TTL_DAYS,
        )?;
        let login_attempts = at_least_one(
            "login_attempts",
            self.login_attempts.unwrap_or(DEFAULT_LOGIN_ATTEMPTS),
        )?;
        let login_window_minutes = at_least_one(
            "login_window_minutes",
            self.login_window_minutes
                .unwrap_or(DEFAULT_LOGIN_WINDOW_MINUTES),
        )?;
        let concurrency = at_least_one(
            "jobs.concurrency",
            self.jobs.concurrency.unwrap_or(DEFAULT_JOB_CONCURRENCY),
        )?;
        let shutdown_grace = self
            .jobs
            .shutdown_grace_secs
            .unwrap_or(DEFAULT_SHUTDOWN_GRACE_SECS);
        let time_scale = self
            .sandbox
            .time_scale
            .unwrap_or(DEFAULT_SANDBOX_TIME_SCALE);
        if !(time_scale.is_finite() && time_scale > 0.0) {
            return Err(SettingsError::invalid(
                "sandbox.time_scale",
                "must be a number greater than 0 (1.0 = real time)",
            ));
        }
        let connections = self.connections.check()?;
        let facebook_deauthorize_url = self
            .sandbox
            .facebook_deauthorize_url
            .as_deref()
            .map(|s| parse_http_url("sandbox.facebook_deauthorize_url", s))
            .transpose()?;
        Ok(Settings {
            listen,
            public_url,
            database,
            mail,
            mail_from,
            encryption_keys,
            log_format,
            invite_ttl,
            session_ttl,
            login_attempts,
            login_window: Duration::from_secs(u64::from(login_window_minutes) * 60),
            jobs: JobSettings {
                concurrency: concurrency as usize,
                shutdown_grace: Duration::from_secs(shutdown_grace.into()),
            },
            providers: Providers {
                linkedin: self.providers.linkedin.check("linkedin")?,
                x: self.providers.x.check("x")?,
                facebook: self.providers.facebook.check("facebook")?,
                instagram: self.providers.instagram.check("instagram")?,
            },
            connections,
            sandbox: SandboxSettings {
                enabled: self.sandbox.enabled,
                time_scale,
                client_secret: self
                    .sandbox
                    .client_secret
                    .unwrap_or_else(|| DEFAULT_SANDBOX_CLIENT_SECRET.into()),
                facebook_deauthorize_url,
            },
            baseline_route: self.baseline_route.unwrap_or(false),
            unknown_environment: Vec::new(),
        })
    }
}

impl RawProvider {
    fn check(self, name: &str) -> Result<ProviderSettings, SettingsError> {
        let key = |field: &str| format!("providers.{name}.{field}");
        let client_id = self.client_id.map(|id| id.trim().to_owned());
        // Instagram business accounts are reached through Facebook's login
        // and Graph with Facebook's app: credentials here would be a second
        // app that is never used, so they are refused rather than ignored.
        if name == "instagram" && (client_id.is_some() || self.client_secret.is_some()) {
            let field = if client_id.is_some() {
                "client_id"
            } else {
                "client_secret"
            };
            return Err(SettingsError::invalid(
                key(field),
                "Instagram signs in with Facebook's app: set providers.facebook.client_id \
                 and client_secret instead (providers.instagram only moves endpoints)",
            ));
        }
        match (&client_id, &self.client_secret) {
            (Some(_), None) => {
                return Err(SettingsError::invalid(
                    key("client_secret"),
                    format!("is required when {} is set", key("client_id")),
                ))
            }
            (None, Some(_)) => {
                return Err(SettingsError::invalid(
                    key("client_id"),
                    format!("is required when {} is set", key("client_secret")),
                ))
            }
            _ => {}
        }
        let url = |field: &str, value: Option<String>| {
            value.map(|s| parse_http_url(&key(field), &s)).transpose()
        };
        let scopes = |field: &str, value: Option<RawList>| {
            value.map(|list| scope_list(&key(field), list)).transpose()
        };
        Ok(ProviderSettings {
            client_id,
            client_secret: self.client_secret,
            auth_base_url: url("auth_base_url", self.auth_base_url)?,
            api_base_url: url("api_base_url", self.api_base_url)?,
            authorize_url: url("authorize_url", self.authorize_url)?,
            token_url: url("token_url", self.token_url)?,
            userinfo_url: url("userinfo_url", self.userinfo_url)?,
            revoke_url: url("revoke_url", self.revoke_url)?,
            introspect_url: url("introspect_url", self.introspect_url)?,
            scopes: scopes("scopes", self.scopes)?,
            page_scopes: scopes("page_scopes", self.page_scopes)?,
        })
    }
}

/// Scopes as OAuth defines a scope token (RFC 6749 §3.3): printable ASCII
/// without spaces, `"` or `\`. Commas are left out too, since the
/// environment separates entries with them.
fn scope_list(key: &str, list: RawList) -> Result<Vec<String>, SettingsError> {
    let scopes = list.entries(key)?;
    if let Some(bad) = scopes.iter().find(|s| {
        !s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    }) {
        return Err(SettingsError::invalid(
            key,
            format!("{bad:?} is not a scope (printable ASCII without quotes or backslashes)"),
        ));
    }
    Ok(scopes)
}

impl RawConnections {
    fn check(self) -> Result<ConnectionSettings, SettingsError> {
        let probe_interval = match self.probe_interval {
            Some(raw) => parse_duration("connections.probe_interval", raw)?,
            None => parse_duration(
                "connections.probe_interval",
                RawDuration::Text(DEFAULT_PROBE_INTERVAL.to_owned()),
            )?,
        };
        let app_redirects = match self.app_redirects {
            Some(list) => {
                let mut prefixes: Vec<String> = Vec::new();
                for entry in list.entries("connections.app_redirects")? {
                    let prefix = app_redirect("connections.app_redirects", &entry)?;
                    if !prefixes.contains(&prefix) {
                        prefixes.push(prefix);
                    }
                }
                prefixes
            }
            None => DEFAULT_APP_REDIRECTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        };
        Ok(ConnectionSettings {
            probe_interval,
            app_redirects,
        })
    }
}

/// A deep-link prefix: `scheme://` and nothing more, the scheme lowercased
/// (schemes are case-insensitive). Web schemes are refused: a flow that
/// ends on the web returns to a path on this site, and an `https://`
/// prefix would send it, code and all, to any site. So are the schemes that
/// run or read something in the browser instead of opening an app.
fn app_redirect(key: &str, entry: &str) -> Result<String, SettingsError> {
    let refuse = |reason: &str| SettingsError::invalid(key, format!("{entry:?} {reason}"));
    let scheme = entry
        .strip_suffix("://")
        .ok_or_else(|| refuse("is not a deep-link prefix like apostle://"))?;
    let mut chars = scheme.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !well_formed {
        return Err(refuse("is not a deep-link prefix like apostle://"));
    }
    let scheme = scheme.to_ascii_lowercase();
    if matches!(
        scheme.as_str(),
        "http" | "https" | "javascript" | "data" | "vbscript" | "file" | "blob"
    ) {
        return Err(refuse(
            "is not an app's scheme (web flows return to a path on this site)",
        ));
    }
    Ok(format!("{scheme}://"))
}

/// Whole seconds, or a number with one unit: `s`, `m`, `h` or `d`.
fn parse_duration(key: &str, raw: RawDuration) -> Result<chrono::Duration, SettingsError> {
    let (text, seconds) = match raw {
        RawDuration::Seconds(n) => (n.to_string(), Some(n)),
        RawDuration::Text(text) => {
            let trimmed = text.trim();
            let digits = trimmed.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let unit = match &trimmed[digits.len()..] {
                "" | "s" => Some(1),
                "m" => Some(60),
                "h" => Some(3600),
                "d" => Some(86_400),
                _ => None,
            };
            let seconds = unit.and_then(|unit| {
                digits
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| n.checked_mul(unit))
            });
            (text, seconds)
        }
    };
    let duration = seconds
        .and_then(|s| i64::try_from(s).ok())
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(|| {
            SettingsError::invalid(
                key,
                format!("{text:?} is not a duration like 6h, 30m, 90s or 21600 (seconds)"),
            )
        })?;
    if duration <= chrono::Duration::zero() {
        return Err(SettingsError::invalid(key, "must be longer than zero"));
    }
    Ok(duration)
}

fn at_least_one(key: &str, value: u32) -> Result<u32, SettingsError> {
    if value == 0 {
        Err(SettingsError::invalid(key, "must be at least 1"))
    } else {
        Ok(value)
    }
}

fn parse_http_url(key: &str, value: &str) -> Result<Url, SettingsError> {
    let url = Url::parse(value.trim())
        .map_err(|e| SettingsError::invalid(key, format!("{value:?} is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SettingsError::invalid(
            key,
            format!("{value:?} must be an http:// or https:// URL with a host"),
        ));
    }
    Ok(url)
}

/// Checks the form of an SMTP URL without ever repeating it: it may carry
/// a password.
fn check_smtp_url(value: &str) -> Result<(), SettingsError> {
    let url = Url::parse(value.trim()).map_err(|_| {
        SettingsError::invalid(
            "smtp_url",
            "is not a URL like smtp://HOST:PORT or smtps://USER:PASSWORD@HOST:465",
        )
    })?;
    if !matches!(url.scheme(), "smtp" | "smtps") {
        return Err(SettingsError::invalid(
            "smtp_url",
            "must start with smtp:// (STARTTLS with ?tls=required) or smtps:// (TLS)",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(SettingsError::invalid("smtp_url", "names no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn from_env(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::load_from(None, env(pairs))
    }

    /// Settings from a TOML file with these contents.
    fn from_file(contents: &str) -> Result<Settings, SettingsError> {
        let path = std::env::temp_dir().join(format!(
            "apostle-settings-{}.toml",
            &apostle_core::secrets::random_token()[..16]
        ));
        std::fs::write(&path, contents).unwrap();
        let settings = Settings::load_from(Some(&path), HashMap::new());
        std::fs::remove_file(&path).unwrap();
        settings
    }

    fn refused_key(result: Result<Settings, SettingsError>) -> String {
        match result {
            Err(SettingsError::Invalid { key, .. }) => key,
            other => panic!("expected a refusal naming a key, got {other:?}"),
        }
    }

    #[test]
    fn connections_default_to_a_six_hour_probe_and_apostle_deep_links() {
        let s = from_env(&[]).unwrap();
        assert_eq!(s.connections.probe_interval, chrono::Duration::hours(6));
        assert_eq!(s.connections.app_redirects, ["apostle://"]);
        let linkedin = &s.providers.linkedin;
        assert!(linkedin.authorize_url.is_none() && linkedin.scopes.is_none());
    }

    #[test]
    fn the_probe_interval_takes_seconds_or_a_number_with_a_unit() {
        for (value, expected) in [
            ("21600", chrono::Duration::hours(6)),
            ("90s", chrono::Duration::seconds(90)),
            ("15m", chrono::Duration::minutes(15)),
            (" 2h ", chrono::Duration::hours(2)),
            ("1d", chrono::Duration::days(1)),
        ] {
            let s = from_env(&[("APOSTLE_CONNECTIONS__PROBE_INTERVAL", value)]).unwrap();
            assert_eq!(s.connections.probe_interval, expected, "{value}");
        }
        let s = from_file("[connections]\nprobe_interval = 3600\n").unwrap();
        assert_eq!(s.connections.probe_interval, chrono::Duration::hours(1));
        let s = from_file("[connections]\nprobe_interval = \"30m\"\n").unwrap();
        assert_eq!(s.connections.probe_interval, chrono::Duration::minutes(30));
        for bad in ["soon", "0", "0h", "6 hours", "-5", "1w", "h"] {
            let result = from_env(&[("APOSTLE_CONNECTIONS__PROBE_INTERVAL", bad)]);
            assert_eq!(refused_key(result), "connections.probe_interval", "{bad}");
        }
    }

    #[test]
    fn app_redirects_are_deep_link_schemes_from_a_list_or_a_string() {
        let s = from_env(&[(
            "APOSTLE_CONNECTIONS__APP_REDIRECTS",
            "apostle://, Acme-App://  apostle://",
        )])
        .unwrap();
        assert_eq!(s.connections.app_redirects, ["apostle://", "acme-app://"]);
        let s = from_file("[connections]\napp_redirects = [\"acme.social://\"]\n").unwrap();
        assert_eq!(s.connections.app_redirects, ["acme.social://"]);
        let s = from_file("[connections]\napp_redirects = []\n").unwrap();
        assert!(
            s.connections.app_redirects.is_empty(),
            "deep links can be turned off"
        );
        for bad in [
            "apostle:",
            "apostle://callback",
            "1app://",
            "://",
            "https://",
            "HTTP://",
            "javascript://",
        ] {
            let result = from_env(&[("APOSTLE_CONNECTIONS__APP_REDIRECTS", bad)]);
            assert_eq!(refused_key(result), "connections.app_redirects", "{bad}");
        }
    }

    #[test]
    fn scopes_are_a_list_in_the_file_and_a_separated_string_in_the_environment() {
        let s = from_env(&[
            (
                "APOSTLE_PROVIDERS__LINKEDIN__SCOPES",
                "openid profile,email , w_member_social",
            ),
            (
                "APOSTLE_PROVIDERS__FACEBOOK__PAGE_SCOPES",
                "pages_show_list",
            ),
        ])
        .unwrap();
        assert_eq!(
            s.providers.linkedin.scopes.as_deref(),
            Some(&["openid", "profile", "email", "w_member_social"].map(str::to_owned)[..])
        );
        assert_eq!(
            s.providers.facebook.page_scopes.as_deref(),
            Some(&["pages_show_list".to_owned()][..])
        );
        let s = from_file("[providers.x]\nscopes = [\"tweet.read\", \"users.read\"]\n").unwrap();
        assert_eq!(
            s.providers.x.scopes.as_deref(),
            Some(&["tweet.read".to_owned(), "users.read".to_owned()][..])
        );
        let two_in_one = from_file("[providers.x]\nscopes = [\"tweet.read users.read\"]\n");
        assert_eq!(refused_key(two_in_one), "providers.x.scopes");
        let quoted = from_env(&[("APOSTLE_PROVIDERS__X__PAGE_SCOPES", "a\"b")]);
        assert_eq!(refused_key(quoted), "providers.x.page_scopes");
    }

    #[test]
    fn every_endpoint_key_takes_an_absolute_http_url_and_a_bad_one_is_refused_by_name() {
        for field in [
            "authorize_url",
            "token_url",
            "userinfo_url",
            "revoke_url",
            "introspect_url",
        ] {
            let var = format!("APOSTLE_PROVIDERS__LINKEDIN__{}", field.to_uppercase());
            let s = from_env(&[(&var, "https://eu.example.com/oauth")]).unwrap();
            let set = [
                &s.providers.linkedin.authorize_url,
                &s.providers.linkedin.token_url,
                &s.providers.linkedin.userinfo_url,
                &s.providers.linkedin.revoke_url,
                &s.providers.linkedin.introspect_url,
            ];
            assert_eq!(set.iter().filter(|u| u.is_some()).count(), 1, "{field}");
            for bad in [
                "/oauth/token",
                "eu.example.com/token",
                "ftp://eu.example.com/t",
            ] {
                let result = from_env(&[(&var, bad)]);
                assert_eq!(
                    refused_key(result),
                    format!("providers.linkedin.{field}"),
                    "{bad}"
                );
            }
        }
    }

    #[test]
    fn instagram_credentials_are_refused_since_instagram_signs_in_with_facebooks_app() {
        for (var, key) in [
            (
                "APOSTLE_PROVIDERS__INSTAGRAM__CLIENT_ID",
                "providers.instagram.client_id",
            ),
            (
                "APOSTLE_PROVIDERS__INSTAGRAM__CLIENT_SECRET",
                "providers.instagram.client_secret",
            ),
        ] {
            let error = from_env(&[(var, "ig-value-7")]).unwrap_err().to_string();
            assert!(error.starts_with(&format!("{key}: ")), "{error}");
            assert!(error.contains("providers.facebook.client_id"), "{error}");
            assert!(!error.contains("ig-value-7"), "{error}");
        }
        let s = from_env(&[(
            "APOSTLE_PROVIDERS__INSTAGRAM__API_BASE_URL",
            "https://graph.example.com",
        )])
        .unwrap();
        assert!(
            s.providers.instagram.api_base_url.is_some(),
            "endpoints may move"
        );
    }

    #[test]
    fn provider_secrets_never_appear_in_debug_output() {
        let s = from_env(&[
            ("APOSTLE_PROVIDERS__LINKEDIN__CLIENT_ID", "li-app"),
            ("APOSTLE_PROVIDERS__LINKEDIN__CLIENT_SECRET", "li-secret-8"),
            ("APOSTLE_PROVIDERS__LINKEDIN__SCOPES", "openid"),
            ("APOSTLE_SANDBOX__CLIENT_SECRET", "sandbox-secret-9"),
        ])
        .unwrap();
        assert_eq!(
            s.providers
                .linkedin
                .client_secret
                .as_ref()
                .map(ExposeSecret::expose_secret),
            Some("li-secret-8")
        );
        let debug = format!("{s:?}");
        assert!(!debug.contains("li-secret-8"), "{debug}");
        assert!(!debug.contains("sandbox-secret-9"), "{debug}");
        assert!(
            debug.contains("li-app") && debug.contains("openid"),
            "{debug}"
        );
    }
}
