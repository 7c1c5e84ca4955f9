//! Team connection health, for a team's admins: how the team's business pages and
//! its members' personal accounts stand, which need attention, each one's timeline,
//! breaks and reconnects day by day, and the reminder an admin sends members whose
//! personal accounts are broken.

use super::manage::{events_of, view};
use super::Connection;
use crate::alerts;
use crate::email::{queue_email, NamedAccount, ReconnectReminderEmail};
use crate::error::{CoreError, CoreResult};
use crate::store::{
    Account, AccountKind, AccountOwner, AlertKind, ConnectionEvent, ConnectionStatus, Tx,
};
use crate::teams::TeamAccess;
use crate::Core;
use apostle_domain::{AccountId, UserId};
use apostle_providers::Provider;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use std::collections::BTreeMap;

/// How many days the breaks-and-reconnects chart covers.
pub const CHART_DAYS: i64 = 30;

/// One member and their broken personal accounts.
#[derive(Debug, Clone)]
pub struct BrokenMember {
    pub user: UserId,
    pub name: String,
    pub accounts: Vec<Connection>,
}

/// One day of the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTally {
    pub day: NaiveDate,
    pub breaks: usize,
    pub reconnects: usize,
}

/// What the team's health page shows.
#[derive(Debug, Clone)]
pub struct TeamHealth {
    /// Every live connection of the team: business pages and members' personal accounts.
    pub connections: Vec<Connection>,
    pub broken_members: Vec<BrokenMember>,
    /// The last [`CHART_DAYS`] days, oldest first, today last.
    pub days: Vec<DayTally>,
    /// When it was read, on the engine's clock.
    pub as_of: DateTime<Utc>,
}

/// Pages whose access ends within this many days are listed as expiring soon: the
/// first reminder goes out 7 days before, so a fortnight gives admins a head start.
pub const EXPIRING_WITHIN_DAYS: i64 = 14;

/// How many of one provider's pages or accounts are healthy and broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCount {
    pub provider: Provider,
    pub kind: AccountKind,
    pub healthy: usize,
    pub broken: usize,
}

impl TeamHealth {
    /// Counts by provider and kind, leaving out what the team has none of.
    pub fn counts(&self) -> Vec<HealthCount> {
        let mut out = Vec::new();
        for kind in [AccountKind::Business, AccountKind::Personal] {
            for provider in Provider::ALL {
                let of = |status| {
                    self.connections
                        .iter()
                        .filter(|c| c.provider == provider && c.kind == kind && c.status == status)
                        .count()
                };
                let count = HealthCount {
                    provider,
                    kind,
                    healthy: of(ConnectionStatus::Active),
                    broken: of(ConnectionStatus::Broken),
                };
                if count.healthy + count.broken > 0 {
                    out.push(count);
                }
            }
        }
        out
    }

    /// Healthy business pages whose access ends within [`EXPIRING_WITHIN_DAYS`] unless
    /// reconnected (tokens that cannot be refreshed), soonest first, with whole days left.
    pub fn expiring_pages(&self) -> Vec<(&Connection, i64)> {
        let mut soon: Vec<(&Connection, i64)> = self
            .connections
            .iter()
            .filter(|c| c.kind == AccountKind::Business && c.status == ConnectionStatus::Active)
            .filter_map(|c| c.expires_at.map(|at| (c, (at - self.as_of).num_days())))
            .filter(|(_, left)| *left <= EXPIRING_WITHIN_DAYS)
            .collect();
        soon.sort_by_key(|(_, left)| *left);
        soon
    }

    /// Business pages that need attention.
    pub fn broken_pages(&self) -> impl Iterator<Item = &Connection> {
        self.connections
            .iter()
            .filter(|c| c.kind == AccountKind::Business && c.status == ConnectionStatus::Broken)
    }
}

/// The team's accounts that are not removed: its business pages, then each member's
/// personal accounts with the member's id.
async fn team_accounts(
    tx: &mut dyn Tx,
    access: &TeamAccess,
) -> CoreResult<Vec<(Option<UserId>, Account)>> {
    let mut out: Vec<(Option<UserId>, Account)> = tx
        .business_accounts(access.team.id)
        .await?
        .into_iter()
        .map(|a| (None, a))
        .collect();
    for member in tx.list_members(access.team.id).await? {
        let theirs = tx.personal_accounts(member.user.id).await?;
        out.extend(theirs.into_iter().map(|a| (Some(member.user.id), a)));
    }
    out.retain(|(_, a)| a.status != ConnectionStatus::Removed);
    Ok(out)
}

