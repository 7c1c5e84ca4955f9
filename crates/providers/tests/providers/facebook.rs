//! Facebook's requests as www.facebook.com and graph.facebook.com require them.

use apostle_providers::{
    BreakReason, Classification, Facebook, PostContent, Provider, ScopeSet, GRAPH_VERSION,
};
use secrecy::ExposeSecret;
use serde_json::json;
use wiremock::matchers::{bearer_token, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    class, config_at, form_is, http, redirect, secret, CLIENT_ID, REDIRECT, SECRET,
};

fn facebook(server: &MockServer) -> Facebook {
    Facebook::new(http(), config_at(Provider::Facebook, &server.uri(), SECRET))
}

fn graph(path_: &str) -> String {
    format!("/{GRAPH_VERSION}{path_}")
}

#[test]
fn authorize_url_asks_comma_separated_page_scopes_without_pkce() {
    let adapter = Facebook::new(
        http(),
        config_at(Provider::Facebook, "https://www.facebook.com", SECRET),
    );
    let authorization = adapter.login().authorize(&redirect(), ScopeSet::Pages);
    let url = &authorization.url;
    assert_eq!(url.path(), graph("/dialog/oauth"));
    let get = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(
        get("scope").as_deref(),
        Some("pages_show_list,pages_manage_posts,pages_read_engagement")
    );
    assert_eq!(get("response_type").as_deref(), Some("code"));
    assert_eq!(get("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(get("code_challenge"), None);
}

#[tokio::test]
async fn code_exchange_gets_a_short_token_then_swaps_it_for_a_long_lived_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(graph("/oauth/access_token")))
        .and(query_param("client_id", CLIENT_ID))
        .and(query_param("redirect_uri", REDIRECT))
        .and(query_param("client_secret", SECRET))
        .and(query_param("code", "fbcode"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "EAAshort", "token_type": "bearer", "expires_in": 5400,
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(graph("/oauth/access_token")))
        .and(query_param("grant_type", "fb_exchange_token"))
        .and(query_param("client_id", CLIENT_ID))
        .and(query_param("client_secret", SECRET))
        .and(query_param("fb_exchange_token", "EAAshort"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "EAAlong", "token_type": "bearer", "expires_in": 5184000,
        })))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = facebook(&server)
        .login()
        .exchange_code("fbcode", &redirect())
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "EAAlong");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 5184000);
    assert!(tokens.refresh_token.is_none());
}

#[tokio::test]
async fn pages_come_with_their_page_tokens() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(graph("/me/accounts")))
        .and(query_param("fields", "id,name,access_token"))
        .and(bearer_token("EAAlong"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"id": "1001", "name": "Acme", "access_token": "EAApage1"},
                {"id": "1002", "name": "Acme Jobs", "access_token": "EAApage2"},
            ],
            "paging": {"cursors": {"before": "b", "after": "a"}},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let pages = facebook(&server).pages(&secret("EAAlong")).await.unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[1].name, "Acme Jobs");
    assert_eq!(
        pages[1].access_token.as_ref().unwrap().expose_secret(),
        "EAApage2"
    );
}

#[tokio::test]
async fn pages_follow_the_after_cursor_while_graph_says_next() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(graph("/me/accounts")))
        .and(query_param("after", "CURSOR2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "1002", "name": "Second", "access_token": "EAApage2"}],
            "paging": {"cursors": {"before": "CURSOR2", "after": "CURSOR3"}},
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(graph("/me/accounts")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "1001", "name": "First", "access_token": "EAApage1"}],
            "paging": {"cursors": {"before": "CURSOR1", "after": "CURSOR2"}, "next": "https://graph.facebook.com/next"},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let pages = facebook(&server).pages(&secret("EAAlong")).await.unwrap();
    let names: Vec<&str> = pages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["First", "Second"]);
}

