//! SQL text that both backends run unchanged: `$n` placeholders, `RETURNING`,
//! `ON CONFLICT` and the schema's column names are common to SQLite and
//! PostgreSQL. Statements that differ (job payload as `JSONB`, claiming)
//! live in each backend.

use apostle_core::store::SealedColumn;

macro_rules! team_columns {
    () => {
        "id, slug, name, created_at"
    };
}
macro_rules! user_columns {
    () => {
        "id, email, name, password_hash, created_at"
    };
}
macro_rules! invite_columns {
    () => {
        "id, team_id, email, name, role, invited_by, created_at, expires_at, accepted_at"
    };
}
macro_rules! api_token_columns {
    () => {
        "id, user_id, name, created_at, last_used_at, revoked_at"
    };
}
macro_rules! email_columns {
    () => {
        "id, recipient, template, subject, text_body, html_body, dedupe_key, message_id, \
         unsubscribe_kind, state, attempts, last_error, created_at, sent_at"
    };
}

/// A job going back to pending gives up its dedupe key when a pending job
/// with the same key was enqueued while it ran (dedupe only holds among
/// pending jobs); the transition must not fail, and jobs are idempotent, so
/// both may run.
macro_rules! yield_dedupe_key_to_pending_twin {
    () => {
        "dedupe_key = CASE WHEN EXISTS (SELECT 1 FROM jobs AS twin \
             WHERE twin.dedupe_key = jobs.dedupe_key AND twin.state = 'pending' \
             AND twin.id <> jobs.id) \
         THEN NULL ELSE jobs.dedupe_key END"
    };
}

pub const CREATE_TEAM: &str = concat!(
    "INSERT INTO teams (slug, name, created_at) VALUES ($1, $2, $3) RETURNING ",
    team_columns!()
);
pub const TEAM_BY_SLUG: &str = concat!("SELECT ", team_columns!(), " FROM teams WHERE slug = $1");
pub const TEAM_BY_ID: &str = concat!("SELECT ", team_columns!(), " FROM teams WHERE id = $1");

pub const CREATE_USER: &str = concat!(
    "INSERT INTO users (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) \
     RETURNING ",
    user_columns!()
);
pub const USER_BY_ID: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
pub const USER_BY_EMAIL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1");
pub const SET_USER_NAME: &str = "UPDATE users SET name = $2 WHERE id = $1";
pub const SET_PASSWORD_HASH: &str = "UPDATE users SET password_hash = $2 WHERE id = $1";

pub const UPSERT_MEMBER: &str =
    "INSERT INTO memberships (team_id, user_id, role) VALUES ($1, $2, $3) \
     ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role";
pub const MEMBER_ROLE: &str = "SELECT role FROM memberships WHERE team_id = $1 AND user_id = $2";
/// Whether the team `$1` would still have an admin without member `$2`,
/// counted in the statement that changes `$2` (after `lock_admins!`).
macro_rules! another_admin_remains {
    () => {
        "(role <> 'admin' OR (SELECT COUNT(*) FROM memberships AS admins \
             WHERE admins.team_id = $1 AND admins.role = 'admin') > 1)"
    };
}
pub const SET_MEMBER_ROLE: &str = concat!(
    "UPDATE memberships SET role = $3 WHERE team_id = $1 AND user_id = $2 \
     AND ($3 = 'admin' OR ",
    another_admin_remains!(),
    ")"
);
pub const REMOVE_MEMBER: &str = concat!(
    "DELETE FROM memberships WHERE team_id = $1 AND user_id = $2 AND ",
    another_admin_remains!()
);
/// Unordered: see `rows::sort_members`.
pub const LIST_MEMBERS: &str =
    "SELECT u.id, u.email, u.name, u.password_hash, u.created_at, m.role \
     FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.team_id = $1";
