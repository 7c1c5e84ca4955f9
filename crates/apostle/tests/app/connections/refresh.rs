//! Refreshing under pressure: overlapping workers on separate pools, workers dropped in
//! the middle of a refresh, X's single-use refresh tokens, and LinkedIn apps whose
//! tokens cannot be refreshed (reminders, then a break at expiry), with the sandbox's
//! clock moving the engine's.

use super::{acme_on, text_of, Acme, AMY};
use crate::helpers::{system_clock, TestDb};
use apostle_core::store::Grant;
use apostle_core::Core;
use apostle_domain::AccountId;
use serde_json::json;
use std::sync::Arc;

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

async fn grant_of(core: &Core, id: i64) -> Grant {
    let mut tx = core.store.begin_read().await.unwrap();
    let account = tx.account_by_id(AccountId(id)).await.unwrap().unwrap();
    tx.grant_by_id(account.grant_id).await.unwrap().unwrap()
}

async fn advance(acme: &Acme, seconds: u64) {
    acme.sandbox("/clock/advance", json!({"seconds": seconds}))
        .await;
}

/// Checks due grants until none is due, as the scheduler would.
async fn drain(core: &Core) {
    while core.check_due_connections().await.unwrap() > 0 {}
}

async fn overlapping_workers_on_separate_pools_rotate_an_x_token_once() {
    let db = Arc::new(TestDb::new().await);
    let acme = acme_on(Arc::clone(&db), &[]).await;
    acme.sandbox_member("x", "x-amy").await;
    let id = acme.connect_personal(AMY, "x", "x-amy").await;
    let before = grant_of(&acme.app.core, id).await;
    // A second process: its own pool on the same database, the same providers.
    let other = Core {
        store: db.core(&[], system_clock()).await.store,
        ..acme.app.core.clone()
    };
    advance(&acme, 2 * HOUR).await;
    for _ in 0..5 {
        tokio::join!(drain(&acme.app.core), drain(&other));
    }
    let after = grant_of(&acme.app.core, id).await;
    assert_eq!(after.status, apostle_core::store::ConnectionStatus::Active);
    assert_eq!(
        after.generation,
        before.generation + 1,
        "exactly one rotation"
    );
    assert_eq!(acme.check(AMY, id).await["status"], "active");
    assert!(acme.emails(AMY, "connection_broken").await.is_empty());
}

/// A worker dies while `provider` is still answering its refresh; once the lease
/// has run out, the next worker refreshes the grant and nothing broke.
async fn refresh_dropped_before_the_answer(provider: &str, handle: &str, due_after: u64) {
    let acme = super::acme().await;
    acme.sandbox_member(provider, handle).await;
    let id = acme.connect_personal(AMY, provider, handle).await;
    let before = grant_of(&acme.app.core, id).await;
    acme.sandbox(
        "/faults",
        json!({"provider": provider, "kind": "latency", "ms": 3000}),
    )
    .await;
    advance(&acme, due_after).await;
    let cut = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        acme.app.core.check_due_connections(),
    )
    .await;
    assert!(cut.is_err(), "the refresh was cut short");
    acme.app
        .http
        .delete(acme.app.url("/sandbox/admin/faults"))
        .send()
        .await
        .unwrap();
    advance(&acme, 300).await;
    drain(&acme.app.core).await;
    let checked = acme.check(AMY, id).await;
    assert_eq!(checked["status"], "active", "{provider}: {checked}");
    assert!(
        grant_of(&acme.app.core, id).await.generation > before.generation,
        "{provider}: refreshed afterwards"
    );
    assert!(acme.emails(AMY, "connection_broken").await.is_empty());
}

#[tokio::test]
async fn a_worker_dropped_during_a_linkedin_refresh_leaves_the_grant_usable() {
    refresh_dropped_before_the_answer("linkedin", "li-amy", 55 * DAY).await;
}

#[tokio::test]
async fn a_worker_dropped_before_x_answered_its_refresh_leaves_the_grant_usable() {
    refresh_dropped_before_the_answer("x", "x-amy", 2 * HOUR).await;
}

#[tokio::test]
async fn an_x_rotation_that_was_never_saved_ends_in_one_honest_break() {
    let acme = super::acme().await;
    acme.sandbox_member("x", "x-amy").await;
    let id = acme.connect_personal(AMY, "x", "x-amy").await;
    let grant = grant_of(&acme.app.core, id).await;
    // X rotates the refresh token and the answer is lost before it is stored: the
    // same call a worker makes, whose result nobody keeps.
    let place = apostle_core::connections::places::grant_token(
        grant.owner,
        &grant.provider,
        &grant.external_user_id,
        "refresh",
    );
    let refresh = acme
        .app
        .core
        .keyring
        .open_text(grant.refresh_token.as_deref().unwrap(), &place)
        .unwrap();
    let rotated = acme
        .app
        .http
        .post(acme.app.url("/sandbox/x/2/oauth2/token"))
        .basic_auth("apostle", Some("sandbox-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    advance(&acme, 2 * HOUR).await;
    for _ in 0..3 {
        drain(&acme.app.core).await;
        acme.check(AMY, id).await;
    }
    let broken = acme.connection(AMY, id).await;
    assert_eq!(broken["status"], "broken", "{broken}");
    assert_eq!(broken["reason"], "refresh_failed");
    assert_eq!(acme.emails(AMY, "connection_broken").await.len(), 1);
    // Not retried in a loop: the grant is no longer due.
    let mut tx = acme.app.core.store.begin_read().await.unwrap();
    let events = tx.connection_events(grant.id, 100).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "broken").count(), 1);
}

