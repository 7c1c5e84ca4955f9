//! The storage contract. One implementation per database backend
//! (`apostle-store-sqlite`, `apostle-store-postgres`), both held to the same
//! conformance suite (`apostle-store-tests`).
//!
//! Every write happens inside a [`Tx`], so a change and the jobs or emails it
//! causes commit together or not at all. Methods that touch team data take the
//! team id first and never return another team's rows.

use apostle_domain::{
    AccountId, ApiTokenId, EmailAddress, EmailId, EventId, FlowId, GrantId, InviteId, JobId,
    PersonName, Role, TeamId, TeamName, TeamSlug, UserId,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

mod alerts;
mod posts;
mod shares;
pub use alerts::{Alert, AlertKind, AlertsTx, NewAlert};
pub use posts::{
    Approval, ApprovalItem, Delivery, Image, InboxCard, InboxItem, MemberSettings, NewApproval,
    NewNotification, Notification, PlanSlot, Post, PostContent, PostHeadline, PostsTx, UtmPreset,
};
pub use shares::{NewShareTarget, ShareCount, ShareTarget, SharesTx};

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
pub(crate) use debug_redacted;

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

/// What the layout of a member's page counts, read in one statement: every
/// page shows it, so the lists behind it are read only when there is
/// something to show (another team to switch to, a broken connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayoutCounts {
    /// The teams the member belongs to.
    pub teams: i64,
    /// Suggestions waiting in their inbox of this team, up to the cap asked.
    pub inbox: i64,
    /// Their broken connections: their personal accounts and the business
    /// pages of the teams they administer.
    pub broken: i64,
}

/// A signed-in member's page in a team before its own content: the live
/// session, its user and their time zone, their place in the team (none
/// when they are not a member, or no team has that slug) and the counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageContext {
    pub session: Session,
    pub user: User,
    pub time_zone: String,
    pub membership: Option<TeamRole>,
    pub counts: LayoutCounts,
}

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
    /// The notification kind the recipient can unsubscribe from with this
    /// email (`List-Unsubscribe`); `None` for essential mail.
    pub unsubscribe_kind: Option<apostle_domain::NotificationKind>,
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
    pub unsubscribe_kind: Option<apostle_domain::NotificationKind>,
    pub state: EmailState,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A closed set of names stored as text: `as_str` for writing, `parse` for
/// reading back, where an unknown name means corrupt data.
macro_rules! text_enum {
    ($(#[$meta:meta])* $ty:ident ($what:literal) {
        $($(#[$vmeta:meta])* $variant:ident = $name:literal),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $ty {
            $($(#[$vmeta])* $variant),*
        }

        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),*
                }
            }

            pub fn parse(s: &str) -> StoreResult<Self> {
                match s {
                    $($name => Ok($ty::$variant),)*
                    other => Err(StoreError::Corrupt(format!(concat!($what, " {:?}"), other))),
                }
            }
        }
    };
}

text_enum!(
    /// The health of a grant, or of one account on its own (design.md §2).
    ConnectionStatus ("connection status") {
        Active = "active",
        /// Broken with a reason until a reconnect or a heal.
        Broken = "broken",
        /// Removed by its owner.
        Removed = "removed",
    }
);

/// Who an account belongs to, which is also its kind: a personal account
/// is a user's, a business page is a team's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountOwner {
    Personal(UserId),
    Business(TeamId),
}

impl AccountOwner {
    /// The `kind` column: `personal` or `business`.
    pub fn kind(self) -> &'static str {
        match self {
            AccountOwner::Personal(_) => AccountKind::Personal,
            AccountOwner::Business(_) => AccountKind::Business,
        }
        .as_str()
    }

    /// The owning user's or team's id.
    pub fn id(self) -> i64 {
        match self {
            AccountOwner::Personal(user) => user.0,
            AccountOwner::Business(team) => team.0,
        }
    }
}

text_enum!(
    /// Why an OAuth flow was started.
    FlowPurpose ("flow purpose") {
        Connect = "connect",
        Reconnect = "reconnect",
        /// A reauthorization in the middle of sharing a post.
        Share = "share",
    }
);

text_enum!(
    /// Whether a flow connects a personal account or business pages.
    AccountKind ("account kind") {
        Personal = "personal",
        Business = "business",
    }
);

