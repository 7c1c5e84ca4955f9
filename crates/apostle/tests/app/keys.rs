//! `apostle keys rotate`: every sealed value in the database moves under the
//! keyring's first key, so the older key can be removed, and a value that
//! opens with no key is reported and left alone.

use crate::helpers::{admin_of_new_team, output, runner, stderr_of, system_clock, TestDb};
use apostle_core::connections::places;
use apostle_core::store::{
    AccountKind, AccountOwner, EmailState, FlowPurpose, NewAccount, NewFlow, NewGrant,
};
use apostle_domain::{EmailAddress, UserId};
use apostle_encryption::Keyring;
use chrono::{Duration, Utc};
use secrecy::ExposeSecret;

crate::on_both_backends!(
    after_rotation_every_sealed_value_opens_with_the_new_key_alone,
    a_value_no_key_opens_is_reported_left_as_it_was_and_fails_the_command,
);

const ADMIN: &str = "ada@acme.example";

fn key(id: &str) -> String {
    Keyring::generate_entry(id).expose_secret().to_owned()
}

fn keyring(spec: &str) -> Keyring {
    Keyring::parse(&spec.to_owned().into()).unwrap()
}

/// Runs `apostle keys rotate` with `keys` as the keyring.
fn rotate(db: &TestDb, keys: &str) -> std::process::Output {
    let mut command = db.apostle(&["keys", "rotate"]);
    command.env("APOSTLE_ENCRYPTION_KEYS", keys);
    output(command)
}

fn grant(external: &str, access: &str, refresh: Option<&str>) -> NewGrant {
    let now = Utc::now();
    NewGrant {
        provider: "linkedin".to_owned(),
        external_user_id: external.to_owned(),
        scopes: "openid profile".to_owned(),
        access_token: access.to_owned(),
        refresh_token: refresh.map(str::to_owned),
        access_expires_at: now + Duration::hours(1),
        refresh_expires_at: refresh.map(|_| now + Duration::days(365)),
        next_due_at: now,
        created_at: now,
    }
}

fn grant_place(owner: UserId, external: &str, field: &str) -> String {
    places::grant_token(owner, "linkedin", external, field)
}

