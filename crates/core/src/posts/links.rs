//! Signed one-click links in emails: an action on one delivery or approval,
//! for one member, until the post expires, once. Opening a link never acts
//! (mail scanners open every link): the page shows the action with one
//! button, and only that button's POST acts.
//!
//! A link is `/actions/{action}.{subject}.{member}.{expiry}.{signature}`;
//! the signature is the keyring's over everything before it, so no part can
//! be changed. Its use is recorded by the signature's hash. Unsubscribe
//! links (`/unsubscribe/{kind}.{address}.{signature}`) carry the address and
//! never expire: RFC 8058 asks that one POST unsubscribes.

use crate::error::{CoreError, CoreResult};
use crate::secrets::token_hash;
use crate::Core;
use apostle_domain::{ApprovalId, DeliveryId, EmailAddress, NotificationKind, TeamId, UserId};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};

/// What a one-click link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    ShareLinkedIn,
    ShareX,
    EditShare,
    Reject,
    Reschedule,
    Approve,
    Decline,
}

impl LinkAction {
    const ALL: [LinkAction; 7] = [
        LinkAction::ShareLinkedIn,
        LinkAction::ShareX,
        LinkAction::EditShare,
        LinkAction::Reject,
        LinkAction::Reschedule,
        LinkAction::Approve,
        LinkAction::Decline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::ShareLinkedIn => "share_linkedin",
            LinkAction::ShareX => "share_x",
            LinkAction::EditShare => "edit",
            LinkAction::Reject => "reject",
            LinkAction::Reschedule => "reschedule",
            LinkAction::Approve => "approve",
            LinkAction::Decline => "decline",
        }
    }

    /// The share action for a personal provider, if it has one.
    pub fn share_on(provider: &str) -> Option<Self> {
        match provider {
            "linkedin" => Some(LinkAction::ShareLinkedIn),
            "x" => Some(LinkAction::ShareX),
            _ => None,
        }
    }

    /// The provider a share action publishes to.
    pub fn provider(self) -> Option<&'static str> {
        match self {
            LinkAction::ShareLinkedIn => Some("linkedin"),
            LinkAction::ShareX => Some("x"),
            _ => None,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The button's words.
    pub fn label(self) -> &'static str {
        match self {
            LinkAction::ShareLinkedIn => "Share on LinkedIn",
            LinkAction::ShareX => "Share on X",
            LinkAction::EditShare => "Edit, then share",
            LinkAction::Reject => "Not for me",
            LinkAction::Reschedule => "Remind me later",
            LinkAction::Approve => "Approve",
            LinkAction::Decline => "Decline",
        }
    }
}

/// What a link acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkSubject {
    Delivery(DeliveryId),
    Approval(TeamId, ApprovalId),
}

impl LinkSubject {
    fn encode(self) -> String {
        match self {
            LinkSubject::Delivery(d) => format!("d{d}"),
            LinkSubject::Approval(t, a) => format!("a{t}-{a}"),
        }
    }

    fn parse(s: &str) -> Option<Self> {
        if let Some(d) = s.strip_prefix('d') {
            return d.parse().ok().map(|d| LinkSubject::Delivery(DeliveryId(d)));
        }
        let (t, a) = s.strip_prefix('a')?.split_once('-')?;
        Some(LinkSubject::Approval(
            TeamId(t.parse().ok()?),
            ApprovalId(a.parse().ok()?),
        ))
    }
}

/// A verified link: signed by us, for this member, this action and subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionLink {
    pub action: LinkAction,
    pub subject: LinkSubject,
    pub member: UserId,
    pub expires_at: DateTime<Utc>,
}

const FORGED: CoreError =
    CoreError::LinkInvalid("This link is not valid. Open Apostle to see your posts.");

impl ActionLink {
    fn message(&self) -> String {
        format!(
            "action:{}.{}.{}.{}",
            self.action.as_str(),
            self.subject.encode(),
            self.member,
            self.expires_at.timestamp()
        )
    }

    /// The path of this link, signed.
    pub fn path(&self, core: &Core) -> String {
        let message = self.message();
        let signature = core.keyring.sign(message.as_bytes());
        let body = message.trim_start_matches("action:");
        format!("/actions/{body}.{signature}")
    }

    /// Checks a link's token (what follows `/actions/`): signed, not
    /// expired. Whether it was used is answered by [`Core::use_link`].
    pub fn verify(core: &Core, token: &str, now: DateTime<Utc>) -> CoreResult<(Self, String)> {
        let mut parts = token.splitn(5, '.');
        let (Some(action), Some(subject), Some(member), Some(expiry), Some(signature)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(FORGED);
        };
        let link = ActionLink {
            action: LinkAction::parse(action).ok_or(FORGED)?,
            subject: LinkSubject::parse(subject).ok_or(FORGED)?,
            member: UserId(member.parse().map_err(|_| FORGED)?),
            expires_at: expiry
                .parse()
                .ok()
                .and_then(|t| DateTime::from_timestamp(t, 0))
                .ok_or(FORGED)?,
        };
        if !core.keyring.verify(link.message().as_bytes(), signature) {
            return Err(FORGED);
        }
        if now >= link.expires_at {
            return Err(CoreError::LinkClosed(
                "This link has expired with its post: the post can no longer be shared.",
            ));
        }
        Ok((link, token_hash(signature)))
    }
}

/// The absolute one-click unsubscribe address for `kind` mail to `to`.
pub fn unsubscribe_url(core: &Core, to: &EmailAddress, kind: NotificationKind) -> String {
    let address = URL_SAFE_NO_PAD.encode(to.as_str());
    let message = format!("unsubscribe:{}.{address}", kind.as_str());
    let signature = core.keyring.sign(message.as_bytes());
    core.settings.link(&format!(
        "/unsubscribe/{}.{address}.{signature}",
        kind.as_str()
    ))
}

/// The address and kind an unsubscribe token names, when it is ours.
pub fn verify_unsubscribe(
    core: &Core,
    token: &str,
) -> CoreResult<(EmailAddress, NotificationKind)> {
    let bad = || CoreError::LinkInvalid("This unsubscribe link is not valid.");
    let mut parts = token.splitn(3, '.');
    let (Some(kind), Some(address), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let message = format!("unsubscribe:{kind}.{address}");
    if !core.keyring.verify(message.as_bytes(), signature) {
        return Err(bad());
    }
    let kind = NotificationKind::parse(kind).map_err(|_| bad())?;
    let address = URL_SAFE_NO_PAD
        .decode(address)
        .ok()
        .and_then(|a| String::from_utf8(a).ok())
        .and_then(|a| EmailAddress::parse(&a).ok())
        .ok_or_else(bad)?;
    Ok((address, kind))
}
