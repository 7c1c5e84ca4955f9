//! Connections end to end: the real app with the sandbox mounted, over real HTTP.
//! Flows run as the mobile app runs them (API token, authorize URL, the sandbox's
//! consent answered with one POST, our callback, the deep link), so the same helpers
//! serve the connect, reconnect and health tests.

pub(crate) mod browser;
mod flows;
mod health;
mod onboarding;
mod refresh;
mod secrets;
mod team_health;
pub(crate) mod web;

use crate::helpers::{admin_of_new_team, spawn_app_at, system_clock, TestApp, TestDb};
use apostle_core::store::{Email, Store};
use apostle_core::Clock;
use apostle_domain::{EmailAddress, Role};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use url::Url;

pub const ADMIN: &str = "ada@acme.example";
pub const AMY: &str = "amy@acme.example";
pub const BOB: &str = "bob@acme.example";
pub(crate) const PASSWORD: &str = "correct horse battery";
/// Where the app's flows come back to.
pub const APP_LINK: &str = "apostle://connections";

/// An app with team "acme": Ada (admin), Amy and Bob (ambassadors), each with an
/// API token.
pub struct Acme {
    pub app: TestApp,
    pub tokens: HashMap<&'static str, String>,
}

pub async fn acme() -> Acme {
    acme_with(&[]).await
}

pub async fn acme_with(extra: &[(&str, &str)]) -> Acme {
    acme_on(Arc::new(TestDb::new().await), extra).await
}

pub async fn acme_on(db: Arc<TestDb>, extra: &[(&str, &str)]) -> Acme {
    acme_at(db, extra, system_clock()).await
}

/// Like [`acme_on`] with the app on `clock`.
pub async fn acme_at(db: Arc<TestDb>, extra: &[(&str, &str)], clock: Arc<dyn Clock>) -> Acme {
    let app = spawn_app_at(db, extra, clock).await;
    admin_of_new_team(&app.core).await;
    for (email, name) in [(AMY, "Amy Ambassador"), (BOB, "Bob Ambassador")] {
        app.core
            .add_user(
                "acme",
                email,
                name,
                Role::Ambassador,
                PASSWORD.to_owned().into(),
            )
            .await
            .expect("ambassador");
    }
    let mut tokens = HashMap::new();
    for email in [ADMIN, AMY, BOB] {
        tokens.insert(email, token_for(&app, email).await);
    }
    Acme { app, tokens }
}

async fn token_for(app: &TestApp, email: &str) -> String {
    let issued = app
        .http
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"email": email, "password": PASSWORD, "device_name": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 201);
    let body: Value = issued.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

/// What a finished flow's redirect said.
#[derive(Debug)]
pub struct Outcome {
    pub status: String,
    pub connection_id: Option<i64>,
    pub flow: Option<i64>,
    pub message: Option<String>,
}

impl Acme {
    pub fn token(&self, who: &str) -> &str {
        &self.tokens[who]
    }

