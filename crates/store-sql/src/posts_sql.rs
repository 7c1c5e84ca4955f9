//! SQL text for posts and their delivery that both backends run unchanged.
//! The two statements that differ (placing a delivery a number of seconds
//! after a moment, and reading a list of ids) take their fragment from the
//! backend through [`crate::impl_posts_tx`].

/// A post's columns, as `posts::PostRow` reads them.
#[macro_export]
macro_rules! post_columns {
    () => {
        "id, team_id, author_id, text, variants, link, link_title, utm, image_id, providers, \
         recipients_all, schedule, status, expires_at, created_at, updated_at, deleted_at"
    };
}
macro_rules! delivery_columns {
    () => {
        "id, post_id, team_id, user_id, due_at, state, delivered_at, decided_at"
    };
}
macro_rules! approval_columns {
    () => {
        "id, post_id, team_id, account_id, state, publish_at, decided_by, decided_at, created_at"
    };
}

pub const CREATE_POST: &str = concat!(
    "INSERT INTO posts (team_id, author_id, text, variants, link, link_title, utm, image_id, \
         providers, recipients_all, schedule, status, expires_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING ",
    post_columns!()
);
pub const UPDATE_DRAFT: &str = "UPDATE posts SET text = $3, variants = $4, link = $5, \
         link_title = $6, utm = $7, image_id = $8, providers = $9, recipients_all = $10, \
         schedule = $11, expires_at = $12, updated_at = $13 \
     WHERE team_id = $1 AND id = $2 AND status = 'draft'";
pub const POST_BY_ID: &str = concat!(
    "SELECT ",
    post_columns!(),
    " FROM posts WHERE team_id = $1 AND id = $2"
);
pub const POST_TEAM: &str = "SELECT team_id FROM posts WHERE id = $1";
pub const LIST_POSTS: &str = concat!(
    "SELECT ",
    post_columns!(),
    " FROM posts WHERE team_id = $1 AND (deleted_at IS NOT NULL) = $2 \
     ORDER BY created_at DESC, id DESC LIMIT 500"
);
/// Served by `posts_by_team (team_id, created_at)`, read backwards.
pub const NEWEST_POSTS: &str = "SELECT id, text, created_at FROM posts \
     WHERE team_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT $2";
/// `$3` is the allowed current statuses, comma-separated.
pub const SET_POST_STATUS: &str = "UPDATE posts SET status = $4, updated_at = $5 \
     WHERE team_id = $1 AND id = $2 AND (',' || $3 || ',') LIKE ('%,' || status || ',%')";
pub const SET_POST_DELETED: &str = "UPDATE posts SET deleted_at = $3 \
     WHERE team_id = $1 AND id = $2 AND (deleted_at IS NULL) = ($3 IS NOT NULL)";
pub const MARK_POST_SENT: &str = "UPDATE posts SET status = 'sent', updated_at = $2 \
     WHERE id = $1 AND status = 'scheduled' \
       AND NOT EXISTS (SELECT 1 FROM deliveries WHERE post_id = $1 AND state = 'pending')";
pub const CLEAR_POST_RECIPIENTS: &str = "DELETE FROM post_recipients WHERE post_id = $1";
pub const ADD_POST_RECIPIENT: &str = "INSERT INTO post_recipients (post_id, user_id) \
     VALUES ($1, $2) ON CONFLICT DO NOTHING";
pub const POST_RECIPIENTS: &str =
    "SELECT user_id FROM post_recipients WHERE post_id = $1 ORDER BY user_id";
pub const CLEAR_POST_PAGES: &str = "DELETE FROM post_pages WHERE post_id = $1";
pub const ADD_POST_PAGE: &str = "INSERT INTO post_pages (post_id, account_id) \
     VALUES ($1, $2) ON CONFLICT DO NOTHING";
pub const POST_PAGES: &str =
    "SELECT account_id FROM post_pages WHERE post_id = $1 ORDER BY account_id";

/// Who a post goes to: every member, or the chosen ones.
macro_rules! recipients_filter {
    () => {
        "m.team_id = $1 AND ((SELECT recipients_all FROM posts WHERE id = $2 AND team_id = $1) \
           OR m.user_id IN (SELECT user_id FROM post_recipients WHERE post_id = $2))"
    };
}

