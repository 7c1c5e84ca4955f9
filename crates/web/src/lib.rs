//! The HTTP face of Apostle: server-rendered pages, the JSON API for the
//! mobile app, health and metrics. Handlers are thin: they extract, call a
//! service in `apostle-core` and map the result.

mod api;
mod app;
mod baseline;
mod cookies;
mod error;
mod ops;
mod pages;
mod security;
mod session;

use apostle_core::limiter::LoginLimiter;
use apostle_core::Core;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

pub use security::with_security_headers;

/// What the web layer needs besides the services.
#[derive(Clone)]
pub struct WebConfig {
    /// Set `Secure` on cookies (the public URL is https).
    pub secure_cookies: bool,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Failed sign-ins allowed per email and per client address in
    /// `login_window` before further attempts are refused.
    pub login_attempts: u32,
    pub login_window: std::time::Duration,
    /// The pulse of this process's job runner, checked by `/readyz`; `None`
    /// when the process runs no jobs.
    pub job_runner: Option<apostle_core::jobs::Pulse>,
    /// Other sites a form may lead to (the providers' consent pages), as
    /// origins like `https://www.linkedin.com`.
    pub form_action_origins: Vec<String>,
    /// Whether there is anything to connect accounts to (a provider, or
    /// the sandbox); without it the pages say that connecting is not set up.
    pub connections_enabled: bool,
    /// Count failed sign-ins in the database, so that every process on it
    /// shares one limit (PostgreSQL), rather than in this process's memory.
    pub shared_login_limits: bool,
    /// Serve the feed benchmark's baseline (`/baseline/teams/{id}/posts`),
    /// which shows any team's newest posts without a session.
    pub baseline_route: bool,
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub core: Core,
    pub config: WebConfig,
    pub limiter: Arc<LoginLimiter>,
}

/// Largest request body accepted (forms and JSON alike), but for the
/// routes that take an image (the API's upload, the composer), which set
/// their own.
const BODY_LIMIT: usize = 64 * 1024;

/// Every route of the app, and `beside` (the provider sandbox, or an
/// empty router) under the same security headers. The caller serves it
/// with `into_make_service_with_connect_info::<SocketAddr>()` so sign-in
/// limits can see the client address.
pub fn router(core: Core, config: WebConfig, beside: Router) -> Router {
    let (attempts, window, clock) = (
        config.login_attempts,
        config.login_window,
        Arc::clone(&core.clock),
    );
    let limiter = Arc::new(if config.shared_login_limits {
        LoginLimiter::in_store(attempts, window, clock, Arc::clone(&core.store))
    } else {
        LoginLimiter::in_memory(attempts, window, clock)
    });
    let form_action_origins = config.form_action_origins.clone();
    let baseline = if config.baseline_route {
        baseline::routes()
    } else {
        Router::new()
    };
    let state = AppState {
        core,
        config,
        limiter,
    };
    let app = Router::new()
        .merge(pages::routes())
        .merge(app::routes())
        .nest("/api/v1", api::routes())
        .merge(ops::routes())
        .merge(baseline)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
        .nest("/api/v1", api::upload_routes())
        .merge(pages::upload_routes())
        .with_state(state)
        .layer(axum::middleware::from_fn(api::envelope))
        .layer(axum::middleware::from_fn(ops::track_requests))
        .layer(ops::trace_layer())
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            ops::RandomRequestId,
        ));
    with_security_headers(app.merge(beside), &form_action_origins)
}
