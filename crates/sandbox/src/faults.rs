//! Injected faults: outage (5xx), rate limit (the provider's throttling answer: 429 with
//! its headers, or Graph's HTTP 400 with code 4, 17, 32 or 613 and `X-App-Usage`), Graph's
//! throttling as a plain HTTP 429, latency, flaky (a fraction of calls fail transiently),
//! LinkedIn's spurious 65601, X's `client-forbidden` and duplicate-content 403s,
//! Instagram media containers that end in `ERROR`, and Instagram's "media not ready" on
//! `media_publish` after `FINISHED`. A fault lasts a number of calls, a number of seconds
//! on the sandbox clock, or until cleared. They apply to the API and token endpoints,
//! never to the consent pages; the last three only to posting a tweet, creating a
//! container and publishing one, where their handlers take them ([`World::take_fault`]).

use std::fmt;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};

use crate::clock::{epoch_secs, seconds_until, Millis, MINUTE};
use crate::errors::{self, GraphError};
use crate::params::bearer;
use crate::state::{Provider, World};
use crate::Sandbox;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum FaultKind {
    Outage,
    RateLimit,
    /// Graph's throttling as HTTP 429 (LinkedIn's and X's `rate-limit` already are 429).
    #[serde(rename = "rate-limit-429")]
    RateLimit429,
    Latency,
    Flaky,
    SpuriousRevoked,
    ClientForbidden,
    DuplicateContent,
    MediaError,
    MediaNotReady,
}

impl FaultKind {
    fn parse(kind: &str) -> Option<FaultKind> {
        Some(match kind {
            "outage" => FaultKind::Outage,
            "rate-limit" => FaultKind::RateLimit,
            "rate-limit-429" => FaultKind::RateLimit429,
            "latency" => FaultKind::Latency,
            "flaky" => FaultKind::Flaky,
            "spurious-revoked" => FaultKind::SpuriousRevoked,
            "client-forbidden" => FaultKind::ClientForbidden,
            "duplicate-content" => FaultKind::DuplicateContent,
            "media-error" => FaultKind::MediaError,
            "media-not-ready" => FaultKind::MediaNotReady,
            _ => return None,
        })
    }

    /// The one provider a kind belongs to, if it is not everyone's.
    fn only_for(self) -> Option<Provider> {
        match self {
            FaultKind::SpuriousRevoked => Some(Provider::LinkedIn),
            FaultKind::ClientForbidden | FaultKind::DuplicateContent => Some(Provider::X),
            FaultKind::MediaError | FaultKind::MediaNotReady => Some(Provider::Facebook),
            _ => None,
        }
    }

    /// Kinds their handlers take, rather than every call through the guard.
    fn is_targeted(self) -> bool {
        matches!(
            self,
            FaultKind::DuplicateContent | FaultKind::MediaError | FaultKind::MediaNotReady
        )
    }
}

/// Graph's throttling codes: application, user, page, and API-specific limits.
const GRAPH_THROTTLE_CODES: [u32; 4] = [4, 17, 32, 613];

