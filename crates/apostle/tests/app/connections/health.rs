//! Keeping connections healthy: every break the sandbox can cause is found, named and
//! emailed once; provider hiccups never break anything; breaks of a login take all its
//! pages in one email, and one reconnect heals them.

use super::{acme, text_of, Acme, ADMIN, AMY};
use apostle_domain::AccountId;
use reqwest::Method;
use serde_json::json;

const BROKEN: &str = "connection_broken";

async fn events_of(acme: &Acme, who: &str, id: i64, kind: &str) -> usize {
    let user = {
        let mut tx = acme.app.core.store.begin_read().await.unwrap();
        tx.user_by_email(&apostle_domain::EmailAddress::parse(who).unwrap())
            .await
            .unwrap()
            .unwrap()
    };
    acme.app
        .core
        .connection_events(user.id, AccountId(id), 1000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == kind)
        .count()
}

#[tokio::test]
async fn every_break_the_sandbox_causes_is_found_named_and_emailed_once() {
    let acme = acme().await;
    for (provider, action, reason) in [
        ("linkedin", "revoke", "token_revoked"),
        ("x", "revoke", "token_revoked"),
        ("facebook", "change-password", "password_changed"),
        ("facebook", "remove-app", "app_removed"),
        ("facebook", "checkpoint", "provider_action_required"),
        ("instagram", "change-password", "password_changed"),
        ("facebook", "invalidate-session", "token_revoked"),
        ("facebook", "log-out", "token_revoked"),
        ("facebook", "unconfirm", "provider_action_required"),
        ("facebook", "expire-data-access", "token_expired"),
    ] {
        let handle = format!("{provider}-{action}");
        let sandbox_provider = if provider == "instagram" {
            "facebook"
        } else {
            provider
        };
        acme.sandbox_member(sandbox_provider, &handle).await;
        let id = if matches!(provider, "facebook" | "instagram") {
            acme.sandbox_page(sandbox_provider, &handle, &format!("Page of {handle}"))
                .await;
            acme.connect_pages(provider, &handle).await[0]
        } else {
            acme.connect_personal(AMY, provider, &handle).await
        };
        let owner = if matches!(provider, "facebook" | "instagram") {
            ADMIN
        } else {
            AMY
        };
        let before = acme.emails(owner, BROKEN).await.len();
        acme.member_action(sandbox_provider, &handle, action, json!({}))
            .await;
        let checked = acme.check(owner, id).await;
        assert_eq!(
            checked["status"], "broken",
            "{provider} {action}: {checked}"
        );
        assert_eq!(checked["reason"], reason, "{provider} {action}: {checked}");
        assert!(checked["broken_since"].is_string());
        // Seen again: still broken, no second email.
        assert_eq!(acme.check(owner, id).await["status"], "broken");
        let sent = acme.emails(owner, BROKEN).await;
        assert_eq!(sent.len(), before + 1, "{provider} {action}: one email");
        let newest = sent.iter().max_by_key(|e| e.id.0).unwrap();
        let text = text_of(&acme.app, newest);
        assert!(
            text.contains(&format!("/settings/connections/{id}")),
            "{text}"
        );
        if reason == "provider_action_required" {
            assert!(text.contains("What to do"), "{text}");
            assert!(checked["provider_action"].is_string(), "{checked}");
        }
    }
    let metrics = acme
        .app
        .http
        .get(acme.app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "apostle_connection_breaks_total",
        "apostle_connection_probes_total",
        "apostle_connections{",
    ] {
        assert!(metrics.contains(name), "{name} in /metrics");
    }
}

