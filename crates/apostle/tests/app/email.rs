//! Mail through a real SMTP server: delivered with both parts, and delayed
//! rather than lost while the server is down.

use crate::helpers::{admin_of_new_team, free_port, runner, system_clock, SmtpServer, TestDb};
use apostle_core::jobs::backoff;
use apostle_core::store::{EmailState, JobState};
use apostle_core::ManualClock;
use apostle_domain::{EmailAddress, Role};
use chrono::{Duration, Utc};
use std::sync::Arc;

crate::on_both_backends!(
    an_invite_reaches_a_real_smtp_server_with_text_and_html_parts,
    a_mail_server_that_is_down_delays_the_invite_until_it_is_back_then_delivers_it_once,
);

const INVITEE: &str = "newbie@acme.example";

async fn invite_state(core: &apostle_core::Core) -> (EmailState, i32) {
    let mut tx = core.store.begin_read().await.unwrap();
    let emails = tx
        .emails_to(&EmailAddress::parse(INVITEE).unwrap())
        .await
        .unwrap();
    assert_eq!(emails.len(), 1, "one invite email stored");
    (emails[0].state, emails[0].attempts)
}

async fn an_invite_reaches_a_real_smtp_server_with_text_and_html_parts() {
    if !SmtpServer::available() {
        return;
    }
    let db = TestDb::new().await;
    let port = free_port();
    let smtp = SmtpServer::start(port, &db.dir.join("maildir"));
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let core = db
        .core(&[("APOSTLE_SMTP_URL", &smtp_url)], system_clock())
        .await;
    let admin = admin_of_new_team(&core).await;
    let invite = core
        .invite(&admin, INVITEE, "Newbie", Role::Ambassador)
        .await
        .unwrap();

    assert_eq!(runner(&core).run_pending().await.unwrap(), 1);

    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "one message delivered");
    let message = &messages[0];
    assert!(message.contains(&format!("To: {INVITEE}")), "{message}");
    assert!(
        message.contains("Subject: Ada Admin invited you to Acme on Apostle"),
        "{message}"
    );
    assert!(message.contains("multipart/alternative"), "{message}");
    assert!(message.contains("Content-Type: text/plain"), "{message}");
    assert!(message.contains("Content-Type: text/html"), "{message}");
    let token = invite.link.rsplit('/').next().unwrap();
    assert!(
        message
            .replace("=\r\n", "")
            .replace("=\n", "")
            .contains(token),
        "the invite link is in the message"
    );
    assert_eq!(invite_state(&core).await.0, EmailState::Sent);
}

async fn a_mail_server_that_is_down_delays_the_invite_until_it_is_back_then_delivers_it_once() {
    if !SmtpServer::available() {
        return;
    }
    let db = TestDb::new().await;
    let port = free_port();
    let clock = ManualClock::new(Utc::now());
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let core = db
        .core(&[("APOSTLE_SMTP_URL", &smtp_url)], Arc::new(clock.clone()))
        .await;
    let admin = admin_of_new_team(&core).await;
    core.invite(&admin, INVITEE, "Newbie", Role::Ambassador)
        .await
        .unwrap();
    let runner = runner(&core);

    // Nothing listens: the attempt fails, the email waits, the job is retried later.
    assert_eq!(runner.run_pending().await.unwrap(), 1);
    assert_eq!(invite_state(&core).await, (EmailState::Queued, 1));
    let mut tx = core.store.begin_read().await.unwrap();
    let pending = tx.list_jobs(JobState::Pending, 10).await.unwrap();
    drop(tx);
    assert_eq!(pending.len(), 1, "the delivery job is kept for a retry");
    assert!(pending[0].last_error.is_some(), "the failure is recorded");
    assert_eq!(
        runner.run_pending().await.unwrap(),
        0,
        "no retry before the backoff"
    );

    clock.advance(backoff(1) + Duration::seconds(1));
    assert_eq!(runner.run_pending().await.unwrap(), 1);
    assert_eq!(invite_state(&core).await, (EmailState::Queued, 2));

    // The server comes back: the next retry delivers.
    let smtp = SmtpServer::start(port, &db.dir.join("maildir"));
    assert!(smtp.messages().is_empty());
    clock.advance(backoff(2) + Duration::seconds(1));
    assert_eq!(runner.run_pending().await.unwrap(), 1);
    assert_eq!(invite_state(&core).await.0, EmailState::Sent);
    assert_eq!(smtp.messages().len(), 1);

    clock.advance(Duration::hours(2));
    assert_eq!(
        runner.run_pending().await.unwrap(),
        0,
        "nothing is left to send"
    );
    assert_eq!(smtp.messages().len(), 1, "delivered exactly once");
}
