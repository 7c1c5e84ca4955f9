use crate::helpers::*;
use apostle_core::Clock;
use apostle_domain::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

pub async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_mobile_app_signs_in_and_reads_the_user_and_their_teams() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    app.team("globex", &[("ada@acme.example", Role::Ambassador)])
        .await;
    let token = api_token(&app, "ada@acme.example").await;
    let (status, me) = get(&app, "/api/v1/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"]["email"], "ada@acme.example");
    assert_eq!(
        me["teams"],
        json!([
            {"slug": "acme", "name": "ACME", "role": "admin"},
            {"slug": "globex", "name": "GLOBEX", "role": "ambassador"}
        ])
    );
}

#[tokio::test]
async fn a_revoked_token_no_longer_works() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let token = api_token(&app, "ada@acme.example").await;
    let res = reqwest::Client::new()
        .delete(app.url("/api/v1/auth/token"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (status, body) = get(&app, "/api/v1/me", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
    let (status, _) = get(&app, "/api/v1/me", "apo_made_up").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn wrong_credentials_and_malformed_bodies_get_json_errors() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let http = reqwest::Client::new();
    let res = http
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"email": "ada@acme.example", "password": "wrong wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_credentials");

    let res = http
        .post(app.url("/api/v1/auth/token"))
        .header("content-type", "application/json")
        .body("{\"email\": 42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
}

#[tokio::test]
async fn token_requests_are_rate_limited_like_the_sign_in_page() {
    let app = spawn_app_with(Options {
        login_attempts: 2,
        ..Options::default()
    })
    .await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let http = reqwest::Client::new();
    let mut last = None;
    for _ in 0..3 {
        let res = http
            .post(app.url("/api/v1/auth/token"))
            .json(&json!({"email": "ada@acme.example", "password": "guess guess"}))
            .send()
            .await
            .unwrap();
        last = Some(res);
    }
    let res = last.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn the_api_hides_other_teams_members() {
    let app = spawn_app().await;
    app.team(
        "acme",
        &[
            ("ada@acme.example", Role::Admin),
            ("amy@acme.example", Role::Ambassador),
        ],
    )
    .await;
    app.team("globex", &[("gus@globex.example", Role::Admin)])
        .await;
    let gus = api_token(&app, "gus@globex.example").await;
    let (status, body) = get(&app, "/api/v1/teams/acme/members", &gus).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.to_string().contains("amy@acme.example"));
    let ada = api_token(&app, "ada@acme.example").await;
    let (status, body) = get(&app, "/api/v1/teams/acme/members", &ada).await;
    assert_eq!(status, StatusCode::OK);
    let emails: Vec<&str> = body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 2);
    assert!(emails.contains(&"amy@acme.example"));
}

/// The committed description of the API; `APOSTLE_UPDATE_OPENAPI=1` rewrites
/// it from the running app, to be reviewed in the diff.
const OPENAPI_SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

async fn served_openapi(app: &TestApp) -> Value {
    let res = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_served_openapi_document_matches_the_committed_one() {
    let app = spawn_app().await;
    let served = served_openapi(&app).await;
    assert_eq!(served["openapi"], "3.1.0");
    if std::env::var_os("APOSTLE_UPDATE_OPENAPI").is_some() {
        let text = serde_json::to_string_pretty(&served).unwrap() + "\n";
        std::fs::write(OPENAPI_SNAPSHOT, text).unwrap();
    }
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(OPENAPI_SNAPSHOT).unwrap()).unwrap();
    assert!(
        served == committed,
        "the API description changed: run the test with APOSTLE_UPDATE_OPENAPI=1 \
         and review the diff of {OPENAPI_SNAPSHOT}"
    );
}

/// Routes can only be added with their description; this checks the other
/// way: every described operation is served (no 404 or 405 from the router).
#[tokio::test]
async fn every_described_operation_is_served() {
    let app = spawn_app().await;
    let doc = served_openapi(&app).await;
    let http = reqwest::Client::new();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let url = app.url(&format!("/api/v1{}", path.replace("{slug}", "acme")));
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = http.request(method.clone(), url).send().await.unwrap();
            assert!(
                ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&res.status()),
                "{method} {path}: {}",
                res.status()
            );
            operations += 1;
        }
    }
    assert_eq!(operations, 31);
}

#[tokio::test]
async fn a_device_signed_out_from_personal_settings_loses_api_access() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let token = api_token(&app, "ada@acme.example").await;
    let web = app.signed_in("ada@acme.example").await;
    let (_, html) = web.text("/t/acme/settings").await;
    assert!(html.contains("Pixel 9"));
    let start = html.find("/t/acme/settings/devices/").unwrap();
    let action = &html[start..start + html[start..].find('"').unwrap()];
    let res = web.submit("/t/acme/settings", action, &[]).await;
    assert_eq!(location(&res), "/t/acme/settings");
    let (status, _) = get(&app, "/api/v1/me", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, html) = web.text("/t/acme/settings").await;
    assert!(html.contains("The app on that device is signed out."));
    assert!(!html.contains("Pixel 9"));
}

#[tokio::test]
async fn a_tokens_last_use_is_written_at_most_once_a_minute() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let token = api_token(&app, "ada@acme.example").await;
    let last_used = || async {
        let user = app
            .core
            .authenticate_bearer(&token)
            .await
            .unwrap()
            .unwrap()
            .user;
        let tokens = app.core.api_tokens(user.id).await.unwrap();
        tokens[0].last_used_at
    };
    let start = app.clock.now();
    assert_eq!(get(&app, "/api/v1/me", &token).await.0, StatusCode::OK);
    assert_eq!(last_used().await, Some(start));
    app.clock.advance(chrono::Duration::seconds(59));
    assert_eq!(get(&app, "/api/v1/me", &token).await.0, StatusCode::OK);
    assert_eq!(
        last_used().await,
        Some(start),
        "not rewritten within a minute"
    );
    app.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(get(&app, "/api/v1/me", &token).await.0, StatusCode::OK);
    assert_eq!(
        last_used().await,
        Some(start + chrono::Duration::seconds(61)),
        "written again after a minute"
    );
}