#[tokio::test]
async fn provider_hiccups_over_many_checks_never_break_anything() {
    let acme = acme().await;
    acme.sandbox_member("linkedin", "li-amy").await;
    let id = acme.connect_personal(AMY, "linkedin", "li-amy").await;
    acme.sandbox_member("facebook", "fb-owner").await;
    acme.sandbox_page("facebook", "fb-owner", "Acme").await;
    let page = acme.connect_pages("facebook", "fb-owner").await[0];
    for (who, id, fault) in [
        (AMY, id, json!({"provider": "linkedin", "kind": "outage"})),
        (
            AMY,
            id,
            json!({"provider": "linkedin", "kind": "rate-limit"}),
        ),
        (
            AMY,
            id,
            json!({"provider": "linkedin", "kind": "flaky", "fraction": 0.5}),
        ),
        (
            AMY,
            id,
            json!({"provider": "linkedin", "kind": "latency", "ms": 50}),
        ),
        (
            ADMIN,
            page,
            json!({"provider": "facebook", "kind": "outage"}),
        ),
        (
            ADMIN,
            page,
            json!({"provider": "facebook", "kind": "rate-limit", "code": 4}),
        ),
        (
            ADMIN,
            page,
            json!({"provider": "facebook", "kind": "rate-limit", "code": 613}),
        ),
        (
            ADMIN,
            page,
            json!({"provider": "facebook", "kind": "rate-limit-429"}),
        ),
        (
            ADMIN,
            page,
            json!({"provider": "facebook", "kind": "flaky", "fraction": 0.5}),
        ),
    ] {
        acme.sandbox("/faults", fault.clone()).await;
        for _ in 0..10 {
            let checked = acme.check(who, id).await;
            assert_eq!(checked["status"], "active", "{fault}: {checked}");
        }
        acme.app
            .http
            .delete(acme.app.url("/sandbox/admin/faults"))
            .send()
            .await
            .unwrap();
    }
    // The checks really reached the provider and met the hiccups.
    assert!(events_of(&acme, AMY, id, "transient").await >= 20);
    assert!(events_of(&acme, ADMIN, page, "transient").await >= 30);
    assert!(acme.emails(AMY, BROKEN).await.is_empty());
    assert!(acme.emails(ADMIN, BROKEN).await.is_empty());
}

#[tokio::test]
async fn linkedins_spurious_revoked_after_login_does_not_break() {
    let acme = acme().await;
    acme.sandbox_member("linkedin", "li-amy").await;
    let id = acme.connect_personal(AMY, "linkedin", "li-amy").await;
    acme.sandbox(
        "/faults",
        json!({"provider": "linkedin", "kind": "spurious-revoked", "calls": 1}),
    )
    .await;
    assert_eq!(acme.check(AMY, id).await["status"], "active");
    assert!(acme.emails(AMY, BROKEN).await.is_empty());
}

#[tokio::test]
async fn a_lost_page_role_breaks_that_page_only() {
    let acme = acme().await;
    acme.sandbox_member("facebook", "fb-owner").await;
    let kept = acme.sandbox_page("facebook", "fb-owner", "Acme").await;
    let lost = acme.sandbox_page("facebook", "fb-owner", "Acme Jobs").await;
    let pages = acme.connect_pages("facebook", "fb-owner").await;
    assert_eq!(pages.len(), 2);
    acme.member_action(
        "facebook",
        "fb-owner",
        "lose-page-role",
        json!({"page_id": lost}),
    )
    .await;
    for id in &pages {
        acme.check(ADMIN, *id).await;
    }
    let (_, list) = acme
        .api(ADMIN, Method::GET, "/connections?kind=business", None)
        .await;
    for c in list["connections"].as_array().unwrap() {
        let expected = if c["name"] == "Acme Jobs" {
            "broken"
        } else {
            "active"
        };
        assert_eq!(c["status"], expected, "{c}");
        if expected == "broken" {
            assert_eq!(c["reason"], "page_access_lost");
        }
    }
    let sent = acme.emails(ADMIN, BROKEN).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].subject.contains("Acme Jobs"), "{}", sent[0].subject);
    let _ = kept;
}

#[tokio::test]
async fn a_password_change_breaks_three_pages_in_one_email_and_one_reconnect_heals_all() {
    let acme = acme().await;
    acme.sandbox_member("facebook", "fb-owner").await;
    for name in ["Acme", "Acme Jobs", "Acme Labs"] {
        acme.sandbox_page("facebook", "fb-owner", name).await;
    }
    let pages = acme.connect_pages("facebook", "fb-owner").await;
    assert_eq!(pages.len(), 3);
    acme.member_action("facebook", "fb-owner", "change-password", json!({}))
        .await;
    acme.check(ADMIN, pages[0]).await;
    for id in &pages {
        let c = acme.connection(ADMIN, *id).await;
        assert_eq!(c["status"], "broken", "{c}");
        assert_eq!(c["reason"], "password_changed");
    }
    let sent = acme.emails(ADMIN, BROKEN).await;
    assert_eq!(sent.len(), 1, "one email for the three pages");
    let text = text_of(&acme.app, &sent[0]);
    for name in ["Acme", "Acme Jobs", "Acme Labs"] {
        assert!(text.contains(name), "{text}");
    }
    let url = acme.start_reconnect(ADMIN, pages[1]).await;
    assert_eq!(acme.run_flow(&url, "fb-owner").await.status, "reconnected");
    for id in &pages {
        assert_eq!(acme.connection(ADMIN, *id).await["status"], "active");
    }
    assert_eq!(events_of(&acme, ADMIN, pages[1], "reconnected").await, 1);
}