/// Unordered: see `rows::sort_team_roles`.
pub const TEAMS_OF_USER: &str = "SELECT t.id, t.slug, t.name, t.created_at, m.role \
     FROM memberships m JOIN teams t ON t.id = m.team_id WHERE m.user_id = $1";

pub const CREATE_INVITE: &str = concat!(
    "INSERT INTO invites \
         (team_id, email, name, role, token_hash, invited_by, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ",
    invite_columns!()
);
pub const INVITE_BY_TOKEN_HASH: &str = concat!(
    "SELECT ",
    invite_columns!(),
    " FROM invites WHERE token_hash = $1"
);
/// Open means not accepted yet and not expired.
pub const ACCEPT_INVITE: &str = "UPDATE invites SET accepted_at = $2 \
     WHERE id = $1 AND accepted_at IS NULL AND expires_at > $2";
pub const LIST_OPEN_INVITES: &str = concat!(
    "SELECT ",
    invite_columns!(),
    " FROM invites WHERE team_id = $1 AND accepted_at IS NULL AND expires_at > $2 \
     ORDER BY created_at DESC, id DESC"
);
pub const DELETE_INVITE: &str = "DELETE FROM invites WHERE team_id = $1 AND id = $2";

/// A new reset link retires the user's earlier open ones.
pub const RETIRE_PASSWORD_RESETS: &str =
    "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL";
pub const CREATE_PASSWORD_RESET: &str =
    "INSERT INTO password_resets (user_id, token_hash, created_at, expires_at) \
     VALUES ($1, $2, $3, $4)";
/// Open means not used yet and not expired.
pub const OPEN_PASSWORD_RESET_USER: &str = "SELECT user_id FROM password_resets \
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2";
pub const USE_PASSWORD_RESET: &str = "UPDATE password_resets SET used_at = $2 \
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id";

pub const CREATE_SESSION: &str =
    "INSERT INTO sessions (id_hash, csrf_token, user_id, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5)";
/// A session (`s`) with its user (`u`), as `rows::SignedInRow` reads them.
macro_rules! signed_in_columns {
    () => {
        "s.csrf_token AS s_csrf_token, s.created_at AS s_created_at, \
         s.expires_at AS s_expires_at, \
         u.id, u.email, u.name, u.password_hash, u.created_at"
    };
}
/// `$1` the session's hash, `$2` now.
pub const LIVE_SESSION: &str = concat!(
    "SELECT ",
    signed_in_columns!(),
    " FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.id_hash = $1 AND s.expires_at > $2"
);
/// What the layout of a member's page counts (`rows::LayoutCountsRow`), for
/// the user and team the SQL expressions `$user` and `$team` name, at `$now`,
/// the inbox up to `$cap` (its live posts as `Post::is_live` has them: out of
/// the bin, scheduled or sent, not expired). Broken means the account is, or its grant is while
/// the account is active (as a connection's status is read).
macro_rules! layout_counts {
    ($user:literal, $team:literal, $now:literal, $cap:literal) => {
        concat!(
            "(SELECT COUNT(*) FROM memberships o WHERE o.user_id = ",
            $user,
            ") AS team_count, \
             (SELECT COUNT(*) FROM (SELECT 1 FROM deliveries d \
                 JOIN posts p ON p.id = d.post_id \
                 WHERE d.team_id = ",
            $team,
            " AND d.user_id = ",
            $user,
            " AND d.state = 'delivered' AND p.deleted_at IS NULL \
                   AND p.status IN ('scheduled', 'sent') AND p.expires_at > ",
            $now,
            " LIMIT ",
            $cap,
            ") AS waiting) AS inbox_count, \
             (SELECT COUNT(*) FROM accounts a JOIN grants g ON g.id = a.grant_id \
                 WHERE a.kind = 'personal' AND a.owner_user_id = ",
            $user,
            " AND (a.status = 'broken' OR (a.status = 'active' AND g.status = 'broken'))) \
             + (SELECT COUNT(*) FROM accounts a JOIN grants g ON g.id = a.grant_id \
                 WHERE a.kind = 'business' AND a.team_id IN (SELECT b.team_id \
                     FROM memberships b WHERE b.user_id = ",
            $user,
            " AND b.role = 'admin') \
                   AND (a.status = 'broken' OR (a.status = 'active' AND g.status = 'broken'))) \
                 AS broken_count"
        )
    };
}
/// `$1` the team, `$2` the user, `$3` now, `$4` the inbox's cap.
pub const LAYOUT_COUNTS: &str = concat!("SELECT ", layout_counts!("$2", "$1", "$3", "$4"));
/// `$1` the session's hash, `$2` now, `$3` the team's slug, `$4` the inbox's
/// cap: the session with its user, their time zone, their membership of the
/// team (`t_`, null when none) and the layout's counts.
pub const PAGE_CONTEXT: &str = concat!(
    "SELECT ",
    signed_in_columns!(),
    ", u.time_zone, t.id AS t_id, t.slug AS t_slug, t.name AS t_name, \
         t.created_at AS t_created_at, m.role AS t_role, ",
    layout_counts!(
        "(SELECT user_id FROM sessions WHERE id_hash = $1)",
        "(SELECT id FROM teams WHERE slug = $3)",
        "$2",
        "$4"
    ),
    " FROM sessions s JOIN users u ON u.id = s.user_id \
     LEFT JOIN memberships m ON m.user_id = u.id \
         AND m.team_id = (SELECT id FROM teams WHERE slug = $3) \
     LEFT JOIN teams t ON t.id = m.team_id \
     WHERE s.id_hash = $1 AND s.expires_at > $2"
);
pub const DELETE_SESSION: &str = "DELETE FROM sessions WHERE id_hash = $1";
pub const DELETE_SESSIONS_OF_USER: &str = "DELETE FROM sessions WHERE user_id = $1";
pub const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at <= $1";

