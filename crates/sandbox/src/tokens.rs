//! Tokens: issuing them with the provider's look and (scaled) lifetime, checking a
//! presented token, and the breaks the admin API injects. Every provider maps a
//! [`TokenProblem`] to its own error body in [`crate::errors`]. The world keeps tokens and
//! codes by their SHA-256 [`Fingerprint`], as a provider would, so the state file on disk
//! holds none that works.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Millis;
use crate::state::{GrantId, GrantState, MemberId, PageId, Provider, World};

/// The SHA-256 of a token or code, in hex: the key under which the world keeps it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Fingerprint(String);

impl Fingerprint {
    pub(crate) fn of(secret: &str) -> Fingerprint {
        let digest = Sha256::digest(secret.as_bytes());
        Fingerprint(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TokenKind {
    /// An access token (Facebook/Instagram: a short-lived user token).
    Access,
    Refresh,
    /// Facebook/Instagram long-lived user token.
    LongLivedUser,
    /// Facebook/Instagram page token.
    Page(PageId),
}

impl TokenKind {
    fn is_access(self) -> bool {
        self != TokenKind::Refresh
    }
}

/// Why a token stopped working before its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Death {
    Revoked,
    PasswordChanged,
    AppRemoved,
    /// An X refresh token that was already used.
    Rotated,
    /// Facebook's old-style "session key invalid" (code 102, no subcode).
    SessionInvalid,
    /// Facebook: the member logged out (190 / 467).
    LoggedOut,
}

impl Death {
    pub(crate) fn grant_state(self) -> GrantState {
        match self {
            Death::Revoked | Death::Rotated => GrantState::Revoked,
            Death::PasswordChanged => GrantState::PasswordChanged,
            Death::AppRemoved => GrantState::AppRemoved,
            Death::SessionInvalid => GrantState::SessionInvalid,
            Death::LoggedOut => GrantState::LoggedOut,
        }
    }
}

/// A token's record, kept under the token's [`Fingerprint`].
#[derive(Serialize, Deserialize)]
pub(crate) struct Token {
    pub(crate) grant: GrantId,
    pub(crate) kind: TokenKind,
    pub(crate) scopes: Vec<String>,
    pub(crate) issued: Millis,
    pub(crate) expires: Option<Millis>,
    pub(crate) dead: Option<Death>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    Unknown,
    Expired,
    Dead(Death),
    /// Facebook: the member must pass a checkpoint.
    Checkpoint,
    /// Facebook: the member must confirm their account.
    Unconfirmed,
    /// Facebook: 90 days passed since the member last logged in to the app.
    DataAccessExpired,
    /// A page token whose member lost the role on the page.
    PageRoleLost,
}

/// A token that passed its check, and what it may do.
pub(crate) struct Access {
    pub(crate) grant: GrantId,
    pub(crate) member: MemberId,
    pub(crate) client_id: String,
    pub(crate) kind: TokenKind,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires: Option<Millis>,
}

impl Access {
    pub(crate) fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// A freshly issued token and its lifetime as `expires_in` reports it.
pub(crate) struct Issued {
    pub(crate) token: String,
    pub(crate) expires: Option<Millis>,
}

impl World {
    /// Issues a token for `grant` that dies at `expires` (never when `None`).
    pub(crate) fn issue_token(
        &mut self,
        grant: GrantId,
        kind: TokenKind,
        scopes: Vec<String>,
        issued: Millis,
        expires: Option<Millis>,
    ) -> Issued {
        let provider = self.grant(grant).provider;
        let token = match (provider, kind) {
            (Provider::LinkedIn, TokenKind::Refresh) => format!("AQX{}", self.random_alnum(76)),
            (Provider::LinkedIn, _) => format!("AQV{}", self.random_alnum(76)),
            (Provider::X, TokenKind::Refresh) => format!("{}OjE6cnQ", self.random_alnum(72)),
            (Provider::X, _) => format!("{}OjE6YXQ", self.random_alnum(72)),
            (_, TokenKind::Page(_)) => format!("EAAP{}", self.random_alnum(96)),
            _ => format!("EAAB{}", self.random_alnum(96)),
        };
        self.tokens.insert(
            Fingerprint::of(&token),
            Token {
                grant,
                kind,
                scopes,
                issued,
                expires,
                dead: None,
            },
        );
        Issued { token, expires }
    }

    /// Issues a token with the grant's scopes, issued at `now` and living `lifetime`.
    pub(crate) fn issue_for(
        &mut self,
        grant: GrantId,
        kind: TokenKind,
        now: Millis,
        lifetime: Millis,
    ) -> Issued {
        let scopes = self.grant(grant).scopes.clone();
        self.issue_token(grant, kind, scopes, now, Some(now + lifetime))
    }

    /// Checks a presented token of `provider` at `now`, whatever its kind.
    pub(crate) fn check_any(
        &self,
        provider: Provider,
        token: &str,
        now: Millis,
    ) -> Result<Access, TokenProblem> {
        let record = self.token(token).ok_or(TokenProblem::Unknown)?;
        let grant = self.grant(record.grant);
        if grant.provider != provider {
            return Err(TokenProblem::Unknown);
        }
        if let Some(death) = record.dead {
            return Err(TokenProblem::Dead(death));
        }
        if record.expires.is_some_and(|at| at <= now) {
            return Err(TokenProblem::Expired);
        }
        if provider.is_graph() {
            let member = self.member(grant.member);
            if grant.data_access_expires <= now {
                return Err(TokenProblem::DataAccessExpired);
            }
            if member.checkpoint {
                return Err(TokenProblem::Checkpoint);
            }
            if member.unconfirmed {
                return Err(TokenProblem::Unconfirmed);
            }
        }
        if let TokenKind::Page(page) = record.kind {
            if !self.page(page).admins.contains(&grant.member) {
                return Err(TokenProblem::PageRoleLost);
            }
        }
        Ok(Access {
            grant: record.grant,
            member: grant.member,
            client_id: grant.client_id.clone(),
            kind: record.kind,
            scopes: record.scopes.clone(),
            expires: record.expires,
        })
    }

    /// Checks a token presented to an API: refresh tokens are not access tokens.
    pub(crate) fn check_access(
        &self,
        provider: Provider,
        token: &str,
        now: Millis,
    ) -> Result<Access, TokenProblem> {
        let access = self.check_any(provider, token, now)?;
        if access.kind.is_access() {
            Ok(access)
        } else {
            Err(TokenProblem::Unknown)
        }
    }

    /// Kills every token of `grant` and records why on the grant.
    pub(crate) fn kill_grant(&mut self, grant: GrantId, death: Death) {
        for token in self.tokens.values_mut() {
            if token.grant == grant && token.dead.is_none() {
                token.dead = Some(death);
            }
        }
        self.grants[grant.0].state = death.grant_state();
    }

    /// The record of a presented token.
    pub(crate) fn token(&self, token: &str) -> Option<&Token> {
        self.tokens.get(&Fingerprint::of(token))
    }

    pub(crate) fn token_mut(&mut self, token: &str) -> Option<&mut Token> {
        self.tokens.get_mut(&Fingerprint::of(token))
    }

    /// Kills one token (revocation endpoints).
    pub(crate) fn kill_token(&mut self, token: &str, death: Death) -> bool {
        match self.token_mut(token) {
            Some(record) => {
                record.dead.get_or_insert(death);
                true
            }
            None => false,
        }
    }

    /// Makes every live access token of `member` expire now; refresh tokens survive.
    pub(crate) fn expire_member_tokens(&mut self, member: MemberId, now: Millis) {
        let grants = self.grants_of(member);
        for token in self.tokens.values_mut() {
            if grants.contains(&token.grant) && token.kind.is_access() {
                token.expires = Some(token.expires.map_or(now, |at| at.min(now)));
            }
        }
    }

    /// The state shown for a grant: its recorded break, else what Facebook asks of the
    /// member, else whether any access token still lives (`pending` before the first
    /// code exchange).
    pub(crate) fn grant_status(&self, grant: GrantId, now: Millis) -> &'static str {
        let record = self.grant(grant);
        match record.state {
            GrantState::Revoked => return "revoked",
            GrantState::PasswordChanged => return "password_changed",
            GrantState::AppRemoved => return "app_removed",
            GrantState::SessionInvalid => return "session_invalid",
            GrantState::LoggedOut => return "logged_out",
            GrantState::Active => {}
        }
        if record.provider.is_graph() {
            let member = self.member(record.member);
            if record.data_access_expires <= now {
                return "data_access_expired";
            }
            if member.checkpoint {
                return "checkpoint";
            }
            if member.unconfirmed {
                return "unconfirmed";
            }
        }
        let mut issued = false;
        for token in self.tokens.values() {
            if token.grant != grant || !token.kind.is_access() {
                continue;
            }
            if token.dead.is_none() && token.expires.is_none_or(|at| at > now) {
                return "active";
            }
            issued = true;
        }
        // A consent whose code was never exchanged has no token yet.
        if issued {
            "expired"
        } else {
            "pending"
        }
    }
}
