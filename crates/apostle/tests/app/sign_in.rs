//! Sign-in limits across processes.

use crate::helpers::{spawn_app_on, TestApp, TestDb};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;

async fn wrong_token_request(app: &TestApp) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"email": "amy@acme.example", "password": "guess guess"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_apps_on_one_postgresql_share_the_sign_in_limit() {
    let db = Arc::new(TestDb::new().await);
    if !db.is_postgres() {
        println!("skipped: APOSTLE_TEST_POSTGRES_URL is not set");
        return;
    }
    let limit = [("APOSTLE_LOGIN_ATTEMPTS", "3")];
    let first = spawn_app_on(Arc::clone(&db), &limit).await;
    let second = spawn_app_on(Arc::clone(&db), &limit).await;
    for app in [&first, &second, &first] {
        let res = wrong_token_request(app).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    for app in [&second, &first] {
        let res = wrong_token_request(app).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(res.headers().contains_key("retry-after"));
    }
    first.stop().await.unwrap();
    second.stop().await.unwrap();
}
