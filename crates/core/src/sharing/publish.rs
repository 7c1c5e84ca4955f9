//! The publish job of one share target. At most once: the target is
//! `publishing` (in its own committed transaction) before the provider is
//! called. A run that finds it still `publishing` knows a worker died during
//! the call: it looks for the post among the account's recent posts before
//! any retry, and when the provider cannot tell, marks the target `unsure`
//! and the member is asked rather than risking a duplicate.
//!
//! Transient provider errors put the target back in the queue and retry
//! with backoff (a rate limit's reset honoured); an auth failure is handed
//! to the connection engine, which confirms and breaks the connection with
//! its one email, and the target waits for the reconnect; a refused post
//! fails with the provider's reason.

use crate::error::CoreResult;
use crate::jobs::{BackgroundJob, JobContext, JobError};
use crate::store::{AccountOwner, ConnectionStatus, ShareTarget, Tx};
use crate::Core;
use apostle_domain::{ShareStatus, ShareTargetId};
use apostle_providers::{Adapter, Classification, PostAs, PostContent, Provider};
use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Publishes one share target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishTarget {
    pub target: ShareTargetId,
}

impl BackgroundJob for PublishTarget {
    const KIND: &'static str = "publish_target";
    const MAX_ATTEMPTS: i32 = 8;

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("publish:{}", self.target))
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let last = ctx.is_last_attempt();
        ctx.core.publish_target(self.target, last).await
    }
}

const PUBLISHING: &[ShareStatus] = &[ShareStatus::Publishing];

/// How many of the account's newest posts recovery looks through.
const RECOVERY_LOOKBACK: usize = 20;

impl Core {
    /// One run of a target's publish job; `last` when no retry follows.
    pub async fn publish_target(&self, id: ShareTargetId, last: bool) -> Result<(), JobError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let Some(target) = tx.share_target(id).await? else {
            return Ok(());
        };
        if !matches!(target.status, ShareStatus::Queued | ShareStatus::Publishing) {
            return Ok(());
        }
        let account = tx.account_by_id(target.account_id).await?;
        let grant = match &account {
            Some(a) => tx.grant_by_id(a.grant_id).await?,
            None => None,
        };
        let post = tx.post_by_id(target.team_id, target.post_id).await?;
        let (Some(account), Some(grant), Some(post)) = (account, grant, post) else {
            tx.move_share_target(
                id,
                &[ShareStatus::Queued, ShareStatus::Publishing],
                ShareStatus::Failed,
                None,
                Some("The account or the post is gone."),
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(());
        };
        if target.status == ShareStatus::Publishing {
            drop(tx);
            return self.recover(&target, &account, &grant, &post).await;
        }
        if account.status == ConnectionStatus::Broken || grant.status == ConnectionStatus::Broken {
            return end_queued(tx, id, ShareStatus::WaitingForReconnect, None, now).await;
        }
        // A rescheduled share waits for its moment, whoever runs the job.
        if let Some(at) = target.publish_after.filter(|at| *at > now) {
            return Err(JobError::RetryAt(at, "rescheduled for later".to_owned()));
        }
        if !post.is_live(now) {
            let expired = Some("The post expired before it went out.");
            return end_queued(tx, id, ShareStatus::Failed, expired, now).await;
        }
        // An adapter or token we cannot have is ours to fix, not the provider's:
        // fail the target with the reason before anything is called.
        let (adapter, token) = match self.publisher(&target, &account, &grant) {
            Ok(ready) => ready,
            Err(e) => {
                let unable = Some("Apostle cannot publish to this network right now.");
                end_queued(tx, id, ShareStatus::Failed, unable, now).await?;
                return Err(e);
            }
        };
        // Committed before the call: a crash from here on leaves it publishing.
        if !tx
            .move_share_target(
                id,
                &[ShareStatus::Queued],
                ShareStatus::Publishing,
                None,
                None,
                now,
            )
            .await?
        {
            return Ok(());
        }
        tx.commit().await?;

        let as_ = match account.owner {
            AccountOwner::Personal(_) => PostAs::Member(&grant.external_user_id),
            AccountOwner::Business(_) => PostAs::Page(&account.external_id),
        };
        let content = self.publish_content(&target, &post).await?;
        let result = adapter.publish(&token, as_, &content).await;
        let now = self.clock.now();
        match result {
            Ok(published) => {
                self.settle(id, ShareStatus::Published, Some(&published.id), None)
                    .await?;
                metrics::counter!("apostle_publishes_total", "provider" => target.provider.clone(), "outcome" => "published").increment(1);
                Ok(())
            }
            Err(e) => match e.classification() {
                Classification::Transient { retry_after } if !last => {
                    self.settle(id, ShareStatus::Queued, None, None).await?;
                    let wait = retry_after
                        .and_then(|d| Duration::from_std(d).ok())
                        .unwrap_or(Duration::zero());
                    Err(if wait > Duration::zero() {
                        JobError::RetryAt(now + wait, format!("{} is busy: {e}", target.provider))
                    } else {
                        JobError::Retry(format!("{} is busy: {e}", target.provider))
                    })
                }
                Classification::Broken { .. } => {
                    // The connection engine confirms (a refresh, a probe) and breaks
                    // the connection once, with its email.
                    self.check_grant_now(grant.id).await?;
                    let healthy = {
                        let mut tx = self.store.begin_read().await?;
                        tx.grant_by_id(grant.id)
                            .await?
                            .is_some_and(|g| g.status == ConnectionStatus::Active)
                    };
                    if healthy && !last {
                        self.settle(id, ShareStatus::Queued, None, None).await?;
                        return Err(JobError::Retry(
                            "refused once, healthy after a check".into(),
                        ));
                    }
                    self.settle(id, ShareStatus::WaitingForReconnect, None, None)
                        .await?;
                    Ok(())
                }
                _ => {
                    let reason = format!(
                        "{} did not publish it: {e}",
                        crate::posts::notify::provider_name(&target.provider)
                    );
                    self.settle(id, ShareStatus::Failed, None, Some(&reason))
                        .await?;
                    metrics::counter!("apostle_publishes_total", "provider" => target.provider.clone(), "outcome" => "failed").increment(1);
                    Ok(())
                }
            },
        }
    }

