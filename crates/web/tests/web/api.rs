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
    assert_eq!(operations, 36);
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

#[tokio::test]
async fn a_token_unused_for_ninety_days_expires_and_is_answered_401_in_the_envelope() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let token = api_token(&app, "ada@acme.example").await;
    assert_eq!(get(&app, "/api/v1/me", &token).await.0, StatusCode::OK);
    app.clock.advance(chrono::Duration::days(89));
    assert_eq!(
        get(&app, "/api/v1/me", &token).await.0,
        StatusCode::OK,
        "in use: still valid"
    );
    app.clock.advance(chrono::Duration::days(91));
    let res = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert!(body["error"]["message"].is_string());
}

/// The members' emails on every page of `/teams/acme/members`, `limit` at a
/// time, with `between` run after the first page.
async fn members_paged(
    app: &TestApp,
    token: &str,
    limit: usize,
    between: impl std::future::Future<Output = ()>,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut path = format!("/api/v1/teams/acme/members?limit={limit}");
    let mut between = Some(between);
    loop {
        let (status, page) = get(app, &path, token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let members = page["members"].as_array().unwrap();
        assert!(members.len() <= limit);
        seen.extend(
            members
                .iter()
                .map(|m| m["user"]["email"].as_str().unwrap().to_owned()),
        );
        if let Some(between) = between.take() {
            between.await;
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/teams/acme/members?limit={limit}&cursor={cursor}")
            }
            None => return seen,
        }
    }
}

#[tokio::test]
async fn paging_a_list_never_repeats_or_skips_an_item_while_rows_are_added() {
    let app = spawn_app().await;
    let people: Vec<String> = ["bea", "dan", "eve", "fay", "gus"]
        .iter()
        .map(|n| format!("{n}@acme.example"))
        .collect();
    let roles: Vec<(&str, Role)> = people.iter().map(|e| (e.as_str(), Role::Admin)).collect();
    app.team("acme", &roles).await;
    let token = api_token(&app, "bea@acme.example").await;
    let added = async {
        // One sorts before the page already read, one after it.
        for (email, name) in [("al@acme.example", "al"), ("hal@acme.example", "hal")] {
            app.core
                .add_user("acme", email, name, Role::Ambassador, PASSWORD.into())
                .await
                .unwrap();
        }
    };
    let seen = members_paged(&app, &token, 2, added).await;
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, seen, "no member twice: {seen:?}");
    for person in &people {
        assert!(seen.contains(person), "{person} was skipped: {seen:?}");
    }
    assert!(seen.contains(&"hal@acme.example".to_owned()), "{seen:?}");
    assert!(
        !seen.contains(&"al@acme.example".to_owned()),
        "added before the cursor: on the next first page, not this walk"
    );
    let all = members_paged(&app, &token, 200, async {}).await;
    assert_eq!(all.len(), 7);
}

#[tokio::test]
async fn an_unchanged_list_answers_304_and_a_changed_one_a_new_etag() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let token = api_token(&app, "ada@acme.example").await;
    let http = reqwest::Client::new();
    let fetch = |etag: Option<String>| {
        let mut request = http
            .get(app.url("/api/v1/teams/acme/members"))
            .bearer_auth(&token);
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send()
    };
    let first = fetch(None).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = fetch(Some(etag.clone())).await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());
    app.core
        .add_user(
            "acme",
            "amy@acme.example",
            "amy",
            Role::Ambassador,
            PASSWORD.into(),
        )
        .await
        .unwrap();
    let changed = fetch(Some(etag.clone())).await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["members"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn requests_refused_before_any_handler_get_the_json_envelope_and_their_status() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let token = api_token(&app, "ada@acme.example").await;
    let http = reqwest::Client::new();
    let expect = |res: reqwest::Response, status: StatusCode, code: &'static str| async move {
        assert_eq!(res.status(), status, "{}", res.url());
        let content_type = res.headers().get("content-type");
        assert!(
            content_type.is_some_and(|v| v.to_str().unwrap().starts_with("application/json")),
            "{}: {content_type:?}",
            res.url()
        );
        let allow = res.headers().get("allow").cloned();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        allow
    };
    let unknown = http
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    expect(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let wrong_method = http
        .put(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let allow = expect(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    assert!(allow.is_some(), "405 keeps Allow");
    let not_json = http
        .post(app.url("/api/v1/auth/token"))
        .header("content-type", "text/plain")
        .body("email=ada")
        .send()
        .await
        .unwrap();
    expect(
        not_json,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let an_array = http
        .patch(app.url("/api/v1/me/settings"))
        .bearer_auth(&token)
        .json(&json!([null, null]))
        .send()
        .await
        .unwrap();
    expect(an_array, StatusCode::BAD_REQUEST, "bad_request").await;
    let too_large = http
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"email": "x".repeat(100_000), "password": "p"}))
        .send()
        .await
        .unwrap();
    expect(too_large, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    let bad_id = http
        .get(app.url("/api/v1/connections/not-a-number"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect(bad_id, StatusCode::BAD_REQUEST, "bad_request").await;
    for query in ["cursor=made-up", "limit=0", "limit=201"] {
        let bad_page = http
            .get(app.url(&format!("/api/v1/teams/acme/members?{query}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        expect(bad_page, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    // Outside the API, unknown paths are not answered in the API's JSON.
    let page = http.get(app.url("/nothing-here")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page
        .headers()
        .get("content-type")
        .is_none_or(|v| v != "application/json"));
}

#[tokio::test]
async fn the_app_lists_the_signed_in_devices_and_signs_another_one_out_but_not_itself() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let phone = api_token(&app, "ada@acme.example").await;
    let tablet = api_token(&app, "ada@acme.example").await;
    let (status, listed) = get(&app, "/api/v1/me/devices", &phone).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let devices = listed["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    let (mine, other): (Vec<&Value>, Vec<&Value>) =
        devices.iter().partition(|d| d["current"] == true);
    assert_eq!((mine.len(), other.len()), (1, 1));
    let http = reqwest::Client::new();
    let delete = |id: &Value| {
        http.delete(app.url(&format!("/api/v1/me/devices/{id}")))
            .bearer_auth(&phone)
            .send()
    };
    let res = delete(&mine[0]["id"]).await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(get(&app, "/api/v1/me", &phone).await.0, StatusCode::OK);
    let res = delete(&other[0]["id"]).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get(&app, "/api/v1/me", &tablet).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, listed) = get(&app, "/api/v1/me/devices", &phone).await;
    assert_eq!(listed["devices"].as_array().unwrap().len(), 1);
    let res = delete(&other[0]["id"]).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "already signed out");
}
