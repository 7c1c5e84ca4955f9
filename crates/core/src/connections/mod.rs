//! Connections: members' logins at the providers (grants) and what they post as
//! through them (accounts), kept healthy (design.md §1–§3).
//!
//! Modules: [`places`] where sealed secrets belong; `flows` connecting and
//! reconnecting through the provider's consent; `health` refreshing and probing due
//! grants, breaking and healing them; `notify` the owners' emails; `manage` listing,
//! checking and removing connections and the provider's deauthorization;
//! `team_health` the admins' view of a team's connections and their reminders.
//!
//! The engine keeps its own [`Clock`]: with the sandbox mounted it is the sandbox's,
//! so moving the sandbox's time moves token expiry and the scheduler with it, while
//! sign-in sessions and the job queue keep real time.

mod flows;
mod health;
mod manage;
mod notify;
pub mod places;
mod team_health;

pub use flows::{CallbackParams, FlowOutcome, FlowRefused, FlowStatus, PageChoice, StartFlow};
pub use health::{CheckOutcome, HealthRunner};
pub use manage::{Connection, ConnectionFilter};
pub use team_health::{BrokenMember, DayTally, HealthCount, TeamHealth, CHART_DAYS};

use crate::error::{CoreError, CoreResult};
use crate::store::{Grant, GrantTokens};
use crate::{Clock, Core};
use apostle_domain::{InvalidValue, LocalPath};
use apostle_providers::{Adapter, Http, Provider, ProviderConfig, TokenSet};
use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use url::Url;

/// How the engine behaves.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Every active grant is probed this often, at its own phase so load stays flat.
    pub probe_interval: Duration,
    /// Deep-link prefixes a flow may return to, like `apostle://`.
    pub app_redirects: Vec<String>,
    /// How long a started flow waits for the provider's callback.
    pub flow_ttl: Duration,
    /// How long an admin may take to choose pages after the consent.
    pub choose_ttl: Duration,
    /// How long one refresh or probe holds its grant.
    pub lease: Duration,
    /// Grants claimed per scheduler round.
    pub batch: i64,
    /// Refreshes and probes in flight at once in one process.
    pub concurrency: usize,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            probe_interval: Duration::hours(6),
            app_redirects: vec!["apostle://".to_owned()],
            flow_ttl: Duration::minutes(10),
            choose_ttl: Duration::minutes(30),
            lease: Duration::minutes(2),
            batch: 256,
            concurrency: 64,
        }
    }
}

struct Configured {
    adapter: Adapter,
    config: ProviderConfig,
}

