//! Posts and their delivery: the states a suggestion goes through, the text
//! limits of each provider, the member's time zone, the team's delivery
//! window and the planning of a schedule into moments in UTC.

use crate::values::InvalidValue;
use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

fn invalid(field: &'static str, reason: &'static str) -> InvalidValue {
    InvalidValue { field, reason }
}

macro_rules! str_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }

            pub fn parse(s: &str) -> Result<Self, InvalidValue> {
                match s {
                    $($text => Ok($name::$variant),)*
                    _ => Err(invalid($what, concat!("is not a known ", $what))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(
    /// Where a post is in its life. A deleted post keeps its status and sits
    /// in the bin (`deleted_at`) until restored.
    PostStatus, "post status" {
        /// Saved, not delivered to anyone.
        Draft = "draft",
        /// Deliveries planned, some still to go out.
        Scheduled = "scheduled",
        /// Every delivery has gone out.
        Sent = "sent",
        /// Past its expiry: neither delivered nor shareable.
        Expired = "expired",
        /// Put away by an admin: no longer offered.
        Archived = "archived",
    }
);

str_enum!(
    /// One post offered to one member.
    DeliveryState, "delivery state" {
        /// Waiting for its moment (`due_at`).
        Pending = "pending",
        /// In the member's inbox, waiting for their decision.
        Delivered = "delivered",
        Shared = "shared",
        Rejected = "rejected",
        /// The post expired before the member decided.
        Expired = "expired",
    }
);

str_enum!(
    /// Where one share target is. A target is published at most once: it is
    /// `publishing` before the provider is called, and stays so if the
    /// worker dies during the call, until recovery finds out.
    ShareStatus, "share status" {
        Queued = "queued",
        Publishing = "publishing",
        Published = "published",
        /// The provider refused the post itself; the message says why.
        Failed = "failed",
        /// Its account broke before it went out: held, never dropped, and
        /// sent only when the member says so after reconnecting.
        WaitingForReconnect = "waiting_for_reconnect",
        /// A worker died during the provider call and the provider's recent
        /// posts could not tell whether it went out: the member is asked
        /// instead of risking a duplicate.
        Unsure = "unsure",
    }
);

str_enum!(
    /// A suggestion to a business page, waiting for the page's owner.
    ApprovalState, "approval state" {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
    }
);

str_enum!(
    /// The kinds of notification email a member can turn off. Disconnection
    /// notices and reconnect reminders are not among them: they always go out.
    NotificationKind, "notification kind" {
        /// A new suggestion to share.
        Suggestion = "suggestion",
        /// A suggestion to a page you own waits for your approval.
        Approval = "approval",
        /// An admin reminds you of a post you have not shared yet.
        ShareReminder = "share_reminder",
    }
);

impl NotificationKind {
    /// How the preference is named to the member.
    pub fn label(self) -> &'static str {
        match self {
            NotificationKind::Suggestion => "New posts suggested to me",
            NotificationKind::Approval => "Posts waiting for my approval",
            NotificationKind::ShareReminder => "Reminders about posts I have not shared",
        }
    }
}

/// A member's IANA time zone (`Europe/Paris`), set from their browser or
/// device. Delivery moments are computed in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim();
        raw.parse::<chrono_tz::Tz>()
            .map(|tz| TimeZoneName(tz.name().to_owned()))
            .map_err(|_| invalid("time_zone", "is not a known time zone (e.g. Europe/Paris)"))
    }

    pub fn utc() -> Self {
        TimeZoneName("UTC".to_owned())
    }

    /// Every IANA zone name, for a member to choose from.
    pub fn known() -> impl Iterator<Item = &'static str> {
        chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.0.parse().unwrap_or(chrono_tz::UTC)
    }
}

impl TryFrom<String> for TimeZoneName {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TimeZoneName::parse(&s)
    }
}

