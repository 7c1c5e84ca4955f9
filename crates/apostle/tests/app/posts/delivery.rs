//! Delivery timing and notification email, on the services with a test
//! clock: a local time in each member's own time zone across a
//! daylight-saving change, the random moment inside the team's window,
//! weekends skipped, "now" ignoring the window, expiry, the bin, at most one
//! email an hour with the rest in a digest, muted kinds, and
//! `List-Unsubscribe` on a real SMTP server.

use crate::helpers::{free_port, runner, SmtpServer, TestDb};
use apostle_core::posts::PostInput;
use apostle_core::store::{Delivery, Email};
use apostle_core::teams::TeamAccess;
use apostle_core::{Core, ManualClock};
use apostle_domain::{
    DeliveryState, EmailAddress, NotificationKind, PostId, Role, Schedule, UserId,
};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use std::collections::HashSet;
use std::sync::Arc;

const PASSWORD: &str = "correct horse battery";

/// A team "acme" on the services with a test clock: Ada (admin, UTC) and
/// the members named, each `(email, time zone)`.
pub(super) struct Team {
    pub core: Core,
    pub clock: ManualClock,
    pub ada: TeamAccess,
    pub members: Vec<UserId>,
    _db: TestDb,
}

pub(super) async fn team(start: DateTime<Utc>, members: &[(&str, &str)]) -> Team {
    team_with(start, members, &[]).await
}