pub const CREATE_API_TOKEN: &str = concat!(
    "INSERT INTO api_tokens (user_id, token_hash, name, created_at) VALUES ($1, $2, $3, $4) \
     RETURNING ",
    api_token_columns!()
);
pub const LIVE_API_TOKEN: &str = concat!(
    "SELECT ",
    api_token_columns!(),
    " FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
);
pub const RECORD_API_TOKEN_USE: &str = "UPDATE api_tokens SET last_used_at = $2 \
     WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)";
pub const LIST_API_TOKENS: &str = concat!(
    "SELECT ",
    api_token_columns!(),
    " FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
);
pub const REVOKE_API_TOKEN: &str = "UPDATE api_tokens SET revoked_at = $3 \
     WHERE user_id = $1 AND id = $2 AND revoked_at IS NULL";

pub const REVOKE_API_TOKENS_OF_USER: &str =
    "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL";

pub const RETRY_FAILED_JOB: &str = concat!(
    "UPDATE jobs SET state = 'pending', last_error = $3, run_at = $4, \
         lease_token = NULL, locked_until = NULL, ",
    yield_dedupe_key_to_pending_twin!(),
    " WHERE id = $1 AND lease_token = $2 AND state = 'running'"
);
pub const BURY_FAILED_JOB: &str = "UPDATE jobs SET state = 'dead', last_error = $3, \
         lease_token = NULL, locked_until = NULL \
     WHERE id = $1 AND lease_token = $2 AND state = 'running'";
pub const RELEASE_JOB: &str = concat!(
    "UPDATE jobs SET state = 'pending', run_at = $3, attempts = attempts - 1, \
         lease_token = NULL, locked_until = NULL, ",
    yield_dedupe_key_to_pending_twin!(),
    " WHERE id = $1 AND lease_token = $2 AND state = 'running'"
);
pub const COUNT_JOBS_BY_STATE: &str = "SELECT state, COUNT(*) FROM jobs GROUP BY state";
pub const REVIVE_DEAD_JOB: &str = concat!(
    "UPDATE jobs SET state = 'pending', attempts = 0, run_at = $2, \
         lease_token = NULL, locked_until = NULL, ",
    yield_dedupe_key_to_pending_twin!(),
    " WHERE id = $1 AND state = 'dead'"
);
pub const EXTEND_JOB_LEASE: &str = "UPDATE jobs SET locked_until = $3 \
     WHERE id = $1 AND lease_token = $2 AND state = 'running'";