/// A grant about to be stored. Tokens arrive sealed by the keyring (the
/// store never sees plaintext); `provider` and the break reasons are the
/// providers crate's names.
#[derive(Clone, PartialEq, Eq)]
pub struct NewGrant {
    pub provider: String,
    pub external_user_id: String,
    pub scopes: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub next_due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

debug_redacted!(NewGrant {
    provider, external_user_id, scopes, access_expires_at, refresh_expires_at, next_due_at,
    created_at
} secret { access_token, refresh_token });

/// One OAuth authorization of one external user, owned by one app user.
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: GrantId,
    pub owner: UserId,
    pub provider: String,
    pub external_user_id: String,
    pub scopes: String,
    /// Sealed, bound to this row.
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub status: ConnectionStatus,
    pub break_reason: Option<String>,
    pub broken_since: Option<DateTime<Utc>>,
    /// Bumped on every token write; token writes present the one they read.
    pub generation: i64,
    /// Identifies the refresh/probe lease; lease writes must present it.
    pub lease_token: Option<String>,
    pub leased_until: Option<DateTime<Utc>>,
    pub next_due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

debug_redacted!(Grant {
    id, owner, provider, external_user_id, scopes, access_expires_at, refresh_expires_at,
    status, break_reason, broken_since, generation, leased_until, next_due_at, created_at,
    updated_at
} secret { access_token, refresh_token, lease_token });

/// Tokens from a refresh or a reconnect, sealed. A `None` refresh token
/// keeps the stored one (providers that do not rotate it send none).
#[derive(Clone, PartialEq, Eq)]
pub struct GrantTokens {
    pub scopes: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub access_expires_at: DateTime<Utc>,
    /// Only written along with a new refresh token.
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

debug_redacted!(GrantTokens {
    scopes, access_expires_at, refresh_expires_at
} secret { access_token, refresh_token });

/// An account about to be stored under a grant.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub grant_id: GrantId,
    pub provider: String,
    /// The provider's id of the person, organization, page or account.
    pub external_id: String,
    pub name: String,
    /// A Facebook page's own token, sealed.
    pub page_token: Option<String>,
    pub created_at: DateTime<Utc>,
}

debug_redacted!(NewAccount {
    grant_id, provider, external_id, name, created_at
} secret { page_token });

/// Something to post as, through its grant.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub grant_id: GrantId,
    pub owner: AccountOwner,
    pub provider: String,
    pub external_id: String,
    pub name: String,
    pub page_token: Option<String>,
    /// Its own health: a lost page role breaks one page, not its grant.
    pub status: ConnectionStatus,
    pub break_reason: Option<String>,
    pub broken_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

debug_redacted!(Account {
    id, grant_id, owner, provider, external_id, name, status, break_reason, broken_since,
    created_at
} secret { page_token });

/// An OAuth flow about to be started by `user_id`.
#[derive(Clone, PartialEq, Eq)]
pub struct NewFlow {
    /// SHA-256 of the `state` parameter; the state itself is never stored.
    pub state_hash: String,
    /// The PKCE verifier, sealed.
    pub pkce_verifier: Option<String>,
    pub provider: String,
    pub purpose: FlowPurpose,
    pub kind: AccountKind,
    pub team_id: Option<TeamId>,
    /// The account being reconnected.
    pub account_id: Option<AccountId>,
    /// Where the callback sends the browser or app: a path or a deep link.
    pub redirect_to: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

debug_redacted!(NewFlow {
    provider, purpose, kind, team_id, account_id, redirect_to, created_at, expires_at
} secret { state_hash, pkce_verifier });

/// A started OAuth flow.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthFlow {
    pub id: FlowId,
    pub user_id: UserId,
    pub pkce_verifier: Option<String>,
    pub provider: String,
    pub purpose: FlowPurpose,
    pub kind: AccountKind,
    pub team_id: Option<TeamId>,
    pub account_id: Option<AccountId>,
    pub redirect_to: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub consumed_at: Option<DateTime<Utc>>,
    /// The grant a finished business flow gave, while its pages are chosen.
    pub grant_id: Option<GrantId>,
}

debug_redacted!(OAuthFlow {
    id, user_id, provider, purpose, kind, team_id, account_id, redirect_to, created_at,
    expires_at, consumed_at, grant_id
} secret { pkce_verifier });

/// One entry of a connection's timeline, about to be appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConnectionEvent {
    pub grant_id: GrantId,
    pub account_id: Option<AccountId>,
    /// `connected`, `refreshed`, `broken`, `reconnected`, `removed`, `healed`, …
    pub kind: String,
    /// A break reason, for `broken`.
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionEvent {
    pub id: EventId,
    pub grant_id: GrantId,
    pub account_id: Option<AccountId>,
    pub kind: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    pub detail: String,
}

/// How many accounts of one provider and kind are in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionCount {
    pub provider: String,
    pub kind: AccountKind,
    pub status: ConnectionStatus,
    pub count: i64,
}

