//! X's requests as x.com and api.x.com require them: PKCE, HTTP Basic, JSON tweets.

use apostle_providers::{BreakReason, Classification, PostContent, Provider, ScopeSet, X};
use secrecy::ExposeSecret;
use serde_json::json;
use wiremock::matchers::{basic_auth, bearer_token, body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    class, config_at, form_is, http, redirect, secret, CLIENT_ID, REDIRECT, SECRET,
};

fn x(server: &MockServer) -> X {
    X::new(http(), config_at(Provider::X, &server.uri(), SECRET))
}

#[test]
fn authorize_url_carries_an_s256_challenge_and_offline_access() {
    let adapter = X::new(http(), config_at(Provider::X, "https://x.com", SECRET));
    let authorization = adapter.authorize(&redirect(), ScopeSet::Personal);
    let url = &authorization.url;
    assert_eq!(url.host_str(), Some("x.com"));
    assert_eq!(url.path(), "/i/oauth2/authorize");
    let get = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(get("code_challenge").map(|c| c.len()), Some(43));
    assert_eq!(
        get("scope").as_deref(),
        Some("tweet.read tweet.write users.read offline.access")
    );
    assert!(authorization.state.len() <= 500);
    assert!(authorization.pkce_verifier.is_some());
}

#[tokio::test]
async fn code_exchange_authenticates_with_basic_and_sends_the_verifier() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .and(basic_auth(CLIENT_ID, SECRET))
        .and(form_is(&[
            ("grant_type", "authorization_code"),
            ("code", "xcode"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "the-verifier"),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "bearer", "expires_in": 7200, "access_token": "xaccess",
            "scope": "tweet.read tweet.write users.read offline.access", "refresh_token": "xrefresh1",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = x(&server)
        .exchange_code("xcode", &redirect(), &secret("the-verifier"))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "xaccess");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 7200);
    assert_eq!(tokens.scopes.len(), 4);
}

#[tokio::test]
async fn refresh_hands_back_the_rotated_refresh_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .and(basic_auth(CLIENT_ID, SECRET))
        .and(form_is(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "xrefresh1"),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "bearer", "expires_in": 7200, "access_token": "xaccess2",
            "scope": "tweet.read", "refresh_token": "xrefresh2",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = x(&server).refresh(&secret("xrefresh1")).await.unwrap();
    assert_eq!(tokens.refresh_token.unwrap().expose_secret(), "xrefresh2");
}

#[tokio::test]
async fn a_reused_refresh_token_is_a_refresh_failed_break() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_request",
            "error_description": "Value passed for the token was invalid.",
        })))
        .mount(&server)
        .await;
    assert_eq!(
        class(x(&server).refresh(&secret("xrefresh1")).await),
        Classification::broken(BreakReason::RefreshFailed)
    );
}

#[tokio::test]
async fn identity_reads_users_me() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/users/me"))
        .and(bearer_token("xaccess"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"id": "2244994945", "name": "Amy", "username": "amy"},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let identity = x(&server).identity(&secret("xaccess")).await.unwrap();
    assert_eq!(identity.id, "2244994945");
    assert_eq!(identity.username.as_deref(), Some("amy"));
}

#[tokio::test]
async fn publish_posts_json_text_to_tweets() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .and(bearer_token("xaccess"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"text": "Launch day https://acme.example/launch"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "data": {"id": "1445880548472328192", "text": "Launch day https://t.co/x", "edit_history_tweet_ids": ["1445880548472328192"]},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let post = PostContent {
        text: "Launch day".to_owned(),
        link: Some("https://acme.example/launch".parse().unwrap()),
        ..PostContent::default()
    };
    let published = x(&server).publish(&secret("xaccess"), &post).await.unwrap();
    assert_eq!(published.id, "1445880548472328192");
}

#[tokio::test]
async fn a_rate_limited_tweet_waits_until_the_reset() {
    let server = MockServer::start().await;
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 900;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-rate-limit-limit", "100")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str())
                .set_body_json(json!({"title": "Too Many Requests", "type": "about:blank", "status": 429, "detail": "Too Many Requests"})),
        )
        .mount(&server)
        .await;
    let error = x(&server)
        .publish(
            &secret("xaccess"),
            &PostContent {
                text: "hi".to_owned(),
                ..PostContent::default()
            },
        )
        .await
        .unwrap_err();
    let Classification::Transient {
        retry_after: Some(wait),
    } = error.classification()
    else {
        panic!("expected a transient error with a wait, got {error}");
    };
    assert!((890..=900).contains(&wait.as_secs()), "{wait:?}");
}

#[tokio::test]
async fn revoke_posts_the_token_with_basic_authentication() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/revoke"))
        .and(basic_auth(CLIENT_ID, SECRET))
        .and(form_is(&[("token", "xaccess")]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"revoked": true})))
        .expect(1)
        .mount(&server)
        .await;
    x(&server).revoke(&secret("xaccess")).await.unwrap();
}

#[tokio::test]
async fn recent_posts_read_the_users_timeline_with_links_expanded() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/users/2244994945/tweets"))
        .and(bearer_token("xaccess"))
        .and(query_param("max_results", "5"))
        .and(query_param("tweet.fields", "entities"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"id": "2", "edit_history_tweet_ids": ["2"], "text": "Launch day https://t.co/abc",
                 "entities": {"urls": [{"start": 11, "end": 34, "url": "https://t.co/abc",
                   "expanded_url": "https://acme.example/launch", "display_url": "acme.example/launch"}]}},
                {"id": "1", "edit_history_tweet_ids": ["1"], "text": "Hello"},
            ],
            "meta": {"result_count": 2, "newest_id": "2", "oldest_id": "1"},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let recent = x(&server)
        .recent_posts(&secret("xaccess"), "2244994945", 2)
        .await
        .unwrap();
    let texts: Vec<(&str, &str)> = recent
        .iter()
        .map(|p| (p.id.as_str(), p.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            ("2", "Launch day https://acme.example/launch"),
            ("1", "Hello")
        ]
    );
}

#[tokio::test]
async fn recent_posts_with_a_dead_token_ask_for_a_refresh() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/users/1/tweets"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized",
        })))
        .mount(&server)
        .await;
    assert_eq!(
        class(x(&server).recent_posts(&secret("xaccess"), "1", 10).await),
        Classification::Broken {
            reason: BreakReason::TokenExpired,
            confirm: apostle_providers::Confirm::Refresh,
        }
    );
}
