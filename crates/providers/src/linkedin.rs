//! LinkedIn: OAuth on www.linkedin.com (client_secret_post, no PKCE, space-separated
//! scopes), identity from OpenID Connect `userinfo`, organizations the member administers,
//! posts through the versioned `/rest/posts` API (publishing, and finding an author's
//! latest), and its error classifier.

use oauth2::AuthType;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

use crate::classify::{self, number, Classification, Confirm, Endpoint, FailedResponse};
use crate::error::{Error, Problem};
use crate::http::Http;
use crate::oauth::{Authorization, Dialect, OAuth, ScopeSet, TokenSet};
use crate::{BreakReason, Page, PostContent, Provider, ProviderConfig, Published, RecentPost};

/// The `LinkedIn-Version` (YYYYMM) sent to the `/rest` API. LinkedIn retires a version
/// about a year after its release and then answers 426: an operator alarm.
pub const LINKEDIN_VERSION: &str = "202610";

const DIALECT: Dialect = Dialect {
    provider: Provider::LinkedIn,
    auth_type: AuthType::RequestBody,
    pkce: false,
    scope_separator: " ",
};

/// Who a post is published as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Author {
    /// The member, by the `sub` of their userinfo.
    Person(String),
    /// An organization the member administers, by its numeric id.
    Organization(String),
}

