//! Choosing the database from its URL: `sqlite:` opens the embedded
//! SQLite store, `postgres:`/`postgresql:` the PostgreSQL store. Messages
//! name the file or `host:port`, never a password.

use crate::error::AppError;
use apostle_core::Store;
use apostle_store_postgres::PgStore;
use apostle_store_sqlite::SqliteStore;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// How long the first contact with a PostgreSQL server may take.
const REACH_TIMEOUT: Duration = Duration::from_secs(5);

/// A checked `database_url`.
#[derive(Clone)]
pub enum DatabaseUrl {
    Sqlite(String),
    /// Kept secret: the URL may carry a password.
    Postgres(SecretString),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.describe())
    }
}

impl DatabaseUrl {
    /// Accepts `sqlite:PATH`, `sqlite://PATH` and
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or `postgresql://`).
    pub fn parse(value: &str) -> Result<DatabaseUrl, String> {
        let value = value.trim();
        let scheme = value
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase())
            .filter(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            });
        match scheme.as_deref() {
            Some("sqlite") => Ok(DatabaseUrl::Sqlite(value.to_owned())),
            Some("postgres" | "postgresql") => {
                let url = Url::parse(value)
                    .map_err(|e| format!("is not a valid PostgreSQL URL ({e})"))?;
                if url.host_str().is_none_or(str::is_empty) && !value.contains("host=") {
                    return Err("names no PostgreSQL host".to_owned());
                }
                Ok(DatabaseUrl::Postgres(value.to_owned().into()))
            }
            Some(other) => Err(format!(
                "unsupported scheme \"{other}:\"; Apostle runs on sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            )),
            None => Err("is not a URL; use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE".to_owned()),
        }
    }

    /// Where the database is, for people: the SQLite URL, or PostgreSQL's
    /// `host:port/database` without user or password.
    pub fn describe(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(url) => format!("SQLite at {url}"),
            DatabaseUrl::Postgres(url) => match Url::parse(url.expose_secret()) {
                Ok(url) => format!("PostgreSQL at {}{}", host_port(&url), url.path()),
                Err(_) => "PostgreSQL".to_owned(),
            },
        }
    }
}

fn host_port(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or("localhost"),
        url.port().unwrap_or(5432)
    )
}

/// Connects to the database and brings its schema up to date.
pub async fn open(database: &DatabaseUrl) -> Result<Arc<dyn Store>, AppError> {
    Ok(match database {
        DatabaseUrl::Sqlite(url) => {
            let store = SqliteStore::connect(url).await?;
            store.migrate().await?;
            Arc::new(store)
        }
        DatabaseUrl::Postgres(url) => {
            let url = url.expose_secret();
            check_reachable(url).await?;
            let store = PgStore::connect(url).await?;
            store.migrate().await?;
            Arc::new(store)
        }
    })
}

/// Fails fast, naming `host:port`, when nothing answers there. The pool
/// would otherwise retry a refused connection until its timeout and then
/// report only that it timed out.
async fn check_reachable(url: &str) -> Result<(), AppError> {
    let Some(parsed) = Url::parse(url)
        .ok()
        .filter(|u| u.host_str().is_some_and(|h| !h.is_empty()))
    else {
        // A socket directory given as `?host=/path`: the pool reports it.
        return Ok(());
    };
    let target = host_port(&parsed);
    let host = parsed
        .host_str()
        .unwrap_or("localhost")
        .trim_matches(['[', ']']);
    let port = parsed.port().unwrap_or(5432);
    match tokio::time::timeout(REACH_TIMEOUT, tokio::net::TcpStream::connect((host, port))).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(AppError::Database(format!(
            "cannot reach PostgreSQL at {target}: {e}"
        ))),
        Err(_) => Err(AppError::Database(format!(
            "cannot reach PostgreSQL at {target}: no answer within {} s",
            REACH_TIMEOUT.as_secs()
        ))),
    }
}