pub const INSERT_EMAIL: &str =
    "INSERT INTO emails (recipient, template, subject, text_body, html_body, dedupe_key, \
         message_id, state, created_at, unsubscribe_kind) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9) \
     ON CONFLICT (dedupe_key) DO NOTHING RETURNING id";
pub const EMAIL_BY_ID: &str = concat!("SELECT ", email_columns!(), " FROM emails WHERE id = $1");
/// The successful delivery counts as an attempt too.
pub const MARK_EMAIL_SENT: &str =
    "UPDATE emails SET state = 'sent', sent_at = $2, attempts = attempts + 1 \
     WHERE id = $1 AND state = 'queued'";
/// `$3` is the state after the failure: still queued, or failed for good.
pub const RECORD_EMAIL_FAILURE: &str =
    "UPDATE emails SET state = $3, last_error = $2, attempts = attempts + 1 \
     WHERE id = $1 AND state = 'queued'";
pub const EMAILS_TO: &str = concat!(
    "SELECT ",
    email_columns!(),
    " FROM emails WHERE recipient = $1 ORDER BY created_at DESC, id DESC"
);
pub const COUNT_EMAILS_BY_STATE: &str = "SELECT state, COUNT(*) FROM emails GROUP BY state";

/// The job columns, with the expression that yields the payload as JSON text.
#[macro_export]
macro_rules! job_columns {
    ($payload:literal) => {
        concat!(
            "id, kind, ",
            $payload,
            ", dedupe_key, state, attempts, max_attempts, run_at, lease_token, locked_until, \
             last_error, created_at"
        )
    };
}

/// One job by id; `$payload` as for [`job_columns`].
#[macro_export]
macro_rules! job_by_id {
    ($payload:literal) => {
        concat!(
            "SELECT ",
            $crate::job_columns!($payload),
            " FROM jobs WHERE id = $1"
        )
    };
}

