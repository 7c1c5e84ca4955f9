//! The app's notifications on either backend: the row and the `AlertsTx`
//! implementation as a macro each backend instantiates with its types.

use crate::rows::StoredTime;
use apostle_core::store::{Alert, AlertKind, StoreError, StoreResult};
use apostle_domain::{AccountId, PostId, TeamId, UserId};

macro_rules! alert_columns {
    () => {
        "id, user_id, kind, team_id, account_id, post_id, text, created_at, read_at"
    };
}

pub const ADD: &str = "INSERT INTO alerts (user_id, kind, team_id, account_id, post_id, text, \
         dedupe_key, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (dedupe_key) DO NOTHING";
/// `$ids` selects the delivery ids from `$1`, the backend's way.
#[macro_export]
macro_rules! add_suggestion_alerts {
    ($ids:literal) => {
        concat!(
            "INSERT INTO alerts (user_id, kind, team_id, post_id, text, dedupe_key, created_at) \
             SELECT d.user_id, 'suggestion', d.team_id, d.post_id, \
                 'New suggestion from ' || t.name || ': ' || substr(p.text, 1, 140), \
                 'suggestion:' || CAST(d.id AS TEXT), $2 \
             FROM deliveries d JOIN posts p ON p.id = d.post_id JOIN teams t ON t.id = d.team_id \
             WHERE d.id IN (",
            $ids,
            ") ON CONFLICT (dedupe_key) DO NOTHING"
        )
    };
}
/// Newest first; `$2` is the id to start below (NULL: the newest), `$3`
/// keeps only unread ones when true.
pub const OF_USER: &str = concat!(
    "SELECT ",
    alert_columns!(),
    " FROM alerts WHERE user_id = $1 AND ($2 IS NULL OR id < $2) \
       AND (NOT $3 OR read_at IS NULL) ORDER BY id DESC LIMIT $4"
);
pub const UNREAD: &str = "SELECT COUNT(*) FROM alerts WHERE user_id = $1 AND read_at IS NULL";
pub const MARK_READ: &str = concat!(
    "UPDATE alerts SET read_at = COALESCE(read_at, $3) WHERE id = $2 AND user_id = $1 \
     RETURNING ",
    alert_columns!()
);
pub const MARK_ALL_READ: &str =
    "UPDATE alerts SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL";

#[derive(sqlx::FromRow)]
pub struct AlertRow<T> {
    id: i64,
    user_id: i64,
    kind: String,
    team_id: Option<i64>,
    account_id: Option<i64>,
    post_id: Option<i64>,
    text: String,
    created_at: T,
    read_at: Option<T>,
}

impl<T: StoredTime> AlertRow<T> {
    pub fn decode(self) -> StoreResult<Alert> {
        Ok(Alert {
            id: self.id,
            user_id: UserId(self.user_id),
            kind: AlertKind::parse(&self.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("alert kind {:?}", self.kind)))?,
            team_id: self.team_id.map(TeamId),
            account_id: self.account_id.map(AccountId),
            post_id: self.post_id.map(PostId),
            text: self.text,
            created_at: self.created_at.into_utc()?,
            read_at: self.read_at.map(StoredTime::into_utc).transpose()?,
        })
    }
}

/// `AlertsTx` for a backend's transaction type; `ids` selects the ids of a
/// JSON array bound as `$1`.
#[macro_export]
macro_rules! impl_alerts_tx {
    (tx: $tx:ident, time: $time:ty = $encode:path, errors: $err:path, ids: $ids:literal $(,)?) => {
        const _: () = {
            use ::apostle_core::store::{Alert, AlertsTx, NewAlert, StoreResult};
            use ::apostle_domain::{DeliveryId, UserId};
            use ::chrono::{DateTime, Utc};
            use $crate::alerts::{self as sql, AlertRow};

            const SUGGESTIONS: &str = $crate::add_suggestion_alerts!($ids);

            #[::async_trait::async_trait]
            impl AlertsTx for $tx {
                async fn add_alert(&mut self, a: &NewAlert) -> StoreResult<bool> {
                    let done = ::sqlx::query(sql::ADD)
                        .bind(a.user_id.0)
                        .bind(a.kind.as_str())
                        .bind(a.team_id.map(|t| t.0))
                        .bind(a.account_id.map(|t| t.0))
                        .bind(a.post_id.map(|t| t.0))
                        .bind(&a.text)
                        .bind(&a.dedupe_key)
                        .bind($encode(a.created_at))
                        .execute(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn add_suggestion_alerts(
                    &mut self,
                    deliveries: &[DeliveryId],
                    now: DateTime<Utc>,
                ) -> StoreResult<u64> {
                    if deliveries.is_empty() {
                        return Ok(0);
                    }
                    let done = ::sqlx::query(SUGGESTIONS)
                        .bind($crate::posts::id_list(deliveries.iter().map(|d| d.0)))
                        .bind($encode(now))
                        .execute(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(done.rows_affected())
                }

                async fn alerts_of(
                    &mut self,
                    user: UserId,
                    before: Option<i64>,
                    unread_only: bool,
                    limit: i64,
                ) -> StoreResult<Vec<Alert>> {
                    let rows: Vec<AlertRow<$time>> = ::sqlx::query_as(sql::OF_USER)
                        .bind(user.0)
                        .bind(before)
                        .bind(unread_only)
                        .bind(limit)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    rows.into_iter().map(AlertRow::decode).collect()
                }

                async fn unread_alerts(&mut self, user: UserId) -> StoreResult<i64> {
                    ::sqlx::query_scalar(sql::UNREAD)
                        .bind(user.0)
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($err)
                }

                async fn mark_alert_read(
                    &mut self,
                    user: UserId,
                    id: i64,
                    now: DateTime<Utc>,
                ) -> StoreResult<Option<Alert>> {
                    let row: Option<AlertRow<$time>> = ::sqlx::query_as(sql::MARK_READ)
                        .bind(user.0)
                        .bind(id)
                        .bind($encode(now))
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    row.map(AlertRow::decode).transpose()
                }

                async fn mark_alerts_read(
                    &mut self,
                    user: UserId,
                    now: DateTime<Utc>,
                ) -> StoreResult<u64> {
                    let done = ::sqlx::query(sql::MARK_ALL_READ)
                        .bind(user.0)
                        .bind($encode(now))
                        .execute(&mut *self.tx)
                        .await
                        .map_err($err)?;
                    Ok(done.rows_affected())
                }
            }
        };
    };
}
