//! `{:?}` of anything holding a secret (a token, a password, a key, or a
//! hash that could be matched against a leaked one) shows none of it, so a
//! stray `tracing::debug!(?value)` cannot leak it.

use apostle_core::email::{Mailer, SentEmail};
use apostle_core::secrets::{random_token, token_hash};
use apostle_core::store::{Job, JobState, NewInvite, Session, User};
use apostle_core::teams::TeamAccess;
use apostle_domain::{EmailAddress, JobId, PersonName, Role, TeamId, UserId};
use apostle_encryption::Keyring;
use chrono::Utc;
use secrecy::ExposeSecret;

fn assert_hidden(debug: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!debug.contains(secret), "Debug shows {secret:?}: {debug}");
    }
}

// A runtime, because the SMTP transport starts its connection pool on one.
#[tokio::test]
async fn debug_output_of_sessions_invites_users_jobs_keys_and_mailers_shows_no_secret() {
    let now = Utc::now();
    let csrf = random_token();
    let session = Session {
        user_id: UserId(7),
        csrf_token: csrf.clone(),
        created_at: now,
        expires_at: now,
    };
    let debug = format!("{session:?}");
    assert_hidden(&debug, &[&csrf]);
    assert!(
        debug.contains("UserId(7)"),
        "the rest stays visible: {debug}"
    );

    let invite_hash = token_hash(&random_token());
    let invite = NewInvite {
        email: EmailAddress::parse("amy@acme.example").unwrap(),
        name: PersonName::parse("Amy").unwrap(),
        role: Role::Ambassador,
        token_hash: invite_hash.clone(),
        invited_by: UserId(1),
        created_at: now,
        expires_at: now,
    };
    assert_hidden(&format!("{invite:?}"), &[&invite_hash]);

    let password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".to_owned();
    let user = User {
        id: UserId(1),
        email: EmailAddress::parse("ada@acme.example").unwrap(),
        name: PersonName::parse("Ada").unwrap(),
        password_hash: Some(password_hash.clone()),
        created_at: now,
    };
    let access = TeamAccess {
        team: apostle_core::store::Team {
            id: TeamId(1),
            slug: apostle_domain::TeamSlug::parse("acme").unwrap(),
            name: apostle_domain::TeamName::parse("Acme").unwrap(),
            created_at: now,
        },
        user: user.clone(),
        role: Role::Admin,
    };
    assert_hidden(&format!("{user:?} {access:?}"), &[&password_hash]);

    let lease = random_token();
    let job = Job {
        id: JobId(3),
        kind: "send_email".to_owned(),
        payload: serde_json::json!({"email_id": 4}),
        dedupe_key: None,
        state: JobState::Running,
        attempts: 1,
        max_attempts: 12,
        run_at: now,
        lease_token: Some(lease.clone()),
        locked_until: Some(now),
        last_error: None,
        created_at: now,
    };
    assert_hidden(&format!("{job:?}"), &[&lease]);

    let entry = Keyring::generate_entry("k1");
    let key = entry.expose_secret().split_once(':').unwrap().1.to_owned();
    assert_hidden(&format!("{:?}", Keyring::parse(&entry).unwrap()), &[&key]);

    let mailer = Mailer::smtp("smtps://mailer:smtp-password-1@mail.example:465").unwrap();
    assert_hidden(&format!("{mailer:?}"), &["smtp-password-1"]);

    let link = format!("https://apostle.example/invites/{}", random_token());
    let sent = SentEmail {
        message_id: "<1@apostle.example>".to_owned(),
        to: "amy@acme.example".to_owned(),
        subject: "You are invited".to_owned(),
        text: format!("Join: {link}"),
        html: format!("<a href=\"{link}\">Join</a>"),
        list_unsubscribe: Some(format!("{link}/unsubscribe")),
    };
    assert_hidden(&format!("{sent:?}"), &[&link]);
}
