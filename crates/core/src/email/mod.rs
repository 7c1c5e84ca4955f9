//! The email outbox. An email is rendered and stored in the caller's
//! transaction together with a [`SendEmail`] job; the job hands it to the
//! configured transport and retries with backoff while the mail server is
//! down, so mail is delayed, never lost.
//!
//! One file per part: [`transport`] (where mail goes), [`outbox`] (queuing
//! in the caller's transaction), [`send`] (the delivery job) and
//! [`templates`] (the kinds of email).

pub mod outbox;
pub mod send;
pub mod templates;
pub mod transport;

pub use outbox::{queue_email, EmailMessage};
pub use send::SendEmail;
pub use templates::{
    ConnectionBrokenEmail, ConnectionExpiringEmail, InviteEmail, NamedAccount, PasswordResetEmail,
    ReconnectReminderEmail,
};
pub use transport::{Mailer, SentEmail};
