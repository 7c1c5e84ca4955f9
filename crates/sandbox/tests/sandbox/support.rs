//! Spawning a sandbox on loopback and the OAuth dances, shared by the tests and the
//! throughput benchmark.

use apostle_sandbox::{Sandbox, SandboxConfig};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

pub const SECRET: &str = "sandbox-secret";
pub const CLIENT_ID: &str = "apostle-test";
pub const REDIRECT_URI: &str = "https://app.example/oauth/callback";
pub const LINKEDIN_VERSION: &str = "202406";
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A sandbox served on 127.0.0.1 and a client that does not follow redirects.
pub struct Running {
    pub base: String,
    pub http: reqwest::Client,
}

/// Binds 127.0.0.1:0 before returning, so the server accepts as soon as this returns.
pub async fn spawn(config: SandboxConfig) -> Running {
    serve(&Sandbox::new(config)).await
}

/// Serves `sandbox` on 127.0.0.1:0, bound before returning.
pub async fn serve(sandbox: &Sandbox) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    let router = sandbox.router();
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve sandbox");
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Running {
        base: format!("http://{address}"),
        http,
    }
}

pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Skips the consent page with one POST: the original query plus `member` and
    /// `decision`. Returns where the provider redirected.
    pub async fn decide(
        &self,
        authorize_path: &str,
        query: &[(&str, &str)],
        member: &str,
        decision: &str,
    ) -> Url {
        let mut form: Vec<(&str, &str)> = query.to_vec();
        form.push(("member", member));
        form.push(("decision", decision));
        let response = self
            .http
            .post(self.url(authorize_path))
            .form(&form)
            .send()
            .await
            .expect("authorize POST");
        assert_eq!(response.status(), 302, "authorize answers with a redirect");
        let location = response.headers()["location"].to_str().expect("location");
        Url::parse(location).expect("absolute redirect")
    }

    pub async fn linkedin_code(&self, member: &str, scope: &str) -> String {
        let redirect = self
            .decide(
                "/sandbox/linkedin/oauth/v2/authorization",
                &linkedin_authorize_query(scope, "li-state"),
                member,
                "allow",
            )
            .await;
        query_value(&redirect, "code").expect("code in redirect")
    }

    /// LinkedIn authorize + code exchange: the token response.
    pub async fn linkedin_connect(&self, member: &str) -> Value {
        let code = self
            .linkedin_code(member, "openid profile email w_member_social")
            .await;
        let response = self
            .http
            .post(self.url("/sandbox/linkedin/oauth/v2/accessToken"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", CLIENT_ID),
                ("client_secret", SECRET),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), 200);
        response.json().await.expect("token json")
    }

    pub async fn linkedin_refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.http
            .post(self.url("/sandbox/linkedin/oauth/v2/accessToken"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", CLIENT_ID),
                ("client_secret", SECRET),
            ])
            .send()
            .await
            .expect("refresh request")
    }

    /// The `urn:li:person:{sub}` of a token's member, from `/v2/userinfo`.
    pub async fn linkedin_author(&self, token: &str) -> String {
        let info: Value = self
            .http
            .get(self.url("/sandbox/linkedin/v2/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .expect("userinfo")
            .json()
            .await
            .expect("userinfo json");
        format!("urn:li:person:{}", info["sub"].as_str().expect("sub"))
    }

    pub async fn linkedin_post(&self, token: &str, author: &str, text: &str) -> reqwest::Response {
        let body = serde_json::json!({
            "author": author,
            "commentary": text,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": []
            },
            "content": {"article": {"source": "https://example.com/a", "title": "A"}},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false
        });
        self.http
            .post(self.url("/sandbox/linkedin/rest/posts"))
            .bearer_auth(token)
            .header("LinkedIn-Version", LINKEDIN_VERSION)
            .header("X-Restli-Protocol-Version", "2.0.0")
            .json(&body)
            .send()
            .await
            .expect("post request")
    }

    /// X authorize with PKCE + code exchange with HTTP Basic: the token response.
    pub async fn x_connect(&self, member: &str) -> Value {
        let challenge = pkce_challenge(PKCE_VERIFIER);
        let redirect = self
            .decide(
                "/sandbox/x/i/oauth2/authorize",
                &x_authorize_query(
                    "tweet.read tweet.write users.read offline.access",
                    &challenge,
                ),
                member,
                "allow",
            )
            .await;
        let code = query_value(&redirect, "code").expect("code in redirect");
        let response = self.x_exchange(&code, PKCE_VERIFIER).await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("token json")
    }

    pub async fn x_exchange(&self, code: &str, verifier: &str) -> reqwest::Response {
        self.http
            .post(self.url("/sandbox/x/2/oauth2/token"))
            .basic_auth(CLIENT_ID, Some(SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .expect("token request")
    }

    pub async fn x_refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.http
            .post(self.url("/sandbox/x/2/oauth2/token"))
            .basic_auth(CLIENT_ID, Some(SECRET))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .expect("refresh request")
    }
}

pub fn query_value(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

pub fn linkedin_authorize_query<'a>(scope: &'a str, state: &'a str) -> [(&'a str, &'a str); 5] {
    [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("state", state),
        ("scope", scope),
    ]
}

pub fn x_authorize_query<'a>(scope: &'a str, challenge: &'a str) -> [(&'a str, &'a str); 7] {
    [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("state", "x-state"),
        ("scope", scope),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}
