//! Fresh, throw-away databases for the conformance suite and the benchmark:
//! a temporary SQLite file, or a PostgreSQL database created for one test on
//! the server `APOSTLE_TEST_POSTGRES_URL` names and dropped after it.

use apostle_core::store::Store;
use apostle_store_postgres::PgStore;
use apostle_store_sqlite::SqliteStore;
use sqlx::{Connection, PgConnection};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

/// The variable naming the PostgreSQL server tests may create databases on,
/// e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_VAR: &str = "APOSTLE_TEST_POSTGRES_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated, empty database that exists until [`TestDb::destroy`].
pub struct TestDb {
    store: Box<dyn Store>,
    backend: Backend,
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(PathBuf),
    Database { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh database, or `None` for PostgreSQL when no server is configured.
    pub async fn create(backend: Backend) -> Option<TestDb> {
        let suffix = format!("{:016x}", rand::random::<u64>());
        let (url, cleanup) = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("apostle-store-test-{suffix}"));
                let url = format!("sqlite://{}", dir.join("apostle.db").display());
                (url, Cleanup::Directory(dir))
            }
            Backend::Postgres => {
                let admin_url = std::env::var(POSTGRES_URL_VAR).ok()?;
                let name = format!("apostle_t_{suffix}");
                let mut admin = PgConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}: cannot connect: {e}"));
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
                admin.close().await.ok();
                let mut url = url::Url::parse(&admin_url).expect("postgres URL");
                url.set_path(&name);
                (url.to_string(), Cleanup::Database { admin_url, name })
            }
        };
        let store: Box<dyn Store> = match backend {
            Backend::Sqlite => {
                let store = SqliteStore::connect(&url).await.expect("open SQLite");
                store.migrate().await.expect("migrate SQLite");
                Box::new(store)
            }
            Backend::Postgres => {
                let store = PgStore::connect(&url).await.expect("open PostgreSQL");
                store.migrate().await.expect("migrate PostgreSQL");
                Box::new(store)
            }
        };
        Some(TestDb {
            store,
            backend,
            url,
            cleanup,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Where the database is, as `sqlite://PATH` or a `postgres://` URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Another pool on the same database, as a second process would open.
    pub async fn open_another(&self) -> Box<dyn Store> {
        open(self.backend, &self.url).await
    }

    /// A pool of at most `connections` on the same database.
    pub async fn open_with_pool_size(&self, connections: u32) -> Box<dyn Store> {
        match self.backend {
            Backend::Sqlite => Box::new(
                SqliteStore::connect_with_pool_size(&self.url, connections)
                    .await
                    .expect("open SQLite"),
            ),
            Backend::Postgres => Box::new(
                PgStore::connect_with_pool_size(&self.url, connections)
                    .await
                    .expect("open PostgreSQL"),
            ),
        }
    }

    /// Closes the pool and removes the database.
    pub async fn destroy(self) {
        self.store.close().await;
        match self.cleanup {
            Cleanup::Directory(dir) => {
                std::fs::remove_dir_all(&dir).ok();
            }
            Cleanup::Database { admin_url, name } => {
                let mut admin = PgConnection::connect(&admin_url).await.expect("admin");
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .unwrap_or_else(|e| panic!("cannot drop database {name}: {e}"));
                admin.close().await.ok();
            }
        }
    }
}

async fn open(backend: Backend, url: &str) -> Box<dyn Store> {
    match backend {
        Backend::Sqlite => Box::new(SqliteStore::connect(url).await.expect("open SQLite")),
        Backend::Postgres => Box::new(PgStore::connect(url).await.expect("open PostgreSQL")),
    }
}

pub type Check = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs one check on a fresh database of `backend` and removes the database
/// afterwards, also when the check fails.
pub async fn run(backend: Backend, check: impl FnOnce(Arc<TestDb>) -> Check) {
    let Some(db) = TestDb::create(backend).await else {
        // In CI every dependency is installed on purpose: a skip there hides a missing one.
        assert!(
            std::env::var_os("CI").is_none(),
            "required in CI: {POSTGRES_URL_VAR} is not set"
        );
        println!("skipped: {POSTGRES_URL_VAR} is not set");
        return;
    };
    let db = Arc::new(db);
    // A task, so that a failing check unwinds into a JoinError and the
    // database is still dropped.
    let outcome = tokio::spawn(check(Arc::clone(&db))).await;
    if let Some(db) = Arc::into_inner(db) {
        db.destroy().await;
    }
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("check did not finish: {e}"),
        }
    }
}
