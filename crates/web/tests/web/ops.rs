use crate::helpers::*;
use apostle_core::Clock;
use apostle_domain::Role;
use reqwest::StatusCode;

#[tokio::test]
async fn liveness_answers_without_the_database_and_readiness_does_not() {
    let app = spawn_app().await;
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.text().await.unwrap(), "ready\n");
    app.core.store.close().await;
    let live = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.text().await.unwrap(), "database unavailable\n");
}

#[tokio::test]
async fn readiness_needs_a_job_runner_that_went_round_lately() {
    let pulse = apostle_core::jobs::Pulse::default();
    let app = spawn_app_with(Options {
        job_runner: Some(pulse.clone()),
        ..Options::default()
    })
    .await;
    let ready = |app: &TestApp| {
        let url = app.url("/readyz");
        async move {
            let res = reqwest::get(url).await.unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };
    assert_eq!(
        ready(&app).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "job runner not started\n".to_owned()
        )
    );
    pulse.beat(app.clock.now());
    app.clock.advance(chrono::Duration::seconds(20));
    assert_eq!(ready(&app).await, (StatusCode::OK, "ready\n".to_owned()));
    app.clock.advance(chrono::Duration::seconds(20));
    assert_eq!(
        ready(&app).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "job runner stalled\n".to_owned()
        )
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_a_given_one() {
    let app = spawn_app().await;
    let res = reqwest::get(app.url("/login")).await.unwrap();
    let id = res
        .headers()
        .get("x-request-id")
        .expect("request id")
        .to_str()
        .unwrap();
    assert_eq!(id.len(), 32);
    let res = reqwest::Client::new()
        .get(app.url("/login"))
        .header("x-request-id", "from-the-proxy-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "from-the-proxy-1");
}

#[tokio::test]
async fn metrics_show_jobs_and_emails_by_state() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let admin = app.signed_in("ada@acme.example").await;
    admin
        .invite("acme", "amy@acme.example", "Amy", "ambassador")
        .await;
    let res = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(text.contains("apostle_jobs{state=\"pending\"} 1"), "{text}");
    assert!(
        text.contains("apostle_emails{state=\"queued\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_pages_get_a_readable_not_found() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let client = app.signed_in("ada@acme.example").await;
    let (status, html) = client.text("/t/no-such-team").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Team not found"));
}

/// Collects what the app logs.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs, once for this test binary, a global subscriber that keeps
/// everything logged. Global, because a thread-local one misses events
/// whose callsites other tests' threads registered first.
fn captured_logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        captured
    })
}

#[tokio::test]
async fn logs_name_the_route_but_never_an_invitation_token() {
    let captured = captured_logs();
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let admin = app.signed_in("ada@acme.example").await;
    admin
        .invite("acme", "amy@acme.example", "Amy", "ambassador")
        .await;
    app.run_jobs().await;
    let mail = app.sent().pop().unwrap();
    let link = mail
        .text
        .lines()
        .find(|l| l.contains("/invites/"))
        .unwrap()
        .trim();
    let token = link.rsplit('/').next().unwrap();
    let res = reqwest::get(link).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("route=/invites/{token}"), "{logs}");
    assert!(!logs.contains(token), "the invitation token was logged");
    assert!(!logs.contains(PASSWORD), "a password was logged");
}

#[tokio::test]
async fn the_feed_baseline_lists_a_teams_newest_posts_only_when_mounted() {
    let app = spawn_app_with(Options {
        baseline_route: true,
        ..Options::default()
    })
    .await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let email = apostle_domain::EmailAddress::parse("ada@acme.example").unwrap();
    let mut tx = app.core.store.begin_read().await.unwrap();
    let admin = tx.user_by_email(&email).await.unwrap().unwrap();
    drop(tx);
    let access = app.core.team_access("acme", &admin).await.unwrap();
    for text in ["Older news", "Fish & chips on Friday"] {
        let input = apostle_core::posts::PostInput {
            text: text.to_owned(),
            providers: vec!["linkedin".to_owned()],
            ..Default::default()
        };
        app.core.create_post(&access, input).await.unwrap();
        app.clock.advance(chrono::Duration::seconds(1));
    }
    let path = format!("/baseline/teams/{}/posts", access.team.id.0);
    let answer = reqwest::get(app.url(&path)).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let html = answer.text().await.unwrap();
    assert!(
        !html.contains("Fish & chips"),
        "the text is escaped: {html}"
    );
    let (newest, older) = (
        html.find("chips on Friday").unwrap(),
        html.find("Older news").unwrap(),
    );
    assert!(newest < older, "newest first: {html}");

    let default = spawn_app().await;
    let answer = reqwest::get(default.url(&path)).await.unwrap();
    assert_eq!(
        answer.status(),
        StatusCode::NOT_FOUND,
        "not mounted by default"
    );
}
