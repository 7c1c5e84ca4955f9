//! Connecting and reconnecting through the provider's consent: a flow is started for
//! one member (single-use state, PKCE where the provider takes it, 10 minutes), the
//! provider sends the browser back to our callback, and the callback either finishes
//! the connection or refuses with nothing changed. Where the flow returns is checked
//! when it starts, so a callback never redirects anywhere it was not asked to.

use super::{phase, places, provider_of, to_the_end, Connection};
use crate::error::{CoreError, CoreResult};
use crate::secrets::token_hash;
use crate::store::{
    Account, AccountKind, AccountOwner, ConnectionStatus, FlowPurpose, Grant, NewAccount,
    NewConnectionEvent, NewFlow, NewGrant, OAuthFlow, Tx, User,
};
use crate::Core;
use apostle_domain::{AccountId, FlowId, Role, TeamId, TeamSlug, UserId};
use apostle_providers::{Identity, Page, Provider, ScopeSet, TokenSet};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// What a member asks to connect.
#[derive(Debug, Clone)]
pub struct StartFlow<'a> {
    pub provider: Provider,
    pub kind: AccountKind,
    /// The team, for business pages.
    pub team: Option<&'a str>,
    /// Where the callback sends the browser or app afterwards.
    pub redirect_uri: &'a str,
}

/// The provider's answer at our callback, as it came.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CallbackParams {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// RFC 9207: the issuer that answered, checked when present.
    pub iss: Option<String>,
}

/// How a flow ended, as the `status` parameter of its return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowStatus {
    Connected,
    Reconnected,
    ChoosePages,
    Declined,
    WrongAccount,
    Expired,
    Error,
}

impl FlowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Connected => "connected",
            FlowStatus::Reconnected => "reconnected",
            FlowStatus::ChoosePages => "choose_pages",
            FlowStatus::Declined => "declined",
            FlowStatus::WrongAccount => "wrong_account",
            FlowStatus::Expired => "expired",
            FlowStatus::Error => "error",
        }
    }
}

/// Where a finished flow sends the browser, and what it says.
#[derive(Debug, Clone)]
pub struct FlowOutcome {
    pub status: FlowStatus,
    pub connection_id: Option<AccountId>,
    /// For `choose_pages`.
    pub flow_id: Option<FlowId>,
    /// For people, on failure (and naming what was reconnected on success).
    pub message: Option<String>,
    /// The flow's `redirect_uri` with the outcome in its query (its `message` too,
    /// for the app's deep links).
    pub location: String,
    pub purpose: FlowPurpose,
}

/// A callback with no flow whose return could be trusted: answered with a plain page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowRefused {
    #[error("This sign-in link is not valid. Start connecting again from Apostle.")]
    Unknown,
    #[error("This sign-in link was already used. Start connecting again from Apostle.")]
    Replayed,
    #[error(
        "This answer came back from a different provider than the one you were sent to. \
         Nothing was changed; start connecting again from Apostle."
    )]
    WrongProvider,
    #[error(
        "This connection was started by someone else. Nothing was changed; sign in as the \
         person who started it, or start connecting again yourself."
    )]
    OtherUser,
}

/// The pages and organizations a finished business flow's login manages.
#[derive(Debug, Clone)]
pub struct PageChoice {
    pub flow_id: FlowId,
    pub provider: Provider,
    pub team: TeamId,
    pub team_slug: TeamSlug,
    /// Each page, and whether the team has it connected already.
    pub pages: Vec<(Page, bool)>,
}

/// Errors the provider puts in `error` when the member says no.
fn is_declined(error: &str) -> bool {
    matches!(
        error,
        "access_denied" | "user_cancelled_login" | "user_cancelled_authorize"
    )
}

fn display_name(identity: &Identity) -> String {
    identity
        .name
        .clone()
        .or_else(|| identity.username.as_ref().map(|u| format!("@{u}")))
        .unwrap_or_else(|| identity.id.clone())
}

/// `target` with the outcome's parameters added to its query.
fn with_outcome(target: &str, params: &[(&str, String)]) -> String {
    // A path is parsed against a placeholder origin and given back as a path.
    let (mut url, local) = match Url::parse(target) {
        Ok(url) => (url, false),
        Err(_) => (
            Url::parse("http://apostle.invalid")
                .and_then(|base| base.join(target))
                .expect("a checked path joins"),
            true,
        ),
    };
    url.query_pairs_mut()
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
    if local {
        let mut out = url.path().to_owned();
        if let Some(q) = url.query() {
            out.push('?');
            out.push_str(q);
        }
        if let Some(f) = url.fragment() {
            out.push('#');
            out.push_str(f);
        }
        out
    } else {
        url.into()
    }
}

