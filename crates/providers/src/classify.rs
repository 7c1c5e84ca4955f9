//! What a failed provider call means for the connection (providers.md, design.md §2 rule 4):
//! retry later, broken (and whether to confirm first), our own configuration, or the post's
//! problem. Each provider module has its classifier; this module holds what they share.
//! Decisions are made on parsed fields only (status, headers, JSON fields), never on
//! substrings of a body, and never on Graph's `type`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

use crate::{facebook, instagram, linkedin, x, BreakReason, Provider};

/// What a failure means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classification {
    /// A provider hiccup: back off and try again, never break.
    Transient { retry_after: Option<Duration> },
    /// The token is dead (or the member must act at the provider), unless `confirm` says
    /// another step may still save it.
    Broken {
        reason: BreakReason,
        confirm: Confirm,
    },
    /// Our side is wrong (client secret, retired API version): an operator alarm, never an
    /// email to the member.
    Configuration,
    /// The post itself was refused (duplicate, bad link or media, a posting limit); the
    /// connection is fine.
    PostRejected,
    /// An answer providers.md does not describe: neither a break nor a blind retry.
    Unknown,
}

/// The step to take before believing a [`Classification::Broken`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirm {
    /// Break now.
    No,
    /// The provider is known to say this spuriously (LinkedIn 65600/65601 right after a
    /// login): break only if one probe fails too.
    Probe,
    /// The access token is no longer accepted: refresh once if a refresh token exists, and
    /// break only if that fails (its own classification then says why).
    Refresh,
}

impl Classification {
    /// Broken, to be believed at once.
    pub fn broken(reason: BreakReason) -> Self {
        Classification::Broken {
            reason,
            confirm: Confirm::No,
        }
    }

    pub(crate) const TRANSIENT: Classification = Classification::Transient { retry_after: None };

    pub fn is_transient(&self) -> bool {
        matches!(self, Classification::Transient { .. })
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Classification::Transient {
                retry_after: Some(after),
            } => write!(f, "transient, retry after {}s", after.as_secs()),
            Classification::Transient { retry_after: None } => f.write_str("transient"),
            Classification::Broken { reason, confirm } => {
                write!(f, "broken ({reason})")?;
                match confirm {
                    Confirm::No => Ok(()),
                    Confirm::Probe => f.write_str(" unless a probe succeeds"),
                    Confirm::Refresh => f.write_str(" unless a refresh succeeds"),
                }
            }
            Classification::Configuration => f.write_str("our configuration is wrong"),
            Classification::PostRejected => f.write_str("the post was refused"),
            Classification::Unknown => f.write_str("unrecognised answer"),
        }
    }
}

/// Which kind of endpoint answered: the same status means different things on each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// The OAuth token endpoint (code exchange, refresh) and its siblings (revoke,
    /// introspection).
    Token,
    /// An API call made with the member's token.
    Api,
    /// Publishing as the member.
    Post,
    /// Publishing as a business page (LinkedIn organization, Facebook page, Instagram
    /// account): a lost permission there is a lost page role.
    PagePost,
}

impl Endpoint {
    pub(crate) fn is_post(self) -> bool {
        matches!(self, Endpoint::Post | Endpoint::PagePost)
    }
}

/// A non-2xx answer, as the classifiers read it.
#[derive(Clone)]
pub struct FailedResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl FailedResponse {
    pub fn new(status: StatusCode, headers: HeaderMap, body: impl Into<Vec<u8>>) -> Self {
        FailedResponse {
            status,
            headers,
            body: body.into(),
        }
    }

    /// The body as JSON, `Null` when it is not JSON: every lookup below then finds nothing.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

// Bodies are not shown: the classifiers read them, logs get the parsed codes.
impl fmt::Debug for FailedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailedResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// What `response` means at `provider`. `now` is when it arrived (rate-limit resets are
/// epoch times). The status rules every provider shares come first, then the provider's
/// own fields.
pub fn classify(
    provider: Provider,
    endpoint: Endpoint,
    response: &FailedResponse,
    now: SystemTime,
) -> Classification {
    by_status(response, now).unwrap_or_else(|| match provider {
        Provider::LinkedIn => linkedin::classify(endpoint, response),
        Provider::X => x::classify(endpoint, response),
        Provider::Facebook => facebook::classify(endpoint, response, now),
        Provider::Instagram => instagram::classify(endpoint, response, now),
    })
}

/// A failure to get any answer at all.
pub fn classify_transport(error: &reqwest::Error) -> Classification {
    if error.is_builder() {
        // A URL we could not even build a request for comes from configuration.
        Classification::Configuration
    } else if error.is_decode() {
        Classification::Unknown
    } else {
        // Timeouts, refused or reset connections, TLS failures, cut-off bodies.
        Classification::TRANSIENT
    }
}

/// What every provider's answer means before its own fields are read: 5xx and 429 are
/// transient, and a redirect means an endpoint is misconfigured (we never follow one).
fn by_status(response: &FailedResponse, now: SystemTime) -> Option<Classification> {
    let status = response.status;
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        Some(Classification::Transient {
            retry_after: retry_after(&response.headers, now),
        })
    } else if status.is_redirection() {
        Some(Classification::Configuration)
    } else {
        None
    }
}

