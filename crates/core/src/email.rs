//! The email outbox. An email is rendered and stored in the caller's
//! transaction together with a [`SendEmail`] job; the job hands it to the
//! configured transport and retries with backoff while the mail server is
//! down, so mail is delayed, never lost.

use crate::error::{CoreError, CoreResult};
use crate::jobs::{self, BackgroundJob, JobContext, JobError};
use crate::store::{EmailState, NewEmail, Tx};
use apostle_domain::{EmailAddress, EmailId};
use apostle_encryption::Keyring;
use askama::Template;
use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A message as it left Apostle (what the memory transport keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Where mail goes. SMTP in production; files by default on a laptop;
/// memory in tests.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(PathBuf),
    Memory(Arc<Mutex<Vec<SentEmail>>>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The SMTP transport holds credentials: show only the kind.
        match self {
            Mailer::Smtp(_) => f.write_str("Mailer::Smtp"),
            Mailer::File(dir) => write!(f, "Mailer::File({})", dir.display()),
            Mailer::Memory(_) => f.write_str("Mailer::Memory"),
        }
    }
}

impl Mailer {
    /// An SMTP transport from a URL such as `smtp://host:25`,
    /// `smtps://user:pass@host:465` or `smtp://host:587?tls=required`.
    pub fn smtp(url: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("smtp_url is not a valid SMTP URL: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        Ok(Mailer::Smtp(transport))
    }

    pub fn memory() -> Self {
        Mailer::Memory(Arc::default())
    }

    /// What the memory transport has sent (empty for the others).
    pub fn sent(&self) -> Vec<SentEmail> {
        match self {
            Mailer::Memory(sent) => sent.lock().expect("mail lock").clone(),
            _ => Vec::new(),
        }
    }

    pub async fn send(&self, from: &Mailbox, email: &SentEmail) -> Result<(), String> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| format!("recipient is not a mailbox: {e}"))?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(email.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| format!("building the message: {e}"))?;
        match self {
            Mailer::Smtp(transport) => transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| format!("SMTP: {e}")),
            Mailer::File(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                AsyncFileTransport::<Tokio1Executor>::new(dir)
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("writing mail file: {e}"))
            }
            Mailer::Memory(sent) => {
                sent.lock().expect("mail lock").push(email.clone());
                Ok(())
            }
        }
    }
}

/// A kind of email Apostle sends: a subject and a text and HTML body.
pub trait EmailMessage {
    /// Stored with the email, to tell kinds apart.
    const TEMPLATE: &'static str;
    fn subject(&self) -> String;
    fn text(&self) -> Result<String, askama::Error>;
    fn html(&self) -> Result<String, askama::Error>;
}

/// Where an email's sealed bodies belong: opening them anywhere else fails.
fn body_place(recipient: &EmailAddress, template: &str) -> String {
    format!("email:{recipient}:{template}")
}

/// Renders `message` and stores it with its delivery job, in `tx`. The
/// bodies are sealed with the keyring: they carry single-use links.
/// Returns `None` (and stores nothing) when `dedupe_key` was used before.
pub async fn queue_email<M: EmailMessage>(
    tx: &mut dyn Tx,
    keyring: &Keyring,
    to: &EmailAddress,
    message: &M,
    dedupe_key: Option<String>,
    now: DateTime<Utc>,
) -> CoreResult<Option<EmailId>> {
    let render_err =
        |e: askama::Error| CoreError::Internal(format!("rendering {}: {e}", M::TEMPLATE));
    let place = body_place(to, M::TEMPLATE);
    let email = NewEmail {
        recipient: to.clone(),
        template: M::TEMPLATE.to_owned(),
        subject: message.subject(),
        text_body: keyring.seal_text(&message.text().map_err(render_err)?, &place),
        html_body: keyring.seal_text(&message.html().map_err(render_err)?, &place),
        dedupe_key,
        created_at: now,
    };
    let Some(id) = tx.insert_email(&email).await? else {
        return Ok(None);
    };
    jobs::enqueue(tx, &SendEmail { email_id: id }, now).await?;
    Ok(Some(id))
}

/// Delivers one stored email.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendEmail {
    pub email_id: EmailId,
}

