//! The storage contract. One implementation per database backend
//! (`apostle-store-sqlite`, `apostle-store-postgres`), both held to the same
//! conformance suite (`apostle-store-tests`).
//!
//! Every write happens inside a [`Tx`], so a change and the jobs or emails it
//! causes commit together or not at all. Methods that touch team data take the
//! team id first and never return another team's rows.

use apostle_domain::{
    ApiTokenId, EmailAddress, EmailId, InviteId, JobId, PersonName, Role, TeamId, TeamName,
    TeamSlug, UserId,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A storage failure. `Conflict` is the only one callers are expected to
/// handle; the rest are reported as internal errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a row with the same {0} already exists")]
    Conflict(&'static str),
    #[error("the database is busy, try again")]
    Busy,
    #[error("database error: {0}")]
    Database(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    pub slug: TeamSlug,
    pub name: TeamName,
    pub created_at: DateTime<Utc>,
}

/// `Debug` showing `[redacted]` in place of the `secret` fields: tokens,
/// and hashes, which can still be matched against a leaked token. Every
/// field must be named, so a new one cannot slip out unredacted.
macro_rules! debug_redacted {
    ($ty:ident { $($field:ident),* $(,)? } secret { $($secret:ident),* $(,)? }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let $ty { $($field,)* $($secret: _,)* } = self;
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), $field))*
                    $(.field(stringify!($secret), &"[redacted]"))*
                    .finish()
            }
        }
    };
}

/// A user row. The password hash is a PHC string (argon2id), never a secret
/// in itself, but still kept out of `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: EmailAddress,
    pub name: PersonName,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
}

debug_redacted!(User { id, email, name, created_at } secret { password_hash });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user: User,
    pub role: Role,
}

/// What a demotion or removal did. The admin check and the change are one
/// step: two admins demoting each other at once cannot both pass it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    Done,
    NotMember,
    /// Refused: the member is the team's only admin.
    LastAdmin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRole {
    pub team: Team,
    pub role: Role,
}