/// How long the provider asks us to wait, from whichever of its headers it sent:
/// `Retry-After` (seconds), X's `x-rate-limit-reset` (epoch seconds), Meta's usage
/// headers (`estimated_time_to_regain_access`, minutes). The longest wins.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let retry_after = header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let reset = header("x-rate-limit-reset")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|reset| {
            let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
            Duration::from_secs(reset).saturating_sub(now)
        });
    let meta = ["x-app-usage", "x-business-use-case-usage"]
        .into_iter()
        .filter_map(header)
        .filter_map(|v| serde_json::from_str::<Value>(v).ok())
        .filter_map(|usage| regain_minutes(&usage))
        .max()
        .map(|minutes| Duration::from_secs(minutes * 60));
    [retry_after, reset, meta]
        .into_iter()
        .flatten()
        .max()
        .filter(|wait| !wait.is_zero())
}

/// The largest `estimated_time_to_regain_access` anywhere in a usage header: at the top
/// of `X-App-Usage`, or per object and per entry in `X-Business-Use-Case-Usage`.
fn regain_minutes(usage: &Value) -> Option<u64> {
    match usage {
        Value::Object(map) => {
            let own = map.get("estimated_time_to_regain_access").and_then(number);
            map.values().filter_map(regain_minutes).chain(own).max()
        }
        Value::Array(items) => items.iter().filter_map(regain_minutes).max(),
        _ => None,
    }
}

/// A non-negative integer, sent as a number or as a numeric string.
pub(crate) fn number(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The OAuth `error` of a token endpoint's answer (RFC 6749 §5.2).
pub(crate) fn oauth_error(response: &FailedResponse) -> Option<String> {
    response
        .json()
        .get("error")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// What an OAuth token endpoint's error means (RFC 6749 §5.2), for LinkedIn and X alike.
pub(crate) fn token_endpoint(response: &FailedResponse) -> Classification {
    match oauth_error(response).as_deref() {
        Some("invalid_client" | "unauthorized_client") => Classification::Configuration,
        // The grant is dead: LinkedIn answers a dead refresh token with invalid_grant or
        // invalid_request, X a reused one with invalid_request.
        Some("invalid_grant" | "invalid_request") => {
            Classification::broken(BreakReason::RefreshFailed)
        }
        // Whatever the body, a 401 from the token endpoint refuses our client.
        _ if response.status == StatusCode::UNAUTHORIZED => Classification::Configuration,
        _ => Classification::Unknown,
    }
}

/// The parsed codes worth logging, whatever the provider: `error=invalid_grant`,
/// `serviceErrorCode=65601`, `code=190/460`, `type=…/client-forbidden`.
pub(crate) fn codes(response: &FailedResponse) -> String {
    let json = response.json();
    let mut parts = Vec::new();
    match json.get("error") {
        Some(Value::String(error)) => parts.push(format!("error={error}")),
        Some(graph @ Value::Object(_)) => {
            let code = graph.get("code").and_then(number);
            let subcode = graph.get("error_subcode").and_then(number);
            match (code, subcode) {
                (Some(code), Some(subcode)) => parts.push(format!("code={code}/{subcode}")),
                (Some(code), None) => parts.push(format!("code={code}")),
                _ => {}
            }
        }
        _ => {}
    }
    if let Some(code) = json.get("serviceErrorCode").and_then(number) {
        parts.push(format!("serviceErrorCode={code}"));
    }
    for field in ["code", "type"] {
        if let Some(value) = json.get(field).and_then(Value::as_str) {
            parts.push(format!("{field}={value}"));
        }
    }
    parts.join(" ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// A failed response for the classifier tables.
    pub(crate) fn response(status: u16, body: &str) -> FailedResponse {
        response_with(status, &[], body)
    }

    pub(crate) fn response_with(
        status: u16,
        headers: &[(&'static str, &str)],
        body: &str,
    ) -> FailedResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        FailedResponse::new(StatusCode::from_u16(status).unwrap(), map, body)
    }

    pub(crate) fn at(epoch_secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(epoch_secs)
    }

    /// When the classifier tables' answers arrive.
    pub(crate) const NOW: u64 = 1_800_000_000;

    /// `provider`'s whole classification of `response` at [`NOW`], shared status rules
    /// included.
    pub(crate) fn classified(
        provider: Provider,
        endpoint: Endpoint,
        response: &FailedResponse,
    ) -> Classification {
        classify(provider, endpoint, response, at(NOW))
    }

    #[test]
    fn retry_after_takes_the_longest_wait_any_header_asks_for() {
        let headers = response_with(
            429,
            &[
                ("retry-after", "30"),
                ("x-rate-limit-reset", "1000090"),
                (
                    "x-business-use-case-usage",
                    r#"{"123":[{"type":"pages","call_count":100,"estimated_time_to_regain_access":2}]}"#,
                ),
            ],
            "",
        )
        .headers;
        assert_eq!(
            retry_after(&headers, at(1_000_000)),
            Some(Duration::from_secs(120))
        );
    }

    #[test]
    fn a_reset_in_the_past_or_garbage_headers_ask_for_no_wait() {
        let headers = response_with(
            429,
            &[
                ("x-rate-limit-reset", "999"),
                ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
                ("x-app-usage", "not json"),
                ("x-business-use-case-usage", r#"{"1":"oops"}"#),
            ],
            "",
        )
        .headers;
        assert_eq!(retry_after(&headers, at(1_000_000)), None);
    }

    #[test]
    fn codes_name_the_parsed_fields_only() {
        let graph = response(
            400,
            r#"{"error":{"message":"token EAAB","type":"OAuthException","code":190,"error_subcode":460}}"#,
        );
        assert_eq!(codes(&graph), "code=190/460");
        let linkedin = response(
            401,
            r#"{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN","message":"m"}"#,
        );
        assert_eq!(
            codes(&linkedin),
            "serviceErrorCode=65601 code=REVOKED_ACCESS_TOKEN"
        );
        assert_eq!(codes(&response(502, "<html>")), "");
    }
}