/// The configured providers, the engine's settings and clock, and the operator
/// alarms raised when a provider says our own configuration is wrong.
pub struct Connections {
    providers: HashMap<Provider, Configured>,
    pub settings: ConnectionSettings,
    /// The engine's clock (see the module docs).
    pub clock: Arc<dyn Clock>,
    alarms: Mutex<HashMap<Provider, String>>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Connections {
    pub fn new(
        providers: Vec<(Provider, ProviderConfig)>,
        http: Http,
        settings: ConnectionSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let providers = providers
            .into_iter()
            .map(|(provider, config)| {
                let adapter = Adapter::new(provider, http.clone(), config.clone());
                (provider, Configured { adapter, config })
            })
            .collect();
        Connections {
            providers,
            settings,
            clock,
            alarms: Mutex::new(HashMap::new()),
        }
    }

    /// No provider configured: connecting is refused with a clear error.
    pub fn none(clock: Arc<dyn Clock>) -> Self {
        Connections {
            providers: HashMap::new(),
            settings: ConnectionSettings::default(),
            clock,
            alarms: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_configured(&self, provider: Provider) -> bool {
        self.providers.contains_key(&provider)
    }

    pub fn adapter(&self, provider: Provider) -> CoreResult<&Adapter> {
        self.providers
            .get(&provider)
            .map(|c| &c.adapter)
            .ok_or(CoreError::Conflict(
                "this provider is not set up on this Apostle server",
            ))
    }

    fn config(&self, provider: Provider) -> Option<&ProviderConfig> {
        self.providers.get(&provider).map(|c| &c.config)
    }

    /// Raised when a provider says our configuration is wrong (client secret, API
    /// version): for operators, never an email to members.
    pub fn raise_alarm(&self, provider: Provider, what: String) {
        let mut alarms = self.alarms.lock().unwrap_or_else(|p| p.into_inner());
        if alarms.insert(provider, what.clone()).is_none() {
            tracing::error!(%provider, problem = %what, "provider says our configuration is wrong");
        }
        metrics::counter!("apostle_provider_configuration_errors_total",
            "provider" => provider.as_str())
        .increment(1);
    }

    fn clear_alarm(&self, provider: Provider) {
        let mut alarms = self.alarms.lock().unwrap_or_else(|p| p.into_inner());
        if alarms.remove(&provider).is_some() {
            tracing::info!(%provider, "provider accepts our configuration again");
        }
    }

    /// The raised alarms, by provider name, for `/healthz`.
    pub fn alarms(&self) -> Vec<(Provider, String)> {
        let alarms = self.alarms.lock().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<_> = alarms.iter().map(|(p, w)| (*p, w.clone())).collect();
        list.sort_by_key(|(p, _)| p.as_str());
        list
    }

    /// Checks where a flow may return: a path on this site (the strict `next` rule)
    /// or a deep link into the app under an allowed prefix.
    pub fn return_target(&self, raw: &str) -> CoreResult<String> {
        const FIELD: &str = "redirect_uri";
        let refused = InvalidValue {
            field: FIELD,
            reason: "must be a path on this site or a link into the Apostle app",
        };
        if raw.starts_with('/') {
            return LocalPath::parse(raw)
                .map(|p| p.as_str().to_owned())
                .map_err(|_| refused.into());
        }
        if raw.len() > LocalPath::MAX_LEN || raw.chars().any(|c| c.is_control() || c == ' ') {
            return Err(refused.into());
        }
        let lower = raw.to_ascii_lowercase();
        let allowed = self
            .settings
            .app_redirects
            .iter()
            .any(|prefix| lower.starts_with(&prefix.to_ascii_lowercase()));
        if !allowed || Url::parse(raw).is_err() {
            return Err(refused.into());
        }
        Ok(raw.to_owned())
    }
}

/// The refresh margin of design.md §2 rule 1: the larger of 15 minutes and a tenth
/// of the token's lifetime.
fn refresh_margin(issued: DateTime<Utc>, expires: DateTime<Utc>) -> Duration {
    std::cmp::max(Duration::minutes(15), (expires - issued) / 10)
}

/// Where the grant's probe falls inside each interval: fixed per login, so a million
/// grants spread evenly over the interval and stay spread.
fn phase(interval: Duration, key: &str) -> Duration {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    let span = interval.num_seconds().max(1) as u64;
    Duration::seconds((n % span) as i64)
}

fn expires_at(now: DateTime<Utc>, after: Option<std::time::Duration>) -> Option<DateTime<Utc>> {
    after
        .and_then(|d| Duration::from_std(d).ok())
        .map(|d| now + d)
}

/// Access tokens the provider gives no lifetime for are treated as long-lived; this
/// is how far ahead their expiry is put, so the probe finds the day they die.
const UNKNOWN_LIFETIME: Duration = Duration::days(365);

impl Core {
    pub(crate) fn engine_now(&self) -> DateTime<Utc> {
        self.connections.clock.now()
    }

    fn seal_tokens(
        &self,
        owner: apostle_domain::UserId,
        provider: Provider,
        external_user_id: &str,
        tokens: &TokenSet,
        requested_scopes: &[String],
        now: DateTime<Utc>,
    ) -> GrantTokens {
        let place = |field| places::grant_token(owner, provider.as_str(), external_user_id, field);
        let scopes = if tokens.scopes.is_empty() {
            requested_scopes.join(" ")
        } else {
            tokens.scopes.join(" ")
        };
        GrantTokens {
            scopes,
            access_token: self
                .keyring
                .seal_text(tokens.access_token.expose_secret(), &place("access")),
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|t| self.keyring.seal_text(t.expose_secret(), &place("refresh"))),
            access_expires_at: expires_at(now, tokens.expires_in).unwrap_or(now + UNKNOWN_LIFETIME),
            refresh_expires_at: expires_at(now, tokens.refresh_token_expires_in),
        }
    }

    fn open_grant_token(&self, grant: &Grant, field: &str) -> CoreResult<Option<SecretString>> {
        let sealed = match field {
            "access" => Some(&grant.access_token),
            _ => grant.refresh_token.as_ref(),
        };
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let place =
            places::grant_token(grant.owner, &grant.provider, &grant.external_user_id, field);
        self.keyring
            .open_text(sealed, &place)
            .map(|t| Some(SecretString::from(t)))
            .map_err(|e| CoreError::Internal(format!("grant {} {field} token: {e}", grant.id.0)))
    }

    pub(crate) fn access_token(&self, grant: &Grant) -> CoreResult<SecretString> {
        self.open_grant_token(grant, "access")?
            .ok_or_else(|| CoreError::Internal("grant without access token".to_owned()))
    }

    /// The URL the providers send the member back to.
    pub fn callback_url(&self, provider: Provider) -> Url {
        let link = self
            .settings
            .link(&format!("/oauth/{}/callback", provider.as_str()));
        Url::parse(&link).expect("the public URL makes valid links")
    }
}

/// Runs `work` to its end even if the caller stops waiting: a request dropped in
/// the middle of a provider call must not leave a flow used up with its tokens lost,
/// or a grant leased with nobody checking it.
async fn to_the_end<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    match tokio::spawn(work).await {
        Ok(done) => done,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("a connection task was cancelled: {e}"),
    }
}

fn provider_of(grant_or_account_provider: &str) -> CoreResult<Provider> {
    Provider::parse(grant_or_account_provider)
        .map_err(|e| CoreError::Internal(format!("stored provider: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SystemClock;

    fn connections() -> Connections {
        Connections::none(Arc::new(SystemClock))
    }

    #[test]
    fn a_flow_returns_only_to_this_site_or_the_app() {
        let c = connections();
        assert_eq!(
            c.return_target("/teams/acme?tab=pages").unwrap(),
            "/teams/acme?tab=pages"
        );
        assert_eq!(
            c.return_target("apostle://connections?x=1").unwrap(),
            "apostle://connections?x=1"
        );
        assert!(c.return_target("APOSTLE://settings").is_ok());
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
            "apostlex://a",
            "apostle://a b",
            "",
        ] {
            assert!(c.return_target(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn the_refresh_margin_is_a_tenth_of_the_lifetime_but_at_least_15_minutes() {
        let t = Utc::now();
        assert_eq!(
            refresh_margin(t, t + Duration::hours(2)),
            Duration::minutes(15)
        );
        assert_eq!(refresh_margin(t, t + Duration::days(60)), Duration::days(6));
    }

    #[test]
    fn phases_spread_over_the_interval_and_stay_put() {
        let interval = Duration::hours(6);
        assert_eq!(phase(interval, "a"), phase(interval, "a"));
        let mut quarters = [0; 4];
        for i in 0..4000 {
            let p = phase(interval, &format!("login-{i}"));
            assert!(p >= Duration::zero() && p < interval);
            quarters[(p.num_seconds() * 4 / interval.num_seconds()) as usize] += 1;
        }
        for q in quarters {
            assert!((800..1200).contains(&q), "{quarters:?}");
        }
    }
}
