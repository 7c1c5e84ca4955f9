//! Posts: admins suggest them, Apostle delivers each to each recipient at a
//! good moment in their own time zone, in the inbox and by email, and waits
//! for their decision. One file per part: composing and planning (here),
//! [`dispatch`] (deliveries going out), [`notify`] (the hourly-batched
//! emails), [`inbox`] (members' decisions and settings), [`approvals`]
//! (business pages), [`links`] (signed one-click links) and [`media`]
//! (images and UTM presets).

pub mod approvals;
pub mod dispatch;
pub mod inbox;
pub mod links;
pub mod media;
pub mod notify;

use crate::error::{CoreError, CoreResult};
use crate::store::{
    Account, NewApproval, NewNotification, PlanSlot, Post, PostContent, PostHeadline, Tx,
};
use crate::teams::TeamAccess;
use crate::Core;
use apostle_domain::posts::{counted_length, parse_link, text_limit};
use apostle_domain::{
    AccountId, ApprovalState, DeliveryState, ImageId, InvalidValue, NotificationKind, PostId,
    PostStatus, Schedule, TeamId, TimeZoneName, UserId, Utm,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// The providers a post can suit.
pub const PROVIDERS: [&str; 4] = ["linkedin", "x", "facebook", "instagram"];

/// How long a post stays shareable after its last planned moment when the
/// admin sets no expiry.
pub const DEFAULT_SHELF_LIFE: Duration = Duration::days(14);

/// What an admin writes in the composer (or sends to the API).
#[derive(Debug, Clone, Default)]
pub struct PostInput {
    pub text: String,
    /// Provider → its own text, where its limit or audience differs.
    pub variants: BTreeMap<String, String>,
    pub link: Option<String>,
    pub link_title: Option<String>,
    pub utm: Utm,
    pub image: Option<ImageId>,
    pub providers: Vec<String>,
    /// `None`: the whole team.
    pub recipients: Option<Vec<UserId>>,
    /// Business pages to post on (each waits for its owner's approval).
    pub pages: Vec<AccountId>,
    /// `None`: now.
    pub schedule: Option<Schedule>,
    pub expires_at: Option<DateTime<Utc>>,
    pub draft: bool,
}

/// A post with what an admin sees about it.
#[derive(Debug, Clone)]
pub struct PostDetail {
    pub post: Post,
    pub status: PostStatus,
    pub recipients: Vec<UserId>,
    pub pages: Vec<Account>,
    pub counts: Vec<(DeliveryState, i64)>,
    pub approvals: Vec<crate::store::Approval>,
}

fn invalid(field: &'static str, reason: &'static str) -> CoreError {
    CoreError::Invalid(InvalidValue { field, reason })
}

fn too_long(provider: &str) -> CoreError {
    let reason = match provider {
        "x" => "is longer than X allows (280 characters, a link counts as 23): write a shorter X version",
        "linkedin" => "is longer than LinkedIn allows (3,000 characters)",
        "instagram" => "is longer than Instagram allows (2,200 characters)",
        _ => "is longer than Facebook allows",
    };
    invalid("text", reason)
}

/// A member's stored time zone; UTC when the name no longer parses.
pub(crate) fn stored_zone(name: &str) -> TimeZoneName {
    TimeZoneName::parse(name).unwrap_or_else(|_| TimeZoneName::utc())
}

/// Posts the baseline list shows.
pub const BASELINE_POSTS: i64 = 20;

impl Core {
    /// The team's newest posts: the least a feed can do (one indexed read),
    /// which the feed benchmark measures the inbox against. No member is
    /// checked, so the route that serves it is mounted only when asked.
    pub async fn newest_posts(&self, team: TeamId) -> CoreResult<Vec<PostHeadline>> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx.newest_posts(team, BASELINE_POSTS).await?)
    }

    /// Checks an admin's input and turns it into stored content.
    async fn post_content(
        &self,
        tx: &mut dyn Tx,
        access: &TeamAccess,
        input: &PostInput,
        now: DateTime<Utc>,
    ) -> CoreResult<PostContent> {
        let text = input.text.trim().to_owned();
        if text.is_empty() {
            return Err(invalid("text", "is empty"));
        }
        let mut providers: Vec<String> = Vec::new();
        for p in &input.providers {
            let p = p.trim().to_lowercase();
            if !PROVIDERS.contains(&p.as_str()) {
                return Err(invalid(
                    "providers",
                    "must be among linkedin, x, facebook and instagram",
                ));
            }
            if !providers.contains(&p) {
                providers.push(p);
            }
        }
        let pages = self.pages_of(tx, access.team.id, &input.pages).await?;
        for page in &pages {
            if !providers.contains(&page.provider) {
                providers.push(page.provider.clone());
            }
        }
        if providers.is_empty() {
            return Err(invalid("providers", "choose at least one provider"));
        }
        providers.sort_by_key(|p| PROVIDERS.iter().position(|k| k == p));
        let link = match input.link.as_deref().map(str::trim) {
            Some(raw) if !raw.is_empty() => Some(parse_link(raw)?.to_string()),
            _ => None,
        };
        let mut variants = BTreeMap::new();
        for (provider, variant) in &input.variants {
            let variant = variant.trim();
            if variant.is_empty() {
                continue;
            }
            if !providers.contains(provider) {
                return Err(invalid(
                    "variants",
                    "name a provider the post does not suit",
                ));
            }
            variants.insert(provider.clone(), variant.to_owned());
        }
        for provider in &providers {
            let body = variants.get(provider).unwrap_or(&text);
            let limit = text_limit(provider).unwrap_or(usize::MAX);
            if counted_length(provider, body, link.as_deref()) > limit {
                return Err(too_long(provider));
            }
        }
        if let Some(image) = input.image {
            tx.image_public_id(access.team.id, image)
                .await?
                .ok_or(CoreError::NotFound("image"))?;
        } else if providers.iter().any(|p| p == "instagram") {
            return Err(invalid("image", "is needed for Instagram"));
        }
        let schedule = input.schedule.clone().unwrap_or(Schedule::Now);
        schedule.validate()?;
        let author_tz = self.member_time_zone(tx, access.user.id).await?;
        let window = tx.team_window(access.team.id).await?;
        let slots = schedule.slots(author_tz.tz(), window, now);
        let Some(last) = slots.last() else {
            return Err(invalid("schedule", "every chosen day is over"));
        };
        if let Schedule::At { date, time } = &schedule {
            let at = apostle_domain::posts::local_to_utc(author_tz.tz(), date.and_time(*time));
            if at < now - Duration::minutes(1) {
                return Err(invalid("schedule", "is in the past"));
            }
        }
        let last_moment = last.start + Duration::seconds(last.span_seconds);
        let expires_at = input.expires_at.unwrap_or(last_moment + DEFAULT_SHELF_LIFE);
        if expires_at <= last_moment.max(now) {
            return Err(invalid(
                "expires_at",
                "must come after the last delivery moment",
            ));
        }
        let recipients_all = input.recipients.is_none();
        if let Some(chosen) = &input.recipients {
            if chosen.is_empty() {
                return Err(invalid("recipients", "choose at least one member"));
            }
            for user in chosen {
                if tx.member_role(access.team.id, *user).await?.is_none() {
                    return Err(invalid("recipients", "must be members of the team"));
                }
            }
        }
        let text_title = input
            .link_title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if text_title
            .as_deref()
            .is_some_and(|t| t.chars().count() > 300)
        {
            return Err(invalid("link_title", "is longer than 300 characters"));
        }
        Ok(PostContent {
            text,
            variants,
            link,
            link_title: text_title,
            utm: input.utm.clone().normalized()?,
            image_id: input.image,
            providers,
            recipients_all,
            schedule,
            expires_at,
        })
    }

    /// The team's business pages among `ids`; anything else is refused.
    async fn pages_of(
        &self,
        tx: &mut dyn Tx,
        team: TeamId,
        ids: &[AccountId],
    ) -> CoreResult<Vec<Account>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let pages = tx.business_accounts(team).await?;
        ids.iter()
            .map(|id| {
                pages
                    .iter()
                    .find(|p| p.id == *id)
                    .cloned()
                    .ok_or_else(|| invalid("pages", "must be business pages of the team"))
            })
            .collect()
    }

    pub(crate) async fn member_time_zone(
        &self,
        tx: &mut dyn Tx,
        user: UserId,
    ) -> CoreResult<TimeZoneName> {
        Ok(tx
            .member_settings(user)
            .await?
            .map_or_else(TimeZoneName::utc, |s| stored_zone(&s.time_zone)))
    }

    /// Creates a post: a draft, or scheduled with every delivery planned in
    /// the same transaction.
    pub async fn create_post(&self, access: &TeamAccess, input: PostInput) -> CoreResult<Post> {
        access.require_admin()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let content = self.post_content(&mut *tx, access, &input, now).await?;
        let status = if input.draft {
            PostStatus::Draft
        } else {
            PostStatus::Scheduled
        };
        let post = tx
            .create_post(access.team.id, access.user.id, &content, status, now)
            .await?;
        if let Some(users) = &input.recipients {
            tx.set_post_recipients(post.id, users).await?;
        }
        tx.set_post_pages(post.id, &input.pages).await?;
        if !input.draft {
            self.plan(&mut *tx, &post, now).await?;
        }
        tx.commit().await?;
        tracing::info!(
            post = post.id.0,
            team = access.team.id.0,
            ?status,
            "post created"
        );
        Ok(post)
    }

    /// Rewrites a draft; with `input.draft == false` it is scheduled too.
    pub async fn update_draft(
        &self,
        access: &TeamAccess,
        post: PostId,
        input: PostInput,
    ) -> CoreResult<Post> {
        access.require_admin()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let content = self.post_content(&mut *tx, access, &input, now).await?;
        if !tx.update_draft(access.team.id, post, &content, now).await? {
            return Err(CoreError::Conflict(
                "only a draft can be edited; this post went out already",
            ));
        }
        tx.set_post_recipients(post, input.recipients.as_deref().unwrap_or_default())
            .await?;
        tx.set_post_pages(post, &input.pages).await?;
        if !input.draft {
            tx.set_post_status(
                access.team.id,
                post,
                &[PostStatus::Draft],
                PostStatus::Scheduled,
                now,
            )
            .await?;
        }
        let saved = tx
            .post_by_id(access.team.id, post)
            .await?
            .ok_or(CoreError::NotFound("post"))?;
        if !input.draft {
            self.plan(&mut *tx, &saved, now).await?;
        }
        tx.commit().await?;
        Ok(saved)
    }

    /// Plans every delivery of a post (set-based: one statement per time
    /// zone and day) and its page approvals, in the caller's transaction.
    pub(crate) async fn plan(
        &self,
        tx: &mut dyn Tx,
        post: &Post,
        now: DateTime<Utc>,
    ) -> CoreResult<u64> {
        let window = tx.team_window(post.team_id).await?;
        let seed = i64::from(rand::random::<u32>() >> 1);
        let mut planned = 0;
        for zone in tx.recipient_time_zones(post.team_id, post.id).await? {
            let tz = TimeZoneName::parse(&zone).unwrap_or_else(|_| TimeZoneName::utc());
            let mut slots = post.content.schedule.slots(tz.tz(), window, now);
            if slots.is_empty() {
                // Every chosen day is already over where this member lives.
                slots = Schedule::Now.slots(tz.tz(), window, now);
            }
            let day_count = slots.len() as i64;
            for (day_index, slot) in slots.into_iter().enumerate() {
                planned += tx
                    .plan_deliveries(
                        post.team_id,
                        post.id,
                        &PlanSlot {
                            time_zone: zone.clone(),
                            start: slot.start,
                            span_seconds: slot.span_seconds,
                            day_index: day_index as i64,
                            day_count,
                            seed,
                        },
                    )
                    .await?;
            }
        }
        self.plan_approvals(tx, post, now).await?;
        Ok(planned)
    }

    /// One approval per chosen page: settled at once when the author owns
    /// the page or its owner turned on Auto Approve (and then queued to
    /// publish at its moment); otherwise waiting, with a notification to
    /// the owner.
    async fn plan_approvals(
        &self,
        tx: &mut dyn Tx,
        post: &Post,
        now: DateTime<Utc>,
    ) -> CoreResult<()> {
        for page in tx.post_pages(post.id).await? {
            let owners = approvals::page_owners(tx, post.team_id, page).await?;
            let auto = tx.auto_approve(post.team_id, page).await?;
            let (state, decided_by) = if owners.contains(&post.author_id) {
                (ApprovalState::Approved, Some(post.author_id))
            } else if auto {
                (ApprovalState::Approved, owners.first().copied())
            } else {
                (ApprovalState::Pending, None)
            };
            let owner_tz = match owners.first() {
                Some(owner) => self.member_time_zone(tx, *owner).await?,
                None => TimeZoneName::utc(),
            };
            let window = tx.team_window(post.team_id).await?;
            let publish_at = post
                .content
                .schedule
                .slots(owner_tz.tz(), window, now)
                .first()
                .map_or(now, |s| s.start);
            let Some(approval) = tx
                .create_approval(
                    post.team_id,
                    &NewApproval {
                        post_id: post.id,
                        account_id: page,
                        state,
                        publish_at,
                        decided_by,
                        created_at: now,
                    },
                )
                .await?
            else {
                continue;
            };
            if state == ApprovalState::Approved {
                let owner = decided_by.unwrap_or(post.author_id);
                self.queue_page_publish(tx, post, &approval, owner, now)
                    .await?;
            }
            if state == ApprovalState::Pending {
                for owner in owners {
                    tx.insert_notification(&NewNotification {
                        user_id: owner,
                        team_id: post.team_id,
                        kind: NotificationKind::Approval,
                        post_id: post.id,
                        delivery_id: None,
                        approval_id: Some(approval.id),
                        created_at: now,
                    })
                    .await?;
                    notify::flush_soon(tx, owner, now).await?;
                }
            }
        }
        Ok(())
    }

    /// The team's posts (admins), newest first; `in_bin` lists the bin.
    pub async fn team_posts(&self, access: &TeamAccess, in_bin: bool) -> CoreResult<Vec<Post>> {
        access.require_admin()?;
        let mut tx = self.store.begin_read().await?;
        Ok(tx.list_posts(access.team.id, in_bin).await?)
    }

    /// The team's posts as `team_posts` lists them, each with its deliveries
    /// counted by state (the admins' list of posts).
    pub async fn team_posts_counted(
        &self,
        access: &TeamAccess,
        in_bin: bool,
    ) -> CoreResult<Vec<(Post, Vec<(DeliveryState, i64)>)>> {
        access.require_admin()?;
        let mut tx = self.store.begin_read().await?;
        let mut out = Vec::new();
        for post in tx.list_posts(access.team.id, in_bin).await? {
            let counts = tx.delivery_counts(access.team.id, post.id).await?;
            out.push((post, counts));
        }
        Ok(out)
    }

    /// A post with its deliveries counted and its approvals (admins).
    pub async fn post_detail(&self, access: &TeamAccess, post: PostId) -> CoreResult<PostDetail> {
        access.require_admin()?;
        let now = self.clock.now();
        let mut tx = self.store.begin_read().await?;
        let post = require_post(&mut *tx, access.team.id, post).await?;
        let page_ids = tx.post_pages(post.id).await?;
        let pages = tx
            .business_accounts(access.team.id)
            .await?
            .into_iter()
            .filter(|a| page_ids.contains(&a.id))
            .collect();
        Ok(PostDetail {
            status: post.shown_status(now),
            recipients: tx.post_recipients(post.id).await?,
            pages,
            counts: tx.delivery_counts(access.team.id, post.id).await?,
            approvals: tx.approvals_of_post(access.team.id, post.id).await?,
            post,
        })
    }

    /// Moves a post to the bin: nothing in it is delivered or shareable.
    pub async fn delete_post(&self, access: &TeamAccess, post: PostId) -> CoreResult<()> {
        self.set_in_bin(access, post, true).await
    }

    /// Takes a post out of the bin, as it was.
    pub async fn restore_post(&self, access: &TeamAccess, post: PostId) -> CoreResult<()> {
        self.set_in_bin(access, post, false).await
    }

    async fn set_in_bin(&self, access: &TeamAccess, post: PostId, bin: bool) -> CoreResult<()> {
        access.require_admin()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let changed = tx
            .set_post_deleted(access.team.id, post, bin.then_some(now))
            .await?;
        if !changed {
            require_post(&mut *tx, access.team.id, post).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Archives a post: no longer offered; what was shared stays shared.
    pub async fn archive_post(&self, access: &TeamAccess, post: PostId) -> CoreResult<()> {
        access.require_admin()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let done = tx
            .set_post_status(
                access.team.id,
                post,
                &[
                    PostStatus::Draft,
                    PostStatus::Scheduled,
                    PostStatus::Sent,
                    PostStatus::Expired,
                ],
                PostStatus::Archived,
                now,
            )
            .await?;
        if !done {
            require_post(&mut *tx, access.team.id, post).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Reminds every member who has the post in their inbox and has not
    /// decided yet; answers how many.
    pub async fn remind_unshared(&self, access: &TeamAccess, post: PostId) -> CoreResult<usize> {
        access.require_admin()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let found = require_post(&mut *tx, access.team.id, post).await?;
        if !found.is_live(now) {
            return Err(CoreError::Conflict(
                "this post can no longer be shared, so nobody is reminded",
            ));
        }
        let members = tx.undecided_members(access.team.id, post).await?;
        for member in &members {
            let delivery = tx.delivery_of(access.team.id, post, *member).await?;
            tx.insert_notification(&NewNotification {
                user_id: *member,
                team_id: access.team.id,
                kind: NotificationKind::ShareReminder,
                post_id: post,
                delivery_id: delivery.map(|d| d.id),
                approval_id: None,
                created_at: now,
            })
            .await?;
            notify::flush_soon(&mut *tx, *member, now).await?;
        }
        tx.commit().await?;
        Ok(members.len())
    }
}

/// The team's post, or `NotFound`: a post in the bin still counts.
async fn require_post(tx: &mut dyn Tx, team: TeamId, post: PostId) -> CoreResult<Post> {
    tx.post_by_id(team, post)
        .await?
        .ok_or(CoreError::NotFound("post"))
}
