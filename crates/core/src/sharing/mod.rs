//! Sharing: a member publishes a suggested post to chosen accounts — their
//! personal LinkedIn and X, and for admins the team's business pages. Each
//! account is a target with its own publish job ([`publish`]) and status.
//!
//! A share whose chosen personal accounts include a broken one publishes
//! nothing: the member is sent to reconnect first, and after the reconnect
//! nothing is shared until they press Share again. A target is published at
//! most once whatever the clicks: one live target per post, member and
//! account (per post and page for business pages, whoever queued it), and a
//! request retried with its key finds what it made.
//!
//! Approved suggestions to business pages go out through the same targets,
//! at the post's moment and never before, held for the page's owner.

pub mod publish;

use crate::error::{CoreError, CoreResult};
use crate::store::{
    Account, AccountOwner, Approval, ConnectionStatus, NewShareTarget, Post, ShareTarget, Tx,
};
use crate::teams::TeamAccess;
use crate::Core;
use apostle_domain::posts::{counted_length, text_limit};
use apostle_domain::{AccountId, DeliveryState, InvalidValue, PostId, ShareStatus, UserId};
use chrono::{DateTime, Utc};

/// The team's shares in numbers, for admins: published per post, per
/// provider and per member, and what waits on broken connections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShareNumbers {
    /// Post id, the start of its text, published, waiting for a reconnect.
    pub by_post: Vec<(PostId, String, i64, i64)>,
    pub by_provider: Vec<(String, i64)>,
    /// Member's name and how many targets they published.
    pub by_member: Vec<(String, i64)>,
    pub waiting: i64,
}

/// One post in a member's share history, with each account it went to.
#[derive(Debug, Clone)]
pub struct SharedPost {
    pub post: Post,
    /// Each target, newest first, with its account and whether that
    /// account works (a held share can go out now only then).
    pub targets: Vec<(ShareTarget, Account)>,
}

/// How many targets a share history shows.
const HISTORY_LENGTH: i64 = 200;

/// What the member chose for shares held while a connection was broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldChoice {
    ShareNow,
    /// Publish at this moment, not before.
    At(DateTime<Utc>),
    Discard,
}

/// What a share request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareOutcome {
    /// Nothing was queued: this personal account must be reconnected first.
    ReconnectFirst { account: Account },
    /// One target per chosen account (new, or the live one a repeated
    /// request finds).
    Queued(Vec<ShareTarget>),
}

fn invalid(field: &'static str, reason: &'static str) -> CoreError {
    CoreError::Invalid(InvalidValue { field, reason })
}

