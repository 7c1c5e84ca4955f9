//! The one HTTP client of all adapters: reqwest with redirects disabled (a provider
//! endpoint that redirects is misconfigured, and a redirect could carry a token elsewhere),
//! bridged to the `oauth2` crate. Every non-2xx answer becomes a [`FailedResponse`] so the
//! provider's classifier sees status, headers and body, for OAuth calls as for API calls.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::redirect::Policy;
use reqwest::RequestBuilder;
use serde::de::DeserializeOwned;

use crate::classify::{Endpoint, FailedResponse};
use crate::error::{Call, Error};
use crate::Provider;

#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    /// 10 seconds to connect, 30 for a whole call.
    pub fn new() -> Result<Http, reqwest::Error> {
        Http::with_timeouts(Duration::from_secs(10), Duration::from_secs(30))
    }

    pub fn with_timeouts(connect: Duration, call: Duration) -> Result<Http, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .connect_timeout(connect)
            .timeout(call)
            .user_agent(concat!("Apostle/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Http { client })
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request`; a non-2xx answer is an [`Error`] classified by `provider`'s rules.
    pub(crate) async fn send(
        &self,
        provider: Provider,
        endpoint: Endpoint,
        request: RequestBuilder,
    ) -> Result<Answer, Error> {
        let request = request.build().map_err(|error| {
            let call = Call {
                provider,
                endpoint,
                method: reqwest::Method::GET,
                path: String::from("(unbuilt request)"),
            };
            call.transport(error)
        })?;
        let call = Call::new(provider, endpoint, request.method().clone(), request.url());
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| call.transport(e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| call.transport(e))?;
        if !status.is_success() {
            return Err(call.failed(&FailedResponse::new(status, headers, body.to_vec())));
        }
        Ok(Answer {
            call,
            headers,
            body: body.to_vec(),
        })
    }
}

/// A 2xx answer and the call it answers.
pub(crate) struct Answer {
    pub(crate) call: Call,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn json<T: DeserializeOwned>(&self, what: &'static str) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|_| self.call.malformed(what))
    }
}

/// Why the `oauth2` crate's request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpFailure {
    #[error("no answer")]
    Transport(#[source] reqwest::Error),
    #[error("HTTP {}", .0.status)]
    Status(FailedResponse),
}

type OAuthFuture<'c> =
    Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpFailure>> + Send + 'c>>;

/// [`Http`] as the `oauth2` crate's client.
pub(crate) struct OAuthHttp<'a>(pub(crate) &'a Http);

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = HttpFailure;
    type Future = OAuthFuture<'c>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(HttpFailure::Transport)?;
            let response = self
                .0
                .client
                .execute(request)
                .await
                .map_err(|e| HttpFailure::Transport(e.without_url()))?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map_err(|e| HttpFailure::Transport(e.without_url()))?
                .to_vec();
            if !status.is_success() {
                return Err(HttpFailure::Status(FailedResponse::new(
                    status, headers, body,
                )));
            }
            let mut answer = oauth2::HttpResponse::new(body);
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}