/// Jobs in state `$1`, newest first, at most `$2`.
#[macro_export]
macro_rules! list_jobs {
    ($payload:literal) => {
        concat!(
            "SELECT ",
            $crate::job_columns!($payload),
            " FROM jobs WHERE state = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        )
    };
}

/// Enqueues unless a pending job holds the dedupe key; `$payload` is the
/// placeholder for the JSON text, cast as the backend's payload column needs.
#[macro_export]
macro_rules! enqueue_job {
    ($payload:literal) => {
        concat!(
            "INSERT INTO jobs (kind, payload, dedupe_key, state, max_attempts, run_at, created_at) \
             VALUES ($1, ",
            $payload,
            ", $3, 'pending', $4, $5, $6) \
             ON CONFLICT (dedupe_key) WHERE state = 'pending' DO NOTHING RETURNING id"
        )
    };
}

/// Claims due jobs (pending and due, or running with an expired lease),
/// oldest `run_at` first: `$1` is now, `$2` the lease end, `$3` the limit.
/// `$token` is the backend's SQL for a fresh random lease token per row and
/// `$lock` what keeps concurrent claimers off the chosen rows (PostgreSQL's
/// row locks; SQLite's `BEGIN IMMEDIATE` needs nothing here).
///
/// Each kind of due job is read in index order and cut at the limit before
/// the two are merged: one `OR` over both would make either database collect
/// and sort every due job on each claim, which grows with the backlog.
#[macro_export]
macro_rules! claim_jobs {
    (token: $token:literal, lock: $lock:literal, payload: $payload:literal) => {
        concat!(
            "WITH pending AS (SELECT id, run_at FROM jobs \
                 WHERE state = 'pending' AND run_at <= $1 ORDER BY run_at, id LIMIT $3 ",
            $lock,
            "), expired AS (SELECT id, run_at FROM jobs \
                 WHERE state = 'running' AND locked_until <= $1 ORDER BY run_at, id LIMIT $3 ",
            $lock,
            ") UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = ",
            $token,
            ", locked_until = $2 \
             WHERE id IN (SELECT id FROM \
                 (SELECT id, run_at FROM pending UNION ALL SELECT id, run_at FROM expired) AS due \
                 ORDER BY run_at, id LIMIT $3) \
             RETURNING ",
            $crate::job_columns!($payload)
        )
    };
}

/// Takes the admin rows of team `$1`, in one order so that two takers
/// cannot deadlock, before a demotion or removal counts them. `$lock` is
/// PostgreSQL's `FOR UPDATE`: under READ COMMITTED two transactions would
/// otherwise each count the other's admin row as still there. SQLite needs
/// nothing: `BEGIN IMMEDIATE` already admits one writer at a time.
#[macro_export]
macro_rules! lock_admins {
    ($lock:literal) => {
        concat!(
            "SELECT user_id FROM memberships WHERE team_id = $1 AND role = 'admin' \
             ORDER BY user_id ",
            $lock
        )
    };
}

pub const RECORD_LOGIN_FAILURE: &str =
    "INSERT INTO login_failures (key_hash, failed_at) VALUES ($1, $2)";
pub const RECENT_LOGIN_FAILURES: &str = "SELECT failed_at FROM login_failures \
     WHERE key_hash = $1 AND failed_at > $2 ORDER BY failed_at DESC LIMIT $3";
pub const FORGET_LOGIN_FAILURES: &str = "DELETE FROM login_failures WHERE key_hash = $1";
pub const PURGE_LOGIN_FAILURES: &str = "DELETE FROM login_failures WHERE failed_at <= $1";

/// Deletes finished jobs whose lease is still theirs, in one statement:
/// `$1` is a JSON array of `[id, lease_token]` pairs and `$pairs` the
/// backend's SQL that turns it into rows (neither database can bind a list
/// in a form the other reads).
#[macro_export]
macro_rules! complete_jobs {
    ($pairs:literal) => {
        concat!(
            "DELETE FROM jobs WHERE state = 'running' AND (id, lease_token) IN (",
            $pairs,
            ") RETURNING id"
        )
    };
}

// ---- connections ---------------------------------------------------------

/// The grant columns, shared with the backends' claims.
#[macro_export]
macro_rules! grant_columns {
    () => {
        "id, owner_user_id, provider, external_user_id, scopes, access_token, refresh_token, \
         access_expires_at, refresh_expires_at, status, break_reason, broken_since, generation, \
         lease_token, leased_until, next_due_at, created_at, updated_at"
    };
}
macro_rules! account_columns {
    () => {
        "id, grant_id, kind, owner_user_id, team_id, provider, external_id, name, page_token, \
         status, break_reason, broken_since, created_at"
    };
}
macro_rules! flow_columns {
    () => {
        "id, user_id, pkce_verifier, provider, purpose, kind, team_id, account_id, redirect_to, \
         created_at, expires_at, consumed_at, grant_id"
    };
}
/// Whether an account belongs to the owner of kind `$2` and id `$3`.
macro_rules! account_owned_by {
    () => {
        "kind = $2 AND (CASE kind WHEN 'personal' THEN owner_user_id ELSE team_id END) = $3"
    };
}

pub const CREATE_GRANT: &str = concat!(
    "INSERT INTO grants (owner_user_id, provider, external_user_id, scopes, access_token, \
         refresh_token, access_expires_at, refresh_expires_at, status, next_due_at, \
         created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, $10) \
     ON CONFLICT (owner_user_id, provider, external_user_id) DO UPDATE SET \
         scopes = excluded.scopes, access_token = excluded.access_token, \
         refresh_token = excluded.refresh_token, \
         access_expires_at = excluded.access_expires_at, \
         refresh_expires_at = excluded.refresh_expires_at, status = 'active', \
         break_reason = NULL, broken_since = NULL, generation = grants.generation + 1, \
         lease_token = NULL, leased_until = NULL, next_due_at = excluded.next_due_at, \
         updated_at = excluded.updated_at \
     WHERE grants.status = 'removed' RETURNING ",
    grant_columns!()
);
pub const GRANT_BY_ID: &str = concat!("SELECT ", grant_columns!(), " FROM grants WHERE id = $1");
pub const GRANT_BY_LOGIN: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM grants WHERE owner_user_id = $1 AND provider = $2 AND external_user_id = $3"
);
/// Fenced by the generation read before the refresh; a stored refresh token
/// (and its expiry) is never replaced by none.
/// Never on a removed grant: a refresh that finishes after its owner
/// removed the connection must not store a live token again.
pub const STORE_GRANT_TOKENS: &str = "UPDATE grants SET scopes = $3, access_token = $4, \
         refresh_token = COALESCE($5, refresh_token), access_expires_at = $6, \
         refresh_expires_at = CASE WHEN $5 IS NULL THEN refresh_expires_at ELSE $7 END, \
         generation = generation + 1, updated_at = $8 \
     WHERE id = $1 AND generation = $2 AND status <> 'removed'";
