//! Per-provider configuration: the app's client credentials and every endpoint, with the
//! real providers' URLs and scopes (providers.md) as defaults, or all of them derived from
//! an `auth_base_url` + `api_base_url` pair, the way the sandbox mounts each provider.

use std::fmt;

use secrecy::SecretString;
use url::Url;

use crate::Provider;

/// The Graph API version in every Facebook and Instagram URL.
pub const GRAPH_VERSION: &str = "v23.0";

/// The app registered at a provider. Instagram has none of its own: it is Facebook's.
#[derive(Clone)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

impl Credentials {
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Credentials {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// Where a provider's OAuth and API live, and which scopes to ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderEndpoints {
    pub authorize_url: Url,
    pub token_url: Url,
    /// Identity: LinkedIn `/v2/userinfo`, X `/2/users/me`, Graph `/me`.
    pub userinfo_url: Url,
    pub revoke_url: Url,
    /// LinkedIn's `introspectToken`, Graph's `debug_token`; X has none.
    pub introspect_url: Option<Url>,
    /// What API paths hang from; for Graph it carries the version (`…/v23.0`).
    pub api_base_url: Url,
    /// Asked for every connection (personal use).
    pub scopes: Vec<String>,
    /// Added to `scopes` when the connection also serves business pages.
    pub page_scopes: Vec<String>,
}

/// A provider's hosts as they really are: (sign-in host, API host).
fn real_bases(provider: Provider) -> (&'static str, &'static str) {
    match provider {
        Provider::LinkedIn => ("https://www.linkedin.com", "https://api.linkedin.com"),
        Provider::X => ("https://x.com", "https://api.x.com"),
        Provider::Facebook | Provider::Instagram => {
            ("https://www.facebook.com", "https://graph.facebook.com")
        }
    }
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// `base` + `path`, whether or not `base` ends with a slash. `path` stays a path: a `?`
/// or `#` in an id is escaped, never read as the start of a query.
pub(crate) fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    url
}

impl ProviderEndpoints {
    /// The real provider's endpoints and scopes.
    pub fn real(provider: Provider) -> Self {
        let (auth, api) = real_bases(provider);
        let parse = |base| Url::parse(base).expect("the real hosts are valid URLs");
        Self::from_bases(provider, &parse(auth), &parse(api))
    }

    /// Every endpoint at the same path as at the real provider, below `auth_base_url`
    /// (the sign-in host: `www.linkedin.com`, `x.com`, `www.facebook.com`) and
    /// `api_base_url` (`api.linkedin.com`, `api.x.com`, `graph.facebook.com`). The sandbox
    /// serves both under one prefix, e.g. `http://127.0.0.1:8080/sandbox/linkedin`.
    pub fn from_bases(provider: Provider, auth_base_url: &Url, api_base_url: &Url) -> Self {
        let auth = |path: &str| join(auth_base_url, path);
        let api = |path: &str| join(api_base_url, path);
        let graph = |path: &str| api(&format!("/{GRAPH_VERSION}{path}"));
        match provider {
            // LinkedIn's OAuth endpoints, token and revocation included, live on the
            // sign-in host; only the API is on api.linkedin.com.
            Provider::LinkedIn => ProviderEndpoints {
                authorize_url: auth("/oauth/v2/authorization"),
                token_url: auth("/oauth/v2/accessToken"),
                userinfo_url: api("/v2/userinfo"),
                revoke_url: auth("/oauth/v2/revoke"),
                introspect_url: Some(auth("/oauth/v2/introspectToken")),
                api_base_url: api(""),
                scopes: scopes(&["openid", "profile", "email", "w_member_social"]),
                page_scopes: scopes(&[
                    "w_organization_social",
                    "r_organization_social",
                    "rw_organization_admin",
                ]),
            },
            Provider::X => ProviderEndpoints {
                authorize_url: auth("/i/oauth2/authorize"),
                token_url: api("/2/oauth2/token"),
                userinfo_url: api("/2/users/me"),
                revoke_url: api("/2/oauth2/revoke"),
                introspect_url: None,
                api_base_url: api(""),
                scopes: scopes(&["tweet.read", "tweet.write", "users.read", "offline.access"]),
                page_scopes: Vec::new(),
            },
            Provider::Facebook | Provider::Instagram => ProviderEndpoints {
                authorize_url: auth(&format!("/{GRAPH_VERSION}/dialog/oauth")),
                token_url: graph("/oauth/access_token"),
                userinfo_url: graph("/me"),
                revoke_url: graph("/me/permissions"),
                introspect_url: Some(graph("/debug_token")),
                api_base_url: graph(""),
                // Facebook and Instagram serve business pages only.
                scopes: Vec::new(),
                page_scopes: if provider == Provider::Facebook {
                    scopes(&[
                        "pages_show_list",
                        "pages_manage_posts",
                        "pages_read_engagement",
                    ])
                } else {
                    scopes(&[
                        "instagram_basic",
                        "instagram_content_publish",
                        "pages_read_engagement",
                        "pages_show_list",
                    ])
                },
            },
        }
    }

