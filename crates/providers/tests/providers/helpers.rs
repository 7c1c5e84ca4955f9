//! Shared by the tests: adapters pointed at a server, request matchers, and the sandbox.

use std::collections::BTreeMap;

use apostle_providers::{
    Classification, Credentials, Http, Provider, ProviderConfig, ProviderEndpoints,
};
use secrecy::SecretString;
use url::Url;
use wiremock::Request;

pub const CLIENT_ID: &str = "apostle-client";
pub const SECRET: &str = "sandbox-secret";
pub const REDIRECT: &str = "https://apostle.example/oauth/callback";

pub fn http() -> Http {
    Http::new().expect("http client")
}

pub fn redirect() -> Url {
    Url::parse(REDIRECT).unwrap()
}

pub fn secret(value: &str) -> SecretString {
    SecretString::from(value.to_owned())
}

/// `provider`'s configuration with both hosts at `base`, the way the sandbox mounts it.
pub fn config_at(provider: Provider, base: &str, client_secret: &str) -> ProviderConfig {
    let base = Url::parse(base).unwrap();
    ProviderConfig {
        credentials: Credentials::new(CLIENT_ID, client_secret),
        endpoints: ProviderEndpoints::from_bases(provider, &base, &base),
    }
}

/// How the failure of a call that must fail is classified.
pub fn class<T: std::fmt::Debug>(result: Result<T, apostle_providers::Error>) -> Classification {
    result.unwrap_err().classification()
}

/// Matches a form-encoded body holding exactly these fields.
pub fn form_is(expected: &[(&str, &str)]) -> impl Fn(&Request) -> bool + Send + Sync {
    let expected: BTreeMap<String, String> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |request: &Request| {
        let is_form = request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let fields: BTreeMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        is_form && fields == expected
    }
}

/// Matches a request without an `Authorization` header.
pub fn no_authorization(request: &Request) -> bool {
    !request.headers.contains_key("authorization")
}
