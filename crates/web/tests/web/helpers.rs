//! `spawn_app` and a small browser-like client (cookies, forms, CSRF).

use apostle_core::clock::ManualClock;
use apostle_core::email::{Mailer, SentEmail};
use apostle_core::jobs::{Runner, RunnerConfig};
use apostle_core::{Core, CoreSettings};
use apostle_domain::Role;
use apostle_store_sqlite::SqliteStore;
use apostle_web::WebConfig;
use chrono::TimeZone;
use rand::Rng;
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub addr: SocketAddr,
    pub core: Core,
    pub clock: ManualClock,
    pub mailer: Mailer,
    db_dir: PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.db_dir);
    }
}

pub struct Options {
    pub secure_cookies: bool,
    pub login_attempts: u32,
    /// The pulse `/readyz` watches; no job runner when `None`.
    pub job_runner: Option<apostle_core::jobs::Pulse>,
    /// Mount the feed benchmark's baseline route.
    pub baseline_route: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            login_attempts: 5,
            job_runner: None,
            baseline_route: false,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let db_dir =
        std::env::temp_dir().join(format!("apostle-web-{}", rand::thread_rng().gen::<u64>()));
    std::fs::create_dir_all(&db_dir).unwrap();
    let url = format!("sqlite://{}", db_dir.join("test.db").display());
    let store = SqliteStore::connect(&url).await.expect("open sqlite");
    store.migrate().await.expect("migrate");
    let clock = ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap());
    let mailer = Mailer::memory();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let core = Core {
        connections: Arc::new(apostle_core::connections::Connections::none(Arc::new(
            clock.clone(),
        ))),
        store: Arc::new(store),
        clock: Arc::new(clock.clone()),
        mailer: mailer.clone(),
        keyring: Arc::new(
            apostle_encryption::Keyring::parse(&apostle_encryption::Keyring::generate_entry(
                "test",
            ))
            .unwrap(),
        ),
        settings: Arc::new(CoreSettings {
            public_url: format!("http://{addr}").parse().unwrap(),
            mail_from: "Apostle <apostle@localhost>".parse().unwrap(),
            invite_ttl: chrono::Duration::days(7),
            session_ttl: chrono::Duration::days(30),
        }),
    };
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .build_recorder()
        .handle();
    let config = WebConfig {
        secure_cookies: options.secure_cookies,
        metrics,
        login_attempts: options.login_attempts,
        login_window: std::time::Duration::from_secs(900),
        job_runner: options.job_runner.clone(),
        form_action_origins: Vec::new(),
        connections_enabled: true,
        shared_login_limits: false,
        baseline_route: options.baseline_route,
    };
    let app = apostle_web::router(core.clone(), config, axum::Router::new());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    TestApp {
        addr,
        core,
        clock,
        mailer,
        db_dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A team with one member of each given role; returns the slug.
    pub async fn team(&self, slug: &str, people: &[(&str, Role)]) -> String {
        self.core
            .create_team(slug, &slug.to_uppercase())
            .await
            .unwrap();
        for (email, role) in people {
            let name = email.split('@').next().unwrap();
            self.core
                .add_user(slug, email, name, *role, PASSWORD.into())
                .await
                .unwrap();
        }
        slug.to_owned()
    }

    pub async fn run_jobs(&self) -> usize {
        Runner::with_all_jobs(self.core.clone(), RunnerConfig::default())
            .run_pending()
            .await
            .unwrap()
    }

    pub fn sent(&self) -> Vec<SentEmail> {
        self.mailer.sent()
    }

    pub fn client(&self) -> Client {
        Client {
            base: format!("http://{}", self.addr),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// A client signed in as `email`.
    pub async fn signed_in(&self, email: &str) -> Client {
        let client = self.client();
        let res = client.sign_in(email, PASSWORD).await;
        assert_eq!(
            res.status(),
            StatusCode::SEE_OTHER,
            "sign-in of {email} failed"
        );
        client
    }
}

pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

/// The value of the first hidden `csrf` field of a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a csrf field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

impl Client {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn text(&self, path: &str) -> (StatusCode, String) {
        let res = self.get(path).await;
        (res.status(), res.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// Loads `page`, then posts `fields` plus that page's CSRF token to `action`.
    pub async fn submit(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let (_, html) = self.text(page).await;
        let csrf = csrf_of(&html);
        let mut all = fields.to_vec();
        all.push(("csrf", &csrf));
        self.post(action, &all).await
    }

    /// Invites someone to `team` from its members page.
    pub async fn invite(
        &self,
        team: &str,
        email: &str,
        name: &str,
        role: &str,
    ) -> reqwest::Response {
        self.submit(
            &format!("/t/{team}/members"),
            &format!("/t/{team}/members/invite"),
            &[("email", email), ("name", name), ("role", role)],
        )
        .await
    }

    /// Asks for a password reset link from the forgot-password page.
    pub async fn ask_password_reset(&self, email: &str) -> reqwest::Response {
        self.submit("/password/forgot", "/password/forgot", &[("email", email)])
            .await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Signs the mobile app in as `email` and returns its bearer token.
pub async fn api_token(app: &TestApp, email: &str) -> String {
    let res = app
        .client()
        .http
        .post(app.url("/api/v1/auth/token"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD, "device_name": "Pixel 9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["user"]["email"], email);
    body["token"].as_str().unwrap().to_owned()
}
