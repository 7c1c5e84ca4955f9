//! The providers this process talks to: each one's app (client
//! credentials) and endpoints, from the `providers.<p>` settings over the
//! real providers' defaults, or from the mounted sandbox when no provider
//! has credentials. The connection services are built on the result, and
//! the security headers let forms lead to its consent pages only.

use crate::settings::{ProviderSettings, Settings, SettingsError};
use apostle_providers::{Credentials, Provider, ProviderConfig, ProviderEndpoints};
use secrecy::ExposeSecret;
use url::Url;

/// The client id Apostle presents to the mounted sandbox, which accepts any
/// id with its one secret (`sandbox.client_secret`).
pub const SANDBOX_CLIENT_ID: &str = "apostle";

/// Every provider Apostle can connect to here, in [`Provider::ALL`] order.
///
/// A provider's endpoints start from the real ones, or from
/// `auth_base_url`/`api_base_url` when set (an unset one stays real); then
/// each of `authorize_url`, `token_url`, `userinfo_url`, `revoke_url`,
/// `introspect_url`, `scopes` and `page_scopes` that is set replaces its
/// part. A provider with credentials is listed with them; one without is
/// left out, and Instagram, which signs in with Facebook's app, is listed
/// exactly when Facebook is.
///
/// When no provider has credentials and `sandbox` (the base the sandbox is
/// served at, e.g. `http://127.0.0.1:8080/sandbox`) is given, every
/// provider is listed against it instead of the real provider: at
/// `{sandbox}/linkedin`, `{sandbox}/x` and `{sandbox}/facebook`, Instagram
/// at Facebook's too (it is reached through Facebook's login and Graph),
/// with client id [`SANDBOX_CLIENT_ID`] and `sandbox.client_secret`.
/// Explicit bases and endpoints still apply there, so a standalone
/// `apostle sandbox` can stand in for one provider.
pub fn provider_configs(
    settings: &Settings,
    sandbox: Option<&Url>,
) -> Result<Vec<(Provider, ProviderConfig)>, SettingsError> {
    let sandbox = sandbox.filter(|_| !settings.providers.any_configured());
    let mut configs: Vec<(Provider, ProviderConfig)> = Vec::new();
    for provider in Provider::ALL {
        let own = provider_settings(settings, provider);
        let default_bases = match sandbox {
            Some(sandbox) => {
                let base = sandbox_base(sandbox, provider);
                (base.clone(), base)
            }
            None => real_bases(provider),
        };
        // Only a listed provider's endpoints are checked: settings for one
        // that is not used here cannot stop the start.
        let endpoints = || endpoints(provider, own, default_bases.clone());
        let config = match (provider, sandbox) {
            (_, Some(_)) => ProviderConfig {
                credentials: Credentials::new(
                    SANDBOX_CLIENT_ID,
                    settings.sandbox.client_secret.expose_secret(),
                ),
                endpoints: endpoints()?,
            },
            (Provider::Instagram, None) => {
                match configs.iter().find(|(p, _)| *p == Provider::Facebook) {
                    Some((_, facebook)) => ProviderConfig::instagram(facebook, endpoints()?),
                    None => continue,
                }
            }
            (_, None) => match (&own.client_id, &own.client_secret) {
                (Some(id), Some(secret)) => ProviderConfig {
                    credentials: Credentials::new(id.as_str(), secret.expose_secret()),
                    endpoints: endpoints()?,
                },
                _ => continue,
            },
        };
        configs.push((provider, config));
    }
    Ok(configs)
}

/// The origins of the consent pages in use, each once, such as
/// `https://www.linkedin.com`: where the CSP's `form-action` must let a
/// Connect button's redirect go.
pub fn consent_origins(configs: &[(Provider, ProviderConfig)]) -> Vec<String> {
    let mut origins: Vec<String> = configs
        .iter()
        .map(|(_, config)| {
            config
                .endpoints
                .authorize_url
                .origin()
                .ascii_serialization()
        })
        .collect();
    origins.sort();
    origins.dedup();
    origins
}

fn provider_settings(settings: &Settings, provider: Provider) -> &ProviderSettings {
    let providers = &settings.providers;
    match provider {
        Provider::LinkedIn => &providers.linkedin,
        Provider::X => &providers.x,
        Provider::Facebook => &providers.facebook,
        Provider::Instagram => &providers.instagram,
    }
}