#[derive(Clone, PartialEq, Eq)]
pub struct NewInvite {
    pub email: EmailAddress,
    pub name: PersonName,
    pub role: Role,
    /// SHA-256 of the token in the invite link; the token itself is never stored.
    pub token_hash: String,
    pub invited_by: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

debug_redacted!(NewInvite {
    email, name, role, invited_by, created_at, expires_at
} secret { token_hash });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: InviteId,
    pub team_id: TeamId,
    pub email: EmailAddress,
    pub name: PersonName,
    pub role: Role,
    pub invited_by: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// A signed-in browser. The row is keyed by the SHA-256 of the cookie value.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: UserId,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

debug_redacted!(Session { user_id, created_at, expires_at } secret { csrf_token });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub user_id: UserId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for `run_at`.
    Pending,
    /// Claimed by a worker until its lease ends.
    Running,
    /// Failed `max_attempts` times; kept for inspection.
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 3] = [JobState::Pending, JobState::Running, JobState::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "pending" => Ok(JobState::Pending),
            "running" => Ok(JobState::Running),
            "dead" => Ok(JobState::Dead),
            other => Err(StoreError::Corrupt(format!("job state {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// At most one pending job per key: a second enqueue is a no-op.
    pub dedupe_key: Option<String>,
    pub run_at: DateTime<Utc>,
    pub max_attempts: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub dedupe_key: Option<String>,
    pub state: JobState,
    /// Attempts started so far, including the current one while running.
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    /// Identifies the claim; writes about a running job must present it.
    pub lease_token: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

// The lease token is what lets a worker write about its claimed job.
debug_redacted!(Job {
    id, kind, payload, dedupe_key, state, attempts, max_attempts, run_at, locked_until,
    last_error, created_at
} secret { lease_token });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailState {
    Queued,
    Sent,
    /// Gave up after the mailer job's attempts ran out.
    Failed,
}

impl EmailState {
    pub const ALL: [EmailState; 3] = [EmailState::Queued, EmailState::Sent, EmailState::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            EmailState::Queued => "queued",
            EmailState::Sent => "sent",
            EmailState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "queued" => Ok(EmailState::Queued),
            "sent" => Ok(EmailState::Sent),
            "failed" => Ok(EmailState::Failed),
            other => Err(StoreError::Corrupt(format!("email state {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmail {
    pub recipient: EmailAddress,
    pub template: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    /// A second email with the same key is not stored (and not sent).
    pub dedupe_key: Option<String>,
    /// The `Message-ID` every delivery attempt carries, so a receiver can
    /// recognise a resend after a crash between sending and recording.
    pub message_id: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub id: EmailId,
    pub recipient: EmailAddress,
    pub template: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub dedupe_key: Option<String>,
    pub message_id: String,
    pub state: EmailState,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A database: hands out transactions and claims jobs.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A transaction that may write. On SQLite it takes the write lock up
    /// front (`BEGIN IMMEDIATE`) so it can never fail half-way on lock upgrade.
    async fn begin(&self) -> StoreResult<Box<dyn Tx>>;

    /// A transaction that only reads.
    async fn begin_read(&self) -> StoreResult<Box<dyn Tx>>;

    /// Claims up to `limit` jobs that are due (pending with `run_at <= now`,
    /// or running with an expired lease), marks them running until
    /// `now + lease`, counts the attempt and returns them. Two concurrent
    /// callers never receive the same job.
    async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> StoreResult<Vec<Job>>;

    /// Whether the database answers a real query on a connection that is
    /// outside any transaction; a connection found inside one is closed and
    /// reported, never reused. What `/readyz` asks.
    async fn check_ready(&self) -> StoreResult<()>;

    /// Closes the pool, waiting for connections to be returned.
    async fn close(&self);
}

/// One open transaction. Dropping it without `commit` rolls back.
#[async_trait]
pub trait Tx: Send {
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    // ---- teams -------------------------------------------------------
    async fn create_team(
        &mut self,
        slug: &TeamSlug,
        name: &TeamName,
        now: DateTime<Utc>,
    ) -> StoreResult<Team>;
    async fn team_by_slug(&mut self, slug: &TeamSlug) -> StoreResult<Option<Team>>;
    async fn team_by_id(&mut self, team: TeamId) -> StoreResult<Option<Team>>;

    // ---- users -------------------------------------------------------
    async fn create_user(
        &mut self,
        email: &EmailAddress,
        name: &PersonName,
        password_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<User>;
    async fn user_by_id(&mut self, user: UserId) -> StoreResult<Option<User>>;
    async fn user_by_email(&mut self, email: &EmailAddress) -> StoreResult<Option<User>>;
    async fn set_user_name(&mut self, user: UserId, name: &PersonName) -> StoreResult<bool>;
    async fn set_password_hash(&mut self, user: UserId, hash: &str) -> StoreResult<bool>;

    // ---- memberships (team first) ------------------------------------
    /// Adds the user to the team, or changes the role if already a member.
    async fn upsert_member(&mut self, team: TeamId, user: UserId, role: Role) -> StoreResult<()>;
    async fn member_role(&mut self, team: TeamId, user: UserId) -> StoreResult<Option<Role>>;
    /// Changes the role of an existing member, unless that would leave the
    /// team without an admin.
    async fn set_member_role(
        &mut self,
        team: TeamId,
        user: UserId,
        role: Role,
    ) -> StoreResult<MemberChange>;
    /// Removes a member, unless that would leave the team without an admin.
    async fn remove_member(&mut self, team: TeamId, user: UserId) -> StoreResult<MemberChange>;
    /// Members ordered by name.
    async fn list_members(&mut self, team: TeamId) -> StoreResult<Vec<Member>>;
    /// The teams a user belongs to, ordered by name.
    async fn teams_of_user(&mut self, user: UserId) -> StoreResult<Vec<TeamRole>>;

    // ---- invites (team first) ----------------------------------------
    async fn create_invite(&mut self, team: TeamId, invite: &NewInvite) -> StoreResult<Invite>;
    /// Looks up by token hash, whatever its team; the token is the authority.
    async fn invite_by_token_hash(&mut self, token_hash: &str) -> StoreResult<Option<Invite>>;
    /// Marks accepted if still open; false if it was accepted already.
    async fn mark_invite_accepted(
        &mut self,
        invite: InviteId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Invites not yet accepted and not expired, newest first.
    async fn list_open_invites(
        &mut self,
        team: TeamId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Invite>>;
    async fn delete_invite(&mut self, team: TeamId, invite: InviteId) -> StoreResult<bool>;

    // ---- password resets (user first) --------------------------------
    /// Stores a reset link for `user`, open until `expires_at`; the user's
    /// earlier open links stop working.
    async fn create_password_reset(
        &mut self,
        user: UserId,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The user of a reset link that is unused and unexpired at `now`.
    async fn password_reset_user(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserId>>;
    /// Uses the link once: its user if it was open at `now`, `None` after.
    async fn use_password_reset(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserId>>;

    // ---- web sessions -------------------------------------------------
    async fn create_session(&mut self, id_hash: &str, session: &Session) -> StoreResult<()>;
    /// The session and its user, if it exists and has not expired at `now`.
    async fn session_by_hash(
        &mut self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Session, User)>>;
    async fn delete_session(&mut self, id_hash: &str) -> StoreResult<bool>;
    async fn delete_sessions_of_user(&mut self, user: UserId) -> StoreResult<u64>;
    async fn delete_expired_sessions(&mut self, now: DateTime<Utc>) -> StoreResult<u64>;

    // ---- API tokens (user first) -------------------------------------
    async fn create_api_token(
        &mut self,
        user: UserId,
        token_hash: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiToken>;
    /// The token and its owner if the token exists and is not revoked.
    async fn api_token_by_hash(
        &mut self,
        token_hash: &str,
    ) -> StoreResult<Option<(ApiToken, User)>>;
    /// Records a use at `now` unless one was recorded at or after
    /// `unless_used_since`; true when it wrote.
    async fn record_api_token_use(
        &mut self,
        token: ApiTokenId,
        now: DateTime<Utc>,
        unless_used_since: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn list_api_tokens(&mut self, user: UserId) -> StoreResult<Vec<ApiToken>>;
    async fn revoke_api_token(
        &mut self,
        user: UserId,
        token: ApiTokenId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Revokes every live token of the user; returns how many.
    async fn revoke_api_tokens_of_user(
        &mut self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    // ---- jobs ----------------------------------------------------------
    /// Enqueues in this transaction; `None` when a pending job holds the same dedupe key.
    async fn enqueue_job(&mut self, job: &NewJob) -> StoreResult<Option<JobId>>;
    async fn job_by_id(&mut self, job: JobId) -> StoreResult<Option<Job>>;
    /// Records a failed attempt: back to pending at `retry_at`, or dead when
    /// `retry_at` is `None`. Only if the lease is still ours.
    async fn fail_job(
        &mut self,
        job: JobId,
        lease_token: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<bool>;
    /// Gives a claimed job back untouched (shutdown): pending at `now`, the
    /// attempt not counted.
    async fn release_job(
        &mut self,
        job: JobId,
        lease_token: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Jobs in a state, newest first.
    async fn list_jobs(&mut self, state: JobState, limit: i64) -> StoreResult<Vec<Job>>;
    async fn count_jobs_by_state(&mut self) -> StoreResult<Vec<(JobState, i64)>>;
    /// Puts a dead job back to pending with fresh attempts.
    async fn retry_dead_job(&mut self, job: JobId, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Keeps a running job ours until `locked_until`, if the lease is still ours.
    async fn extend_job_lease(
        &mut self,
        job: JobId,
        lease_token: &str,
        locked_until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Deletes finished jobs in one statement, each only if its lease is
    /// still ours; returns the ones deleted, in no particular order.
    async fn complete_jobs(&mut self, jobs: &[(JobId, &str)]) -> StoreResult<Vec<JobId>>;

    // ---- email outbox --------------------------------------------------
    /// Stores an email; `None` when one with the same dedupe key exists.
    async fn insert_email(&mut self, email: &NewEmail) -> StoreResult<Option<EmailId>>;
    async fn email_by_id(&mut self, email: EmailId) -> StoreResult<Option<Email>>;
    async fn mark_email_sent(&mut self, email: EmailId, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Records a failed delivery attempt; `give_up` marks it failed for good.
    async fn record_email_failure(
        &mut self,
        email: EmailId,
        error: &str,
        give_up: bool,
    ) -> StoreResult<bool>;
    /// Emails to one address, newest first.
    async fn emails_to(&mut self, recipient: &EmailAddress) -> StoreResult<Vec<Email>>;
    async fn count_emails_by_state(&mut self) -> StoreResult<Vec<(EmailState, i64)>>;

    // ---- sign-in limits (keys are SHA-256 hex digests) -------------------
    async fn record_login_failure(&mut self, key_hash: &str, now: DateTime<Utc>)
        -> StoreResult<()>;
    /// Failures under the key after `since`, newest first, at most `limit`.
    async fn recent_login_failures(
        &mut self,
        key_hash: &str,
        since: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<DateTime<Utc>>>;
    /// Forgets every failure under the key; returns how many.
    async fn forget_login_failures(&mut self, key_hash: &str) -> StoreResult<u64>;
    /// Deletes failures at or before `before`, whatever their key.
    async fn purge_login_failures(&mut self, before: DateTime<Utc>) -> StoreResult<u64>;
}
