//! Sharing on either backend: the share target row and the `SharesTx`
//! implementation as a macro each backend instantiates with its types.

use crate::rows::StoredTime;
use apostle_core::store::{ShareTarget, StoreError, StoreResult};
use apostle_domain::{AccountId, PostId, ShareStatus, ShareTargetId, TeamId, UserId};

macro_rules! target_columns {
    () => {
        "id, team_id, post_id, user_id, account_id, provider, text, idempotency_key, status, \
         attempts, provider_post_id, error, created_at, updated_at, published_at, publish_after"
    };
}

pub const ADD: &str = concat!(
    "INSERT INTO share_targets (team_id, post_id, user_id, account_id, provider, text, \
         idempotency_key, status, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $8) \
     ON CONFLICT DO NOTHING RETURNING ",
    target_columns!()
);
pub const COUNTS: &str = "SELECT post_id, provider, user_id, status, COUNT(*) FROM share_targets \
     WHERE team_id = $1 GROUP BY post_id, provider, user_id, status \
     ORDER BY post_id, provider, user_id, status";
pub const BY_ID: &str = concat!(
    "SELECT ",
    target_columns!(),
    " FROM share_targets WHERE id = $1"
);
pub const LIVE: &str = concat!(
    "SELECT ",
    target_columns!(),
    " FROM share_targets WHERE post_id = $1 AND user_id = $2 AND account_id = $3 \
       AND status <> 'failed'"
);
pub const BY_KEY: &str = concat!(
    "SELECT ",
    target_columns!(),
    " FROM share_targets WHERE idempotency_key = $1"
);
pub const OF_POST: &str = concat!(
    "SELECT ",
    target_columns!(),
    " FROM share_targets WHERE user_id = $1 AND post_id = $2 ORDER BY id"
);
pub const OF_MEMBER: &str = concat!(
    "SELECT ",
    target_columns!(),
    " FROM share_targets WHERE user_id = $1 AND status = $2 ORDER BY id"
);
pub const HISTORY: &str = concat!(
    "SELECT ",
    target_columns!(),
    " FROM share_targets WHERE user_id = $1 AND team_id = $2 ORDER BY id DESC LIMIT $3"
);
pub const SCHEDULE: &str = "UPDATE share_targets SET status = 'queued', publish_after = $2, \
         error = NULL, updated_at = $3 \
     WHERE id = $1 AND status = 'waiting_for_reconnect'";
/// `$2` is the allowed current statuses, comma-separated.
pub const MOVE: &str = "UPDATE share_targets SET status = $3, \
         attempts = attempts + CASE WHEN $3 = 'publishing' THEN 1 ELSE 0 END, \
         provider_post_id = COALESCE($4, provider_post_id), error = $5, updated_at = $6, \
         published_at = CASE WHEN $3 = 'published' THEN $6 ELSE published_at END \
     WHERE id = $1 AND (',' || $2 || ',') LIKE ('%,' || status || ',%')";

#[derive(sqlx::FromRow)]
pub struct ShareTargetRow<T> {
    id: i64,
    team_id: i64,
    post_id: i64,
    user_id: i64,
    account_id: i64,
    provider: String,
    text: String,
    idempotency_key: String,
    status: String,
    attempts: i32,
    provider_post_id: Option<String>,
    error: Option<String>,
    created_at: T,
    updated_at: T,
    published_at: Option<T>,
    publish_after: Option<T>,
}

impl<T: StoredTime> ShareTargetRow<T> {
    pub fn decode(self) -> StoreResult<ShareTarget> {
        Ok(ShareTarget {
            id: ShareTargetId(self.id),
            team_id: TeamId(self.team_id),
            post_id: PostId(self.post_id),
            user_id: UserId(self.user_id),
            account_id: AccountId(self.account_id),
            provider: self.provider,
            text: self.text,
            idempotency_key: self.idempotency_key,
            status: ShareStatus::parse(&self.status)
                .map_err(|e| StoreError::Corrupt(format!("share target: {e}")))?,
            attempts: self.attempts,
            provider_post_id: self.provider_post_id,
            error: self.error,
            created_at: self.created_at.into_utc()?,
            updated_at: self.updated_at.into_utc()?,
            published_at: self.published_at.map(StoredTime::into_utc).transpose()?,
            publish_after: self.publish_after.map(StoredTime::into_utc).transpose()?,
        })
    }
}

