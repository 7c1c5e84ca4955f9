//! A member's side of delivery: the inbox of current suggestions and the
//! archive of what they shared, their decisions (reject, reschedule), the
//! one-click links from emails, and their delivery settings (time zone,
//! which notifications come by email).

use super::links::{verify_unsubscribe, ActionLink, LinkAction, LinkSubject};
use crate::error::{CoreError, CoreResult};
use crate::layout::TeamPage;
use crate::secrets::token_hash;
use crate::sharing::ShareOutcome;
use crate::store::{
    ConnectionStatus, Delivery, InboxCard, InboxItem, MemberSettings, Post, ShareTarget, Tx,
};
use crate::teams::TeamAccess;
use crate::Core;
use apostle_domain::{
    AccountId, DeliveryId, DeliveryState, DeliveryWindow, ImageId, NotificationKind, TeamId,
    TimeZoneName, UserId,
};
use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, Utc};
use std::collections::BTreeMap;

/// An account a post can go to from the member's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub connection_id: AccountId,
    pub provider: String,
    pub name: String,
    pub status: ConnectionStatus,
    pub business: bool,
}

/// A post as the member's feed shows it.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub post: Post,
    /// The member's delivery of it (none for an admin's own view of a post
    /// not delivered to them).
    pub delivery: Option<Delivery>,
    pub targets: Vec<Target>,
}

/// One suggestion as its page shows it: the post, the member's delivery,
/// where it can go, and its image's public URL.
#[derive(Debug, Clone)]
pub struct Suggestion {
    pub delivery: Delivery,
    pub post: Post,
    pub targets: Vec<Target>,
    pub image: Option<String>,
}

/// Suggestions one page of the inbox shows.
pub const INBOX_PAGE_SIZE: usize = 20;

/// One more than a page is asked for: it tells whether an older page exists.
const PAGE_ASKED: i64 = INBOX_PAGE_SIZE as i64 + 1;

/// One page of current suggestions (or of what the member shared), newest
/// first.
#[derive(Debug, Clone)]
pub struct InboxPage {
    pub items: Vec<InboxCard>,
    /// The delivery the next page starts after, when there are older ones.
    pub older: Option<DeliveryId>,
}

impl InboxPage {
    /// A page from [`PAGE_ASKED`] cards.
    fn cut(mut items: Vec<InboxCard>) -> InboxPage {
        let older = (items.len() > INBOX_PAGE_SIZE).then(|| {
            items.truncate(INBOX_PAGE_SIZE);
            items[INBOX_PAGE_SIZE - 1].delivery
        });
        InboxPage { items, older }
    }
}

/// Which list an inbox page shows, from after the member's delivery
/// `before` ("Older") or the newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Current suggestions, newest delivery first.
    Current { before: Option<DeliveryId> },
    /// What the member shared, newest share first (to share again, or
    /// elsewhere).
    Shared { before: Option<DeliveryId> },
}

/// The inbox as its page shows it.
pub struct InboxView {
    pub frame: TeamPage,
    pub page: InboxPage,
    /// The public URLs of the page's images.
    pub images: BTreeMap<ImageId, String>,
}

/// When "Remind me later" brings a suggestion back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemindAt {
    /// 09:00 the next day in the member's time zone.
    TomorrowMorning,
    InThreeDays,
    /// A moment the member chose, in their local time.
    Local(NaiveDateTime),
}

impl RemindAt {
    /// A form's choice (`tomorrow`, `three_days`, or `at` with a local
    /// `YYYY-MM-DDTHH:MM`, as a browser's date-time field sends it).
    pub fn parse(choice: &str, local: Option<&str>) -> CoreResult<Self> {
        let bad = |reason| {
            CoreError::Invalid(apostle_domain::InvalidValue {
                field: "remind",
                reason,
            })
        };
        match choice {
            "tomorrow" => Ok(RemindAt::TomorrowMorning),
            "three_days" => Ok(RemindAt::InThreeDays),
            "at" => local
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .ok_or(bad("choose a date and time"))
                .and_then(|l| {
                    NaiveDateTime::parse_from_str(l, "%Y-%m-%dT%H:%M")
                        .map(RemindAt::Local)
                        .map_err(|_| bad("must be a date and time"))
                }),
            _ => Err(bad("choose when to be reminded")),
        }
    }

