//! Notification emails: at most one per member per hour. Deliveries,
//! approval requests and share reminders leave a notification row; a
//! [`FlushNotifications`] job per member mails what is waiting, as one
//! email (or a digest of several), or comes back when the hour is up.
//! Members choose which kinds they get by email; every such email carries a
//! one-click `List-Unsubscribe`. Disconnection notices and reconnect
//! reminders do not come this way: they go out at once, always.

use super::links::{ActionLink, LinkAction, LinkSubject};
use crate::email::{queue_email, EmailMessage};
use crate::error::CoreResult;
use crate::jobs::{self, BackgroundJob, JobContext, JobError};
use crate::store::{ConnectionStatus, Notification, Post, Tx};
use crate::Core;
use apostle_domain::{ApprovalState, DeliveryState, NotificationKind, UserId};
use askama::Template;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The least time between two notification emails to one member.
pub const NOTIFICATION_GAP: Duration = Duration::hours(1);

/// Mails a member's waiting notifications, once the hour since the last
/// one is up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlushNotifications {
    pub user: UserId,
}

impl BackgroundJob for FlushNotifications {
    const KIND: &'static str = "flush_notifications";

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("notify:{}", self.user))
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        ctx.core.flush_notifications(self.user).await?;
        Ok(())
    }
}

/// Has the member's waiting notifications looked at now, in `tx`.
pub(crate) async fn flush_soon(
    tx: &mut dyn Tx,
    user: UserId,
    now: DateTime<Utc>,
) -> CoreResult<()> {
    jobs::enqueue(tx, &FlushNotifications { user }, now).await?;
    Ok(())
}

/// One thing a notification email tells about.
#[derive(Debug, Clone)]
pub struct NotificationItem {
    pub heading: String,
    pub text: String,
    pub link: Option<String>,
    pub image: Option<String>,
    /// Button label and absolute URL, in order.
    pub actions: Vec<(String, String)>,
    /// A broken personal account the member should reconnect first, and where.
    pub notice: Option<(String, String)>,
    /// Where the item is in Apostle.
    pub open: String,
}

#[derive(Template)]
#[template(path = "email/notification.txt")]
pub struct NotificationEmail {
    pub name: String,
    pub items: Vec<NotificationItem>,
    pub kind: NotificationKind,
    pub settings: String,
}

#[derive(Template)]
#[template(path = "email/notification.html")]
struct NotificationEmailHtml<'a> {
    e: &'a NotificationEmail,
}

impl EmailMessage for NotificationEmail {
    const TEMPLATE: &'static str = "notification";

    fn subject(&self) -> String {
        match self.items.as_slice() {
            [one] => one.heading.clone(),
            many => format!("{} posts waiting for you on Apostle", many.len()),
        }
    }

    fn text(&self) -> Result<String, askama::Error> {
        self.render()
    }

    fn html(&self) -> Result<String, askama::Error> {
        NotificationEmailHtml { e: self }.render()
    }

    fn unsubscribe_kind(&self) -> Option<NotificationKind> {
        Some(self.kind)
    }
}

/// The first characters of a post's text, for an email.
fn excerpt(text: &str) -> String {
    const MAX: usize = 600;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}

