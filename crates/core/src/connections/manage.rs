//! What members and operators do with connections besides connecting: list them (a
//! member's personal accounts, and their teams' business pages for admins), check one
//! now, remove one (revoked at the provider, best effort), and the provider's own
//! deauthorization (Facebook's signed request), which breaks the grant at once.

use super::flows::event;
use super::{provider_of, to_the_end, CheckOutcome};
use crate::error::{CoreError, CoreResult};
use crate::store::{
    Account, AccountKind, AccountOwner, ConnectionEvent, ConnectionStatus, Grant, TeamRole, Tx,
};
use crate::Core;
use apostle_domain::{AccountId, Role, TeamId, TeamSlug, UserId};
use apostle_providers::{BreakReason, Provider};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

/// A connection as its owner sees it: an account with its grant's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: AccountId,
    pub provider: Provider,
    pub kind: AccountKind,
    pub name: String,
    pub status: ConnectionStatus,
    pub reason: Option<BreakReason>,
    pub broken_since: Option<DateTime<Utc>>,
    /// The team's slug and name, for business pages.
    pub team: Option<(TeamSlug, String)>,
    /// Who connected it (the grant's owner).
    pub connected_by: String,
    pub connected_by_id: UserId,
    pub external_id: String,
    /// When the access ends if it cannot be renewed by itself.
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Which connections to list.
#[derive(Debug, Clone, Default)]
pub struct ConnectionFilter {
    pub status: Option<ConnectionStatus>,
    pub kind: Option<AccountKind>,
    pub provider: Option<Provider>,
    /// Matches the name, the provider and the team, ignoring case.
    pub q: Option<String>,
}

impl ConnectionFilter {
    /// Whether the filter keeps `c` (pages that list everything and hide what a
    /// search leaves out use it too).
    pub fn keeps(&self, c: &Connection) -> bool {
        let q = self
            .q
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_lowercase();
        self.status.is_none_or(|s| s == c.status)
            && self.kind.is_none_or(|k| k == c.kind)
            && self.provider.is_none_or(|p| p == c.provider)
            && (q.is_empty()
                || c.name.to_lowercase().contains(&q)
                || c.provider.display_name().to_lowercase().contains(&q)
                || c.team.as_ref().is_some_and(|(slug, name)| {
                    slug.as_str().contains(&q) || name.to_lowercase().contains(&q)
                }))
    }
}

/// An account's health: its own when it broke on its own (a lost page
/// role), else its grant's.
fn status_of(
    account: &Account,
    grant: &Grant,
) -> (ConnectionStatus, Option<String>, Option<DateTime<Utc>>) {
    if account.status != ConnectionStatus::Active {
        (
            account.status,
            account.break_reason.clone(),
            account.broken_since,
        )
    } else {
        (grant.status, grant.break_reason.clone(), grant.broken_since)
    }
}

/// Builds the view of `account` under `grant`.
pub(super) async fn view(
    tx: &mut dyn Tx,
    account: Account,
    grant: &Grant,
    refreshable: bool,
) -> CoreResult<Connection> {
    let (status, reason, since) = status_of(&account, grant);
    let team = match account.owner {
        AccountOwner::Business(team) => tx
            .team_by_id(team)
            .await?
            .map(|t| (t.slug, t.name.as_str().to_owned())),
        AccountOwner::Personal(_) => None,
    };
    let connected_by = tx
        .user_by_id(grant.owner)
        .await?
        .map(|u| u.name.as_str().to_owned())
        .unwrap_or_default();
    Ok(Connection {
        id: account.id,
        provider: provider_of(&account.provider)?,
        kind: match account.owner {
            AccountOwner::Personal(_) => AccountKind::Personal,
            AccountOwner::Business(_) => AccountKind::Business,
        },
        name: account.name,
        status,
        reason: reason.and_then(|r| BreakReason::parse(&r).ok()),
        broken_since: since,
        team,
        connected_by,
        connected_by_id: grant.owner,
        external_id: account.external_id,
        expires_at: (!refreshable).then_some(grant.access_expires_at),
        created_at: account.created_at,
    })
}

