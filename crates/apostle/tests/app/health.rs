//! The running application answers health checks, metrics and the sandbox.

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_check_answers_200() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn metrics_are_served_as_prometheus_text() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_provider_sandbox_is_served_when_no_provider_is_configured() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/sandbox")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    app.stop().await.unwrap();
}
