//! LinkedIn's requests as www.linkedin.com and api.linkedin.com require them.

use apostle_providers::{
    Author, BreakReason, Classification, LinkedIn, PostContent, Provider, ScopeSet,
    LINKEDIN_VERSION,
};
use secrecy::ExposeSecret;
use serde_json::json;
use url::Url;
use wiremock::matchers::{bearer_token, body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    class, config_at, form_is, http, no_authorization, redirect, secret, CLIENT_ID, REDIRECT,
    SECRET,
};

fn linkedin(server: &MockServer) -> LinkedIn {
    LinkedIn::new(http(), config_at(Provider::LinkedIn, &server.uri(), SECRET))
}

/// The token endpoint answers whatever it is sent with `status` and `body`.
async fn token_endpoint_answers(server: &MockServer, status: u16, body: serde_json::Value) {
    Mock::given(method("POST"))
        .and(path("/oauth/v2/accessToken"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

#[test]
fn authorize_url_asks_space_separated_scopes_without_pkce() {
    let base = "https://www.linkedin.com";
    let adapter = LinkedIn::new(http(), config_at(Provider::LinkedIn, base, SECRET));
    let authorization = adapter.authorize(&redirect(), ScopeSet::Pages);
    let url = &authorization.url;
    assert_eq!(url.path(), "/oauth/v2/authorization");
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let get = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("response_type"), Some("code"));
    assert_eq!(get("client_id"), Some(CLIENT_ID));
    assert_eq!(get("redirect_uri"), Some(REDIRECT));
    assert_eq!(get("state"), Some(authorization.state.as_str()));
    assert_eq!(
        get("scope"),
        Some("openid profile email w_member_social w_organization_social r_organization_social rw_organization_admin")
    );
    assert_eq!(get("code_challenge"), None);
    assert!(authorization.pkce_verifier.is_none());
}

#[tokio::test]
async fn code_exchange_posts_a_form_with_the_client_secret_in_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/accessToken"))
        .and(no_authorization)
        .and(form_is(&[
            ("grant_type", "authorization_code"),
            ("code", "AQcode"),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "AQVaccess",
            "expires_in": 5184000,
            "refresh_token": "AQXrefresh",
            "refresh_token_expires_in": 31536000,
            "scope": "email,openid,profile,w_member_social",
            "token_type": "Bearer",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = linkedin(&server)
        .exchange_code("AQcode", &redirect())
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "AQVaccess");
    assert_eq!(tokens.refresh_token.unwrap().expose_secret(), "AQXrefresh");
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 5184000);
    assert_eq!(tokens.refresh_token_expires_in.unwrap().as_secs(), 31536000);
    assert_eq!(
        tokens.scopes,
        ["email", "openid", "profile", "w_member_social"]
    );
}

#[tokio::test]
async fn refresh_posts_the_refresh_token_with_client_secret_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/accessToken"))
        .and(no_authorization)
        .and(form_is(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "AQXrefresh"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "AQVnew", "expires_in": 5184000,
            "refresh_token": "AQXrefresh", "refresh_token_expires_in": 30000000,
            "scope": "openid", "token_type": "Bearer",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = linkedin(&server)
        .refresh(&secret("AQXrefresh"))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "AQVnew");
}

#[tokio::test]
async fn a_token_answer_without_token_type_or_refresh_token_is_accepted() {
    let server = MockServer::start().await;
    token_endpoint_answers(
        &server,
        200,
        json!({"access_token": "AQVaccess", "expires_in": 5184000, "scope": "w_member_social"}),
    )
    .await;
    let tokens = linkedin(&server)
        .exchange_code("AQcode", &redirect())
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "AQVaccess");
    assert!(tokens.refresh_token.is_none());
    assert_eq!(tokens.scopes, ["w_member_social"]);
}

#[tokio::test]
async fn a_dead_refresh_token_is_a_refresh_failed_break() {
    let server = MockServer::start().await;
    token_endpoint_answers(
        &server,
        400,
        json!({
            "error": "invalid_grant",
            "error_description": "The provided authorization grant or refresh token is invalid, expired or revoked.",
        }),
    )
    .await;
    assert_eq!(
        class(linkedin(&server).refresh(&secret("AQXdead")).await),
        Classification::broken(BreakReason::RefreshFailed)
    );
}

#[tokio::test]
async fn identity_is_the_userinfo_sub() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/userinfo"))
        .and(bearer_token("AQVaccess"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sub": "782bbtaQ", "name": "Amy Adams", "email": "amy@acme.example",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let identity = linkedin(&server)
        .identity(&secret("AQVaccess"))
        .await
        .unwrap();
    assert_eq!(identity.id, "782bbtaQ");
    assert_eq!(identity.name.as_deref(), Some("Amy Adams"));
}

#[tokio::test]
async fn publish_sends_the_versioned_headers_and_the_exact_post_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/posts"))
        .and(bearer_token("AQVaccess"))
        .and(header("LinkedIn-Version", LINKEDIN_VERSION))
        .and(header("X-Restli-Protocol-Version", "2.0.0"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "author": "urn:li:organization:5515715",
            "commentary": "We are hiring",
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "content": {"article": {"source": "https://acme.example/jobs", "title": "Jobs at Acme"}},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        })))
        .respond_with(
            ResponseTemplate::new(201).insert_header("x-restli-id", "urn:li:share:6844785523593134080"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let post = PostContent {
        text: "We are hiring".to_owned(),
        link: Some(Url::parse("https://acme.example/jobs").unwrap()),
        link_title: Some("Jobs at Acme".to_owned()),
        image_url: None,
    };
    let published = linkedin(&server)
        .publish(
            &secret("AQVaccess"),
            &Author::Organization("5515715".to_owned()),
            &post,
        )
        .await
        .unwrap();
    assert_eq!(published.id, "urn:li:share:6844785523593134080");
}

#[tokio::test]
async fn a_retired_linkedin_version_is_an_operator_alarm() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/posts"))
        .respond_with(ResponseTemplate::new(426).set_body_json(json!({
            "status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version 202001 is not active",
        })))
        .mount(&server)
        .await;
    assert_eq!(
        class(
            linkedin(&server)
                .with_version("202001")
                .publish(
                    &secret("AQVaccess"),
                    &Author::Person("abc".to_owned()),
                    &PostContent {
                        text: "hi".to_owned(),
                        ..PostContent::default()
                    },
                )
                .await
        ),
        Classification::Configuration
    );
}