impl Core {
    pub(super) fn refreshable(&self, grant: &Grant) -> bool {
        Provider::parse(&grant.provider)
            .ok()
            .and_then(|p| self.connections.adapter(p).ok())
            .is_some_and(|a| a.can_refresh())
            && grant.refresh_token.is_some()
    }

    /// The member's personal accounts and, for teams they administer, the business
    /// pages; removed ones only when the filter asks for them.
    pub async fn list_connections(
        &self,
        user: UserId,
        filter: &ConnectionFilter,
    ) -> CoreResult<Vec<Connection>> {
        let mut tx = self.store.begin_read().await?;
        let teams = tx.teams_of_user(user).await?;
        self.connections_in(&mut *tx, user, &teams, filter).await
    }

    /// [`Core::list_connections`] inside a transaction that reads more, with
    /// the member's teams already read.
    pub(crate) async fn connections_in(
        &self,
        tx: &mut dyn Tx,
        user: UserId,
        teams: &[TeamRole],
        filter: &ConnectionFilter,
    ) -> CoreResult<Vec<Connection>> {
        let mut accounts = tx.personal_accounts(user).await?;
        for membership in teams {
            if membership.role == Role::Admin {
                accounts.extend(tx.business_accounts(membership.team.id).await?);
            }
        }
        let mut out = Vec::new();
        for account in accounts {
            let Some(grant) = tx.grant_by_id(account.grant_id).await? else {
                continue;
            };
            // Every page's banner asks for the broken ones: the others are
            // passed over before their names are read.
            if filter
                .status
                .is_some_and(|s| s != status_of(&account, &grant).0)
            {
                continue;
            }
            let refreshable = self.refreshable(&grant);
            let connection = view(&mut *tx, account, &grant, refreshable).await?;
            let wanted = filter.keeps(&connection)
                && (connection.status != ConnectionStatus::Removed
                    || filter.status == Some(ConnectionStatus::Removed));
            if wanted {
                out.push(connection);
            }
        }
        Ok(out)
    }

    /// The account if `user` may manage it: their own personal account, or a business
    /// page of a team they administer. Anything else is not found.
    pub(super) async fn account_for(
        &self,
        user: UserId,
        account: AccountId,
    ) -> CoreResult<Account> {
        let mut tx = self.store.begin_read().await?;
        let account = tx
            .account_by_id(account)
            .await?
            .ok_or(CoreError::NotFound("connection"))?;
        let allowed = match account.owner {
            AccountOwner::Personal(owner) => owner == user,
            AccountOwner::Business(team) => is_admin(&mut *tx, team, user).await?,
        };
        if !allowed || account.status == ConnectionStatus::Removed {
            return Err(CoreError::NotFound("connection"));
        }
        Ok(account)
    }

    /// One connection the member may manage.
    pub async fn connection(&self, user: UserId, account: AccountId) -> CoreResult<Connection> {
        let account = self.account_for(user, account).await?;
        let mut tx = self.store.begin_read().await?;
        let grant = tx
            .grant_by_id(account.grant_id)
            .await?
            .ok_or(CoreError::NotFound("connection"))?;
        let refreshable = self.refreshable(&grant);
        view(&mut *tx, account, &grant, refreshable).await
    }

    /// Probes a connection now (refreshing it if due) and answers its health.
    pub async fn check_connection(
        &self,
        user: UserId,
        account: AccountId,
    ) -> CoreResult<Connection> {
        let found = self.account_for(user, account).await?;
        let core = self.clone();
        let outcome = to_the_end(async move { core.check_grant_now(found.grant_id).await }).await?;
        tracing::debug!(account = account.0, ?outcome, "checked on request");
        self.connection(user, account).await
    }

