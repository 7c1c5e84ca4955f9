use serde_json::{json, Value};

use crate::helpers::{
    admin, advance, assert_contains, body, fault, html_page, member_action, sandbox,
};
use crate::support::{
    linkedin_authorize_query, query_value, Running, CLIENT_ID, LINKEDIN_VERSION, REDIRECT_URI,
    SECRET,
};

const DAY: f64 = 86400.0;

async fn userinfo(sandbox: &Running, token: &str) -> reqwest::Response {
    sandbox
        .http
        .get(sandbox.url("/sandbox/linkedin/v2/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .expect("userinfo")
}

fn token(response: &Value, field: &str) -> String {
    response[field].as_str().expect(field).to_owned()
}

async fn exchange(sandbox: &Running, code: &str, secret: &str) -> reqwest::Response {
    sandbox
        .http
        .post(sandbox.url("/sandbox/linkedin/oauth/v2/accessToken"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("client_secret", secret),
        ])
        .send()
        .await
        .expect("exchange")
}

#[tokio::test]
async fn linkedin_consent_page_names_provider_app_scopes_and_buttons() {
    let sandbox = sandbox().await;
    let request = sandbox
        .http
        .get(sandbox.url("/sandbox/linkedin/oauth/v2/authorization"))
        .query(&linkedin_authorize_query(
            "openid profile w_member_social",
            "s1",
        ));
    let html = html_page(request).await;
    assert_contains(
        &html,
        &[
            "LinkedIn",
            "Apostle",
            "w_member_social",
            "Allow",
            "Decline",
            "name=\"member\"",
            "value=\"s1\"",
        ],
    );
}

#[tokio::test]
async fn linkedin_allow_gives_tokens_with_documented_lifetimes_and_userinfo() {
    let sandbox = sandbox().await;
    let tokens = sandbox.linkedin_connect("alice").await;
    assert_eq!(tokens["expires_in"], 5184000);
    assert_eq!(tokens["refresh_token_expires_in"], 31536000);
    assert_eq!(tokens["token_type"], "Bearer");
    let response = userinfo(&sandbox, &token(&tokens, "access_token")).await;
    assert_eq!(response.status(), 200);
    let info = body(response).await;
    assert_eq!(info["name"], "alice");
    assert_eq!(info["email"], "alice@example.com");
    assert!(info["sub"].as_str().is_some_and(|s| !s.is_empty()));
}

#[tokio::test]
async fn linkedin_decline_redirects_with_user_cancelled_authorize() {
    let sandbox = sandbox().await;
    let redirect = sandbox
        .decide(
            "/sandbox/linkedin/oauth/v2/authorization",
            &linkedin_authorize_query("openid", "li-state"),
            "alice",
            "deny",
        )
        .await;
    assert!(redirect.as_str().starts_with(REDIRECT_URI));
    assert_eq!(
        query_value(&redirect, "error").as_deref(),
        Some("user_cancelled_authorize")
    );
    assert_eq!(query_value(&redirect, "state").as_deref(), Some("li-state"));
    assert_eq!(query_value(&redirect, "code"), None);
}

#[tokio::test]
async fn linkedin_post_answers_201_with_restli_id_and_is_listed() {
    let sandbox = sandbox().await;
    let tokens = sandbox.linkedin_connect("alice").await;
    let access = token(&tokens, "access_token");
    let author = sandbox.linkedin_author(&access).await;
    let response = sandbox
        .linkedin_post(&access, &author, "Hello from Apostle")
        .await;
    assert_eq!(response.status(), 201);
    let urn = response.headers()["x-restli-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(urn.starts_with("urn:li:share:"), "{urn}");
    let posts = body(
        sandbox
            .http
            .get(sandbox.url("/sandbox/admin/posts?provider=linkedin"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(posts[0]["id"], urn.as_str());
    assert_eq!(posts[0]["text"], "Hello from Apostle");
    assert_eq!(posts[0]["link"], "https://example.com/a");
    assert_eq!(posts[0]["author"], author.as_str());
}

#[tokio::test]
async fn linkedin_refresh_keeps_the_refresh_token_and_its_clock_anchored_at_first_authorization() {
    let sandbox = sandbox().await;
    let first = sandbox.linkedin_connect("alice").await;
    let refresh = token(&first, "refresh_token");

    advance(&sandbox, 200.0 * DAY).await;
    let refreshed = body(sandbox.linkedin_refresh(&refresh).await).await;
    assert_eq!(
        refreshed["refresh_token"],
        refresh.as_str(),
        "does not rotate"
    );
    assert_eq!(refreshed["expires_in"], 5184000);
    assert_eq!(refreshed["refresh_token_expires_in"], 165 * 86400);

    // Authorizing again does not restart the refresh clock.
    let again = sandbox.linkedin_connect("alice").await;
    assert_eq!(again["refresh_token_expires_in"], 165 * 86400);

    advance(&sandbox, 165.0 * DAY + 1.0).await;
    let response = sandbox.linkedin_refresh(&refresh).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        body(response).await,
        json!({"error": "invalid_grant", "error_description": "The provided authorization grant or refresh token is invalid, expired or revoked."})
    );
}

#[tokio::test]
async fn linkedin_expired_access_token_answers_65602() {
    let sandbox = sandbox().await;
    let tokens = sandbox.linkedin_connect("alice").await;
    advance(&sandbox, 60.0 * DAY + 1.0).await;
    let response = userinfo(&sandbox, &token(&tokens, "access_token")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        body(response).await,
        json!({"status": 401, "serviceErrorCode": 65602, "code": "EXPIRED_ACCESS_TOKEN", "message": "The token used in the request has expired"})
    );
}

#[tokio::test]
async fn linkedin_admin_breaks_answer_65601_and_expire_answers_65602() {
    let sandbox = sandbox().await;
    for (handle, action, service_code) in [
        ("rev", "revoke", 65601),
        ("pwd", "change-password", 65601),
        ("rem", "remove-app", 65601),
        ("exp", "expire-tokens", 65602),
    ] {
        let tokens = sandbox.linkedin_connect(handle).await;
        member_action(&sandbox, "linkedin", handle, action).await;
        let response = userinfo(&sandbox, &token(&tokens, "access_token")).await;
        assert_eq!(response.status(), 401, "{action}");
        assert_eq!(
            body(response).await["serviceErrorCode"],
            service_code,
            "{action}"
        );
    }
}

#[tokio::test]
async fn linkedin_refresh_after_expire_tokens_gives_a_working_token() {
    let sandbox = sandbox().await;
    let tokens = sandbox.linkedin_connect("alice").await;
    member_action(&sandbox, "linkedin", "alice", "expire-tokens").await;
    let refreshed = body(
        sandbox
            .linkedin_refresh(&token(&tokens, "refresh_token"))
            .await,
    )
    .await;
    let response = userinfo(&sandbox, &token(&refreshed, "access_token")).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn linkedin_wrong_client_secret_gets_invalid_client() {
    let sandbox = sandbox().await;
    let code = sandbox.linkedin_code("alice", "openid").await;
    let response = exchange(&sandbox, &code, "wrong").await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        body(response).await,
        json!({"error": "invalid_client", "error_description": "Client authentication failed"})
    );
}

#[tokio::test]
async fn linkedin_code_is_single_use() {
    let sandbox = sandbox().await;
    let code = sandbox.linkedin_code("alice", "openid").await;
    assert_eq!(exchange(&sandbox, &code, SECRET).await.status(), 200);
    let again = exchange(&sandbox, &code, SECRET).await;
    assert_eq!(again.status(), 400);
    assert_eq!(body(again).await["error"], "invalid_grant");
}

async fn introspect(sandbox: &Running, token: &str) -> Value {
    body(
        sandbox
            .http
            .post(sandbox.url("/sandbox/linkedin/oauth/v2/introspectToken"))
            .form(&[
                ("client_id", CLIENT_ID),
                ("client_secret", SECRET),
                ("token", token),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn linkedin_introspection_reports_active_expired_and_revoked() {
    let sandbox = sandbox().await;
    let tokens = sandbox.linkedin_connect("alice").await;
    let access = token(&tokens, "access_token");
    let active = introspect(&sandbox, &access).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["status"], "active");
    assert!(active["expires_at"].as_i64().is_some());

    advance(&sandbox, 60.0 * DAY + 1.0).await;
    let expired = introspect(&sandbox, &access).await;
    assert_eq!(
        (expired["active"].clone(), expired["status"].clone()),
        (json!(false), json!("expired"))
    );

    let fresh = token(
        &body(
            sandbox
                .linkedin_refresh(&token(&tokens, "refresh_token"))
                .await,
        )
        .await,
        "access_token",
    );
    let revoke = sandbox
        .http
        .post(sandbox.url("/sandbox/linkedin/oauth/v2/revoke"))
        .form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("token", fresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    assert_eq!(introspect(&sandbox, &fresh).await["status"], "revoked");
    assert_eq!(userinfo(&sandbox, &fresh).await.status(), 401);
    assert_eq!(
        introspect(&sandbox, "nonsense").await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn linkedin_missing_or_retired_version_is_refused() {
    let sandbox = sandbox().await;
    let tokens = sandbox.linkedin_connect("alice").await;
    let access = token(&tokens, "access_token");
    let missing = sandbox
        .http
        .post(sandbox.url("/sandbox/linkedin/rest/posts"))
        .bearer_auth(&access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    assert_eq!(body(missing).await["code"], "VERSION_MISSING");
    let retired = sandbox
        .http
        .post(sandbox.url("/sandbox/linkedin/rest/posts"))
        .bearer_auth(&access)
        .header("LinkedIn-Version", "202001")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(retired.status(), 426);
    assert_eq!(
        body(retired).await,
        json!({"status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version 202001 is not active"})
    );
}

async fn organization_acls(sandbox: &Running, token: &str) -> Value {
    body(
        sandbox
            .http
            .get(sandbox.url("/sandbox/linkedin/rest/organizationAcls?q=roleAssignee"))
            .bearer_auth(token)
            .header("LinkedIn-Version", LINKEDIN_VERSION)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn linkedin_organization_posting_needs_the_page_role() {
    let sandbox = sandbox().await;
    let code = sandbox
        .linkedin_code(
            "carol",
            "openid w_organization_social rw_organization_admin",
        )
        .await;
    let tokens = body(exchange(&sandbox, &code, SECRET).await).await;
    let access = token(&tokens, "access_token");
    let acls = organization_acls(&sandbox, &access).await;
    let organization = acls["elements"][0]["organization"]
        .as_str()
        .expect("an organization")
        .to_owned();
    assert_eq!(acls["elements"][0]["role"], "ADMINISTRATOR");
    assert_eq!(
        sandbox
            .linkedin_post(&access, &organization, "Company news")
            .await
            .status(),
        201
    );

    // Personal posting needs w_member_social, which this grant lacks.
    let person = sandbox.linkedin_author(&access).await;
    assert_eq!(
        sandbox
            .linkedin_post(&access, &person, "Mine")
            .await
            .status(),
        403
    );

    let page_id = organization.rsplit(':').next().unwrap();
    let response = admin(
        &sandbox,
        "/members/linkedin/carol/lose-page-role",
        json!({ "page_id": page_id }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let refused = sandbox
        .linkedin_post(&access, &organization, "More news")
        .await;
    assert_eq!(refused.status(), 403);
    let error = body(refused).await;
    assert_eq!(error["status"], 403);
    assert_eq!(error["serviceErrorCode"], 100);
    assert!(error["message"]
        .as_str()
        .unwrap()
        .starts_with("Not enough permissions"));
    assert_eq!(
        organization_acls(&sandbox, &access).await["elements"],
        json!([])
    );
}

#[tokio::test]
async fn linkedin_a_different_scope_set_invalidates_earlier_tokens() {
    let sandbox = sandbox().await;
    let first = sandbox.linkedin_connect("alice").await;
    let code = sandbox.linkedin_code("alice", "openid profile").await;
    let second = body(exchange(&sandbox, &code, SECRET).await).await;
    let old = userinfo(&sandbox, &token(&first, "access_token")).await;
    assert_eq!(old.status(), 401);
    assert_eq!(body(old).await["serviceErrorCode"], 65601);
    assert_eq!(
        userinfo(&sandbox, &token(&second, "access_token"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn linkedin_spurious_revoked_fault_answers_65601_once_then_works() {
    let sandbox = sandbox().await;
    let tokens = sandbox.linkedin_connect("alice").await;
    let access = token(&tokens, "access_token");
    fault(
        &sandbox,
        json!({"provider": "linkedin", "kind": "spurious-revoked"}),
    )
    .await;
    let spurious = userinfo(&sandbox, &access).await;
    assert_eq!(spurious.status(), 401);
    assert_eq!(
        body(spurious).await,
        json!({"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN", "message": "The token used in the request has been revoked by the user"})
    );
    assert_eq!(userinfo(&sandbox, &access).await.status(), 200);
}

#[tokio::test]
async fn linkedin_outage_and_rate_limit_faults_answer_500_and_429_without_headers() {
    let sandbox = sandbox().await;
    let tokens = sandbox.linkedin_connect("alice").await;
    let access = token(&tokens, "access_token");
    fault(
        &sandbox,
        json!({"provider": "linkedin", "kind": "outage", "calls": 1}),
    )
    .await;
    let outage = userinfo(&sandbox, &access).await;
    assert_eq!(outage.status(), 500);
    assert_eq!(
        body(outage).await,
        json!({"status": 500, "message": "Internal Server Error"})
    );

    fault(
        &sandbox,
        json!({"provider": "linkedin", "kind": "rate-limit", "calls": 1}),
    )
    .await;
    let limited = userinfo(&sandbox, &access).await;
    assert_eq!(limited.status(), 429);
    assert!(limited
        .headers()
        .keys()
        .all(|k| !k.as_str().starts_with("x-rate")));
    assert_eq!(body(limited).await["status"], 429);
    assert_eq!(userinfo(&sandbox, &access).await.status(), 200);
}

#[tokio::test]
async fn linkedin_app_without_refresh_tokens_gets_a_sixty_day_token_alone_from_config() {
    let sandbox = crate::support::spawn(apostle_sandbox::SandboxConfig {
        linkedin_refresh_tokens: false,
        seed: Some(7),
        ..apostle_sandbox::SandboxConfig::default()
    })
    .await;
    let tokens = sandbox.linkedin_connect("alice").await;
    assert_eq!(tokens["expires_in"], 5184000);
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert!(tokens.get("refresh_token_expires_in").is_none(), "{tokens}");
    let access = token(&tokens, "access_token");
    advance(&sandbox, 60.0 * DAY).await;
    let expired = userinfo(&sandbox, &access).await;
    assert_eq!(body(expired).await["serviceErrorCode"], 65602);
    let again = sandbox.linkedin_connect("alice").await;
    assert_eq!(
        userinfo(&sandbox, &token(&again, "access_token"))
            .await
            .status(),
        200,
        "authorizing again is the only way on"
    );
}

#[tokio::test]
async fn linkedin_app_mode_is_set_by_the_admin_api_for_all_clients_or_one() {
    let sandbox = sandbox().await;
    let mode = admin(
        &sandbox,
        "/apps/linkedin",
        json!({"refresh_tokens": false, "client_id": CLIENT_ID}),
    )
    .await;
    assert_eq!(mode.status(), 200);
    assert_eq!(
        body(mode).await,
        json!({"provider": "linkedin", "refresh_tokens": true, "clients": {CLIENT_ID: false}})
    );
    assert!(sandbox.linkedin_connect("alice").await["refresh_token"].is_null());

    admin(
        &sandbox,
        "/apps/linkedin",
        json!({"refresh_tokens": true, "client_id": CLIENT_ID}),
    )
    .await;
    assert!(sandbox.linkedin_connect("alice").await["refresh_token"].is_string());

    admin(&sandbox, "/apps/linkedin", json!({"refresh_tokens": false})).await;
    let listed = body(
        sandbox
            .http
            .get(sandbox.url("/sandbox/admin/apps/linkedin"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["refresh_tokens"], false);
    assert!(
        sandbox.linkedin_connect("bob").await["refresh_token"].is_string(),
        "a client's own mode wins over the sandbox's"
    );
}