#[tokio::test]
async fn a_page_whose_connecting_admin_left_emails_the_current_admins() {
    let acme = acme().await;
    acme.sandbox_member("linkedin", "ada-linkedin").await;
    acme.sandbox_page("linkedin", "ada-linkedin", "Acme").await;
    let pages = acme.connect_pages("linkedin", "ada-linkedin").await;
    // Bob becomes an admin, Ada is demoted.
    let core = &acme.app.core;
    let ids = {
        let mut tx = core.store.begin_read().await.unwrap();
        let team = tx
            .team_by_slug(&apostle_domain::TeamSlug::parse("acme").unwrap())
            .await
            .unwrap()
            .unwrap();
        let ada = tx
            .user_by_email(&apostle_domain::EmailAddress::parse(ADMIN).unwrap())
            .await
            .unwrap()
            .unwrap();
        let bob = tx
            .user_by_email(&apostle_domain::EmailAddress::parse(super::BOB).unwrap())
            .await
            .unwrap()
            .unwrap();
        (team.id, ada.id, bob.id)
    };
    let mut tx = core.store.begin().await.unwrap();
    tx.set_member_role(ids.0, ids.2, apostle_domain::Role::Admin)
        .await
        .unwrap();
    tx.set_member_role(ids.0, ids.1, apostle_domain::Role::Ambassador)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    acme.member_action("linkedin", "ada-linkedin", "revoke", json!({}))
        .await;
    let checked = acme.check(super::BOB, pages[0]).await;
    assert_eq!(checked["status"], "broken");
    assert_eq!(acme.emails(super::BOB, BROKEN).await.len(), 1);
    assert!(acme.emails(ADMIN, BROKEN).await.is_empty());
}

#[tokio::test]
async fn a_checkpoint_heals_by_itself_at_the_next_probe_that_works() {
    let acme = acme().await;
    acme.sandbox_member("facebook", "fb-owner").await;
    acme.sandbox_page("facebook", "fb-owner", "Acme").await;
    let pages = acme.connect_pages("facebook", "fb-owner").await;
    acme.member_action("facebook", "fb-owner", "checkpoint", json!({}))
        .await;
    let checked = acme.check(ADMIN, pages[0]).await;
    assert_eq!(checked["reason"], "provider_action_required");
    acme.member_action("facebook", "fb-owner", "clear-checkpoint", json!({}))
        .await;
    assert_eq!(acme.check(ADMIN, pages[0]).await["status"], "active");
    assert_eq!(acme.emails(ADMIN, BROKEN).await.len(), 1);
}

