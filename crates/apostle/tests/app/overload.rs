//! A flood of sign-ins against the real binary: password checks wait for
//! their turn or are turned away, and memory stays put.

use crate::helpers::{Running, TestDb};
use apostle_core::demo::DEMO_ADMIN;
use reqwest::StatusCode;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";
const STORM: usize = 200;

/// The process's peak resident memory so far, in MiB (`VmHWM`).
fn peak_resident_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in proc status");
    kib / 1024
}

/// One wrong sign-in, through the API or the sign-in page.
async fn wrong_sign_in(http: &reqwest::Client, base: &str, n: usize, csrf: &str) -> StatusCode {
    let email = format!("nobody-{n}@storm.example");
    let sent = if n.is_multiple_of(2) {
        http.post(format!("{base}/api/v1/auth/token"))
            .json(&json!({"email": email, "password": "wrong password"}))
            .send()
            .await
    } else {
        http.post(format!("{base}/login"))
            .header("cookie", format!("apostle_csrf={csrf}"))
            .form(&[
                ("email", email.as_str()),
                ("password", "wrong password"),
                ("csrf", csrf),
            ])
            .send()
            .await
    };
    let res = sent.expect("the server answers");
    if res.status() == StatusCode::SERVICE_UNAVAILABLE {
        assert!(res.headers().contains_key("retry-after"), "503 says when");
    }
    res.status()
}

#[tokio::test]
async fn a_flood_of_wrong_sign_ins_keeps_memory_bounded_and_the_right_password_still_works() {
    let db = TestDb::new().await;
    let mut serve = db.apostle(&["serve", "--demo"]);
    serve
        .env("APOSTLE_DEMO_PASSWORD", PASSWORD)
        // The limiter would otherwise stop the flood before it costs anything.
        .env("APOSTLE_LOGIN_ATTEMPTS", "1000");
    let server = Running::start(serve);
    let line = server.line_starting_with("Apostle demo is running at ");
    let base = line.rsplit(' ').next().expect("a URL").to_owned();
    server.line_starting_with("password:");
    let http = reqwest::Client::new();
    let csrf = "a-sign-in-form-token-of-the-right-length";

    let storm: Vec<_> = (0..STORM)
        .map(|n| {
            let (http, base) = (http.clone(), base.clone());
            tokio::spawn(async move { wrong_sign_in(&http, &base, n, csrf).await })
        })
        .collect();
    let mut refused = 0;
    let mut busy = 0;
    for answer in storm {
        match answer.await.expect("request task") {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::SERVICE_UNAVAILABLE => busy += 1,
            other => panic!("a wrong sign-in got {other}"),
        }
    }
    assert!(refused > 0, "some were checked ({busy} busy)");

    let peak = peak_resident_mib(server.pid());
    assert!(peak < 300, "peak resident memory {peak} MiB");

    let res = http
        .post(format!("{base}/api/v1/auth/token"))
        .json(&json!({"email": DEMO_ADMIN.0, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
}