    /// The moment in UTC for a member in `zone`.
    pub fn resolve(self, zone: &TimeZoneName, now: DateTime<Utc>) -> DateTime<Utc> {
        let local = |at: NaiveDateTime| apostle_domain::posts::local_to_utc(zone.tz(), at);
        match self {
            RemindAt::TomorrowMorning => {
                let today = now.with_timezone(&zone.tz()).date_naive();
                let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default();
                local((today + Duration::days(1)).and_time(nine))
            }
            RemindAt::InThreeDays => now + Duration::days(3),
            RemindAt::Local(at) => local(at),
        }
    }
}

/// What a one-click link's page shows before its button is pressed.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub link: ActionLink,
    pub post: Post,
    pub team_slug: String,
    /// For a page approval: the page's name.
    pub page: Option<String>,
}

/// What pressing a one-click link's button did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkDone {
    Rejected,
    Rescheduled(DateTime<Utc>),
    Approved,
    Declined,
    /// Sharing continues on the post's page in Apostle.
    ContinueSharing {
        path: String,
    },
    /// Shared to the member's personal account: `path` is the post's page,
    /// where each target's state shows.
    Shared {
        targets: Vec<ShareTarget>,
        account: String,
        path: String,
    },
    /// Nothing was shared and the link is still unused: the member's
    /// account on the link's provider must be reconnected (`Some`) or
    /// connected (`None`) first, then they land on `path` to share.
    ConnectFirst {
        provider: &'static str,
        account: Option<AccountId>,
        path: String,
    },
}

impl Core {
    /// The accounts `post` can go to for this member: their personal
    /// LinkedIn and X among its providers, and for admins the team's pages.
    pub(crate) async fn targets(
        &self,
        tx: &mut dyn Tx,
        access: &TeamAccess,
        post: &Post,
    ) -> CoreResult<Vec<Target>> {
        let suits = |p: &str| post.content.providers.iter().any(|x| x == p);
        let mut out: Vec<Target> = tx
            .personal_accounts(access.user.id)
            .await?
            .into_iter()
            .filter(|a| a.status != ConnectionStatus::Removed && suits(&a.provider))
            .map(|a| Target {
                connection_id: a.id,
                provider: a.provider,
                name: a.name,
                status: a.status,
                business: false,
            })
            .collect();
        if access.is_admin() {
            let chosen = tx.post_pages(post.id).await?;
            out.extend(
                tx.business_accounts(access.team.id)
                    .await?
                    .into_iter()
                    .filter(|a| {
                        a.status != ConnectionStatus::Removed
                            && (chosen.contains(&a.id) || (chosen.is_empty() && suits(&a.provider)))
                    })
                    .map(|a| Target {
                        connection_id: a.id,
                        provider: a.provider,
                        name: a.name,
                        status: a.status,
                        business: true,
                    }),
            );
        }
        Ok(out)
    }

    /// The member's feed: for an ambassador the suggestions delivered to
    /// them (current and decided), for an admin every post of the team.
    pub async fn feed(&self, access: &TeamAccess) -> CoreResult<Vec<FeedItem>> {
        let mut tx = self.store.begin_read().await?;
        let mut out = Vec::new();
        if access.is_admin() {
            for post in tx.list_posts(access.team.id, false).await? {
                let delivery = tx
                    .delivery_of(access.team.id, post.id, access.user.id)
                    .await?;
                let targets = self.targets(&mut *tx, access, &post).await?;
                out.push(FeedItem {
                    post,
                    delivery,
                    targets,
                });
            }
        } else {
            let states = [
                DeliveryState::Delivered,
                DeliveryState::Shared,
                DeliveryState::Rejected,
                DeliveryState::Expired,
            ];
            for item in tx
                .member_inbox(access.team.id, access.user.id, &states)
                .await?
            {
                let targets = self.targets(&mut *tx, access, &item.post).await?;
                out.push(FeedItem {
                    post: item.post,
                    delivery: Some(item.delivery),
                    targets,
                });
            }
        }
        Ok(out)
    }