pub const RECIPIENT_TIME_ZONES: &str = concat!(
    "SELECT DISTINCT u.time_zone FROM memberships m JOIN users u ON u.id = m.user_id WHERE ",
    recipients_filter!(),
    " ORDER BY u.time_zone"
);

/// The plan's statement: `$1` team, `$2` post, `$3` time zone, `$4` slot
/// start, `$5` span in seconds, `$6` seed, `$7` day index, `$8` day count.
/// A member's place in the slot is a multiplicative hash of their id and the
/// post's seed, so members spread over it, differently per post; `$start`
/// and `$seconds` are how the backend adds that many seconds to `$4`.
#[macro_export]
macro_rules! plan_deliveries {
    (start: $start:literal, seconds: $seconds:literal) => {
        concat!(
            "INSERT INTO deliveries (post_id, team_id, user_id, due_at, state) \
             SELECT $2, $1, m.user_id, ",
            $start,
            " + (CASE WHEN $5 > 0 \
                 THEN (abs(m.user_id * 2654435761 + $6) % 2147483647) % $5 ELSE 0 END)",
            $seconds,
            ", 'pending' FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE u.time_zone = $3 AND (abs(m.user_id * 1000003 + $6) % 2147483647) % $8 = $7 \
               AND m.team_id = $1 AND ((SELECT recipients_all FROM posts \
                   WHERE id = $2 AND team_id = $1) \
                 OR m.user_id IN (SELECT user_id FROM post_recipients WHERE post_id = $2)) \
             ON CONFLICT (post_id, user_id) DO NOTHING"
        )
    };
}

pub const DUE_DELIVERIES: &str = "SELECT d.id, d.post_id, d.team_id, d.user_id, d.due_at, \
         d.state, d.delivered_at, d.decided_at \
     FROM deliveries d JOIN posts p ON p.id = d.post_id \
     WHERE d.state = 'pending' AND d.due_at <= $1 AND p.deleted_at IS NULL \
     ORDER BY d.due_at, d.id LIMIT $2";

/// `$ids` selects the ids from `$1` (a JSON array) in the backend's way.
#[macro_export]
macro_rules! finish_pending_deliveries {
    ($ids:literal) => {
        concat!(
            "UPDATE deliveries SET state = $2, \
                 delivered_at = CASE WHEN $2 = 'delivered' THEN $3 ELSE delivered_at END, \
                 decided_at = CASE WHEN $2 = 'delivered' THEN decided_at ELSE $3 END \
             WHERE state = 'pending' AND id IN (",
            $ids,
            ") RETURNING id"
        )
    };
}

/// `$1` the ids (as the backend's id list reads them), `$2` the team.
#[macro_export]
macro_rules! posts_by_ids {
    ($ids:literal) => {
        concat!(
            "SELECT ",
            $crate::post_columns!(),
            " FROM posts WHERE id IN (",
            $ids,
            ") AND team_id = $2"
        )
    };
}

#[macro_export]
macro_rules! notify_delivered {
    ($ids:literal) => {
        concat!(
            "INSERT INTO notifications (user_id, team_id, kind, post_id, delivery_id, \
                 created_at) \
             SELECT d.user_id, d.team_id, 'suggestion', d.post_id, d.id, $2 \
             FROM deliveries d JOIN users u ON u.id = d.user_id \
             WHERE d.id IN (",
            $ids,
            ") AND (',' || u.muted_notifications || ',') NOT LIKE '%,suggestion,%' \
             RETURNING user_id"
        )
    };
}

pub const DELIVERY_BY_ID: &str = concat!(
    "SELECT ",
    delivery_columns!(),
    " FROM deliveries WHERE id = $1"
);
pub const DELIVERY_OF: &str = concat!(
    "SELECT ",
    delivery_columns!(),
    " FROM deliveries WHERE team_id = $1 AND post_id = $2 AND user_id = $3"
);
/// `$3` is the allowed current states, comma-separated.
pub const DECIDE_DELIVERY: &str = "UPDATE deliveries SET state = $4, decided_at = $5 \
     WHERE user_id = $1 AND id = $2 AND (',' || $3 || ',') LIKE ('%,' || state || ',%')";
pub const RESCHEDULE_DELIVERY: &str =
    "UPDATE deliveries SET state = 'pending', due_at = $3, delivered_at = NULL \
     WHERE user_id = $1 AND id = $2 AND state IN ('pending', 'delivered')";