#[tokio::test]
async fn publish_posts_a_form_to_the_page_feed_with_the_page_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(graph("/1001/feed")))
        .and(bearer_token("EAApage1"))
        .and(form_is(&[
            ("message", "Open day"),
            ("link", "https://acme.example/open"),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1001_2002"})))
        .expect(1)
        .mount(&server)
        .await;
    let post = PostContent {
        text: "Open day".to_owned(),
        link: Some("https://acme.example/open".parse().unwrap()),
        ..PostContent::default()
    };
    let published = facebook(&server)
        .publish("1001", &secret("EAApage1"), &post)
        .await
        .unwrap();
    assert_eq!(published.id, "1001_2002");
}

#[tokio::test]
async fn a_lost_page_role_on_publish_breaks_that_page() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(graph("/1001/feed")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#190) The user must be an administrator, editor, or moderator of the page in order to impersonate it.",
            "type": "OAuthException", "code": 190, "error_subcode": 492, "fbtrace_id": "Axyz",
        }})))
        .mount(&server)
        .await;
    assert_eq!(
        class(
            facebook(&server)
                .publish(
                    "1001",
                    &secret("EAApage1"),
                    &PostContent {
                        text: "x".to_owned(),
                        ..PostContent::default()
                    },
                )
                .await
        ),
        Classification::broken(BreakReason::PageAccessLost)
    );
}

#[tokio::test]
async fn probe_asks_debug_token_with_the_app_token() {
    let server = MockServer::start().await;
    let app_token = format!("{CLIENT_ID}|{SECRET}");
    Mock::given(method("GET"))
        .and(path(graph("/debug_token")))
        .and(query_param("input_token", "EAAlong"))
        .and(bearer_token(app_token.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "app_id": CLIENT_ID, "is_valid": false, "scopes": [],
            "error": {"code": 190, "subcode": 460, "message": "The session has been invalidated because the user changed their password."},
        }})))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        class(facebook(&server).login().probe(&secret("EAAlong")).await),
        Classification::broken(BreakReason::PasswordChanged)
    );
}

#[tokio::test]
async fn revoke_deletes_the_apps_permissions() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(graph("/me/permissions")))
        .and(bearer_token("EAAlong"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&server)
        .await;
    facebook(&server)
        .login()
        .revoke(&secret("EAAlong"))
        .await
        .unwrap();
}

#[tokio::test]
async fn identity_reads_me() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(graph("/me")))
        .and(query_param("fields", "id,name"))
        .and(bearer_token("EAAlong"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "10158", "name": "Hana Ito"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let identity = facebook(&server)
        .login()
        .identity(&secret("EAAlong"))
        .await
        .unwrap();
    assert_eq!(identity.id, "10158");
}

#[tokio::test]
async fn recent_posts_read_the_page_feed_with_the_page_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(graph("/1234/feed")))
        .and(bearer_token("pagetoken"))
        .and(query_param("fields", "id,message,created_time"))
        .and(query_param("limit", "10"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"id": "1234_2", "message": "Open day", "created_time": "2026-11-30T01:00:00+0000"},
                {"id": "1234_1", "created_time": "2026-11-29T01:00:00+0000"},
            ],
            "paging": {"cursors": {"before": "QVFI", "after": "QVFJ"}},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let recent = facebook(&server)
        .recent_posts("1234", &secret("pagetoken"), 10)
        .await
        .unwrap();
    let found: Vec<(&str, &str)> = recent
        .iter()
        .map(|p| (p.id.as_str(), p.text.as_str()))
        .collect();
    assert_eq!(found, [("1234_2", "Open day"), ("1234_1", "")]);
}

#[tokio::test]
async fn recent_posts_with_a_page_token_whose_role_is_gone_lose_the_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(graph("/1234/feed")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#190) The user must be an administrator", "type": "OAuthException",
            "code": 190, "error_subcode": 492, "fbtrace_id": "Axyz",
        }})))
        .mount(&server)
        .await;
    assert_eq!(
        class(
            facebook(&server)
                .recent_posts("1234", &secret("pagetoken"), 10)
                .await
        ),
        Classification::broken(BreakReason::PageAccessLost)
    );
}