    /// Current suggestions waiting for the member's decision.
    pub async fn inbox(&self, access: &TeamAccess) -> CoreResult<Vec<InboxItem>> {
        let now = self.clock.now();
        let mut tx = self.store.begin_read().await?;
        Ok(tx
            .member_inbox(access.team.id, access.user.id, &[DeliveryState::Delivered])
            .await?
            .into_iter()
            .filter(|i| i.post.is_live(now))
            .collect())
    }

    /// A page of current suggestions with their posts, in one query: the
    /// newest, or those older than the member's delivery `before`.
    pub async fn inbox_page(
        &self,
        access: &TeamAccess,
        before: Option<DeliveryId>,
    ) -> CoreResult<InboxPage> {
        let mut tx = self.store.begin_read().await?;
        self.inbox_page_in(&mut *tx, access, before).await
    }

    /// An inbox page's reads in one transaction: the session behind
    /// `cookie`, the member's place in the team, their time zone, the layout,
    /// a page of the listing and its images' URLs. None when the session is
    /// missing or expired.
    pub async fn inbox_view(
        &self,
        cookie: &str,
        team_slug: &str,
        listing: Listing,
    ) -> CoreResult<Option<InboxView>> {
        let mut tx = self.store.begin_read().await?;
        let Some(frame) = self
            .team_page_in(&mut *tx, &token_hash(cookie), team_slug)
            .await?
        else {
            return Ok(None);
        };
        let page = match listing {
            Listing::Current { before } => {
                self.inbox_page_in(&mut *tx, &frame.access, before).await?
            }
            Listing::Shared { before } => {
                let (team, user) = (frame.access.team.id, frame.access.user.id);
                let items = tx.shared_page(team, user, before, PAGE_ASKED).await?;
                InboxPage::cut(items)
            }
        };
        let ids: Vec<ImageId> = page.items.iter().filter_map(|c| c.image_id).collect();
        let images = self.image_urls_in(&mut *tx, &frame.access, &ids).await?;
        Ok(Some(InboxView {
            frame,
            page,
            images,
        }))
    }

    async fn inbox_page_in(
        &self,
        tx: &mut dyn Tx,
        access: &TeamAccess,
        before: Option<DeliveryId>,
    ) -> CoreResult<InboxPage> {
        let (team, user) = (access.team.id, access.user.id);
        let now = self.clock.now();
        let items = tx.inbox_page(team, user, now, before, PAGE_ASKED).await?;
        Ok(InboxPage::cut(items))
    }

    /// The member's delivery of a post in this team.
    pub async fn delivery_for(
        &self,
        access: &TeamAccess,
        delivery: DeliveryId,
    ) -> CoreResult<(Delivery, Post)> {
        let mut tx = self.store.begin_read().await?;
        let found = tx
            .delivery_by_id(delivery)
            .await?
            .filter(|d| d.user_id == access.user.id && d.team_id == access.team.id)
            .ok_or(CoreError::NotFound("suggestion"))?;
        let post = tx
            .post_by_id(access.team.id, found.post_id)
            .await?
            .filter(|p| p.deleted_at.is_none())
            .ok_or(CoreError::NotFound("suggestion"))?;
        Ok((found, post))
    }