impl BackgroundJob for SendEmail {
    const KIND: &'static str = "send_email";
    // 5 s doubling to an hour: about three and a half hours of retries.
    const MAX_ATTEMPTS: i32 = 12;

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("email:{}", self.email_id))
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let core = &ctx.core;
        let mut tx = core.store.begin_read().await?;
        let email = tx.email_by_id(self.email_id).await?;
        drop(tx);
        let Some(email) = email else {
            return Err(JobError::Permanent(format!(
                "email {} is gone",
                self.email_id
            )));
        };
        if email.state != EmailState::Queued {
            return Ok(());
        }
        let place = body_place(&email.recipient, &email.template);
        let open = |body: &str| {
            core.keyring.open_text(body, &place).map_err(|e| {
                JobError::Permanent(format!("email {} cannot be opened: {e}", self.email_id))
            })
        };
        let outgoing = SentEmail {
            to: email.recipient.to_string(),
            subject: email.subject,
            text: open(&email.text_body)?,
            html: open(&email.html_body)?,
        };
        let sent = core.mailer.send(&core.settings.mail_from, &outgoing).await;
        let mut tx = core.store.begin().await?;
        match sent {
            Ok(()) => {
                tx.mark_email_sent(self.email_id, core.clock.now()).await?;
                tx.commit().await?;
                metrics::counter!("apostle_emails_sent_total", "template" => email.template)
                    .increment(1);
                Ok(())
            }
            Err(e) => {
                tx.record_email_failure(self.email_id, &e, ctx.is_last_attempt())
                    .await?;
                tx.commit().await?;
                Err(JobError::Retry(e))
            }
        }
    }
}

/// Sent to someone invited to join a team.
#[derive(Template)]
#[template(path = "email/invite.txt")]
pub struct InviteEmail<'a> {
    pub team_name: &'a str,
    pub inviter_name: &'a str,
    pub invitee_name: &'a str,
    pub role: &'a str,
    pub link: &'a str,
    pub expires: &'a str,
}

#[derive(Template)]
#[template(path = "email/invite.html")]
struct InviteEmailHtml<'a, 'b> {
    e: &'b InviteEmail<'a>,
}

impl EmailMessage for InviteEmail<'_> {
    const TEMPLATE: &'static str = "invite";

    fn subject(&self) -> String {
        format!(
            "{} invited you to {} on Apostle",
            self.inviter_name, self.team_name
        )
    }

    fn text(&self) -> Result<String, askama::Error> {
        self.render()
    }

    fn html(&self) -> Result<String, askama::Error> {
        InviteEmailHtml { e: self }.render()
    }
}

/// Sent to someone who asked to reset a forgotten password.
#[derive(Template)]
#[template(path = "email/password_reset.txt")]
pub struct PasswordResetEmail<'a> {
    pub name: &'a str,
    pub link: &'a str,
    pub expires: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_reset.html")]
struct PasswordResetEmailHtml<'a, 'b> {
    e: &'b PasswordResetEmail<'a>,
}

impl EmailMessage for PasswordResetEmail<'_> {
    const TEMPLATE: &'static str = "password_reset";

    fn subject(&self) -> String {
        "Reset your Apostle password".to_owned()
    }

    fn text(&self) -> Result<String, askama::Error> {
        self.render()
    }

    fn html(&self) -> Result<String, askama::Error> {
        PasswordResetEmailHtml { e: self }.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> InviteEmail<'static> {
        InviteEmail {
            team_name: "Acme <Corp>",
            inviter_name: "Ada Admin",
            invitee_name: "Amy",
            role: "ambassador",
            link: "https://apostle.example/invites/abc",
            expires: "2026-12-02 17:00 UTC",
        }
    }

    #[test]
    fn invite_email_names_team_inviter_and_link_in_both_parts() {
        let e = invite();
        let text = e.text().unwrap();
        let html = e.html().unwrap();
        for part in [&text, &html] {
            assert!(part.contains("Ada Admin"));
            assert!(part.contains("https://apostle.example/invites/abc"));
            assert!(part.contains("2026-12-02 17:00 UTC"));
        }
        assert!(text.contains("Acme <Corp>"));
        assert!(html.contains("Acme &lt;Corp&gt;") || html.contains("Acme &#60;Corp&#62;"));
        assert_eq!(
            e.subject(),
            "Ada Admin invited you to Acme <Corp> on Apostle"
        );
    }
}
