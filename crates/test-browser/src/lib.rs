//! Headless Chromium for the browser tests, driven through chromedriver by fantoccini.
//!
//! [`run`] gives each test its own chromedriver and browser session and closes the
//! session however the test ends, a panic included: chromedriver quits Chromium only
//! when the session is deleted, so killing chromedriver alone leaves Chromium running.
//! chromedriver runs in a process group of its own, killed afterwards as a backstop.
//! Where Chromium or chromedriver is missing the test prints `skipped: …` and passes,
//! except under `CI`, where every dependency is installed on purpose and it fails.
//! [`Browser::assert_accessible`] runs axe-core, which `.ci/run` installs with npm
//! into `axe/` beside this crate (pinned by its lockfile); without it the check is
//! skipped the same way.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// axe-core's browser build, where `npm ci --prefix crates/test-browser/axe` puts it.
const AXE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/axe/node_modules/axe-core/axe.min.js"
);
/// How long a step may wait for the page to get where the test expects.
const PATIENCE: Duration = Duration::from_secs(10);

/// A window size: `PHONE` for the mobile-first pages, `DESKTOP` for the rest.
#[derive(Debug, Clone, Copy)]
pub struct Window(pub u32, pub u32);

pub const PHONE: Window = Window(390, 844);
pub const DESKTOP: Window = Window(1280, 900);

/// Runs `test` with a fresh browser of `window`'s size, then closes the browser.
pub async fn run<F, Fut>(window: Window, test: F)
where
    F: FnOnce(Browser) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(driver) = Driver::start() else {
        return;
    };
    let client = driver.session(window).await;
    let outcome = tokio::spawn(test(Browser {
        client: client.clone(),
    }))
    .await;
    if let Err(e) = client.close().await {
        eprintln!("closing the browser session: {e}");
    }
    drop(driver);
    match outcome {
        Ok(()) => {}
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("the browser test was cancelled: {e}"),
    }
}

/// chromedriver on a port of its own, with a profile directory of its own.
struct Driver {
    process: Child,
    port: u16,
    profile: PathBuf,
}

impl Driver {
    fn start() -> Option<Driver> {
        for path in [CHROMEDRIVER, CHROMIUM] {
            if !std::path::Path::new(path).exists() {
                let reason =
                    format!("{path} is not installed (apt-get install chromium chromium-driver)");
                assert!(std::env::var_os("CI").is_none(), "required in CI: {reason}");
                println!("skipped: {reason}");
                return None;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let profile = std::env::temp_dir().join(format!("apostle-chromium-{port}"));
        Some(Driver {
            process,
            port,
            profile,
        })
    }

    /// A session, once chromedriver listens (it has no other readiness signal).
    async fn session(&self, Window(width, height): Window) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update",
                         "--no-first-run", "--disable-sync",
                         format!("--window-size={width},{height}"),
                         format!("--user-data-dir={}", self.profile.display())]
            }),
        );
        let url = format!("http://127.0.0.1:{}", self.port);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => return client,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("no browser session from chromedriver: {e}"),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and anything it started that is still there.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.process.id())])
            .status();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// One browser tab, with the steps the tests read as.
#[derive(Clone)]
pub struct Browser {
    pub client: Client,
}

impl Browser {
    pub async fn go(&self, url: &str) {
        self.client.goto(url).await.expect("open the page");
    }

    /// The element, once it is on the page.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.find(css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    pub async fn text_of(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// Whether the element is shown (present, and not hidden by the page).
    pub async fn is_shown(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("the current URL")
            .to_string()
    }

    /// The URL once it satisfies `done`: a click that submits a form may return
    /// before the browser has followed the redirects.
    pub async fn url_when(&self, done: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let url = self.url().await;
            if done(&url) || tokio::time::Instant::now() >= deadline {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn script(&self, js: &str) -> Value {
        self.client
            .execute(js, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script: {e}"))
    }

    /// Runs axe-core on the page and fails on any violation of serious or critical
    /// impact, naming the rule and the elements. The page's CSP does not apply to a
    /// script the driver runs, so axe is injected without serving it.
    pub async fn assert_accessible(&self, name: &str) {
        let axe = match std::fs::read_to_string(AXE) {
            Ok(axe) => axe,
            Err(e) => {
                let reason = format!("{AXE}: {e} (npm ci --prefix crates/test-browser/axe)");
                assert!(std::env::var_os("CI").is_none(), "required in CI: {reason}");
                println!("skipped: {reason}");
                return;
            }
        };
        let run = format!(
            "const done = arguments[arguments.length - 1];\n{axe}\n{}",
            include_str!("axe_run.js")
        );
        let found = self
            .client
            .execute_async(&run, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("axe-core on {name}: {e}"));
        let violations = found
            .as_array()
            .unwrap_or_else(|| panic!("axe-core on {name} answered {found}"));
        assert!(
            violations.is_empty(),
            "{name}: serious or critical accessibility violations:\n{}",
            violations
                .iter()
                .map(|v| v.as_str().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// Saves what the browser shows as `target/e2e/{name}.png`, for a reviewer.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = e2e_dir();
        std::fs::create_dir_all(&dir).expect("target/e2e");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("save the screenshot");
    }
}

/// `e2e/` in the build's target directory.
fn e2e_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("e2e")
}