/// The admin API's description of a fault to inject.
#[derive(Deserialize)]
pub(crate) struct FaultSpec {
    pub(crate) provider: String,
    pub(crate) kind: String,
    pub(crate) calls: Option<u32>,
    pub(crate) seconds: Option<f64>,
    pub(crate) ms: Option<u64>,
    pub(crate) fraction: Option<f64>,
    /// Graph `rate-limit`: the throttling code (4, 17, 32 or 613; 4 when absent).
    pub(crate) code: Option<u32>,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Fault {
    pub(crate) id: u64,
    pub(crate) provider: Provider,
    pub(crate) kind: FaultKind,
    /// Calls still to affect; `None` = unlimited.
    pub(crate) calls: Option<u32>,
    /// Epoch milliseconds (sandbox clock) when the fault ends; `None` = until cleared.
    pub(crate) until: Option<Millis>,
    pub(crate) ms: u64,
    pub(crate) fraction: f64,
    /// Graph `rate-limit`: the throttling code.
    pub(crate) code: Option<u32>,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            FaultKind::Outage => "outage".to_owned(),
            FaultKind::RateLimit => match self.code {
                Some(code) => format!("rate limit (code {code})"),
                None => "rate limit".to_owned(),
            },
            FaultKind::RateLimit429 => "rate limit (HTTP 429)".to_owned(),
            FaultKind::Latency => format!("latency {} ms", self.ms),
            FaultKind::Flaky => format!("flaky, {:.0}% of calls fail", self.fraction * 100.0),
            FaultKind::SpuriousRevoked => "spurious 65601".to_owned(),
            FaultKind::ClientForbidden => "client-forbidden 403".to_owned(),
            FaultKind::DuplicateContent => "duplicate-content 403 on posting".to_owned(),
            FaultKind::MediaError => "media containers end in ERROR".to_owned(),
            FaultKind::MediaNotReady => "media_publish answers media not ready".to_owned(),
        };
        write!(f, "{kind}")?;
        if let Some(calls) = self.calls {
            write!(f, ", {calls} more calls")?;
        }
        if let Some(until) = self.until {
            write!(f, ", until {}", crate::pages::format_time(until))?;
        }
        Ok(())
    }
}

/// Why a fault could not be injected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FaultError {
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    #[error(
        "unknown fault kind {0:?}: outage, rate-limit, rate-limit-429, latency, flaky, \
         spurious-revoked, client-forbidden, duplicate-content, media-error or \
         media-not-ready"
    )]
    UnknownKind(String),
    #[error("{kind} is {provider}'s fault only")]
    WrongProvider {
        kind: String,
        provider: &'static str,
    },
    #[error("\"code\" is Graph's rate-limit code: 4, 17, 32 or 613")]
    BadCode,
    #[error("latency needs \"ms\"")]
    LatencyWithoutMs,
    #[error("flaky needs \"fraction\" between 0 and 1")]
    BadFraction,
    #[error("\"seconds\" must be positive")]
    BadSeconds,
}

/// Which endpoints a guarded router serves: spurious revocations hit only the API.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surface {
    TokenEndpoint,
    Api,
}

/// What one request meets.
enum Failure {
    Unavailable,
    /// `code`: Graph's throttling code, answered as HTTP 400; `None`: a 429.
    RateLimited {
        reset: Millis,
        code: Option<u32>,
    },
    SpuriousRevoked,
    /// X's 403 for an app not allowed on the API; the client named if the token is known.
    ClientForbidden {
        client_id: Option<String>,
    },
}

impl World {
    pub(crate) fn add_fault(&mut self, spec: &FaultSpec, now: Millis) -> Result<Fault, FaultError> {
        let provider = Provider::parse_world(&spec.provider)
            .ok_or_else(|| FaultError::UnknownProvider(spec.provider.clone()))?;
        let kind = FaultKind::parse(&spec.kind)
            .ok_or_else(|| FaultError::UnknownKind(spec.kind.clone()))?;
        if let Some(owner) = kind.only_for().filter(|&owner| owner != provider) {
            return Err(FaultError::WrongProvider {
                kind: spec.kind.clone(),
                provider: owner.slug(),
            });
        }
        let code = match spec.code {
            None => None,
            Some(code)
                if kind == FaultKind::RateLimit
                    && provider.is_graph()
                    && GRAPH_THROTTLE_CODES.contains(&code) =>
            {
                Some(code)
            }
            Some(_) => return Err(FaultError::BadCode),
        };
        let fraction = spec.fraction.unwrap_or(0.5);
        match kind {
            FaultKind::Latency if spec.ms.is_none() => return Err(FaultError::LatencyWithoutMs),
            FaultKind::Flaky if !(0.0..=1.0).contains(&fraction) => {
                return Err(FaultError::BadFraction)
            }
            _ => {}
        }
        if spec.seconds.is_some_and(|s| !(s > 0.0 && s.is_finite())) {
            return Err(FaultError::BadSeconds);
        }
        let calls = match kind {
            // "65601, then fine": once unless told otherwise.
            FaultKind::SpuriousRevoked => Some(spec.calls.unwrap_or(1)),
            _ => spec.calls,
        };
        let fault = Fault {
            id: self.next_fault_id,
            provider,
            kind,
            calls,
            until: spec.seconds.map(|s| now + (s * 1000.0).round() as Millis),
            ms: spec.ms.unwrap_or(0),
            fraction,
            code,
        };
        self.next_fault_id += 1;
        self.faults.push(fault.clone());
        Ok(fault)
    }

