//! The running application answers health checks and metrics.

use crate::helpers::spawn_app;

crate::on_both_backends!(metrics_count_requests_by_route_and_show_queues_by_state,);

#[tokio::test]
async fn health_check_answers_200() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    app.stop().await.unwrap();
}

async fn metrics_count_requests_by_route_and_show_queues_by_state() {
    let app = spawn_app().await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    let healthz = text
        .lines()
        .find(|l| {
            l.starts_with("apostle_http_requests_total{")
                && l.contains("route=\"/healthz\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no request counter for /healthz in:\n{text}"));
    let count: f64 = healthz.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 1.0, "{healthz}");
    assert!(
        text.contains("apostle_http_request_duration_seconds"),
        "{text}"
    );
    for state in ["pending", "running", "dead"] {
        assert!(
            text.contains(&format!("apostle_jobs{{state=\"{state}\"}}")),
            "{text}"
        );
    }
    for state in ["queued", "sent", "failed"] {
        assert!(
            text.contains(&format!("apostle_emails{{state=\"{state}\"}}")),
            "{text}"
        );
    }
    app.stop().await.unwrap();
}
