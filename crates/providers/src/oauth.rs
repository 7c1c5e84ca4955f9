//! The OAuth 2.0 steps providers share, through the `oauth2` crate on [`Http`]: the
//! authorize URL (state, PKCE S256 where the provider takes it, its scope separator), the
//! code exchange and the refresh, with the client authentication each provider requires.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, TokenResponse, TokenUrl,
};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::classify::Endpoint;
use crate::error::{Call, Error};
use crate::http::{Http, HttpFailure, OAuthHttp};
use crate::{Provider, ProviderConfig};

/// What a connection is for: personal use, or business pages too (more scopes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeSet {
    Personal,
    Pages,
}

/// Where to send the member, and what the callback must check and present.
#[derive(Debug)]
pub struct Authorization {
    pub url: Url,
    /// Single-use; the callback must carry it back unchanged.
    pub state: String,
    /// Kept until the code exchange (X only).
    pub pkce_verifier: Option<SecretString>,
}

/// The tokens a token endpoint hands out.
#[derive(Clone, Debug)]
pub struct TokenSet {
    pub access_token: SecretString,
    /// `None` when the provider gave none: keep the one stored before (design.md §2 rule 3).
    pub refresh_token: Option<SecretString>,
    pub expires_in: Option<Duration>,
    /// LinkedIn counts it from the first authorization; refreshing does not extend it.
    pub refresh_token_expires_in: Option<Duration>,
    pub scopes: Vec<String>,
}

/// Splits scopes however the provider joined them (LinkedIn with commas, X with spaces).
pub(crate) fn split_scopes(scopes: &str) -> Vec<String> {
    scopes
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A token endpoint's answer. Not oauth2's standard response: LinkedIn may leave out
/// `token_type`, joins scopes with commas, and adds `refresh_token_expires_in`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(crate) struct Tokens {
    access_token: AccessToken,
    #[serde(default = "bearer")]
    token_type: BasicTokenType,
    expires_in: Option<u64>,
    refresh_token: Option<RefreshToken>,
    refresh_token_expires_in: Option<u64>,
    #[serde(default, deserialize_with = "scope_list")]
    scope: Option<Vec<Scope>>,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

fn scope_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Scope>>, D::Error> {
    let scopes = Option::<String>::deserialize(deserializer)?;
    Ok(scopes.map(|s| split_scopes(&s).into_iter().map(Scope::new).collect()))
}

impl TokenResponse for Tokens {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }

    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scope.as_ref()
    }
}

type Client = oauth2::Client<
    BasicErrorResponse,
    Tokens,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// How a provider speaks OAuth.
#[derive(Clone)]
pub(crate) struct Dialect {
    pub(crate) provider: Provider,
    pub(crate) auth_type: AuthType,
    pub(crate) pkce: bool,
    pub(crate) scope_separator: &'static str,
}

/// One provider's OAuth client.
#[derive(Clone)]
pub(crate) struct OAuth {
    dialect: Dialect,
    client: Client,
    config: ProviderConfig,
}

