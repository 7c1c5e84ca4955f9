//! Logs and metrics. Logs go to stderr, readable by default and JSON with
//! `log_format = "json"`; `RUST_LOG` picks what is logged. Metrics are kept
//! by one Prometheus recorder per process, rendered by `GET /metrics`.

use crate::settings::LogFormat;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// How often histograms are compacted; the exporter leaves that to us when
/// it does not run its own HTTP listener.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// What is logged when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Installs the global log subscriber. A second call (tests) keeps the first.
pub fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
    // Already installed (several apps in one test process): keep that one.
    drop(installed);
}

/// The process's metrics recorder, installed on first use. Several
/// applications in one process (tests) share it, since `metrics` has one
/// global recorder.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .install_recorder()
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "another metrics recorder is installed; /metrics will stay empty");
                    PrometheusBuilder::new().build_recorder().handle()
                });
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".to_owned())
                .spawn(move || loop {
                    std::thread::sleep(METRICS_UPKEEP);
                    upkeep.run_upkeep();
                })
                .map_err(|e| tracing::warn!(error = %e, "metrics upkeep thread did not start"))
                .ok();
            handle
        })
        .clone()
}
