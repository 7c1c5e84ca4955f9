//! The job that delivers one stored email through the configured transport.

use super::outbox::body_place;
use super::transport::SentEmail;
use crate::jobs::{BackgroundJob, JobContext, JobError};
use crate::store::EmailState;
use apostle_domain::EmailId;
use serde::{Deserialize, Serialize};

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
        // Another run may have delivered it since this job was queued.
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
            message_id: email.message_id,
            to: email.recipient.to_string(),
            subject: email.subject,
            text: open(&email.text_body)?,
            html: open(&email.html_body)?,
            list_unsubscribe: email
                .unsubscribe_kind
                .map(|kind| crate::posts::links::unsubscribe_url(core, &email.recipient, kind)),
        };
        // A crash between the server's acceptance and this short transaction
        // leaves the email queued and it goes out again on the retry, with
        // the same Message-ID, which lets the receiver drop the duplicate.
        let sent = core.mailer.send(&core.settings.mail_from, &outgoing).await;
        let mut tx = core.store.begin().await?;
        match sent {
            Ok(()) => {
                let now = core.clock.now();
                tx.mark_email_sent(self.email_id, now).await?;
                tx.commit().await?;
                // A break email is queued in the transaction that records the break:
                // its age is the time from detection to the mail server.
                if email.template == <super::ConnectionBrokenEmail as super::EmailMessage>::TEMPLATE
                {
                    let waited = (now - email.created_at).num_milliseconds().max(0) as f64;
                    metrics::histogram!("apostle_break_email_seconds").record(waited / 1000.0);
                }
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