#[tokio::test]
async fn organizations_are_the_approved_administrator_acls_with_their_names() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/organizationAcls"))
        .and(query_param("q", "roleAssignee"))
        .and(query_param("role", "ADMINISTRATOR"))
        .and(query_param("state", "APPROVED"))
        .and(header("LinkedIn-Version", LINKEDIN_VERSION))
        .and(header("X-Restli-Protocol-Version", "2.0.0"))
        .and(bearer_token("AQVaccess"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "paging": {"start": 0, "count": 1, "links": []},
            "elements": [{
                "roleAssignee": "urn:li:person:abc", "state": "APPROVED", "role": "ADMINISTRATOR",
                "organization": "urn:li:organization:5515715",
            }],
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/organizations/5515715"))
        .and(header("LinkedIn-Version", LINKEDIN_VERSION))
        .and(bearer_token("AQVaccess"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 5515715, "localizedName": "Acme", "vanityName": "acme",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let pages = linkedin(&server)
        .organizations(&secret("AQVaccess"))
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(
        (pages[0].id.as_str(), pages[0].name.as_str()),
        ("5515715", "Acme")
    );
}

#[tokio::test]
async fn probe_introspects_with_the_client_credentials_in_the_form() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/introspectToken"))
        .and(form_is(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("token", "AQVaccess"),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "active": false, "status": "revoked", "client_id": CLIENT_ID,
        })))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        class(linkedin(&server).probe(&secret("AQVaccess")).await),
        Classification::broken(BreakReason::TokenRevoked)
    );
}

#[tokio::test]
async fn revoke_posts_token_and_client_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/revoke"))
        .and(form_is(&[
            ("token", "AQVaccess"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ]))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    linkedin(&server)
        .revoke(&secret("AQVaccess"))
        .await
        .unwrap();
}

#[tokio::test]
async fn recent_posts_find_the_authors_posts_with_versioned_headers_and_unescape_commentary() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/posts"))
        .and(bearer_token("liaccess"))
        .and(header("LinkedIn-Version", LINKEDIN_VERSION))
        .and(header("X-Restli-Protocol-Version", "2.0.0"))
        .and(query_param("q", "author"))
        .and(query_param("author", "urn:li:organization:5515715"))
        .and(query_param("count", "10"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "paging": {"start": 0, "count": 10, "links": []},
            "elements": [
                {"id": "urn:li:share:2", "author": "urn:li:organization:5515715",
                 "commentary": "Launch \\(day\\) \\#news", "lifecycleState": "PUBLISHED",
                 "createdAt": 1700000000000u64, "visibility": "PUBLIC"},
                {"id": "urn:li:ugcPost:1", "author": "urn:li:organization:5515715",
                 "lifecycleState": "PUBLISHED", "createdAt": 1690000000000u64},
            ],
        })))
        .expect(1)
        .mount(&server)
        .await;
    let recent = linkedin(&server)
        .recent_posts(
            &secret("liaccess"),
            &Author::Organization("5515715".to_owned()),
            10,
        )
        .await
        .unwrap();
    let found: Vec<(&str, &str)> = recent
        .iter()
        .map(|p| (p.id.as_str(), p.text.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("urn:li:share:2", "Launch (day) #news"),
            ("urn:li:ugcPost:1", "")
        ]
    );
}

#[tokio::test]
async fn recent_posts_of_an_organization_without_the_role_lose_that_page_only() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/posts"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
            "message": "Not enough permissions to access: GET /rest/posts",
        })))
        .mount(&server)
        .await;
    let adapter = linkedin(&server);
    let organization = Author::Organization("5515715".to_owned());
    assert_eq!(
        class(
            adapter
                .recent_posts(&secret("liaccess"), &organization, 10)
                .await
        ),
        Classification::broken(BreakReason::PageAccessLost)
    );
}
