//! A standard OAuth client (the `oauth2` crate, its HTTP client bridged to reqwest with
//! redirects disabled) completes each provider's flow against the sandbox.

use std::future::Future;
use std::pin::Pin;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpClientError,
    HttpRequest, HttpResponse, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse,
    TokenUrl,
};
use url::Url;

use crate::helpers::{body, graph_get, sandbox, FACEBOOK_SCOPES, GRAPH_VERSION, INSTAGRAM_SCOPES};
use crate::support::{query_value, Running, CLIENT_ID, REDIRECT_URI, SECRET};

/// oauth2's async HTTP client, implemented over reqwest.
struct Reqwest(reqwest::Client);

type HttpFuture<'c> = Pin<
    Box<dyn Future<Output = Result<HttpResponse, HttpClientError<reqwest::Error>>> + Send + 'c>,
>;

impl<'c> oauth2::AsyncHttpClient<'c> for Reqwest {
    type Error = HttpClientError<reqwest::Error>;
    type Future = HttpFuture<'c>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(Box::new)?;
            let mut builder = oauth2::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let bytes = response.bytes().await.map_err(Box::new)?;
            Ok(builder.body(bytes.to_vec())?)
        })
    }
}

struct Provider<'a> {
    authorize: String,
    token: String,
    auth_type: AuthType,
    scopes: &'a [&'a str],
    pkce: bool,
}

/// Authorize (skipping the consent page with one POST), exchange the code: the token.
async fn complete_flow(
    sandbox: &Running,
    provider: Provider<'_>,
) -> oauth2::basic::BasicTokenResponse {
    let client = BasicClient::new(ClientId::new(CLIENT_ID.to_owned()))
        .set_client_secret(ClientSecret::new(SECRET.to_owned()))
        .set_auth_uri(AuthUrl::new(provider.authorize).unwrap())
        .set_token_uri(TokenUrl::new(provider.token).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_owned()).unwrap())
        .set_auth_type(provider.auth_type);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(CsrfToken::new_random);
    for scope in provider.scopes {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    if provider.pkce {
        request = request.set_pkce_challenge(challenge);
    }
    let (authorize_url, csrf) = request.url();

    let mut form: Vec<(String, String)> = authorize_url.query_pairs().into_owned().collect();
    form.push(("member".into(), "oscar".into()));
    form.push(("decision".into(), "allow".into()));
    let mut target = authorize_url.clone();
    target.set_query(None);
    let response = sandbox.http.post(target).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let redirect = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        query_value(&redirect, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    let code = query_value(&redirect, "code").expect("code");

    let http = Reqwest(sandbox.http.clone());
    let mut exchange = client.exchange_code(AuthorizationCode::new(code));
    if provider.pkce {
        exchange = exchange.set_pkce_verifier(verifier);
    }
    exchange.request_async(&http).await.expect("token exchange")
}

#[tokio::test]
async fn oauth2_crate_completes_the_linkedin_flow_and_refreshes() {
    let sandbox = sandbox().await;
    let token = complete_flow(
        &sandbox,
        Provider {
            authorize: sandbox.url("/sandbox/linkedin/oauth/v2/authorization"),
            token: sandbox.url("/sandbox/linkedin/oauth/v2/accessToken"),
            auth_type: AuthType::RequestBody,
            scopes: &["openid", "profile", "w_member_social"],
            pkce: false,
        },
    )
    .await;
    assert_eq!(token.expires_in().unwrap().as_secs(), 5184000);
    let userinfo = sandbox
        .http
        .get(sandbox.url("/sandbox/linkedin/v2/userinfo"))
        .bearer_auth(token.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);

    let client = BasicClient::new(ClientId::new(CLIENT_ID.to_owned()))
        .set_client_secret(ClientSecret::new(SECRET.to_owned()))
        .set_token_uri(
            TokenUrl::new(sandbox.url("/sandbox/linkedin/oauth/v2/accessToken")).unwrap(),
        )
        .set_auth_type(AuthType::RequestBody);
    let refresh = token.refresh_token().expect("refresh token").clone();
    let refreshed = client
        .exchange_refresh_token(&RefreshToken::new(refresh.secret().clone()))
        .request_async(&Reqwest(sandbox.http.clone()))
        .await
        .expect("refresh");
    assert_eq!(
        refreshed.refresh_token().unwrap().secret(),
        refresh.secret()
    );
}

#[tokio::test]
async fn oauth2_crate_completes_the_x_flow_with_pkce_and_basic_auth() {
    let sandbox = sandbox().await;
    let token = complete_flow(
        &sandbox,
        Provider {
            authorize: sandbox.url("/sandbox/x/i/oauth2/authorize"),
            token: sandbox.url("/sandbox/x/2/oauth2/token"),
            auth_type: AuthType::BasicAuth,
            scopes: &["tweet.read", "tweet.write", "users.read", "offline.access"],
            pkce: true,
        },
    )
    .await;
    assert_eq!(token.expires_in().unwrap().as_secs(), 7200);
    assert!(token.refresh_token().is_some());
    let me = sandbox
        .http
        .get(sandbox.url("/sandbox/x/2/users/me"))
        .bearer_auth(token.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(body(me).await["data"]["username"], "oscar");
}

async fn graph_flow(provider: &str, scopes: &str) {
    let sandbox = sandbox().await;
    let token = complete_flow(
        &sandbox,
        Provider {
            authorize: sandbox.url(&format!("/sandbox/{provider}/{GRAPH_VERSION}/dialog/oauth")),
            token: sandbox.url(&format!(
                "/sandbox/{provider}/{GRAPH_VERSION}/oauth/access_token"
            )),
            auth_type: AuthType::RequestBody,
            scopes: &[scopes],
            pkce: false,
        },
    )
    .await;
    let me = graph_get(&sandbox, provider, "/me", token.access_token().secret()).await;
    assert_eq!(body(me).await["name"], "oscar");
}

#[tokio::test]
async fn oauth2_crate_completes_the_facebook_flow() {
    graph_flow("facebook", FACEBOOK_SCOPES).await;
}

#[tokio::test]
async fn oauth2_crate_completes_the_instagram_flow() {
    graph_flow("instagram", INSTAGRAM_SCOPES).await;
}
