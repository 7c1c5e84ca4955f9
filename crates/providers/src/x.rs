//! X: OAuth 2.0 with PKCE (S256) and HTTP Basic client authentication, rotating
//! single-use refresh tokens, `/2/users/me`, `/2/tweets`, the user's timeline
//! (`/2/users/{id}/tweets`), and its error classifier.

use oauth2::AuthType;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

use crate::classify::{self, Classification, Confirm, Endpoint, FailedResponse};
use crate::error::Error;
use crate::http::Http;
use crate::oauth::{Authorization, Dialect, OAuth, ScopeSet, TokenSet};
use crate::{BreakReason, Identity, PostContent, Provider, ProviderConfig, Published, RecentPost};

const DIALECT: Dialect = Dialect {
    provider: Provider::X,
    auth_type: AuthType::BasicAuth,
    pkce: true,
    scope_separator: " ",
};

#[derive(Clone, Debug)]
pub struct X {
    http: Http,
    oauth: OAuth,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

impl X {
    pub fn new(http: Http, config: ProviderConfig) -> Self {
        X {
            http,
            oauth: OAuth::new(DIALECT, config),
        }
    }

    /// The returned PKCE verifier must come back to [`X::exchange_code`].
    pub fn authorize(&self, redirect_uri: &Url, scopes: ScopeSet) -> Authorization {
        self.oauth.authorize(redirect_uri, scopes)
    }

    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &Url,
        pkce_verifier: &SecretString,
    ) -> Result<TokenSet, Error> {
        self.oauth
            .exchange_code(&self.http, code, redirect_uri, Some(pkce_verifier))
            .await
    }

    /// The answer holds a new refresh token and the one presented is dead: store both
    /// tokens together before anything else (design.md §2 rules 2 and 3).
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet, Error> {
        self.oauth.refresh(&self.http, refresh_token).await
    }

    /// Best effort: the caller removes the connection whatever this answers.
    pub async fn revoke(&self, token: &SecretString) -> Result<(), Error> {
        self.oauth.revoke(&self.http, token).await
    }

    pub async fn identity(&self, token: &SecretString) -> Result<Identity, Error> {
        #[derive(Deserialize)]
        struct User {
            id: String,
            name: Option<String>,
            username: Option<String>,
        }
        let user: Data<User> = self
            .oauth
            .userinfo(&self.http, token, &[], "a user in data")
            .await?;
        Ok(Identity {
            id: user.data.id,
            name: user.data.name,
            username: user.data.username,
            email: None,
        })
    }

    /// X has no introspection: a token that reads `users/me` works.
    pub async fn probe(&self, token: &SecretString) -> Result<(), Error> {
        self.identity(token).await.map(drop)
    }

    /// A link is appended to the text; X counts it as 23 characters of the 280.
    pub async fn publish(
        &self,
        token: &SecretString,
        post: &PostContent,
    ) -> Result<Published, Error> {
        #[derive(Deserialize)]
        struct Tweet {
            id: String,
        }
        let url = self.oauth.config().endpoints.api("/2/tweets");
        let request = self
            .http
            .client()
            .post(url)
            .bearer_auth(token.expose_secret())
            .json(&json!({ "text": tweet_text(post) }));
        let answer = self.http.send(Provider::X, Endpoint::Post, request).await?;
        let tweet: Data<Tweet> = answer.json("a tweet id in data")?;
        Ok(Published { id: tweet.data.id })
    }

    /// The user's latest tweets, newest first. X answers between 5 and 100 per call.
    pub async fn recent_posts(
        &self,
        token: &SecretString,
        user_id: &str,
        limit: usize,
    ) -> Result<Vec<RecentPost>, Error> {
        let url = self
            .oauth
            .config()
            .endpoints
            .api(&format!("/2/users/{user_id}/tweets"));
        let max_results = limit.clamp(5, 100).to_string();
        let request = self
            .http
            .client()
            .get(url)
            .bearer_auth(token.expose_secret())
            .query(&[
                ("max_results", max_results.as_str()),
                ("tweet.fields", "entities"),
            ]);
        let answer = self.http.send(Provider::X, Endpoint::Api, request).await?;
        let timeline: Timeline = answer.json("tweets in data")?;
        Ok(timeline
            .data
            .into_iter()
            .take(limit)
            .map(|tweet| RecentPost {
                text: tweet.text_as_sent(),
                id: tweet.id,
            })
            .collect())
    }
}

