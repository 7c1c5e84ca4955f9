//! Opening a database: what each backend's `connect` does with a path or
//! server that is not there yet, and that both backends carry the same
//! migrations.

use apostle_core::store::StoreError;
use apostle_store_postgres::PgStore;
use apostle_store_sqlite::SqliteStore;
use std::collections::BTreeSet;
use std::path::Path;

#[tokio::test]
async fn sqlite_creates_the_database_file_and_its_directory() {
    let root = std::env::temp_dir().join(format!("apostle-connect-{:016x}", rand::random::<u64>()));
    let file = root.join("apostle-data").join("apostle.db");
    let store = SqliteStore::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store
        .migrate()
        .await
        .expect("migrating twice changes nothing");
    assert!(file.is_file());
    apostle_core::Store::close(&store).await;
    std::fs::remove_dir_all(root).ok();
}

#[tokio::test]
async fn unreachable_postgres_names_host_and_port_but_not_the_password() {
    // Port 1 on loopback: nothing listens there.
    let result = PgStore::connect("postgres://apostle:sup3r-s3cret@127.0.0.1:1/apostle").await;
    let Err(StoreError::Database(message)) = result else {
        panic!("expected a database error");
    };
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("sup3r-s3cret"), "{message}");
}

#[tokio::test]
async fn a_malformed_postgres_url_is_refused_without_echoing_the_password() {
    let result = PgStore::connect("postgres://apostle:sup3r-s3cret@127.0.0.1:notaport/x").await;
    let Err(StoreError::Database(message)) = result else {
        panic!("expected a database error");
    };
    assert!(message.contains("invalid PostgreSQL URL"), "{message}");
    assert!(!message.contains("sup3r-s3cret"), "{message}");
}

fn migration_names(dir: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    std::fs::read_dir(path)
        .expect("migrations folder")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn both_backends_have_the_same_migration_versions() {
    let sqlite = migration_names("store-sqlite/migrations");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, migration_names("store-postgres/migrations"));
}