impl Core {
    /// Starts connecting: personal LinkedIn and X for any member, business pages for a
    /// team's admins. Returns the provider's authorize URL to send the member to.
    pub async fn start_connect(&self, user: &User, start: StartFlow<'_>) -> CoreResult<Url> {
        let redirect = self.connections.return_target(start.redirect_uri)?;
        let team = match (start.kind, start.team) {
            (AccountKind::Personal, _) => {
                if matches!(start.provider, Provider::Facebook | Provider::Instagram) {
                    return Err(CoreError::Conflict(
                        "Facebook and Instagram are not connected as personal accounts: \
                         you share to Facebook through its share dialog, and to Instagram \
                         by copying the caption",
                    ));
                }
                None
            }
            (AccountKind::Business, Some(slug)) => Some(self.admin_team(user.id, slug).await?),
            (AccountKind::Business, None) => {
                return Err(CoreError::Invalid(apostle_domain::InvalidValue {
                    field: "team",
                    reason: "business pages are connected for a team",
                }))
            }
        };
        let scopes = self
            .scope_set_for(user.id, start.provider, start.kind)
            .await?;
        self.create_flow(
            user.id,
            start.provider,
            FlowPurpose::Connect,
            start.kind,
            team,
            None,
            scopes,
            redirect,
        )
        .await
    }

    /// Starts reconnecting a connection in place (broken or healthy). `purpose` is
    /// `Reconnect`, or `Share` from inside sharing.
    pub async fn start_reconnect(
        &self,
        user: &User,
        account: AccountId,
        redirect_uri: &str,
        purpose: FlowPurpose,
    ) -> CoreResult<Url> {
        let redirect = self.connections.return_target(redirect_uri)?;
        let account = self.account_for(user.id, account).await?;
        let provider = provider_of(&account.provider)?;
        let (kind, team) = match account.owner {
            AccountOwner::Personal(_) => (AccountKind::Personal, None),
            AccountOwner::Business(team) => (AccountKind::Business, Some(team)),
        };
        let scopes = self.scope_set_for(user.id, provider, kind).await?;
        self.create_flow(
            user.id,
            provider,
            purpose,
            kind,
            team,
            Some(account.id),
            scopes,
            redirect,
        )
        .await
    }

    /// The team by slug if `user` is one of its admins.
    async fn admin_team(&self, user: UserId, slug: &str) -> CoreResult<TeamId> {
        let slug = TeamSlug::parse(slug)?;
        let mut tx = self.store.begin_read().await?;
        let team = tx
            .team_by_slug(&slug)
            .await?
            .ok_or(CoreError::NotFound("team"))?;
        match tx.member_role(team.id, user).await? {
            Some(Role::Admin) => Ok(team.id),
            Some(Role::Ambassador) => Err(CoreError::Forbidden),
            None => Err(CoreError::NotFound("team")),
        }
    }

