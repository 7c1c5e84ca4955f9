//! The owners' emails about their connections: one per owner when a grant breaks,
//! naming every page or account it took down, and the reminders before a token that
//! cannot be refreshed expires. Queued in the caller's transaction, so an email goes
//! out exactly when the change that causes it is committed.
//!
//! Who is told: a personal account's member; for a business page, the admin who
//! connected it while they are still an admin of its team, otherwise the team's
//! current admins (any of them can reconnect it).

use crate::alerts;
use crate::email::{queue_email, ConnectionBrokenEmail, ConnectionExpiringEmail, NamedAccount};
use crate::error::CoreResult;
use crate::store::{Account, AccountOwner, AlertKind, Grant, Tx, User};
use crate::Core;
use apostle_domain::{AccountId, Role, UserId};
use apostle_providers::{BreakReason, Provider};
use std::collections::BTreeMap;

/// Each recipient with the accounts they are told about.
async fn recipients(
    tx: &mut dyn Tx,
    grant: &Grant,
    accounts: &[Account],
) -> CoreResult<Vec<(User, Vec<Account>)>> {
    let mut by_user: BTreeMap<i64, Vec<Account>> = BTreeMap::new();
    if accounts.is_empty() {
        by_user.entry(grant.owner.0).or_default();
    }
    for account in accounts {
        match account.owner {
            AccountOwner::Personal(user) => {
                by_user.entry(user.0).or_default().push(account.clone())
            }
            AccountOwner::Business(team) => {
                if tx.member_role(team, grant.owner).await? == Some(Role::Admin) {
                    by_user
                        .entry(grant.owner.0)
                        .or_default()
                        .push(account.clone());
                } else {
                    for member in tx.list_members(team).await? {
                        if member.role == Role::Admin {
                            by_user
                                .entry(member.user.id.0)
                                .or_default()
                                .push(account.clone());
                        }
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for (user, accounts) in by_user {
        if let Some(user) = tx.user_by_id(UserId(user)).await? {
            out.push((user, accounts));
        }
    }
    Ok(out)
}

fn named(accounts: &[Account]) -> Vec<NamedAccount> {
    accounts
        .iter()
        .map(|a| NamedAccount {
            name: a.name.clone(),
            kind: match a.owner {
                AccountOwner::Personal(_) => "personal account",
                AccountOwner::Business(_) => "business page",
            },
        })
        .collect()
}

/// Where the email's button leads: the first named connection, shown filtered in its
/// Personal Settings tab with its Reconnect button (the web app picks the tab).
fn reconnect_link(core: &Core, accounts: &[Account]) -> String {
    core.settings
        .link(&settings_path(accounts.first().map(|a| a.id)))
}

/// The path that opens `account` in its Personal Settings tab, or the list.
pub(super) fn settings_path(account: Option<AccountId>) -> String {
    match account {
        Some(id) => format!("/settings/connections/{}", id.0),
        None => "/connections".to_owned(),
    }
}

pub(super) async fn broken(
    core: &Core,
    tx: &mut dyn Tx,
    grant: &Grant,
    accounts: &[Account],
    reason: BreakReason,
) -> CoreResult<()> {
    let provider = Provider::parse(&grant.provider).map_or("the provider", |p| p.display_name());
    let action = Provider::parse(&grant.provider)
        .ok()
        .and_then(|p| reason.provider_action(p));
    let detected = core.engine_now();
    for (user, theirs) in recipients(tx, grant, accounts).await? {
        let link = reconnect_link(core, &theirs);
        let email = ConnectionBrokenEmail {
            name: user.name.as_str(),
            provider,
            accounts: named(&theirs),
            reason: reason.description(),
            action,
            link: &link,
        };
        // One break, one email per recipient: the key names the moment it broke.
        let key = format!(
            "broken:{}:{}:{}:{}",
            grant.id.0,
            theirs.first().map_or(0, |a| a.id.0),
            detected.timestamp_micros(),
            user.id.0
        );
        let text = format!(
            "{} on {provider} is disconnected: {}",
            listed(&theirs, provider),
            reason.description()
        );
        alerts::tell(
            tx,
            user.id,
            AlertKind::ConnectionBroken,
            alerts::first_of(&theirs),
            text,
            key.clone(),
            core.clock.now(),
        )
        .await?;
        queue_email(tx, core, &user.email, &email, Some(key), core.clock.now()).await?;
    }
    Ok(())
}

/// The accounts by name for a notification's sentence.
fn listed(accounts: &[Account], provider: &str) -> String {
    if accounts.is_empty() {
        return format!("Your {provider} login");
    }
    accounts
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) async fn expiring(
    core: &Core,
    tx: &mut dyn Tx,
    grant: &Grant,
    accounts: &[Account],
    days: i64,
) -> CoreResult<()> {
    let provider = Provider::parse(&grant.provider).map_or("the provider", |p| p.display_name());
    let expires = grant
        .access_expires_at
        .format("%-d %B %Y, %H:%M UTC")
        .to_string();
    for (user, theirs) in recipients(tx, grant, accounts).await? {
        let link = reconnect_link(core, &theirs);
        let email = ConnectionExpiringEmail {
            name: user.name.as_str(),
            provider,
            accounts: named(&theirs),
            days,
            expires: &expires,
            link: &link,
        };
        let key = format!(
            "expiring:{}:{days}:{}:{}",
            grant.id.0,
            grant.access_expires_at.timestamp(),
            user.id.0
        );
        let text = format!(
            "{} on {provider} stops working on {expires} unless you reconnect it",
            listed(&theirs, provider)
        );
        alerts::tell(
            tx,
            user.id,
            AlertKind::ReconnectReminder,
            alerts::first_of(&theirs),
            text,
            key.clone(),
            core.clock.now(),
        )
        .await?;
        queue_email(tx, core, &user.email, &email, Some(key), core.clock.now()).await?;
    }
    Ok(())
}