/// A timeline page; X leaves `data` out when there are no tweets.
#[derive(Deserialize)]
struct Timeline {
    #[serde(default)]
    data: Vec<TimelineTweet>,
}

#[derive(Deserialize)]
struct TimelineTweet {
    id: String,
    text: String,
    #[serde(default)]
    entities: Entities,
}

#[derive(Default, Deserialize)]
struct Entities {
    #[serde(default)]
    urls: Vec<UrlEntity>,
}

#[derive(Deserialize)]
struct UrlEntity {
    url: String,
    expanded_url: Option<String>,
}

impl TimelineTweet {
    /// X shows every link as a t.co link; the link we sent is its `expanded_url`.
    fn text_as_sent(&self) -> String {
        self.entities
            .urls
            .iter()
            .fold(self.text.clone(), |text, entity| {
                match &entity.expanded_url {
                    Some(expanded) if !entity.url.is_empty() => text.replace(&entity.url, expanded),
                    _ => text,
                }
            })
    }
}

/// The text a tweet of `post` shows on X.
pub(crate) fn tweet_text(post: &PostContent) -> String {
    match &post.link {
        Some(link) if !post.text.contains(link.as_str()) => {
            format!("{} {link}", post.text).trim_start().to_owned()
        }
        _ => post.text.clone(),
    }
}

/// The last segment of a problem+json `type` URI, e.g. `client-forbidden`.
fn problem_type(json: &Value) -> Option<&str> {
    let kind = json.get("type")?.as_str()?;
    kind.rsplit('/').next()
}