async fn after_rotation_every_sealed_value_opens_with_the_new_key_alone() {
    let db = TestDb::new().await;
    let (old, new) = (key("old"), key("new"));
    let before = db
        .core(&[("APOSTLE_ENCRYPTION_KEYS", &old)], system_clock())
        .await;
    let admin = admin_of_new_team(&before).await;
    let owner = admin.user.id;
    let seal = |plain: &str, place: &str| before.keyring.seal_text(plain, place);
    let now = Utc::now();
    let state_hash = "3f9a".repeat(16);

    let mut tx = before.store.begin().await.unwrap();
    let with_refresh = tx
        .create_grant(
            owner,
            &grant(
                "li-ada",
                &seal("access-1", &grant_place(owner, "li-ada", "access")),
                Some(&seal("refresh-1", &grant_place(owner, "li-ada", "refresh"))),
            ),
        )
        .await
        .unwrap();
    let without_refresh = tx
        .create_grant(
            owner,
            &grant(
                "li-ada-2",
                &seal("access-2", &grant_place(owner, "li-ada-2", "access")),
                None,
            ),
        )
        .await
        .unwrap();
    let page_place = places::page_token(admin.team.id, "linkedin", "org-7");
    tx.create_account(
        AccountOwner::Business(admin.team.id),
        &NewAccount {
            grant_id: with_refresh.id,
            provider: "linkedin".to_owned(),
            external_id: "org-7".to_owned(),
            name: "Acme".to_owned(),
            page_token: Some(seal("page-token-7", &page_place)),
            created_at: now,
        },
    )
    .await
    .unwrap();
    tx.create_flow(
        owner,
        &NewFlow {
            state_hash: state_hash.clone(),
            pkce_verifier: Some(seal("verifier-1", &places::flow_verifier(&state_hash))),
            provider: "linkedin".to_owned(),
            purpose: FlowPurpose::Connect,
            kind: AccountKind::Personal,
            team_id: None,
            account_id: None,
            redirect_to: "/connections".to_owned(),
            created_at: now,
            expires_at: now + Duration::minutes(10),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // An email with sealed bodies, queued and not yet sent.
    before.request_password_reset(ADMIN).await.unwrap();

    let rotated = rotate(&db, &format!("{new},{old}"));
    assert!(rotated.status.success(), "rotate: {}", stderr_of(&rotated));
    let printed = String::from_utf8_lossy(&rotated.stdout);
    assert!(printed.contains("under key new"), "{printed}");
    for (column, resealed) in [
        ("grants.access_token", 2),
        ("grants.refresh_token", 1),
        ("accounts.page_token", 1),
        ("oauth_flows.pkce_verifier", 1),
        ("emails.text_body", 1),
        ("emails.html_body", 1),
    ] {
        let line = printed
            .lines()
            .find(|l| l.trim_start().starts_with(column))
            .unwrap_or_else(|| panic!("a line for {column}: {printed}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            words[1..5],
            ["resealed", &resealed.to_string(), "current", "0"],
            "{line}"
        );
    }

    let after = db
        .core(&[("APOSTLE_ENCRYPTION_KEYS", &new)], system_clock())
        .await;
    let new_only = keyring(&new);
    let mut tx = after.store.begin().await.unwrap();
    let grant = tx.grant_by_id(with_refresh.id).await.unwrap().unwrap();
    assert_eq!(
        new_only
            .open_text(&grant.access_token, &grant_place(owner, "li-ada", "access"))
            .unwrap(),
        "access-1"
    );
    assert_eq!(
        new_only
            .open_text(
                grant.refresh_token.as_deref().unwrap(),
                &grant_place(owner, "li-ada", "refresh")
            )
            .unwrap(),
        "refresh-1"
    );
    assert_eq!(
        grant.generation, with_refresh.generation,
        "re-sealing is no token write: a refresh in flight still stores its tokens"
    );
    let other = tx.grant_by_id(without_refresh.id).await.unwrap().unwrap();
    assert_eq!(other.refresh_token, None, "no refresh token stays none");
    assert_eq!(
        new_only
            .open_text(
                &other.access_token,
                &grant_place(owner, "li-ada-2", "access")
            )
            .unwrap(),
        "access-2"
    );
    let page = tx.accounts_of_grant(with_refresh.id).await.unwrap();
    assert_eq!(
        new_only
            .open_text(page[0].page_token.as_deref().unwrap(), &page_place)
            .unwrap(),
        "page-token-7"
    );
    let flow = tx.consume_flow(&state_hash, now).await.unwrap().unwrap();
    assert_eq!(
        new_only
            .open_text(
                flow.pkce_verifier.as_deref().unwrap(),
                &places::flow_verifier(&state_hash)
            )
            .unwrap(),
        "verifier-1"
    );
    drop(tx);
    // The outbox opens its bodies with the new key alone and sends the email.
    assert_eq!(runner(&after).run_pending().await.unwrap(), 1);
    let emails = after
        .store
        .begin_read()
        .await
        .unwrap()
        .emails_to(&EmailAddress::parse(ADMIN).unwrap())
        .await
        .unwrap();
    assert_eq!(emails[0].state, EmailState::Sent);

    let again = rotate(&db, &format!("{new},{old}"));
    assert!(again.status.success(), "{}", stderr_of(&again));
    let printed = String::from_utf8_lossy(&again.stdout);
    assert!(
        printed
            .lines()
            .skip(1)
            .all(|l| l.contains("resealed      0")),
        "a second run has nothing left to do: {printed}"
    );
}

async fn a_value_no_key_opens_is_reported_left_as_it_was_and_fails_the_command() {
    let db = TestDb::new().await;
    let (old, new, lost) = (key("old"), key("new"), key("lost"));
    let core = db
        .core(&[("APOSTLE_ENCRYPTION_KEYS", &old)], system_clock())
        .await;
    let owner = admin_of_new_team(&core).await.user.id;
    let lost_ring = keyring(&lost);
    let unreadable = lost_ring.seal_text("access-x", &grant_place(owner, "li-x", "access"));
    let readable = core
        .keyring
        .seal_text("access-y", &grant_place(owner, "li-y", "access"));
    let mut tx = core.store.begin().await.unwrap();
    let lost_grant = tx
        .create_grant(owner, &grant("li-x", &unreadable, None))
        .await
        .unwrap();
    let kept_grant = tx
        .create_grant(owner, &grant("li-y", &readable, None))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let rotated = rotate(&db, &format!("{new},{old}"));
    assert_eq!(rotated.status.code(), Some(1), "{}", stderr_of(&rotated));
    assert!(
        stderr_of(&rotated).contains("did not open"),
        "{}",
        stderr_of(&rotated)
    );
    let printed = String::from_utf8_lossy(&rotated.stdout);
    let line = printed
        .lines()
        .find(|l| l.trim_start().starts_with("grants.access_token"))
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words[1..7],
        ["resealed", "1", "current", "0", "unreadable", "1"],
        "{line}"
    );

    let mut tx = core.store.begin_read().await.unwrap();
    let stored = tx.grant_by_id(lost_grant.id).await.unwrap().unwrap();
    assert_eq!(stored.access_token, unreadable, "left exactly as it was");
    assert_eq!(
        lost_ring
            .open_text(&stored.access_token, &grant_place(owner, "li-x", "access"))
            .unwrap(),
        "access-x",
        "whoever still has its key can open it"
    );
    let moved = tx.grant_by_id(kept_grant.id).await.unwrap().unwrap();
    assert_eq!(
        keyring(&new)
            .open_text(&moved.access_token, &grant_place(owner, "li-y", "access"))
            .unwrap(),
        "access-y",
        "the readable value beside it moved all the same"
    );
}
