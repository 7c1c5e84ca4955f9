//! The kinds of email Apostle sends, each a text and an HTML template.

use super::outbox::EmailMessage;
use askama::Template;

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

/// A page or account named in a connection email.
pub struct NamedAccount {
    pub name: String,
    /// `personal account` or `business page`.
    pub kind: &'static str,
}

/// Sent once per break to whoever can reconnect what broke.
#[derive(Template)]
#[template(path = "email/connection_broken.txt")]
pub struct ConnectionBrokenEmail<'a> {
    pub name: &'a str,
    pub provider: &'a str,
    pub accounts: Vec<NamedAccount>,
    /// The reason in plain words.
    pub reason: &'a str,
    /// What to do at the provider, when a reconnect does not help.
    pub action: Option<&'a str>,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "email/connection_broken.html")]
struct ConnectionBrokenEmailHtml<'a, 'b> {
    e: &'b ConnectionBrokenEmail<'a>,
}

impl EmailMessage for ConnectionBrokenEmail<'_> {
    const TEMPLATE: &'static str = "connection_broken";

    fn subject(&self) -> String {
        match self.accounts.as_slice() {
            [one] => format!("Reconnect {} on {}", one.name, self.provider),
            [] => format!("Your {} connection stopped working", self.provider),
            many => format!("Reconnect {} {} connections", many.len(), self.provider),
        }
    }

    fn text(&self) -> Result<String, askama::Error> {
        self.render()
    }

    fn html(&self) -> Result<String, askama::Error> {
        ConnectionBrokenEmailHtml { e: self }.render()
    }
}

/// Sent 7 days and 1 day before a token that cannot be refreshed expires.
#[derive(Template)]
#[template(path = "email/connection_expiring.txt")]
pub struct ConnectionExpiringEmail<'a> {
    pub name: &'a str,
    pub provider: &'a str,
    pub accounts: Vec<NamedAccount>,
    pub days: i64,
    pub expires: &'a str,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "email/connection_expiring.html")]
struct ConnectionExpiringEmailHtml<'a, 'b> {
    e: &'b ConnectionExpiringEmail<'a>,
}

impl EmailMessage for ConnectionExpiringEmail<'_> {
    const TEMPLATE: &'static str = "connection_expiring";

    fn subject(&self) -> String {
        format!(
            "Your {} connection stops working in {} day{}",
            self.provider,
            self.days,
            if self.days == 1 { "" } else { "s" }
        )
    }

    fn text(&self) -> Result<String, askama::Error> {
        self.render()
    }

    fn html(&self) -> Result<String, askama::Error> {
        ConnectionExpiringEmailHtml { e: self }.render()
    }
}

/// Sent when a team admin asks a member to reconnect their broken personal accounts.
#[derive(Template)]
#[template(path = "email/reconnect_reminder.txt")]
pub struct ReconnectReminderEmail<'a> {
    pub name: &'a str,
    pub team: &'a str,
    /// The admin who sent it; `None` for the team's automatic reminders.
    pub admin: Option<&'a str>,
    pub accounts: Vec<NamedAccount>,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "email/reconnect_reminder.html")]
struct ReconnectReminderEmailHtml<'a, 'b> {
    e: &'b ReconnectReminderEmail<'a>,
}

impl EmailMessage for ReconnectReminderEmail<'_> {
    const TEMPLATE: &'static str = "reconnect_reminder";

    fn subject(&self) -> String {
        format!("{} asks you to reconnect your accounts", self.team)
    }

    fn text(&self) -> Result<String, askama::Error> {
        self.render()
    }

    fn html(&self) -> Result<String, askama::Error> {
        ReconnectReminderEmailHtml { e: self }.render()
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