impl fmt::Debug for OAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth")
            .field("provider", &self.dialect.provider)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OAuth {
    pub(crate) fn new(dialect: Dialect, config: ProviderConfig) -> Self {
        let endpoints = &config.endpoints;
        let client = oauth2::Client::new(ClientId::new(config.credentials.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                config.credentials.client_secret.expose_secret().to_owned(),
            ))
            .set_auth_uri(AuthUrl::from_url(endpoints.authorize_url.clone()))
            .set_token_uri(TokenUrl::from_url(endpoints.token_url.clone()))
            .set_auth_type(dialect.auth_type.clone());
        OAuth {
            dialect,
            client,
            config,
        }
    }

    pub(crate) fn config(&self) -> &ProviderConfig {
        &self.config
    }

    pub(crate) fn authorize(&self, redirect_uri: &Url, scopes: ScopeSet) -> Authorization {
        let endpoints = &self.config.endpoints;
        let mut wanted = endpoints.scopes.clone();
        if scopes == ScopeSet::Pages {
            for scope in &endpoints.page_scopes {
                if !wanted.contains(scope) {
                    wanted.push(scope.clone());
                }
            }
        }
        let redirect = RedirectUrl::from_url(redirect_uri.clone());
        let mut request = self
            .client
            .authorize_url(CsrfToken::new_random)
            .set_redirect_uri(Cow::Owned(redirect));
        // One scope parameter joined the provider's way (Facebook wants commas).
        if !wanted.is_empty() {
            request = request.add_scope(Scope::new(wanted.join(self.dialect.scope_separator)));
        }
        let mut pkce_verifier = None;
        if self.dialect.pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            pkce_verifier = Some(SecretString::from(verifier.secret().to_owned()));
        }
        let (url, state) = request.url();
        Authorization {
            url,
            state: state.secret().to_owned(),
            pkce_verifier,
        }
    }

    pub(crate) async fn exchange_code(
        &self,
        http: &Http,
        code: &str,
        redirect_uri: &Url,
        pkce_verifier: Option<&SecretString>,
    ) -> Result<TokenSet, Error> {
        let redirect = RedirectUrl::from_url(redirect_uri.clone());
        let mut request = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_redirect_uri(Cow::Owned(redirect));
        if let Some(verifier) = pkce_verifier {
            request = request
                .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose_secret().to_owned()));
        }
        let answer = request.request_async(&OAuthHttp(http)).await;
        self.tokens(answer)
    }

    pub(crate) async fn refresh(
        &self,
        http: &Http,
        refresh_token: &SecretString,
    ) -> Result<TokenSet, Error> {
        let refresh_token = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let answer = self
            .client
            .exchange_refresh_token(&refresh_token)
            .request_async(&OAuthHttp(http))
            .await;
        self.tokens(answer)
    }

    fn call(&self) -> Call {
        Call::new(
            self.dialect.provider,
            Endpoint::Token,
            Method::POST,
            &self.config.endpoints.token_url,
        )
    }

    fn tokens(
        &self,
        answer: Result<Tokens, RequestTokenError<HttpFailure, BasicErrorResponse>>,
    ) -> Result<TokenSet, Error> {
        let call = self.call();
        let tokens = answer.map_err(|error| match error {
            RequestTokenError::Request(HttpFailure::Status(response)) => call.failed(&response),
            RequestTokenError::Request(HttpFailure::Transport(error)) => call.transport(error),
            // Only 2xx answers reach oauth2's own parsing.
            RequestTokenError::ServerResponse(_)
            | RequestTokenError::Parse(..)
            | RequestTokenError::Other(_) => call.malformed("a token response"),
        })?;
        Ok(TokenSet {
            access_token: SecretString::from(tokens.access_token().secret().to_owned()),
            refresh_token: tokens
                .refresh_token()
                .map(|t| SecretString::from(t.secret().to_owned())),
            expires_in: tokens.expires_in(),
            refresh_token_expires_in: tokens.refresh_token_expires_in.map(Duration::from_secs),
            scopes: tokens
                .scope
                .unwrap_or_default()
                .into_iter()
                .map(|scope| scope.as_str().to_owned())
                .collect(),
        })
    }

    /// The identity endpoint's answer for `token`.
    pub(crate) async fn userinfo<T: DeserializeOwned>(
        &self,
        http: &Http,
        token: &SecretString,
        query: &[(&str, &str)],
        what: &'static str,
    ) -> Result<T, Error> {
        let request = http
            .client()
            .get(self.config.endpoints.userinfo_url.clone())
            .query(query)
            .bearer_auth(token.expose_secret());
        http.send(self.dialect.provider, Endpoint::Api, request)
            .await?
            .json(what)
    }

    /// Revocation, sent directly: the `oauth2` crate refuses any revocation URL that is
    /// not https, and the sandbox and test servers are plain http.
    pub(crate) async fn revoke(&self, http: &Http, token: &SecretString) -> Result<(), Error> {
        let credentials = &self.config.credentials;
        let request = http.client().post(self.config.endpoints.revoke_url.clone());
        let mut form = vec![("token", token.expose_secret())];
        let request = match self.dialect.auth_type {
            AuthType::BasicAuth => request.basic_auth(
                &credentials.client_id,
                Some(credentials.client_secret.expose_secret()),
            ),
            _ => {
                form.push(("client_id", credentials.client_id.as_str()));
                form.push(("client_secret", credentials.client_secret.expose_secret()));
                request
            }
        };
        http.send(self.dialect.provider, Endpoint::Token, request.form(&form))
            .await
            .map(drop)
    }
}
