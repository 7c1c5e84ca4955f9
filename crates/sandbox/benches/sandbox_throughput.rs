//! How much the sandbox serves on loopback: 64 concurrent clients, each doing a bounded
//! number of calls (and never past a few seconds), for X refreshes (single-use rotating
//! refresh tokens), LinkedIn refreshes and LinkedIn posts. Prints operations per second.
//! Run with `cargo bench -p apostle-sandbox --bench sandbox_throughput`.

#[path = "../tests/sandbox/support.rs"]
mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apostle_sandbox::SandboxConfig;
use serde_json::Value;
use tokio::task::JoinSet;

use support::Running;

const CLIENTS: usize = 64;
const CALLS_PER_CLIENT: usize = 200;
const TIME_LIMIT: Duration = Duration::from_secs(5);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

/// Runs `setup` for every client in parallel (not timed), then `work` for every client in
/// parallel, and reports the calls `work` made per second.
async fn measure<S, SetupFut, WorkFut>(
    label: &str,
    sandbox: &Arc<Running>,
    setup: impl Fn(Arc<Running>, usize) -> SetupFut,
    work: impl Fn(Arc<Running>, S, Instant) -> WorkFut,
) where
    S: Send + 'static,
    SetupFut: Future<Output = S> + Send + 'static,
    WorkFut: Future<Output = usize> + Send + 'static,
{
    let mut setups = JoinSet::new();
    for index in 0..CLIENTS {
        setups.spawn(setup(Arc::clone(sandbox), index));
    }
    let states = setups.join_all().await;

    let started = Instant::now();
    let deadline = started + TIME_LIMIT;
    let mut tasks = JoinSet::new();
    for state in states {
        tasks.spawn(work(Arc::clone(sandbox), state, deadline));
    }
    let calls: usize = tasks.join_all().await.into_iter().sum();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{label:<24} {calls:>6} calls in {elapsed:>5.2} s = {:>8.0} /s ({CLIENTS} clients)",
        calls as f64 / elapsed
    );
}

fn field(value: &Value, name: &str) -> String {
    value[name].as_str().expect(name).to_owned()
}

async fn run() {
    let sandbox = Arc::new(support::spawn(SandboxConfig::default()).await);

    measure(
        "x refresh (rotating)",
        &sandbox,
        |sandbox, index| async move {
            field(
                &sandbox.x_connect(&format!("x{index}")).await,
                "refresh_token",
            )
        },
        |sandbox, mut refresh, deadline| async move {
            let mut calls = 0;
            while calls < CALLS_PER_CLIENT && Instant::now() < deadline {
                let response = sandbox.x_refresh(&refresh).await;
                assert_eq!(response.status(), 200, "x refresh");
                refresh = field(&response.json().await.expect("json"), "refresh_token");
                calls += 1;
            }
            calls
        },
    )
    .await;

    measure(
        "linkedin refresh",
        &sandbox,
        |sandbox, index| async move {
            field(
                &sandbox.linkedin_connect(&format!("r{index}")).await,
                "refresh_token",
            )
        },
        |sandbox, refresh, deadline| async move {
            let mut calls = 0;
            while calls < CALLS_PER_CLIENT && Instant::now() < deadline {
                let response = sandbox.linkedin_refresh(&refresh).await;
                assert_eq!(response.status(), 200, "linkedin refresh");
                calls += 1;
            }
            calls
        },
    )
    .await;

    measure(
        "linkedin posts",
        &sandbox,
        |sandbox, index| async move {
            let access = field(
                &sandbox.linkedin_connect(&format!("p{index}")).await,
                "access_token",
            );
            let author = sandbox.linkedin_author(&access).await;
            (index, access, author)
        },
        |sandbox, (index, access, author), deadline| async move {
            let mut calls = 0;
            while calls < CALLS_PER_CLIENT && Instant::now() < deadline {
                let text = format!("post {index}/{calls}");
                let response = sandbox.linkedin_post(&access, &author, &text).await;
                assert_eq!(response.status(), 201, "linkedin post");
                calls += 1;
            }
            calls
        },
    )
    .await;
}