/// A column whose values are sealed by the keyring, each bound to a place
/// built from its row (`apostle keys rotate` walks them all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealedColumn {
    GrantAccessToken,
    GrantRefreshToken,
    AccountPageToken,
    FlowPkceVerifier,
    EmailTextBody,
    EmailHtmlBody,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 6] = [
        SealedColumn::GrantAccessToken,
        SealedColumn::GrantRefreshToken,
        SealedColumn::AccountPageToken,
        SealedColumn::FlowPkceVerifier,
        SealedColumn::EmailTextBody,
        SealedColumn::EmailHtmlBody,
    ];

    /// `table.column`, as the schema names it.
    pub fn as_str(self) -> &'static str {
        match self {
            SealedColumn::GrantAccessToken => "grants.access_token",
            SealedColumn::GrantRefreshToken => "grants.refresh_token",
            SealedColumn::AccountPageToken => "accounts.page_token",
            SealedColumn::FlowPkceVerifier => "oauth_flows.pkce_verifier",
            SealedColumn::EmailTextBody => "emails.text_body",
            SealedColumn::EmailHtmlBody => "emails.html_body",
        }
    }
}

/// The fields of a row that a sealed value's place is built from, by table.
#[derive(Clone, PartialEq, Eq)]
pub enum SealedRow {
    Grant {
        owner: UserId,
        provider: String,
        external_user_id: String,
    },
    Account {
        owner: AccountOwner,
        provider: String,
        external_id: String,
    },
    /// The hash of the flow's `state`, which can be matched against a
    /// leaked state, so it stays out of `Debug`.
    Flow { state_hash: String },
    Email {
        recipient: EmailAddress,
        template: String,
    },
}

impl std::fmt::Debug for SealedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealedRow::Grant {
                owner,
                provider,
                external_user_id,
            } => f
                .debug_struct("Grant")
                .field("owner", owner)
                .field("provider", provider)
                .field("external_user_id", external_user_id)
                .finish(),
            SealedRow::Account {
                owner,
                provider,
                external_id,
            } => f
                .debug_struct("Account")
                .field("owner", owner)
                .field("provider", provider)
                .field("external_id", external_id)
                .finish(),
            SealedRow::Flow { state_hash: _ } => f
                .debug_struct("Flow")
                .field("state_hash", &"[redacted]")
                .finish(),
            SealedRow::Email {
                recipient,
                template,
            } => f
                .debug_struct("Email")
                .field("recipient", recipient)
                .field("template", template)
                .finish(),
        }
    }
}

/// One sealed value as stored, with what its place is built from.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue {
    /// The id of its row in the column's table; a walk goes in this order.
    pub row_id: i64,
    pub row: SealedRow,
    pub sealed: String,
}

debug_redacted!(SealedValue { row_id, row } secret { sealed });

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

    /// Claims up to `limit` active grants whose refresh or probe is due
    /// (`next_due_at <= now`) and that no live lease holds, leases them until
    /// `now + lease` under a fresh lease token each, and returns them, most
    /// overdue first. Two concurrent callers never receive the same grant.
    async fn claim_due_grants(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> StoreResult<Vec<Grant>>;

    /// Whether the database answers a real query on a connection that is
    /// outside any transaction; a connection found inside one is closed and
    /// reported, never reused. What `/readyz` asks.
    async fn check_ready(&self) -> StoreResult<()>;

    /// Closes the pool, waiting for connections to be returned.
    async fn close(&self);
}

