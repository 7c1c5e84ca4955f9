//! Where mail goes: SMTP, files or memory, behind one [`Mailer`].

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A message as it left Apostle (what the memory transport keeps). Its
/// bodies carry single-use links, so `Debug` leaves them out.
#[derive(Clone, PartialEq, Eq)]
pub struct SentEmail {
    /// The same on every attempt to send one stored email.
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The one-click unsubscribe address (RFC 8058) of a non-essential email.
    pub list_unsubscribe: Option<String>,
}

crate::store::debug_redacted!(SentEmail { message_id, to, subject } secret { text, html, list_unsubscribe });

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
        let mut builder = Message::builder()
            .message_id(Some(email.message_id.clone()))
            .from(from.clone())
            .to(to)
            .subject(email.subject.clone());
        if let Some(url) = &email.list_unsubscribe {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        let message = builder
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