/// `SharesTx` for a backend's transaction type.
#[macro_export]
macro_rules! impl_shares_tx {
    (tx: $tx:ident, time: $time:ty = $encode:path, errors: $err:path $(,)?) => {
        const _: () = {
            use ::apostle_core::store::{NewShareTarget, ShareTarget, SharesTx, StoreResult};
            use ::apostle_domain::{AccountId, PostId, ShareStatus, ShareTargetId, UserId};
            use ::chrono::{DateTime, Utc};
            use $crate::shares::{self as sql, ShareTargetRow};

            #[::async_trait::async_trait]
            impl SharesTx for $tx {
                async fn share_counts(
                    &mut self,
                    team: ::apostle_domain::TeamId,
                ) -> StoreResult<Vec<::apostle_core::store::ShareCount>> {
                    let rows: Vec<(i64, String, i64, String, i64)> = ::sqlx::query_as(sql::COUNTS)
                        .bind(team.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter()
                        .map(|(post, provider, user, status, count)| {
                            Ok(::apostle_core::store::ShareCount {
                                post_id: PostId(post),
                                provider,
                                user_id: UserId(user),
                                status: ShareStatus::parse(&status).map_err(|e| {
                                    ::apostle_core::StoreError::Corrupt(e.to_string())
                                })?,
                                count,
                            })
                        })
                        .collect()
                }

                async fn add_share_target(
                    &mut self,
                    t: &NewShareTarget,
                ) -> StoreResult<Option<ShareTarget>> {
                    let row: Option<ShareTargetRow<$time>> = ::sqlx::query_as(sql::ADD)
                        .bind(t.team_id.0)
                        .bind(t.post_id.0)
                        .bind(t.user_id.0)
                        .bind(t.account_id.0)
                        .bind(&t.provider)
                        .bind(&t.text)
                        .bind(&t.idempotency_key)
                        .bind($encode(t.created_at))
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(ShareTargetRow::decode).transpose()
                }

                async fn share_target(
                    &mut self,
                    id: ShareTargetId,
                ) -> StoreResult<Option<ShareTarget>> {
                    let row: Option<ShareTargetRow<$time>> = ::sqlx::query_as(sql::BY_ID)
                        .bind(id.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(ShareTargetRow::decode).transpose()
                }

                async fn live_share_target(
                    &mut self,
                    post: PostId,
                    user: UserId,
                    account: AccountId,
                ) -> StoreResult<Option<ShareTarget>> {
                    let row: Option<ShareTargetRow<$time>> = ::sqlx::query_as(sql::LIVE)
                        .bind(post.0)
                        .bind(user.0)
                        .bind(account.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(ShareTargetRow::decode).transpose()
                }

                async fn share_target_by_key(
                    &mut self,
                    key: &str,
                ) -> StoreResult<Option<ShareTarget>> {
                    let row: Option<ShareTargetRow<$time>> = ::sqlx::query_as(sql::BY_KEY)
                        .bind(key)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(ShareTargetRow::decode).transpose()
                }

                async fn share_targets_of(
                    &mut self,
                    user: UserId,
                    post: PostId,
                ) -> StoreResult<Vec<ShareTarget>> {
                    let rows: Vec<ShareTargetRow<$time>> = ::sqlx::query_as(sql::OF_POST)
                        .bind(user.0)
                        .bind(post.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter().map(ShareTargetRow::decode).collect()
                }

                async fn member_share_targets(
                    &mut self,
                    user: UserId,
                    status: ShareStatus,
                ) -> StoreResult<Vec<ShareTarget>> {
                    let rows: Vec<ShareTargetRow<$time>> = ::sqlx::query_as(sql::OF_MEMBER)
                        .bind(user.0)
                        .bind(status.as_str())
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter().map(ShareTargetRow::decode).collect()
                }

                async fn member_share_history(
                    &mut self,
                    user: UserId,
                    team: ::apostle_domain::TeamId,
                    limit: i64,
                ) -> StoreResult<Vec<ShareTarget>> {
                    let rows: Vec<ShareTargetRow<$time>> = ::sqlx::query_as(sql::HISTORY)
                        .bind(user.0)
                        .bind(team.0)
                        .bind(limit)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter().map(ShareTargetRow::decode).collect()
                }

                async fn schedule_share_target(
                    &mut self,
                    id: ShareTargetId,
                    at: DateTime<Utc>,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let done = ::sqlx::query(sql::SCHEDULE)
                        .bind(id.0)
                        .bind($encode(at))
                        .bind($encode(now))
                        .execute(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn move_share_target(
                    &mut self,
                    id: ShareTargetId,
                    from: &[ShareStatus],
                    to: ShareStatus,
                    provider_post_id: Option<&str>,
                    error: Option<&str>,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
                    let done = ::sqlx::query(sql::MOVE)
                        .bind(id.0)
                        .bind(from.join(","))
                        .bind(to.as_str())
                        .bind(provider_post_id)
                        .bind(error)
                        .bind($encode(now))
                        .execute(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(done.rows_affected() == 1)
                }
            }
        };
    };
}
