//! Shared by the tests: adapters pointed at a server, request matchers, and the sandbox.

use std::collections::BTreeMap;

use apostle_providers::{
    Classification, Credentials, Http, Provider, ProviderConfig, ProviderEndpoints,
};
use apostle_sandbox::{Sandbox, SandboxConfig};
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

/// A sandbox on 127.0.0.1:0 and its base URL.
pub async fn sandbox() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = Sandbox::new(SandboxConfig {
        // Instagram containers are ready after 5 ms; tokens keep lifetimes tests never reach.
        time_scale: 0.001,
        seed: Some(11),
        ..SandboxConfig::default()
    })
    .router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

/// What the member's browser does on the sandbox's consent page: allow as `member`.
/// Returns the callback's code after checking its state.
pub async fn consent(authorize: &apostle_providers::Authorization, member: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut form: Vec<(String, String)> = authorize.url.query_pairs().into_owned().collect();
    form.push(("member".into(), member.into()));
    form.push(("decision".into(), "allow".into()));
    let mut target = authorize.url.clone();
    target.set_query(None);
    let response = client.post(target).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 302, "consent redirects back");
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let value = |key: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(value("state").as_deref(), Some(authorize.state.as_str()));
    value("code").expect("a code in the callback")
}

/// `POST /sandbox/admin{path}` with a JSON body.
pub async fn admin(base: &str, path: &str, body: serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/sandbox/admin{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "admin {path}: {}",
        response.status()
    );
}
