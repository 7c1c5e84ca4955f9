use apostle_sandbox::SandboxConfig;
use axum::extract::State;
use axum::routing::post;
use axum::{Form, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use tokio::sync::mpsc;

use crate::helpers::{
    assert_graph_error, body, fault, first_page, graph_authorize_query, graph_code,
    graph_exchange_code, graph_get, graph_post, graph_user_token, member_action, sandbox,
    FACEBOOK_SCOPES, GRAPH_VERSION,
};
use crate::support::{query_value, spawn, Running, CLIENT_ID, SECRET};

const FB: &str = "facebook";

/// A connected member: the long-lived user token, the page id and the page token.
async fn connect(sandbox: &Running, member: &str) -> (String, String, String) {
    let user = graph_user_token(sandbox, FB, member, FACEBOOK_SCOPES).await;
    let page = first_page(sandbox, FB, &user, "id,name,access_token").await;
    (
        user,
        page["id"].as_str().unwrap().to_owned(),
        page["access_token"].as_str().unwrap().to_owned(),
    )
}

async fn publish(
    sandbox: &Running,
    page_id: &str,
    page_token: &str,
    message: &str,
) -> reqwest::Response {
    graph_post(
        sandbox,
        FB,
        &format!("/{page_id}/feed"),
        &[
            ("message", message),
            ("link", "https://example.com/post"),
            ("access_token", page_token),
        ],
    )
    .await
}

async fn debug_token(sandbox: &Running, input: &str) -> Value {
    let app_token = format!("{CLIENT_ID}|{SECRET}");
    let response = sandbox
        .http
        .get(sandbox.url("/sandbox/facebook/debug_token"))
        .query(&[("input_token", input), ("access_token", app_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    body(response).await["data"].clone()
}

#[tokio::test]
async fn facebook_login_gives_short_lived_token_exchanged_for_long_lived_and_page_tokens() {
    let sandbox = sandbox().await;
    let code = graph_code(&sandbox, FB, "erin", FACEBOOK_SCOPES).await;
    let short = body(graph_exchange_code(&sandbox, FB, &code).await).await;
    assert_eq!(short["token_type"], "bearer");
    assert_eq!(short["expires_in"], 7200);
    let (user, page_id, page_token) = connect(&sandbox, "erin").await;
    let me = body(graph_get(&sandbox, FB, "/me", &user).await).await;
    assert_eq!(me["name"], "erin");
    let page = first_page(&sandbox, FB, &user, "id,name,access_token").await;
    assert_eq!(page["name"], "erin Page");
    assert_eq!(
        page["access_token"],
        page_token.as_str(),
        "a live page token is handed out again"
    );
    assert!(!page_id.is_empty());
}

#[tokio::test]
async fn facebook_page_feed_post_returns_page_scoped_id_and_is_listed() {
    let sandbox = sandbox().await;
    let (_, page_id, page_token) = connect(&sandbox, "erin").await;
    let response = publish(&sandbox, &page_id, &page_token, "Hello page").await;
    assert_eq!(response.status(), 200);
    let id = body(response).await["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with(&format!("{page_id}_")), "{id}");
    let posts = body(
        sandbox
            .http
            .get(sandbox.url("/sandbox/admin/posts?provider=facebook"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(posts[0]["id"], id.as_str());
    assert_eq!(posts[0]["page_id"], page_id.as_str());
    assert_eq!(posts[0]["text"], "Hello page");

    let duplicate = publish(&sandbox, &page_id, &page_token, "Hello page").await;
    assert_graph_error(duplicate, 506, None).await;
}

#[tokio::test]
async fn facebook_posting_with_the_user_token_is_a_permission_error() {
    let sandbox = sandbox().await;
    let (user, page_id, _) = connect(&sandbox, "erin").await;
    assert_graph_error(publish(&sandbox, &page_id, &user, "x").await, 200, None).await;
}

#[tokio::test]
async fn facebook_decline_redirects_with_user_denied() {
    let sandbox = sandbox().await;
    let redirect = sandbox
        .decide(
            &format!("/sandbox/facebook/{GRAPH_VERSION}/dialog/oauth"),
            &graph_authorize_query(FACEBOOK_SCOPES),
            "erin",
            "deny",
        )
        .await;
    assert_eq!(
        query_value(&redirect, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_value(&redirect, "error_reason").as_deref(),
        Some("user_denied")
    );
    assert_eq!(query_value(&redirect, "error_code").as_deref(), Some("200"));
    assert_eq!(query_value(&redirect, "state").as_deref(), Some("fb-state"));
}

#[tokio::test]
async fn facebook_code_cannot_be_used_twice_and_needs_the_client_secret() {
    let sandbox = sandbox().await;
    let code = graph_code(&sandbox, FB, "erin", FACEBOOK_SCOPES).await;
    let wrong_secret = sandbox
        .http
        .get(sandbox.url(&format!(
            "/sandbox/facebook/{GRAPH_VERSION}/oauth/access_token"
        )))
        .query(&[
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
            ("redirect_uri", "https://app.example/oauth/callback"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let error = assert_graph_error(wrong_secret, 1, None).await;
    assert_eq!(error["message"], "Error validating client secret.");
    assert_eq!(graph_exchange_code(&sandbox, FB, &code).await.status(), 200);
    assert_graph_error(
        graph_exchange_code(&sandbox, FB, &code).await,
        100,
        Some(36009),
    )
    .await;
}

#[tokio::test]
async fn facebook_admin_breaks_produce_the_documented_graph_errors() {
    let sandbox = sandbox().await;
    for (handle, action, subcode) in [
        ("revoked", "revoke", None),
        ("password", "change-password", Some(460)),
        ("removed", "remove-app", Some(458)),
        ("checkpoint", "checkpoint", Some(459)),
        ("expired", "expire-tokens", Some(463)),
    ] {
        let (user, page_id, page_token) = connect(&sandbox, handle).await;
        member_action(&sandbox, FB, handle, action).await;
        let error =
            assert_graph_error(graph_get(&sandbox, FB, "/me", &user).await, 190, subcode).await;
        assert_eq!(error["type"], "OAuthException");
        assert_graph_error(
            publish(&sandbox, &page_id, &page_token, "x").await,
            190,
            subcode,
        )
        .await;
    }
}

#[tokio::test]
async fn facebook_lost_page_role_breaks_only_that_page_token_with_492() {
    let sandbox = sandbox().await;
    let (user, page_id, page_token) = connect(&sandbox, "erin").await;
    let response = crate::helpers::admin(
        &sandbox,
        "/members/facebook/erin/lose-page-role",
        json!({ "page_id": page_id }),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_graph_error(
        publish(&sandbox, &page_id, &page_token, "x").await,
        190,
        Some(492),
    )
    .await;
    assert_eq!(
        graph_get(&sandbox, FB, "/me", &user).await.status(),
        200,
        "the user token still works"
    );
}

#[tokio::test]
async fn facebook_checkpoint_clears_when_the_member_consents_again() {
    let sandbox = sandbox().await;
    let (user, _, _) = connect(&sandbox, "erin").await;
    member_action(&sandbox, FB, "erin", "checkpoint").await;
    assert_graph_error(graph_get(&sandbox, FB, "/me", &user).await, 190, Some(459)).await;
    graph_code(&sandbox, FB, "erin", FACEBOOK_SCOPES).await;
    assert_eq!(graph_get(&sandbox, FB, "/me", &user).await.status(), 200);
}

#[tokio::test]
async fn facebook_debug_token_reports_validity_expiry_scopes_and_the_break() {
    let sandbox = sandbox().await;
    let (user, page_id, page_token) = connect(&sandbox, "erin").await;
    let data = debug_token(&sandbox, &user).await;
    assert_eq!(data["is_valid"], true);
    assert_eq!(data["type"], "USER");
    assert_eq!(data["app_id"], CLIENT_ID);
    assert_eq!(
        data["scopes"],
        json!([
            "pages_show_list",
            "pages_manage_posts",
            "pages_read_engagement"
        ])
    );
    assert_eq!(data["granular_scopes"][0]["target_ids"], json!([page_id]));
    assert!(data["expires_at"].as_i64().unwrap() > 0);
    assert!(
        data["data_access_expires_at"].as_i64().unwrap() > data["expires_at"].as_i64().unwrap()
    );

    let page = debug_token(&sandbox, &page_token).await;
    assert_eq!(page["type"], "PAGE");
    assert_eq!(
        page["expires_at"], 0,
        "page tokens from long-lived user tokens never expire"
    );
    assert_eq!(page["profile_id"], page_id.as_str());

    member_action(&sandbox, FB, "erin", "change-password").await;
    let broken = debug_token(&sandbox, &user).await;
    assert_eq!(broken["is_valid"], false);
    assert_eq!(broken["error"]["code"], 190);
    assert_eq!(broken["error"]["subcode"], 460);

    assert_eq!(debug_token(&sandbox, "garbage").await["is_valid"], false);
}

#[tokio::test]
async fn facebook_expired_short_lived_token_cannot_be_exchanged() {
    let sandbox = sandbox().await;
    let code = graph_code(&sandbox, FB, "erin", FACEBOOK_SCOPES).await;
    let short = body(graph_exchange_code(&sandbox, FB, &code).await).await;
    crate::helpers::advance(&sandbox, 7201.0).await;
    let response = sandbox
        .http
        .get(sandbox.url(&format!(
            "/sandbox/facebook/{GRAPH_VERSION}/oauth/access_token"
        )))
        .query(&[
            ("grant_type", "fb_exchange_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("fb_exchange_token", short["access_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_graph_error(response, 190, Some(463)).await;
}

#[tokio::test]
async fn facebook_outage_is_a_transient_500_and_the_429_fault_a_429_with_usage_headers() {
    let sandbox = sandbox().await;
    let (user, page_id, page_token) = connect(&sandbox, "erin").await;
    fault(
        &sandbox,
        json!({"provider": "facebook", "kind": "outage", "calls": 1}),
    )
    .await;
    let outage = graph_get(&sandbox, FB, "/me", &user).await;
    assert_eq!(outage.status(), 500);
    let error = body(outage).await["error"].clone();
    assert_eq!(
        (error["code"].clone(), error["is_transient"].clone()),
        (json!(2), json!(true))
    );

    fault(
        &sandbox,
        json!({"provider": "facebook", "kind": "rate-limit-429", "seconds": 300, "calls": 1}),
    )
    .await;
    let limited = publish(&sandbox, &page_id, &page_token, "x").await;
    assert_eq!(limited.status(), 429);
    let app_usage: Value =
        serde_json::from_str(limited.headers()["x-app-usage"].to_str().unwrap()).unwrap();
    assert_eq!(app_usage["call_count"], 100);
    let business: Value = serde_json::from_str(
        limited.headers()["x-business-use-case-usage"]
            .to_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(business[&page_id][0]["estimated_time_to_regain_access"], 5);
    assert_eq!(body(limited).await["error"]["code"], 4);
    assert_eq!(
        publish(&sandbox, &page_id, &page_token, "after")
            .await
            .status(),
        200
    );
}

type Received = mpsc::UnboundedSender<HashMap<String, String>>;

async fn receive(State(sender): State<Received>, Form(form): Form<HashMap<String, String>>) {
    sender.send(form).expect("test still listening");
}

#[tokio::test]
async fn facebook_remove_app_posts_a_signed_deauthorize_request() {
    let (sender, mut received) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/deauthorize", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/deauthorize", post(receive))
        .with_state(sender);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let sandbox = spawn(SandboxConfig {
        facebook_deauthorize_url: Some(callback.clone()),
        ..SandboxConfig::default()
    })
    .await;
    let (user, _, _) = connect(&sandbox, "erin").await;
    let user_id = body(graph_get(&sandbox, FB, "/me", &user).await).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let result = member_action(&sandbox, FB, "erin", "remove-app").await;
    assert_eq!(
        result["deauthorize_callback"],
        json!({"url": callback, "status": 200})
    );

    let form = received.recv().await.expect("a callback");
    let (signature, payload) = form["signed_request"].split_once('.').expect("sig.payload");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap())
        .expect("valid signature");
    let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(payload["algorithm"], "HMAC-SHA256");
    assert_eq!(payload["user_id"], user_id.as_str());
    assert!(payload["issued_at"].as_i64().is_some());
}

#[tokio::test]
async fn facebook_session_logout_confirmation_and_data_access_breaks_answer_their_codes() {
    let sandbox = sandbox().await;
    for (handle, action, code, subcode) in [
        ("session", "invalidate-session", 102, None),
        ("loggedout", "log-out", 190, Some(467)),
        ("unconfirmed", "unconfirm", 190, Some(464)),
        ("lapsed", "expire-data-access", 190, Some(493)),
    ] {
        let (user, page_id, page_token) = connect(&sandbox, handle).await;
        member_action(&sandbox, FB, handle, action).await;
        let error =
            assert_graph_error(graph_get(&sandbox, FB, "/me", &user).await, code, subcode).await;
        assert_eq!(error["type"], "OAuthException", "{action}");
        assert_graph_error(
            publish(&sandbox, &page_id, &page_token, "x").await,
            code,
            subcode,
        )
        .await;
        let debugged = debug_token(&sandbox, &user).await;
        assert_eq!(debugged["is_valid"], false, "{action}");
        assert_eq!(debugged["error"]["code"], code, "{action}");
    }
}

#[tokio::test]
async fn facebook_holds_lift_when_the_member_does_what_facebook_asks() {
    let sandbox = sandbox().await;
    let (user, _, _) = connect(&sandbox, "erin").await;
    for (hold, lift, subcode) in [
        ("unconfirm", "confirm", 464),
        ("checkpoint", "clear-checkpoint", 459),
    ] {
        member_action(&sandbox, FB, "erin", hold).await;
        assert_graph_error(
            graph_get(&sandbox, FB, "/me", &user).await,
            190,
            Some(subcode),
        )
        .await;
        member_action(&sandbox, FB, "erin", lift).await;
        assert_eq!(graph_get(&sandbox, FB, "/me", &user).await.status(), 200);
    }
}

#[tokio::test]
async fn facebook_data_access_lapses_ninety_days_after_login_and_a_new_login_renews_it() {
    let sandbox = sandbox().await;
    let (_, page_id, page_token) = connect(&sandbox, "erin").await;
    let data = debug_token(&sandbox, &page_token).await;
    let lapse = data["data_access_expires_at"].as_i64().unwrap();
    crate::helpers::advance(&sandbox, 89.0 * 86400.0).await;
    assert_eq!(
        publish(&sandbox, &page_id, &page_token, "day 89")
            .await
            .status(),
        200
    );
    crate::helpers::advance(&sandbox, 86400.0).await;
    assert_graph_error(
        publish(&sandbox, &page_id, &page_token, "day 90").await,
        190,
        Some(493),
    )
    .await;
    graph_code(&sandbox, FB, "erin", FACEBOOK_SCOPES).await;
    let renewed = debug_token(&sandbox, &page_token).await;
    assert!(renewed["data_access_expires_at"].as_i64().unwrap() > lapse);
    assert_eq!(
        publish(&sandbox, &page_id, &page_token, "after login")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn facebook_one_token_can_be_logged_out_while_the_others_live() {
    let sandbox = sandbox().await;
    let (user, page_id, page_token) = connect(&sandbox, "erin").await;
    let response = crate::helpers::admin(
        &sandbox,
        "/members/facebook/erin/log-out",
        json!({ "token": page_token }),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_graph_error(
        publish(&sandbox, &page_id, &page_token, "x").await,
        190,
        Some(467),
    )
    .await;
    assert_eq!(graph_get(&sandbox, FB, "/me", &user).await.status(), 200);
    let unknown = crate::helpers::admin(
        &sandbox,
        "/members/facebook/erin/log-out",
        json!({"token": "not-a-token"}),
    )
    .await;
    assert_eq!(unknown.status(), 404);
    let whole_member_only = crate::helpers::admin(
        &sandbox,
        "/members/facebook/erin/checkpoint",
        json!({ "token": user }),
    )
    .await;
    assert_eq!(whole_member_only.status(), 400);
}

#[tokio::test]
async fn facebook_blocked_posts_answer_368_and_the_connection_still_works() {
    let sandbox = sandbox().await;
    let (user, page_id, page_token) = connect(&sandbox, "erin").await;
    member_action(&sandbox, FB, "erin", "block-posts").await;
    assert_graph_error(
        publish(&sandbox, &page_id, &page_token, "spam?").await,
        368,
        None,
    )
    .await;
    assert_eq!(graph_get(&sandbox, FB, "/me", &user).await.status(), 200);
    assert_eq!(debug_token(&sandbox, &page_token).await["is_valid"], true);
    member_action(&sandbox, FB, "erin", "unblock-posts").await;
    assert_eq!(
        publish(&sandbox, &page_id, &page_token, "fine now")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn facebook_graph_only_breaks_are_refused_elsewhere() {
    let sandbox = sandbox().await;
    for action in ["log-out", "invalidate-session", "unconfirm", "block-posts"] {
        let response = crate::helpers::admin(
            &sandbox,
            &format!("/members/linkedin/acme-linkedin/{action}"),
            json!({}),
        )
        .await;
        assert_eq!(response.status(), 400, "{action}");
    }
}

#[tokio::test]
async fn facebook_throttling_answers_http_400_with_its_code_and_app_usage() {
    let sandbox = sandbox().await;
    let (user, page_id, page_token) = connect(&sandbox, "erin").await;
    for code in [4, 17, 32, 613] {
        fault(
            &sandbox,
            json!({"provider": "facebook", "kind": "rate-limit", "code": code, "calls": 1}),
        )
        .await;
        let throttled = graph_get(&sandbox, FB, "/me", &user).await;
        let usage: Value =
            serde_json::from_str(throttled.headers()["x-app-usage"].to_str().unwrap()).unwrap();
        assert!(usage["call_count"].as_u64().unwrap() <= 100);
        assert!(usage["total_time"].is_number());
        let error = assert_graph_error(throttled, code, None).await;
        assert_eq!(error["is_transient"], true);
    }
    fault(
        &sandbox,
        json!({"provider": "facebook", "kind": "rate-limit", "calls": 1}),
    )
    .await;
    assert_graph_error(publish(&sandbox, &page_id, &page_token, "x").await, 4, None).await;
    assert_eq!(
        publish(&sandbox, &page_id, &page_token, "after")
            .await
            .status(),
        200
    );
    let bad_code = crate::helpers::admin(
        &sandbox,
        "/faults",
        json!({"provider": "facebook", "kind": "rate-limit", "code": 190}),
    )
    .await;
    assert_eq!(bad_code.status(), 400);
}

#[tokio::test]
async fn facebook_feed_lists_the_pages_posts_with_the_fields_asked_and_a_lost_role_is_492() {
    let sandbox = sandbox().await;
    let (user, page_id, page_token) = connect(&sandbox, "fern").await;
    for message in ["older", "newer"] {
        assert_eq!(
            publish(&sandbox, &page_id, &page_token, message)
                .await
                .status(),
            200
        );
    }
    let feed = body(graph_get(&sandbox, FB, &format!("/{page_id}/feed"), &page_token).await).await;
    let messages: Vec<&str> = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["newer", "older"]);
    assert!(feed["data"][0]["created_time"]
        .as_str()
        .unwrap()
        .ends_with("+0000"));

    let only_ids = sandbox
        .http
        .get(sandbox.url(&format!("/sandbox/{FB}/{GRAPH_VERSION}/{page_id}/feed")))
        .query(&[
            ("access_token", page_token.as_str()),
            ("fields", "id"),
            ("limit", "1"),
        ])
        .send()
        .await
        .unwrap();
    let only_ids = body(only_ids).await;
    assert_eq!(only_ids["data"].as_array().unwrap().len(), 1);
    assert!(only_ids["data"][0].get("message").is_none());

    assert_eq!(
        graph_get(&sandbox, FB, &format!("/{page_id}/feed"), &user)
            .await
            .status(),
        200,
        "a member with a role on the page reads it with the user token too"
    );
    crate::helpers::admin(
        &sandbox,
        "/members/facebook/fern/lose-page-role",
        json!({ "page_id": page_id }),
    )
    .await;
    assert_graph_error(
        graph_get(&sandbox, FB, &format!("/{page_id}/feed"), &page_token).await,
        190,
        Some(492),
    )
    .await;
}
