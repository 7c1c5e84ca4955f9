//! Facebook pages, and the Facebook Login that Instagram shares: the authorize dialog
//! (comma-separated scopes, no PKCE), the code exchange by GET and the `fb_exchange_token`
//! swap for a long-lived token (not standard OAuth, so sent directly), `debug_token`,
//! `/me/accounts` with page tokens, page posts and the page's feed, and the Graph error
//! classifier.

use std::time::SystemTime;

use oauth2::AuthType;
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::classify::{number, retry_after, Classification, Endpoint, FailedResponse};
use crate::error::{Error, Problem};
use crate::http::{Answer, Http};
use crate::oauth::{Authorization, Dialect, OAuth, ScopeSet, TokenSet};
use crate::{
    BreakReason, Identity, Page, PostContent, Provider, ProviderConfig, Published, RecentPost,
};

/// `/me/accounts` pages followed before giving up on a member with endless pages.
const MAX_ACCOUNT_PAGES: usize = 20;

/// Facebook Login and the Graph API calls it enables, for Facebook or Instagram.
#[derive(Clone, Debug)]
pub struct FacebookLogin {
    provider: Provider,
    http: Http,
    oauth: OAuth,
}

#[derive(Deserialize)]
struct GraphToken {
    access_token: SecretString,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

impl FacebookLogin {
    pub(crate) fn new(provider: Provider, http: Http, config: ProviderConfig) -> Self {
        let dialect = Dialect {
            provider,
            auth_type: AuthType::RequestBody,
            pkce: false,
            scope_separator: ",",
        };
        FacebookLogin {
            provider,
            http,
            oauth: OAuth::new(dialect, config),
        }
    }

    pub fn authorize(&self, redirect_uri: &Url, scopes: ScopeSet) -> Authorization {
        self.oauth.authorize(redirect_uri, scopes)
    }

    /// The code for a short-lived user token, that one for a long-lived one (60 days, no
    /// refresh token: the member reconnects before it ends).
    pub async fn exchange_code(&self, code: &str, redirect_uri: &Url) -> Result<TokenSet, Error> {
        let credentials = &self.oauth.config().credentials;
        let secret = credentials.client_secret.expose_secret();
        let short = self
            .token(&[
                ("client_id", credentials.client_id.as_str()),
                ("redirect_uri", redirect_uri.as_str()),
                ("client_secret", secret),
                ("code", code),
            ])
            .await?;
        let long = self
            .token(&[
                ("grant_type", "fb_exchange_token"),
                ("client_id", credentials.client_id.as_str()),
                ("client_secret", secret),
                ("fb_exchange_token", short.access_token.expose_secret()),
            ])
            .await?;
        Ok(TokenSet {
            access_token: long.access_token,
            refresh_token: None,
            expires_in: long.expires_in.map(std::time::Duration::from_secs),
            refresh_token_expires_in: None,
            scopes: Vec::new(),
        })
    }

    async fn token(&self, query: &[(&str, &str)]) -> Result<GraphToken, Error> {
        let url = self.oauth.config().endpoints.token_url.clone();
        let request = self.http.client().get(url).query(query);
        let answer = self
            .http
            .send(self.provider, Endpoint::Token, request)
            .await?;
        answer.json("a Graph access token")
    }

    /// A Graph API request with `token` in the header, never in the URL.
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        token: &SecretString,
    ) -> RequestBuilder {
        let url = self.oauth.config().endpoints.api(path);
        self.http
            .client()
            .request(method, url)
            .bearer_auth(token.expose_secret())
    }

    pub(crate) async fn send(
        &self,
        endpoint: Endpoint,
        request: RequestBuilder,
    ) -> Result<Answer, Error> {
        self.http.send(self.provider, endpoint, request).await
    }

