use apostle_sandbox::SandboxConfig;
use serde_json::{json, Value};

use crate::helpers::{advance, body, fault, member_action, sandbox, x_users_me};
use crate::support::{
    pkce_challenge, query_value, spawn, x_authorize_query, Running, CLIENT_ID, PKCE_VERIFIER,
    REDIRECT_URI, SECRET,
};

const AUTHORIZE: &str = "/sandbox/x/i/oauth2/authorize";

async fn code_for(sandbox: &Running, member: &str, scope: &str) -> String {
    let challenge = pkce_challenge(PKCE_VERIFIER);
    let redirect = sandbox
        .decide(
            AUTHORIZE,
            &x_authorize_query(scope, &challenge),
            member,
            "allow",
        )
        .await;
    query_value(&redirect, "code").expect("code")
}

async fn tweet(sandbox: &Running, token: &str, text: &str) -> reqwest::Response {
    sandbox
        .http
        .post(sandbox.url("/sandbox/x/2/tweets"))
        .bearer_auth(token)
        .json(&json!({ "text": text }))
        .send()
        .await
        .unwrap()
}

fn field(value: &Value, name: &str) -> String {
    value[name].as_str().expect(name).to_owned()
}

fn invalid_token_body() -> Value {
    json!({"error": "invalid_request", "error_description": "Value passed for the token was invalid."})
}

fn unauthorized_body() -> Value {
    json!({"title": "Unauthorized", "detail": "Unauthorized", "type": "about:blank", "status": 401})
}

#[tokio::test]
async fn x_allow_with_pkce_gives_two_hour_bearer_token_refresh_token_and_users_me() {
    let sandbox = sandbox().await;
    let tokens = sandbox.x_connect("dave").await;
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 7200);
    assert_eq!(
        tokens["scope"],
        "tweet.read tweet.write users.read offline.access"
    );
    assert!(tokens["refresh_token"].is_string());
    let response = x_users_me(&sandbox, &field(&tokens, "access_token")).await;
    assert_eq!(response.status(), 200);
    let me = body(response).await;
    assert_eq!(me["data"]["username"], "dave");
    assert!(me["data"]["id"]
        .as_str()
        .unwrap()
        .bytes()
        .all(|b| b.is_ascii_digit()));
}

