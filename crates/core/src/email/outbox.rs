//! Queuing an email: rendered, sealed and stored in the caller's
//! transaction together with its delivery job.

use super::send::SendEmail;
use crate::error::{CoreError, CoreResult};
use crate::jobs;
use crate::store::{NewEmail, Tx};
use crate::Core;
use apostle_domain::{EmailAddress, EmailId};
use chrono::{DateTime, Utc};

/// A kind of email Apostle sends: a subject and a text and HTML body.
pub trait EmailMessage {
    /// Stored with the email, to tell kinds apart.
    const TEMPLATE: &'static str;
    fn subject(&self) -> String;
    fn text(&self) -> Result<String, askama::Error>;
    fn html(&self) -> Result<String, askama::Error>;
    /// The notification kind the recipient can turn off from this email
    /// (`List-Unsubscribe`). Essential mail (disconnections, reconnect
    /// reminders, invitations) has none.
    fn unsubscribe_kind(&self) -> Option<apostle_domain::NotificationKind> {
        None
    }
}

/// Where an email's sealed bodies belong: opening them anywhere else fails.
pub(crate) fn body_place(recipient: &EmailAddress, template: &str) -> String {
    format!("email:{recipient}:{template}")
}

/// A fresh `Message-ID` in Apostle's own domain (the host of the public URL).
fn new_message_id(core: &Core) -> String {
    let host = core.settings.public_url.host_str().unwrap_or("localhost");
    format!("<{:032x}@{host}>", rand::random::<u128>())
}

/// Renders `message` and stores it with its delivery job, in `tx`. The
/// bodies are sealed with the keyring: they carry single-use links.
/// Returns `None` (and stores nothing) when `dedupe_key` was used before.
pub async fn queue_email<M: EmailMessage>(
    tx: &mut dyn Tx,
    core: &Core,
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
        text_body: core
            .keyring
            .seal_text(&message.text().map_err(render_err)?, &place),
        html_body: core
            .keyring
            .seal_text(&message.html().map_err(render_err)?, &place),
        dedupe_key,
        message_id: new_message_id(core),
        unsubscribe_kind: message.unsubscribe_kind(),
        created_at: now,
    };
    let Some(id) = tx.insert_email(&email).await? else {
        return Ok(None);
    };
    jobs::enqueue(tx, &SendEmail { email_id: id }, now).await?;
    Ok(Some(id))
}