#[tokio::test]
async fn a_forged_deauthorize_is_rejected_and_a_signed_one_breaks_the_login_at_once() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let acme = acme().await;
    acme.sandbox_member("facebook", "fb-owner").await;
    acme.sandbox_page("facebook", "fb-owner", "Acme").await;
    let pages = acme.connect_pages("facebook", "fb-owner").await;
    let user_id = {
        let mut tx = acme.app.core.store.begin_read().await.unwrap();
        let account = tx
            .account_by_id(AccountId(pages[0]))
            .await
            .unwrap()
            .unwrap();
        tx.grant_by_id(account.grant_id)
            .await
            .unwrap()
            .unwrap()
            .external_user_id
    };
    let sign = |secret: &[u8]| {
        let payload = URL_SAFE_NO_PAD.encode(
            json!({"algorithm": "HMAC-SHA256", "issued_at": 1, "user_id": user_id}).to_string(),
        );
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(payload.as_bytes());
        format!(
            "{}.{payload}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };
    let post = |signed: String| {
        acme.app
            .http
            .post(acme.app.url("/oauth/facebook/deauthorize"))
            .form(&[("signed_request", signed)])
            .send()
    };
    let forged = post(sign(b"not-the-secret")).await.unwrap();
    assert_eq!(forged.status(), 400);
    assert_eq!(acme.connection(ADMIN, pages[0]).await["status"], "active");
    let signed = post(sign(b"sandbox-secret")).await.unwrap();
    assert_eq!(signed.status(), 200);
    let page = acme.connection(ADMIN, pages[0]).await;
    assert_eq!(page["status"], "broken");
    assert_eq!(page["reason"], "app_removed");
    assert_eq!(acme.emails(ADMIN, BROKEN).await.len(), 1);
}

#[tokio::test]
async fn a_wrong_client_secret_is_an_operator_alarm_not_a_break() {
    use apostle_core::connections::{ConnectionSettings, Connections};
    use apostle_providers::{Credentials, Http, Provider, ProviderConfig, ProviderEndpoints};
    let acme = acme().await;
    acme.sandbox_member("linkedin", "li-amy").await;
    let id = acme.connect_personal(AMY, "linkedin", "li-amy").await;
    // The same app, its LinkedIn client secret mistyped.
    let base = url::Url::parse(&acme.app.url("/sandbox/linkedin")).unwrap();
    let wrong = ProviderConfig {
        credentials: Credentials::new("apostle", "mistyped"),
        endpoints: ProviderEndpoints::from_bases(Provider::LinkedIn, &base, &base),
    };
    let core = apostle_core::Core {
        connections: std::sync::Arc::new(Connections::new(
            vec![(Provider::LinkedIn, wrong)],
            Http::new().unwrap(),
            ConnectionSettings::default(),
            std::sync::Arc::clone(&acme.app.core.connections.clock),
        )),
        ..acme.app.core.clone()
    };
    let user = {
        let mut tx = core.store.begin_read().await.unwrap();
        tx.user_by_email(&apostle_domain::EmailAddress::parse(AMY).unwrap())
            .await
            .unwrap()
            .unwrap()
    };
    for _ in 0..3 {
        let c = core.check_connection(user.id, AccountId(id)).await.unwrap();
        assert_eq!(c.status, apostle_core::store::ConnectionStatus::Active);
    }
    let alarms = core.connections.alarms();
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0].0, Provider::LinkedIn);
    assert!(!alarms[0].1.contains("mistyped"), "no secret in the alarm");
    assert!(acme.emails(AMY, BROKEN).await.is_empty());
}

#[tokio::test]
async fn a_broken_facebook_login_gets_its_instagram_checked_at_once() {
    let acme = acme().await;
    acme.sandbox_member("facebook", "fb-owner").await;
    acme.sandbox_page("facebook", "fb-owner", "Acme").await;
    let facebook = acme.connect_pages("facebook", "fb-owner").await[0];
    let instagram = acme.connect_pages("instagram", "fb-owner").await[0];
    acme.member_action("facebook", "fb-owner", "change-password", json!({}))
        .await;
    assert_eq!(acme.check(ADMIN, facebook).await["status"], "broken");
    // Due now: the scheduler's next round finds it (the app's own runner may be first).
    acme.app.core.check_due_connections().await.unwrap();
    let mut instagram_page = acme.connection(ADMIN, instagram).await;
    for _ in 0..50 {
        if instagram_page["status"] == "broken" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        instagram_page = acme.connection(ADMIN, instagram).await;
    }
    assert_eq!(instagram_page["status"], "broken", "{instagram_page}");
    assert_eq!(instagram_page["reason"], "password_changed");
}

#[tokio::test]
async fn removing_the_app_at_facebook_breaks_the_page_through_the_deauthorize_callback() {
    let acme = acme().await;
    acme.sandbox_member("facebook", "fb-owner").await;
    acme.sandbox_page("facebook", "fb-owner", "Acme").await;
    let page = acme.connect_pages("facebook", "fb-owner").await[0];
    // The sandbox POSTs Facebook's signed request to Apostle; no probe is involved.
    acme.member_action("facebook", "fb-owner", "remove-app", json!({}))
        .await;
    let mut seen = acme.connection(ADMIN, page).await;
    for _ in 0..50 {
        if seen["status"] == "broken" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        seen = acme.connection(ADMIN, page).await;
    }
    assert_eq!(seen["status"], "broken", "{seen}");
    assert_eq!(seen["reason"], "app_removed");
    assert_eq!(acme.emails(ADMIN, BROKEN).await.len(), 1);
    let mut tx = acme.app.core.store.begin_read().await.unwrap();
    let account = tx.account_by_id(AccountId(page)).await.unwrap().unwrap();
    let events = tx.connection_events(account.grant_id, 50).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "broken" && e.detail == "deauthorized at Facebook"),
        "{events:?}"
    );
}
