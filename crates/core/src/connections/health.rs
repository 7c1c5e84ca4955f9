//! Keeping grants healthy: the scheduler claims due grants through their index (its
//! cost follows the due work), and each claimed grant is refreshed before expiry or
//! probed, under a lease with its writes fenced by the grant's generation (design.md
//! §2 rules 1–7). Transient failures back off without touching health; a confirmed
//! break happens once and emails the owner in the same transaction; a grant broken for
//! an action at the provider heals at the next probe that succeeds.

use super::flows::{event, heal_accounts};
use super::notify;
use super::{provider_of, refresh_margin, Connections};
use crate::error::CoreResult;
use crate::secrets::random_token;
use crate::store::{Account, AccountOwner, ConnectionStatus, Grant, NewConnectionEvent, Tx};
use crate::Core;
use apostle_domain::GrantId;
use apostle_providers::{Adapter, BreakReason, Classification, Confirm, Provider};
use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What one check of a grant did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The token works (probed, or refreshed).
    Healthy,
    Refreshed,
    /// Broken now, with this reason (by this check, or found broken already).
    Broken(BreakReason),
    /// A grant broken for an action at the provider works again.
    Healed,
    /// A provider hiccup (or our configuration): tried again later, health unchanged.
    Deferred,
    /// Another worker holds the grant, or it is gone.
    Skipped,
}

/// Which call of a check failed.
#[derive(Clone, Copy)]
enum Step {
    /// `rejected`: the refresh was tried because the provider had just refused the
    /// access token, so a refused refresh too means the access was revoked.
    Refresh {
        rejected: bool,
    },
    Probe,
}

/// A transient failure is tried again after this when the provider names no time.
const TRANSIENT_BACKOFF: Duration = Duration::minutes(5);
/// Our configuration is wrong: operators fix it; probing harder helps nobody.
const CONFIGURATION_BACKOFF: Duration = Duration::minutes(30);
/// A grant broken for an action at the provider is probed this often until it heals.
const ACTION_PROBE: Duration = Duration::hours(1);
/// The timeline's mark of a refused single-use refresh token, awaiting confirmation.
const REFRESH_REFUSED: &str = "refresh_refused";
/// Reminders before a token that cannot be refreshed expires (design.md §2 rule 7).
const REMINDERS: [Duration; 2] = [Duration::days(7), Duration::days(1)];

impl Core {
    /// One round of the scheduler: claims the grants that are due and checks them with
    /// `concurrency` checks in flight, claiming more as checks finish (a quarter of the
    /// slots at a time, so claims stay batched) until a claim finds fewer than it asked
    /// for. Returns how many were checked. Tests call this instead of waiting for the
    /// runner.
    pub async fn check_due_connections(&self) -> CoreResult<usize> {
        let settings = &self.connections.settings;
        let slots = settings.concurrency.max(1);
        let refill = (slots / 4).max(1);
        let mut running = JoinSet::new();
        let mut checked = 0;
        let mut exhausted = false;
        loop {
            let free = slots - running.len();
            if !exhausted && (free >= refill || running.is_empty()) {
                let want = free.min(settings.batch.max(1) as usize);
                let grants = self
                    .store
                    .claim_due_grants(self.engine_now(), settings.lease, want as i64)
                    .await?;
                exhausted = grants.len() < want;
                checked += grants.len();
                for grant in grants {
                    let core = self.clone();
                    running.spawn(async move { core.check_leased(grant).await });
                }
            }
            match running.join_next().await {
                None => return Ok(checked),
                Some(Ok(Err(e))) => tracing::error!(error = %e, "checking a connection"),
                Some(Err(e)) if e.is_panic() => tracing::error!("a connection check panicked"),
                Some(_) => {}
            }
        }
    }