impl Core {
    /// The team's connection health; admins only.
    pub async fn team_health(&self, access: &TeamAccess) -> CoreResult<TeamHealth> {
        access.require_admin()?;
        let mut tx = self.store.begin_read().await?;
        let as_of = self.engine_now();
        let today = as_of.date_naive();
        let first = today - Duration::days(CHART_DAYS - 1);
        let mut connections = Vec::new();
        let mut broken: BTreeMap<i64, BrokenMember> = BTreeMap::new();
        for (member, account) in team_accounts(&mut *tx, access).await? {
            let Some(grant) = tx.grant_by_id(account.grant_id).await? else {
                continue;
            };
            let refreshable = self.refreshable(&grant);
            let connection = view(&mut *tx, account, &grant, refreshable).await?;
            if let (Some(user), ConnectionStatus::Broken) = (member, connection.status) {
                broken
                    .entry(user.0)
                    .or_insert_with(|| BrokenMember {
                        user,
                        // A personal account is connected by its member.
                        name: connection.connected_by.clone(),
                        accounts: Vec::new(),
                    })
                    .accounts
                    .push(connection.clone());
            }
            connections.push(connection);
        }
        let since = first.and_time(NaiveTime::MIN).and_utc();
        let events = tx.team_connection_events(access.team.id, since).await?;
        let days = (0..CHART_DAYS)
            .map(|i| {
                let day = first + Duration::days(i);
                let of = |kind: &str| {
                    events
                        .iter()
                        .filter(|e| e.at.date_naive() == day && e.kind == kind)
                        .count()
                };
                DayTally {
                    day,
                    breaks: of("broken"),
                    reconnects: of("reconnected"),
                }
            })
            .collect();
        Ok(TeamHealth {
            connections,
            broken_members: broken.into_values().collect(),
            days,
            as_of,
        })
    }

    /// One of the team's connections and its timeline, newest first; admins only,
    /// and only for the team's pages and its members' accounts.
    pub async fn team_connection(
        &self,
        access: &TeamAccess,
        account: AccountId,
        limit: i64,
    ) -> CoreResult<(Connection, Vec<ConnectionEvent>)> {
        access.require_admin()?;
        let mut tx = self.store.begin_read().await?;
        let account = tx
            .account_by_id(account)
            .await?
            .ok_or(CoreError::NotFound("connection"))?;
        let ours = match account.owner {
            AccountOwner::Business(team) => team == access.team.id,
            AccountOwner::Personal(user) => tx.member_role(access.team.id, user).await?.is_some(),
        };
        if !ours || account.status == ConnectionStatus::Removed {
            return Err(CoreError::NotFound("connection"));
        }
        let grant = tx
            .grant_by_id(account.grant_id)
            .await?
            .ok_or(CoreError::NotFound("connection"))?;
        let events = events_of(&mut *tx, &account, limit).await?;
        let refreshable = self.refreshable(&grant);
        Ok((view(&mut *tx, account, &grant, refreshable).await?, events))
    }

    /// Emails a reminder to reconnect to `to` (or to every member with a broken
    /// personal account), one email each, at most one a day per member: the key
    /// names the day, so a second click the same day queues nothing. Returns how
    /// many were queued.
    pub async fn send_reconnect_reminders(
        &self,
        access: &TeamAccess,
        to: Option<UserId>,
    ) -> CoreResult<usize> {
        let health = self.team_health(access).await?;
        // The outbox's clock, which also stamps the email.
        let now = self.clock.now();
        let day = now.format("%Y-%m-%d");
        let mut tx = self.store.begin().await?;
        let mut queued = 0;
        for member in health.broken_members {
            if to.is_some_and(|u| u != member.user) {
                continue;
            }
            let Some(user) = tx.user_by_id(member.user).await? else {
                continue;
            };
            let link = self.settings.link(&super::notify::settings_path(
                member.accounts.first().map(|c| c.id),
            ));
            let email = ReconnectReminderEmail {
                name: user.name.as_str(),
                team: access.team.name.as_str(),
                admin: Some(access.user.name.as_str()),
                accounts: reminded(&member.accounts),
                link: &link,
            };
            // Per member, not per team: a member of two teams hears at most once a day.
            let key = format!("reminder:{}:{day}", user.id.0);
            if queue_email(&mut *tx, self, &user.email, &email, Some(key.clone()), now)
                .await?
                .is_some()
            {
                let text = format!(
                    "{} asks you to reconnect {} for {}",
                    access.user.name.as_str(),
                    names(&member.accounts),
                    access.team.name.as_str()
                );
                remind(&mut *tx, user.id, &member.accounts, text, key, now).await?;
                queued += 1;
            }
        }
        tx.commit().await?;
        Ok(queued)
    }