    /// The sandbox's admin API.
    pub async fn sandbox(&self, path: &str, body: Value) -> Value {
        let response = self
            .app
            .http
            .post(self.app.url(&format!("/sandbox/admin{path}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "sandbox {path}: {status} {body}");
        body
    }

    pub async fn sandbox_member(&self, provider: &str, handle: &str) {
        self.sandbox(
            "/members",
            json!({"provider": provider, "handle": handle, "name": handle}),
        )
        .await;
    }

    /// A page owned by `owner` at the sandbox; its provider id.
    pub async fn sandbox_page(&self, provider: &str, owner: &str, name: &str) -> String {
        let page = self
            .sandbox(
                "/pages",
                json!({"provider": provider, "owner": owner, "name": name}),
            )
            .await;
        page["id"].as_str().expect("a page id").to_owned()
    }

    pub async fn member_action(&self, provider: &str, handle: &str, action: &str, extra: Value) {
        self.sandbox(&format!("/members/{provider}/{handle}/{action}"), extra)
            .await;
    }

    pub async fn api(
        &self,
        who: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .app
            .http
            .request(method, self.app.url(&format!("/api/v1{path}")))
            .bearer_auth(self.token(who));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Starts connecting through the API; the authorize URL.
    pub async fn start(&self, who: &str, body: Value) -> String {
        let (status, body) = self
            .api(who, reqwest::Method::POST, "/connections", Some(body))
            .await;
        assert_eq!(status, 201, "{body}");
        body["authorize_url"].as_str().unwrap().to_owned()
    }

    pub async fn start_reconnect(&self, who: &str, id: i64) -> String {
        let (status, body) = self
            .api(
                who,
                reqwest::Method::POST,
                &format!("/connections/{id}/reconnect"),
                Some(json!({"redirect_uri": APP_LINK})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["authorize_url"].as_str().unwrap().to_owned()
    }

    /// The member's answer at the sandbox's consent page (`allow` or `deny`): where
    /// the sandbox sends the browser, our callback with its parameters.
    pub async fn consent(&self, authorize_url: &str, member: &str, decision: &str) -> String {
        let response = self
            .app
            .http
            .post(authorize_url)
            .form(&[("member", member), ("decision", decision)])
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_redirection(),
            "the consent redirects back"
        );
        response.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Our callback, from a browser without a session (the app's system browser).
    pub async fn callback(&self, callback_url: &str) -> reqwest::Response {
        self.app.http.get(callback_url).send().await.unwrap()
    }

    pub async fn finish(&self, callback_url: &str) -> Outcome {
        let response = self.callback(callback_url).await;
        assert_eq!(response.status(), 303, "the callback redirects");
        assert_eq!(response.headers()["referrer-policy"], "no-referrer");
        outcome(response.headers()["location"].to_str().unwrap())
    }

    /// Start, consent as `member`, callback: the outcome.
    pub async fn run_flow(&self, authorize_url: &str, member: &str) -> Outcome {
        let callback = self.consent(authorize_url, member, "allow").await;
        self.finish(&callback).await
    }

    /// A personal account connected by `who` as sandbox `member`; its id.
    pub async fn connect_personal(&self, who: &str, provider: &str, member: &str) -> i64 {
        let url = self
            .start(
                who,
                json!({"provider": provider, "kind": "personal", "redirect_uri": APP_LINK}),
            )
            .await;
        let outcome = self.run_flow(&url, member).await;
        assert_eq!(outcome.status, "connected", "{outcome:?}");
        outcome.connection_id.expect("a connection id")
    }

    /// Business pages connected by the admin as sandbox `member`, every page the
    /// login manages chosen (X: the account itself); their ids.
    pub async fn connect_pages(&self, provider: &str, member: &str) -> Vec<i64> {
        let url = self
            .start(
                ADMIN,
                json!({"provider": provider, "kind": "business", "team": "acme",
                       "redirect_uri": APP_LINK}),
            )
            .await;
        let outcome = self.run_flow(&url, member).await;
        if provider == "x" {
            assert_eq!(outcome.status, "connected", "{outcome:?}");
            return vec![outcome.connection_id.unwrap()];
        }
        assert_eq!(outcome.status, "choose_pages", "{outcome:?}");
        self.choose_all(ADMIN, outcome.flow.unwrap()).await
    }

    pub async fn choose_all(&self, who: &str, flow: i64) -> Vec<i64> {
        let path = format!("/connections/flows/{flow}");
        let (status, choice) = self.api(who, reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "{choice}");
        let ids: Vec<Value> = choice["pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].clone())
            .collect();
        let (status, added) = self
            .api(
                who,
                reqwest::Method::POST,
                &path,
                Some(json!({"pages": ids})),
            )
            .await;
        assert_eq!(status, 201, "{added}");
        added["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    }

    pub async fn connection(&self, who: &str, id: i64) -> Value {
        let (status, body) = self
            .api(
                who,
                reqwest::Method::GET,
                &format!("/connections/{id}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn check(&self, who: &str, id: i64) -> Value {
        let (status, body) = self
            .api(
                who,
                reqwest::Method::POST,
                &format!("/connections/{id}/check"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The emails of `template` queued for `email`.
    pub async fn emails(&self, email: &str, template: &str) -> Vec<Email> {
        emails(self.app.core.store.as_ref(), email, template).await
    }
}

pub async fn emails(store: &dyn Store, email: &str, template: &str) -> Vec<Email> {
    let mut tx = store.begin_read().await.unwrap();
    tx.emails_to(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.template == template)
        .collect()
}

pub fn outcome(location: &str) -> Outcome {
    let url = Url::parse(location).expect("an absolute deep link");
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    Outcome {
        status: q.get("status").cloned().unwrap_or_default(),
        connection_id: q.get("connection_id").and_then(|v| v.parse().ok()),
        flow: q.get("flow").and_then(|v| v.parse().ok()),
        message: q.get("message").cloned(),
    }
}

/// The body text of an email, opened with the app's keyring.
pub fn text_of(app: &TestApp, email: &Email) -> String {
    let place = format!("email:{}:{}", email.recipient, email.template);
    app.core
        .keyring
        .open_text(&email.text_body, &place)
        .expect("the body opens")
}
