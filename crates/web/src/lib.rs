//! The HTTP face of Apostle: server-rendered pages, the JSON API for the
//! mobile app, health and metrics. Handlers are thin: they extract, call a
//! service in `apostle-core` and map the result.

use apostle_core::Core;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

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
}

/// Every route of the app. The caller adds the sandbox and serves it.
pub fn router(core: Core, config: WebConfig) -> Router {
    let _ = (core, config);
    Router::new()
}