#[tokio::test]
async fn x_decline_redirects_with_access_denied_and_state() {
    let sandbox = sandbox().await;
    let challenge = pkce_challenge(PKCE_VERIFIER);
    let redirect = sandbox
        .decide(
            AUTHORIZE,
            &x_authorize_query("tweet.read", &challenge),
            "dave",
            "deny",
        )
        .await;
    assert_eq!(
        query_value(&redirect, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_value(&redirect, "state").as_deref(), Some("x-state"));
}

#[tokio::test]
async fn x_authorize_without_pkce_shows_an_error_page_and_no_redirect() {
    let sandbox = sandbox().await;
    let response = sandbox
        .http
        .get(sandbox.url(AUTHORIZE))
        .query(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("state", "s"),
            ("scope", "tweet.read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("PKCE"));
}

#[tokio::test]
async fn x_code_exchange_with_the_wrong_verifier_fails() {
    let sandbox = sandbox().await;
    let code = code_for(&sandbox, "dave", "tweet.read users.read").await;
    let response = sandbox
        .x_exchange(&code, "not-the-verifier-not-the-verifier-not-the-v")
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(body(response).await, invalid_token_body());
    assert_eq!(sandbox.x_exchange(&code, PKCE_VERIFIER).await.status(), 200);
}

#[tokio::test]
async fn x_code_expires_after_thirty_seconds() {
    let sandbox = sandbox().await;
    let code = code_for(&sandbox, "dave", "tweet.read users.read").await;
    advance(&sandbox, 31.0).await;
    let response = sandbox.x_exchange(&code, PKCE_VERIFIER).await;
    assert_eq!(response.status(), 400);
    assert_eq!(body(response).await, invalid_token_body());
}

#[tokio::test]
async fn x_refresh_rotates_and_reusing_the_old_refresh_token_fails_with_the_documented_body() {
    let sandbox = sandbox().await;
    let tokens = sandbox.x_connect("dave").await;
    let old = field(&tokens, "refresh_token");
    let response = sandbox.x_refresh(&old).await;
    assert_eq!(response.status(), 200);
    let rotated = body(response).await;
    let new = field(&rotated, "refresh_token");
    assert_ne!(new, old);
    assert_eq!(rotated["expires_in"], 7200);

    let reused = sandbox.x_refresh(&old).await;
    assert_eq!(reused.status(), 400);
    assert_eq!(body(reused).await, invalid_token_body());

    assert_eq!(sandbox.x_refresh(&new).await.status(), 200);
}

#[tokio::test]
async fn x_token_endpoint_requires_basic_client_authentication() {
    let sandbox = sandbox().await;
    let tokens = sandbox.x_connect("dave").await;
    let response = sandbox
        .http
        .post(sandbox.url("/sandbox/x/2/oauth2/token"))
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        body(response).await,
        json!({"error": "unauthorized_client", "error_description": "Missing valid authorization header"})
    );
}

#[tokio::test]
async fn x_without_offline_access_gets_no_refresh_token() {
    let sandbox = sandbox().await;
    let code = code_for(&sandbox, "dave", "tweet.read users.read").await;
    let tokens = body(sandbox.x_exchange(&code, PKCE_VERIFIER).await).await;
    assert!(tokens.get("refresh_token").is_none());
}

#[tokio::test]
async fn x_tweet_is_created_and_listed_and_281_characters_are_refused() {
    let sandbox = sandbox().await;
    let access = field(&sandbox.x_connect("dave").await, "access_token");
    let text = "a".repeat(280);
    let response = tweet(&sandbox, &access, &text).await;
    assert_eq!(response.status(), 201);
    let created = body(response).await;
    assert_eq!(created["data"]["text"], text.as_str());
    let id = field(&created["data"], "id");

    let too_long = tweet(&sandbox, &access, &"é".repeat(281)).await;
    assert_eq!(too_long.status(), 403);
    assert_eq!(
        too_long.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(body(too_long).await["title"], "Forbidden");

    let posts = body(
        sandbox
            .http
            .get(sandbox.url("/sandbox/admin/posts?provider=x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(posts.as_array().unwrap().len(), 1);
    assert_eq!(posts[0]["id"], id.as_str());
}

#[tokio::test]
async fn x_duplicate_tweet_is_forbidden() {
    let sandbox = sandbox().await;
    let access = field(&sandbox.x_connect("dave").await, "access_token");
    assert_eq!(tweet(&sandbox, &access, "same").await.status(), 201);
    let duplicate = tweet(&sandbox, &access, "same").await;
    assert_eq!(duplicate.status(), 403);
    assert_eq!(
        body(duplicate).await["detail"],
        "You are not allowed to create a Tweet with duplicate content."
    );
}

#[tokio::test]
async fn x_expired_access_token_answers_401_problem_json() {
    let sandbox = sandbox().await;
    let access = field(&sandbox.x_connect("dave").await, "access_token");
    advance(&sandbox, 7201.0).await;
    let response = x_users_me(&sandbox, &access).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(body(response).await, unauthorized_body());
}

#[tokio::test]
async fn x_admin_breaks_answer_401_and_kill_the_refresh_token() {
    let sandbox = sandbox().await;
    for action in ["revoke", "change-password", "remove-app"] {
        let tokens = sandbox.x_connect(action).await;
        member_action(&sandbox, "x", action, action).await;
        let response = x_users_me(&sandbox, &field(&tokens, "access_token")).await;
        assert_eq!(response.status(), 401, "{action}");
        assert_eq!(body(response).await, unauthorized_body());
        let refresh = sandbox.x_refresh(&field(&tokens, "refresh_token")).await;
        assert_eq!(refresh.status(), 400, "{action}");
    }
}

#[tokio::test]
async fn x_revoke_endpoint_kills_the_token() {
    let sandbox = sandbox().await;
    let access = field(&sandbox.x_connect("dave").await, "access_token");
    let response = sandbox
        .http
        .post(sandbox.url("/sandbox/x/2/oauth2/revoke"))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[
            ("token", access.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(body(response).await, json!({"revoked": true}));
    assert_eq!(x_users_me(&sandbox, &access).await.status(), 401);
}

#[tokio::test]
async fn x_rate_limit_fault_answers_429_with_rate_limit_headers() {
    let sandbox = sandbox().await;
    let access = field(&sandbox.x_connect("dave").await, "access_token");
    fault(
        &sandbox,
        json!({"provider": "x", "kind": "rate-limit", "seconds": 120}),
    )
    .await;
    let now = body(
        sandbox
            .http
            .get(sandbox.url("/sandbox/admin/clock"))
            .send()
            .await
            .unwrap(),
    )
    .await["now"]
        .as_i64()
        .unwrap();
    let response = x_users_me(&sandbox, &access).await;
    assert_eq!(response.status(), 429);
    let headers = response.headers();
    assert_eq!(headers["x-rate-limit-limit"], "100");
    assert_eq!(headers["x-rate-limit-remaining"], "0");
    let reset: i64 = headers["x-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (now + 119..=now + 121).contains(&reset),
        "reset {reset} vs now {now}"
    );
    assert_eq!(
        body(response).await,
        json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429})
    );
    advance(&sandbox, 121.0).await;
    assert_eq!(x_users_me(&sandbox, &access).await.status(), 200);
}

#[tokio::test]
async fn x_posting_limit_is_100_tweets_per_15_minutes() {
    let sandbox = sandbox().await;
    let access = field(&sandbox.x_connect("dave").await, "access_token");
    for n in 0..100 {
        assert_eq!(
            tweet(&sandbox, &access, &format!("tweet {n}"))
                .await
                .status(),
            201
        );
    }
    let limited = tweet(&sandbox, &access, "one too many").await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["x-rate-limit-limit"], "100");
    advance(&sandbox, 15.0 * 60.0).await;
    assert_eq!(tweet(&sandbox, &access, "later").await.status(), 201);
}

#[tokio::test]
async fn x_two_hour_token_lives_half_a_second_at_time_scale_one_in_14400() {
    let sandbox = spawn(SandboxConfig {
        time_scale: 1.0 / 14400.0,
        ..SandboxConfig::default()
    })
    .await;
    let tokens = sandbox.x_connect("dave").await;
    assert_eq!(tokens["expires_in"], 1);
    let access = field(&tokens, "access_token");
    assert_eq!(x_users_me(&sandbox, &access).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(x_users_me(&sandbox, &access).await.status(), 401);
}

#[tokio::test]
async fn x_client_forbidden_fault_answers_the_real_403_problem_on_the_api() {
    let sandbox = sandbox().await;
    let tokens = sandbox.x_connect("dave").await;
    let access = field(&tokens, "access_token");
    fault(
        &sandbox,
        json!({"provider": "x", "kind": "client-forbidden", "calls": 1}),
    )
    .await;
    let forbidden = x_users_me(&sandbox, &access).await;
    assert_eq!(forbidden.status(), 403);
    assert_eq!(
        forbidden.headers()["content-type"],
        "application/problem+json"
    );
    let problem = body(forbidden).await;
    assert_eq!(
        problem["type"],
        "https://api.twitter.com/2/problems/client-forbidden"
    );
    assert_eq!(problem["title"], "Client Forbidden");
    assert_eq!(problem["reason"], "client-not-enrolled");
    assert_eq!(problem["client_id"], CLIENT_ID);
    assert!(problem["detail"].is_string());
    assert!(problem["registration_url"].is_string());
    assert_eq!(x_users_me(&sandbox, &access).await.status(), 200);
}

#[tokio::test]
async fn x_client_forbidden_spares_the_token_endpoint() {
    let sandbox = sandbox().await;
    let tokens = sandbox.x_connect("dave").await;
    fault(
        &sandbox,
        json!({"provider": "x", "kind": "client-forbidden"}),
    )
    .await;
    let refreshed = sandbox.x_refresh(&field(&tokens, "refresh_token")).await;
    assert_eq!(refreshed.status(), 200);
}

#[tokio::test]
async fn x_duplicate_content_fault_refuses_the_next_tweet_only() {
    let sandbox = sandbox().await;
    let access = field(&sandbox.x_connect("dave").await, "access_token");
    fault(
        &sandbox,
        json!({"provider": "x", "kind": "duplicate-content", "calls": 1}),
    )
    .await;
    assert_eq!(x_users_me(&sandbox, &access).await.status(), 200);
    let refused = tweet(&sandbox, &access, "brand new").await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        body(refused).await,
        json!({
            "title": "Forbidden",
            "detail": "You are not allowed to create a Tweet with duplicate content.",
            "type": "about:blank",
            "status": 403
        })
    );
    assert_eq!(tweet(&sandbox, &access, "brand new").await.status(), 201);
}

#[tokio::test]
async fn x_only_faults_are_refused_for_other_providers() {
    let sandbox = sandbox().await;
    for kind in ["client-forbidden", "duplicate-content"] {
        let response = crate::helpers::admin(
            &sandbox,
            "/faults",
            json!({"provider": "linkedin", "kind": kind}),
        )
        .await;
        assert_eq!(response.status(), 400, "{kind}");
    }
}

async fn timeline(
    sandbox: &Running,
    token: &str,
    user: &str,
    query: &[(&str, &str)],
) -> reqwest::Response {
    sandbox
        .http
        .get(sandbox.url(&format!("/sandbox/x/2/users/{user}/tweets")))
        .bearer_auth(token)
        .query(query)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn x_timeline_lists_the_users_tweets_newest_first_and_leaves_data_out_when_empty() {
    let sandbox = sandbox().await;
    let token = field(&sandbox.x_connect("tess").await, "access_token");
    let me = body(x_users_me(&sandbox, &token).await).await;
    let id = me["data"]["id"].as_str().unwrap().to_owned();
    let empty = timeline(&sandbox, &token, &id, &[]).await;
    assert_eq!(empty.status(), 200);
    assert_eq!(body(empty).await, json!({"meta": {"result_count": 0}}));

    for text in ["first", "second"] {
        assert_eq!(tweet(&sandbox, &token, text).await.status(), 201);
    }
    let listed = body(
        timeline(
            &sandbox,
            &token,
            &id,
            &[("max_results", "5"), ("tweet.fields", "created_at")],
        )
        .await,
    )
    .await;
    let texts: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["second", "first"]);
    assert_eq!(listed["meta"]["result_count"], 2);
    assert_eq!(listed["meta"]["newest_id"], listed["data"][0]["id"]);
    assert!(listed["data"][0]["created_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
}

#[tokio::test]
async fn x_timeline_refuses_max_results_outside_5_to_100_and_an_unknown_user_is_an_error_in_a_200()
{
    let sandbox = sandbox().await;
    let token = field(&sandbox.x_connect("uma").await, "access_token");
    let me = body(x_users_me(&sandbox, &token).await).await;
    let id = me["data"]["id"].as_str().unwrap().to_owned();
    let refused = timeline(&sandbox, &token, &id, &[("max_results", "3")]).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        body(refused).await["type"],
        "https://api.twitter.com/2/problems/invalid-request"
    );
    let unknown = timeline(&sandbox, &token, "404404", &[]).await;
    assert_eq!(unknown.status(), 200);
    let unknown = body(unknown).await;
    assert!(unknown.get("data").is_none());
    assert_eq!(
        unknown["errors"][0]["type"],
        "https://api.twitter.com/2/problems/resource-not-found"
    );
    member_action(&sandbox, "x", "uma", "revoke").await;
    let revoked = timeline(&sandbox, &token, &id, &[]).await;
    assert_eq!(revoked.status(), 401);
    assert_eq!(body(revoked).await, unauthorized_body());
}