    /// Pages need the wider scopes; and a login that already serves pages keeps them
    /// when it reconnects for personal use, because LinkedIn kills earlier tokens when
    /// the scope set changes.
    async fn scope_set_for(
        &self,
        user: UserId,
        provider: Provider,
        kind: AccountKind,
    ) -> CoreResult<ScopeSet> {
        if kind == AccountKind::Business {
            return Ok(ScopeSet::Pages);
        }
        let Some(config) = self.connections.config(provider) else {
            return Ok(ScopeSet::Personal);
        };
        let page_scopes = &config.endpoints.page_scopes;
        if page_scopes.is_empty() {
            return Ok(ScopeSet::Personal);
        }
        let mut tx = self.store.begin_read().await?;
        let accounts = tx.personal_accounts(user).await?;
        let mut grants = Vec::new();
        for account in accounts.iter().filter(|a| a.provider == provider.as_str()) {
            if let Some(grant) = tx.grant_by_id(account.grant_id).await? {
                grants.push(grant);
            }
        }
        let wide = grants.iter().any(|g| {
            g.status != ConnectionStatus::Removed
                && g.scopes
                    .split(' ')
                    .any(|s| page_scopes.iter().any(|p| p == s))
        });
        Ok(if wide {
            ScopeSet::Pages
        } else {
            ScopeSet::Personal
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_flow(
        &self,
        user: UserId,
        provider: Provider,
        purpose: FlowPurpose,
        kind: AccountKind,
        team: Option<TeamId>,
        account: Option<AccountId>,
        scopes: ScopeSet,
        redirect_to: String,
    ) -> CoreResult<Url> {
        let adapter = self.connections.adapter(provider)?;
        let authorization = adapter.authorize(&self.callback_url(provider), scopes);
        let state_hash = token_hash(&authorization.state);
        let now = self.engine_now();
        let flow = NewFlow {
            pkce_verifier: authorization.pkce_verifier.as_ref().map(|v| {
                self.keyring
                    .seal_text(v.expose_secret(), &places::flow_verifier(&state_hash))
            }),
            state_hash,
            provider: provider.as_str().to_owned(),
            purpose,
            kind,
            team_id: team,
            account_id: account,
            redirect_to,
            created_at: now,
            expires_at: now + self.connections.settings.flow_ttl,
        };
        let mut tx = self.store.begin().await?;
        tx.create_flow(user, &flow).await?;
        tx.commit().await?;
        Ok(authorization.url)
    }

    /// Finishes a flow at the callback of `provider`. `browser_user` is who the
    /// browser is signed in as, if anyone: a flow started by someone else is refused.
    pub async fn finish_flow(
        &self,
        provider: &str,
        params: &CallbackParams,
        browser_user: Option<UserId>,
    ) -> Result<FlowOutcome, FlowRefused> {
        let state = params.state.as_deref().ok_or(FlowRefused::Unknown)?;
        let state_hash = token_hash(state);
        let flow = self
            .read_flow(&state_hash)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "reading a flow at its callback");
                FlowRefused::Unknown
            })?
            .ok_or(FlowRefused::Unknown)?;
        if flow.provider != provider {
            return Err(FlowRefused::WrongProvider);
        }
        if flow.consumed_at.is_some() {
            return Err(FlowRefused::Replayed);
        }
        if browser_user.is_some_and(|u| u != flow.user_id) {
            return Err(FlowRefused::OtherUser);
        }
        let core = self.clone();
        let (callback_flow, params) = (flow.clone(), params.clone());
        let result = to_the_end(async move {
            core.run_callback(&callback_flow, &state_hash, &params)
                .await
        })
        .await;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(Finish::Refused(refused)) => return Err(refused),
            Err(Finish::Failed(error)) => {
                tracing::error!(error = %error, flow = flow.id.0, "finishing a flow");
                Ending::new(
                    FlowStatus::Error,
                    "Something went wrong while connecting; nothing was changed. Try again.",
                )
            }
        };
        Ok(self.outcome(&flow, outcome))
    }

    async fn read_flow(&self, state_hash: &str) -> CoreResult<Option<OAuthFlow>> {
        let mut tx = self.store.begin_read().await?;
        Ok(tx.flow_by_state(state_hash).await?)
    }

    fn outcome(&self, flow: &OAuthFlow, ending: Ending) -> FlowOutcome {
        let mut params = vec![("status", ending.status.as_str().to_owned())];
        if let Some(id) = ending.connection_id.or(flow.account_id) {
            params.push(("connection_id", id.0.to_string()));
        }
        if let Some(flow_id) = ending.flow_id {
            params.push(("flow", flow_id.0.to_string()));
        }
        // A page of ours shows the message itself (the web layer keeps it out of
        // the address bar); an app reads it from its deep link.
        if let Some(message) = ending
            .message
            .as_ref()
            .filter(|_| !flow.redirect_to.starts_with('/'))
        {
            params.push(("message", message.clone()));
        }
        FlowOutcome {
            status: ending.status,
            connection_id: ending.connection_id.or(flow.account_id),
            flow_id: ending.flow_id,
            message: ending.message,
            location: with_outcome(&flow.redirect_to, &params),
            purpose: flow.purpose,
        }
    }

    async fn run_callback(
        &self,
        flow: &OAuthFlow,
        state_hash: &str,
        params: &CallbackParams,
    ) -> Result<Ending, Finish> {
        let now = self.engine_now();
        let provider = provider_of(&flow.provider)?;
        // Used once from here on, whatever follows: a second callback is a replay.
        let mut tx = self.store.begin().await?;
        let consumed = tx.consume_flow(state_hash, now).await?;
        if consumed.is_none() {
            let expired = tx.close_flow(flow.id, now).await?;
            tx.commit().await?;
            return if expired {
                Ok(Ending::new(
                    FlowStatus::Expired,
                    "The sign-in took too long and expired; nothing was changed. Try again.",
                ))
            } else {
                Err(Finish::Refused(FlowRefused::Replayed))
            };
        }
        tx.commit().await?;

        if let Some(error) = params.error.as_deref() {
            return Ok(if is_declined(error) {
                Ending::new(
                    FlowStatus::Declined,
                    "You did not allow Apostle at the provider; nothing was changed.",
                )
            } else {
                Ending::new(
                    FlowStatus::Error,
                    format!(
                        "{} did not complete the sign-in; nothing was changed. Try again.",
                        provider.display_name()
                    ),
                )
            });
        }
        if let Some(iss) = params.iss.as_deref() {
            if !self.is_issuer(provider, iss) {
                return Ok(Ending::new(
                    FlowStatus::Error,
                    "The answer did not come from the provider you were sent to; nothing \
                     was changed.",
                ));
            }
        }
        let Some(code) = params.code.as_deref() else {
            return Ok(Ending::new(
                FlowStatus::Error,
                "The provider's answer was incomplete; nothing was changed. Try again.",
            ));
        };
        let adapter = self.connections.adapter(provider)?;
        let verifier = match &flow.pkce_verifier {
            Some(sealed) => Some(SecretString::from(
                self.keyring
                    .open_text(sealed, &places::flow_verifier(state_hash))
                    .map_err(|e| CoreError::Internal(format!("flow verifier: {e}")))?,
            )),
            None => None,
        };
        let tokens = match adapter
            .exchange_code(code, &self.callback_url(provider), verifier.as_ref())
            .await
        {
            Ok(tokens) => tokens,
            Err(e) => return Ok(self.provider_failed(provider, &e)),
        };
        let identity = match adapter.identity(&tokens.access_token).await {
            Ok(identity) => identity,
            Err(e) => return Ok(self.provider_failed(provider, &e)),
        };
        let login = Login {
            user: flow.user_id,
            provider,
            identity,
            tokens,
        };
        match (flow.account_id, flow.kind) {
            (Some(account), _) => self.finish_reconnect(flow, account, login).await,
            (None, AccountKind::Personal) => self.finish_personal(login).await,
            (None, AccountKind::Business) => self.finish_business(flow, login).await,
        }
    }

    /// A provider failure during the flow, in words; configuration problems also
    /// raise the operator alarm.
    fn provider_failed(&self, provider: Provider, error: &apostle_providers::Error) -> Ending {
        use apostle_providers::Classification;
        tracing::warn!(%provider, error = %error, "provider call failed during a flow");
        if error.classification() == Classification::Configuration {
            self.connections.raise_alarm(provider, error.to_string());
        }
        Ending::new(
            FlowStatus::Error,
            format!(
                "{} did not accept the sign-in; nothing was changed. Try again in a moment.",
                provider.display_name()
            ),
        )
    }

    /// RFC 9207: the issuer is the provider's authorization server, named by the
    /// origin of its authorize endpoint.
    fn is_issuer(&self, provider: Provider, iss: &str) -> bool {
        let Some(config) = self.connections.config(provider) else {
            return false;
        };
        let expected = config
            .endpoints
            .authorize_url
            .origin()
            .ascii_serialization();
        Url::parse(iss).is_ok_and(|u| u.origin().ascii_serialization() == expected)
    }

    async fn finish_personal(&self, login: Login) -> Result<Ending, Finish> {
        let now = self.engine_now();
        let mut tx = self.store.begin().await?;
        let (grant, was) = self.upsert_grant(&mut *tx, &login, now).await?;
        let existing = tx
            .personal_accounts(login.user)
            .await?
            .into_iter()
            .find(|a| a.provider == login.provider.as_str() && a.external_id == login.identity.id);
        let account = match existing {
            Some(account) => {
                activate(&mut *tx, &account, now).await?;
                account
            }
            None => {
                tx.create_account(
                    AccountOwner::Personal(login.user),
                    &NewAccount {
                        grant_id: grant.id,
                        provider: login.provider.as_str().to_owned(),
                        external_id: login.identity.id.clone(),
                        name: display_name(&login.identity),
                        page_token: None,
                        created_at: now,
                    },
                )
                .await?
            }
        };
        let again = was.is_some_and(|s| s == ConnectionStatus::Broken)
            || account.status != ConnectionStatus::Active;
        let kind = if again { "reconnected" } else { "connected" };
        event(&mut *tx, &grant, Some(account.id), kind, now, "").await?;
        tx.commit().await?;
        let status = if again {
            FlowStatus::Reconnected
        } else {
            FlowStatus::Connected
        };
        Ok(self
            .verified(&grant, status, account.id, &account.name)
            .await?)
    }

    async fn finish_business(&self, flow: &OAuthFlow, login: Login) -> Result<Ending, Finish> {
        let now = self.engine_now();
        let team = flow
            .team_id
            .ok_or_else(|| CoreError::Internal("business flow without team".to_owned()))?;
        let mut tx = self.store.begin().await?;
        if tx.member_role(team, login.user).await? != Some(Role::Admin) {
            return Ok(Ending::new(
                FlowStatus::Error,
                "Only the team's admins connect its business pages.",
            ));
        }
        let (grant, _) = self.upsert_grant(&mut *tx, &login, now).await?;
        if login.provider == Provider::X {
            // An X login is itself the business account.
            let page = Page {
                id: login.identity.id.clone(),
                name: display_name(&login.identity),
                access_token: None,
            };
            let (account, again) = self.attach_page(&mut *tx, team, &grant, &page, now).await?;
            tx.commit().await?;
            let status = if again {
                FlowStatus::Reconnected
            } else {
                FlowStatus::Connected
            };
            return Ok(self
                .verified(&grant, status, account.id, &account.name)
                .await?);
        }
        tx.set_flow_grant(
            login.user,
            flow.id,
            grant.id,
            now + self.connections.settings.choose_ttl,
        )
        .await?;
        event(&mut *tx, &grant, None, "connected", now, "pages to choose").await?;
        tx.commit().await?;
        Ok(Ending {
            status: FlowStatus::ChoosePages,
            connection_id: None,
            flow_id: Some(flow.id),
            message: None,
        })
    }

    async fn finish_reconnect(
        &self,
        flow: &OAuthFlow,
        account: AccountId,
        login: Login,
    ) -> Result<Ending, Finish> {
        let now = self.engine_now();
        let mut tx = self.store.begin_read().await?;
        let Some(account) = tx.account_by_id(account).await? else {
            return Ok(Ending::new(
                FlowStatus::Error,
                "This connection was removed meanwhile; connect it again.",
            ));
        };
        let old_grant = tx
            .grant_by_id(account.grant_id)
            .await?
            .ok_or_else(|| CoreError::Internal("account without grant".to_owned()))?;
        drop(tx);
        let wrong = |detail: String| Ending {
            status: FlowStatus::WrongAccount,
            connection_id: Some(account.id),
            flow_id: None,
            message: Some(detail),
        };
        match account.owner {
            AccountOwner::Personal(owner) => {
                if owner != flow.user_id || old_grant.external_user_id != login.identity.id {
                    return Ok(wrong(format!(
                        "You signed in to {} as a different account than {}; nothing was \
                         changed. Sign in as {} and try again.",
                        login.provider.display_name(),
                        account.name,
                        account.name
                    )));
                }
                let mut tx = self.store.begin().await?;
                let (grant, _) = self.upsert_grant(&mut *tx, &login, now).await?;
                activate(&mut *tx, &account, now).await?;
                event(&mut *tx, &grant, Some(account.id), "reconnected", now, "").await?;
                tx.commit().await?;
                Ok(self
                    .verified(&grant, FlowStatus::Reconnected, account.id, &account.name)
                    .await?)
            }
            AccountOwner::Business(team) => {
                let page = if login.provider == Provider::X {
                    (login.identity.id == account.external_id).then(|| Page {
                        id: account.external_id.clone(),
                        name: display_name(&login.identity),
                        access_token: None,
                    })
                } else {
                    let adapter = self.connections.adapter(login.provider)?;
                    match adapter.pages(&login.tokens.access_token).await {
                        Ok(pages) => pages.into_iter().find(|p| p.id == account.external_id),
                        Err(e) => return Ok(self.provider_failed(login.provider, &e)),
                    }
                };
                let Some(page) = page else {
                    return Ok(wrong(format!(
                        "The {} login you used does not manage {} now; nothing was changed. \
                         Sign in with a login that has a role on it.",
                        login.provider.display_name(),
                        account.name
                    )));
                };
                let mut tx = self.store.begin().await?;
                if tx.member_role(team, login.user).await? != Some(Role::Admin) {
                    return Ok(Ending::new(
                        FlowStatus::Error,
                        "Only the team's admins reconnect its business pages.",
                    ));
                }
                let (grant, _) = self.upsert_grant(&mut *tx, &login, now).await?;
                let (account, _) = self.attach_page(&mut *tx, team, &grant, &page, now).await?;
                tx.commit().await?;
                Ok(self
                    .verified(&grant, FlowStatus::Reconnected, account.id, &account.name)
                    .await?)
            }
        }
    }

    /// The member's grant of this login with the new tokens: created, brought back if
    /// removed, or given the tokens in place (healing it if broken). Returns it and
    /// the status it had before.
    async fn upsert_grant(
        &self,
        tx: &mut dyn Tx,
        login: &Login,
        now: DateTime<Utc>,
    ) -> CoreResult<(Grant, Option<ConnectionStatus>)> {
        let provider = login.provider.as_str();
        let external = &login.identity.id;
        let requested = self
            .connections
            .config(login.provider)
            .map(|c| c.endpoints.scopes.clone())
            .unwrap_or_default();
        let sealed = self.seal_tokens(
            login.user,
            login.provider,
            external,
            &login.tokens,
            &requested,
            now,
        );
        let existing = tx.grant_by_login(login.user, provider, external).await?;
        let before = existing.as_ref().map(|g| g.status);
        let settings = &self.connections.settings;
        let first_due = now
            + phase(
                settings.probe_interval,
                &format!("{}:{provider}:{external}", login.user.0),
            );
        let next_due = self.next_due_after_tokens(
            now,
            sealed.access_expires_at,
            sealed.refresh_token.is_some(),
            first_due,
        );
        match existing {
            Some(grant) if grant.status != ConnectionStatus::Removed => {
                // The member's new consent wins over a refresh that committed since the
                // grant was read (PostgreSQL lets one in): fenced by the generation
                // read again.
                let mut generation = grant.generation;
                while !tx
                    .store_grant_tokens(grant.id, generation, &sealed, now)
                    .await?
                {
                    let fresh = tx
                        .grant_by_id(grant.id)
                        .await?
                        .filter(|g| g.status != ConnectionStatus::Removed)
                        .ok_or(CoreError::Conflict(
                            "this connection was removed meanwhile; connect it again",
                        ))?;
                    if fresh.generation == generation {
                        return Err(CoreError::Internal("a token write lost its fence".into()));
                    }
                    generation = fresh.generation;
                }
                if grant.status == ConnectionStatus::Broken {
                    tx.mark_grant_active(grant.id, next_due, now).await?;
                    heal_accounts(tx, grant.id, now).await?;
                } else {
                    tx.set_grant_next_due(grant.id, next_due).await?;
                }
                let grant = tx
                    .grant_by_id(grant.id)
                    .await?
                    .ok_or(CoreError::NotFound("connection"))?;
                Ok((grant, before))
            }
            _ => {
                let grant = tx
                    .create_grant(
                        login.user,
                        &NewGrant {
                            provider: provider.to_owned(),
                            external_user_id: external.clone(),
                            scopes: sealed.scopes,
                            access_token: sealed.access_token,
                            refresh_token: sealed.refresh_token,
                            access_expires_at: sealed.access_expires_at,
                            refresh_expires_at: sealed.refresh_expires_at,
                            next_due_at: next_due,
                            created_at: now,
                        },
                    )
                    .await?;
                Ok((grant, before))
            }
        }
    }

    /// Puts `page` under `grant` for `team`: a new business account, or the existing
    /// one moved and healed. Returns it and whether it existed before.
    async fn attach_page(
        &self,
        tx: &mut dyn Tx,
        team: TeamId,
        grant: &Grant,
        page: &Page,
        now: DateTime<Utc>,
    ) -> CoreResult<(Account, bool)> {
        let page_token = page.access_token.as_ref().map(|t| {
            self.keyring.seal_text(
                t.expose_secret(),
                &places::page_token(team, &grant.provider, &page.id),
            )
        });
        let existing = tx
            .business_accounts(team)
            .await?
            .into_iter()
            .find(|a| a.provider == grant.provider && a.external_id == page.id);
        match existing {
            Some(account) => {
                tx.move_account(team, account.id, grant.id, page_token.as_deref())
                    .await?;
                activate(&mut *tx, &account, now).await?;
                let detail = if account.grant_id == grant.id {
                    String::new()
                } else {
                    format!("moved from grant {}", account.grant_id.0)
                };
                event(tx, grant, Some(account.id), "reconnected", now, &detail).await?;
                Ok((account, true))
            }
            None => {
                let account = tx
                    .create_account(
                        AccountOwner::Business(team),
                        &NewAccount {
                            grant_id: grant.id,
                            provider: grant.provider.clone(),
                            external_id: page.id.clone(),
                            name: page.name.clone(),
                            page_token,
                            created_at: now,
                        },
                    )
                    .await?;
                event(tx, grant, Some(account.id), "connected", now, "").await?;
                Ok((account, false))
            }
        }
    }

    /// Rule 9: a probe right after the callback, so "reconnected" means working.
    async fn verified(
        &self,
        grant: &Grant,
        status: FlowStatus,
        account: AccountId,
        name: &str,
    ) -> CoreResult<Ending> {
        if let Some(problem) = self.verify_grant(grant).await? {
            return Ok(Ending {
                status: FlowStatus::Error,
                connection_id: Some(account),
                flow_id: None,
                message: Some(problem),
            });
        }
        let done = match status {
            FlowStatus::Reconnected => "reconnected and ready for sharing",
            _ => "connected and ready for sharing",
        };
        Ok(Ending {
            status,
            connection_id: Some(account),
            flow_id: None,
            message: Some(format!("{name} is {done}.")),
        })
    }

    /// The pages and organizations a finished business flow's login manages.
    pub async fn flow_pages(&self, user: UserId, flow: FlowId) -> CoreResult<PageChoice> {
        let (flow, grant, team) = self.open_choice(user, flow).await?;
        let (provider, pages) = self.managed_pages(&grant).await?;
        let mut tx = self.store.begin_read().await?;
        let connected = tx.business_accounts(team).await?;
        let team_slug = tx
            .team_by_id(team)
            .await?
            .ok_or(CoreError::NotFound("team"))?
            .slug;
        let pages = pages
            .into_iter()
            .map(|page| {
                let there = connected.iter().any(|a| {
                    a.provider == grant.provider
                        && a.external_id == page.id
                        && a.status != ConnectionStatus::Removed
                        && a.grant_id == grant.id
                });
                (page, there)
            })
            .collect();
        Ok(PageChoice {
            flow_id: flow.id,
            provider,
            team,
            team_slug,
            pages,
        })
    }

    /// Adds the chosen pages (by the provider's ids) to the flow's team.
    pub async fn choose_pages(
        &self,
        user: UserId,
        flow: FlowId,
        chosen: &[String],
    ) -> CoreResult<Vec<Connection>> {
        if chosen.is_empty() {
            return Err(CoreError::Invalid(apostle_domain::InvalidValue {
                field: "pages",
                reason: "choose at least one page",
            }));
        }
        let (_, grant, team) = self.open_choice(user, flow).await?;
        let (_, pages) = self.managed_pages(&grant).await?;
        let mut picked = Vec::new();
        for id in chosen {
            match pages.iter().find(|p| &p.id == id) {
                Some(page) => picked.push(page),
                None => {
                    return Err(CoreError::Invalid(apostle_domain::InvalidValue {
                        field: "pages",
                        reason: "one of the chosen pages is not managed by this login",
                    }))
                }
            }
        }
        let now = self.engine_now();
        let mut tx = self.store.begin().await?;
        if tx.member_role(team, user).await? != Some(Role::Admin) {
            return Err(CoreError::Forbidden);
        }
        let mut ids = Vec::new();
        for page in picked {
            let (account, _) = self.attach_page(&mut *tx, team, &grant, page, now).await?;
            ids.push(account.id);
        }
        tx.commit().await?;
        let mut connections = Vec::new();
        for id in ids {
            connections.push(self.connection(user, id).await?);
        }
        Ok(connections)
    }

    /// The pages a grant's login manages now, asked of the provider.
    async fn managed_pages(&self, grant: &Grant) -> CoreResult<(Provider, Vec<Page>)> {
        let provider = provider_of(&grant.provider)?;
        let token = self.access_token(grant)?;
        let pages = self
            .connections
            .adapter(provider)?
            .pages(&token)
            .await
            .map_err(|e| provider_error(provider, &e))?;
        Ok((provider, pages))
    }

    async fn open_choice(
        &self,
        user: UserId,
        flow: FlowId,
    ) -> CoreResult<(OAuthFlow, Grant, TeamId)> {
        let now = self.engine_now();
        let mut tx = self.store.begin_read().await?;
        let flow = tx
            .flow_by_id(user, flow)
            .await?
            .ok_or(CoreError::NotFound("flow"))?;
        let (Some(grant_id), Some(team)) = (flow.grant_id, flow.team_id) else {
            return Err(CoreError::NotFound("flow"));
        };
        if flow.expires_at <= now {
            return Err(CoreError::Conflict(
                "choosing pages took too long; connect again",
            ));
        }
        if tx.member_role(team, user).await? != Some(Role::Admin) {
            return Err(CoreError::Forbidden);
        }
        let grant = tx
            .grant_by_id(grant_id)
            .await?
            .filter(|g| g.status == ConnectionStatus::Active)
            .ok_or(CoreError::Conflict(
                "this login is no longer connected; connect again",
            ))?;
        Ok((flow, grant, team))
    }
}