    /// Turns the team's automatic reminders on or off; admins only.
    pub async fn set_auto_reminders(&self, access: &TeamAccess, on: bool) -> CoreResult<()> {
        access.require_admin()?;
        let mut tx = self.store.begin().await?;
        tx.set_team_auto_reminders(access.team.id, on).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the team sends automatic reminders.
    pub async fn auto_reminders(&self, access: &TeamAccess) -> CoreResult<bool> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx.team_auto_reminders(access.team.id).await?)
    }

    /// The teams' automatic reminders: a member whose personal account is still broken
    /// 3 and 7 days after it broke is reminded, once each (the key names the break and
    /// the day), in teams that turned them on. Returns how many were queued.
    pub async fn send_due_reminders(&self) -> CoreResult<usize> {
        let engine_now = self.engine_now();
        let mut queued = 0;
        let teams = {
            let mut tx = self.store.begin_read().await?;
            tx.auto_reminder_teams().await?
        };
        for team in teams {
            let mut tx = self.store.begin().await?;
            let Some(team) = tx.team_by_id(team).await? else {
                continue;
            };
            for member in tx.list_members(team.id).await? {
                let mut due = Vec::new();
                let mut keys = Vec::new();
                for account in tx.personal_accounts(member.user.id).await? {
                    let Some(grant) = tx.grant_by_id(account.grant_id).await? else {
                        continue;
                    };
                    let refreshable = self.refreshable(&grant);
                    let c = view(&mut *tx, account, &grant, refreshable).await?;
                    let (ConnectionStatus::Broken, Some(since)) = (c.status, c.broken_since) else {
                        continue;
                    };
                    let days = (engine_now - since).num_days();
                    if let Some(step) = AUTO_REMINDER_DAYS.iter().rev().find(|d| days >= **d) {
                        keys.push(format!("{}:{}:{step}", c.id.0, since.timestamp()));
                        due.push(c);
                    }
                }
                if due.is_empty() {
                    continue;
                }
                let link = self
                    .settings
                    .link(&super::notify::settings_path(Some(due[0].id)));
                let email = ReconnectReminderEmail {
                    name: member.user.name.as_str(),
                    team: team.name.as_str(),
                    admin: None,
                    accounts: reminded(&due),
                    link: &link,
                };
                let key = format!("auto-reminder:{}:{}", member.user.id.0, keys.join(","));
                let now = self.clock.now();
                if queue_email(
                    &mut *tx,
                    self,
                    &member.user.email,
                    &email,
                    Some(key.clone()),
                    now,
                )
                .await?
                .is_some()
                {
                    let text = format!("{} still needs reconnecting", names(&due));
                    remind(&mut *tx, member.user.id, &due, text, key, now).await?;
                    queued += 1;
                }
            }
            tx.commit().await?;
        }
        Ok(queued)
    }
}

/// The accounts by name, for a notification's sentence.
fn names(accounts: &[Connection]) -> String {
    accounts
        .iter()
        .map(|c| format!("{} ({})", c.name, c.provider.display_name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The app's notification beside a reminder email, under the email's key.
async fn remind(
    tx: &mut dyn Tx,
    user: UserId,
    accounts: &[Connection],
    text: String,
    dedupe_key: String,
    now: DateTime<Utc>,
) -> CoreResult<()> {
    let subject = accounts.first().map(|c| (c.id, None));
    alerts::tell(
        tx,
        user,
        AlertKind::ReconnectReminder,
        subject,
        text,
        dedupe_key,
        now,
    )
    .await
}

/// A member's broken personal accounts as a reminder names them.
fn reminded(accounts: &[Connection]) -> Vec<NamedAccount> {
    accounts
        .iter()
        .map(|c| NamedAccount {
            name: format!("{} on {}", c.name, c.provider.display_name()),
            kind: "personal account",
        })
        .collect()
}

/// Days after a break at which a team's automatic reminder goes out.
pub const AUTO_REMINDER_DAYS: [i64; 2] = [3, 7];