    /// The member's suggestion with where it can go and its image.
    pub async fn suggestion(
        &self,
        access: &TeamAccess,
        delivery: DeliveryId,
    ) -> CoreResult<Suggestion> {
        let (delivery, post) = self.delivery_for(access, delivery).await?;
        let mut tx = self.store.begin_read().await?;
        let targets = self.targets(&mut *tx, access, &post).await?;
        let image = self.image_of(&mut *tx, &post).await?;
        Ok(Suggestion {
            delivery,
            post,
            targets,
            image,
        })
    }

    /// The public URL of a post's image, if it has one.
    pub async fn post_image(&self, post: &Post) -> CoreResult<Option<String>> {
        let mut tx = self.store.begin_read().await?;
        self.image_of(&mut *tx, post).await
    }

    pub(crate) async fn image_of(
        &self,
        tx: &mut dyn Tx,
        post: &Post,
    ) -> CoreResult<Option<String>> {
        Ok(match post.content.image_id {
            Some(id) => tx
                .image_public_id(post.team_id, id)
                .await?
                .map(|public_id| self.image_url(&public_id)),
            None => None,
        })
    }

    /// The member's time zone (UTC until they choose one).
    pub async fn time_zone_of(&self, user: UserId) -> CoreResult<TimeZoneName> {
        let mut tx = self.store.begin_read().await?;
        self.member_time_zone(&mut *tx, user).await
    }

    /// When `choice` falls for this member, in their time zone.
    pub async fn remind_moment(&self, user: UserId, choice: RemindAt) -> CoreResult<DateTime<Utc>> {
        let zone = self.time_zone_of(user).await?;
        Ok(choice.resolve(&zone, self.clock.now()))
    }

