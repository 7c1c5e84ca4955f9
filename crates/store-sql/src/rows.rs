//! Row shapes both schemas share and their decoding into domain values,
//! error classification and count assembly. Only the timestamp column type
//! differs between the backends (SQLite: integer microseconds, PostgreSQL:
//! `TIMESTAMPTZ`), so every row is generic over it.

use apostle_core::store::{
    Account, AccountKind, AccountOwner, ApiToken, ConnectionEvent, ConnectionStatus, Email,
    EmailState, FlowPurpose, Grant, Invite, Job, JobState, LayoutCounts, Member, OAuthFlow,
    PageContext, SealedRow, SealedValue, StoreError, StoreResult, Team, TeamRole, User,
};
use apostle_domain::{
    AccountId, ApiTokenId, EmailAddress, EmailId, EventId, FlowId, GrantId, InvalidValue, InviteId,
    JobId, PersonName, Role, TeamId, TeamName, TeamSlug, UserId,
};
use chrono::{DateTime, Utc};
use sqlx::error::DatabaseError;
use std::collections::HashMap;
use std::hash::Hash;

/// A timestamp as a backend stores it.
pub trait StoredTime {
    fn into_utc(self) -> StoreResult<DateTime<Utc>>;
}

impl StoredTime for i64 {
    fn into_utc(self) -> StoreResult<DateTime<Utc>> {
        DateTime::from_timestamp_micros(self)
            .ok_or_else(|| StoreError::Corrupt(format!("timestamp {self} is out of range")))
    }
}

impl StoredTime for DateTime<Utc> {
    fn into_utc(self) -> StoreResult<DateTime<Utc>> {
        Ok(self)
    }
}

fn opt_utc<T: StoredTime>(value: Option<T>) -> StoreResult<Option<DateTime<Utc>>> {
    value.map(StoredTime::into_utc).transpose()
}

fn corrupt(e: InvalidValue) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub fn decode_role(s: &str) -> StoreResult<Role> {
    s.parse().map_err(corrupt)
}

fn email(s: &str) -> StoreResult<EmailAddress> {
    EmailAddress::parse(s).map_err(corrupt)
}

fn person(s: &str) -> StoreResult<PersonName> {
    PersonName::parse(s).map_err(corrupt)
}

#[derive(sqlx::FromRow)]
pub struct TeamRow<T> {
    id: i64,
    slug: String,
    name: String,
    created_at: T,
}

