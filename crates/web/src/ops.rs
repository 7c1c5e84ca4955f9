//! Operations: `/healthz` (alive), `/readyz` (able to work), `/metrics`, a
//! request id on every request and a log line and counters for each
//! response.

use crate::AppState;
use apostle_core::store::{EmailState, JobState};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rand::RngCore;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::request_id::{MakeRequestId, RequestId};
use tower_http::trace::TraceLayer;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Alive: the process answers. Touches nothing else, so a load balancer's
/// liveness probe costs nothing and a database outage does not get the
/// process restarted for no gain. Below `ok`, one line per provider that says
/// our own configuration is wrong (client secret, API version): an alarm for
/// operators, which restarting would not fix.
async fn healthz(State(state): State<AppState>) -> String {
    let mut body = String::from("ok\n");
    for (provider, problem) in state.core.connections.alarms() {
        body.push_str(&format!("alarm {provider}: {problem}\n"));
    }
    body
}

/// How long the job runner's claim loop may stay silent before this
/// process stops calling itself ready (it goes round at least every poll
/// interval, a second or less, even with an idle queue).
const RUNNER_SILENCE: chrono::Duration = chrono::Duration::seconds(30);

/// Ready: the database answers a real query on a clean connection, and the
/// job runner of this process, if it has one, claimed (or found nothing to
/// claim) recently.
async fn readyz(State(state): State<AppState>) -> Response {
    let unready = |what: &str| {
        tracing::warn!(reason = what, "not ready");
        (StatusCode::SERVICE_UNAVAILABLE, format!("{what}\n")).into_response()
    };
    if let Err(e) = state.core.store.check_ready().await {
        tracing::warn!(error = %e, "readiness: database check failed");
        return unready("database unavailable");
    }
    if let Some(pulse) = &state.config.job_runner {
        match pulse.last() {
            None => return unready("job runner not started"),
            Some(at) if state.core.clock.now() - at > RUNNER_SILENCE => {
                return unready("job runner stalled")
            }
            Some(_) => {}
        }
    }
    (StatusCode::OK, "ready\n").into_response()
}

/// Prometheus text: the recorder's request counters, then the queue
/// gauges, read from the database at scrape time so every process reports
/// the same shared truth.
async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state.config.metrics.render();
    let counts = async {
        let mut tx = state.core.store.begin_read().await?;
        Ok::<_, apostle_core::StoreError>((
            tx.count_jobs_by_state().await?,
            tx.count_emails_by_state().await?,
        ))
    }
    .await;
    match counts {
        Ok((jobs, emails)) => {
            let jobs = JobState::ALL.map(|s| (s.as_str(), count_of(&jobs, s)));
            let emails = EmailState::ALL.map(|s| (s.as_str(), count_of(&emails, s)));
            gauge_lines(
                &mut text,
                "apostle_jobs",
                "Background jobs by state.",
                &jobs,
            );
            gauge_lines(
                &mut text,
                "apostle_emails",
                "Outbox emails by state.",
                &emails,
            );
        }
        Err(e) => tracing::warn!(error = %e, "metrics: could not count jobs and emails"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

fn count_of<K: PartialEq>(counts: &[(K, i64)], key: K) -> i64 {
    counts
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(0, |(_, n)| *n)
}

fn gauge_lines(out: &mut String, name: &str, help: &str, values: &[(&str, i64)]) {
    use std::fmt::Write;
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (state, n) in values {
        let _ = writeln!(out, "{name}{{state=\"{state}\"}} {n}");
    }
}

/// Counts and times every response by route template (never the raw path,
/// which would carry tokens and ids).
pub async fn track_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("apostle_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("apostle_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// One span per request carrying its id and its route template, never the
/// raw path or query: those carry invitation tokens and OAuth codes.
pub fn trace_layer(
) -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, impl Fn(&Request) -> tracing::Span + Clone>
{
    TraceLayer::new_for_http().make_span_with(|req: &Request| {
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str);
        tracing::info_span!("request", id = %id, method = %req.method(), route = %route)
    })
}

/// 128 random bits, hex.
#[derive(Clone, Copy)]
pub struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        HeaderValue::from_str(&hex::encode(bytes))
            .ok()
            .map(RequestId::new)
    }
}