    pub(crate) async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        request: RequestBuilder,
        what: &'static str,
    ) -> Result<T, Error> {
        self.send(endpoint, request).await?.json(what)
    }

    /// Best effort: removes the app's permissions, which revokes every token of the grant.
    pub async fn revoke(&self, token: &SecretString) -> Result<(), Error> {
        let url = self.oauth.config().endpoints.revoke_url.clone();
        let request = self
            .http
            .client()
            .delete(url)
            .bearer_auth(token.expose_secret());
        self.http
            .send(self.provider, Endpoint::Api, request)
            .await?;
        Ok(())
    }

    pub async fn identity(&self, token: &SecretString) -> Result<Identity, Error> {
        #[derive(Deserialize)]
        struct Me {
            id: String,
            name: Option<String>,
        }
        let me: Me = self
            .oauth
            .userinfo(&self.http, token, &[("fields", "id,name")], "an id")
            .await?;
        Ok(Identity {
            id: me.id,
            name: me.name,
            username: None,
            email: None,
        })
    }

    /// Whether a user or page token works: `debug_token` says why not, with the codes of
    /// the Graph table; when our app token is refused there, `/me` still tells.
    pub async fn probe(&self, token: &SecretString) -> Result<(), Error> {
        if let Some(url) = &self.oauth.config().endpoints.introspect_url {
            #[derive(Deserialize)]
            struct DebugToken {
                data: Value,
            }
            let credentials = &self.oauth.config().credentials;
            let app_token = format!(
                "{}|{}",
                credentials.client_id,
                credentials.client_secret.expose_secret()
            );
            let request = self
                .http
                .client()
                .get(url.clone())
                .query(&[("input_token", token.expose_secret())])
                .bearer_auth(app_token);
            match self.http.send(self.provider, Endpoint::Api, request).await {
                Ok(answer) => {
                    let data = answer.json::<DebugToken>("debug_token data")?.data;
                    if data["is_valid"].as_bool() == Some(true) {
                        return Ok(());
                    }
                    let code = data["error"].get("code").and_then(number);
                    let subcode = data["error"].get("subcode").and_then(number);
                    let classification = match code {
                        Some(_) => by_codes(Endpoint::Api, code, subcode, false, None),
                        None => Classification::broken(BreakReason::TokenRevoked),
                    };
                    let codes =
                        [code, subcode].map(|c| c.map_or("-".to_owned(), |c| c.to_string()));
                    return Err(answer.call.error(Problem::Reported {
                        state: format!("an invalid token (code {}/{})", codes[0], codes[1]),
                        classification,
                    }));
                }
                Err(error) if error.classification().is_transient() => return Err(error),
                Err(_) => {}
            }
        }
        self.identity(token).await.map(drop)
    }

    /// Every entry of `/me/accounts` with these fields, following Graph's cursors.
    pub(crate) async fn accounts(
        &self,
        user_token: &SecretString,
        fields: &str,
    ) -> Result<Vec<Value>, Error> {
        #[derive(Deserialize)]
        struct Accounts {
            data: Vec<Value>,
            #[serde(default)]
            paging: Value,
        }
        let mut entries = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_ACCOUNT_PAGES {
            let mut query = vec![("fields", fields.to_owned()), ("limit", "100".to_owned())];
            if let Some(cursor) = after.take() {
                query.push(("after", cursor));
            }
            let request = self
                .request(Method::GET, "/me/accounts", user_token)
                .query(&query);
            let page: Accounts = self
                .send_json(Endpoint::Api, request, "accounts in data")
                .await?;
            entries.extend(page.data);
            // Graph sends `next` only while there is more.
            match (
                page.paging.get("next"),
                page.paging["cursors"]["after"].as_str(),
            ) {
                (Some(_), Some(cursor)) => after = Some(cursor.to_owned()),
                _ => break,
            }
        }
        Ok(entries)
    }

    /// The newest entries of an edge that lists posts (a page's `feed`, an Instagram
    /// account's `media`), newest first as Graph lists them, with their text read from
    /// `text_field`. Graph answers at most 100 per call.
    pub(crate) async fn recent(
        &self,
        path: &str,
        token: &SecretString,
        fields: &str,
        text_field: &str,
        limit: usize,
    ) -> Result<Vec<RecentPost>, Error> {
        #[derive(Deserialize)]
        struct Edge {
            data: Vec<Value>,
        }
        let request = self.request(Method::GET, path, token).query(&[
            ("fields", fields),
            ("limit", &limit.clamp(1, 100).to_string()),
        ]);
        // Read as the page: a role lost there loses that page, not the whole connection.
        let answer = self.send(Endpoint::PagePost, request).await?;
        let edge: Edge = answer.json("posts in data")?;
        edge.data
            .iter()
            .take(limit)
            .map(|entry| {
                let id = entry["id"]
                    .as_str()
                    .ok_or_else(|| answer.call.malformed("an id on every post"))?;
                Ok(RecentPost {
                    id: id.to_owned(),
                    // A post without text (a bare link, an image) has no such field.
                    text: entry[text_field].as_str().unwrap_or_default().to_owned(),
                })
            })
            .collect()
    }
}