pub(super) async fn team_with(
    start: DateTime<Utc>,
    members: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> Team {
    let db = TestDb::new().await;
    let clock = ManualClock::new(start);
    let core = db.core(extra, Arc::new(clock.clone())).await;
    let ada = crate::helpers::admin_of_new_team(&core).await;
    let mut ids = Vec::new();
    for (email, zone) in members {
        let user = core
            .add_user(
                "acme",
                email,
                "Acme Member",
                Role::Ambassador,
                PASSWORD.to_owned().into(),
            )
            .await
            .expect("member");
        core.set_time_zone(user.id, zone).await.expect("time zone");
        ids.push(user.id);
    }
    Team {
        core,
        clock,
        ada,
        members: ids,
        _db: db,
    }
}

impl Team {
    pub async fn post(&self, text: &str, schedule: Option<Schedule>) -> PostId {
        self.post_with(PostInput {
            text: text.to_owned(),
            providers: vec!["linkedin".to_owned(), "x".to_owned()],
            schedule,
            ..PostInput::default()
        })
        .await
    }

    pub async fn post_with(&self, input: PostInput) -> PostId {
        self.core
            .create_post(&self.ada, input)
            .await
            .expect("post")
            .id
    }

    pub async fn delivery(&self, post: PostId, user: UserId) -> Option<Delivery> {
        let mut tx = self.core.store.begin_read().await.unwrap();
        tx.delivery_of(self.ada.team.id, post, user).await.unwrap()
    }

    /// Dispatches what is due and runs the jobs due now (the emails).
    pub async fn deliver(&self) -> usize {
        let n = self.core.dispatch_due_deliveries().await.expect("dispatch");
        runner(&self.core).run_pending().await.expect("jobs");
        n
    }

    pub async fn notification_emails(&self, to: &str) -> Vec<Email> {
        let mut tx = self.core.store.begin_read().await.unwrap();
        tx.emails_to(&EmailAddress::parse(to).unwrap())
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.template == "notification")
            .collect()
    }

    pub fn text(&self, email: &Email) -> String {
        let place = format!("email:{}:{}", email.recipient, email.template);
        self.core
            .keyring
            .open_text(&email.text_body, &place)
            .expect("the body opens")
    }
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn ten() -> NaiveTime {
    NaiveTime::from_hms_opt(10, 0, 0).unwrap()
}

crate::on_both_backends!(
    ten_oclock_is_each_members_own_ten_oclock_across_the_daylight_saving_change,
    several_days_spread_members_over_the_window_on_weekdays_only,
    now_goes_out_at_once_even_outside_the_window,
    an_expired_post_is_not_delivered,
    a_post_in_the_bin_waits_and_goes_out_once_restored,
    a_member_hears_at_most_once_an_hour_and_the_rest_comes_as_one_digest,
);

async fn ten_oclock_is_each_members_own_ten_oclock_across_the_daylight_saving_change() {
    // Europe leaves summer time on 25 October 2026, America on 1 November.
    let t = team(
        at(2026, 10, 20, 12, 0),
        &[
            ("paris@acme.example", "Europe/Paris"),
            ("newyork@acme.example", "America/New_York"),
            ("tokyo@acme.example", "Asia/Tokyo"),
        ],
    )
    .await;
    let (paris, new_york, tokyo) = (t.members[0], t.members[1], t.members[2]);
    let before = t
        .post(
            "Before the change",
            Some(Schedule::At {
                date: date(2026, 10, 24),
                time: ten(),
            }),
        )
        .await;
    let after = t
        .post(
            "After the change",
            Some(Schedule::At {
                date: date(2026, 10, 26),
                time: ten(),
            }),
        )
        .await;
    let due = |d: Option<Delivery>| d.expect("planned").due_at;
    assert_eq!(due(t.delivery(before, paris).await), at(2026, 10, 24, 8, 0));
    assert_eq!(due(t.delivery(after, paris).await), at(2026, 10, 26, 9, 0));
    assert_eq!(
        due(t.delivery(before, new_york).await),
        at(2026, 10, 24, 14, 0)
    );
    assert_eq!(
        due(t.delivery(after, new_york).await),
        at(2026, 10, 26, 14, 0)
    );
    assert_eq!(due(t.delivery(after, tokyo).await), at(2026, 10, 26, 1, 0));

    t.clock.set(at(2026, 10, 24, 7, 59));
    assert_eq!(
        t.deliver().await,
        1,
        "only Tokyo, whose ten o'clock was at 01:00 UTC"
    );
    assert!(t.notification_emails("paris@acme.example").await.is_empty());
    t.clock.set(at(2026, 10, 24, 8, 0));
    assert_eq!(t.deliver().await, 1, "Paris at its ten o'clock");
    assert_eq!(
        t.delivery(before, paris).await.unwrap().state,
        DeliveryState::Delivered
    );
    assert_eq!(
        t.delivery(before, new_york).await.unwrap().state,
        DeliveryState::Pending
    );
    assert_eq!(t.notification_emails("paris@acme.example").await.len(), 1);
    assert!(t
        .notification_emails("newyork@acme.example")
        .await
        .is_empty());
}

async fn several_days_spread_members_over_the_window_on_weekdays_only() {
    let members: Vec<(String, &str)> = (0..30)
        .map(|i| (format!("m{i}@acme.example"), "Europe/Paris"))
        .collect();
    let refs: Vec<(&str, &str)> = members.iter().map(|(e, z)| (e.as_str(), *z)).collect();
    // Friday 27 November 2026; the schedule runs Friday to Tuesday.
    let t = team(at(2026, 11, 27, 6, 0), &refs).await;
    let days = (27..=30)
        .map(|d| date(2026, 11, d))
        .chain([date(2026, 12, 1)])
        .collect();
    let post = t
        .post(
            "Spread",
            Some(Schedule::Days {
                days,
                skip_weekends: true,
            }),
        )
        .await;
    let paris = apostle_domain::TimeZoneName::parse("Europe/Paris")
        .unwrap()
        .tz();
    let mut moments = HashSet::new();
    let mut weekdays = HashSet::new();
    for member in &t.members {
        let due = t.delivery(post, *member).await.expect("planned").due_at;
        let local = due.with_timezone(&paris);
        assert!(
            (9..17).contains(&local.hour()),
            "{local} is inside 09:00-17:00 Paris time"
        );
        assert!(
            local.weekday().number_from_monday() <= 5,
            "{local} is not on a weekend"
        );
        moments.insert(due);
        weekdays.insert(local.date_naive());
    }
    assert!(
        moments.len() > 20,
        "not one instant: {} moments",
        moments.len()
    );
    assert!(weekdays.len() >= 2, "spread over the days: {weekdays:?}");
    // Ada lives in UTC and gets hers inside the window too.
    let hers = t.delivery(post, t.ada.user.id).await.unwrap().due_at;
    assert!((9..17).contains(&hers.hour()), "{hers}");
}

async fn now_goes_out_at_once_even_outside_the_window() {
    // 23:30 in Paris, long after the 17:00 end of the window.
    let t = team(
        at(2026, 11, 30, 22, 30),
        &[("night@acme.example", "Europe/Paris")],
    )
    .await;
    let post = t.post("Right now", None).await;
    assert_eq!(
        t.delivery(post, t.members[0]).await.unwrap().due_at,
        at(2026, 11, 30, 22, 30)
    );
    assert_eq!(t.deliver().await, 2, "Ada and the member");
    assert_eq!(t.notification_emails("night@acme.example").await.len(), 1);
}

async fn an_expired_post_is_not_delivered() {
    let t = team(at(2026, 11, 30, 8, 0), &[("late@acme.example", "UTC")]).await;
    let post = t
        .post_with(PostInput {
            text: "Short-lived".to_owned(),
            providers: vec!["x".to_owned()],
            schedule: Some(Schedule::At {
                date: date(2026, 11, 30),
                time: ten(),
            }),
            expires_at: Some(at(2026, 11, 30, 11, 0)),
            ..PostInput::default()
        })
        .await;
    // The worker was down until after the expiry.
    t.clock.set(at(2026, 11, 30, 11, 30));
    assert_eq!(t.deliver().await, 0);
    let delivery = t.delivery(post, t.members[0]).await.unwrap();
    assert_eq!(delivery.state, DeliveryState::Expired);
    assert!(t.notification_emails("late@acme.example").await.is_empty());
    let access = t
        .core
        .team_access("acme", &user(&t, "late@acme.example").await)
        .await
        .unwrap();
    assert!(t.core.inbox(&access).await.unwrap().is_empty());
    let detail = t.core.post_detail(&t.ada, post).await.unwrap();
    assert_eq!(detail.status, apostle_domain::PostStatus::Expired);
    let refused = t
        .core
        .create_post(
            &t.ada,
            PostInput {
                text: "Expires before it goes out".to_owned(),
                providers: vec!["x".to_owned()],
                schedule: Some(Schedule::At {
                    date: date(2026, 12, 1),
                    time: ten(),
                }),
                expires_at: Some(at(2026, 12, 1, 9, 0)),
                ..PostInput::default()
            },
        )
        .await;
    assert!(
        matches!(refused, Err(apostle_core::CoreError::Invalid(_))),
        "an expiry before the delivery moment is refused: {refused:?}"
    );
}

async fn a_post_in_the_bin_waits_and_goes_out_once_restored() {
    let t = team(at(2026, 11, 30, 10, 0), &[("amy@acme.example", "UTC")]).await;
    let post = t.post("Binned", None).await;
    t.core.delete_post(&t.ada, post).await.unwrap();
    assert_eq!(t.deliver().await, 0, "nothing in the bin goes out");
    assert!(t.core.team_posts(&t.ada, false).await.unwrap().is_empty());
    assert_eq!(t.core.team_posts(&t.ada, true).await.unwrap()[0].id, post);
    t.core.restore_post(&t.ada, post).await.unwrap();
    assert_eq!(t.deliver().await, 2);
    assert_eq!(
        t.delivery(post, t.members[0]).await.unwrap().state,
        DeliveryState::Delivered
    );
}

async fn a_member_hears_at_most_once_an_hour_and_the_rest_comes_as_one_digest() {
    let t = team(at(2026, 11, 30, 10, 0), &[("amy@acme.example", "UTC")]).await;
    t.post("First news", None).await;
    t.deliver().await;
    let first = t.notification_emails("amy@acme.example").await;
    assert_eq!(first.len(), 1);
    assert!(t.text(&first[0]).contains("First news"));

    t.clock.advance(Duration::minutes(10));
    t.post("Second news", None).await;
    t.deliver().await;
    t.clock.advance(Duration::minutes(10));
    t.post("Third news", None).await;
    t.deliver().await;
    assert_eq!(
        t.notification_emails("amy@acme.example").await.len(),
        1,
        "nothing more within the hour"
    );
    assert_eq!(
        t.core
            .inbox(&access_of(&t, "amy@acme.example").await)
            .await
            .unwrap()
            .len(),
        3,
        "but every suggestion is in the inbox at once"
    );

    t.clock.set(at(2026, 11, 30, 11, 0));
    runner(&t.core).run_pending().await.unwrap();
    let emails = t.notification_emails("amy@acme.example").await;
    assert_eq!(emails.len(), 2, "one digest when the hour is up");
    let digest = emails.iter().find(|e| e.id != first[0].id).unwrap();
    assert_eq!(digest.subject, "2 posts waiting for you on Apostle");
    let text = t.text(digest);
    assert!(
        text.contains("Second news") && text.contains("Third news"),
        "{text}"
    );
    assert!(!text.contains("First news"));
}

async fn user(t: &Team, email: &str) -> apostle_core::store::User {
    user_of(&t.core, email).await
}

pub(super) async fn access_of(t: &Team, email: &str) -> TeamAccess {
    t.core
        .team_access("acme", &user(t, email).await)
        .await
        .unwrap()
}

#[tokio::test]
async fn muted_suggestions_are_not_emailed_but_still_reach_the_inbox() {
    let t = team(at(2026, 11, 30, 10, 0), &[("amy@acme.example", "UTC")]).await;
    t.core
        .set_email_notifications(t.members[0], &[NotificationKind::Approval])
        .await
        .unwrap();
    t.post("Quietly", None).await;
    t.deliver().await;
    assert!(t.notification_emails("amy@acme.example").await.is_empty());
    assert_eq!(
        t.core
            .inbox(&access_of(&t, "amy@acme.example").await)
            .await
            .unwrap()
            .len(),
        1
    );
    // Ada did not mute anything.
    assert_eq!(t.notification_emails("ada@acme.example").await.len(), 1);
}

#[tokio::test]
async fn a_suggestion_email_carries_one_click_unsubscribe_that_turns_those_emails_off() {
    if !SmtpServer::available() {
        return;
    }
    let port = free_port();
    let maildir = std::env::temp_dir().join(format!("apostle-smtp-{}", crate::helpers::unique()));
    let smtp = SmtpServer::start(port, &maildir);
    let url = format!("smtp://127.0.0.1:{port}");
    let t = team_with(
        at(2026, 11, 30, 10, 0),
        &[("amy@acme.example", "UTC")],
        &[("APOSTLE_SMTP_URL", url.as_str())],
    )
    .await;
    t.post("Over SMTP", None).await;
    t.deliver().await;
    let messages = smtp.messages();
    let amys: Vec<&String> = messages
        .iter()
        .filter(|m| m.contains("To: amy@acme.example"))
        .collect();
    assert_eq!(amys.len(), 1, "{messages:?}");
    let message = amys[0].replace("\r\n", "\n");
    let header = message
        .lines()
        .find(|l| l.starts_with("List-Unsubscribe: <"))
        .expect("a List-Unsubscribe header");
    assert!(
        message.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{message}"
    );
    let link = header
        .trim_start_matches("List-Unsubscribe: <")
        .trim_end_matches('>');
    let token = link.rsplit("/unsubscribe/").next().unwrap();
    assert_eq!(
        t.core.unsubscribe(token).await.unwrap(),
        NotificationKind::Suggestion
    );
    assert_eq!(
        t.core.member_settings(t.members[0]).await.unwrap().muted,
        vec![NotificationKind::Suggestion]
    );
    let mut forged = token.to_owned();
    forged.pop();
    assert!(
        matches!(
            t.core.unsubscribe(&forged).await,
            Err(apostle_core::CoreError::LinkInvalid(_))
        ),
        "a forged token does nothing"
    );
    std::fs::remove_dir_all(maildir).ok();
}

/// Before a suggestion goes out, the member's personal accounts not heard
/// from within the hour are probed: a LinkedIn revoked since arrives broken,
/// with the offer to reconnect in the email, not with a share that will fail.
#[tokio::test]
async fn a_suggestion_to_a_member_whose_linkedin_just_broke_arrives_with_the_reconnect_offer() {
    use crate::connections::{acme, text_of, AMY};
    let acme = acme().await;
    acme.sandbox_member("linkedin", "li-amy-posts").await;
    let id = acme.connect_personal(AMY, "linkedin", "li-amy-posts").await;
    let core = &acme.app.core;
    // Last heard from two hours ago; revoked at LinkedIn since.
    let account = {
        let mut tx = core.store.begin_read().await.unwrap();
        tx.account_by_id(apostle_domain::AccountId(id))
            .await
            .unwrap()
            .unwrap()
    };
    let mut tx = core.store.begin().await.unwrap();
    tx.mark_grant_checked(account.grant_id, core.clock.now() - Duration::hours(2))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    acme.member_action("linkedin", "li-amy-posts", "revoke", serde_json::json!({}))
        .await;

    let ada = core
        .team_access("acme", &user_of(core, "ada@acme.example").await)
        .await
        .unwrap();
    core.create_post(
        &ada,
        PostInput {
            text: "Share our launch".to_owned(),
            providers: vec!["linkedin".to_owned()],
            ..PostInput::default()
        },
    )
    .await
    .unwrap();
    core.dispatch_due_deliveries().await.unwrap();
    runner(core).run_pending().await.unwrap();

    let after = {
        let mut tx = core.store.begin_read().await.unwrap();
        tx.account_by_id(apostle_domain::AccountId(id))
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(
        after.status,
        apostle_core::store::ConnectionStatus::Broken,
        "the probe before delivery found the break"
    );
    let emails = acme.emails(AMY, "notification").await;
    assert_eq!(emails.len(), 1);
    let text = text_of(&acme.app, &emails[0]);
    assert!(
        text.contains("is disconnected: reconnect it to share there."),
        "{text}"
    );
    assert!(
        text.contains(&format!("/settings/connections/{id}")),
        "{text}"
    );
}

async fn user_of(core: &Core, email: &str) -> apostle_core::store::User {
    let mut tx = core.store.begin_read().await.unwrap();
    tx.user_by_email(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
}
