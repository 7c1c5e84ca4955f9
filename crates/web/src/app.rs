//! The Apostle app at `/app`: an installable, phone-first web app in plain
//! JavaScript (its files are in `crates/web/app/`, compiled in) that talks to
//! nothing but `/api/v1` with a bearer token. Its service worker keeps the
//! shell so the app opens with no network.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const SHELL: &str = include_str!("../app/index.html");
const SCRIPT: &str = include_str!("../app/app.js");
const STYLE: &str = include_str!("../app/app.css");
const MANIFEST: &str = include_str!("../app/manifest.webmanifest");
const WORKER: &str = include_str!("../app/sw.js");

/// Where the app lives; a connect or reconnect that returns under it gets its
/// result in the address, as an app's deep link does.
pub const PATH: &str = "/app";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(PATH, get(shell))
        .route("/app/app.js", get(script))
        .route("/app/app.css", get(style))
        .route("/app/manifest.webmanifest", get(manifest))
        .route("/app/sw.js", get(worker))
}

/// Whether `location` (a path on this site) is the app's.
pub fn is_app_path(location: &str) -> bool {
    location
        .strip_prefix(PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['?', '#', '/']))
}

/// Revalidated on every load: the service worker, not the HTTP cache, is
/// what keeps the app for offline use, and an update must reach it.
fn file(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body.into(),
    )
        .into_response()
}

async fn shell() -> Response {
    file("text/html; charset=utf-8", SHELL)
}

async fn script() -> Response {
    file("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    file("text/css; charset=utf-8", STYLE)
}

async fn manifest() -> Response {
    file("application/manifest+json", MANIFEST)
}

/// The worker names its cache after a digest of the shell, so a changed
/// shell is a changed worker, which the browser installs with a fresh cache.
async fn worker() -> Response {
    static VERSIONED: LazyLock<String> = LazyLock::new(|| {
        let mut digest = Sha256::new();
        for part in [SHELL, SCRIPT, STYLE, MANIFEST, WORKER] {
            digest.update(part.as_bytes());
        }
        let version = hex::encode(&digest.finalize()[..8]);
        WORKER.replace("__SHELL_VERSION__", &version)
    });
    let mut response = file("text/javascript; charset=utf-8", VERSIONED.as_str());
    // Served under /app/ but controlling /app itself.
    response.headers_mut().insert(
        "service-worker-allowed",
        header::HeaderValue::from_static(PATH),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_app_and_what_is_under_it_are_app_paths() {
        for path in [
            "/app",
            "/app?view=settings&status=reconnected",
            "/app#feed",
            "/app/x",
        ] {
            assert!(is_app_path(path), "{path}");
        }
        for path in ["/apple", "/t/acme/app", "/", "/application?x"] {
            assert!(!is_app_path(path), "{path}");
        }
    }
}