/// `$3` is the wanted states, comma-separated.
pub const MEMBER_INBOX: &str = "SELECT d.id, d.post_id, d.team_id, d.user_id, d.due_at, \
         d.state, d.delivered_at, d.decided_at \
     FROM deliveries d JOIN posts p ON p.id = d.post_id \
     WHERE d.team_id = $1 AND d.user_id = $2 AND p.deleted_at IS NULL \
       AND (',' || $3 || ',') LIKE ('%,' || d.state || ',%') \
     ORDER BY COALESCE(d.decided_at, d.delivered_at, d.due_at) DESC, d.id DESC LIMIT 200";
/// Deliveries (`d`) with their posts (`p`) as cards (`InboxCardRow`).
macro_rules! cards_from {
    () => {
        "SELECT d.id AS d_id, d.delivered_at AS d_delivered_at, d.decided_at AS d_decided_at, \
             p.id, p.text, p.link, p.link_title, p.image_id, p.expires_at \
         FROM deliveries d JOIN posts p ON p.id = d.post_id "
    };
}
/// A page of the inbox as cards: `$4` the delivery the previous page ended
/// with (NULL for the newest), `$5` the page size. Walks the member's
/// delivered rows in `deliveries_inbox` order and stops at the page's end;
/// the live-post condition is the layout's count's (`sql::LAYOUT_COUNTS`).
pub const INBOX_PAGE: &str = concat!(
    cards_from!(),
    "WHERE d.user_id = $2 AND d.state = 'delivered' AND d.team_id = $1 \
       AND p.deleted_at IS NULL AND p.status IN ('scheduled', 'sent') AND p.expires_at > $3 \
       AND ($4 IS NULL OR (d.delivered_at, d.id) < \
           (SELECT c.delivered_at, c.id FROM deliveries c WHERE c.id = $4 AND c.user_id = $2)) \
     ORDER BY d.delivered_at DESC, d.id DESC LIMIT $5"
);
/// A page of what the member shared, as cards: `$3` the delivery the
/// previous page ended with (NULL for the newest), `$4` the page size.
pub const SHARED_PAGE: &str = concat!(
    cards_from!(),
    "WHERE d.user_id = $2 AND d.state = 'shared' AND d.team_id = $1 AND p.deleted_at IS NULL \
       AND ($3 IS NULL OR (d.decided_at, d.id) < \
           (SELECT c.decided_at, c.id FROM deliveries c WHERE c.id = $3 AND c.user_id = $2)) \
     ORDER BY d.decided_at DESC, d.id DESC LIMIT $4"
);
pub const DELIVERY_COUNTS: &str = "SELECT state, COUNT(*) FROM deliveries \
     WHERE team_id = $1 AND post_id = $2 GROUP BY state";
pub const UNDECIDED_MEMBERS: &str = "SELECT user_id FROM deliveries \
     WHERE team_id = $1 AND post_id = $2 AND state = 'delivered' ORDER BY user_id";

pub const CREATE_APPROVAL: &str = concat!(
    "INSERT INTO approvals (post_id, team_id, account_id, state, publish_at, decided_by, \
         decided_at, created_at) \
     SELECT $2, $1, $3, $4, $5, $6, CASE WHEN $4 = 'pending' THEN NULL ELSE $7 END, $7 \
     WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $3 AND team_id = $1) \
     ON CONFLICT (post_id, account_id) DO NOTHING RETURNING ",
    approval_columns!()
);
pub const APPROVAL_BY_ID: &str = concat!(
    "SELECT ",
    approval_columns!(),
    " FROM approvals WHERE team_id = $1 AND id = $2"
);
pub const APPROVALS_OF_POST: &str = concat!(
    "SELECT ",
    approval_columns!(),
    " FROM approvals WHERE team_id = $1 AND post_id = $2 ORDER BY id"
);
pub const DECIDE_APPROVAL: &str = "UPDATE approvals SET state = $3, decided_by = $4, \
         decided_at = $5 \
     WHERE team_id = $1 AND id = $2 AND state = 'pending'";
