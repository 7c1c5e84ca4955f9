//! The authorization step every provider shares: the consent page (GET), the decision
//! (POST with `member` and `decision` plus the original query, so a script can skip the
//! page with one request), grants and single-use authorization codes.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;

use crate::clock::{Clock, Millis, DAY, MINUTE};
use crate::pages;
use crate::params::Params;
use crate::state::{
    Code, Grant, GrantId, GrantState, MemberId, Provider, World, DATA_ACCESS_LIFETIME,
};
use crate::tokens::{Death, Fingerprint};
use crate::Sandbox;

/// Fields of the consent form that are not part of the original query.
const FORM_FIELDS: [&str; 3] = ["member", "new_member", "decision"];

/// A validated authorization request.
pub(crate) struct AuthorizeRequest {
    pub(crate) provider: Provider,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: Url,
    pub(crate) state: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) code_challenge: Option<String>,
    /// The original query, echoed by the consent form as hidden fields.
    pub(crate) original: Vec<(String, String)>,
}

impl AuthorizeRequest {
    fn parse(provider: Provider, params: &Params) -> Result<Self, String> {
        let response_type = params
            .get("response_type")
            .unwrap_or(if provider.is_graph() { "code" } else { "" });
        if response_type != "code" {
            return Err("response_type must be \"code\".".to_owned());
        }
        let client_id = params
            .nonempty("client_id")
            .ok_or("The client_id parameter is missing.")?;
        let redirect_uri = params
            .nonempty("redirect_uri")
            .and_then(|uri| Url::parse(uri).ok())
            .ok_or("The redirect_uri parameter is missing or is not an absolute URL.")?;
        let state = params.nonempty("state").map(str::to_owned);
        let scope = params.get("scope").unwrap_or_default();
        let scopes: Vec<String> = scope
            .split(|c: char| c == ' ' || (provider.is_graph() && c == ','))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if scopes.is_empty() && !provider.is_graph() {
            return Err("The scope parameter is missing.".to_owned());
        }
        let code_challenge = if provider == Provider::X {
            if params.get("code_challenge_method") != Some("S256") {
                return Err("PKCE is required: code_challenge_method must be S256.".to_owned());
            }
            let challenge = params
                .nonempty("code_challenge")
                .ok_or("PKCE is required: code_challenge is missing.")?;
            match &state {
                Some(state) if state.len() <= 500 => {}
                _ => return Err("state is required and may be at most 500 characters.".to_owned()),
            }
            Some(challenge.to_owned())
        } else {
            None
        };
        let mut original: Vec<(String, String)> = params
            .values
            .iter()
            .filter(|(k, _)| !FORM_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        original.sort();
        Ok(AuthorizeRequest {
            provider,
            client_id: client_id.to_owned(),
            redirect_uri,
            state,
            scopes,
            code_challenge,
            original,
        })
    }

    fn redirect(&self, extra: &[(&str, &str)]) -> Response {
        let mut target = self.redirect_uri.clone();
        {
            let mut pairs = target.query_pairs_mut();
            for (k, v) in extra {
                pairs.append_pair(k, v);
            }
            if let Some(state) = &self.state {
                pairs.append_pair("state", state);
            }
        }
        (StatusCode::FOUND, [(LOCATION, target.to_string())]).into_response()
    }

    /// How the provider reports the member declining.
    fn declined(&self) -> Response {
        match self.provider {
            Provider::LinkedIn => self.redirect(&[
                ("error", "user_cancelled_authorize"),
                ("error_description", "The user cancelled the authorization"),
            ]),
            Provider::X => self.redirect(&[("error", "access_denied")]),
            Provider::Facebook | Provider::Instagram => self.redirect(&[
                ("error", "access_denied"),
                ("error_code", "200"),
                ("error_description", "Permissions error"),
                ("error_reason", "user_denied"),
            ]),
        }
    }
}

/// The authorize URL: `GET` shows the consent page, `POST` takes the decision.
pub(crate) fn authorize_route(provider: Provider) -> MethodRouter<Sandbox> {
    get(
        move |State(sandbox): State<Sandbox>, params: Params| async move {
            consent_page(&sandbox, provider, &params)
        },
    )
    .post(
        move |State(sandbox): State<Sandbox>, params: Params| async move {
            decide(&sandbox, provider, &params)
        },
    )
}

/// `GET` of an authorize URL: the consent page.
fn consent_page(sandbox: &Sandbox, provider: Provider, params: &Params) -> Response {
    match AuthorizeRequest::parse(provider, params) {
        Ok(request) => pages::consent(sandbox, &request, None),
        Err(reason) => pages::authorize_error(provider, &reason),
    }
}

/// `POST` of an authorize URL: the member's decision.
fn decide(sandbox: &Sandbox, provider: Provider, params: &Params) -> Response {
    let request = match AuthorizeRequest::parse(provider, params) {
        Ok(request) => request,
        Err(reason) => return pages::authorize_error(provider, &reason),
    };
    match params.get("decision") {
        Some("deny") => return request.declined(),
        Some("allow") => {}
        _ => return pages::consent(sandbox, &request, Some("Choose Allow or Decline.")),
    }
    // A typed new handle wins over the picker; scripts send `member` alone.
    let handle = params
        .nonempty("new_member")
        .or_else(|| params.nonempty("member"))
        .map(str::trim);
    let Some(handle) = handle else {
        return pages::consent(
            sandbox,
            &request,
            Some("Pick a member or type a new handle."),
        );
    };
    let code = {
        let mut world = sandbox.world();
        match world.member_for_consent(provider, handle) {
            Ok(member) => world.consent(sandbox.clock(), member, &request),
            Err(error) => {
                drop(world);
                return pages::consent(sandbox, &request, Some(&error.to_string()));
            }
        }
    };
    request.redirect(&[("code", &code)])
}

/// Why a code could not be exchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CodeProblem {
    Invalid,
    Used,
    Expired,
    RedirectMismatch,
    VerifierMismatch,
}