impl Author {
    fn urn(&self) -> String {
        match self {
            Author::Person(id) => format!("urn:li:person:{id}"),
            Author::Organization(id) => format!("urn:li:organization:{id}"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct LinkedIn {
    http: Http,
    oauth: OAuth,
    version: String,
}

impl LinkedIn {
    pub fn new(http: Http, config: ProviderConfig) -> Self {
        LinkedIn {
            http,
            oauth: OAuth::new(DIALECT, config),
            version: LINKEDIN_VERSION.to_owned(),
        }
    }

    /// Another `LinkedIn-Version` than [`LINKEDIN_VERSION`].
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    pub fn authorize(&self, redirect_uri: &Url, scopes: ScopeSet) -> Authorization {
        self.oauth.authorize(redirect_uri, scopes)
    }

    pub async fn exchange_code(&self, code: &str, redirect_uri: &Url) -> Result<TokenSet, Error> {
        self.oauth
            .exchange_code(&self.http, code, redirect_uri, None)
            .await
    }

    /// Only apps LinkedIn approved for it get refresh tokens; they do not rotate.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet, Error> {
        self.oauth.refresh(&self.http, refresh_token).await
    }

    /// Best effort: the caller removes the connection whatever this answers.
    pub async fn revoke(&self, token: &SecretString) -> Result<(), Error> {
        self.oauth.revoke(&self.http, token).await
    }

    pub async fn identity(&self, token: &SecretString) -> Result<crate::Identity, Error> {
        #[derive(Deserialize)]
        struct UserInfo {
            sub: String,
            name: Option<String>,
            email: Option<String>,
        }
        let info: UserInfo = self
            .oauth
            .userinfo(&self.http, token, &[], "userinfo with a sub")
            .await?;
        Ok(crate::Identity {
            id: info.sub,
            name: info.name,
            username: None,
            email: info.email,
        })
    }

    /// Confirms a token works: introspection when configured (it tells expired from
    /// revoked, and LinkedIn's spurious 65601 does not reach it), else userinfo.
    pub async fn probe(&self, token: &SecretString) -> Result<(), Error> {
        let endpoints = &self.oauth.config().endpoints;
        let Some(url) = &endpoints.introspect_url else {
            return self.identity(token).await.map(drop);
        };
        #[derive(Deserialize)]
        struct Introspection {
            active: bool,
            status: Option<String>,
        }
        let credentials = &self.oauth.config().credentials;
        let request = self.http.client().post(url.clone()).form(&[
            ("client_id", credentials.client_id.as_str()),
            ("client_secret", credentials.client_secret.expose_secret()),
            ("token", token.expose_secret()),
        ]);
        let answer = self
            .http
            .send(Provider::LinkedIn, Endpoint::Token, request)
            .await?;
        let introspection: Introspection = answer.json("an introspection with active")?;
        if introspection.active {
            return Ok(());
        }
        let state = introspection
            .status
            .unwrap_or_else(|| "inactive".to_owned());
        let classification = match state.as_str() {
            "expired" => Classification::Broken {
                reason: BreakReason::TokenExpired,
                confirm: Confirm::Refresh,
            },
            _ => Classification::broken(BreakReason::TokenRevoked),
        };
        Err(answer.call.error(Problem::Reported {
            state,
            classification,
        }))
    }

    fn rest(
        &self,
        request: reqwest::RequestBuilder,
        token: &SecretString,
    ) -> reqwest::RequestBuilder {
        request
            .bearer_auth(token.expose_secret())
            .header("LinkedIn-Version", &self.version)
            .header("X-Restli-Protocol-Version", "2.0.0")
    }

    /// The organizations the member administers (needs `rw_organization_admin`).
    pub async fn organizations(&self, token: &SecretString) -> Result<Vec<Page>, Error> {
        let endpoints = &self.oauth.config().endpoints;
        let url = endpoints.api("/rest/organizationAcls");
        let request = self.rest(self.http.client().get(url), token).query(&[
            ("q", "roleAssignee"),
            ("role", "ADMINISTRATOR"),
            ("state", "APPROVED"),
        ]);
        let answer = self
            .http
            .send(Provider::LinkedIn, Endpoint::Api, request)
            .await?;
        let acls: Value = answer.json("organizationAcls")?;
        let ids: Vec<String> = acls["elements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|acl| acl["organization"].as_str())
            .filter_map(|urn| urn.strip_prefix("urn:li:organization:"))
            .map(str::to_owned)
            .collect();
        let mut pages = Vec::with_capacity(ids.len());
        for id in ids {
            let url = endpoints.api(&format!("/rest/organizations/{id}"));
            let request = self.rest(self.http.client().get(url), token);
            let answer = self
                .http
                .send(Provider::LinkedIn, Endpoint::Api, request)
                .await?;
            let organization: Value = answer.json("an organization")?;
            let name = organization["localizedName"]
                .as_str()
                .unwrap_or(&id)
                .to_owned();
            pages.push(Page {
                id,
                name,
                access_token: None,
            });
        }
        Ok(pages)
    }

    pub async fn publish(
        &self,
        token: &SecretString,
        author: &Author,
        post: &PostContent,
    ) -> Result<Published, Error> {
        let url = self.oauth.config().endpoints.api("/rest/posts");
        let endpoint = match author {
            Author::Person(_) => Endpoint::Post,
            Author::Organization(_) => Endpoint::PagePost,
        };
        let request = self
            .rest(self.http.client().post(url), token)
            .json(&post_body(author, post));
        let answer = self
            .http
            .send(Provider::LinkedIn, endpoint, request)
            .await?;
        let id = answer
            .headers
            .get("x-restli-id")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| answer.call.malformed("a post URN in x-restli-id"))?;
        Ok(Published { id: id.to_owned() })
    }

    /// The author's latest posts, newest first (LinkedIn answers at most 100 per call).
    /// Reading a person's posts needs `r_member_social`, which LinkedIn grants only to
    /// approved apps; an organization's needs `r_organization_social`.
    pub async fn recent_posts(
        &self,
        token: &SecretString,
        author: &Author,
        limit: usize,
    ) -> Result<Vec<RecentPost>, Error> {
        #[derive(Deserialize)]
        struct Posts {
            elements: Vec<Element>,
        }
        #[derive(Deserialize)]
        struct Element {
            id: String,
            #[serde(default)]
            commentary: String,
        }
        let url = self.oauth.config().endpoints.api("/rest/posts");
        let count = limit.clamp(1, 100).to_string();
        let request = self.rest(self.http.client().get(url), token).query(&[
            ("q", "author"),
            ("author", author.urn().as_str()),
            ("count", count.as_str()),
        ]);
        // An organization's posts are the page's: a permission lost there is the role on
        // that page, not the connection.
        let endpoint = match author {
            Author::Person(_) => Endpoint::Api,
            Author::Organization(_) => Endpoint::PagePost,
        };
        let answer = self
            .http
            .send(Provider::LinkedIn, endpoint, request)
            .await?;
        let posts: Posts = answer.json("posts in elements")?;
        Ok(posts
            .elements
            .into_iter()
            .take(limit)
            .map(|post| RecentPost {
                text: plain_text(&post.commentary),
                id: post.id,
            })
            .collect())
    }
}

/// The body LinkedIn's Posts API takes (providers.md), commentary in its "little text"
/// format.
fn post_body(author: &Author, post: &PostContent) -> Value {
    let mut body = json!({
        "author": author.urn(),
        "commentary": little_text(&post.text),
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": false,
    });
    if let Some(link) = &post.link {
        let title = post.link_title.clone().unwrap_or_else(|| link.to_string());
        body["content"] = json!({"article": {"source": link.as_str(), "title": title}});
    }
    body
}

/// LinkedIn reads these characters as markup in commentary and silently cuts the text at
/// the first one unescaped.
fn little_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\|{}@[]()<>#*_~".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Commentary as it was written before [`little_text`] escaped it.
fn plain_text(commentary: &str) -> String {
    let mut plain = String::with_capacity(commentary.len());
    let mut chars = commentary.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(&next) if c == '\\' && "\\|{}@[]()<>#*_~".contains(next) => {
                plain.push(next);
                chars.next();
            }
            _ => plain.push(c),
        }
    }
    plain
}

/// LinkedIn's answers (providers.md "LinkedIn — Errors").
pub(crate) fn classify(endpoint: Endpoint, response: &FailedResponse) -> Classification {
    if endpoint == Endpoint::Token {
        return classify::token_endpoint(response);
    }
    let json = response.json();
    let service_code = json.get("serviceErrorCode").and_then(number);
    let code = json.get("code").and_then(Value::as_str);
    match response.status.as_u16() {
        401 if service_code == Some(65602) => Classification::Broken {
            reason: BreakReason::TokenExpired,
            confirm: Confirm::Refresh,
        },
        // 65600, 65601 (seen spuriously right after a login) and a 401 without a code.
        401 => Classification::Broken {
            reason: BreakReason::TokenRevoked,
            confirm: Confirm::Probe,
        },
        403 if service_code == Some(100) => {
            Classification::broken(if endpoint == Endpoint::PagePost {
                BreakReason::PageAccessLost
            } else {
                BreakReason::PermissionMissing
            })
        }
        426 => Classification::Configuration,
        400 if code == Some("VERSION_MISSING") => Classification::Configuration,
        422 if endpoint.is_post() => Classification::PostRejected,
        _ => Classification::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::tests::{classified, response};

    fn linkedin_error(status: u16, service_code: u32, code: &str) -> String {
        format!(
            r#"{{"status":{status},"serviceErrorCode":{service_code},"code":"{code}","message":"m"}}"#
        )
    }

    #[test]
    fn every_row_of_the_linkedin_table() {
        let probe = |reason| Classification::Broken {
            reason,
            confirm: Confirm::Probe,
        };
        let rows: Vec<(&str, Endpoint, u16, String, Classification)> = vec![
            (
                "401, serviceErrorCode 65600 (INVALID_ACCESS_TOKEN): broken after one confirming probe",
                Endpoint::Api,
                401,
                linkedin_error(401, 65600, "INVALID_ACCESS_TOKEN"),
                probe(BreakReason::TokenRevoked),
            ),
            (
                "401, 65601 (REVOKED_ACCESS_TOKEN): broken after a probe",
                Endpoint::Post,
                401,
                linkedin_error(401, 65601, "REVOKED_ACCESS_TOKEN"),
                probe(BreakReason::TokenRevoked),
            ),
            (
                "401, 65602 (EXPIRED_ACCESS_TOKEN): refresh if possible, else token_expired",
                Endpoint::Api,
                401,
                linkedin_error(401, 65602, "EXPIRED_ACCESS_TOKEN"),
                Classification::Broken {
                    reason: BreakReason::TokenExpired,
                    confirm: Confirm::Refresh,
                },
            ),
            (
                "token endpoint 400 invalid_request: broken",
                Endpoint::Token,
                400,
                r#"{"error":"invalid_request","error_description":"grant or refresh token is invalid, expired or revoked"}"#.to_owned(),
                Classification::broken(BreakReason::RefreshFailed),
            ),
            (
                "token endpoint 400 invalid_grant: broken",
                Endpoint::Token,
                400,
                r#"{"error":"invalid_grant","error_description":"The provided authorization grant or refresh token is invalid, expired or revoked."}"#.to_owned(),
                Classification::broken(BreakReason::RefreshFailed),
            ),
            (
                "403, serviceErrorCode 100 Not enough permissions: permission_missing",
                Endpoint::Post,
                403,
                linkedin_error(403, 100, "ACCESS_DENIED"),
                Classification::broken(BreakReason::PermissionMissing),
            ),
            (
                "403, serviceErrorCode 100 posting as an organization: page role lost",
                Endpoint::PagePost,
                403,
                linkedin_error(403, 100, "ACCESS_DENIED"),
                Classification::broken(BreakReason::PageAccessLost),
            ),
            (
                "426 NONEXISTENT_VERSION: our configuration",
                Endpoint::Post,
                426,
                r#"{"status":426,"code":"NONEXISTENT_VERSION","message":"Requested version 202001 is not active"}"#.to_owned(),
                Classification::Configuration,
            ),
            (
                "429: transient, no rate-limit headers",
                Endpoint::Api,
                429,
                r#"{"status":429,"message":"Resource level throttle APPLICATION DAY limit for CALL_COUNT exceeded"}"#.to_owned(),
                Classification::TRANSIENT,
            ),
            (
                "500: transient",
                Endpoint::Post,
                500,
                r#"{"status":500,"message":"Internal Server Error"}"#.to_owned(),
                Classification::TRANSIENT,
            ),
            (
                "wrong client secret (invalid_client): our configuration",
                Endpoint::Token,
                401,
                r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#.to_owned(),
                Classification::Configuration,
            ),
            (
                "missing LinkedIn-Version: our configuration",
                Endpoint::Post,
                400,
                r#"{"status":400,"code":"VERSION_MISSING","message":"A version must be present."}"#.to_owned(),
                Classification::Configuration,
            ),
        ];
        for (row, endpoint, status, body, expected) in rows {
            assert_eq!(
                classified(Provider::LinkedIn, endpoint, &response(status, &body)),
                expected,
                "{row}"
            );
        }
    }

    #[test]
    fn malformed_linkedin_bodies_fall_back_on_the_status() {
        let rows = [
            (
                Endpoint::Api,
                401,
                "",
                Classification::Broken {
                    reason: BreakReason::TokenRevoked,
                    confirm: Confirm::Probe,
                },
            ),
            (
                Endpoint::Api,
                401,
                "<html>denied</html>",
                Classification::Broken {
                    reason: BreakReason::TokenRevoked,
                    confirm: Confirm::Probe,
                },
            ),
            (
                Endpoint::Api,
                401,
                r#"{"serviceErrorCode":"65602"}"#,
                Classification::Broken {
                    reason: BreakReason::TokenExpired,
                    confirm: Confirm::Refresh,
                },
            ),
            (
                Endpoint::Api,
                401,
                r#"{"serviceErrorCode":{"nested":1}}"#,
                Classification::Broken {
                    reason: BreakReason::TokenRevoked,
                    confirm: Confirm::Probe,
                },
            ),
            (Endpoint::Api, 403, "[1,2,3]", Classification::Unknown),
            (Endpoint::Api, 400, "not json", Classification::Unknown),
            (Endpoint::Token, 400, "", Classification::Unknown),
            (Endpoint::Token, 401, "", Classification::Configuration),
            (
                Endpoint::Token,
                400,
                r#"{"error":42}"#,
                Classification::Unknown,
            ),
            (Endpoint::Api, 503, "\u{0}\u{1}", Classification::TRANSIENT),
            (Endpoint::Api, 302, "", Classification::Configuration),
        ];
        for (endpoint, status, body, expected) in rows {
            assert_eq!(
                classified(Provider::LinkedIn, endpoint, &response(status, body)),
                expected,
                "{status} {body:?}"
            );
        }
    }

    #[test]
    fn commentary_reads_back_as_the_text_that_was_published() {
        for text in [
            "Hello (world) #launch",
            "a \\ backslash, a \\( pair, @mention_here *bold* ~x~ <b> [l](u) {t} a|b",
            "plain",
            "",
        ] {
            assert_eq!(plain_text(&little_text(text)), text);
        }
    }

    #[test]
    fn post_body_is_the_one_providers_md_gives() {
        let post = PostContent {
            text: "Hello (world) #launch".to_owned(),
            link: Some(Url::parse("https://acme.example/launch").unwrap()),
            link_title: Some("Launch".to_owned()),
            image_url: None,
        };
        assert_eq!(
            post_body(&Author::Person("abc".to_owned()), &post),
            json!({
                "author": "urn:li:person:abc",
                "commentary": "Hello \\(world\\) \\#launch",
                "visibility": "PUBLIC",
                "distribution": {
                    "feedDistribution": "MAIN_FEED",
                    "targetEntities": [],
                    "thirdPartyDistributionChannels": [],
                },
                "content": {"article": {"source": "https://acme.example/launch", "title": "Launch"}},
                "lifecycleState": "PUBLISHED",
                "isReshareDisabledByAuthor": false,
            })
        );
    }
}