    fn drop_spent_faults(&mut self, now: Millis) {
        self.faults
            .retain(|f| f.calls != Some(0) && f.until.is_none_or(|until| until > now));
    }

    /// Whether a live fault of `kind` hits this call, using up one of its calls: for the
    /// faults one endpoint takes itself (duplicate content, media errors).
    pub(crate) fn take_fault(&mut self, provider: Provider, kind: FaultKind, now: Millis) -> bool {
        self.drop_spent_faults(now);
        let fault = self
            .faults
            .iter_mut()
            .find(|f| f.provider == provider && f.kind == kind);
        match fault {
            Some(fault) => {
                if let Some(calls) = fault.calls.as_mut() {
                    *calls = calls.saturating_sub(1);
                }
                true
            }
            None => false,
        }
    }

    /// Faults due for one request: total latency and the failure, if any. Uses up calls.
    fn draw_faults(
        &mut self,
        provider: Provider,
        surface: Surface,
        token: Option<&str>,
        now: Millis,
    ) -> (u64, Option<Failure>) {
        self.drop_spent_faults(now);
        let mut latency = 0;
        let mut failure = None;
        for index in 0..self.faults.len() {
            let fault = &self.faults[index];
            if fault.provider != provider || failure.is_some() || fault.kind.is_targeted() {
                continue;
            }
            let hit = match fault.kind {
                FaultKind::Latency => {
                    latency += fault.ms;
                    true
                }
                FaultKind::Outage => {
                    failure = Some(Failure::Unavailable);
                    true
                }
                FaultKind::RateLimit | FaultKind::RateLimit429 => {
                    let reset = fault.until.unwrap_or(now + (15 * MINUTE) as Millis * 1000);
                    let code = match (fault.kind, provider.is_graph()) {
                        (FaultKind::RateLimit, true) => Some(fault.code.unwrap_or(4)),
                        _ => None,
                    };
                    failure = Some(Failure::RateLimited { reset, code });
                    true
                }
                FaultKind::SpuriousRevoked => {
                    let hit = surface == Surface::Api;
                    if hit {
                        failure = Some(Failure::SpuriousRevoked);
                    }
                    hit
                }
                FaultKind::ClientForbidden => {
                    let hit = surface == Surface::Api;
                    if hit {
                        let client_id = token
                            .and_then(|t| self.token(t))
                            .map(|t| self.grant(t.grant).client_id.clone());
                        failure = Some(Failure::ClientForbidden { client_id });
                    }
                    hit
                }
                FaultKind::Flaky => {
                    let fraction = fault.fraction;
                    let hit = self.random_unit() < fraction;
                    if hit {
                        failure = Some(Failure::Unavailable);
                    }
                    hit
                }
                FaultKind::DuplicateContent | FaultKind::MediaError | FaultKind::MediaNotReady => {
                    false
                }
            };
            if let (true, Some(calls)) = (hit, self.faults[index].calls.as_mut()) {
                *calls = calls.saturating_sub(1);
            }
        }
        (latency, failure)
    }
}

#[derive(Clone)]
struct Guard {
    sandbox: Sandbox,
    provider: Provider,
    surface: Surface,
}