    /// A worker died during the provider call: whether the post went out is
    /// unknown. The account's recent posts tell: found, it is published;
    /// surely absent, it goes back to the queue; if the provider cannot be
    /// asked, the member is, instead of risking a duplicate.
    async fn recover(
        &self,
        target: &ShareTarget,
        account: &crate::store::Account,
        grant: &crate::store::Grant,
        post: &crate::store::Post,
    ) -> Result<(), JobError> {
        let (adapter, token) = self.publisher(target, account, grant)?;
        let as_ = match account.owner {
            AccountOwner::Personal(_) => PostAs::Member(&grant.external_user_id),
            AccountOwner::Business(_) => PostAs::Page(&account.external_id),
        };
        let content = self.publish_content(target, post).await?;
        let expected = adapter.published_text(&content);
        match adapter.recent_posts(&token, as_, RECOVERY_LOOKBACK).await {
            Ok(recent) => match recent.iter().find(|p| p.text == expected) {
                Some(found) => {
                    tracing::info!(
                        target = target.id.0,
                        "interrupted publish found at the provider"
                    );
                    self.settle(target.id, ShareStatus::Published, Some(&found.id), None)
                        .await?;
                    Ok(())
                }
                None => {
                    tracing::info!(
                        target = target.id.0,
                        "interrupted publish not at the provider: again"
                    );
                    self.settle(target.id, ShareStatus::Queued, None, None)
                        .await?;
                    Err(JobError::Retry(
                        "the interrupted post is not at the provider".to_owned(),
                    ))
                }
            },
            Err(e) => {
                tracing::warn!(target = target.id.0, error = %e, "cannot tell whether an interrupted publish went out");
                self.settle(
                    target.id,
                    ShareStatus::Unsure,
                    None,
                    Some("We could not tell whether this went out. Look at your account and share again if it is not there."),
                )
                .await?;
                Ok(())
            }
        }
    }

    /// Records how a provider call ended (the target was `publishing`).
    async fn settle(
        &self,
        id: ShareTargetId,
        to: ShareStatus,
        provider_post_id: Option<&str>,
        error: Option<&str>,
    ) -> CoreResult<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        tx.move_share_target(id, PUBLISHING, to, provider_post_id, error, now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The provider's adapter and the token a target publishes with.
    fn publisher(
        &self,
        target: &ShareTarget,
        account: &crate::store::Account,
        grant: &crate::store::Grant,
    ) -> Result<(&Adapter, SecretString), JobError> {
        let provider = Provider::parse(&target.provider)
            .map_err(|e| JobError::Permanent(format!("stored provider: {e}")))?;
        let adapter = self
            .connections
            .adapter(provider)
            .map_err(|e| JobError::Permanent(format!("publishing to {}: {e}", target.provider)))?;
        Ok((adapter, self.publish_token(account, grant)?))
    }

    /// The token a target publishes with: a Facebook page's own, otherwise
    /// the login's.
    fn publish_token(
        &self,
        account: &crate::store::Account,
        grant: &crate::store::Grant,
    ) -> Result<SecretString, JobError> {
        match (&account.owner, &account.page_token) {
            (AccountOwner::Business(team), Some(sealed)) => {
                let place = crate::connections::places::page_token(
                    *team,
                    &account.provider,
                    &account.external_id,
                );
                self.keyring
                    .open_text(sealed, &place)
                    .map(SecretString::from)
                    .map_err(|e| JobError::Permanent(format!("page token of {}: {e}", account.id)))
            }
            _ => Ok(self.access_token(grant)?),
        }
    }

    /// What goes out: the target's text, the link with the post's UTM
    /// parameters, its title and the image's public URL.
    async fn publish_content(
        &self,
        target: &ShareTarget,
        post: &crate::store::Post,
    ) -> CoreResult<PostContent> {
        let link = post.shared_link();
        let image_url = {
            let mut tx = self.store.begin_read().await?;
            self.image_of(&mut *tx, post)
                .await?
                .and_then(|u| url::Url::parse(&u).ok())
        };
        Ok(PostContent {
            text: target.text.clone(),
            link,
            link_title: post.content.link_title.clone(),
            image_url,
        })
    }
}

/// Ends a queued target without calling the provider, and commits.
async fn end_queued(
    mut tx: Box<dyn Tx>,
    id: ShareTargetId,
    to: ShareStatus,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), JobError> {
    tx.move_share_target(id, &[ShareStatus::Queued], to, None, error, now)
        .await?;
    tx.commit().await?;
    Ok(())
}