pub const MARK_GRANT_BROKEN: &str = "UPDATE grants SET status = 'broken', break_reason = $2, \
         broken_since = $3, updated_at = $3 \
     WHERE id = $1 AND status = 'active'";
/// Only from BROKEN: a probe that finishes after its owner removed the
/// grant must not bring it back.
pub const MARK_GRANT_ACTIVE: &str = "UPDATE grants SET status = 'active', break_reason = NULL, \
         broken_since = NULL, next_due_at = $2, updated_at = $3 \
     WHERE id = $1 AND status = 'broken'";
pub const REMOVE_GRANT: &str = "UPDATE grants SET status = 'removed', lease_token = NULL, \
         leased_until = NULL, updated_at = $3 \
     WHERE owner_user_id = $1 AND id = $2 AND status <> 'removed'";
/// Leases one grant now (a member's "check now"), unless a live lease holds it.
pub const LEASE_GRANT: &str = concat!(
    "UPDATE grants SET lease_token = $2, leased_until = $4 \
     WHERE id = $1 AND status <> 'removed' AND (leased_until IS NULL OR leased_until <= $3) \
     RETURNING ",
    grant_columns!()
);
pub const RELEASE_GRANT_LEASE: &str = "UPDATE grants SET lease_token = NULL, \
         leased_until = NULL, next_due_at = $3 \
     WHERE id = $1 AND lease_token = $2";
pub const RENEW_GRANT_LEASE: &str =
    "UPDATE grants SET leased_until = $3 WHERE id = $1 AND lease_token = $2";
pub const SET_GRANT_NEXT_DUE: &str = "UPDATE grants SET next_due_at = $2 WHERE id = $1";

/// `$2` is the kind and `$3`/`$4` the owning user or team (one of them NULL).
pub const CREATE_ACCOUNT: &str = concat!(
    "INSERT INTO accounts (grant_id, kind, owner_user_id, team_id, provider, external_id, \
         name, page_token, status, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9) RETURNING ",
    account_columns!()
);
pub const ACCOUNTS_OF_GRANT: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM accounts WHERE grant_id = $1 ORDER BY id"
);
pub const PERSONAL_ACCOUNTS: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM accounts WHERE kind = 'personal' AND owner_user_id = $1 ORDER BY id"
);
pub const BUSINESS_ACCOUNTS: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM accounts WHERE kind = 'business' AND team_id = $1 ORDER BY id"
);
/// `$4` is the new status, `$5` the break reason, `$6` now; a break keeps
/// only the reason while broken.
pub const SET_ACCOUNT_STATUS: &str = concat!(
    "UPDATE accounts SET status = $4, \
         break_reason = CASE WHEN $4 = 'broken' THEN $5 ELSE NULL END, \
         broken_since = CASE WHEN $4 = 'broken' THEN $6 ELSE NULL END \
     WHERE id = $1 AND status <> $4 AND ",
    account_owned_by!()
);
pub const MOVE_ACCOUNT: &str = "UPDATE accounts SET grant_id = $3, \
         page_token = COALESCE($4, page_token) \
     WHERE team_id = $1 AND id = $2 AND kind = 'business'";