impl From<TimeZoneName> for String {
    fn from(v: TimeZoneName) -> String {
        v.0
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A team's delivery window in the recipients' local time, in minutes after
/// midnight: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryWindow {
    pub start_minute: i32,
    pub end_minute: i32,
}

impl DeliveryWindow {
    pub const DEFAULT: DeliveryWindow = DeliveryWindow {
        start_minute: 9 * 60,
        end_minute: 17 * 60,
    };

    pub fn new(start_minute: i32, end_minute: i32) -> Result<Self, InvalidValue> {
        if !(0..24 * 60).contains(&start_minute) || !(1..=24 * 60).contains(&end_minute) {
            return Err(invalid("delivery window", "must lie within one day"));
        }
        if end_minute <= start_minute {
            return Err(invalid("delivery window", "must end after it starts"));
        }
        Ok(DeliveryWindow {
            start_minute,
            end_minute,
        })
    }

    /// `HH:MM` of a minute of the day.
    pub fn clock(minute: i32) -> String {
        format!("{:02}:{:02}", minute / 60, minute % 60)
    }

    /// Parses `HH:MM` into minutes after midnight (`24:00` is the day's end).
    pub fn parse_clock(raw: &str) -> Result<i32, InvalidValue> {
        let bad = || invalid("time", "must be HH:MM");
        let (h, m) = raw.trim().split_once(':').ok_or_else(bad)?;
        let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if !(0..=24).contains(&h) || !(0..60).contains(&m) || (h == 24 && m != 0) {
            return Err(bad());
        }
        Ok(h * 60 + m)
    }
}

/// When a post goes out. Local dates and times are each recipient's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// At once, whatever the window.
    Now,
    /// One local date and time.
    At { date: NaiveDate, time: NaiveTime },
    /// A random moment inside the team's window on one of these local days.
    Days {
        days: Vec<NaiveDate>,
        #[serde(default)]
        skip_weekends: bool,
    },
}

/// The most days one post may be spread over.
pub const MAX_SCHEDULE_DAYS: usize = 31;

impl Schedule {
    /// Checks the shape: at least one usable day, not too many.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if let Schedule::Days { .. } = self {
            let days = self.usable_days();
            if days.is_empty() {
                return Err(invalid(
                    "schedule",
                    "needs at least one day (weekends are skipped)",
                ));
            }
            if days.len() > MAX_SCHEDULE_DAYS {
                return Err(invalid("schedule", "may span at most 31 days"));
            }
        }
        Ok(())
    }

    /// The days a `Days` schedule delivers on, sorted, without repeats and
    /// without Saturdays and Sundays when those are skipped.
    pub fn usable_days(&self) -> Vec<NaiveDate> {
        let Schedule::Days {
            days,
            skip_weekends,
        } = self
        else {
            return Vec::new();
        };
        let mut out: Vec<NaiveDate> = days
            .iter()
            .copied()
            .filter(|d| !(*skip_weekends && d.weekday().number_from_monday() >= 6))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Where deliveries may fall for a recipient in `tz`: one `(start, span
    /// in seconds)` per slot. `Now` is one instant at `now`; `At` one instant;
    /// `Days` one slot per usable day, the window's local start and end
    /// turned into UTC on that day (so a daylight-saving change shortens or
    /// lengthens the slot, never moves it outside the window).
    pub fn slots(
        &self,
        tz: chrono_tz::Tz,
        window: DeliveryWindow,
        now: DateTime<Utc>,
    ) -> Vec<Slot> {
        match self {
            Schedule::Now => vec![Slot {
                start: now,
                span_seconds: 0,
            }],
            Schedule::At { date, time } => vec![Slot {
                start: local_to_utc(tz, date.and_time(*time)).max(now),
                span_seconds: 0,
            }],
            Schedule::Days { .. } => self
                .usable_days()
                .into_iter()
                .filter_map(|day| {
                    let at = |minute: i32| {
                        let midnight = day.and_time(NaiveTime::MIN);
                        local_to_utc(tz, midnight + Duration::minutes(minute.into()))
                    };
                    let start = at(window.start_minute).max(now);
                    let end = at(window.end_minute);
                    let span = (end - start).num_seconds();
                    (span > 0).then_some(Slot {
                        start,
                        span_seconds: span,
                    })
                })
                .collect(),
        }
    }
}