pub const APPROVALS_FOR: &str = "SELECT a.id, a.post_id, a.team_id, a.account_id, a.state, \
         a.publish_at, a.decided_by, a.decided_at, a.created_at \
     FROM approvals a \
     JOIN accounts acc ON acc.id = a.account_id \
     JOIN grants g ON g.id = acc.grant_id \
     JOIN posts p ON p.id = a.post_id \
     WHERE a.team_id = $1 AND a.state = 'pending' AND p.deleted_at IS NULL \
       AND EXISTS (SELECT 1 FROM memberships me \
           WHERE me.team_id = $1 AND me.user_id = $2 AND me.role = 'admin') \
       AND (g.owner_user_id = $2 OR NOT EXISTS (SELECT 1 FROM memberships o \
           WHERE o.team_id = $1 AND o.user_id = g.owner_user_id AND o.role = 'admin')) \
     ORDER BY a.created_at, a.id";
pub const SET_AUTO_APPROVE: &str = "UPDATE accounts SET auto_approve = $3 \
     WHERE team_id = $1 AND id = $2 AND kind = 'business'";
pub const AUTO_APPROVE: &str = "SELECT auto_approve FROM accounts WHERE team_id = $1 AND id = $2";

pub const MEMBER_SETTINGS: &str =
    "SELECT time_zone, time_zone_chosen, muted_notifications, last_notified_at \
     FROM users WHERE id = $1";
/// `$3`: whether the member chose it; a detected zone (`false`) never
/// replaces a chosen one.
pub const SET_TIME_ZONE: &str = "UPDATE users SET time_zone = $2, time_zone_chosen = $3 \
     WHERE id = $1 AND (time_zone_chosen = $4 OR time_zone_chosen = $3)";
pub const SET_MUTED: &str = "UPDATE users SET muted_notifications = $2 WHERE id = $1";
pub const SET_LAST_NOTIFIED: &str = "UPDATE users SET last_notified_at = $2 WHERE id = $1";
pub const TEAM_WINDOW: &str = "SELECT window_start, window_end FROM teams WHERE id = $1";
pub const SET_TEAM_WINDOW: &str = "UPDATE teams SET window_start = $2, window_end = $3 \
     WHERE id = $1";
pub const INSERT_NOTIFICATION: &str = "INSERT INTO notifications (user_id, team_id, kind, \
         post_id, delivery_id, approval_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const UNSENT_NOTIFICATIONS: &str = "SELECT id, user_id, team_id, kind, post_id, delivery_id, \
         approval_id, created_at \
     FROM notifications WHERE user_id = $1 AND emailed_at IS NULL ORDER BY created_at, id";
pub const MARK_NOTIFICATION_EMAILED: &str = "UPDATE notifications SET emailed_at = $3 \
     WHERE user_id = $1 AND id = $2 AND emailed_at IS NULL";

pub const INSERT_IMAGE: &str = "INSERT INTO images (team_id, public_id, content_type, bytes, \
         created_at) VALUES ($1, $2, $3, $4, $5) \
     RETURNING id, team_id, public_id, content_type, bytes, created_at";
pub const IMAGE_BY_PUBLIC_ID: &str = "SELECT id, team_id, public_id, content_type, bytes, \
         created_at FROM images WHERE public_id = $1";
pub const IMAGE_PUBLIC_ID: &str = "SELECT public_id FROM images WHERE team_id = $1 AND id = $2";
pub const SAVE_UTM_PRESET: &str = "INSERT INTO utm_presets (team_id, name, utm, created_at) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (team_id, name) DO UPDATE SET utm = excluded.utm \
     RETURNING id, team_id, name, utm";
pub const UTM_PRESETS: &str =
    "SELECT id, team_id, name, utm FROM utm_presets WHERE team_id = $1 ORDER BY name";
pub const DELETE_UTM_PRESET: &str = "DELETE FROM utm_presets WHERE team_id = $1 AND id = $2";
pub const ACTION_LINK_USED: &str =
    "SELECT COUNT(*) FROM action_link_uses WHERE signature_hash = $1";
pub const USE_ACTION_LINK: &str = "INSERT INTO action_link_uses (signature_hash, used_at) \
     VALUES ($1, $2) ON CONFLICT (signature_hash) DO NOTHING";

#[macro_export]
macro_rules! stale_personal_grants {
    ($ids:literal) => {
        concat!(
            "SELECT DISTINCT g.id FROM grants g JOIN accounts a ON a.grant_id = g.id \
             WHERE a.kind = 'personal' AND g.status = 'active' \
               AND (g.checked_at IS NULL OR g.checked_at < $2) AND a.owner_user_id IN (",
            $ids,
            ") ORDER BY g.id"
        )
    };
}
pub const MARK_GRANT_CHECKED: &str = "UPDATE grants SET checked_at = $2 WHERE id = $1";