/// Puts `router`'s routes behind the provider's faults.
pub(crate) fn guard(
    router: Router<Sandbox>,
    sandbox: &Sandbox,
    provider: Provider,
    surface: Surface,
) -> Router<Sandbox> {
    let guard = Guard {
        sandbox: sandbox.clone(),
        provider,
        surface,
    };
    router.route_layer(middleware::from_fn_with_state(guard, inject))
}

async fn inject(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let now = guard.sandbox.clock().now();
    let (latency, failure) = {
        let mut world = guard.sandbox.world();
        // Checked first so a call without faults leaves the world (and its file) untouched.
        if world.faults.is_empty() {
            (0, None)
        } else {
            let token = bearer(request.headers());
            world.draw_faults(guard.provider, guard.surface, token, now)
        }
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match failure {
        None => next.run(request).await,
        Some(failure) => failure_response(guard.provider, failure, now, request.uri().path()),
    }
}

fn failure_response(provider: Provider, failure: Failure, now: Millis, path: &str) -> Response {
    match (provider, failure) {
        (_, Failure::SpuriousRevoked) => errors::linkedin_revoked().into_response(),
        (Provider::LinkedIn, Failure::Unavailable) => errors::linkedin(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            None,
            "Internal Server Error",
        )
        .into_response(),
        (_, Failure::ClientForbidden { client_id }) => {
            errors::x_client_forbidden(client_id.as_deref()).into_response()
        }
        (Provider::LinkedIn, Failure::RateLimited { .. }) => errors::linkedin(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            None,
            "Resource level throttle APPLICATION DAY limit for CALL_COUNT exceeded",
        )
        .into_response(),
        (Provider::X, Failure::Unavailable) => errors::x_problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "about:blank",
            "Service Unavailable",
        )
        .into_response(),
        (Provider::X, Failure::RateLimited { reset, .. }) => {
            errors::x_rate_limited(100, epoch_secs(reset)).into_response()
        }
        (Provider::Facebook | Provider::Instagram, Failure::Unavailable) => GraphError::new(
            2,
            "An unexpected error has occurred. Please retry your request later.",
        )
        .transient(true)
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .into_response(),
        (Provider::Facebook | Provider::Instagram, Failure::RateLimited { reset, code }) => {
            graph_rate_limited(code, seconds_until(now, reset), path)
        }
    }
}

/// Graph's throttling message for each code.
fn throttle_message(code: u32) -> &'static str {
    match code {
        17 => "(#17) User request limit reached",
        32 => "(#32) Page request limit reached",
        613 => "(#613) Calls to this api have exceeded the rate limit.",
        _ => "(#4) Application request limit reached",
    }
}

/// Graph's throttling answer with `X-App-Usage` and `X-Business-Use-Case-Usage` (keyed by
/// the object the request named): HTTP 400 with the throttling `code`, as Graph sends it,
/// or, without a code, code 4 as HTTP 429.
fn graph_rate_limited(code: Option<u32>, seconds_left: i64, path: &str) -> Response {
    let object = path
        .split('/')
        .find(|segment| !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("0");
    let minutes = (seconds_left + 59) / 60;
    let app_usage = serde_json::json!({"call_count": 100, "total_cputime": 0, "total_time": 0});
    let business_usage = serde_json::json!({
        object: [{
            "type": "pages",
            "call_count": 100,
            "total_cputime": 0,
            "total_time": 0,
            "estimated_time_to_regain_access": minutes,
        }]
    });
    let error = match code {
        Some(code) => GraphError::new(code, throttle_message(code)),
        None => GraphError::new(4, throttle_message(4)).status(StatusCode::TOO_MANY_REQUESTS),
    };
    errors::ProviderError::from(error.transient(true))
        .with_header("x-app-usage", app_usage.to_string())
        .with_header("x-business-use-case-usage", business_usage.to_string())
        .into_response()
}