fn code_lifetime(provider: Provider) -> Millis {
    let secs = match provider {
        Provider::LinkedIn => 30 * MINUTE,
        Provider::X => 30,
        Provider::Facebook | Provider::Instagram => 10 * MINUTE,
    };
    secs as Millis * 1000
}

/// LinkedIn's refresh tokens live 365 days from the first authorization.
pub(crate) const LINKEDIN_REFRESH_LIFETIME: u64 = 365 * DAY;

impl World {
    fn consent(&mut self, clock: &Clock, member: MemberId, request: &AuthorizeRequest) -> String {
        let now = clock.now();
        let provider = request.provider;
        let existing = self.grants.iter().position(|g| {
            g.provider == provider && g.member == member && g.client_id == request.client_id
        });
        let grant = match existing {
            Some(index) => GrantId(index),
            None => {
                self.grants.push(Grant {
                    provider,
                    member,
                    client_id: request.client_id.clone(),
                    scopes: request.scopes.clone(),
                    state: GrantState::Active,
                    refresh_anchor: now,
                    data_access_expires: now,
                });
                GrantId(self.grants.len() - 1)
            }
        };
        if provider == Provider::LinkedIn {
            // A different scope set invalidates the member's earlier tokens.
            if self.grant(grant).scopes != request.scopes {
                self.kill_grant(grant, Death::Revoked);
            }
            // Reauthorizing keeps the refresh clock unless the window already closed.
            let anchor = self.grant(grant).refresh_anchor;
            if now >= anchor + clock.lifetime(LINKEDIN_REFRESH_LIFETIME) {
                self.grants[grant.0].refresh_anchor = now;
            }
        }
        let record = &mut self.grants[grant.0];
        record.scopes = request.scopes.clone();
        record.state = GrantState::Active;
        // Logging in renews Meta's data-access window and gets past a checkpoint or an
        // unconfirmed account.
        record.data_access_expires = now + clock.lifetime(DATA_ACCESS_LIFETIME);
        let record = &mut self.members[member.0];
        record.checkpoint = false;
        record.unconfirmed = false;
        let code = match provider {
            Provider::X => self.random_alnum(86),
            _ => format!("AQ{}", self.random_alnum(88)),
        };
        self.codes.insert(
            Fingerprint::of(&code),
            Code {
                grant,
                redirect_uri: request.redirect_uri.to_string(),
                scopes: request.scopes.clone(),
                code_challenge: request.code_challenge.clone(),
                expires: now + code_lifetime(provider),
                used: false,
            },
        );
        code
    }

    /// Exchanges a code: it must belong to this provider and client, be fresh and unused,
    /// name the same redirect URI, and (X) match the PKCE verifier.
    pub(crate) fn redeem_code(
        &mut self,
        provider: Provider,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
        now: Millis,
    ) -> Result<GrantId, CodeProblem> {
        let key = Fingerprint::of(code);
        let record = self.codes.get(&key).ok_or(CodeProblem::Invalid)?;
        let grant = self.grant(record.grant);
        if grant.provider != provider || grant.client_id != client_id {
            return Err(CodeProblem::Invalid);
        }
        if record.used {
            return Err(CodeProblem::Used);
        }
        if record.expires <= now {
            return Err(CodeProblem::Expired);
        }
        if !same_redirect(&record.redirect_uri, redirect_uri) {
            return Err(CodeProblem::RedirectMismatch);
        }
        if let Some(challenge) = &record.code_challenge {
            let verifier = verifier.ok_or(CodeProblem::VerifierMismatch)?;
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            if !bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
                return Err(CodeProblem::VerifierMismatch);
            }
        }
        let grant = record.grant;
        let scopes = record.scopes.clone();
        if let Some(record) = self.codes.get_mut(&key) {
            record.used = true;
        }
        self.grants[grant.0].scopes = scopes;
        Ok(grant)
    }
}

/// Redirect URIs match exactly, once both are normalised the way a URL parser writes them.
fn same_redirect(registered: &str, presented: &str) -> bool {
    Url::parse(presented).is_ok_and(|presented| presented.as_str() == registered)
}