impl Core {
    /// Shares a post to `accounts`, with the member's own `text` or the
    /// post's (its variant per provider). `key` makes a retried request
    /// (an API `Idempotency-Key`) find the targets it made.
    pub async fn share_post(
        &self,
        access: &TeamAccess,
        post: PostId,
        accounts: &[AccountId],
        text: Option<&str>,
        key: Option<&str>,
    ) -> CoreResult<ShareOutcome> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let outcome = self
            .share_in(&mut *tx, access, post, accounts, text, key, now)
            .await?;
        // A reconnect first changed nothing: there is nothing to keep.
        if matches!(outcome, ShareOutcome::Queued(_)) {
            tx.commit().await?;
        }
        Ok(outcome)
    }

    /// [`Core::share_post`] in the caller's transaction, so a one-click
    /// link's use and its share commit together.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn share_in(
        &self,
        tx: &mut dyn Tx,
        access: &TeamAccess,
        post: PostId,
        accounts: &[AccountId],
        text: Option<&str>,
        key: Option<&str>,
        now: DateTime<Utc>,
    ) -> CoreResult<ShareOutcome> {
        if accounts.is_empty() {
            return Err(invalid("targets", "choose at least one account"));
        }
        let post = tx
            .post_by_id(access.team.id, post)
            .await?
            .filter(|p| p.deleted_at.is_none())
            .ok_or(CoreError::NotFound("post"))?;
        let delivery = tx
            .delivery_of(access.team.id, post.id, access.user.id)
            .await?;
        let offered = delivery
            .as_ref()
            .is_some_and(|d| matches!(d.state, DeliveryState::Delivered | DeliveryState::Shared));
        if !(offered || access.is_admin()) {
            return Err(CoreError::NotFound("post"));
        }
        if !post.is_live(now) {
            return Err(CoreError::LinkClosed(
                "This post can no longer be shared: it expired, was archived or deleted.",
            ));
        }
        let mut chosen = Vec::new();
        for id in accounts {
            let account = tx
                .account_by_id(*id)
                .await?
                .filter(|a| a.status != ConnectionStatus::Removed)
                .ok_or(CoreError::NotFound("connection"))?;
            let allowed = match account.owner {
                AccountOwner::Personal(user) => user == access.user.id,
                AccountOwner::Business(team) => team == access.team.id && access.is_admin(),
            };
            if !allowed {
                return Err(CoreError::NotFound("connection"));
            }
            if !post.content.providers.contains(&account.provider) {
                return Err(invalid("targets", "the post does not suit this network"));
            }
            chosen.push(account);
        }
        if let Some(broken) = chosen.iter().find(|a| {
            matches!(a.owner, AccountOwner::Personal(_)) && a.status == ConnectionStatus::Broken
        }) {
            return Ok(ShareOutcome::ReconnectFirst {
                account: broken.clone(),
            });
        }
        let run_at = self
            .first_moment(&mut *tx, &post, access.user.id, now)
            .await?;
        let mut targets = Vec::new();
        for account in &chosen {
            let body = share_text(&post, &account.provider, text)?;
            let (idempotency_key, found) = match account.owner {
                AccountOwner::Business(_) => page_key(&mut *tx, post.id, account.id).await?,
                // A retried request finds what its key made; a fresh key
                // cannot have made anything.
                AccountOwner::Personal(_) => match key {
                    Some(k) => {
                        let k = format!("{}:{k}:{}", access.user.id, account.id);
                        let found = tx.share_target_by_key(&k).await?;
                        (k, found)
                    }
                    None => (
                        format!("{}:{}", access.user.id, crate::secrets::random_token()),
                        None,
                    ),
                },
            };
            if let Some(found) = found {
                targets.push(found);
                continue;
            }
            let added = queue_target(
                &mut *tx,
                &NewShareTarget {
                    team_id: access.team.id,
                    post_id: post.id,
                    user_id: access.user.id,
                    account_id: account.id,
                    provider: account.provider.clone(),
                    text: body,
                    idempotency_key: idempotency_key.clone(),
                    created_at: now,
                },
                run_at,
                now,
            )
            .await?;
            match added {
                Some(target) => targets.push(target),
                // Shared there already (or on its way): the live target stands.
                None => match tx.share_target_by_key(&idempotency_key).await? {
                    Some(found) => targets.push(found),
                    None => targets.extend(
                        tx.live_share_target(post.id, access.user.id, account.id)
                            .await?,
                    ),
                },
            }
        }
        if let Some(d) = delivery {
            tx.decide_delivery(
                access.user.id,
                d.id,
                &[DeliveryState::Delivered],
                DeliveryState::Shared,
                now,
            )
            .await?;
        }
        Ok(ShareOutcome::Queued(targets))
    }

    /// Queues the publish of an approved suggestion to a business page at
    /// its moment (now if that passed), held for `owner`, the page's owner
    /// who answered: if the page breaks before it goes out, it waits for
    /// their reconnect. Nothing is queued when the page already has a live
    /// target of this post (an admin shared it there directly).
    pub(crate) async fn queue_page_publish(
        &self,
        tx: &mut dyn Tx,
        post: &Post,
        approval: &Approval,
        owner: UserId,
        now: DateTime<Utc>,
    ) -> CoreResult<()> {
        let Some(page) = tx
            .account_by_id(approval.account_id)
            .await?
            .filter(|a| a.status != ConnectionStatus::Removed)
        else {
            tracing::info!(
                approval = approval.id.0,
                "approved for a removed page: nothing to publish"
            );
            return Ok(());
        };
        let (idempotency_key, found) = page_key(tx, post.id, page.id).await?;
        if found.is_some() {
            return Ok(());
        }
        let text = share_text(post, &page.provider, None)?;
        queue_target(
            tx,
            &NewShareTarget {
                team_id: post.team_id,
                post_id: post.id,
                user_id: owner,
                account_id: page.id,
                provider: page.provider.clone(),
                text,
                idempotency_key,
                created_at: now,
            },
            approval.publish_at,
            now,
        )
        .await?;
        Ok(())
    }

    /// The post's first scheduled moment where `user` lives (now once it
    /// passed): nothing is published before it. Counted from when the post
    /// was written, so a share after a day's window does not wait for the
    /// next one.
    async fn first_moment(
        &self,
        tx: &mut dyn Tx,
        post: &Post,
        user: UserId,
        now: DateTime<Utc>,
    ) -> CoreResult<DateTime<Utc>> {
        let tz = self.member_time_zone(tx, user).await?;
        let window = tx.team_window(post.team_id).await?;
        Ok(post
            .content
            .schedule
            .slots(tz.tz(), window, post.created_at)
            .first()
            .map_or(now, |s| s.start.max(now)))
    }

    /// The team's shares in numbers (admins).
    pub async fn share_numbers(&self, access: &TeamAccess) -> CoreResult<ShareNumbers> {
        access.require_admin()?;
        let mut tx = self.store.begin_read().await?;
        let counts = tx.share_counts(access.team.id).await?;
        let members = tx.list_members(access.team.id).await?;
        let mut numbers = ShareNumbers::default();
        let bump = |list: &mut Vec<(String, i64)>, key: String, n: i64| match list
            .iter_mut()
            .find(|(k, _)| *k == key)
        {
            Some((_, total)) => *total += n,
            None => list.push((key, n)),
        };
        for c in &counts {
            let published = if c.status == ShareStatus::Published {
                c.count
            } else {
                0
            };
            let waiting = if c.status == ShareStatus::WaitingForReconnect {
                c.count
            } else {
                0
            };
            numbers.waiting += waiting;
            match numbers.by_post.iter_mut().find(|(p, ..)| *p == c.post_id) {
                Some((_, _, p, w)) => {
                    *p += published;
                    *w += waiting;
                }
                None => {
                    let text = tx
                        .post_by_id(access.team.id, c.post_id)
                        .await?
                        .map(|p| p.content.text.chars().take(80).collect())
                        .unwrap_or_default();
                    numbers.by_post.push((c.post_id, text, published, waiting));
                }
            }
            if published > 0 {
                let provider = crate::posts::notify::provider_name(&c.provider).to_owned();
                bump(&mut numbers.by_provider, provider, published);
                let name = members
                    .iter()
                    .find(|m| m.user.id == c.user_id)
                    .map_or_else(|| "A former member".to_owned(), |m| m.user.name.to_string());
                bump(&mut numbers.by_member, name, published);
            }
        }
        numbers
            .by_provider
            .sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        numbers
            .by_member
            .sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        Ok(numbers)
    }

    /// The team a post belongs to, for calls that name the post alone.
    pub async fn team_of_post(&self, post: PostId) -> CoreResult<apostle_domain::TeamId> {
        let mut tx = self.store.begin_read().await?;
        tx.post_team(post).await?.ok_or(CoreError::NotFound("post"))
    }

    /// The member's targets of a post, oldest first.
    pub async fn shares_of(
        &self,
        access: &TeamAccess,
        post: PostId,
    ) -> CoreResult<Vec<ShareTarget>> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx
            .share_targets_of(access.user.id, post)
            .await?
            .into_iter()
            .filter(|t| t.team_id == access.team.id)
            .collect())
    }

    /// The member's answer to shares held while a connection was broken:
    /// share them now or at a later moment (their account must work
    /// again), or discard them. Nothing held goes out without this.
    /// Answers how many it moved.
    pub async fn resume_waiting(
        &self,
        access: &TeamAccess,
        targets: &[apostle_domain::ShareTargetId],
        choice: HeldChoice,
    ) -> CoreResult<usize> {
        let now = self.clock.now();
        let share = choice != HeldChoice::Discard;
        let mut tx = self.store.begin().await?;
        let mut moved = 0;
        for id in targets {
            let Some(target) = tx
                .share_target(*id)
                .await?
                .filter(|t| t.user_id == access.user.id && t.team_id == access.team.id)
            else {
                return Err(CoreError::NotFound("share"));
            };
            let post = tx.post_by_id(target.team_id, target.post_id).await?;
            let live = post.as_ref().is_some_and(|p| p.is_live(now));
            if let (HeldChoice::At(at), Some(post)) = (choice, &post) {
                if at <= now {
                    return Err(invalid("at", "must be in the future"));
                }
                if live && at >= post.content.expires_at {
                    return Err(invalid("at", "must come before the post expires"));
                }
            }
            let (to, error) = if !share {
                (ShareStatus::Failed, Some("Discarded."))
            } else if !live {
                (
                    ShareStatus::Failed,
                    Some("The post expired before it went out."),
                )
            } else {
                let working = tx
                    .account_by_id(target.account_id)
                    .await?
                    .is_some_and(|a| a.status == ConnectionStatus::Active);
                if !working {
                    return Err(CoreError::Conflict(
                        "reconnect this account first: its shares are still held",
                    ));
                }
                (ShareStatus::Queued, None)
            };
            if let (HeldChoice::At(at), ShareStatus::Queued) = (choice, to) {
                if tx.schedule_share_target(target.id, at, now).await? {
                    moved += 1;
                    crate::jobs::enqueue_at(
                        &mut *tx,
                        &publish::PublishTarget { target: target.id },
                        at,
                        now,
                    )
                    .await?;
                }
                continue;
            }
            if tx
                .move_share_target(
                    target.id,
                    &[ShareStatus::WaitingForReconnect],
                    to,
                    None,
                    error,
                    now,
                )
                .await?
            {
                moved += 1;
                if to == ShareStatus::Queued {
                    crate::jobs::enqueue(
                        &mut *tx,
                        &publish::PublishTarget { target: target.id },
                        now,
                    )
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(moved)
    }

    /// The post a member's share target belongs to.
    pub async fn post_of_share(
        &self,
        access: &TeamAccess,
        target: &ShareTarget,
    ) -> CoreResult<Post> {
        let mut tx = self.store.begin_read().await?;
        tx.post_by_id(access.team.id, target.post_id)
            .await?
            .ok_or(CoreError::NotFound("post"))
    }

    /// The member's shares in this team, newest first: each post with its
    /// targets (the most recent [`HISTORY_LENGTH`] targets).
    pub async fn share_history(&self, access: &TeamAccess) -> CoreResult<Vec<SharedPost>> {
        let mut tx = self.store.begin_read().await?;
        let targets = tx
            .member_share_history(access.user.id, access.team.id, HISTORY_LENGTH)
            .await?;
        let mut ids: Vec<PostId> = targets.iter().map(|t| t.post_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut posts = tx.posts_by_ids(access.team.id, &ids).await?;
        // The member's accounts and the team's pages: every account a share
        // of theirs in this team can have gone to.
        let mut accounts = tx.personal_accounts(access.user.id).await?;
        accounts.extend(tx.business_accounts(access.team.id).await?);
        let mut out: Vec<SharedPost> = Vec::new();
        for target in targets {
            let Some(account) = accounts.iter().find(|a| a.id == target.account_id) else {
                continue;
            };
            let account = account.clone();
            match out.iter_mut().find(|p| p.post.id == target.post_id) {
                Some(entry) => entry.targets.push((target, account)),
                None => {
                    let Some(at) = posts.iter().position(|p| p.id == target.post_id) else {
                        continue;
                    };
                    out.push(SharedPost {
                        post: posts.swap_remove(at),
                        targets: vec![(target, account)],
                    });
                }
            }
        }
        Ok(out)
    }

    /// What waits for the member to reconnect, oldest first.
    pub async fn waiting_for_reconnect(&self, access: &TeamAccess) -> CoreResult<Vec<ShareTarget>> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx
            .member_share_targets(access.user.id, ShareStatus::WaitingForReconnect)
            .await?
            .into_iter()
            .filter(|t| t.team_id == access.team.id)
            .collect())
    }
}

/// Stores a queued target and its publish job, due no earlier than
/// `run_at`; `None` when a live target or the key already exists.
async fn queue_target(
    tx: &mut dyn Tx,
    target: &NewShareTarget,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> CoreResult<Option<ShareTarget>> {
    let Some(added) = tx.add_share_target(target).await? else {
        return Ok(None);
    };
    crate::jobs::enqueue_at(
        tx,
        &publish::PublishTarget { target: added.id },
        run_at.max(now),
        now,
    )
    .await?;
    Ok(Some(added))
}

/// The key of a business page's target, and the target holding it: one per
/// post and page whoever queued it (an approval, an admin's share), so the
/// page gets the post at most once. A failed target keeps its key, so a
/// new try takes the next key in its chain.
async fn page_key(
    tx: &mut dyn Tx,
    post: PostId,
    page: AccountId,
) -> CoreResult<(String, Option<ShareTarget>)> {
    let mut key = format!("page:{post}:{page}");
    loop {
        match tx.share_target_by_key(&key).await? {
            Some(failed) if failed.status == ShareStatus::Failed => {
                key = format!("page:{post}:{page}:after:{}", failed.id);
            }
            found => return Ok((key, found)),
        }
    }
}

/// The text a target publishes: the member's, else the post's variant for
/// the provider, else its text — checked against the provider's limit with
/// the link as it will be counted.
fn share_text(post: &Post, provider: &str, edited: Option<&str>) -> CoreResult<String> {
    let body = match edited.map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => text.to_owned(),
        None => post
            .content
            .variants
            .get(provider)
            .unwrap_or(&post.content.text)
            .clone(),
    };
    let limit = text_limit(provider).unwrap_or(usize::MAX);
    if counted_length(provider, &body, post.content.link.as_deref()) > limit {
        return Err(match provider {
            "x" => invalid(
                "text",
                "is longer than X allows (280 characters, a link counts as 23)",
            ),
            _ => invalid("text", "is longer than this network allows"),
        });
    }
    Ok(body)
}

/// Where a published post can be seen at its provider, from its id there.
pub fn provider_post_url(provider: &str, id: &str) -> Option<String> {
    match provider {
        "x" => Some(format!("https://x.com/i/web/status/{id}")),
        "linkedin" => Some(format!("https://www.linkedin.com/feed/update/{id}")),
        "facebook" => Some(format!("https://www.facebook.com/{id}")),
        _ => None,
    }
}