    /// Removes a connection. Its login's grant goes too when nothing else uses it,
    /// revoked at the provider first (best effort: a provider that does not answer
    /// does not keep the member connected here).
    pub async fn remove_connection(&self, user: UserId, account: AccountId) -> CoreResult<()> {
        let account = self.account_for(user, account).await?;
        let grant = {
            let mut tx = self.store.begin_read().await?;
            tx.grant_by_id(account.grant_id)
                .await?
                .ok_or(CoreError::NotFound("connection"))?
        };
        let others = {
            let mut tx = self.store.begin_read().await?;
            tx.accounts_of_grant(grant.id)
                .await?
                .into_iter()
                .filter(|a| a.id != account.id && a.status != ConnectionStatus::Removed)
                .count()
        };
        let drop_grant = others == 0 && grant.status != ConnectionStatus::Removed;
        if drop_grant {
            self.revoke(&grant).await;
        }
        let now = self.engine_now();
        let mut tx = self.store.begin().await?;
        tx.set_account_status(
            account.owner,
            account.id,
            ConnectionStatus::Removed,
            None,
            now,
        )
        .await?;
        event(&mut *tx, &grant, Some(account.id), "removed", now, "").await?;
        if drop_grant {
            tx.remove_grant(grant.owner, grant.id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn revoke(&self, grant: &Grant) {
        let Ok(provider) = provider_of(&grant.provider) else {
            return;
        };
        let Ok(adapter) = self.connections.adapter(provider) else {
            return;
        };
        let token = match self.access_token(grant) {
            Ok(token) => token,
            Err(e) => {
                tracing::warn!(error = %e, "opening a token to revoke it");
                return;
            }
        };
        if let Err(e) = adapter.revoke(&token).await {
            tracing::warn!(%provider, error = %e, "revoking at the provider failed; removed here anyway");
        }
    }

    /// A connection's timeline, newest first.
    pub async fn connection_events(
        &self,
        user: UserId,
        account: AccountId,
        limit: i64,
    ) -> CoreResult<Vec<ConnectionEvent>> {
        let account = self.account_for(user, account).await?;
        let mut tx = self.store.begin_read().await?;
        events_of(&mut *tx, &account, limit).await
    }

    /// Facebook's deauthorize callback: `signed_request` verified against the app
    /// secret in constant time; the login's grants (Facebook and Instagram, which
    /// share the login) break at once. Returns how many broke.
    pub async fn deauthorize_facebook(&self, signed_request: &str) -> CoreResult<usize> {
        let secret = self
            .connections
            .config(Provider::Facebook)
            .map(|c| c.credentials.client_secret.clone())
            .ok_or(CoreError::Forbidden)?;
        let user_id = verify_signed_request(signed_request, secret.expose_secret().as_bytes())
            .ok_or(CoreError::Forbidden)?;
        let mut grants = Vec::new();
        {
            let mut tx = self.store.begin_read().await?;
            for provider in [Provider::Facebook, Provider::Instagram] {
                grants.extend(tx.grants_of_login(provider.as_str(), &user_id).await?);
            }
        }
        let mut broke = 0;
        for grant in grants {
            if self
                .break_grant(&grant, BreakReason::AppRemoved, "deauthorized at Facebook")
                .await?
            {
                broke += 1;
            }
        }
        Ok(broke)
    }

    /// Deletes flows that ended more than a day ago (a flow lives 10 minutes; the
    /// day keeps recent ones for support questions).
    pub async fn purge_expired_flows(&self) -> CoreResult<u64> {
        let before = self.engine_now() - chrono::Duration::days(1);
        let mut tx = self.store.begin().await?;
        let purged = tx.purge_flows(before).await?;
        tx.commit().await?;
        Ok(purged)
    }

    /// Sets the `apostle_connections` gauges from the database.
    pub async fn update_connection_gauges(&self) -> CoreResult<()> {
        let mut tx = self.store.begin_read().await?;
        let counts = tx.count_connections().await?;
        for provider in Provider::ALL {
            for kind in [AccountKind::Personal, AccountKind::Business] {
                for status in [
                    ConnectionStatus::Active,
                    ConnectionStatus::Broken,
                    ConnectionStatus::Removed,
                ] {
                    let n = counts
                        .iter()
                        .find(|c| {
                            c.provider == provider.as_str() && c.kind == kind && c.status == status
                        })
                        .map_or(0, |c| c.count);
                    metrics::gauge!("apostle_connections",
                        "provider" => provider.as_str(), "kind" => kind.as_str(),
                        "status" => status.as_str())
                    .set(n as f64);
                }
            }
        }
        Ok(())
    }

    /// Every connection, for operators (`apostle connections list`), by id.
    pub async fn all_connections(&self) -> CoreResult<Vec<Connection>> {
        let mut tx = self.store.begin_read().await?;
        let mut out = Vec::new();
        let mut after = AccountId(0);
        loop {
            let page = tx.list_accounts(after, 500).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for account in page {
                if let Some(grant) = tx.grant_by_id(account.grant_id).await? {
                    let refreshable = self.refreshable(&grant);
                    out.push(view(&mut *tx, account, &grant, refreshable).await?);
                }
            }
        }
        Ok(out)
    }

    /// Checks one connection now whoever owns it (`apostle connections check`), and
    /// answers how the check went and the connection after it.
    pub async fn check_connection_as_operator(
        &self,
        account: AccountId,
    ) -> CoreResult<(CheckOutcome, Connection)> {
        let grant = {
            let mut tx = self.store.begin_read().await?;
            tx.account_by_id(account)
                .await?
                .ok_or(CoreError::NotFound("connection"))?
                .grant_id
        };
        let outcome = self.check_grant_now(grant).await?;
        let mut tx = self.store.begin_read().await?;
        let found = tx
            .account_by_id(account)
            .await?
            .ok_or(CoreError::NotFound("connection"))?;
        let grant = tx
            .grant_by_id(found.grant_id)
            .await?
            .ok_or(CoreError::NotFound("connection"))?;
        let refreshable = self.refreshable(&grant);
        Ok((outcome, view(&mut *tx, found, &grant, refreshable).await?))
    }
}

/// The account's own events among its grant's, newest first (a grant's events
/// without an account concern every account of the login).
pub(super) async fn events_of(
    tx: &mut dyn Tx,
    account: &Account,
    limit: i64,
) -> CoreResult<Vec<ConnectionEvent>> {
    Ok(tx
        .connection_events(account.grant_id, limit)
        .await?
        .into_iter()
        .filter(|e| e.account_id.is_none_or(|a| a == account.id))
        .collect())
}

async fn is_admin(tx: &mut dyn Tx, team: TeamId, user: UserId) -> CoreResult<bool> {
    Ok(tx.member_role(team, user).await? == Some(Role::Admin))
}

/// The `user_id` of a valid Facebook `signed_request`: `b64url(sig).b64url(payload)`
/// with `sig = HMAC-SHA256(payload_b64, app_secret)` and the algorithm named in the
/// payload; anything else is `None`.
fn verify_signed_request(signed: &str, secret: &[u8]) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let (sig_b64, payload_b64) = signed.split_once('.')?;
    let sig = URL_SAFE_NO_PAD.decode(sig_b64.trim_end_matches('=')).ok()?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).ok()?;
    mac.update(payload_b64.as_bytes());
    // Constant time: `verify_slice` compares without early exit.
    mac.verify_slice(&sig).ok()?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64.trim_end_matches('='))
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Payload {
        algorithm: String,
        user_id: serde_json::Value,
    }
    let payload: Payload = serde_json::from_slice(&payload).ok()?;
    if !payload.algorithm.eq_ignore_ascii_case("HMAC-SHA256") {
        return None;
    }
    match payload.user_id {
        serde_json::Value::String(s) if !s.is_empty() => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use hmac::{Hmac, Mac};

    fn signed(payload: &str, secret: &[u8]) -> String {
        let payload = URL_SAFE_NO_PAD.encode(payload);
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(payload.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{sig}.{payload}")
    }

    #[test]
    fn a_signed_request_is_believed_only_with_the_right_signature() {
        let good = signed(
            r#"{"algorithm":"HMAC-SHA256","issued_at":1,"user_id":"42"}"#,
            b"s",
        );
        assert_eq!(verify_signed_request(&good, b"s").as_deref(), Some("42"));
        assert_eq!(verify_signed_request(&good, b"other"), None);
        let forged = signed(r#"{"algorithm":"HMAC-SHA256","user_id":"43"}"#, b"x");
        assert_eq!(verify_signed_request(&forged, b"s"), None);
        let (sig, _) = good.split_once('.').unwrap();
        let swapped = format!(
            "{sig}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"algorithm":"HMAC-SHA256","user_id":"43"}"#)
        );
        assert_eq!(verify_signed_request(&swapped, b"s"), None);
        let other_alg = signed(r#"{"algorithm":"none","user_id":"42"}"#, b"s");
        assert_eq!(verify_signed_request(&other_alg, b"s"), None);
        assert_eq!(verify_signed_request("garbage", b"s"), None);
    }
}