pub const CREATE_FLOW: &str = concat!(
    "INSERT INTO oauth_flows (user_id, state_hash, pkce_verifier, provider, purpose, kind, \
         team_id, account_id, redirect_to, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ",
    flow_columns!()
);
/// Single use: open means unconsumed and unexpired, checked and ended in one statement.
pub const CONSUME_FLOW: &str = concat!(
    "UPDATE oauth_flows SET consumed_at = $2 \
     WHERE state_hash = $1 AND consumed_at IS NULL AND expires_at > $2 RETURNING ",
    flow_columns!()
);

pub const FLOW_BY_STATE: &str = concat!(
    "SELECT ",
    flow_columns!(),
    " FROM oauth_flows WHERE state_hash = $1"
);
pub const FLOW_BY_ID: &str = concat!(
    "SELECT ",
    flow_columns!(),
    " FROM oauth_flows WHERE user_id = $1 AND id = $2"
);
/// Ends a flow whatever its expiry (an expired flow's callback closes it).
pub const CLOSE_FLOW: &str =
    "UPDATE oauth_flows SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL";
/// A consumed business flow keeps its grant, open for choosing pages until `$4`.
pub const SET_FLOW_GRANT: &str = "UPDATE oauth_flows SET grant_id = $3, expires_at = $4 \
     WHERE user_id = $1 AND id = $2 AND consumed_at IS NOT NULL";
pub const PURGE_FLOWS: &str = "DELETE FROM oauth_flows WHERE expires_at < $1";

pub const GRANTS_OF_LOGIN: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM grants WHERE provider = $1 AND external_user_id = $2 ORDER BY id"
);
pub const ACCOUNT_BY_ID: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM accounts WHERE id = $1"
);
pub const LIST_ACCOUNTS: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM accounts WHERE id > $1 ORDER BY id LIMIT $2"
);
/// An account's health as its owner sees it: its own break or removal
/// first, otherwise its grant's.
pub const COUNT_CONNECTIONS: &str = "SELECT a.provider, a.kind, \
         CASE WHEN a.status <> 'active' THEN a.status ELSE g.status END AS status, \
         COUNT(*) AS n \
     FROM accounts a JOIN grants g ON g.id = a.grant_id \
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

pub const SET_TEAM_AUTO_REMINDERS: &str = "UPDATE teams SET auto_reminders = $2 WHERE id = $1";
pub const TEAM_AUTO_REMINDERS: &str = "SELECT auto_reminders FROM teams WHERE id = $1";
pub const AUTO_REMINDER_TEAMS: &str = "SELECT id FROM teams WHERE auto_reminders ORDER BY id";

pub const APPEND_CONNECTION_EVENT: &str =
    "INSERT INTO connection_events (grant_id, account_id, kind, reason, at, detail) \
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
pub const CONNECTION_EVENTS: &str = "SELECT id, grant_id, account_id, kind, reason, at, detail \
     FROM connection_events WHERE grant_id = $1 ORDER BY at DESC, id DESC LIMIT $2";