/// A stretch of time a delivery may be placed in: `[start, start + span)`,
/// or exactly `start` when `span_seconds` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub span_seconds: i64,
}

/// A local wall-clock time in UTC. A time skipped by a daylight-saving jump
/// moves forward by the jump; a repeated one takes its first occurrence.
pub fn local_to_utc(tz: chrono_tz::Tz, local: chrono::NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    for _ in 0..4 {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => probe += Duration::minutes(30),
        }
    }
    Utc.from_utc_datetime(&local)
}

/// Text limits per provider, in characters (X counts every link as 23).
pub fn text_limit(provider: &str) -> Option<usize> {
    match provider {
        "x" => Some(280),
        "linkedin" => Some(3000),
        "facebook" => Some(63206),
        "instagram" => Some(2200),
        _ => None,
    }
}

/// X shortens every link to 23 characters.
pub const X_LINK_LENGTH: usize = 23;

/// How long `text` (plus `link`, when it is appended) counts at `provider`.
pub fn counted_length(provider: &str, text: &str, link: Option<&str>) -> usize {
    let text_len = text.chars().count();
    match (provider, link) {
        (_, None) => text_len,
        ("x", Some(_)) => text_len + 1 + X_LINK_LENGTH,
        (_, Some(link)) if text.contains(link) => text_len,
        (_, Some(link)) => text_len + 1 + link.chars().count(),
    }
}