    /// Checks one grant now ("check now"). A check by another worker holds the grant
    /// for a moment: wait for it (a few seconds at most) rather than answer with what
    /// was known before.
    pub(crate) async fn check_grant_now(&self, grant: GrantId) -> CoreResult<CheckOutcome> {
        for _ in 0..50 {
            let now = self.engine_now();
            let token = random_token();
            let mut tx = self.store.begin().await?;
            let leased = tx
                .lease_grant(grant, &token, now, now + self.connections.settings.lease)
                .await?;
            tx.commit().await?;
            if let Some(grant) = leased {
                return self.check_leased_probing(grant, true).await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Ok(CheckOutcome::Skipped)
    }

    async fn check_leased(&self, grant: Grant) -> CoreResult<CheckOutcome> {
        self.check_leased_probing(grant, false).await
    }

    /// Checks a grant this worker leased: the claim returned the row as it is now,
    /// read after the lease was taken, so its refresh token is the current one.
    async fn check_leased_probing(&self, grant: Grant, forced: bool) -> CoreResult<CheckOutcome> {
        let provider = provider_of(&grant.provider)?;
        let now = self.engine_now();
        let Ok(adapter) = self.connections.adapter(provider) else {
            // Not configured here (any more): look again later, change nothing.
            self.release(&grant, now + self.connections.settings.probe_interval)
                .await?;
            return Ok(CheckOutcome::Deferred);
        };
        if grant.status == ConnectionStatus::Broken {
            return self.probe_broken(adapter, provider, &grant).await;
        }
        let refreshable = self.refreshable(&grant);
        let outcome = if refreshable
            && (now
                >= grant.access_expires_at
                    - refresh_margin(grant.updated_at, grant.access_expires_at))
        {
            self.refresh(adapter, provider, &grant, false).await?
        } else if !refreshable && now >= grant.access_expires_at {
            self.break_grant(&grant, BreakReason::TokenExpired, "the token expired")
                .await?;
            CheckOutcome::Broken(BreakReason::TokenExpired)
        } else {
            if !refreshable {
                self.remind_expiry(&grant, now).await?;
            }
            self.probe(adapter, provider, &grant, forced).await?
        };
        Ok(outcome)
    }

    async fn refresh(
        &self,
        adapter: &Adapter,
        provider: Provider,
        grant: &Grant,
        rejected: bool,
    ) -> CoreResult<CheckOutcome> {
        let Some(refresh_token) = self.open_grant_token(grant, "refresh")? else {
            return Ok(CheckOutcome::Skipped);
        };
        match adapter.refresh(&refresh_token).await {
            Ok(tokens) => {
                self.connections.clear_alarm(provider);
                count("refreshes", provider, "ok");
                let now = self.engine_now();
                let sealed = self.seal_tokens(
                    grant.owner,
                    provider,
                    &grant.external_user_id,
                    &tokens,
                    &grant
                        .scopes
                        .split(' ')
                        .map(str::to_owned)
                        .collect::<Vec<_>>(),
                    now,
                );
                let next = self.next_due_after_tokens(
                    now,
                    sealed.access_expires_at,
                    true,
                    now + self.connections.settings.probe_interval,
                );
                // One transaction: the rotated refresh token is saved with the access
                // token, or neither is (rule 3).
                let mut tx = self.store.begin().await?;
                let stored = tx
                    .store_grant_tokens(grant.id, grant.generation, &sealed, now)
                    .await?;
                if stored {
                    event(&mut *tx, grant, None, "refreshed", now, "").await?;
                }
                tx.mark_grant_checked(grant.id, now).await?;
                release_in(&mut *tx, grant, next).await?;
                tx.commit().await?;
                Ok(CheckOutcome::Refreshed)
            }
            Err(e) => {
                count("refreshes", provider, outcome_label(&e.classification()));
                self.failed(adapter, provider, grant, Step::Refresh { rejected }, &e)
                    .await
            }
        }
    }

    async fn probe(
        &self,
        adapter: &Adapter,
        provider: Provider,
        grant: &Grant,
        forced: bool,
    ) -> CoreResult<CheckOutcome> {
        let token = self.access_token(grant)?;
        let result = adapter.probe(&token).await;
        count(
            "probes",
            provider,
            result
                .as_ref()
                .map_or_else(|e| outcome_label(&e.classification()), |_| "ok"),
        );
        if let Err(e) = result {
            return self.failed(adapter, provider, grant, Step::Probe, &e).await;
        }
        self.connections.clear_alarm(provider);
        // A login that serves pages is also asked which pages it still manages: a lost
        // role breaks that page only.
        self.check_pages(adapter, provider, grant, &token).await?;
        let now = self.engine_now();
        let next = self.next_probe(grant, now);
        let mut tx = self.store.begin().await?;
        if forced {
            event(&mut *tx, grant, None, "checked", now, "").await?;
        }
        tx.mark_grant_checked(grant.id, now).await?;
        release_in(&mut *tx, grant, next).await?;
        tx.commit().await?;
        Ok(CheckOutcome::Healthy)
    }

    async fn check_pages(
        &self,
        adapter: &Adapter,
        provider: Provider,
        grant: &Grant,
        token: &secrecy::SecretString,
    ) -> CoreResult<()> {
        if provider == Provider::X {
            return Ok(());
        }
        let accounts: Vec<Account> = {
            let mut tx = self.store.begin_read().await?;
            tx.accounts_of_grant(grant.id).await?
        };
        let pages: Vec<&Account> = accounts
            .iter()
            .filter(|a| {
                matches!(a.owner, AccountOwner::Business(_))
                    && a.status != ConnectionStatus::Removed
            })
            .collect();
        if pages.is_empty() {
            return Ok(());
        }
        let managed = match adapter.pages(token).await {
            Ok(managed) => managed,
            // The probe just succeeded; a failing listing is looked at next time.
            Err(e) => {
                tracing::warn!(%provider, error = %e, "listing pages during a probe");
                return Ok(());
            }
        };
        for account in pages {
            let still = managed.iter().any(|p| p.id == account.external_id);
            let lost = account.break_reason.as_deref() == Some("page_access_lost");
            if !still && account.status == ConnectionStatus::Active {
                self.break_account(grant, account, BreakReason::PageAccessLost)
                    .await?;
            } else if still && lost {
                let now = self.engine_now();
                let mut tx = self.store.begin().await?;
                if tx
                    .set_account_status(
                        account.owner,
                        account.id,
                        ConnectionStatus::Active,
                        None,
                        now,
                    )
                    .await?
                {
                    event(
                        &mut *tx,
                        grant,
                        Some(account.id),
                        "healed",
                        now,
                        "page role back",
                    )
                    .await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// A grant broken for an action at the provider: a probe that works heals it.
    async fn probe_broken(
        &self,
        adapter: &Adapter,
        provider: Provider,
        grant: &Grant,
    ) -> CoreResult<CheckOutcome> {
        let token = self.access_token(grant)?;
        let now = self.engine_now();
        match adapter.probe(&token).await {
            Ok(()) => {
                count("probes", provider, "ok");
                let next = self.next_probe(grant, now);
                let mut tx = self.store.begin().await?;
                let healed = tx.mark_grant_active(grant.id, next, now).await?;
                if healed {
                    heal_accounts(&mut *tx, grant.id, now).await?;
                    event(&mut *tx, grant, None, "healed", now, "").await?;
                }
                release_in(&mut *tx, grant, next).await?;
                tx.commit().await?;
                Ok(if healed {
                    CheckOutcome::Healed
                } else {
                    CheckOutcome::Skipped
                })
            }
            Err(e) => {
                count("probes", provider, outcome_label(&e.classification()));
                self.release(grant, now + ACTION_PROBE).await?;
                Ok(CheckOutcome::Deferred)
            }
        }
    }

    /// Rule 9, the probe right after a callback: `Some(words)` when the provider
    /// refuses the new token outright (the grant is broken, and its owner told). A
    /// hiccup, or an answer known to be spurious right after a login (LinkedIn
    /// 65601), is left to the scheduler's next probe.
    pub(super) async fn verify_grant(&self, grant: &Grant) -> CoreResult<Option<String>> {
        let provider = provider_of(&grant.provider)?;
        let adapter = self.connections.adapter(provider)?;
        let token = self.access_token(grant)?;
        let Err(error) = adapter.probe(&token).await else {
            count("probes", provider, "ok");
            return Ok(None);
        };
        count("probes", provider, outcome_label(&error.classification()));
        match error.classification() {
            Classification::Broken {
                reason,
                confirm: Confirm::No,
            } => {
                self.break_grant(grant, reason, &error.to_string()).await?;
                Ok(Some(format!(
                    "{} accepted the sign-in but then refused Apostle's access: {}",
                    provider.display_name(),
                    reason.description()
                )))
            }
            _ => {
                tracing::info!(%provider, error = %error, "verifying probe inconclusive; the scheduler probes again");
                Ok(None)
            }
        }
    }

    /// What a failed refresh or probe means for the grant (rules 4 and 5).
    async fn failed(
        &self,
        adapter: &Adapter,
        provider: Provider,
        grant: &Grant,
        step: Step,
        error: &apostle_providers::Error,
    ) -> CoreResult<CheckOutcome> {
        let now = self.engine_now();
        match error.classification() {
            Classification::Transient { retry_after } => {
                tracing::info!(%provider, grant = grant.id.0, error = %error, "provider hiccup, backing off");
                let wait = retry_after
                    .and_then(|d| Duration::from_std(d).ok())
                    .unwrap_or(TRANSIENT_BACKOFF);
                self.defer(grant, now + wait, "transient", &error.to_string())
                    .await?;
                Ok(CheckOutcome::Deferred)
            }
            Classification::Configuration => {
                self.connections.raise_alarm(provider, error.to_string());
                self.release(grant, now + CONFIGURATION_BACKOFF).await?;
                Ok(CheckOutcome::Deferred)
            }
            Classification::PostRejected | Classification::Unknown => {
                tracing::warn!(%provider, grant = grant.id.0, error = %error, "unrecognised provider answer, trying later");
                self.defer(
                    grant,
                    now + TRANSIENT_BACKOFF,
                    "unknown",
                    &error.to_string(),
                )
                .await?;
                Ok(CheckOutcome::Deferred)
            }
            Classification::Broken { reason, confirm } => {
                if matches!(step, Step::Refresh { .. }) && self.rotated_meanwhile(grant).await? {
                    // Another worker rotated the refresh token since this one read it
                    // (providers.md, X): not a break.
                    self.release(grant, now).await?;
                    return Ok(CheckOutcome::Skipped);
                }
                if matches!(step, Step::Refresh { rejected: false })
                    && adapter.rotates_refresh_tokens()
                    && !self.refused_before(grant).await?
                {
                    // A single-use refresh token refused: a worker whose lease ran out
                    // may still be storing the one that replaced it. Look again once
                    // such a worker would be done; refused again, it is a break.
                    let detail = grant.generation.to_string();
                    let again = now + self.connections.settings.lease * 2;
                    self.defer(grant, again, REFRESH_REFUSED, &detail).await?;
                    return Ok(CheckOutcome::Deferred);
                }
                match confirm {
                    Confirm::Probe if matches!(step, Step::Probe) => {
                        // Known to be said spuriously (LinkedIn 65601 right after a
                        // login): believe it only if one more probe fails too.
                        let token = self.access_token(grant)?;
                        if adapter.probe(&token).await.is_ok() {
                            self.defer(
                                grant,
                                now + TRANSIENT_BACKOFF,
                                "unconfirmed",
                                &error.to_string(),
                            )
                            .await?;
                            return Ok(CheckOutcome::Healthy);
                        }
                    }
                    Confirm::Refresh
                        if matches!(step, Step::Probe)
                            && adapter.can_refresh()
                            && grant.refresh_token.is_some() =>
                    {
                        return Box::pin(self.refresh(adapter, provider, grant, true)).await;
                    }
                    _ => {}
                }
                let reason = match (step, reason) {
                    (Step::Refresh { rejected: true }, BreakReason::RefreshFailed) => {
                        BreakReason::TokenRevoked
                    }
                    _ => reason,
                };
                self.break_grant(grant, reason, &error.to_string()).await?;
                Ok(CheckOutcome::Broken(reason))
            }
        }
    }

    /// Whether this grant's refresh token, at this generation, was refused before.
    async fn refused_before(&self, grant: &Grant) -> CoreResult<bool> {
        let mut tx = self.store.begin_read().await?;
        let latest = tx.connection_events(grant.id, 1).await?;
        let generation = grant.generation.to_string();
        Ok(latest
            .first()
            .is_some_and(|e| e.kind == REFRESH_REFUSED && e.detail == generation))
    }

    async fn rotated_meanwhile(&self, grant: &Grant) -> CoreResult<bool> {
        let mut tx = self.store.begin_read().await?;
        let now = tx.grant_by_id(grant.id).await?;
        Ok(now.is_none_or(|g| g.generation != grant.generation))
    }

    /// ACTIVE → BROKEN once (compare-and-set), every account under it with it, and in
    /// the same transaction one email per owner naming them all (rule 6).
    pub(super) async fn break_grant(
        &self,
        grant: &Grant,
        reason: BreakReason,
        detail: &str,
    ) -> CoreResult<bool> {
        let now = self.engine_now();
        let mut tx = self.store.begin().await?;
        let broke = tx.mark_grant_broken(grant.id, reason.as_str(), now).await?;
        let next = if reason == BreakReason::ProviderActionRequired {
            now + ACTION_PROBE
        } else {
            now + self.connections.settings.probe_interval
        };
        if broke {
            let mut broken = Vec::new();
            for account in tx.accounts_of_grant(grant.id).await? {
                if account.status == ConnectionStatus::Active
                    && tx
                        .set_account_status(
                            account.owner,
                            account.id,
                            ConnectionStatus::Broken,
                            Some(reason.as_str()),
                            now,
                        )
                        .await?
                {
                    broken.push(account);
                }
            }
            broke_event(&mut *tx, grant.id, None, reason, now, detail).await?;
            notify::broken(self, &mut *tx, grant, &broken, reason).await?;
            // Facebook and Instagram share one Facebook login: what killed one
            // grant of it most likely killed the other, so it is checked now.
            if let Some(sibling) = meta_sibling(&grant.provider) {
                for other in tx.grants_of_login(sibling, &grant.external_user_id).await? {
                    if other.owner == grant.owner && other.status == ConnectionStatus::Active {
                        tx.set_grant_next_due(other.id, now).await?;
                    }
                }
            }
            count_break(grant, reason);
            tracing::info!(grant = grant.id.0, provider = %grant.provider, %reason, "connection broke");
        }
        if grant.lease_token.is_some() {
            release_in(&mut *tx, grant, next).await?;
        }
        tx.commit().await?;
        Ok(broke)
    }

    /// One page breaks on its own (a lost role): that page only, one email.
    pub(super) async fn break_account(
        &self,
        grant: &Grant,
        account: &Account,
        reason: BreakReason,
    ) -> CoreResult<bool> {
        let now = self.engine_now();
        let mut tx = self.store.begin().await?;
        let broke = tx
            .set_account_status(
                account.owner,
                account.id,
                ConnectionStatus::Broken,
                Some(reason.as_str()),
                now,
            )
            .await?;
        if broke {
            broke_event(&mut *tx, grant.id, Some(account.id), reason, now, "").await?;
            notify::broken(self, &mut *tx, grant, std::slice::from_ref(account), reason).await?;
            count_break(grant, reason);
        }
        tx.commit().await?;
        Ok(broke)
    }

    /// Reminders 7 days and 1 day before a token that cannot be refreshed expires;
    /// each is sent once (its dedupe key names the token's expiry).
    async fn remind_expiry(&self, grant: &Grant, now: DateTime<Utc>) -> CoreResult<()> {
        let left = grant.access_expires_at - now;
        let Some(window) = REMINDERS.iter().rev().find(|w| left <= **w) else {
            return Ok(());
        };
        let mut tx = self.store.begin().await?;
        let accounts = tx.accounts_of_grant(grant.id).await?;
        let live: Vec<Account> = accounts
            .into_iter()
            .filter(|a| a.status == ConnectionStatus::Active)
            .collect();
        notify::expiring(self, &mut *tx, grant, &live, window.num_days()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release(&self, grant: &Grant, next: DateTime<Utc>) -> CoreResult<()> {
        let mut tx = self.store.begin().await?;
        release_in(&mut *tx, grant, next).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Tries again at `next`, health unchanged, with the hiccup on the timeline.
    async fn defer(
        &self,
        grant: &Grant,
        next: DateTime<Utc>,
        kind: &str,
        detail: &str,
    ) -> CoreResult<()> {
        let now = self.engine_now();
        let mut tx = self.store.begin().await?;
        event(&mut *tx, grant, None, kind, now, detail).await?;
        release_in(&mut *tx, grant, next).await?;
        tx.commit().await?;
        Ok(())
    }

    /// When a grant whose tokens did not change is next due, after a check at `now`.
    fn next_probe(&self, grant: &Grant, now: DateTime<Utc>) -> DateTime<Utc> {
        self.next_due_after_tokens(
            now,
            grant.access_expires_at,
            self.refreshable(grant),
            now + self.connections.settings.probe_interval,
        )
    }

    /// When a grant is next due after its tokens were written at `now`: before the
    /// refresh margin for refreshable tokens; for the others at the next reminder or
    /// the expiry; never later than `probe_at`.
    pub(super) fn next_due_after_tokens(
        &self,
        now: DateTime<Utc>,
        access_expires_at: DateTime<Utc>,
        refreshable: bool,
        probe_at: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let soonest = now + Duration::seconds(1);
        let milestone = if refreshable {
            access_expires_at - refresh_margin(now, access_expires_at)
        } else {
            REMINDERS
                .iter()
                .map(|w| access_expires_at - *w)
                .chain([access_expires_at])
                .find(|at| *at > now)
                .unwrap_or(access_expires_at)
        };
        std::cmp::max(std::cmp::min(milestone, probe_at), soonest)
    }
}

/// The other provider on the same Facebook login.
fn meta_sibling(provider: &str) -> Option<&'static str> {
    match Provider::parse(provider).ok()? {
        Provider::Facebook => Some(Provider::Instagram.as_str()),
        Provider::Instagram => Some(Provider::Facebook.as_str()),
        Provider::LinkedIn | Provider::X => None,
    }
}

async fn release_in(tx: &mut dyn Tx, grant: &Grant, next: DateTime<Utc>) -> CoreResult<()> {
    if let Some(lease) = grant.lease_token.as_deref() {
        tx.release_grant_lease(grant.id, lease, next).await?;
    }
    Ok(())
}

async fn broke_event(
    tx: &mut dyn Tx,
    grant: GrantId,
    account: Option<apostle_domain::AccountId>,
    reason: BreakReason,
    at: DateTime<Utc>,
    detail: &str,
) -> CoreResult<()> {
    tx.append_connection_event(&NewConnectionEvent {
        grant_id: grant,
        account_id: account,
        kind: "broken".to_owned(),
        reason: Some(reason.as_str().to_owned()),
        at,
        detail: detail.to_owned(),
    })
    .await?;
    Ok(())
}

fn outcome_label(classification: &Classification) -> &'static str {
    match classification {
        Classification::Transient { .. } => "transient",
        Classification::Broken { .. } => "broken",
        Classification::Configuration => "configuration",
        Classification::PostRejected | Classification::Unknown => "unknown",
    }
}

fn count(what: &'static str, provider: Provider, outcome: &'static str) {
    let name = match what {
        "refreshes" => "apostle_connection_refreshes_total",
        _ => "apostle_connection_probes_total",
    };
    metrics::counter!(name, "provider" => provider.as_str(), "outcome" => outcome).increment(1);
}

fn count_break(grant: &Grant, reason: BreakReason) {
    metrics::counter!("apostle_connection_breaks_total",
        "provider" => grant.provider.clone(), "reason" => reason.as_str())
    .increment(1);
}

/// Runs the scheduler until shutdown: a round whenever grants are due, otherwise a
/// short sleep; and once a minute the connection gauges and the teams' automatic
/// reminders.
pub struct HealthRunner {
    core: Core,
    /// Sleep between rounds that found nothing due.
    pub idle: std::time::Duration,
}

impl HealthRunner {
    pub fn new(core: Core) -> Self {
        HealthRunner {
            core,
            idle: std::time::Duration::from_millis(500),
        }
    }

    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!("connection health runner started");
        let mut gauges_at = self.core.clock.now();
        while !*shutdown.borrow() {
            if self.core.clock.now() >= gauges_at {
                gauges_at = self.core.clock.now() + Duration::minutes(1);
                if let Err(e) = self.core.update_connection_gauges().await {
                    tracing::warn!(error = %e, "counting connections");
                }
                match self.core.send_due_reminders().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(reminders = n, "automatic reconnect reminders queued"),
                    Err(e) => tracing::warn!(error = %e, "sending automatic reminders"),
                }
            }
            // A round runs until nothing was due when it last looked: go again at once
            // if it found work, sleep otherwise.
            let busy = match self.core.check_due_connections().await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::error!(error = %e, "claiming due connections");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(self.idle) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        tracing::info!("connection health runner stopped");
    }
}

impl Connections {
    /// Whether anything can be checked at all.
    pub fn any_configured(&self) -> bool {
        Provider::ALL.iter().any(|p| self.is_configured(*p))
    }
}