impl<T: StoredTime> TeamRow<T> {
    pub fn decode(self) -> StoreResult<Team> {
        Ok(Team {
            id: TeamId(self.id),
            slug: TeamSlug::parse(&self.slug).map_err(corrupt)?,
            name: TeamName::parse(&self.name).map_err(corrupt)?,
            created_at: self.created_at.into_utc()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct UserRow<T> {
    id: i64,
    email: String,
    name: String,
    password_hash: Option<String>,
    created_at: T,
}

impl<T: StoredTime> UserRow<T> {
    pub fn decode(self) -> StoreResult<User> {
        Ok(User {
            id: UserId(self.id),
            email: email(&self.email)?,
            name: person(&self.name)?,
            password_hash: self.password_hash,
            created_at: self.created_at.into_utc()?,
        })
    }
}

/// A user joined with their membership role.
#[derive(sqlx::FromRow)]
pub struct MemberRow<T> {
    #[sqlx(flatten)]
    user: UserRow<T>,
    role: String,
}

impl<T: StoredTime> MemberRow<T> {
    pub fn decode(self) -> StoreResult<Member> {
        Ok(Member {
            role: decode_role(&self.role)?,
            user: self.user.decode()?,
        })
    }
}

/// A team joined with one user's membership role.
#[derive(sqlx::FromRow)]
pub struct TeamRoleRow<T> {
    #[sqlx(flatten)]
    team: TeamRow<T>,
    role: String,
}

impl<T: StoredTime> TeamRoleRow<T> {
    pub fn decode(self) -> StoreResult<TeamRole> {
        Ok(TeamRole {
            role: decode_role(&self.role)?,
            team: self.team.decode()?,
        })
    }
}

/// Members ordered by name (case-insensitively, then by id). Sorting here
/// rather than in SQL keeps the order identical on both backends, whose
/// collations differ.
pub fn sort_members(members: &mut [Member]) {
    members.sort_by_cached_key(|m| (m.user.name.as_str().to_lowercase(), m.user.id));
}

/// Teams ordered by name, like [`sort_members`].
pub fn sort_team_roles(teams: &mut [TeamRole]) {
    teams.sort_by_cached_key(|t| (t.team.name.as_str().to_lowercase(), t.team.id));
}

pub fn decode_all<R, D>(rows: Vec<R>, decode: impl Fn(R) -> StoreResult<D>) -> StoreResult<Vec<D>> {
    rows.into_iter().map(decode).collect()
}

#[derive(sqlx::FromRow)]
pub struct InviteRow<T> {
    id: i64,
    team_id: i64,
    email: String,
    name: String,
    role: String,
    invited_by: i64,
    created_at: T,
    expires_at: T,
    accepted_at: Option<T>,
}

impl<T: StoredTime> InviteRow<T> {
    pub fn decode(self) -> StoreResult<Invite> {
        Ok(Invite {
            id: InviteId(self.id),
            team_id: TeamId(self.team_id),
            email: email(&self.email)?,
            name: person(&self.name)?,
            role: decode_role(&self.role)?,
            invited_by: UserId(self.invited_by),
            created_at: self.created_at.into_utc()?,
            expires_at: self.expires_at.into_utc()?,
            accepted_at: opt_utc(self.accepted_at)?,
        })
    }
}

/// A session with its user (`sql::LIVE_SESSION`).
#[derive(sqlx::FromRow)]
pub struct SignedInRow<T> {
    s_csrf_token: String,
    s_created_at: T,
    s_expires_at: T,
    #[sqlx(flatten)]
    user: UserRow<T>,
}

impl<T: StoredTime> SignedInRow<T> {
    pub fn decode(self) -> StoreResult<(apostle_core::store::Session, User)> {
        let user = self.user.decode()?;
        let session = apostle_core::store::Session {
            user_id: user.id,
            csrf_token: self.s_csrf_token,
            created_at: self.s_created_at.into_utc()?,
            expires_at: self.s_expires_at.into_utc()?,
        };
        Ok((session, user))
    }
}

#[derive(sqlx::FromRow)]
pub struct LayoutCountsRow {
    team_count: i64,
    inbox_count: i64,
    broken_count: i64,
}

impl LayoutCountsRow {
    pub fn decode(self) -> LayoutCounts {
        LayoutCounts {
            teams: self.team_count,
            inbox: self.inbox_count,
            broken: self.broken_count,
        }
    }
}

/// `sql::PAGE_CONTEXT`: the team's columns are null when the user is not
/// one of its members.
#[derive(sqlx::FromRow)]
pub struct PageContextRow<T> {
    #[sqlx(flatten)]
    signed_in: SignedInRow<T>,
    time_zone: String,
    t_id: Option<i64>,
    t_slug: Option<String>,
    t_name: Option<String>,
    t_created_at: Option<T>,
    t_role: Option<String>,
    #[sqlx(flatten)]
    counts: LayoutCountsRow,
}

impl<T: StoredTime> PageContextRow<T> {
    pub fn decode(self) -> StoreResult<PageContext> {
        let (session, user) = self.signed_in.decode()?;
        let membership = match (
            self.t_id,
            self.t_slug,
            self.t_name,
            self.t_created_at,
            self.t_role,
        ) {
            (Some(id), Some(slug), Some(name), Some(created_at), Some(role)) => Some(TeamRole {
                team: TeamRow {
                    id,
                    slug,
                    name,
                    created_at,
                }
                .decode()?,
                role: decode_role(&role)?,
            }),
            _ => None,
        };
        Ok(PageContext {
            session,
            user,
            time_zone: self.time_zone,
            membership,
            counts: self.counts.decode(),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ApiTokenRow<T> {
    id: i64,
    user_id: i64,
    name: String,
    created_at: T,
    last_used_at: Option<T>,
    revoked_at: Option<T>,
}

impl<T: StoredTime> ApiTokenRow<T> {
    pub fn decode(self) -> StoreResult<ApiToken> {
        Ok(ApiToken {
            id: ApiTokenId(self.id),
            user_id: UserId(self.user_id),
            name: self.name,
            created_at: self.created_at.into_utc()?,
            last_used_at: opt_utc(self.last_used_at)?,
            revoked_at: opt_utc(self.revoked_at)?,
        })
    }
}

/// A job row; `payload` is JSON text on both backends (PostgreSQL selects
/// its `JSONB` column as `payload::text`).
#[derive(sqlx::FromRow)]
pub struct JobRow<T> {
    id: i64,
    kind: String,
    payload: String,
    dedupe_key: Option<String>,
    state: String,
    attempts: i32,
    max_attempts: i32,
    run_at: T,
    lease_token: Option<String>,
    locked_until: Option<T>,
    last_error: Option<String>,
    created_at: T,
}

impl<T: StoredTime> JobRow<T> {
    pub fn decode(self) -> StoreResult<Job> {
        Ok(Job {
            id: JobId(self.id),
            payload: serde_json::from_str(&self.payload)
                .map_err(|e| StoreError::Corrupt(format!("job {} payload: {e}", self.id)))?,
            kind: self.kind,
            dedupe_key: self.dedupe_key,
            state: JobState::parse(&self.state)?,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            run_at: self.run_at.into_utc()?,
            lease_token: self.lease_token,
            locked_until: opt_utc(self.locked_until)?,
            last_error: self.last_error,
            created_at: self.created_at.into_utc()?,
        })
    }
}

/// Jobs and their lease tokens as the JSON array of `[id, lease_token]`
/// pairs that the batch completion reads.
pub fn lease_pairs(jobs: &[(JobId, &str)]) -> String {
    serde_json::Value::Array(
        jobs.iter()
            .map(|(id, lease)| serde_json::json!([id.0, lease]))
            .collect(),
    )
    .to_string()
}

/// Claimed jobs in claiming order (`RETURNING` promises none).
pub fn sort_claimed(jobs: &mut [Job]) {
    jobs.sort_by_key(|j| (j.run_at, j.id));
}

#[derive(sqlx::FromRow)]
pub struct EmailRow<T> {
    id: i64,
    recipient: String,
    template: String,
    subject: String,
    text_body: String,
    html_body: String,
    dedupe_key: Option<String>,
    message_id: String,
    unsubscribe_kind: Option<String>,
    state: String,
    attempts: i32,
    last_error: Option<String>,
    created_at: T,
    sent_at: Option<T>,
}

impl<T: StoredTime> EmailRow<T> {
    pub fn decode(self) -> StoreResult<Email> {
        Ok(Email {
            id: EmailId(self.id),
            recipient: email(&self.recipient)?,
            template: self.template,
            subject: self.subject,
            text_body: self.text_body,
            html_body: self.html_body,
            dedupe_key: self.dedupe_key,
            message_id: self.message_id,
            unsubscribe_kind: self
                .unsubscribe_kind
                .as_deref()
                .map(apostle_domain::NotificationKind::parse)
                .transpose()
                .map_err(corrupt)?,
            state: EmailState::parse(&self.state)?,
            attempts: self.attempts,
            last_error: self.last_error,
            created_at: self.created_at.into_utc()?,
            sent_at: opt_utc(self.sent_at)?,
        })
    }
}

/// `(state, count)` rows from a `GROUP BY state`, completed with zeros and
/// ordered as `all` lists the states, so callers (metrics) always see every state.
pub fn complete_counts<S: Copy + Eq + Hash>(
    all: [S; 3],
    parse: fn(&str) -> StoreResult<S>,
    rows: Vec<(String, i64)>,
) -> StoreResult<Vec<(S, i64)>> {
    let mut counted = HashMap::new();
    for (state, n) in rows {
        counted.insert(parse(&state)?, n);
    }
    Ok(all
        .into_iter()
        .map(|s| (s, counted.get(&s).copied().unwrap_or(0)))
        .collect())
}

/// Maps a sqlx error to the store's: a unique violation becomes a conflict
/// about `what`, a lock or serialization failure (per `is_busy`) becomes
/// `Busy`, anything else a `Database` error carrying only sqlx's message,
/// which never includes bound values or credentials.
pub fn classify(
    err: sqlx::Error,
    what: &'static str,
    is_busy: fn(&dyn DatabaseError) -> bool,
) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        sqlx::Error::Database(db) if is_busy(db.as_ref()) => StoreError::Busy,
        sqlx::Error::PoolTimedOut => StoreError::Busy,
        _ => StoreError::Database(err.to_string()),
    }
}

// ---- connections ---------------------------------------------------------

#[derive(sqlx::FromRow)]
pub struct GrantRow<T> {
    id: i64,
    owner_user_id: i64,
    provider: String,
    external_user_id: String,
    scopes: String,
    access_token: String,
    refresh_token: Option<String>,
    access_expires_at: T,
    refresh_expires_at: Option<T>,
    status: String,
    break_reason: Option<String>,
    broken_since: Option<T>,
    generation: i64,
    lease_token: Option<String>,
    leased_until: Option<T>,
    next_due_at: T,
    created_at: T,
    updated_at: T,
}

impl<T: StoredTime> GrantRow<T> {
    pub fn decode(self) -> StoreResult<Grant> {
        Ok(Grant {
            id: GrantId(self.id),
            owner: UserId(self.owner_user_id),
            provider: self.provider,
            external_user_id: self.external_user_id,
            scopes: self.scopes,
            access_token: self.access_token,
            refresh_token: self.refresh_token,
            access_expires_at: self.access_expires_at.into_utc()?,
            refresh_expires_at: opt_utc(self.refresh_expires_at)?,
            status: ConnectionStatus::parse(&self.status)?,
            break_reason: self.break_reason,
            broken_since: opt_utc(self.broken_since)?,
            generation: self.generation,
            lease_token: self.lease_token,
            leased_until: opt_utc(self.leased_until)?,
            next_due_at: self.next_due_at.into_utc()?,
            created_at: self.created_at.into_utc()?,
            updated_at: self.updated_at.into_utc()?,
        })
    }
}

/// Claimed grants in claiming order, most overdue first.
pub fn sort_claimed_grants(grants: &mut [Grant]) {
    grants.sort_by_key(|g| (g.next_due_at, g.id));
}

#[derive(sqlx::FromRow)]
pub struct AccountRow<T> {
    id: i64,
    grant_id: i64,
    kind: String,
    owner_user_id: Option<i64>,
    team_id: Option<i64>,
    provider: String,
    external_id: String,
    name: String,
    page_token: Option<String>,
    status: String,
    break_reason: Option<String>,
    broken_since: Option<T>,
    created_at: T,
}

impl<T: StoredTime> AccountRow<T> {
    pub fn decode(self) -> StoreResult<Account> {
        let owner = decode_account_owner(self.id, &self.kind, self.owner_user_id, self.team_id)?;
        Ok(Account {
            id: AccountId(self.id),
            grant_id: GrantId(self.grant_id),
            owner,
            provider: self.provider,
            external_id: self.external_id,
            name: self.name,
            page_token: self.page_token,
            status: ConnectionStatus::parse(&self.status)?,
            break_reason: self.break_reason,
            broken_since: opt_utc(self.broken_since)?,
            created_at: self.created_at.into_utc()?,
        })
    }
}

/// An account's owner from its `kind`, `owner_user_id` and `team_id`.
fn decode_account_owner(
    id: i64,
    kind: &str,
    user: Option<i64>,
    team: Option<i64>,
) -> StoreResult<AccountOwner> {
    match (AccountKind::parse(kind)?, user, team) {
        (AccountKind::Personal, Some(user), None) => Ok(AccountOwner::Personal(UserId(user))),
        (AccountKind::Business, None, Some(team)) => Ok(AccountOwner::Business(TeamId(team))),
        _ => Err(StoreError::Corrupt(format!(
            "account {id} has no single owner of its kind"
        ))),
    }
}

/// The `owner_user_id` and `team_id` columns of an account owned by `owner`.
pub fn account_owner_columns(owner: AccountOwner) -> (Option<i64>, Option<i64>) {
    match owner {
        AccountOwner::Personal(user) => (Some(user.0), None),
        AccountOwner::Business(team) => (None, Some(team.0)),
    }
}

#[derive(sqlx::FromRow)]
pub struct FlowRow<T> {
    id: i64,
    user_id: i64,
    pkce_verifier: Option<String>,
    provider: String,
    purpose: String,
    kind: String,
    team_id: Option<i64>,
    account_id: Option<i64>,
    redirect_to: String,
    created_at: T,
    expires_at: T,
    consumed_at: Option<T>,
    grant_id: Option<i64>,
}

impl<T: StoredTime> FlowRow<T> {
    pub fn decode(self) -> StoreResult<OAuthFlow> {
        Ok(OAuthFlow {
            id: FlowId(self.id),
            user_id: UserId(self.user_id),
            pkce_verifier: self.pkce_verifier,
            provider: self.provider,
            purpose: FlowPurpose::parse(&self.purpose)?,
            kind: AccountKind::parse(&self.kind)?,
            team_id: self.team_id.map(TeamId),
            account_id: self.account_id.map(AccountId),
            redirect_to: self.redirect_to,
            created_at: self.created_at.into_utc()?,
            expires_at: self.expires_at.into_utc()?,
            consumed_at: opt_utc(self.consumed_at)?,
            grant_id: self.grant_id.map(GrantId),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ConnectionEventRow<T> {
    id: i64,
    grant_id: i64,
    account_id: Option<i64>,
    kind: String,
    reason: Option<String>,
    at: T,
    detail: String,
}

impl<T: StoredTime> ConnectionEventRow<T> {
    pub fn decode(self) -> StoreResult<ConnectionEvent> {
        Ok(ConnectionEvent {
            id: EventId(self.id),
            grant_id: GrantId(self.grant_id),
            account_id: self.account_id.map(AccountId),
            kind: self.kind,
            reason: self.reason,
            at: self.at.into_utc()?,
            detail: self.detail,
        })
    }
}

// ---- keys ----------------------------------------------------------------

/// A row of a sealed column's walk, decoded into the value and its place's fields.
pub trait SealedRowDecode {
    fn decode(self) -> StoreResult<SealedValue>;
}

#[derive(sqlx::FromRow)]
pub struct SealedGrantRow {
    id: i64,
    owner_user_id: i64,
    provider: String,
    external_user_id: String,
    sealed: String,
}

impl SealedRowDecode for SealedGrantRow {
    fn decode(self) -> StoreResult<SealedValue> {
        Ok(SealedValue {
            row_id: self.id,
            row: SealedRow::Grant {
                owner: UserId(self.owner_user_id),
                provider: self.provider,
                external_user_id: self.external_user_id,
            },
            sealed: self.sealed,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SealedAccountRow {
    id: i64,
    kind: String,
    owner_user_id: Option<i64>,
    team_id: Option<i64>,
    provider: String,
    external_id: String,
    sealed: String,
}

impl SealedRowDecode for SealedAccountRow {
    fn decode(self) -> StoreResult<SealedValue> {
        Ok(SealedValue {
            row_id: self.id,
            row: SealedRow::Account {
                owner: decode_account_owner(self.id, &self.kind, self.owner_user_id, self.team_id)?,
                provider: self.provider,
                external_id: self.external_id,
            },
            sealed: self.sealed,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SealedFlowRow {
    id: i64,
    state_hash: String,
    sealed: String,
}

impl SealedRowDecode for SealedFlowRow {
    fn decode(self) -> StoreResult<SealedValue> {
        Ok(SealedValue {
            row_id: self.id,
            row: SealedRow::Flow {
                state_hash: self.state_hash,
            },
            sealed: self.sealed,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SealedEmailRow {
    id: i64,
    recipient: String,
    template: String,
    sealed: String,
}

impl SealedRowDecode for SealedEmailRow {
    fn decode(self) -> StoreResult<SealedValue> {
        Ok(SealedValue {
            row_id: self.id,
            row: SealedRow::Email {
                recipient: email(&self.recipient)?,
                template: self.template,
            },
            sealed: self.sealed,
        })
    }
}