/// One open transaction. Dropping it without `commit` rolls back.
#[async_trait]
pub trait Tx: PostsTx + SharesTx + AlertsTx + Send {
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
    /// The frame of a signed-in page in one statement: none when the session
    /// is missing or expired at `now`. The inbox of `team` is counted up to
    /// `inbox_cap` suggestions live at `now`.
    async fn page_context(
        &mut self,
        id_hash: &str,
        team: &TeamSlug,
        now: DateTime<Utc>,
        inbox_cap: i64,
    ) -> StoreResult<Option<PageContext>>;
    /// The layout's counts for `user` in `team`, the inbox counted up to
    /// `inbox_cap` suggestions live at `now`.
    async fn layout_counts(
        &mut self,
        team: TeamId,
        user: UserId,
        now: DateTime<Utc>,
        inbox_cap: i64,
    ) -> StoreResult<LayoutCounts>;
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

    // ---- connections: grants --------------------------------------------
    /// Stores a grant for `owner`, active; a second grant of the same login
    /// (owner, provider, external user) is a `Conflict`, unless that login's
    /// grant was removed: then the same row comes back active with the new
    /// tokens (its id, history and accounts kept; its generation bumped).
    async fn create_grant(&mut self, owner: UserId, grant: &NewGrant) -> StoreResult<Grant>;
    /// Any grant by id, for workers holding an id from a claim.
    async fn grant_by_id(&mut self, grant: GrantId) -> StoreResult<Option<Grant>>;
    /// The owner's grant of one login at a provider, whatever its status.
    async fn grant_by_login(
        &mut self,
        owner: UserId,
        provider: &str,
        external_user_id: &str,
    ) -> StoreResult<Option<Grant>>;
    /// Writes new tokens and bumps the generation, only if the generation is
    /// still `generation` and the grant is not removed; false when another
    /// write came first or the owner removed it. A `None` refresh token
    /// keeps the stored one and its expiry.
    async fn store_grant_tokens(
        &mut self,
        grant: GrantId,
        generation: i64,
        tokens: &GrantTokens,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// ACTIVE → BROKEN with `reason`, as a compare-and-set: true only for
    /// the call that made the transition, so the caller enqueues one email.
    async fn mark_grant_broken(
        &mut self,
        grant: GrantId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// BROKEN → ACTIVE after a heal or a reconnect, due again at
    /// `next_due_at`; false when it was not broken (a removed grant stays
    /// removed, whatever a late probe found).
    async fn mark_grant_active(
        &mut self,
        grant: GrantId,
        next_due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// The owner removes a grant: REMOVED, its lease dropped; false when it
    /// is not the owner's or was removed already.
    async fn remove_grant(
        &mut self,
        owner: UserId,
        grant: GrantId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Leases one grant that is not removed, under `lease_token` until
    /// `leased_until`, unless a lease live at `now` holds it (then `None`).
    async fn lease_grant(
        &mut self,
        grant: GrantId,
        lease_token: &str,
        now: DateTime<Utc>,
        leased_until: DateTime<Utc>,
    ) -> StoreResult<Option<Grant>>;
    /// Ends a lease, due again at `next_due_at`, if the lease is still ours.
    async fn release_grant_lease(
        &mut self,
        grant: GrantId,
        lease_token: &str,
        next_due_at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Keeps a lease ours until `leased_until`, if it is still ours.
    async fn renew_grant_lease(
        &mut self,
        grant: GrantId,
        lease_token: &str,
        leased_until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Moves when the grant's next refresh or probe is due.
    async fn set_grant_next_due(
        &mut self,
        grant: GrantId,
        next_due_at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    // ---- connections: accounts (owner first) ------------------------------
    /// Stores an active account; the same external id at the same provider
    /// twice for one user (personal) or team (business) is a `Conflict`.
    async fn create_account(
        &mut self,
        owner: AccountOwner,
        account: &NewAccount,
    ) -> StoreResult<Account>;
    /// Every account under a grant, in connecting order (a grant's break
    /// breaks them all).
    async fn accounts_of_grant(&mut self, grant: GrantId) -> StoreResult<Vec<Account>>;
    /// A user's personal accounts, in connecting order.
    async fn personal_accounts(&mut self, user: UserId) -> StoreResult<Vec<Account>>;
    /// A team's business pages, in connecting order.
    async fn business_accounts(&mut self, team: TeamId) -> StoreResult<Vec<Account>>;
    /// Sets an account's own status (`reason` kept only for BROKEN); true
    /// only when the status changed, so breaking is a compare-and-set too.
    async fn set_account_status(
        &mut self,
        owner: AccountOwner,
        account: AccountId,
        status: ConnectionStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Moves a team's business page under another grant (a reconnect by
    /// another admin), with the page token that grant gave, if any.
    async fn move_account(
        &mut self,
        team: TeamId,
        account: AccountId,
        to_grant: GrantId,
        page_token: Option<&str>,
    ) -> StoreResult<bool>;

    // ---- connections: OAuth flows (user first) ----------------------------
    async fn create_flow(&mut self, user: UserId, flow: &NewFlow) -> StoreResult<OAuthFlow>;
    /// Uses a flow once, in one statement: the flow if it was unconsumed and
    /// unexpired at `now`, `None` ever after.
    async fn consume_flow(
        &mut self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OAuthFlow>>;

    /// A flow by the hash of its state, whatever its state: the callback
    /// tells an expired flow (redirect with `expired`) from an unknown one.
    async fn flow_by_state(&mut self, state_hash: &str) -> StoreResult<Option<OAuthFlow>>;
    /// One of the user's flows.
    async fn flow_by_id(&mut self, user: UserId, flow: FlowId) -> StoreResult<Option<OAuthFlow>>;
    /// Ends a flow whatever its expiry; false when it had ended already.
    async fn close_flow(&mut self, flow: FlowId, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Keeps the grant a consumed business flow gave, open for choosing its
    /// pages until `until`; false when the flow is not the user's or open.
    async fn set_flow_grant(
        &mut self,
        user: UserId,
        flow: FlowId,
        grant: GrantId,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Deletes flows that expired before `before`; returns how many.
    async fn purge_flows(&mut self, before: DateTime<Utc>) -> StoreResult<u64>;

    // ---- connections: lookups across owners -------------------------------
    /// Every member's grant of one external login (a provider's
    /// deauthorization names the login, not our user).
    async fn grants_of_login(
        &mut self,
        provider: &str,
        external_user_id: &str,
    ) -> StoreResult<Vec<Grant>>;
    /// Any account by id; callers check who may see it.
    async fn account_by_id(&mut self, account: AccountId) -> StoreResult<Option<Account>>;
    /// Every account after `after`, by id, at most `limit` (operators' list).
    async fn list_accounts(&mut self, after: AccountId, limit: i64) -> StoreResult<Vec<Account>>;
    /// Accounts counted by provider, kind and the status their owner sees
    /// (the account's own break or removal first, else its grant's).
    async fn count_connections(&mut self) -> StoreResult<Vec<ConnectionCount>>;

    // ---- teams: automatic reconnect reminders -------------------------------
    /// Turns a team's automatic reminders on or off; false for an unknown team.
    async fn set_team_auto_reminders(&mut self, team: TeamId, on: bool) -> StoreResult<bool>;
    /// Whether a team sends automatic reminders (false for an unknown team).
    async fn team_auto_reminders(&mut self, team: TeamId) -> StoreResult<bool>;
    /// The teams that send automatic reminders, by id.
    async fn auto_reminder_teams(&mut self) -> StoreResult<Vec<TeamId>>;

    // ---- connections: timeline (append-only) ------------------------------
    async fn append_connection_event(&mut self, event: &NewConnectionEvent)
        -> StoreResult<EventId>;
    /// A grant's events, newest first, at most `limit`.
    async fn connection_events(
        &mut self,
        grant: GrantId,
        limit: i64,
    ) -> StoreResult<Vec<ConnectionEvent>>;
    /// The events since `since`, newest first, of the team's connections: its
    /// business pages and its members' personal accounts (an event of a whole
    /// grant counts when the grant carries one of them). Each event once.
    async fn team_connection_events(
        &mut self,
        team: TeamId,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<ConnectionEvent>>;

    // ---- keys: re-sealing under the active key ------------------------------
    /// One batch of a walk over a sealed column: up to `limit` values that
    /// are not NULL, in rows whose id is above `after`, by row id.
    async fn sealed_values(
        &mut self,
        column: SealedColumn,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<SealedValue>>;
    /// Writes `resealed` into `column` of row `row_id` only if it still
    /// holds `sealed`, so a value written since it was read (a refresh's new
    /// token) is never overwritten; true when it wrote. Nothing else in the
    /// row changes: the value inside is the same.
    async fn reseal_value(
        &mut self,
        column: SealedColumn,
        row_id: i64,
        sealed: &str,
        resealed: &str,
    ) -> StoreResult<bool>;
}