/// X's answers (providers.md "X — Errors").
pub(crate) fn classify(endpoint: Endpoint, response: &FailedResponse) -> Classification {
    if endpoint == Endpoint::Token {
        return classify::token_endpoint(response);
    }
    let json = response.json();
    match response.status.as_u16() {
        401 => Classification::Broken {
            reason: BreakReason::TokenExpired,
            confirm: Confirm::Refresh,
        },
        403 => match problem_type(&json) {
            Some("client-forbidden" | "unsupported-authentication") => {
                Classification::Configuration
            }
            _ if endpoint.is_post() => Classification::PostRejected,
            _ => Classification::Unknown,
        },
        400 if endpoint.is_post() => Classification::PostRejected,
        _ => Classification::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::classify::tests::{classified, response, response_with, NOW};

    #[test]
    fn every_row_of_the_x_table() {
        let rows: Vec<(&str, Endpoint, u16, &str, Classification)> = vec![
            (
                "refresh: a dead refresh token answers 400 invalid_request",
                Endpoint::Token,
                400,
                r#"{"error":"invalid_request","error_description":"Value passed for the token was invalid."}"#,
                Classification::broken(BreakReason::RefreshFailed),
            ),
            (
                "401 on the API: refresh once, break only if the refresh fails",
                Endpoint::Api,
                401,
                r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#,
                Classification::Broken {
                    reason: BreakReason::TokenExpired,
                    confirm: Confirm::Refresh,
                },
            ),
            (
                "403 client-forbidden: our configuration",
                Endpoint::Api,
                403,
                r#"{"title":"Client Forbidden","type":"https://api.twitter.com/2/problems/client-forbidden","status":403,"detail":"d","reason":"client-not-enrolled"}"#,
                Classification::Configuration,
            ),
            (
                "403 unsupported-authentication: our configuration",
                Endpoint::Post,
                403,
                r#"{"title":"Unsupported Authentication","type":"https://api.twitter.com/2/problems/unsupported-authentication","status":403,"detail":"d"}"#,
                Classification::Configuration,
            ),
            (
                "403 duplicate content: not a break",
                Endpoint::Post,
                403,
                r#"{"title":"Forbidden","type":"about:blank","status":403,"detail":"You are not allowed to create a Tweet with duplicate content."}"#,
                Classification::PostRejected,
            ),
            (
                "403 not permitted: not a break",
                Endpoint::Post,
                403,
                r#"{"title":"Forbidden","type":"about:blank","status":403,"detail":"You are not permitted to perform this action."}"#,
                Classification::PostRejected,
            ),
            (
                "wrong client secret (Basic refused): our configuration",
                Endpoint::Token,
                401,
                r#"{"error":"unauthorized_client","error_description":"Missing valid authorization header"}"#,
                Classification::Configuration,
            ),
            (
                "503: transient",
                Endpoint::Api,
                503,
                r#"{"title":"Service Unavailable","type":"about:blank","status":503,"detail":"Service Unavailable"}"#,
                Classification::TRANSIENT,
            ),
        ];
        for (row, endpoint, status, body, expected) in rows {
            assert_eq!(
                classified(Provider::X, endpoint, &response(status, body)),
                expected,
                "{row}"
            );
        }
    }

    #[test]
    fn rate_limit_429_waits_until_x_rate_limit_reset() {
        let reset = (NOW + 600).to_string();
        let limited = response_with(
            429,
            &[
                ("x-rate-limit-limit", "100"),
                ("x-rate-limit-remaining", "0"),
                ("x-rate-limit-reset", &reset),
            ],
            r#"{"title":"Too Many Requests","type":"about:blank","status":429,"detail":"Too Many Requests"}"#,
        );
        assert_eq!(
            classified(Provider::X, Endpoint::Post, &limited),
            Classification::Transient {
                retry_after: Some(Duration::from_secs(600))
            }
        );
    }

    #[test]
    fn malformed_x_bodies_fall_back_on_the_status() {
        let rows = [
            (
                Endpoint::Api,
                401,
                "",
                Classification::Broken {
                    reason: BreakReason::TokenExpired,
                    confirm: Confirm::Refresh,
                },
            ),
            (Endpoint::Post, 403, "<html>", Classification::PostRejected),
            (
                Endpoint::Api,
                403,
                r#"{"type":17}"#,
                Classification::Unknown,
            ),
            (
                Endpoint::Post,
                403,
                r#"{"type":"client-forbidden/"}"#,
                Classification::PostRejected,
            ),
            (Endpoint::Token, 400, "{", Classification::Unknown),
            (
                Endpoint::Token,
                400,
                r#"{"error":["invalid_request"]}"#,
                Classification::Unknown,
            ),
            (Endpoint::Api, 404, "null", Classification::Unknown),
            (Endpoint::Api, 429, "", Classification::TRANSIENT),
        ];
        for (endpoint, status, body, expected) in rows {
            assert_eq!(
                classified(Provider::X, endpoint, &response(status, body)),
                expected,
                "{status} {body:?}"
            );
        }
    }

    #[test]
    fn a_timeline_tweet_reads_back_with_its_links_expanded() {
        let timeline: Timeline = serde_json::from_value(json!({
            "data": [{
                "id": "1",
                "text": "Launch day https://t.co/abc and https://t.co/def",
                "entities": {"urls": [
                    {"start": 11, "end": 34, "url": "https://t.co/abc", "expanded_url": "https://acme.example/launch"},
                    {"start": 39, "end": 62, "url": "https://t.co/def", "expanded_url": "https://acme.example/more"},
                ]},
            }, {"id": "2", "text": "No links"}],
            "meta": {"result_count": 2, "newest_id": "1", "oldest_id": "2"},
        }))
        .unwrap();
        let texts: Vec<String> = timeline
            .data
            .iter()
            .map(TimelineTweet::text_as_sent)
            .collect();
        assert_eq!(
            texts,
            [
                "Launch day https://acme.example/launch and https://acme.example/more",
                "No links"
            ]
        );
    }

    #[test]
    fn an_empty_timeline_has_no_data_and_reads_as_no_tweets() {
        let timeline: Timeline =
            serde_json::from_value(json!({"meta": {"result_count": 0}})).unwrap();
        assert!(timeline.data.is_empty());
    }

    #[test]
    fn a_link_is_appended_once() {
        let link = Url::parse("https://acme.example/a").unwrap();
        let post = PostContent {
            text: "New".to_owned(),
            link: Some(link.clone()),
            ..PostContent::default()
        };
        assert_eq!(tweet_text(&post), "New https://acme.example/a");
        let post = PostContent {
            text: "See https://acme.example/a".to_owned(),
            link: Some(link),
            ..PostContent::default()
        };
        assert_eq!(tweet_text(&post), "See https://acme.example/a");
    }
}