/// Facebook pages.
#[derive(Clone, Debug)]
pub struct Facebook {
    login: FacebookLogin,
}

impl Facebook {
    pub fn new(http: Http, config: ProviderConfig) -> Self {
        Facebook {
            login: FacebookLogin::new(Provider::Facebook, http, config),
        }
    }

    /// Sign-in, tokens, identity and probe.
    pub fn login(&self) -> &FacebookLogin {
        &self.login
    }

    /// The pages the member manages, each with its page token.
    pub async fn pages(&self, user_token: &SecretString) -> Result<Vec<Page>, Error> {
        let entries = self
            .login
            .accounts(user_token, "id,name,access_token")
            .await?;
        Ok(entries
            .iter()
            .filter_map(|entry| {
                Some(Page {
                    id: entry["id"].as_str()?.to_owned(),
                    name: entry["name"].as_str().unwrap_or_default().to_owned(),
                    access_token: entry["access_token"]
                        .as_str()
                        .map(|t| SecretString::from(t.to_owned())),
                })
            })
            .collect())
    }

    /// Posts to the page's feed with the page's own token.
    pub async fn publish(
        &self,
        page_id: &str,
        page_token: &SecretString,
        post: &PostContent,
    ) -> Result<Published, Error> {
        let mut form = vec![("message", post.text.clone())];
        if let Some(link) = &post.link {
            form.push(("link", link.to_string()));
        }
        let request = self
            .login
            .request(Method::POST, &format!("/{page_id}/feed"), page_token)
            .form(&form);
        let created: Created = self
            .login
            .send_json(Endpoint::PagePost, request, "a post id")
            .await?;
        Ok(Published { id: created.id })
    }

    /// The page's latest posts, newest first, read with the page's own token.
    pub async fn recent_posts(
        &self,
        page_id: &str,
        page_token: &SecretString,
        limit: usize,
    ) -> Result<Vec<RecentPost>, Error> {
        self.login
            .recent(
                &format!("/{page_id}/feed"),
                page_token,
                "id,message,created_time",
                "message",
                limit,
            )
            .await
    }
}

/// The Graph error envelope's fields that decide: `code`, `error_subcode`, `is_transient`.
pub(crate) struct GraphFields {
    pub(crate) code: Option<u64>,
    pub(crate) subcode: Option<u64>,
    pub(crate) is_transient: bool,
}

pub(crate) fn graph_fields(response: &FailedResponse) -> GraphFields {
    let json = response.json();
    let error = &json["error"];
    GraphFields {
        code: error.get("code").and_then(number),
        subcode: error.get("error_subcode").and_then(number),
        is_transient: error.get("is_transient").and_then(Value::as_bool) == Some(true),
    }
}

/// Graph's answers for Facebook and Instagram (providers.md "Facebook pages — Errors").
pub(crate) fn classify(
    endpoint: Endpoint,
    response: &FailedResponse,
    now: SystemTime,
) -> Classification {
    let fields = graph_fields(response);
    by_codes(
        endpoint,
        fields.code,
        fields.subcode,
        fields.is_transient,
        retry_after(&response.headers, now),
    )
}