/// The real provider's (sign-in, API) bases. Both are bare hosts, so each
/// is the origin of an endpoint that lives on it.
fn real_bases(provider: Provider) -> (Url, Url) {
    let real = ProviderEndpoints::real(provider);
    let origin = |url: &Url| {
        Url::parse(&url.origin().ascii_serialization()).expect("an https origin is a URL")
    };
    (origin(&real.authorize_url), origin(&real.userinfo_url))
}

/// Where the sandbox serves a provider, both its sign-in pages and its API.
fn sandbox_base(sandbox: &Url, provider: Provider) -> Url {
    let name = match provider {
        Provider::Instagram => Provider::Facebook.as_str(),
        other => other.as_str(),
    };
    let mut base = sandbox.clone();
    base.set_path(&format!("{}/{name}", sandbox.path().trim_end_matches('/')));
    base
}

fn endpoints(
    provider: Provider,
    own: &ProviderSettings,
    (auth_base, api_base): (Url, Url),
) -> Result<ProviderEndpoints, SettingsError> {
    let auth_base = own.auth_base_url.as_ref().unwrap_or(&auth_base);
    let api_base = own.api_base_url.as_ref().unwrap_or(&api_base);
    let mut endpoints = ProviderEndpoints::from_bases(provider, auth_base, api_base);
    let replace = |slot: &mut Url, value: &Option<Url>| {
        if let Some(url) = value {
            slot.clone_from(url);
        }
    };
    replace(&mut endpoints.authorize_url, &own.authorize_url);
    replace(&mut endpoints.token_url, &own.token_url);
    replace(&mut endpoints.userinfo_url, &own.userinfo_url);
    replace(&mut endpoints.revoke_url, &own.revoke_url);
    if let Some(url) = &own.introspect_url {
        endpoints.introspect_url = Some(url.clone());
    }
    if let Some(scopes) = &own.scopes {
        endpoints.scopes.clone_from(scopes);
    }
    if let Some(scopes) = &own.page_scopes {
        endpoints.page_scopes.clone_from(scopes);
    }
    // Facebook and Instagram ask for no personal scopes by default, so
    // emptying their page scopes would ask the provider for nothing at all.
    if endpoints.scopes.is_empty() && endpoints.page_scopes.is_empty() {
        let key = if own.page_scopes.is_some() {
            "page_scopes"
        } else {
            "scopes"
        };
        return Err(SettingsError::Invalid {
            key: format!("providers.{provider}.{key}"),
            reason: "leaves no scope to ask for, neither in scopes nor in page_scopes".to_owned(),
        });
    }
    Ok(endpoints)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::load_from(None, env).unwrap()
    }

    fn configs(pairs: &[(&str, &str)], sandbox: Option<&str>) -> Vec<(Provider, ProviderConfig)> {
        let sandbox = sandbox.map(|s| Url::parse(s).unwrap());
        provider_configs(&settings(pairs), sandbox.as_ref()).unwrap()
    }

    fn listed(configs: &[(Provider, ProviderConfig)]) -> Vec<Provider> {
        configs.iter().map(|(p, _)| *p).collect()
    }

    fn config(configs: &[(Provider, ProviderConfig)], provider: Provider) -> &ProviderConfig {
        &configs.iter().find(|(p, _)| *p == provider).unwrap().1
    }

    const LINKEDIN: [(&str, &str); 2] = [
        ("APOSTLE_PROVIDERS__LINKEDIN__CLIENT_ID", "li-app"),
        ("APOSTLE_PROVIDERS__LINKEDIN__CLIENT_SECRET", "li-secret-1"),
    ];
    const FACEBOOK: [(&str, &str); 2] = [
        ("APOSTLE_PROVIDERS__FACEBOOK__CLIENT_ID", "fb-app"),
        ("APOSTLE_PROVIDERS__FACEBOOK__CLIENT_SECRET", "fb-secret-2"),
    ];

    #[test]
    fn the_real_bases_give_the_real_endpoints() {
        for provider in Provider::ALL {
            let (auth, api) = real_bases(provider);
            assert_eq!(
                ProviderEndpoints::from_bases(provider, &auth, &api),
                ProviderEndpoints::real(provider),
                "{provider}"
            );
        }
    }

    #[test]
    fn a_provider_with_credentials_uses_them_at_the_real_endpoints_by_default() {
        let configs = configs(&LINKEDIN, None);
        assert_eq!(listed(&configs), [Provider::LinkedIn]);
        let linkedin = config(&configs, Provider::LinkedIn);
        assert_eq!(linkedin.credentials.client_id, "li-app");
        assert_eq!(
            linkedin.credentials.client_secret.expose_secret(),
            "li-secret-1"
        );
        assert_eq!(
            linkedin.endpoints,
            ProviderEndpoints::real(Provider::LinkedIn)
        );
        assert_eq!(
            consent_origins(&configs),
            ["https://www.linkedin.com".to_owned()]
        );
    }

    #[test]
    fn instagram_is_listed_with_facebooks_app_exactly_when_facebook_is() {
        let configs = configs(&FACEBOOK, None);
        assert_eq!(listed(&configs), [Provider::Facebook, Provider::Instagram]);
        let instagram = config(&configs, Provider::Instagram);
        assert_eq!(instagram.credentials.client_id, "fb-app");
        assert_eq!(
            instagram.endpoints,
            ProviderEndpoints::real(Provider::Instagram)
        );
        let without_facebook = self::configs(
            &[
                LINKEDIN[0],
                LINKEDIN[1],
                (
                    "APOSTLE_PROVIDERS__INSTAGRAM__API_BASE_URL",
                    "https://graph.example.com",
                ),
            ],
            None,
        );
        assert_eq!(listed(&without_facebook), [Provider::LinkedIn]);
    }

    #[test]
    fn each_endpoint_and_scope_key_replaces_only_its_own_part() {
        let configs = configs(
            &[
                LINKEDIN[0],
                LINKEDIN[1],
                (
                    "APOSTLE_PROVIDERS__LINKEDIN__TOKEN_URL",
                    "https://eu.example.com/token",
                ),
                ("APOSTLE_PROVIDERS__LINKEDIN__SCOPES", "openid profile"),
            ],
            None,
        );
        let linkedin = &config(&configs, Provider::LinkedIn).endpoints;
        let real = ProviderEndpoints::real(Provider::LinkedIn);
        assert_eq!(linkedin.token_url.as_str(), "https://eu.example.com/token");
        assert_eq!(linkedin.scopes, ["openid", "profile"]);
        let expected = ProviderEndpoints {
            token_url: linkedin.token_url.clone(),
            scopes: linkedin.scopes.clone(),
            ..real
        };
        assert_eq!(linkedin, &expected, "nothing else moved");

        let every_key = self::configs(
            &[
                ("APOSTLE_PROVIDERS__X__CLIENT_ID", "x-app"),
                ("APOSTLE_PROVIDERS__X__CLIENT_SECRET", "x-secret"),
                (
                    "APOSTLE_PROVIDERS__X__AUTHORIZE_URL",
                    "https://auth.example.com/authorize",
                ),
                (
                    "APOSTLE_PROVIDERS__X__TOKEN_URL",
                    "https://auth.example.com/token",
                ),
                (
                    "APOSTLE_PROVIDERS__X__USERINFO_URL",
                    "https://auth.example.com/me",
                ),
                (
                    "APOSTLE_PROVIDERS__X__REVOKE_URL",
                    "https://auth.example.com/revoke",
                ),
                (
                    "APOSTLE_PROVIDERS__X__INTROSPECT_URL",
                    "https://auth.example.com/introspect",
                ),
                ("APOSTLE_PROVIDERS__X__SCOPES", "read,write"),
                ("APOSTLE_PROVIDERS__X__PAGE_SCOPES", "pages"),
            ],
            None,
        );
        let x = &config(&every_key, Provider::X).endpoints;
        assert_eq!(
            [
                x.authorize_url.as_str(),
                x.token_url.as_str(),
                x.userinfo_url.as_str(),
                x.revoke_url.as_str(),
                x.introspect_url.as_ref().unwrap().as_str(),
            ],
            [
                "https://auth.example.com/authorize",
                "https://auth.example.com/token",
                "https://auth.example.com/me",
                "https://auth.example.com/revoke",
                "https://auth.example.com/introspect",
            ]
        );
        assert_eq!(x.scopes, ["read", "write"]);
        assert_eq!(x.page_scopes, ["pages"]);
        assert_eq!(
            x.api_base_url,
            ProviderEndpoints::real(Provider::X).api_base_url
        );
        assert_eq!(
            consent_origins(&every_key),
            ["https://auth.example.com".to_owned()]
        );
    }

    #[test]
    fn one_base_moves_its_endpoints_and_the_other_stays_real() {
        let configs = configs(
            &[
                LINKEDIN[0],
                LINKEDIN[1],
                (
                    "APOSTLE_PROVIDERS__LINKEDIN__API_BASE_URL",
                    "https://api.eu.example.com",
                ),
            ],
            None,
        );
        let linkedin = &config(&configs, Provider::LinkedIn).endpoints;
        assert_eq!(
            linkedin.userinfo_url.as_str(),
            "https://api.eu.example.com/v2/userinfo"
        );
        assert_eq!(
            linkedin.authorize_url,
            ProviderEndpoints::real(Provider::LinkedIn).authorize_url
        );
    }

    #[test]
    fn without_credentials_every_provider_points_at_the_mounted_sandbox() {
        let configs = configs(
            &[("APOSTLE_SANDBOX__CLIENT_SECRET", "sandbox-secret-3")],
            Some("http://127.0.0.1:8080/sandbox"),
        );
        assert_eq!(listed(&configs), Provider::ALL);
        for (provider, config) in &configs {
            let at = match provider {
                Provider::Instagram => "facebook",
                other => other.as_str(),
            };
            let base = Url::parse(&format!("http://127.0.0.1:8080/sandbox/{at}")).unwrap();
            assert_eq!(
                config.endpoints,
                ProviderEndpoints::from_bases(*provider, &base, &base),
                "{provider}"
            );
            assert_eq!(config.credentials.client_id, SANDBOX_CLIENT_ID);
            assert_eq!(
                config.credentials.client_secret.expose_secret(),
                "sandbox-secret-3"
            );
        }
        assert_eq!(
            consent_origins(&configs),
            ["http://127.0.0.1:8080".to_owned()]
        );
    }

    #[test]
    fn the_sandbox_stands_in_only_when_no_provider_has_credentials() {
        let configs = configs(&LINKEDIN, Some("http://127.0.0.1:8080/sandbox"));
        assert_eq!(listed(&configs), [Provider::LinkedIn]);
        assert_eq!(
            config(&configs, Provider::LinkedIn).endpoints,
            ProviderEndpoints::real(Provider::LinkedIn)
        );
        assert!(self::configs(&[], None).is_empty(), "nothing to connect to");
    }

    #[test]
    fn settings_that_ask_a_provider_for_no_scope_at_all_are_refused() {
        let pairs = [
            FACEBOOK[0],
            FACEBOOK[1],
            ("APOSTLE_PROVIDERS__FACEBOOK__PAGE_SCOPES", ","),
        ];
        let error = provider_configs(&settings(&pairs), None).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("providers.facebook.page_scopes: "),
            "{error}"
        );
        let unused = [("APOSTLE_PROVIDERS__FACEBOOK__PAGE_SCOPES", ",")];
        assert!(
            provider_configs(&settings(&unused), None).is_ok(),
            "a provider that is not listed is not checked"
        );
    }

    #[test]
    fn debug_output_shows_no_client_secret() {
        let sandbox = Url::parse("http://127.0.0.1:8080/sandbox").unwrap();
        let mut pairs = vec![LINKEDIN[0], LINKEDIN[1], FACEBOOK[0], FACEBOOK[1]];
        let debug = format!("{:?}", provider_configs(&settings(&pairs), None).unwrap());
        assert!(
            debug.contains("li-app") && debug.contains("fb-app"),
            "{debug}"
        );
        assert!(
            !debug.contains("li-secret-1") && !debug.contains("fb-secret-2"),
            "{debug}"
        );
        pairs = vec![("APOSTLE_SANDBOX__CLIENT_SECRET", "sandbox-secret-3")];
        let debug = format!(
            "{:?}",
            provider_configs(&settings(&pairs), Some(&sandbox)).unwrap()
        );
        assert!(!debug.contains("sandbox-secret-3"), "{debug}");
    }
}