/// `$1` the team, `$2` since: see `Tx::team_connection_events`.
pub const TEAM_CONNECTION_EVENTS: &str =
    "SELECT e.id, e.grant_id, e.account_id, e.kind, e.reason, e.at, e.detail \
     FROM connection_events e WHERE e.at >= $2 AND EXISTS ( \
         SELECT 1 FROM accounts a WHERE a.grant_id = e.grant_id \
           AND (e.account_id IS NULL OR e.account_id = a.id) \
           AND ((a.kind = 'business' AND a.team_id = $1) \
             OR (a.kind = 'personal' AND a.owner_user_id IN \
                 (SELECT user_id FROM memberships WHERE team_id = $1)))) \
     ORDER BY e.at DESC, e.id DESC";

/// Claims grants that are due (active ones, and those broken for an action
/// at the provider, which a successful probe heals) and unleased, most overdue first:
/// `$1` is now, `$2` the lease end, `$3` the limit. `$token` and `$lock` as
/// for [`claim_jobs`]. The choice reads the partial index `grants_due` in
/// order and stops at the limit, so a claim costs what is due, not the table.
#[macro_export]
macro_rules! claim_due_grants {
    (token: $token:literal, lock: $lock:literal) => {
        concat!(
            "WITH due AS (SELECT id FROM grants \
                 WHERE (status = 'active' OR (status = 'broken' \
                     AND break_reason = 'provider_action_required')) AND next_due_at <= $1 \
                 AND (leased_until IS NULL OR leased_until <= $1) \
                 ORDER BY next_due_at, id LIMIT $3 ",
            $lock,
            ") UPDATE grants SET lease_token = ",
            $token,
            ", leased_until = $2 WHERE id IN (SELECT id FROM due) RETURNING ",
            $crate::grant_columns!()
        )
    };
}

// ---- keys ----------------------------------------------------------------

/// One batch of a walk over a sealed column: `$1` the last row id seen,
/// `$2` the batch size. `$place` are the columns its place is built from.
macro_rules! sealed_values {
    ($table:literal, $place:literal, $column:literal) => {
        concat!(
            "SELECT id, ",
            $place,
            ", ",
            $column,
            " AS sealed FROM ",
            $table,
            " WHERE id > $1 AND ",
            $column,
            " IS NOT NULL ORDER BY id LIMIT $2"
        )
    };
}
/// Compare-and-set on the sealed text: `$1` the row id, `$2` the value
/// read, `$3` the value re-sealed from it.
macro_rules! reseal_value {
    ($table:literal, $column:literal) => {
        concat!(
            "UPDATE ",
            $table,
            " SET ",
            $column,
            " = $3 WHERE id = $1 AND ",
            $column,
            " = $2"
        )
    };
}
macro_rules! sealed_column {
    ($table:literal, $place:literal, $column:literal) => {
        SealedColumnSql {
            values: sealed_values!($table, $place, $column),
            reseal: reseal_value!($table, $column),
        }
    };
}

/// The two statements of one sealed column.
pub struct SealedColumnSql {
    pub values: &'static str,
    pub reseal: &'static str,
}

/// The statements that walk and re-seal `column`.
pub fn sealed_column(column: SealedColumn) -> SealedColumnSql {
    match column {
        SealedColumn::GrantAccessToken => sealed_column!(
            "grants",
            "owner_user_id, provider, external_user_id",
            "access_token"
        ),
        SealedColumn::GrantRefreshToken => sealed_column!(
            "grants",
            "owner_user_id, provider, external_user_id",
            "refresh_token"
        ),
        SealedColumn::AccountPageToken => sealed_column!(
            "accounts",
            "kind, owner_user_id, team_id, provider, external_id",
            "page_token"
        ),
        SealedColumn::FlowPkceVerifier => {
            sealed_column!("oauth_flows", "state_hash", "pkce_verifier")
        }
        SealedColumn::EmailTextBody => sealed_column!("emails", "recipient, template", "text_body"),
        SealedColumn::EmailHtmlBody => sealed_column!("emails", "recipient, template", "html_body"),
    }
}
