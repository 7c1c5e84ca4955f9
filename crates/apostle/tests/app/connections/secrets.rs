//! The demo, run as the binary: it connects Acme's pages and Amy's accounts through
//! the sandbox at once, and no token it handled reaches the logs or any table (job
//! payloads and the outbox included) or SQLite's write-ahead log in plaintext.

use crate::helpers::{system_clock, Running, TestDb};
use apostle_core::connections::places;
use apostle_core::store::AccountOwner;
use apostle_domain::AccountId;
use sqlx::Row;
use std::time::{Duration, Instant};

/// Every plaintext token the database holds sealed.
async fn plaintext_tokens(db: &TestDb) -> Vec<String> {
    let core = db.core(&[], system_clock()).await;
    let mut tx = core.store.begin_read().await.unwrap();
    let accounts = tx.list_accounts(AccountId(0), 1000).await.unwrap();
    let mut tokens = Vec::new();
    for account in &accounts {
        let grant = tx.grant_by_id(account.grant_id).await.unwrap().unwrap();
        for (field, sealed) in [
            ("access", Some(&grant.access_token)),
            ("refresh", grant.refresh_token.as_ref()),
        ] {
            if let Some(sealed) = sealed {
                let place = places::grant_token(
                    grant.owner,
                    &grant.provider,
                    &grant.external_user_id,
                    field,
                );
                tokens.push(core.keyring.open_text(sealed, &place).unwrap());
            }
        }
        if let (Some(sealed), AccountOwner::Business(team)) = (&account.page_token, account.owner) {
            let place = places::page_token(team, &account.provider, &account.external_id);
            tokens.push(core.keyring.open_text(sealed, &place).unwrap());
        }
    }
    tokens.sort();
    tokens.dedup();
    tokens
}

/// Every row of every table, as text.
async fn every_row(db: &TestDb) -> String {
    let mut text = String::new();
    if db.is_postgres() {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
            .await
            .unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for table in tables {
            let rows = sqlx::query(&format!("SELECT t::text FROM \"{table}\" t"))
                .fetch_all(&mut conn)
                .await
                .unwrap();
            for row in rows {
                text.push_str(&row.get::<String, _>(0));
            }
        }
    } else {
        let path = db.dir.join("apostle.db");
        for file in [path.clone(), path.with_extension("db-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    text
}

async fn the_demo_connects_at_once_and_no_token_is_in_logs_or_tables_in_plaintext() {
    let db = TestDb::new().await;
    let mut command = db.apostle(&["serve", "--demo"]);
    command.env("RUST_LOG", "debug,sqlx=warn,hyper=info,h2=info");
    let mut demo = Running::start(command);
    demo.line_starting_with("Apostle demo is running at http://127.0.0.1:");
    // Six connections: Acme's four pages and Amy's two accounts.
    let core = db.core(&[], system_clock()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let connections = loop {
        let all = core.all_connections().await.unwrap();
        if all.len() >= 6 || Instant::now() > deadline {
            break all;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(connections.len(), 6, "{connections:?}");
    for c in &connections {
        assert_eq!(
            c.status,
            apostle_core::store::ConnectionStatus::Active,
            "{c:?}"
        );
    }
    let mut logs = demo.lines_so_far().join("\n");
    let status = demo.terminate();
    assert!(status.success());
    logs.push_str(&demo.stderr());
    let tokens = plaintext_tokens(&db).await;
    assert!(tokens.len() >= 8, "tokens were checked: {}", tokens.len());
    let rows = every_row(&db).await;
    for token in &tokens {
        assert!(!logs.contains(token.as_str()), "a token is in the logs");
        assert!(
            !rows.contains(token.as_str()),
            "a token is in the database in plaintext"
        );
    }
    assert!(logs.contains("demo connections made"), "{logs}");
}

crate::on_both_backends!(the_demo_connects_at_once_and_no_token_is_in_logs_or_tables_in_plaintext);
