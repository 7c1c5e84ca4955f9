//! Test-only helpers on top of [`crate::support`]: admin calls and the Graph dance.

use apostle_sandbox::SandboxConfig;
use serde_json::{json, Value};

use crate::support::{query_value, spawn, Running, CLIENT_ID, REDIRECT_URI, SECRET};

pub const GRAPH_VERSION: &str = "v21.0";
pub const FACEBOOK_SCOPES: &str = "pages_show_list,pages_manage_posts,pages_read_engagement";
pub const INSTAGRAM_SCOPES: &str =
    "instagram_basic,instagram_content_publish,pages_read_engagement,pages_show_list";

pub async fn sandbox() -> Running {
    spawn(SandboxConfig {
        seed: Some(7),
        ..SandboxConfig::default()
    })
    .await
}

pub async fn body(response: reqwest::Response) -> Value {
    response.json().await.expect("json body")
}

pub async fn get_json(sandbox: &Running, path: &str) -> Value {
    body(
        sandbox
            .http
            .get(sandbox.url(path))
            .send()
            .await
            .expect("get"),
    )
    .await
}

/// A member as `GET /sandbox/admin/members` lists it.
pub async fn listed_member(sandbox: &Running, provider: &str, handle: &str) -> Value {
    let members = get_json(
        sandbox,
        &format!("/sandbox/admin/members?provider={provider}"),
    )
    .await;
    members
        .as_array()
        .expect("a list")
        .iter()
        .find(|m| m["handle"] == handle)
        .unwrap_or_else(|| panic!("no {provider} member {handle}"))
        .clone()
}

pub async fn admin(sandbox: &Running, path: &str, payload: Value) -> reqwest::Response {
    sandbox
        .http
        .post(sandbox.url(&format!("/sandbox/admin{path}")))
        .json(&payload)
        .send()
        .await
        .expect("admin request")
}

pub async fn advance(sandbox: &Running, seconds: f64) {
    let response = admin(sandbox, "/clock/advance", json!({ "seconds": seconds })).await;
    assert_eq!(response.status(), 200);
}

pub async fn member_action(sandbox: &Running, provider: &str, handle: &str, action: &str) -> Value {
    let response = admin(
        sandbox,
        &format!("/members/{provider}/{handle}/{action}"),
        json!({}),
    )
    .await;
    assert_eq!(response.status(), 200, "{action}");
    body(response).await
}

pub async fn fault(sandbox: &Running, spec: Value) {
    let response = admin(sandbox, "/faults", spec).await;
    assert_eq!(response.status(), 201);
}

pub fn graph_authorize_query(scope: &str) -> Vec<(&str, &str)> {
    vec![
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("state", "fb-state"),
        ("scope", scope),
        ("response_type", "code"),
    ]
}

pub async fn graph_code(sandbox: &Running, provider: &str, member: &str, scope: &str) -> String {
    let redirect = sandbox
        .decide(
            &format!("/sandbox/{provider}/{GRAPH_VERSION}/dialog/oauth"),
            &graph_authorize_query(scope),
            member,
            "allow",
        )
        .await;
    assert_eq!(query_value(&redirect, "state").as_deref(), Some("fb-state"));
    query_value(&redirect, "code").expect("code")
}

pub async fn graph_exchange_code(
    sandbox: &Running,
    provider: &str,
    code: &str,
) -> reqwest::Response {
    sandbox
        .http
        .get(sandbox.url(&format!(
            "/sandbox/{provider}/{GRAPH_VERSION}/oauth/access_token"
        )))
        .query(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("client_secret", SECRET),
            ("code", code),
        ])
        .send()
        .await
        .expect("code exchange")
}

/// Login, code exchange and the long-lived exchange: the long-lived user token.
pub async fn graph_user_token(
    sandbox: &Running,
    provider: &str,
    member: &str,
    scope: &str,
) -> String {
    let code = graph_code(sandbox, provider, member, scope).await;
    let short = body(graph_exchange_code(sandbox, provider, &code).await).await;
    let response = sandbox
        .http
        .get(sandbox.url(&format!(
            "/sandbox/{provider}/{GRAPH_VERSION}/oauth/access_token"
        )))
        .query(&[
            ("grant_type", "fb_exchange_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            (
                "fb_exchange_token",
                short["access_token"].as_str().expect("short token"),
            ),
        ])
        .send()
        .await
        .expect("long-lived exchange");
    assert_eq!(response.status(), 200);
    let long = body(response).await;
    assert_eq!(long["expires_in"], 5184000);
    long["access_token"]
        .as_str()
        .expect("long token")
        .to_owned()
}

pub async fn graph_get(
    sandbox: &Running,
    provider: &str,
    path: &str,
    token: &str,
) -> reqwest::Response {
    sandbox
        .http
        .get(sandbox.url(&format!("/sandbox/{provider}/{GRAPH_VERSION}{path}")))
        .query(&[("access_token", token)])
        .send()
        .await
        .expect("graph get")
}

pub async fn graph_post(
    sandbox: &Running,
    provider: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    sandbox
        .http
        .post(sandbox.url(&format!("/sandbox/{provider}/{GRAPH_VERSION}{path}")))
        .form(form)
        .send()
        .await
        .expect("graph post")
}

/// The first page of `/me/accounts` with the given fields.
pub async fn first_page(
    sandbox: &Running,
    provider: &str,
    user_token: &str,
    fields: &str,
) -> Value {
    let response = sandbox
        .http
        .get(sandbox.url(&format!("/sandbox/{provider}/{GRAPH_VERSION}/me/accounts")))
        .query(&[("access_token", user_token), ("fields", fields)])
        .send()
        .await
        .expect("accounts");
    assert_eq!(response.status(), 200);
    body(response).await["data"][0].clone()
}

/// Asserts a Graph error: HTTP 400, `OAuthException`, the code and subcode.
pub async fn assert_graph_error(
    response: reqwest::Response,
    code: u64,
    subcode: Option<u64>,
) -> Value {
    assert_eq!(response.status(), 400);
    let error = body(response).await["error"].clone();
    assert_eq!(error["code"], code, "{error}");
    assert_eq!(error["error_subcode"].as_u64(), subcode, "{error}");
    assert!(error["fbtrace_id"].is_string());
    assert!(error["message"].is_string());
    error
}

/// The HTML of a page that must answer 200.
pub async fn html_page(request: reqwest::RequestBuilder) -> String {
    let response = request.send().await.expect("page request");
    assert_eq!(response.status(), 200);
    response.text().await.expect("html")
}

pub fn assert_contains(html: &str, expected: &[&str]) {
    for fragment in expected {
        assert!(html.contains(fragment), "the page lacks {fragment}");
    }
}

pub async fn x_users_me(sandbox: &Running, token: &str) -> reqwest::Response {
    sandbox
        .http
        .get(sandbox.url("/sandbox/x/2/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("users/me")
}
