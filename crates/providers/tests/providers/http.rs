//! The HTTP client under every adapter: it never follows a redirect, and a call that takes
//! too long is a transient failure.

use std::time::Duration;

use apostle_providers::{Classification, Http, Provider, X};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{class, config_at, secret, SECRET};

#[tokio::test]
async fn a_redirecting_endpoint_is_not_followed_and_is_our_configuration() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/users/me"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/steal", elsewhere.uri()).as_str()),
        )
        .mount(&server)
        .await;
    let x = X::new(
        Http::new().unwrap(),
        config_at(Provider::X, &server.uri(), SECRET),
    );
    assert_eq!(
        class(x.identity(&secret("xaccess")).await),
        Classification::Configuration
    );
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_call_that_times_out_is_transient() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/users/me"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"id": "1"}}))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let http = Http::with_timeouts(Duration::from_secs(1), Duration::from_millis(100)).unwrap();
    let x = X::new(http, config_at(Provider::X, &server.uri(), SECRET));
    assert_eq!(
        class(x.probe(&secret("xaccess")).await),
        Classification::Transient { retry_after: None }
    );
}