    /// An API URL: `api_base_url` + `path`.
    pub fn api(&self, path: &str) -> Url {
        join(&self.api_base_url, path)
    }
}

/// One provider's app and endpoints.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    pub credentials: Credentials,
    pub endpoints: ProviderEndpoints,
}

impl ProviderConfig {
    /// The real provider with these credentials.
    pub fn real(provider: Provider, credentials: Credentials) -> Self {
        ProviderConfig {
            credentials,
            endpoints: ProviderEndpoints::real(provider),
        }
    }

    /// Instagram signs in through Facebook: Facebook's app, Instagram's endpoints.
    pub fn instagram(facebook: &ProviderConfig, endpoints: ProviderEndpoints) -> Self {
        ProviderConfig {
            credentials: facebook.credentials.clone(),
            endpoints,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_endpoints_are_the_providers_own() {
        let linkedin = ProviderEndpoints::real(Provider::LinkedIn);
        assert_eq!(
            linkedin.authorize_url.as_str(),
            "https://www.linkedin.com/oauth/v2/authorization"
        );
        assert_eq!(
            linkedin.token_url.as_str(),
            "https://www.linkedin.com/oauth/v2/accessToken"
        );
        assert_eq!(
            linkedin.userinfo_url.as_str(),
            "https://api.linkedin.com/v2/userinfo"
        );
        let x = ProviderEndpoints::real(Provider::X);
        assert_eq!(x.authorize_url.as_str(), "https://x.com/i/oauth2/authorize");
        assert_eq!(x.token_url.as_str(), "https://api.x.com/2/oauth2/token");
        assert_eq!(x.revoke_url.as_str(), "https://api.x.com/2/oauth2/revoke");
        assert!(x.scopes.iter().any(|s| s == "offline.access"));
        let facebook = ProviderEndpoints::real(Provider::Facebook);
        assert_eq!(
            facebook.authorize_url.as_str(),
            format!("https://www.facebook.com/{GRAPH_VERSION}/dialog/oauth")
        );
        assert_eq!(
            facebook.token_url.as_str(),
            format!("https://graph.facebook.com/{GRAPH_VERSION}/oauth/access_token")
        );
        let instagram = ProviderEndpoints::real(Provider::Instagram);
        assert!(instagram
            .page_scopes
            .iter()
            .any(|s| s == "instagram_content_publish"));
    }

    #[test]
    fn sandbox_bases_give_the_sandbox_paths() {
        let base = Url::parse("http://127.0.0.1:9000/sandbox/linkedin/").unwrap();
        let linkedin = ProviderEndpoints::from_bases(Provider::LinkedIn, &base, &base);
        assert_eq!(
            linkedin.authorize_url.as_str(),
            "http://127.0.0.1:9000/sandbox/linkedin/oauth/v2/authorization"
        );
        assert_eq!(
            linkedin.api("/rest/posts").as_str(),
            "http://127.0.0.1:9000/sandbox/linkedin/rest/posts"
        );
        let base = Url::parse("http://127.0.0.1:9000/sandbox/instagram").unwrap();
        let instagram = ProviderEndpoints::from_bases(Provider::Instagram, &base, &base);
        assert_eq!(
            instagram.api("/me/accounts").as_str(),
            format!("http://127.0.0.1:9000/sandbox/instagram/{GRAPH_VERSION}/me/accounts")
        );
    }

    #[test]
    fn an_id_cannot_smuggle_a_query_into_an_api_url() {
        let endpoints = ProviderEndpoints::real(Provider::Facebook);
        let url = endpoints.api("/1?access_token=stolen#x/feed");
        assert_eq!(url.query(), None);
        assert_eq!(url.fragment(), None);
        assert!(
            url.path().ends_with("/1%3Faccess_token=stolen%23x/feed"),
            "{url}"
        );
    }

    #[test]
    fn instagram_uses_facebooks_app() {
        let facebook = ProviderConfig::real(Provider::Facebook, Credentials::new("fb-app", "s"));
        let instagram =
            ProviderConfig::instagram(&facebook, ProviderEndpoints::real(Provider::Instagram));
        assert_eq!(instagram.credentials.client_id, "fb-app");
    }
}
