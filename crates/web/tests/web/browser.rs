//! The pages in a real browser: headless Chromium driven over the WebDriver
//! protocol by chromedriver. Skipped, saying so, where either is missing.

use crate::helpers::*;
use apostle_domain::Role;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    process: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    profile: std::path::PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Driver {
    /// Starts chromedriver and a phone-sized headless Chromium, or `None`
    /// (after saying why) when they are not installed.
    async fn start() -> Option<Driver> {
        for path in [CHROMEDRIVER, CHROMIUM] {
            if !std::path::Path::new(path).exists() {
                let reason =
                    format!("{path} is not installed (apt-get install chromium chromium-driver)");
                // In CI every dependency is installed on purpose: a skip there hides a missing one.
                assert!(std::env::var_os("CI").is_none(), "required in CI: {reason}");
                eprintln!("skipped: {reason}");
                return None;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        // chromedriver has no readiness signal but its /status endpoint.
        let mut ready = false;
        for _ in 0..200 {
            if let Ok(res) = http.get(format!("{base}/status")).send().await {
                let body: Value = res.json().await.unwrap_or(Value::Null);
                if body["value"]["ready"] == true {
                    ready = true;
                    break;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(ready, "chromedriver did not become ready");
        let profile = std::env::temp_dir().join(format!("apostle-chromium-{port}"));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update",
                         "--no-first-run", "--disable-sync", "--window-size=390,844",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_owned();
        Some(Driver {
            process,
            base,
            session,
            http,
            profile,
        })
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let req = self.http.request(method.clone(), url);
        let req = if method == reqwest::Method::GET {
            req
        } else {
            req.json(&body)
        };
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        if res["value"]["error"].is_string() {
            panic!("webdriver {path}: {}", res["value"]);
        }
        res["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    async fn text_of(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{id}/text"),
            Value::Null,
        )
        .await
        .as_str()
        .unwrap()
        .to_owned()
    }

    async fn current_url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", Value::Null)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The URL once it satisfies `done`: a click that submits a form may
    /// return before the browser has followed the redirect.
    async fn url_when(&self, done: impl Fn(&str) -> bool) -> String {
        let mut url = self.current_url().await;
        for _ in 0..200 {
            if done(&url) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            url = self.current_url().await;
        }
        url
    }

    async fn script(&self, js: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": js, "args": []}),
        )
        .await
    }
}

#[tokio::test]
async fn in_a_browser_an_admin_signs_in_and_reaches_business_pages_from_the_top_right_menu() {
    let Some(browser) = Driver::start().await else {
        return;
    };
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;

    browser.go(&app.url("/t/acme/settings/pages")).await;
    assert!(browser.current_url().await.contains("/login?next="));
    browser.type_into("#email", "ada@acme.example").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("button[type=submit]").await;
    let pages = app.url("/t/acme/settings/pages");
    assert_eq!(browser.url_when(|u| u == pages).await, pages);

    browser.go(&app.url("/t/acme")).await;
    assert_eq!(browser.text_of("h1").await, "ACME");
    browser.click("#user-menu > summary").await;
    browser.click("#user-menu a[href$='/settings']").await;
    assert_eq!(browser.current_url().await, app.url("/t/acme/settings"));
    browser.click(".tabs a[href$='/settings/pages']").await;
    assert_eq!(
        browser.text_of("#business-pages h2").await,
        "Business Pages"
    );

    // A phone-wide window shows the page without sideways scrolling.
    let overflow = browser
        .script("return document.documentElement.scrollWidth - window.innerWidth;")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "page is wider than the phone: {overflow}"
    );

    browser.click("#user-menu > summary").await;
    browser.click("#user-menu button[type=submit]").await;
    assert!(browser
        .url_when(|u| u.ends_with("/login"))
        .await
        .ends_with("/login"));
}

#[tokio::test]
async fn in_a_browser_an_invited_ambassador_joins_and_lands_on_the_team_page() {
    let Some(browser) = Driver::start().await else {
        return;
    };
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
        .trim()
        .to_owned();

    browser.go(&link).await;
    browser.type_into("#password", "amy's own password").await;
    browser.type_into("#confirm", "amy's own password").await;
    browser.click("button[type=submit]").await;
    let team = app.url("/t/acme");
    assert_eq!(browser.url_when(|u| u == team).await, team);
    assert_eq!(browser.text_of(".notice").await, "Welcome to ACME!");
    assert_eq!(
        browser
            .text_of("#user-menu > summary")
            .await
            .trim_end_matches(" ▾"),
        "Amy"
    );
}