/// The Graph table on parsed `code`, `error_subcode` and `is_transient`; `type` is never
/// read (Instagram sends `IGApiException` for the same codes).
pub(crate) fn by_codes(
    endpoint: Endpoint,
    code: Option<u64>,
    subcode: Option<u64>,
    is_transient: bool,
    retry_after: Option<std::time::Duration>,
) -> Classification {
    let transient = Classification::Transient { retry_after };
    if is_transient {
        return transient;
    }
    match code {
        // The token endpoint's code 1 (and 101) is how Graph refuses our client secret or
        // app id; elsewhere code 1 is an unknown, passing error.
        Some(1 | 101) if endpoint == Endpoint::Token => Classification::Configuration,
        Some(1 | 2 | 4 | 17 | 32 | 341 | 613) => transient,
        Some(190 | 102) => Classification::broken(match subcode {
            Some(458) => BreakReason::AppRemoved,
            Some(459 | 464) => BreakReason::ProviderActionRequired,
            Some(460) => BreakReason::PasswordChanged,
            Some(463 | 493) => BreakReason::TokenExpired,
            Some(492) => BreakReason::PageAccessLost,
            _ => BreakReason::TokenRevoked,
        }),
        Some(10 | 200..=299) => Classification::broken(BreakReason::PermissionMissing),
        Some(368 | 506 | 1609005) => Classification::PostRejected,
        _ if subcode == Some(1609005) => Classification::PostRejected,
        _ => Classification::Unknown,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::classify::tests::{classified, response, response_with};

    pub(crate) fn graph_error(code: u64, subcode: Option<u64>, kind: &str) -> String {
        let subcode = subcode
            .map(|s| format!(r#","error_subcode":{s}"#))
            .unwrap_or_default();
        format!(
            r#"{{"error":{{"message":"m","type":"{kind}","code":{code}{subcode},"fbtrace_id":"Axyz"}}}}"#
        )
    }

    fn broken(reason: BreakReason) -> Classification {
        Classification::broken(reason)
    }

    #[test]
    fn every_row_of_the_facebook_table() {
        let rows: Vec<(&str, u64, Option<u64>, Classification)> = vec![
            (
                "190 without subcode: token_revoked",
                190,
                None,
                broken(BreakReason::TokenRevoked),
            ),
            (
                "102 without subcode: token_revoked",
                102,
                None,
                broken(BreakReason::TokenRevoked),
            ),
            (
                "190 / 458: app_removed",
                190,
                Some(458),
                broken(BreakReason::AppRemoved),
            ),
            (
                "190 / 459: checkpoint, provider_action_required",
                190,
                Some(459),
                broken(BreakReason::ProviderActionRequired),
            ),
            (
                "190 / 460: password_changed",
                190,
                Some(460),
                broken(BreakReason::PasswordChanged),
            ),
            (
                "190 / 463: token_expired",
                190,
                Some(463),
                broken(BreakReason::TokenExpired),
            ),
            (
                "190 / 464: unconfirmed user, provider_action_required",
                190,
                Some(464),
                broken(BreakReason::ProviderActionRequired),
            ),
            (
                "190 / 467: logged out, token_revoked",
                190,
                Some(467),
                broken(BreakReason::TokenRevoked),
            ),
            (
                "190 / 492: no role on the page, page_access_lost",
                190,
                Some(492),
                broken(BreakReason::PageAccessLost),
            ),
            (
                "190 / 493: 90-day data-access lapse, token_expired",
                190,
                Some(493),
                broken(BreakReason::TokenExpired),
            ),
            (
                "10: permission_missing",
                10,
                None,
                broken(BreakReason::PermissionMissing),
            ),
            (
                "200: permission_missing",
                200,
                None,
                broken(BreakReason::PermissionMissing),
            ),
            (
                "299: permission_missing",
                299,
                None,
                broken(BreakReason::PermissionMissing),
            ),
            ("1: transient", 1, None, Classification::TRANSIENT),
            ("2: transient", 2, None, Classification::TRANSIENT),
            ("4: transient", 4, None, Classification::TRANSIENT),
            ("17: transient", 17, None, Classification::TRANSIENT),
            ("32: transient", 32, None, Classification::TRANSIENT),
            ("341: transient", 341, None, Classification::TRANSIENT),
            ("613: transient", 613, None, Classification::TRANSIENT),
            (
                "368: the post's problem",
                368,
                None,
                Classification::PostRejected,
            ),
            (
                "506 duplicate: the post's problem",
                506,
                None,
                Classification::PostRejected,
            ),
            (
                "1609005 bad link: the post's problem",
                100,
                Some(1609005),
                Classification::PostRejected,
            ),
        ];
        for (row, code, subcode, expected) in rows {
            for endpoint in [Endpoint::Api, Endpoint::PagePost] {
                let body = graph_error(code, subcode, "OAuthException");
                assert_eq!(
                    classified(Provider::Facebook, endpoint, &response(400, &body)),
                    expected,
                    "{row}"
                );
            }
        }
    }

    #[test]
    fn is_transient_wins_over_any_code() {
        let body = r#"{"error":{"message":"m","type":"OAuthException","code":190,"error_subcode":460,"is_transient":true}}"#;
        assert_eq!(
            classified(Provider::Facebook, Endpoint::Api, &response(400, body)),
            Classification::TRANSIENT
        );
    }

    #[test]
    fn throttling_waits_for_the_usage_headers_estimate() {
        let limited = response_with(
            400,
            &[
                (
                    "x-app-usage",
                    r#"{"call_count":100,"total_cputime":0,"total_time":0}"#,
                ),
                (
                    "x-business-use-case-usage",
                    r#"{"1234":[{"type":"pages","call_count":100,"estimated_time_to_regain_access":15}]}"#,
                ),
            ],
            &graph_error(4, None, "OAuthException"),
        );
        assert_eq!(
            classified(Provider::Facebook, Endpoint::Api, &limited),
            Classification::Transient {
                retry_after: Some(Duration::from_secs(15 * 60))
            }
        );
    }

    #[test]
    fn a_refused_client_secret_is_our_configuration() {
        let body = graph_error(1, None, "OAuthException");
        assert_eq!(
            classified(Provider::Facebook, Endpoint::Token, &response(400, &body)),
            Classification::Configuration
        );
    }

    #[test]
    fn the_graph_type_never_decides() {
        for kind in [
            "OAuthException",
            "IGApiException",
            "GraphMethodException",
            "",
        ] {
            assert_eq!(
                classified(
                    Provider::Facebook,
                    Endpoint::Api,
                    &response(400, &graph_error(190, Some(460), kind)),
                ),
                broken(BreakReason::PasswordChanged)
            );
        }
    }

    #[test]
    fn malformed_graph_bodies_are_classified_without_panicking() {
        let rows = [
            (400, "", Classification::Unknown),
            (400, "<!DOCTYPE html>", Classification::Unknown),
            (400, r#"{"error":"invalid"}"#, Classification::Unknown),
            (
                400,
                r#"{"error":{"code":"190","error_subcode":"460"}}"#,
                broken(BreakReason::PasswordChanged),
            ),
            (400, r#"{"error":{"code":-1}}"#, Classification::Unknown),
            (400, r#"{"error":{"code":1.5}}"#, Classification::Unknown),
            (
                400,
                r#"{"error":{"code":190,"error_subcode":null}}"#,
                broken(BreakReason::TokenRevoked),
            ),
            (
                400,
                r#"{"error":{"is_transient":"yes","code":506}}"#,
                Classification::PostRejected,
            ),
            (500, "garbage", Classification::TRANSIENT),
            (429, "", Classification::TRANSIENT),
        ];
        for (status, body, expected) in rows {
            assert_eq!(
                classified(
                    Provider::Facebook,
                    Endpoint::PagePost,
                    &response(status, body)
                ),
                expected,
                "{status} {body:?}"
            );
        }
    }
}
