//! `docs/mobile-api.md` cannot drift from the API: every `sh` block of it, in
//! order, runs as one bash script against `apostle serve --demo`, and what it
//! printed and what the sandbox received are checked.

use crate::helpers::{json_of, skip, Running, TestDb};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DOC: &str = include_str!("../../../../docs/mobile-api.md");
const PASSWORD: &str = "docs-demo-password";

/// The `sh` blocks of `doc`, in order, as one script.
fn shell_examples(doc: &str) -> String {
    let mut script = String::new();
    let mut inside = false;
    for line in doc.lines() {
        if inside {
            if line.trim_start().starts_with("```") {
                inside = false;
            } else {
                script.push_str(line);
                script.push('\n');
            }
        } else if line.trim() == "```sh" {
            inside = true;
        }
    }
    script
}

fn installed(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        skip(&format!("{tool} is not installed (apt-get install {tool})"));
    }
    found
}

/// Waits until the demo has connected its accounts through the sandbox and
/// delivered its post to Amy: what the document's first lines ask the reader
/// to give it a few seconds for.
async fn demo_ready(url: &str) {
    let http = reqwest::Client::new();
    let token = |email: &'static str| {
        let http = http.clone();
        async move {
            let issued = json_of(
                http.post(format!("{url}/api/v1/auth/token"))
                    .json(&json!({"email": email, "password": PASSWORD})),
            )
            .await;
            issued["token"]
                .as_str()
                .expect("the demo signs in")
                .to_owned()
        }
    };
    let (admin, amy) = (
        token("admin@acme.example").await,
        token("amy@acme.example").await,
    );
    let count = |token: String, path: &'static str, key: &'static str| {
        let http = http.clone();
        async move {
            let body = json_of(http.get(format!("{url}/api/v1{path}")).bearer_auth(token)).await;
            body[key].as_array().map_or(0, Vec::len)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pages = count(admin.clone(), "/connections?kind=business", "connections").await;
        let personal = count(amy.clone(), "/connections", "connections").await;
        let feed = count(amy.clone(), "/teams/acme/posts", "posts").await;
        if pages == 4 && personal == 2 && feed == 1 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the demo is not ready: {pages} pages, {personal} personal accounts, {feed} posts"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_curl_examples_of_the_mobile_api_document_run_against_the_demo() {
    if !installed("curl") || !installed("jq") {
        return;
    }
    let script = shell_examples(DOC);
    assert!(script.contains("/reconnect"), "the examples are found");
    let db = TestDb::new().await;
    let mut command = db.apostle(&["serve", "--demo"]);
    command.env("APOSTLE_DEMO_PASSWORD", PASSWORD);
    let mut demo = Running::start(command);
    let running = demo.line_starting_with("Apostle demo is running at ");
    let url = running
        .rsplit(' ')
        .next()
        .expect("the demo's address")
        .to_owned();
    demo_ready(&url).await;

    let ran = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .env("APOSTLE", &url)
        .env("PASSWORD", PASSWORD)
        .current_dir(&db.dir)
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    let out = String::from_utf8_lossy(&ran.stdout);
    let err = String::from_utf8_lossy(&ran.stderr);
    assert!(ran.status.success(), "the examples failed:\n{out}\n{err}");
    for printed in [
        "[{\"slug\":\"acme\",\"name\":\"Acme\",\"role\":\"admin\"}]",
        "204\n401\n",
        "\"status\":\"broken\",\"reason\":\"password_changed\"",
        "400\n",
        "apostle://connections?status=reconnected&connection_id=",
        "broken\n409\n{\"code\":\"reconnect_required\"",
        "apostle://posts?post_id=",
        "{\"targets\":[]}\nx: queued\n",
        "x: published https://x.com/i/web/status/",
    ] {
        assert!(out.contains(printed), "{printed:?} is not in:\n{out}");
    }

    let posts =
        json_of(reqwest::Client::new().get(format!("{url}/sandbox/admin/posts?provider=x"))).await;
    let amys: Vec<_> = posts
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["member"] == "amy-x")
        .collect();
    assert_eq!(amys.len(), 1, "exactly one post on Amy's X: {posts}");
    assert!(demo.terminate().success());
}
