//! Instagram's requests: accounts through Facebook pages, container → status → publish.

use std::time::Duration;

use apostle_providers::{
    Classification, Instagram, PostContent, Provider, ProviderConfig, PublishingLimit,
    GRAPH_VERSION,
};
use serde_json::json;
use wiremock::matchers::{bearer_token, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{class, config_at, form_is, http, secret, CLIENT_ID, SECRET};

fn instagram(server: &MockServer) -> Instagram {
    let facebook = config_at(Provider::Facebook, "https://graph.facebook.com", SECRET);
    let own = config_at(Provider::Instagram, &server.uri(), "not-instagrams-own");
    Instagram::new(http(), ProviderConfig::instagram(&facebook, own.endpoints))
        .with_polling(Duration::from_millis(1), 5)
}

fn graph(path_: &str) -> String {
    format!("/{GRAPH_VERSION}{path_}")
}

#[test]
fn instagram_signs_in_with_facebooks_app() {
    let server_less = config_at(Provider::Instagram, "https://graph.facebook.com", "x");
    let facebook = config_at(Provider::Facebook, "https://graph.facebook.com", SECRET);
    let adapter = Instagram::new(
        http(),
        ProviderConfig::instagram(&facebook, server_less.endpoints),
    );
    let url = adapter
        .login()
        .authorize(
            &crate::helpers::redirect(),
            apostle_providers::ScopeSet::Pages,
        )
        .url;
    let scope = url
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned());
    assert_eq!(
        scope.as_deref(),
        Some("instagram_basic,instagram_content_publish,pages_read_engagement,pages_show_list")
    );
    assert!(url
        .query_pairs()
        .any(|(k, v)| k == "client_id" && v == CLIENT_ID));
}

#[tokio::test]
async fn accounts_are_the_business_accounts_linked_to_pages() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(graph("/me/accounts")))
        .and(query_param("fields", "id,name,instagram_business_account"))
        .and(bearer_token("EAAlong"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"id": "1001", "name": "Acme", "instagram_business_account": {"id": "17841400001"}},
            {"id": "1002", "name": "No Instagram"},
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    let accounts = instagram(&server)
        .accounts(&secret("EAAlong"))
        .await
        .unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        (accounts[0].id.as_str(), accounts[0].name.as_str()),
        ("17841400001", "Acme")
    );
}

#[tokio::test]
async fn publish_creates_a_container_waits_for_it_and_retries_not_ready() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(graph("/17841400001/media")))
        .and(bearer_token("EAAlong"))
        .and(form_is(&[
            ("image_url", "https://acme.example/cat.jpg"),
            ("caption", "Our cat"),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "c-1"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(graph("/c-1")))
        .and(query_param("fields", "status_code"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "c-1", "status_code": "IN_PROGRESS"})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(graph("/c-1")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "c-1", "status_code": "FINISHED"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(graph("/17841400001/media_publish")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Media ID is not available", "type": "IGApiException",
            "code": 9007, "error_subcode": 2207027, "is_transient": false, "fbtrace_id": "A1",
        }})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(graph("/17841400001/media_publish")))
        .and(form_is(&[("creation_id", "c-1")]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "m-9"})))
        .expect(1)
        .mount(&server)
        .await;
    let post = PostContent {
        text: "Our cat".to_owned(),
        image_url: Some("https://acme.example/cat.jpg".parse().unwrap()),
        ..PostContent::default()
    };
    let published = instagram(&server)
        .publish("17841400001", &secret("EAAlong"), &post)
        .await
        .unwrap();
    assert_eq!(published.id, "m-9");
}

#[tokio::test]
async fn the_publishing_limit_is_read_from_the_account() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(graph("/17841400001/content_publishing_limit")))
        .and(query_param("fields", "quota_usage,config"))
        .and(bearer_token("EAAlong"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"quota_usage": 3, "config": {"quota_total": 50, "quota_duration": 86400}},
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    let limit = instagram(&server)
        .publishing_limit("17841400001", &secret("EAAlong"))
        .await
        .unwrap();
    assert_eq!(
        limit,
        PublishingLimit {
            used: 3,
            total: 50,
            window: Duration::from_secs(86400)
        }
    );
}

#[tokio::test]
async fn a_container_in_error_is_the_posts_problem() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(graph("/17841400001/media")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "c-2"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(graph("/c-2")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "c-2", "status_code": "ERROR"})),
        )
        .mount(&server)
        .await;
    let post = PostContent {
        text: "x".to_owned(),
        image_url: Some("https://acme.example/broken.jpg".parse().unwrap()),
        ..PostContent::default()
    };
    assert_eq!(
        class(
            instagram(&server)
                .publish("17841400001", &secret("EAAlong"), &post)
                .await
        ),
        Classification::PostRejected
    );
}

#[tokio::test]
async fn a_post_without_an_image_is_refused_before_any_request() {
    let server = MockServer::start().await;
    assert_eq!(
        class(
            instagram(&server)
                .publish(
                    "17841400001",
                    &secret("EAAlong"),
                    &PostContent {
                        text: "x".to_owned(),
                        ..PostContent::default()
                    },
                )
                .await
        ),
        Classification::PostRejected
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn recent_posts_read_the_accounts_media_captions() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(graph("/17841/media")))
        .and(bearer_token("usertoken"))
        .and(query_param("fields", "id,caption,timestamp"))
        .and(query_param("limit", "3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"id": "179", "caption": "Our cat\n\nhttps://acme.example/cat", "timestamp": "2026-11-30T01:00:00+0000"},
                {"id": "178", "timestamp": "2026-11-29T01:00:00+0000"},
            ],
        })))
        .expect(1)
        .mount(&server)
        .await;
    let recent = instagram(&server)
        .recent_posts("17841", &secret("usertoken"), 3)
        .await
        .unwrap();
    let found: Vec<(&str, &str)> = recent
        .iter()
        .map(|p| (p.id.as_str(), p.text.as_str()))
        .collect();
    assert_eq!(
        found,
        [("179", "Our cat\n\nhttps://acme.example/cat"), ("178", "")]
    );
}

#[tokio::test]
async fn recent_posts_without_an_id_are_an_unexpected_answer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(graph("/17841/media")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [{"caption": "x"}]})))
        .mount(&server)
        .await;
    let error = instagram(&server)
        .recent_posts("17841", &secret("usertoken"), 3)
        .await
        .unwrap_err();
    assert!(
        matches!(error.problem(), apostle_providers::Problem::Malformed(_)),
        "{error}"
    );
}