    /// "Not for me": the suggestion leaves the inbox.
    pub async fn reject_delivery(&self, user: UserId, delivery: DeliveryId) -> CoreResult<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.reject_in(&mut *tx, user, delivery, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reject_in(
        &self,
        tx: &mut dyn Tx,
        user: UserId,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> CoreResult<()> {
        let (found, post) = self.open_delivery(tx, user, delivery, now).await?;
        if !tx
            .decide_delivery(
                user,
                found.id,
                &[DeliveryState::Delivered, DeliveryState::Pending],
                DeliveryState::Rejected,
                now,
            )
            .await?
        {
            return Err(decided(found.state));
        }
        tracing::info!(
            delivery = delivery.0,
            post = post.id.0,
            "suggestion rejected"
        );
        Ok(())
    }

    /// "Remind me later": the suggestion comes back at `at` (before the post
    /// expires), in the inbox and by email.
    pub async fn reschedule_delivery(
        &self,
        user: UserId,
        delivery: DeliveryId,
        at: DateTime<Utc>,
    ) -> CoreResult<DateTime<Utc>> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.reschedule_in(&mut *tx, user, delivery, at, now)
            .await?;
        tx.commit().await?;
        Ok(at)
    }

    async fn reschedule_in(
        &self,
        tx: &mut dyn Tx,
        user: UserId,
        delivery: DeliveryId,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> CoreResult<()> {
        let (found, post) = self.open_delivery(tx, user, delivery, now).await?;
        if at <= now {
            return Err(CoreError::Invalid(apostle_domain::InvalidValue {
                field: "at",
                reason: "must be in the future",
            }));
        }
        if at >= post.content.expires_at {
            return Err(CoreError::Invalid(apostle_domain::InvalidValue {
                field: "at",
                reason: "must come before the post expires",
            }));
        }
        if !tx.reschedule_delivery(user, found.id, at).await? {
            return Err(decided(found.state));
        }
        Ok(())
    }

    /// A delivery of `user` whose post is still live.
    async fn open_delivery(
        &self,
        tx: &mut dyn Tx,
        user: UserId,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> CoreResult<(Delivery, Post)> {
        let found = tx
            .delivery_by_id(delivery)
            .await?
            .filter(|d| d.user_id == user)
            .ok_or(CoreError::NotFound("suggestion"))?;
        let post = tx
            .post_by_id(found.team_id, found.post_id)
            .await?
            .ok_or(CoreError::NotFound("suggestion"))?;
        if !post.is_live(now) {
            return Err(CoreError::LinkClosed(
                "This post can no longer be shared: it expired, was archived or deleted.",
            ));
        }
        Ok((found, post))
    }

    /// Checks a one-click link and shows what it would do. `viewer` is the
    /// signed-in member, if any: a link is refused in another member's
    /// browser.
    pub async fn open_link(&self, token: &str, viewer: Option<UserId>) -> CoreResult<LinkView> {
        let now = self.clock.now();
        let (link, used) = ActionLink::verify(self, token, now)?;
        if viewer.is_some_and(|v| v != link.member) {
            return Err(another_member());
        }
        let mut tx = self.store.begin_read().await?;
        let (team, post, page) = match link.subject {
            LinkSubject::Delivery(d) => {
                let (delivery, post) = self.open_delivery(&mut *tx, link.member, d, now).await?;
                // A post shared on one network can still be shared on the
                // other from the same email (each link acts once, and the
                // engine keeps one live share per account); turning it down
                // or being reminded of it is over once it is decided.
                let sharing =
                    link.action.provider().is_some() || link.action == LinkAction::EditShare;
                let open = match delivery.state {
                    DeliveryState::Delivered | DeliveryState::Pending => true,
                    DeliveryState::Shared => sharing,
                    _ => false,
                };
                if !open {
                    return Err(decided(delivery.state));
                }
                (delivery.team_id, post, None)
            }
            LinkSubject::Approval(team, approval) => {
                let found = tx
                    .approval_by_id(team, approval)
                    .await?
                    .ok_or(CoreError::NotFound("approval"))?;
                let post = tx
                    .post_by_id(team, found.post_id)
                    .await?
                    .filter(|p| p.is_live(now))
                    .ok_or(CoreError::LinkClosed(
                        "This post can no longer be shared: it expired, was archived or deleted.",
                    ))?;
                if found.state != apostle_domain::ApprovalState::Pending {
                    return Err(CoreError::LinkClosed(
                        "This suggestion was already answered.",
                    ));
                }
                let page = tx.account_by_id(found.account_id).await?.map(|a| a.name);
                (team, post, page)
            }
        };
        // After what the subject says: "you already turned this down" tells
        // more than "already used".
        if tx.action_link_used(&used).await? {
            return Err(CoreError::LinkClosed("This link was already used."));
        }
        let slug = self.team_slug(&mut *tx, team).await?;
        Ok(LinkView {
            link,
            post,
            team_slug: slug,
            page,
        })
    }

    /// Presses a one-click link's button. A link acts once: its use is
    /// recorded in the same transaction as what it does.
    pub async fn use_link(
        &self,
        token: &str,
        viewer: Option<UserId>,
        reschedule_to: Option<DateTime<Utc>>,
    ) -> CoreResult<LinkDone> {
        let view = self.open_link(token, viewer).await?;
        let now = self.clock.now();
        let (link, used) = ActionLink::verify(self, token, now)?;
        let member = link.member;
        if let (Some(provider), LinkSubject::Delivery(d)) = (link.action.provider(), link.subject) {
            let path = format!("/t/{}/inbox/{}", view.team_slug, d);
            return self
                .share_from_link(&view, &used, provider, path, now)
                .await;
        }
        if let (LinkAction::EditShare, LinkSubject::Delivery(d)) = (link.action, link.subject) {
            return Ok(LinkDone::ContinueSharing {
                path: format!("/t/{}/inbox/{}?edit=1", view.team_slug, d),
            });
        }
        // The link's use and what it does commit together, or neither does.
        let mut tx = self.store.begin().await?;
        if !tx.use_action_link(&used, now).await? {
            return Err(CoreError::LinkClosed("This link was already used."));
        }
        let done = match (link.action, link.subject) {
            (LinkAction::Reject, LinkSubject::Delivery(d)) => {
                self.reject_in(&mut *tx, member, d, now).await?;
                LinkDone::Rejected
            }
            (LinkAction::Reschedule, LinkSubject::Delivery(d)) => {
                let at = reschedule_to.ok_or(CoreError::Invalid(apostle_domain::InvalidValue {
                    field: "at",
                    reason: "choose when to be reminded",
                }))?;
                self.reschedule_in(&mut *tx, member, d, at, now).await?;
                LinkDone::Rescheduled(at)
            }
            (LinkAction::Approve | LinkAction::Decline, LinkSubject::Approval(team, a)) => {
                let approve = link.action == LinkAction::Approve;
                self.decide_approval_in(&mut *tx, team, member, a, approve, now)
                    .await?;
                if approve {
                    LinkDone::Approved
                } else {
                    LinkDone::Declined
                }
            }
            _ => return Err(CoreError::LinkInvalid("This link is not valid.")),
        };
        tx.commit().await?;
        Ok(done)
    }

    /// A link's "Share on LinkedIn/X": the post goes to the member's
    /// personal account there through the sharing engine, the link's use
    /// and the share committing together (a second press finds the link
    /// used; the link's hash as the idempotency key finds the target a
    /// concurrent press made). An account that is broken or missing shares
    /// nothing and leaves the link unused, for after the reconnect.
    async fn share_from_link(
        &self,
        view: &LinkView,
        used: &str,
        provider: &'static str,
        path: String,
        now: DateTime<Utc>,
    ) -> CoreResult<LinkDone> {
        let member = view.link.member;
        let (user, account) = {
            let mut tx = self.store.begin_read().await?;
            let user = tx
                .user_by_id(member)
                .await?
                .ok_or(CoreError::NotFound("member"))?;
            let mut mine: Vec<_> = tx
                .personal_accounts(member)
                .await?
                .into_iter()
                .filter(|a| a.provider == provider && a.status != ConnectionStatus::Removed)
                .collect();
            // A working one first, when the member has several there.
            mine.sort_by_key(|a| a.status != ConnectionStatus::Active);
            (user, mine.into_iter().next())
        };
        let Some(account) = account else {
            return Ok(LinkDone::ConnectFirst {
                provider,
                account: None,
                path,
            });
        };
        let access = self.team_access(&view.team_slug, &user).await?;
        let mut tx = self.store.begin().await?;
        if !tx.use_action_link(used, now).await? {
            return Err(CoreError::LinkClosed("This link was already used."));
        }
        match self
            .share_in(
                &mut *tx,
                &access,
                view.post.id,
                &[account.id],
                None,
                Some(used),
                now,
            )
            .await?
        {
            ShareOutcome::ReconnectFirst { account } => Ok(LinkDone::ConnectFirst {
                provider,
                account: Some(account.id),
                path,
            }),
            ShareOutcome::Queued(targets) => {
                tx.commit().await?;
                tracing::info!(post = view.post.id.0, provider, "shared from an email link");
                Ok(LinkDone::Shared {
                    targets,
                    account: account.name,
                    path,
                })
            }
        }
    }

    async fn team_slug(&self, tx: &mut dyn Tx, team: TeamId) -> CoreResult<String> {
        Ok(tx
            .team_by_id(team)
            .await?
            .ok_or(CoreError::NotFound("team"))?
            .slug
            .to_string())
    }

    /// The member's delivery settings.
    pub async fn member_settings(&self, user: UserId) -> CoreResult<MemberSettings> {
        let mut tx = self.store.begin_read().await?;
        tx.member_settings(user)
            .await?
            .ok_or(CoreError::NotFound("member"))
    }

    /// Sets the member's time zone, as they chose it.
    pub async fn set_time_zone(&self, user: UserId, zone: &str) -> CoreResult<TimeZoneName> {
        let zone = TimeZoneName::parse(zone)?;
        let mut tx = self.store.begin().await?;
        tx.set_time_zone(user, zone.as_str(), true).await?;
        tx.commit().await?;
        Ok(zone)
    }

    /// Takes the time zone a member's browser or device reports, unless the
    /// member chose one; something that is not a time zone is ignored.
    /// Answers whether it was taken.
    pub async fn detect_time_zone(&self, user: UserId, reported: &str) -> CoreResult<bool> {
        let Ok(zone) = TimeZoneName::parse(reported) else {
            return Ok(false);
        };
        let mut tx = self.store.begin().await?;
        let taken = tx.set_time_zone(user, zone.as_str(), false).await?;
        tx.commit().await?;
        Ok(taken)
    }

    /// Which notification kinds the member gets by email.
    pub async fn set_email_notifications(
        &self,
        user: UserId,
        wanted: &[NotificationKind],
    ) -> CoreResult<()> {
        let muted: Vec<NotificationKind> = NotificationKind::ALL
            .iter()
            .copied()
            .filter(|k| !wanted.contains(k))
            .collect();
        let mut tx = self.store.begin().await?;
        tx.set_muted_notifications(user, &muted).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turns off one kind of notification email for the address a signed
    /// unsubscribe link names (RFC 8058 one-click). Answers the kind.
    pub async fn unsubscribe(&self, token: &str) -> CoreResult<NotificationKind> {
        let (address, kind) = verify_unsubscribe(self, token)?;
        let mut tx = self.store.begin().await?;
        let user = tx
            .user_by_email(&address)
            .await?
            .ok_or(CoreError::LinkInvalid(
                "This unsubscribe link is not valid.",
            ))?;
        let mut muted = tx
            .member_settings(user.id)
            .await?
            .map(|s| s.muted)
            .unwrap_or_default();
        if !muted.contains(&kind) {
            muted.push(kind);
        }
        tx.set_muted_notifications(user.id, &muted).await?;
        tx.commit().await?;
        tracing::info!(user = user.id.0, kind = kind.as_str(), "unsubscribed");
        Ok(kind)
    }

    /// The team's delivery window.
    pub async fn delivery_window(&self, access: &TeamAccess) -> CoreResult<DeliveryWindow> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx.team_window(access.team.id).await?)
    }

    /// Sets the team's delivery window (admins).
    pub async fn set_delivery_window(
        &self,
        access: &TeamAccess,
        window: DeliveryWindow,
    ) -> CoreResult<()> {
        access.require_admin()?;
        let mut tx = self.store.begin().await?;
        tx.set_team_window(access.team.id, window).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn another_member() -> CoreError {
    CoreError::LinkInvalid("This link was sent to another member. Sign out, or ask them to use it.")
}

fn decided(state: DeliveryState) -> CoreError {
    CoreError::LinkClosed(match state {
        DeliveryState::Shared => "You already shared this post.",
        DeliveryState::Rejected => "You already turned this post down.",
        DeliveryState::Expired => "This post expired before you decided.",
        _ => "This suggestion is not in your inbox now.",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn tomorrow_morning_is_nine_the_next_day_in_the_members_zone() {
        let zone = TimeZoneName::parse("America/New_York").unwrap();
        // 23:30 in New York on 1 March is already 2 March in UTC.
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 4, 30, 0).unwrap();
        let at = RemindAt::TomorrowMorning.resolve(&zone, now);
        assert_eq!(at, Utc.with_ymd_and_hms(2026, 3, 2, 14, 0, 0).unwrap());
    }

    #[test]
    fn a_chosen_moment_is_read_in_the_members_zone_and_nonsense_is_refused() {
        let zone = TimeZoneName::parse("Europe/Paris").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let chosen = RemindAt::parse("at", Some("2026-06-03T10:15")).unwrap();
        assert_eq!(
            chosen.resolve(&zone, now),
            Utc.with_ymd_and_hms(2026, 6, 3, 8, 15, 0).unwrap()
        );
        assert!(RemindAt::parse("at", Some("soon")).is_err());
        assert!(RemindAt::parse("at", None).is_err());
        assert!(RemindAt::parse("never", None).is_err());
    }
}
