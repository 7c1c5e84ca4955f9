//! Where the provider sandbox is served: by itself only on loopback, since
//! its fake providers let anyone sign in as anyone; elsewhere only when
//! `sandbox.enabled` says so, with a warning.

use crate::helpers::{admin_of_new_team, spawn_app, spawn_app_with, Running, TestApp, TestDb};

const NOT_CONFIGURED: &str = "Connecting accounts is not configured on this server.";

/// The Personal accounts and Business Pages tabs, as the team's admin sees them.
async fn connection_tabs(app: &TestApp) -> Vec<String> {
    admin_of_new_team(&app.core).await;
    let browser = app
        .signed_in("ada@acme.example", "correct horse battery")
        .await;
    let mut tabs = Vec::new();
    for tab in ["accounts", "pages"] {
        let page = browser
            .get(app.url(&format!("/t/acme/settings/{tab}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{tab}");
        tabs.push(page.text().await.unwrap());
    }
    tabs
}

#[tokio::test]
async fn on_a_loopback_address_the_sandbox_is_served_and_accounts_can_be_connected() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/sandbox")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    for html in connection_tabs(&app).await {
        assert!(!html.contains(NOT_CONFIGURED), "{html}");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn beyond_loopback_without_providers_there_is_no_sandbox_and_pages_say_connecting_is_not_configured(
) {
    let app = spawn_app_with(&[("APOSTLE_LISTEN", "0.0.0.0:0")]).await;
    let response = app.http.get(app.url("/sandbox")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the server runs without a sandbox");
    for html in connection_tabs(&app).await {
        assert!(html.contains(NOT_CONFIGURED), "{html}");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn sandbox_enabled_serves_it_beyond_loopback_and_warns_at_start() {
    let db = TestDb::new().await;
    let mut serve = db.apostle(&["serve", "--demo"]);
    serve
        .env("APOSTLE_LISTEN", "0.0.0.0:0")
        .env("APOSTLE_SANDBOX__ENABLED", "true");
    let mut demo = Running::start(serve);
    let line = demo.line_starting_with("Apostle demo is running at http://");
    let port = line.rsplit(':').next().unwrap().trim();
    let response = reqwest::get(format!("http://127.0.0.1:{port}/sandbox"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(demo.terminate().success());
    let stderr = demo.stderr();
    let warning = stderr
        .lines()
        .find(|l| l.contains("WARN") && l.contains("sandbox.enabled = true"))
        .unwrap_or_else(|| panic!("no warning about the sandbox in:\n{stderr}"));
    assert!(
        warning.contains("never do this on a real deployment"),
        "{warning}"
    );
}