#[tokio::test]
async fn a_linkedin_token_that_cannot_be_refreshed_gets_two_reminders_then_breaks_at_expiry() {
    let acme = super::acme().await;
    acme.sandbox("/apps/linkedin", json!({"refresh_tokens": false}))
        .await;
    acme.sandbox_member("linkedin", "li-amy").await;
    let id = acme.connect_personal(AMY, "linkedin", "li-amy").await;
    let connection = acme.connection(AMY, id).await;
    assert!(connection["expires_at"].is_string(), "{connection}");
    advance(&acme, 30 * DAY).await;
    assert_eq!(acme.check(AMY, id).await["status"], "active");
    assert!(acme.emails(AMY, "connection_expiring").await.is_empty());
    advance(&acme, 24 * DAY).await;
    assert_eq!(acme.check(AMY, id).await["status"], "active");
    let reminders = acme.emails(AMY, "connection_expiring").await;
    assert_eq!(reminders.len(), 1, "the 7-day reminder");
    assert!(text_of(&acme.app, &reminders[0]).contains("in 7 days"));
    acme.check(AMY, id).await;
    assert_eq!(
        acme.emails(AMY, "connection_expiring").await.len(),
        1,
        "once"
    );
    advance(&acme, 5 * DAY + 12 * HOUR).await;
    acme.check(AMY, id).await;
    assert_eq!(
        acme.emails(AMY, "connection_expiring").await.len(),
        2,
        "the 1-day reminder"
    );
    advance(&acme, DAY).await;
    let expired = acme.check(AMY, id).await;
    assert_eq!(expired["status"], "broken", "{expired}");
    assert_eq!(expired["reason"], "token_expired");
    assert_eq!(acme.emails(AMY, "connection_broken").await.len(), 1);
}

crate::on_both_backends!(overlapping_workers_on_separate_pools_rotate_an_x_token_once);

/// Worker A's refresh was answered by X (the refresh token rotated) but A has not
/// stored the new tokens yet when worker B, whose lease began when A's ran out, is
/// refused the old refresh token. B must not break the grant: A stores, and all is well.
async fn a_refresh_refused_while_another_worker_stores_the_rotation_breaks_nothing() {
    let acme = super::acme().await;
    acme.sandbox_member("x", "x-amy").await;
    let id = acme.connect_personal(AMY, "x", "x-amy").await;
    let grant = grant_of(&acme.app.core, id).await;
    let place = |field| {
        apostle_core::connections::places::grant_token(
            grant.owner,
            &grant.provider,
            &grant.external_user_id,
            field,
        )
    };
    let keyring = &acme.app.core.keyring;
    let refresh = keyring
        .open_text(grant.refresh_token.as_deref().unwrap(), &place("refresh"))
        .unwrap();
    // Worker A: X answers, A holds the new tokens.
    let answered: serde_json::Value = acme
        .app
        .http
        .post(acme.app.url("/sandbox/x/2/oauth2/token"))
        .basic_auth("apostle", Some("sandbox-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Worker B: due, refused the old refresh token.
    advance(&acme, 2 * HOUR).await;
    drain(&acme.app.core).await;
    assert_eq!(acme.connection(AMY, id).await["status"], "active");
    // Worker A stores what X gave it.
    let now = acme.app.core.connections.clock.now();
    let mut tx = acme.app.core.store.begin().await.unwrap();
    let stored = tx
        .store_grant_tokens(
            grant.id,
            grant.generation,
            &apostle_core::store::GrantTokens {
                scopes: grant.scopes.clone(),
                access_token: keyring
                    .seal_text(answered["access_token"].as_str().unwrap(), &place("access")),
                refresh_token: Some(keyring.seal_text(
                    answered["refresh_token"].as_str().unwrap(),
                    &place("refresh"),
                )),
                access_expires_at: now + chrono::Duration::hours(2),
                refresh_expires_at: None,
            },
            now,
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(stored, "A's write is the one that counts");
    // B looks again later: the grant moved on, nothing broke.
    advance(&acme, 600).await;
    drain(&acme.app.core).await;
    let checked = acme.check(AMY, id).await;
    assert_eq!(checked["status"], "active", "{checked}");
    assert!(acme.emails(AMY, "connection_broken").await.is_empty());
}

crate::on_both_backends!(a_refresh_refused_while_another_worker_stores_the_rotation_breaks_nothing);
