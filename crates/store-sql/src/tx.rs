//! The [`Tx`](apostle_core::store::Tx) implementation both backends share,
//! as a macro: every method runs the same SQL from [`super::sql`] and decodes
//! the same rows from [`super::rows`]. What differs per backend is passed in:
//! the transaction type, the sqlx database, how a timestamp is stored, the
//! error mapping, how the job payload is read and written (JSON text on
//! SQLite, `JSONB` on PostgreSQL), and how rows are locked for an update
//! (`FOR UPDATE` on PostgreSQL; nothing on SQLite, whose writers take turns).

/// Implements `Tx` for `$tx`, a struct with a field
/// `tx: sqlx::Transaction<'static, $db>`.
#[macro_export]
macro_rules! impl_tx {
    (
        tx: $tx:ident,
        database: $db:ty,
        time: $time:ty = $encode:path,
        errors: $err:path, $conflict:path,
        payload: select $select:literal, insert $insert:literal,
        lock_rows: $lock:literal,
        job_pairs: $pairs:literal $(,)?
    ) => {
        const _: () = {
            use ::apostle_core::store::{
                Account, AccountKind, AccountOwner, ApiToken, ConnectionCount, ConnectionEvent,
                ConnectionStatus, Email, EmailState, Grant, GrantTokens, Invite, Job, JobState,
                LayoutCounts, Member, MemberChange, NewAccount, NewConnectionEvent, NewEmail,
                NewFlow, NewGrant, NewInvite, NewJob, OAuthFlow, PageContext, SealedColumn,
                SealedValue, Session, StoreError, StoreResult, Team, TeamRole, Tx, User,
            };
            use ::apostle_domain::{
                AccountId, ApiTokenId, EmailAddress, EmailId, EventId, FlowId, GrantId, InviteId,
                JobId, PersonName, Role, TeamId, TeamName, TeamSlug, UserId,
            };
            use ::chrono::{DateTime, Utc};
            use $crate::rows::{
                account_owner_columns, complete_counts, decode_all, decode_role, sort_members,
                sort_team_roles, AccountRow, ApiTokenRow, ConnectionEventRow, EmailRow, FlowRow,
                GrantRow, InviteRow, JobRow, LayoutCountsRow, MemberRow, PageContextRow,
                SealedAccountRow, SealedEmailRow, SealedFlowRow, SealedGrantRow, SealedRowDecode,
                SignedInRow, StoredTime, TeamRoleRow, TeamRow, UserRow,
            };
            use $crate::sql;

            const JOB_BY_ID: &str = $crate::job_by_id!($select);
            const LIST_JOBS: &str = $crate::list_jobs!($select);
            const ENQUEUE_JOB: &str = $crate::enqueue_job!($insert);
            const LOCK_ADMINS: &str = $crate::lock_admins!($lock);
            const COMPLETE_JOBS: &str = $crate::complete_jobs!($pairs);

            type Query<'q> =
                ::sqlx::query::Query<'q, $db, <$db as ::sqlx::Database>::Arguments<'q>>;

            impl $tx {
                /// Runs a statement and says whether it changed exactly one row.
                async fn changed_one(&mut self, query: Query<'_>) -> StoreResult<bool> {
                    Ok(self.changed(query).await? == 1)
                }

                async fn changed(&mut self, query: Query<'_>) -> StoreResult<u64> {
                    let done = query.execute(&mut *self.tx).await.map_err($err)?;
                    Ok(done.rows_affected())
                }
            }

            #[::async_trait::async_trait]
            impl Tx for $tx {
                async fn commit(self: Box<Self>) -> StoreResult<()> {
                    // On its own task: a caller that stops waiting half-way
                    // through COMMIT must not leave the outcome to a rollback
                    // queued behind it.
                    $crate::pool::detached(async move { self.tx.commit().await.map_err($err) })
                        .await
                }

                async fn create_team(
                    &mut self,
                    slug: &TeamSlug,
                    name: &TeamName,
                    now: DateTime<Utc>,
                ) -> StoreResult<Team> {
                    let row: TeamRow<$time> = ::sqlx::query_as(sql::CREATE_TEAM)
                        .bind(slug.as_str())
                        .bind(name.as_str())
                        .bind($encode(now))
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($conflict("team slug"))?;
                    row.decode()
                }

                async fn team_by_slug(&mut self, slug: &TeamSlug) -> StoreResult<Option<Team>> {
                    let row: Option<TeamRow<$time>> = ::sqlx::query_as(sql::TEAM_BY_SLUG)
                        .bind(slug.as_str())
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(TeamRow::decode).transpose()
                }

                async fn team_by_id(&mut self, team: TeamId) -> StoreResult<Option<Team>> {
                    let row: Option<TeamRow<$time>> = ::sqlx::query_as(sql::TEAM_BY_ID)
                        .bind(team.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(TeamRow::decode).transpose()
                }

                async fn create_user(
                    &mut self,
                    email: &EmailAddress,
                    name: &PersonName,
                    password_hash: Option<&str>,
                    now: DateTime<Utc>,
                ) -> StoreResult<User> {
                    let row: UserRow<$time> = ::sqlx::query_as(sql::CREATE_USER)
                        .bind(email.as_str())
                        .bind(name.as_str())
                        .bind(password_hash)
                        .bind($encode(now))
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($conflict("email"))?;
                    row.decode()
                }

                async fn user_by_id(&mut self, user: UserId) -> StoreResult<Option<User>> {
                    let row: Option<UserRow<$time>> = ::sqlx::query_as(sql::USER_BY_ID)
                        .bind(user.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(UserRow::decode).transpose()
                }

                async fn user_by_email(
                    &mut self,
                    email: &EmailAddress,
                ) -> StoreResult<Option<User>> {
                    let row: Option<UserRow<$time>> = ::sqlx::query_as(sql::USER_BY_EMAIL)
                        .bind(email.as_str())
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(UserRow::decode).transpose()
                }

                async fn set_user_name(
                    &mut self,
                    user: UserId,
                    name: &PersonName,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::SET_USER_NAME)
                        .bind(user.0)
                        .bind(name.as_str());
                    self.changed_one(q).await
                }

                async fn set_password_hash(
                    &mut self,
                    user: UserId,
                    hash: &str,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::SET_PASSWORD_HASH)
                        .bind(user.0)
                        .bind(hash);
                    self.changed_one(q).await
                }

                async fn upsert_member(
                    &mut self,
                    team: TeamId,
                    user: UserId,
                    role: Role,
                ) -> StoreResult<()> {
                    let q = ::sqlx::query(sql::UPSERT_MEMBER)
                        .bind(team.0)
                        .bind(user.0)
                        .bind(role.as_str());
                    self.changed(q).await.map(drop)
                }

                async fn member_role(
                    &mut self,
                    team: TeamId,
                    user: UserId,
                ) -> StoreResult<Option<Role>> {
                    let role: Option<String> = ::sqlx::query_scalar(sql::MEMBER_ROLE)
                        .bind(team.0)
                        .bind(user.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    role.as_deref().map(decode_role).transpose()
                }

                async fn set_member_role(
                    &mut self,
                    team: TeamId,
                    user: UserId,
                    role: Role,
                ) -> StoreResult<MemberChange> {
                    self.lock_admins(team).await?;
                    let q = ::sqlx::query(sql::SET_MEMBER_ROLE)
                        .bind(team.0)
                        .bind(user.0)
                        .bind(role.as_str());
                    let changed = self.changed_one(q).await?;
                    self.member_change(team, user, changed).await
                }

                async fn remove_member(
                    &mut self,
                    team: TeamId,
                    user: UserId,
                ) -> StoreResult<MemberChange> {
                    self.lock_admins(team).await?;
                    let q = ::sqlx::query(sql::REMOVE_MEMBER).bind(team.0).bind(user.0);
                    let changed = self.changed_one(q).await?;
                    self.member_change(team, user, changed).await
                }

                async fn list_members(&mut self, team: TeamId) -> StoreResult<Vec<Member>> {
                    let rows: Vec<MemberRow<$time>> = ::sqlx::query_as(sql::LIST_MEMBERS)
                        .bind(team.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    let mut members = decode_all(rows, MemberRow::decode)?;
                    sort_members(&mut members);
                    Ok(members)
                }

                async fn teams_of_user(&mut self, user: UserId) -> StoreResult<Vec<TeamRole>> {
                    let rows: Vec<TeamRoleRow<$time>> = ::sqlx::query_as(sql::TEAMS_OF_USER)
                        .bind(user.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    let mut teams = decode_all(rows, TeamRoleRow::decode)?;
                    sort_team_roles(&mut teams);
                    Ok(teams)
                }

                async fn create_invite(
                    &mut self,
                    team: TeamId,
                    invite: &NewInvite,
                ) -> StoreResult<Invite> {
                    let row: InviteRow<$time> = ::sqlx::query_as(sql::CREATE_INVITE)
                        .bind(team.0)
                        .bind(invite.email.as_str())
                        .bind(invite.name.as_str())
                        .bind(invite.role.as_str())
                        .bind(&invite.token_hash)
                        .bind(invite.invited_by.0)
                        .bind($encode(invite.created_at))
                        .bind($encode(invite.expires_at))
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($conflict("invite token"))?;
                    row.decode()
                }

                async fn invite_by_token_hash(
                    &mut self,
                    token_hash: &str,
                ) -> StoreResult<Option<Invite>> {
                    let row: Option<InviteRow<$time>> = ::sqlx::query_as(sql::INVITE_BY_TOKEN_HASH)
                        .bind(token_hash)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(InviteRow::decode).transpose()
                }

                async fn mark_invite_accepted(
                    &mut self,
                    invite: InviteId,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::ACCEPT_INVITE)
                        .bind(invite.0)
                        .bind($encode(now));
                    self.changed_one(q).await
                }

                async fn list_open_invites(
                    &mut self,
                    team: TeamId,
                    now: DateTime<Utc>,
                ) -> StoreResult<Vec<Invite>> {
                    let rows: Vec<InviteRow<$time>> = ::sqlx::query_as(sql::LIST_OPEN_INVITES)
                        .bind(team.0)
                        .bind($encode(now))
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    decode_all(rows, InviteRow::decode)
                }

                async fn delete_invite(
                    &mut self,
                    team: TeamId,
                    invite: InviteId,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::DELETE_INVITE)
                        .bind(team.0)
                        .bind(invite.0);
                    self.changed_one(q).await
                }

                async fn create_password_reset(
                    &mut self,
                    user: UserId,
                    token_hash: &str,
                    now: DateTime<Utc>,
                    expires_at: DateTime<Utc>,
                ) -> StoreResult<()> {
                    let retire = ::sqlx::query(sql::RETIRE_PASSWORD_RESETS)
                        .bind(user.0)
                        .bind($encode(now));
                    self.changed(retire).await?;
                    ::sqlx::query(sql::CREATE_PASSWORD_RESET)
                        .bind(user.0)
                        .bind(token_hash)
                        .bind($encode(now))
                        .bind($encode(expires_at))
                        .execute(&mut *self.tx)
                        .await
                        .map_err($conflict("password reset token"))?;
                    Ok(())
                }

                async fn password_reset_user(
                    &mut self,
                    token_hash: &str,
                    now: DateTime<Utc>,
                ) -> StoreResult<Option<UserId>> {
                    let user: Option<i64> = ::sqlx::query_scalar(sql::OPEN_PASSWORD_RESET_USER)
                        .bind(token_hash)
                        .bind($encode(now))
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(user.map(UserId))
                }

                async fn use_password_reset(
                    &mut self,
                    token_hash: &str,
                    now: DateTime<Utc>,
                ) -> StoreResult<Option<UserId>> {
                    let user: Option<i64> = ::sqlx::query_scalar(sql::USE_PASSWORD_RESET)
                        .bind(token_hash)
                        .bind($encode(now))
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(user.map(UserId))
                }

                async fn create_session(
                    &mut self,
                    id_hash: &str,
                    session: &Session,
                ) -> StoreResult<()> {
                    ::sqlx::query(sql::CREATE_SESSION)
                        .bind(id_hash)
                        .bind(&session.csrf_token)
                        .bind(session.user_id.0)
                        .bind($encode(session.created_at))
                        .bind($encode(session.expires_at))
                        .execute(&mut *self.tx)
                        .await
                        .map_err($conflict("session"))
                        .map(drop)
                }

                async fn session_by_hash(
                    &mut self,
                    id_hash: &str,
                    now: DateTime<Utc>,
                ) -> StoreResult<Option<(Session, User)>> {
                    let row: Option<SignedInRow<$time>> = ::sqlx::query_as(sql::LIVE_SESSION)
                        .bind(id_hash)
                        .bind($encode(now))
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(SignedInRow::decode).transpose()
                }

                async fn page_context(
                    &mut self,
                    id_hash: &str,
                    team: &TeamSlug,
                    now: DateTime<Utc>,
                    inbox_cap: i64,
                ) -> StoreResult<Option<PageContext>> {
                    let row: Option<PageContextRow<$time>> = ::sqlx::query_as(sql::PAGE_CONTEXT)
                        .bind(id_hash)
                        .bind($encode(now))
                        .bind(team.as_str())
                        .bind(inbox_cap)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(PageContextRow::decode).transpose()
                }

                async fn layout_counts(
                    &mut self,
                    team: TeamId,
                    user: UserId,
                    now: DateTime<Utc>,
                    inbox_cap: i64,
                ) -> StoreResult<LayoutCounts> {
                    let row: LayoutCountsRow = ::sqlx::query_as(sql::LAYOUT_COUNTS)
                        .bind(team.0)
                        .bind(user.0)
                        .bind($encode(now))
                        .bind(inbox_cap)
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(row.decode())
                }

                async fn delete_session(&mut self, id_hash: &str) -> StoreResult<bool> {
                    self.changed_one(::sqlx::query(sql::DELETE_SESSION).bind(id_hash))
                        .await
                }

                async fn delete_sessions_of_user(&mut self, user: UserId) -> StoreResult<u64> {
                    self.changed(::sqlx::query(sql::DELETE_SESSIONS_OF_USER).bind(user.0))
                        .await
                }

                async fn delete_expired_sessions(
                    &mut self,
                    now: DateTime<Utc>,
                ) -> StoreResult<u64> {
                    self.changed(::sqlx::query(sql::DELETE_EXPIRED_SESSIONS).bind($encode(now)))
                        .await
                }

                async fn create_api_token(
                    &mut self,
                    user: UserId,
                    token_hash: &str,
                    name: &str,
                    now: DateTime<Utc>,
                ) -> StoreResult<ApiToken> {
                    let row: ApiTokenRow<$time> = ::sqlx::query_as(sql::CREATE_API_TOKEN)
                        .bind(user.0)
                        .bind(token_hash)
                        .bind(name)
                        .bind($encode(now))
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($conflict("API token"))?;
                    row.decode()
                }

                async fn api_token_by_hash(
                    &mut self,
                    token_hash: &str,
                ) -> StoreResult<Option<(ApiToken, User)>> {
                    let row: Option<ApiTokenRow<$time>> = ::sqlx::query_as(sql::LIVE_API_TOKEN)
                        .bind(token_hash)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    let Some(token) = row.map(ApiTokenRow::decode).transpose()? else {
                        return Ok(None);
                    };
                    let user = self.user_by_id(token.user_id).await?;
                    Ok(user.map(|user| (token, user)))
                }

                async fn record_api_token_use(
                    &mut self,
                    token: ApiTokenId,
                    now: DateTime<Utc>,
                    unless_used_since: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::RECORD_API_TOKEN_USE)
                        .bind(token.0)
                        .bind($encode(now))
                        .bind($encode(unless_used_since));
                    self.changed_one(q).await
                }

                async fn list_api_tokens(&mut self, user: UserId) -> StoreResult<Vec<ApiToken>> {
                    let rows: Vec<ApiTokenRow<$time>> = ::sqlx::query_as(sql::LIST_API_TOKENS)
                        .bind(user.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    decode_all(rows, ApiTokenRow::decode)
                }

                async fn revoke_api_token(
                    &mut self,
                    user: UserId,
                    token: ApiTokenId,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::REVOKE_API_TOKEN)
                        .bind(user.0)
                        .bind(token.0)
                        .bind($encode(now));
                    self.changed_one(q).await
                }

                async fn revoke_api_tokens_of_user(
                    &mut self,
                    user: UserId,
                    now: DateTime<Utc>,
                ) -> StoreResult<u64> {
                    let q = ::sqlx::query(sql::REVOKE_API_TOKENS_OF_USER)
                        .bind(user.0)
                        .bind($encode(now));
                    self.changed(q).await
                }

                async fn enqueue_job(&mut self, job: &NewJob) -> StoreResult<Option<JobId>> {
                    let id: Option<i64> = ::sqlx::query_scalar(ENQUEUE_JOB)
                        .bind(&job.kind)
                        .bind(job.payload.to_string())
                        .bind(&job.dedupe_key)
                        .bind(job.max_attempts)
                        .bind($encode(job.run_at))
                        .bind($encode(job.created_at))
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(id.map(JobId))
                }

                async fn job_by_id(&mut self, job: JobId) -> StoreResult<Option<Job>> {
                    let row: Option<JobRow<$time>> = ::sqlx::query_as(JOB_BY_ID)
                        .bind(job.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(JobRow::decode).transpose()
                }

                async fn fail_job(
                    &mut self,
                    job: JobId,
                    lease_token: &str,
                    error: &str,
                    retry_at: Option<DateTime<Utc>>,
                ) -> StoreResult<bool> {
                    let q = match retry_at {
                        Some(retry_at) => ::sqlx::query(sql::RETRY_FAILED_JOB)
                            .bind(job.0)
                            .bind(lease_token)
                            .bind(error)
                            .bind($encode(retry_at)),
                        None => ::sqlx::query(sql::BURY_FAILED_JOB)
                            .bind(job.0)
                            .bind(lease_token)
                            .bind(error),
                    };
                    self.changed_one(q).await
                }

                async fn release_job(
                    &mut self,
                    job: JobId,
                    lease_token: &str,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::RELEASE_JOB)
                        .bind(job.0)
                        .bind(lease_token)
                        .bind($encode(now));
                    self.changed_one(q).await
                }

                async fn list_jobs(
                    &mut self,
                    state: JobState,
                    limit: i64,
                ) -> StoreResult<Vec<Job>> {
                    let rows: Vec<JobRow<$time>> = ::sqlx::query_as(LIST_JOBS)
                        .bind(state.as_str())
                        .bind(limit)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    decode_all(rows, JobRow::decode)
                }

                async fn count_jobs_by_state(&mut self) -> StoreResult<Vec<(JobState, i64)>> {
                    let rows = ::sqlx::query_as(sql::COUNT_JOBS_BY_STATE)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    complete_counts(JobState::ALL, JobState::parse, rows)
                }

                async fn retry_dead_job(
                    &mut self,
                    job: JobId,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::REVIVE_DEAD_JOB)
                        .bind(job.0)
                        .bind($encode(now));
                    self.changed_one(q).await
                }

                async fn extend_job_lease(
                    &mut self,
                    job: JobId,
                    lease_token: &str,
                    locked_until: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::EXTEND_JOB_LEASE)
                        .bind(job.0)
                        .bind(lease_token)
                        .bind($encode(locked_until));
                    self.changed_one(q).await
                }

                async fn complete_jobs(
                    &mut self,
                    jobs: &[(JobId, &str)],
                ) -> StoreResult<Vec<JobId>> {
                    if jobs.is_empty() {
                        return Ok(Vec::new());
                    }
                    let ids: Vec<i64> = ::sqlx::query_scalar(COMPLETE_JOBS)
                        .bind($crate::rows::lease_pairs(jobs))
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(ids.into_iter().map(JobId).collect())
                }

                async fn insert_email(&mut self, email: &NewEmail) -> StoreResult<Option<EmailId>> {
                    let id: Option<i64> = ::sqlx::query_scalar(sql::INSERT_EMAIL)
                        .bind(email.recipient.as_str())
                        .bind(&email.template)
                        .bind(&email.subject)
                        .bind(&email.text_body)
                        .bind(&email.html_body)
                        .bind(&email.dedupe_key)
                        .bind(&email.message_id)
                        .bind($encode(email.created_at))
                        .bind(email.unsubscribe_kind.map(|k| k.as_str()))
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(id.map(EmailId))
                }

                async fn email_by_id(&mut self, email: EmailId) -> StoreResult<Option<Email>> {
                    let row: Option<EmailRow<$time>> = ::sqlx::query_as(sql::EMAIL_BY_ID)
                        .bind(email.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(EmailRow::decode).transpose()
                }

                async fn mark_email_sent(
                    &mut self,
                    email: EmailId,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::MARK_EMAIL_SENT)
                        .bind(email.0)
                        .bind($encode(now));
                    self.changed_one(q).await
                }

                async fn record_email_failure(
                    &mut self,
                    email: EmailId,
                    error: &str,
                    give_up: bool,
                ) -> StoreResult<bool> {
                    let state = if give_up {
                        EmailState::Failed
                    } else {
                        EmailState::Queued
                    };
                    let q = ::sqlx::query(sql::RECORD_EMAIL_FAILURE)
                        .bind(email.0)
                        .bind(error)
                        .bind(state.as_str());
                    self.changed_one(q).await
                }

                async fn emails_to(&mut self, recipient: &EmailAddress) -> StoreResult<Vec<Email>> {
                    let rows: Vec<EmailRow<$time>> = ::sqlx::query_as(sql::EMAILS_TO)
                        .bind(recipient.as_str())
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    decode_all(rows, EmailRow::decode)
                }

                async fn count_emails_by_state(&mut self) -> StoreResult<Vec<(EmailState, i64)>> {
                    let rows = ::sqlx::query_as(sql::COUNT_EMAILS_BY_STATE)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    complete_counts(EmailState::ALL, EmailState::parse, rows)
                }

                async fn record_login_failure(
                    &mut self,
                    key_hash: &str,
                    now: DateTime<Utc>,
                ) -> StoreResult<()> {
                    let q = ::sqlx::query(sql::RECORD_LOGIN_FAILURE)
                        .bind(key_hash)
                        .bind($encode(now));
                    self.changed(q).await.map(drop)
                }

                async fn recent_login_failures(
                    &mut self,
                    key_hash: &str,
                    since: DateTime<Utc>,
                    limit: i64,
                ) -> StoreResult<Vec<DateTime<Utc>>> {
                    let rows: Vec<$time> = ::sqlx::query_scalar(sql::RECENT_LOGIN_FAILURES)
                        .bind(key_hash)
                        .bind($encode(since))
                        .bind(limit)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    decode_all(rows, StoredTime::into_utc)
                }

                async fn forget_login_failures(&mut self, key_hash: &str) -> StoreResult<u64> {
                    self.changed(::sqlx::query(sql::FORGET_LOGIN_FAILURES).bind(key_hash))
                        .await
                }

                async fn purge_login_failures(
                    &mut self,
                    before: DateTime<Utc>,
                ) -> StoreResult<u64> {
                    self.changed(::sqlx::query(sql::PURGE_LOGIN_FAILURES).bind($encode(before)))
                        .await
                }

                // ---- connections ------------------------------------------

                async fn create_grant(
                    &mut self,
                    owner: UserId,
                    grant: &NewGrant,
                ) -> StoreResult<Grant> {
                    // No row back: the login's grant exists and was not removed.
                    let row: Option<GrantRow<$time>> = ::sqlx::query_as(sql::CREATE_GRANT)
                        .bind(owner.0)
                        .bind(&grant.provider)
                        .bind(&grant.external_user_id)
                        .bind(&grant.scopes)
                        .bind(&grant.access_token)
                        .bind(&grant.refresh_token)
                        .bind($encode(grant.access_expires_at))
                        .bind(grant.refresh_expires_at.map($encode))
                        .bind($encode(grant.next_due_at))
                        .bind($encode(grant.created_at))
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($conflict("grant of this login"))?;
                    row.ok_or(StoreError::Conflict("grant of this login"))?
                        .decode()
                }

                async fn grant_by_id(&mut self, grant: GrantId) -> StoreResult<Option<Grant>> {
                    let row: Option<GrantRow<$time>> = ::sqlx::query_as(sql::GRANT_BY_ID)
                        .bind(grant.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(GrantRow::decode).transpose()
                }

                async fn grant_by_login(
                    &mut self,
                    owner: UserId,
                    provider: &str,
                    external_user_id: &str,
                ) -> StoreResult<Option<Grant>> {
                    let row: Option<GrantRow<$time>> = ::sqlx::query_as(sql::GRANT_BY_LOGIN)
                        .bind(owner.0)
                        .bind(provider)
                        .bind(external_user_id)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(GrantRow::decode).transpose()
                }

                async fn store_grant_tokens(
                    &mut self,
                    grant: GrantId,
                    generation: i64,
                    tokens: &GrantTokens,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::STORE_GRANT_TOKENS)
                        .bind(grant.0)
                        .bind(generation)
                        .bind(&tokens.scopes)
                        .bind(&tokens.access_token)
                        .bind(&tokens.refresh_token)
                        .bind($encode(tokens.access_expires_at))
                        .bind(tokens.refresh_expires_at.map($encode))
                        .bind($encode(now));
                    self.changed_one(q).await
                }

                async fn mark_grant_broken(
                    &mut self,
                    grant: GrantId,
                    reason: &str,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::MARK_GRANT_BROKEN)
                        .bind(grant.0)
                        .bind(reason)
                        .bind($encode(now));
                    self.changed_one(q).await
                }

                async fn mark_grant_active(
                    &mut self,
                    grant: GrantId,
                    next_due_at: DateTime<Utc>,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::MARK_GRANT_ACTIVE)
                        .bind(grant.0)
                        .bind($encode(next_due_at))
                        .bind($encode(now));
                    self.changed_one(q).await
                }

                async fn remove_grant(
                    &mut self,
                    owner: UserId,
                    grant: GrantId,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::REMOVE_GRANT)
                        .bind(owner.0)
                        .bind(grant.0)
                        .bind($encode(now));
                    self.changed_one(q).await
                }

                async fn lease_grant(
                    &mut self,
                    grant: GrantId,
                    lease_token: &str,
                    now: DateTime<Utc>,
                    leased_until: DateTime<Utc>,
                ) -> StoreResult<Option<Grant>> {
                    let row: Option<GrantRow<$time>> = ::sqlx::query_as(sql::LEASE_GRANT)
                        .bind(grant.0)
                        .bind(lease_token)
                        .bind($encode(now))
                        .bind($encode(leased_until))
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(GrantRow::decode).transpose()
                }

                async fn release_grant_lease(
                    &mut self,
                    grant: GrantId,
                    lease_token: &str,
                    next_due_at: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::RELEASE_GRANT_LEASE)
                        .bind(grant.0)
                        .bind(lease_token)
                        .bind($encode(next_due_at));
                    self.changed_one(q).await
                }

                async fn renew_grant_lease(
                    &mut self,
                    grant: GrantId,
                    lease_token: &str,
                    leased_until: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::RENEW_GRANT_LEASE)
                        .bind(grant.0)
                        .bind(lease_token)
                        .bind($encode(leased_until));
                    self.changed_one(q).await
                }

                async fn set_grant_next_due(
                    &mut self,
                    grant: GrantId,
                    next_due_at: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::SET_GRANT_NEXT_DUE)
                        .bind(grant.0)
                        .bind($encode(next_due_at));
                    self.changed_one(q).await
                }

                async fn create_account(
                    &mut self,
                    owner: AccountOwner,
                    account: &NewAccount,
                ) -> StoreResult<Account> {
                    let (user, team) = account_owner_columns(owner);
                    let row: AccountRow<$time> = ::sqlx::query_as(sql::CREATE_ACCOUNT)
                        .bind(account.grant_id.0)
                        .bind(owner.kind())
                        .bind(user)
                        .bind(team)
                        .bind(&account.provider)
                        .bind(&account.external_id)
                        .bind(&account.name)
                        .bind(&account.page_token)
                        .bind($encode(account.created_at))
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($conflict("account"))?;
                    row.decode()
                }

                async fn accounts_of_grant(&mut self, grant: GrantId) -> StoreResult<Vec<Account>> {
                    self.accounts(sql::ACCOUNTS_OF_GRANT, grant.0).await
                }

                async fn personal_accounts(&mut self, user: UserId) -> StoreResult<Vec<Account>> {
                    self.accounts(sql::PERSONAL_ACCOUNTS, user.0).await
                }

                async fn business_accounts(&mut self, team: TeamId) -> StoreResult<Vec<Account>> {
                    self.accounts(sql::BUSINESS_ACCOUNTS, team.0).await
                }

                async fn set_account_status(
                    &mut self,
                    owner: AccountOwner,
                    account: AccountId,
                    status: ConnectionStatus,
                    reason: Option<&str>,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::SET_ACCOUNT_STATUS)
                        .bind(account.0)
                        .bind(owner.kind())
                        .bind(owner.id())
                        .bind(status.as_str())
                        .bind(reason)
                        .bind($encode(now));
                    self.changed_one(q).await
                }

                async fn move_account(
                    &mut self,
                    team: TeamId,
                    account: AccountId,
                    to_grant: GrantId,
                    page_token: Option<&str>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::MOVE_ACCOUNT)
                        .bind(team.0)
                        .bind(account.0)
                        .bind(to_grant.0)
                        .bind(page_token);
                    self.changed_one(q).await
                }

                async fn create_flow(
                    &mut self,
                    user: UserId,
                    flow: &NewFlow,
                ) -> StoreResult<OAuthFlow> {
                    let row: FlowRow<$time> = ::sqlx::query_as(sql::CREATE_FLOW)
                        .bind(user.0)
                        .bind(&flow.state_hash)
                        .bind(&flow.pkce_verifier)
                        .bind(&flow.provider)
                        .bind(flow.purpose.as_str())
                        .bind(flow.kind.as_str())
                        .bind(flow.team_id.map(|t| t.0))
                        .bind(flow.account_id.map(|a| a.0))
                        .bind(&flow.redirect_to)
                        .bind($encode(flow.created_at))
                        .bind($encode(flow.expires_at))
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($conflict("flow state"))?;
                    row.decode()
                }

                async fn consume_flow(
                    &mut self,
                    state_hash: &str,
                    now: DateTime<Utc>,
                ) -> StoreResult<Option<OAuthFlow>> {
                    let row: Option<FlowRow<$time>> = ::sqlx::query_as(sql::CONSUME_FLOW)
                        .bind(state_hash)
                        .bind($encode(now))
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(FlowRow::decode).transpose()
                }

                async fn flow_by_state(
                    &mut self,
                    state_hash: &str,
                ) -> StoreResult<Option<OAuthFlow>> {
                    let row: Option<FlowRow<$time>> = ::sqlx::query_as(sql::FLOW_BY_STATE)
                        .bind(state_hash)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(FlowRow::decode).transpose()
                }

                async fn flow_by_id(
                    &mut self,
                    user: UserId,
                    flow: FlowId,
                ) -> StoreResult<Option<OAuthFlow>> {
                    let row: Option<FlowRow<$time>> = ::sqlx::query_as(sql::FLOW_BY_ID)
                        .bind(user.0)
                        .bind(flow.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(FlowRow::decode).transpose()
                }

                async fn close_flow(
                    &mut self,
                    flow: FlowId,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::CLOSE_FLOW)
                        .bind(flow.0)
                        .bind($encode(now));
                    self.changed_one(q).await
                }

                async fn set_flow_grant(
                    &mut self,
                    user: UserId,
                    flow: FlowId,
                    grant: GrantId,
                    until: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::SET_FLOW_GRANT)
                        .bind(user.0)
                        .bind(flow.0)
                        .bind(grant.0)
                        .bind($encode(until));
                    self.changed_one(q).await
                }

                async fn purge_flows(&mut self, before: DateTime<Utc>) -> StoreResult<u64> {
                    let done = ::sqlx::query(sql::PURGE_FLOWS)
                        .bind($encode(before))
                        .execute(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(done.rows_affected())
                }

                async fn grants_of_login(
                    &mut self,
                    provider: &str,
                    external_user_id: &str,
                ) -> StoreResult<Vec<Grant>> {
                    let rows: Vec<GrantRow<$time>> = ::sqlx::query_as(sql::GRANTS_OF_LOGIN)
                        .bind(provider)
                        .bind(external_user_id)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    decode_all(rows, GrantRow::decode)
                }

                async fn account_by_id(
                    &mut self,
                    account: AccountId,
                ) -> StoreResult<Option<Account>> {
                    Ok(self.accounts(sql::ACCOUNT_BY_ID, account.0).await?.pop())
                }

                async fn list_accounts(
                    &mut self,
                    after: AccountId,
                    limit: i64,
                ) -> StoreResult<Vec<Account>> {
                    let rows: Vec<AccountRow<$time>> = ::sqlx::query_as(sql::LIST_ACCOUNTS)
                        .bind(after.0)
                        .bind(limit)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    decode_all(rows, AccountRow::decode)
                }

                async fn count_connections(&mut self) -> StoreResult<Vec<ConnectionCount>> {
                    let rows: Vec<(String, String, String, i64)> =
                        ::sqlx::query_as(sql::COUNT_CONNECTIONS)
                            .fetch_all(&mut *self.tx)
                            .await
                            .map_err($err)?;
                    rows.into_iter()
                        .map(|(provider, kind, status, count)| {
                            Ok(ConnectionCount {
                                provider,
                                kind: AccountKind::parse(&kind)?,
                                status: ConnectionStatus::parse(&status)?,
                                count,
                            })
                        })
                        .collect()
                }

                async fn set_team_auto_reminders(
                    &mut self,
                    team: TeamId,
                    on: bool,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::SET_TEAM_AUTO_REMINDERS)
                        .bind(team.0)
                        .bind(on);
                    self.changed_one(q).await
                }

                async fn team_auto_reminders(&mut self, team: TeamId) -> StoreResult<bool> {
                    let on: Option<bool> = ::sqlx::query_scalar(sql::TEAM_AUTO_REMINDERS)
                        .bind(team.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(on.unwrap_or(false))
                }

                async fn auto_reminder_teams(&mut self) -> StoreResult<Vec<TeamId>> {
                    let ids: Vec<i64> = ::sqlx::query_scalar(sql::AUTO_REMINDER_TEAMS)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(ids.into_iter().map(TeamId).collect())
                }

                async fn append_connection_event(
                    &mut self,
                    event: &NewConnectionEvent,
                ) -> StoreResult<EventId> {
                    let id: i64 = ::sqlx::query_scalar(sql::APPEND_CONNECTION_EVENT)
                        .bind(event.grant_id.0)
                        .bind(event.account_id.map(|a| a.0))
                        .bind(&event.kind)
                        .bind(&event.reason)
                        .bind($encode(event.at))
                        .bind(&event.detail)
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(EventId(id))
                }

                async fn connection_events(
                    &mut self,
                    grant: GrantId,
                    limit: i64,
                ) -> StoreResult<Vec<ConnectionEvent>> {
                    let rows: Vec<ConnectionEventRow<$time>> =
                        ::sqlx::query_as(sql::CONNECTION_EVENTS)
                            .bind(grant.0)
                            .bind(limit)
                            .fetch_all(&mut *self.tx)
                            .await
                            .map_err($err)?;
                    decode_all(rows, ConnectionEventRow::decode)
                }

                async fn team_connection_events(
                    &mut self,
                    team: TeamId,
                    since: DateTime<Utc>,
                ) -> StoreResult<Vec<ConnectionEvent>> {
                    let rows: Vec<ConnectionEventRow<$time>> =
                        ::sqlx::query_as(sql::TEAM_CONNECTION_EVENTS)
                            .bind(team.0)
                            .bind($encode(since))
                            .fetch_all(&mut *self.tx)
                            .await
                            .map_err($err)?;
                    decode_all(rows, ConnectionEventRow::decode)
                }

                async fn sealed_values(
                    &mut self,
                    column: SealedColumn,
                    after: i64,
                    limit: i64,
                ) -> StoreResult<Vec<SealedValue>> {
                    let query = sql::sealed_column(column).values;
                    match column {
                        SealedColumn::GrantAccessToken | SealedColumn::GrantRefreshToken => {
                            self.sealed::<SealedGrantRow>(query, after, limit).await
                        }
                        SealedColumn::AccountPageToken => {
                            self.sealed::<SealedAccountRow>(query, after, limit).await
                        }
                        SealedColumn::FlowPkceVerifier => {
                            self.sealed::<SealedFlowRow>(query, after, limit).await
                        }
                        SealedColumn::EmailTextBody | SealedColumn::EmailHtmlBody => {
                            self.sealed::<SealedEmailRow>(query, after, limit).await
                        }
                    }
                }

                async fn reseal_value(
                    &mut self,
                    column: SealedColumn,
                    row_id: i64,
                    sealed: &str,
                    resealed: &str,
                ) -> StoreResult<bool> {
                    let q = ::sqlx::query(sql::sealed_column(column).reseal)
                        .bind(row_id)
                        .bind(sealed)
                        .bind(resealed);
                    self.changed_one(q).await
                }
            }

            // ---- memberships: keeping an admin ----------------------------
            impl $tx {
                async fn lock_admins(&mut self, team: TeamId) -> StoreResult<()> {
                    ::sqlx::query(LOCK_ADMINS)
                        .bind(team.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)
                        .map(drop)
                }

                /// Why a guarded change touched no row: no such member, or
                /// the member is the last admin.
                async fn member_change(
                    &mut self,
                    team: TeamId,
                    user: UserId,
                    changed: bool,
                ) -> StoreResult<MemberChange> {
                    if changed {
                        return Ok(MemberChange::Done);
                    }
                    Ok(match self.member_role(team, user).await? {
                        Some(_) => MemberChange::LastAdmin,
                        None => MemberChange::NotMember,
                    })
                }
            }

            // ---- connections: account lists --------------------------------
            impl $tx {
                /// The accounts a one-id query selects.
                async fn accounts(
                    &mut self,
                    query: &'static str,
                    id: i64,
                ) -> StoreResult<Vec<Account>> {
                    let rows: Vec<AccountRow<$time>> = ::sqlx::query_as(query)
                        .bind(id)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    decode_all(rows, AccountRow::decode)
                }
            }

            // ---- keys: walking a sealed column -------------------------------
            impl $tx {
                /// One batch of a sealed column whose rows decode as `R`.
                async fn sealed<R>(
                    &mut self,
                    query: &'static str,
                    after: i64,
                    limit: i64,
                ) -> StoreResult<Vec<SealedValue>>
                where
                    R: for<'r> ::sqlx::FromRow<'r, <$db as ::sqlx::Database>::Row>
                        + SealedRowDecode
                        + Send
                        + Unpin,
                {
                    let rows: Vec<R> = ::sqlx::query_as(query)
                        .bind(after)
                        .bind(limit)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    decode_all(rows, R::decode)
                }
            }
        };
    };
}