/// A provider failure on a member's request, as a sentence for them.
pub(super) fn provider_error(provider: Provider, error: &apostle_providers::Error) -> CoreError {
    tracing::warn!(%provider, error = %error, "provider call failed");
    CoreError::Conflict("the provider did not answer as expected; try again in a moment")
}

/// A member's login at a provider, just signed in.
struct Login {
    user: UserId,
    provider: Provider,
    identity: Identity,
    tokens: TokenSet,
}

/// A flow's result before it becomes a redirect.
struct Ending {
    status: FlowStatus,
    connection_id: Option<AccountId>,
    flow_id: Option<FlowId>,
    message: Option<String>,
}

impl Ending {
    fn new(status: FlowStatus, message: impl Into<String>) -> Self {
        Ending {
            status,
            connection_id: None,
            flow_id: None,
            message: Some(message.into()),
        }
    }
}

/// Why a callback did not end in an [`Ending`].
enum Finish {
    Refused(FlowRefused),
    Failed(CoreError),
}

impl<E: Into<CoreError>> From<E> for Finish {
    fn from(e: E) -> Self {
        Finish::Failed(e.into())
    }
}

/// Accounts under a healed grant come back with it, except pages whose own role was
/// lost: those heal when the login manages them again.
pub(super) async fn heal_accounts(
    tx: &mut dyn Tx,
    grant: apostle_domain::GrantId,
    now: DateTime<Utc>,
) -> CoreResult<()> {
    for account in tx.accounts_of_grant(grant).await? {
        let own_break = account.break_reason.as_deref() == Some("page_access_lost");
        if account.status == ConnectionStatus::Broken && !own_break {
            activate(&mut *tx, &account, now).await?;
        }
    }
    Ok(())
}

/// Brings an account back to active; true when it was not.
async fn activate(tx: &mut dyn Tx, account: &Account, now: DateTime<Utc>) -> CoreResult<bool> {
    Ok(tx
        .set_account_status(
            account.owner,
            account.id,
            ConnectionStatus::Active,
            None,
            now,
        )
        .await?)
}

pub(super) async fn event(
    tx: &mut dyn Tx,
    grant: &Grant,
    account: Option<AccountId>,
    kind: &str,
    at: DateTime<Utc>,
    detail: &str,
) -> CoreResult<()> {
    tx.append_connection_event(&NewConnectionEvent {
        grant_id: grant.id,
        account_id: account,
        kind: kind.to_owned(),
        reason: None,
        at,
        detail: detail.to_owned(),
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_added_to_the_return_query() {
        assert_eq!(
            with_outcome("/teams/acme?tab=pages", &[("status", "connected".into())]),
            "/teams/acme?tab=pages&status=connected"
        );
        assert_eq!(
            with_outcome(
                "apostle://connections",
                &[("status", "declined".into()), ("message", "a b&c".into())]
            ),
            "apostle://connections?status=declined&message=a+b%26c"
        );
    }
}