impl Core {
    /// Mails a member's waiting notifications, or schedules itself for when
    /// the hour since the last email is up.
    pub async fn flush_notifications(&self, user: UserId) -> CoreResult<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let Some(settings) = tx.member_settings(user).await? else {
            return Ok(());
        };
        if let Some(last) = settings.last_notified_at {
            if now < last + NOTIFICATION_GAP {
                jobs::enqueue_at(
                    &mut *tx,
                    &FlushNotifications { user },
                    last + NOTIFICATION_GAP,
                    now,
                )
                .await?;
                tx.commit().await?;
                return Ok(());
            }
        }
        let waiting = tx.unsent_notifications(user).await?;
        if waiting.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = waiting.iter().map(|n| n.id).collect();
        // Claims them: a second run racing this one finds them taken and
        // sends nothing.
        if tx.mark_notifications_emailed(user, &ids, now).await? != ids.len() as u64 {
            return Ok(());
        }
        let Some(member) = tx.user_by_id(user).await? else {
            return Ok(());
        };
        let mut items = Vec::new();
        let mut kinds = Vec::new();
        for note in waiting {
            if settings.muted.contains(&note.kind) {
                continue;
            }
            if let Some(item) = self.item(&mut *tx, &note, now).await? {
                items.push(item);
                kinds.push(note.kind);
            }
        }
        if !items.is_empty() {
            let kind = most_common(&kinds);
            let email = NotificationEmail {
                name: member.name.to_string(),
                items,
                kind,
                settings: self.settings.link("/settings/notifications"),
            };
            queue_email(&mut *tx, self, &member.email, &email, None, now).await?;
            tx.set_last_notified(user, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What one notification says, or `None` when it no longer matters (the
    /// post went, the member decided, the approval was answered).
    async fn item(
        &self,
        tx: &mut dyn Tx,
        note: &Notification,
        now: DateTime<Utc>,
    ) -> CoreResult<Option<NotificationItem>> {
        let Some(post) = tx.post_by_id(note.team_id, note.post_id).await? else {
            return Ok(None);
        };
        let Some(team) = tx.team_by_id(note.team_id).await? else {
            return Ok(None);
        };
        if !post.is_live(now) {
            return Ok(None);
        }
        let image = self.image_of(tx, &post).await?;
        let link = |action: LinkAction, subject: LinkSubject| {
            let signed = ActionLink {
                action,
                subject,
                member: note.user_id,
                expires_at: post.content.expires_at,
            };
            (
                action.label().to_owned(),
                self.settings.link(&signed.path(self)),
            )
        };
        let base = NotificationItem {
            heading: String::new(),
            text: excerpt(&post.content.text),
            link: post.content.link.clone(),
            image,
            actions: Vec::new(),
            notice: None,
            open: String::new(),
        };
        let item = match note.kind {
            NotificationKind::Suggestion | NotificationKind::ShareReminder => {
                let Some(delivery) = note.delivery_id else {
                    return Ok(None);
                };
                match tx.delivery_by_id(delivery).await? {
                    Some(d) if d.state == DeliveryState::Delivered => {}
                    _ => return Ok(None),
                }
                let subject = LinkSubject::Delivery(delivery);
                let mut actions: Vec<(String, String)> = post
                    .content
                    .providers
                    .iter()
                    .filter_map(|p| LinkAction::share_on(p))
                    .map(|a| link(a, subject))
                    .collect();
                actions.push(link(LinkAction::EditShare, subject));
                actions.push(link(LinkAction::Reject, subject));
                actions.push(link(LinkAction::Reschedule, subject));
                let heading = if note.kind == NotificationKind::ShareReminder {
                    format!("Reminder: {} is waiting for your share", team.name)
                } else {
                    format!("{} suggests a post to share", team.name)
                };
                NotificationItem {
                    heading,
                    actions,
                    notice: self.broken_notice(tx, note.user_id, &post).await?,
                    open: self.settings.link(&format!("/t/{}/inbox", team.slug)),
                    ..base
                }
            }
            NotificationKind::Approval => {
                let Some(approval) = note.approval_id else {
                    return Ok(None);
                };
                let Some(found) = tx.approval_by_id(note.team_id, approval).await? else {
                    return Ok(None);
                };
                if found.state != ApprovalState::Pending {
                    return Ok(None);
                }
                let page = tx
                    .account_by_id(found.account_id)
                    .await?
                    .map_or_else(|| "a page".to_owned(), |a| a.name);
                let subject = LinkSubject::Approval(note.team_id, approval);
                NotificationItem {
                    heading: format!("A post for {page} waits for your approval"),
                    actions: vec![
                        link(LinkAction::Approve, subject),
                        link(LinkAction::Decline, subject),
                    ],
                    open: self.settings.link(&format!("/t/{}/approvals", team.slug)),
                    ..base
                }
            }
        };
        Ok(Some(item))
    }

    /// The member's broken personal account among the post's providers, as
    /// an offer to reconnect before sharing.
    async fn broken_notice(
        &self,
        tx: &mut dyn Tx,
        user: UserId,
        post: &Post,
    ) -> CoreResult<Option<(String, String)>> {
        let broken = tx.personal_accounts(user).await?.into_iter().find(|a| {
            a.status == ConnectionStatus::Broken && post.content.providers.contains(&a.provider)
        });
        Ok(broken.map(|a| {
            (
                format!(
                    "Your {} account {} is disconnected: reconnect it to share there.",
                    provider_name(&a.provider),
                    a.name
                ),
                self.settings
                    .link(&format!("/settings/connections/{}", a.id)),
            )
        }))
    }
}

/// A provider's name as people write it.
pub fn provider_name(provider: &str) -> &'static str {
    match provider {
        "linkedin" => "LinkedIn",
        "x" => "X",
        "facebook" => "Facebook",
        "instagram" => "Instagram",
        _ => "provider",
    }
}

fn most_common(kinds: &[NotificationKind]) -> NotificationKind {
    NotificationKind::ALL
        .iter()
        .copied()
        .max_by_key(|k| kinds.iter().filter(|x| *x == k).count())
        .unwrap_or(NotificationKind::Suggestion)
}
