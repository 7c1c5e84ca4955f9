//! Secrets and tokens never reach `Debug`, `Display` or error messages.

use apostle_providers::{
    Author, Classification, Credentials, Facebook, FailedResponse, Instagram, LinkedIn, Page,
    PostContent, Provider, ProviderConfig, ScopeSet, TokenSet, X,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{config_at, http, redirect, secret};

const CLIENT_SECRET: &str = "s3cr3t-client-value";
const TOKEN: &str = "tok3n-access-value";

fn assert_clean(text: &str) {
    for secret in [CLIENT_SECRET, TOKEN, "fbcode-value", "verifier-value"] {
        assert!(!text.contains(secret), "{secret} leaked into: {text}");
    }
}

#[test]
fn debug_of_every_type_shows_no_secret_or_token() {
    let config = |provider| config_at(provider, "https://provider.example", CLIENT_SECRET);
    let facebook_config = config(Provider::Facebook);
    let facebook = Facebook::new(http(), facebook_config.clone());
    let x = X::new(http(), config(Provider::X));
    let authorization = x.authorize(&redirect(), ScopeSet::Personal);
    let tokens = TokenSet {
        access_token: secret(TOKEN),
        refresh_token: Some(secret(TOKEN)),
        expires_in: None,
        refresh_token_expires_in: None,
        scopes: vec!["openid".to_owned()],
    };
    let page = Page {
        id: "1".to_owned(),
        name: "Acme".to_owned(),
        access_token: Some(secret(TOKEN)),
    };
    let response = FailedResponse::new(
        reqwest::StatusCode::BAD_REQUEST,
        Default::default(),
        format!(r#"{{"error":"invalid_grant","token":"{TOKEN}"}}"#),
    );
    let outputs = [
        format!("{:?}", Credentials::new("id", CLIENT_SECRET)),
        format!("{facebook_config:?}"),
        format!("{:?}", LinkedIn::new(http(), config(Provider::LinkedIn))),
        format!("{x:?}"),
        format!("{facebook:?}"),
        format!("{:?}", facebook.login()),
        format!(
            "{:?}",
            Instagram::new(
                http(),
                ProviderConfig::instagram(&facebook_config, config(Provider::Instagram).endpoints)
            )
        ),
        format!("{authorization:?}"),
        format!("{tokens:?}"),
        format!("{page:?}"),
        format!("{response:?}"),
        format!("{:?}", Author::Person("abc".to_owned())),
        format!("{:?}", PostContent::default()),
    ];
    for output in outputs {
        assert_clean(&output);
    }
    assert!(!format!("{authorization:?}").contains(authorization_verifier(&authorization).as_str()));
}

fn authorization_verifier(authorization: &apostle_providers::Authorization) -> String {
    use secrecy::ExposeSecret;
    authorization
        .pkce_verifier
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned()
}

#[tokio::test]
async fn a_refused_facebook_code_exchange_names_method_and_path_only() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/{}/oauth/access_token", apostle_providers::GRAPH_VERSION)))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Error validating client secret.", "type": "OAuthException", "code": 1, "fbtrace_id": "A1",
        }})))
        .mount(&server)
        .await;
    let facebook = Facebook::new(
        http(),
        config_at(Provider::Facebook, &server.uri(), CLIENT_SECRET),
    );
    let error = facebook
        .login()
        .exchange_code("fbcode-value", &redirect())
        .await
        .unwrap_err();
    assert_eq!(error.classification(), Classification::Configuration);
    let shown = format!("{error} {error:?}");
    assert_clean(&shown);
    assert!(shown.contains("GET /v23.0/oauth/access_token"), "{shown}");
    assert!(!shown.contains('?'), "{shown}");
}

#[tokio::test]
async fn an_unreachable_provider_is_transient_and_its_error_shows_no_query() {
    // Bind then drop a listener: nothing answers on that port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let facebook = Facebook::new(http(), config_at(Provider::Facebook, &base, CLIENT_SECRET));
    let error = facebook
        .login()
        .exchange_code("fbcode-value", &redirect())
        .await
        .unwrap_err();
    assert!(error.classification().is_transient(), "{error}");
    let mut shown = format!("{error} {error:?}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        shown.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    assert_clean(&shown);
}