/// UTM parameters added to a post's link when it is shared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Utm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl Utm {
    /// Blank values dropped; each at most 200 characters without controls.
    pub fn normalized(self) -> Result<Utm, InvalidValue> {
        let clean = |v: Option<String>| -> Result<Option<String>, InvalidValue> {
            match v.map(|s| s.trim().to_owned()) {
                Some(s) if s.is_empty() => Ok(None),
                Some(s) if s.chars().count() > 200 || s.chars().any(char::is_control) => {
                    Err(invalid("utm", "values are at most 200 plain characters"))
                }
                other => Ok(other),
            }
        };
        Ok(Utm {
            source: clean(self.source)?,
            medium: clean(self.medium)?,
            campaign: clean(self.campaign)?,
            term: clean(self.term)?,
            content: clean(self.content)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.pairs().next().is_none()
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("utm_source", &self.source),
            ("utm_medium", &self.medium),
            ("utm_campaign", &self.campaign),
            ("utm_term", &self.term),
            ("utm_content", &self.content),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    }

    /// `link` with these parameters set (replacing any of the same name).
    pub fn apply(&self, link: &url::Url) -> url::Url {
        if self.is_empty() {
            return link.clone();
        }
        let names: Vec<&str> = self.pairs().map(|(k, _)| k).collect();
        let kept: Vec<(String, String)> = link
            .query_pairs()
            .filter(|(k, _)| !names.contains(&k.as_ref()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut out = link.clone();
        out.set_query(None);
        {
            let mut q = out.query_pairs_mut();
            for (k, v) in &kept {
                q.append_pair(k, v);
            }
            for (k, v) in self.pairs() {
                q.append_pair(k, v);
            }
        }
        out
    }
}

/// A post's link: `http` or `https` only, at most 2,000 characters.
pub fn parse_link(raw: &str) -> Result<url::Url, InvalidValue> {
    let raw = raw.trim();
    if raw.len() > 2000 {
        return Err(invalid("link", "is longer than 2,000 characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| invalid("link", "is not a web address"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("link", "must start with http:// or https://"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_local_time_is_placed_in_utc_on_both_sides_of_a_daylight_saving_change() {
        let now = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
        let at = |day| Schedule::At {
            date: d(2026, 10, day),
            time: NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
        };
        let before = at(24).slots(Paris, DeliveryWindow::DEFAULT, now)[0].start;
        let after = at(26).slots(Paris, DeliveryWindow::DEFAULT, now)[0].start;
        assert_eq!(before, Utc.with_ymd_and_hms(2026, 10, 24, 8, 0, 0).unwrap());
        assert_eq!(after, Utc.with_ymd_and_hms(2026, 10, 26, 9, 0, 0).unwrap());
    }

    #[test]
    fn a_time_skipped_by_the_spring_change_moves_forward() {
        let t = local_to_utc(Paris, d(2026, 3, 29).and_hms_opt(2, 30, 0).unwrap());
        assert_eq!(t, Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap());
    }

    #[test]
    fn the_window_on_the_change_day_keeps_its_local_hours() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let s = Schedule::Days {
            days: vec![d(2026, 3, 28), d(2026, 3, 30)],
            skip_weekends: false,
        };
        let slots = s.slots(Paris, DeliveryWindow::DEFAULT, now);
        assert_eq!(slots.len(), 2);
        assert_eq!(
            slots[0].start,
            Utc.with_ymd_and_hms(2026, 3, 28, 8, 0, 0).unwrap()
        );
        assert_eq!(
            slots[1].start,
            Utc.with_ymd_and_hms(2026, 3, 30, 7, 0, 0).unwrap()
        );
        assert!(slots.iter().all(|s| s.span_seconds == 8 * 3600));
    }

    #[test]
    fn weekends_are_skipped_only_when_asked() {
        let days = vec![d(2026, 11, 27), d(2026, 11, 28), d(2026, 11, 29)];
        let skip = Schedule::Days {
            days: days.clone(),
            skip_weekends: true,
        };
        assert_eq!(skip.usable_days(), vec![d(2026, 11, 27)]);
        let keep = Schedule::Days {
            days,
            skip_weekends: false,
        };
        assert_eq!(keep.usable_days().len(), 3);
        let only_weekend = Schedule::Days {
            days: vec![d(2026, 11, 28)],
            skip_weekends: true,
        };
        assert!(only_weekend.validate().is_err());
    }

    #[test]
    fn a_day_already_under_way_starts_now_and_a_day_past_is_dropped() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let s = Schedule::Days {
            days: vec![d(2026, 11, 29), d(2026, 11, 30)],
            skip_weekends: false,
        };
        let slots = s.slots(chrono_tz::UTC, DeliveryWindow::DEFAULT, now);
        assert_eq!(slots.len(), 1);
        assert_eq!(slots[0].start, now);
        assert_eq!(slots[0].span_seconds, 5 * 3600);
    }

    #[test]
    fn x_counts_a_link_as_23_characters() {
        let text = "a".repeat(256);
        assert_eq!(
            counted_length("x", &text, Some("https://acme.example/a/very/long/path")),
            280
        );
        assert_eq!(
            counted_length("linkedin", "hello", Some("https://a.example")),
            23
        );
    }

    #[test]
    fn utm_parameters_replace_their_namesakes_and_keep_the_rest() {
        let utm = Utm {
            source: Some("apostle".into()),
            campaign: Some("launch".into()),
            ..Utm::default()
        };
        let link = url::Url::parse("https://acme.example/p?id=3&utm_source=old").unwrap();
        assert_eq!(
            utm.apply(&link).as_str(),
            "https://acme.example/p?id=3&utm_source=apostle&utm_campaign=launch"
        );
    }

    #[test]
    fn time_zones_are_checked_and_windows_must_be_forward() {
        assert_eq!(
            TimeZoneName::parse("Europe/Paris").unwrap().as_str(),
            "Europe/Paris"
        );
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
        assert!(DeliveryWindow::new(17 * 60, 9 * 60).is_err());
        assert_eq!(DeliveryWindow::parse_clock("09:30").unwrap(), 570);
        assert!(parse_link("javascript:alert(1)").is_err());
    }
}
