//! The member's side in the web app, as a browser without JavaScript uses
//! it: the inbox and one suggestion with its targets, "Not for me" and
//! "Remind me later", the approvals page with Auto Approve, and
//! notification settings with the time zone.

use crate::connections::browser::{shot, sign_in};
use crate::connections::web::{location, Web};
use crate::connections::{acme, Acme, ADMIN, AMY};
use crate::helpers::runner;
use apostle_core::posts::PostInput;
use apostle_core::store::{Post, User};
use apostle_core::teams::TeamAccess;
use apostle_domain::{
    AccountId, DeliveryId, DeliveryState, EmailAddress, NotificationKind, Role, TimeZoneName,
};
use apostle_test_browser::{run, PHONE};
use chrono::{DateTime, Utc};
use serde_json::json;

crate::on_both_backends!(
    not_for_me_takes_the_suggestion_out_of_the_inbox_for_good,
    remind_me_later_takes_it_out_until_the_chosen_morning,
    an_admin_approves_a_post_waiting_for_a_page_they_own,
    a_member_with_more_than_a_page_of_suggestions_sees_each_once_going_older,
    a_member_who_shared_more_than_a_page_sees_each_share_once_going_older,
);

pub async fn user(acme: &Acme, email: &str) -> User {
    let mut tx = acme.app.core.store.begin_read().await.unwrap();
    tx.user_by_email(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .expect("a member")
}

pub async fn access(acme: &Acme, email: &str) -> TeamAccess {
    let who = user(acme, email).await;
    acme.app.core.team_access("acme", &who).await.unwrap()
}

/// A post from Ada to the whole team on LinkedIn, delivered now (inbox and
/// email), shareable until `expires_at` (two weeks when `None`).
pub async fn suggest(acme: &Acme, text: &str, expires_at: Option<DateTime<Utc>>) -> Post {
    let core = &acme.app.core;
    let post = core
        .create_post(
            &access(acme, ADMIN).await,
            PostInput {
                text: text.to_owned(),
                providers: vec!["linkedin".to_owned()],
                expires_at,
                ..PostInput::default()
            },
        )
        .await
        .expect("the post is created");
    core.dispatch_due_deliveries().await.unwrap();
    runner(core).run_pending().await.unwrap();
    post
}

/// Amy's delivery of `post`, from her inbox.
pub async fn amys_delivery(acme: &Acme, post: &Post) -> DeliveryId {
    let inbox = acme.app.core.inbox(&access(acme, AMY).await).await.unwrap();
    inbox
        .iter()
        .find(|i| i.post.id == post.id)
        .expect("the suggestion is in Amy's inbox")
        .delivery
        .id
}

async fn in_inbox(acme: &Acme, who: &str, post: &Post) -> bool {
    let inbox = acme.app.core.inbox(&access(acme, who).await).await.unwrap();
    inbox.iter().any(|i| i.post.id == post.id)
}

/// The path and HTML a redirect leads to.
async fn landing(web: &Web<'_>, response: reqwest::Response) -> (String, String) {
    assert_eq!(response.status(), 303);
    web.follow(&location(&response)).await
}

#[tokio::test]
async fn the_inbox_lists_a_suggestion_whose_page_offers_to_reconnect_a_broken_linkedin() {
    let acme = acme().await;
    acme.sandbox_member("linkedin", "li-amy").await;
    let linkedin = acme.connect_personal(AMY, "linkedin", "li-amy").await;
    acme.member_action("linkedin", "li-amy", "change-password", json!({}))
        .await;
    assert_eq!(acme.check(AMY, linkedin).await["status"], "broken");
    let post = suggest(&acme, "Our new espresso machine is here", None).await;
    let delivery = amys_delivery(&acme, &post).await;

    let amy = Web::sign_in(&acme, AMY).await;
    let (_, inbox) = amy.follow("/t/acme/inbox").await;
    assert!(
        inbox.contains("Our new espresso machine is here"),
        "{inbox}"
    );
    assert!(inbox.contains(&format!("/t/acme/inbox/{delivery}")));
    assert!(inbox.contains("Can be shared until"));
    assert!(
        inbox.contains("Inbox <span class=\"count\""),
        "the Inbox link counts what waits"
    );
    assert!(
        !inbox.contains("nav-approvals"),
        "ambassadors have no approvals"
    );
    let (_, team) = amy.follow("/t/acme").await;
    assert!(
        team.contains("Our new espresso machine is here")
            && team.contains(&format!("/t/acme/inbox/{delivery}")),
        "the team page shows what waits: {team}"
    );

    let (_, item) = amy.follow(&format!("/t/acme/inbox/{delivery}")).await;
    assert!(item.contains("Our new espresso machine is here"));
    assert!(item.contains("Disconnected"), "{item}");
    assert!(item.contains(&format!(
        "/t/acme/settings/connections/{linkedin}/reconnect"
    )));
    assert!(item.contains("Not for me") && item.contains("Remind me later"));
    assert!(!item.contains("<textarea"));
    let (_, editing) = amy
        .follow(&format!("/t/acme/inbox/{delivery}?edit=1"))
        .await;
    assert!(editing.contains("<textarea id=\"text\" name=\"text\" rows=\"8\" form=\"share\">Our new espresso machine is here</textarea>"));

    let bob = Web::sign_in(&acme, crate::connections::BOB).await;
    let theirs = bob.get(&format!("/t/acme/inbox/{delivery}")).await;
    assert_eq!(theirs.status(), 404, "Bob cannot open Amy's suggestion");
}

/// What the list at `path` (the inbox or the archive) shows: each row's
/// delivery id, in order, and where its "Older" link leads.
fn listed_at(html: &str, path: &str) -> (Vec<i64>, Option<String>) {
    let ids = html
        .split("<li id=\"suggestion-")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect();
    let older = html.split("href=\"").skip(1).find_map(|rest| {
        let href = &rest[..rest.find('"').unwrap()];
        href.starts_with(&format!("{path}?before="))
            .then(|| href.to_owned())
    });
    (ids, older)
}

/// `count` posts from Ada to the whole team on LinkedIn, "`prefix` 00"
/// onwards, delivered now.
async fn suggestions(acme: &Acme, prefix: &str, count: usize) {
    let core = &acme.app.core;
    let admin = access(acme, ADMIN).await;
    for i in 0..count {
        let input = PostInput {
            text: format!("{prefix} {i:02}"),
            providers: vec!["linkedin".to_owned()],
            ..PostInput::default()
        };
        core.create_post(&admin, input).await.unwrap();
    }
    core.dispatch_due_deliveries().await.unwrap();
}

/// Follows the list at `path` through its "Older" links: its first page and
/// every row listed, in order. There are two pages, the first a full one,
/// and each older one links back to the newest.
async fn every_page(web: &Web<'_>, path: &str) -> (String, Vec<i64>) {
    let (_, first) = web.follow(path).await;
    let (mut seen, mut older) = listed_at(&first, path);
    assert_eq!(seen.len(), apostle_core::posts::inbox::INBOX_PAGE_SIZE);
    assert!(!first.contains(">Newest<"), "already the newest");
    let mut pages = 1;
    while let Some(href) = older {
        let (_, page) = web.follow(&href).await;
        assert!(
            page.contains(&format!("<a href=\"{path}\">Newest</a>")),
            "{page}"
        );
        let (ids, next) = listed_at(&page, path);
        seen.extend(ids);
        older = next;
        pages += 1;
    }
    assert_eq!(pages, 2);
    (first, seen)
}

async fn a_member_with_more_than_a_page_of_suggestions_sees_each_once_going_older() {
    let acme = acme().await;
    let core = &acme.app.core;
    let count = apostle_core::posts::inbox::INBOX_PAGE_SIZE + 5;
    // Delivered in one round, at one moment: the order rests on the ids.
    suggestions(&acme, "Suggestion number", count).await;
    let amy = Web::sign_in(&acme, AMY).await;

    let (first, seen) = every_page(&amy, "/t/acme/inbox").await;
    assert!(first.contains("Suggestion number 24"), "newest first");
    let expected: Vec<i64> = {
        let mut ids: Vec<i64> = core
            .inbox(&access(&acme, AMY).await)
            .await
            .unwrap()
            .iter()
            .map(|i| i.delivery.id.0)
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids
    };
    assert_eq!(expected.len(), count);
    assert_eq!(seen, expected, "each suggestion once, newest first");
}

async fn a_member_who_shared_more_than_a_page_sees_each_share_once_going_older() {
    let acme = acme().await;
    let core = &acme.app.core;
    let count = apostle_core::posts::inbox::INBOX_PAGE_SIZE + 3;
    suggestions(&acme, "Shared number", count).await;
    let amy = access(&acme, AMY).await;
    let delivered = core.inbox(&amy).await.unwrap();
    // Shared a minute apart, the oldest suggestion last: the archive's order
    // is the shares', not the deliveries'.
    let mut tx = core.store.begin().await.unwrap();
    let start = core.clock.now();
    for (minute, item) in delivered.iter().enumerate() {
        let at = start + chrono::Duration::minutes(minute as i64);
        assert!(tx
            .decide_delivery(
                amy.user.id,
                item.delivery.id,
                &[DeliveryState::Delivered],
                DeliveryState::Shared,
                at
            )
            .await
            .unwrap());
    }
    tx.commit().await.unwrap();
    let expected: Vec<i64> = delivered.iter().rev().map(|i| i.delivery.id.0).collect();

    let web = Web::sign_in(&acme, AMY).await;
    let (first, seen) = every_page(&web, "/t/acme/inbox/shared").await;
    assert!(first.contains("What you shared"));
    assert_eq!(expected.len(), count);
    assert_eq!(seen, expected, "each share once, newest share first");
}

async fn not_for_me_takes_the_suggestion_out_of_the_inbox_for_good() {
    let acme = acme().await;
    let post = suggest(&acme, "Not everyone's cup of tea", None).await;
    let delivery = amys_delivery(&acme, &post).await;
    let amy = Web::sign_in(&acme, AMY).await;

    let rejected = amy
        .post(&format!("/t/acme/inbox/{delivery}/reject"), &[])
        .await;
    let (path, html) = landing(&amy, rejected).await;
    assert_eq!(path, "/t/acme/inbox");
    assert!(html.contains("Done — this post will not be suggested to you again."));
    assert!(!html.contains("Not everyone&#x27;s cup of tea") && !html.contains("cup of tea"));
    assert!(!in_inbox(&acme, AMY, &post).await);
    assert!(
        in_inbox(&acme, crate::connections::BOB, &post).await,
        "Bob still has it"
    );

    let again = amy
        .post(&format!("/t/acme/inbox/{delivery}/reject"), &[])
        .await;
    let (_, html) = landing(&amy, again).await;
    assert!(
        html.contains("You already turned this post down."),
        "{html}"
    );
}

async fn remind_me_later_takes_it_out_until_the_chosen_morning() {
    let acme = acme().await;
    let post = suggest(&acme, "Worth a second look", None).await;
    let delivery = amys_delivery(&acme, &post).await;
    let core = &acme.app.core;
    core.set_time_zone(user(&acme, AMY).await.id, "Asia/Tokyo")
        .await
        .unwrap();
    let amy = Web::sign_in(&acme, AMY).await;

    let too_late = amy
        .post(
            &format!("/t/acme/inbox/{delivery}/reschedule"),
            &[("choice", "at"), ("at", "2099-01-01T09:00")],
        )
        .await;
    let (path, html) = landing(&amy, too_late).await;
    assert_eq!(path, format!("/t/acme/inbox/{delivery}"));
    assert!(html.contains("must come before the post expires"), "{html}");
    assert!(in_inbox(&acme, AMY, &post).await);

    let later = amy
        .post(
            &format!("/t/acme/inbox/{delivery}/reschedule"),
            &[("choice", "tomorrow")],
        )
        .await;
    let (path, html) = landing(&amy, later).await;
    assert_eq!(path, "/t/acme/inbox");
    assert!(html.contains("We will bring it back on"), "{html}");
    assert!(html.contains("at 09:00 (Asia/Tokyo)"), "{html}");
    assert!(!in_inbox(&acme, AMY, &post).await);
    let (back, _) = core
        .delivery_for(&access(&acme, AMY).await, delivery)
        .await
        .unwrap();
    assert_eq!(back.state, DeliveryState::Pending, "it comes back later");
    let tokyo = back
        .due_at
        .with_timezone(&TimeZoneName::parse("Asia/Tokyo").unwrap().tz());
    assert_eq!(tokyo.format("%H:%M").to_string(), "09:00");
    assert!(back.due_at > Utc::now());
}

/// Cy, a second admin, suggests a post for Ada's Facebook page "Acme
/// Coffee", which waits for Ada's approval.
pub async fn page_post_from_cy(acme: &Acme, page: i64, text: &str) -> Post {
    let core = &acme.app.core;
    let cy = core
        .team_access("acme", &user(acme, "cy@acme.example").await)
        .await
        .unwrap();
    core.create_post(
        &cy,
        PostInput {
            text: text.to_owned(),
            providers: vec!["facebook".to_owned()],
            recipients: Some(vec![cy.user.id]),
            pages: vec![AccountId(page)],
            ..PostInput::default()
        },
    )
    .await
    .expect("the post is created")
}

/// Acme with Cy, a second admin, and Ada's Facebook page "Acme Coffee";
/// the page's id.
pub async fn acme_with_a_page() -> (Acme, i64) {
    let acme = acme().await;
    acme.app
        .core
        .add_user(
            "acme",
            "cy@acme.example",
            "Cy Admin",
            Role::Admin,
            "another good password".to_owned().into(),
        )
        .await
        .unwrap();
    acme.sandbox_member("facebook", "fb-ada").await;
    acme.sandbox_page("facebook", "fb-ada", "Acme Coffee").await;
    let page = acme.connect_pages("facebook", "fb-ada").await[0];
    (acme, page)
}

async fn an_admin_approves_a_post_waiting_for_a_page_they_own() {
    let (acme, page) = acme_with_a_page().await;
    page_post_from_cy(&acme, page, "Fresh beans on Friday").await;
    let ada = Web::sign_in(&acme, ADMIN).await;

    let (_, html) = ada.follow("/t/acme/approvals").await;
    assert!(html.contains("For Acme Coffee"), "{html}");
    assert!(html.contains("Fresh beans on Friday"));
    let pending = acme
        .app
        .core
        .pending_approvals(&access(&acme, ADMIN).await)
        .await
        .unwrap();
    let id = pending[0].approval.id;

    let approved = ada
        .post(
            &format!("/t/acme/approvals/{id}"),
            &[("decision", "approve")],
        )
        .await;
    let (_, html) = landing(&ada, approved).await;
    assert!(html.contains("Approved: the post will be published at its scheduled time."));
    assert!(html.contains("No post waits for your approval."), "{html}");

    let amy = Web::sign_in(&acme, AMY).await;
    let refused = amy.get("/t/acme/approvals").await;
    assert_eq!(refused.status(), 403, "ambassadors have no approvals page");
}

#[tokio::test]
async fn auto_approve_turned_on_stays_on_and_lets_the_next_post_through() {
    let (acme, page) = acme_with_a_page().await;
    let ada = Web::sign_in(&acme, ADMIN).await;
    let (_, html) = ada.follow("/t/acme/approvals").await;
    assert!(html.contains("Auto Approve is <span class=\"state\">off</span>"));

    let on = ada
        .post(
            "/t/acme/approvals/auto",
            &[("page", &page.to_string()), ("auto", "on")],
        )
        .await;
    let (_, html) = landing(&ada, on).await;
    assert!(html.contains("Auto Approve is on: posts for this page no longer wait for you."));
    let (_, html) = ada.follow("/t/acme/approvals").await;
    assert!(html.contains("Auto Approve is <span class=\"state\">on</span>"));
    assert!(html.contains("Turn Auto Approve off"));

    page_post_from_cy(&acme, page, "No need to wait").await;
    let (_, html) = ada.follow("/t/acme/approvals").await;
    assert!(html.contains("No post waits for your approval."), "{html}");

    let amy = Web::sign_in(&acme, AMY).await;
    let refused = amy
        .post(
            "/t/acme/approvals/auto",
            &[("page", &page.to_string()), ("auto", "off")],
        )
        .await;
    assert_eq!(refused.status(), 403);
    let (_, html) = ada.follow("/t/acme/approvals").await;
    assert!(html.contains("Auto Approve is <span class=\"state\">on</span>"));
}

#[tokio::test]
async fn notification_settings_save_the_chosen_emails_and_refuse_an_unknown_time_zone() {
    let acme = acme().await;
    let amy = Web::sign_in(&acme, AMY).await;
    let amy_id = user(&acme, AMY).await.id;

    let from_email = amy.get("/settings/notifications").await;
    assert_eq!(location(&from_email), "/t/acme/settings/notifications");
    let (_, html) = amy.follow("/t/acme/settings/notifications").await;
    for kind in NotificationKind::ALL {
        assert!(html.contains(kind.label()), "{html}");
    }
    assert!(html.contains("Disconnection notices and reconnect reminders always come"));
    assert!(html.contains("<option value=\"Europe/Paris\""));
    assert!(
        html.contains("data-detect-zone"),
        "never chosen: the browser's zone is offered"
    );
    let (_, profile) = amy.follow("/t/acme/settings").await;
    assert!(
        profile.contains("/t/acme/settings/notifications"),
        "linked from Personal Settings"
    );

    let saved = amy
        .post(
            "/t/acme/settings/notifications",
            &[
                ("notify", "approval"),
                ("notify", "share_reminder"),
                ("time_zone", "Europe/Paris"),
            ],
        )
        .await;
    let (_, html) = landing(&amy, saved).await;
    assert!(html.contains("Your notification settings are saved."));
    assert!(
        html.contains("<option value=\"Europe/Paris\" selected>"),
        "{html}"
    );
    assert!(!html.contains("data-detect-zone"));
    let settings = acme.app.core.member_settings(amy_id).await.unwrap();
    assert_eq!(settings.time_zone, "Europe/Paris");
    assert_eq!(settings.muted, vec![NotificationKind::Suggestion]);

    let unknown = amy
        .post(
            "/t/acme/settings/notifications",
            &[("time_zone", "Mars/Olympus_Mons")],
        )
        .await;
    let (_, html) = landing(&amy, unknown).await;
    assert!(html.contains("is not a known time zone"), "{html}");
    let settings = acme.app.core.member_settings(amy_id).await.unwrap();
    assert_eq!(settings.time_zone, "Europe/Paris", "nothing changed");
    assert_eq!(settings.muted, vec![NotificationKind::Suggestion]);
}

#[tokio::test]
async fn on_a_phone_the_inbox_approvals_settings_and_email_link_pages_fit_and_pass_the_accessibility_checks(
) {
    let (acme, page) = acme_with_a_page().await;
    let post = suggest(&acme, "A phone-sized look at the inbox", None).await;
    page_post_from_cy(&acme, page, "Waiting for Ada").await;
    let inbox = acme
        .app
        .core
        .inbox(&access(&acme, ADMIN).await)
        .await
        .unwrap();
    let delivery = inbox
        .iter()
        .find(|i| i.post.id == post.id)
        .expect("Ada has it too")
        .delivery
        .id;
    let unsubscribe = apostle_core::posts::links::unsubscribe_url(
        &acme.app.core,
        &EmailAddress::parse(ADMIN).unwrap(),
        NotificationKind::Suggestion,
    );
    run(PHONE, |browser| async move {
        sign_in(&browser, &acme).await;
        for (path, name) in [
            ("/t/acme/inbox".to_owned(), "inbox"),
            (format!("/t/acme/inbox/{delivery}"), "inbox-item"),
            (
                format!("/t/acme/inbox/{delivery}?edit=1"),
                "inbox-item-edit",
            ),
            ("/t/acme/inbox/shared".to_owned(), "inbox-shared"),
            ("/t/acme/approvals".to_owned(), "approvals"),
            ("/t/acme/settings/notifications".to_owned(), "notifications"),
        ] {
            browser.go(&acme.app.url(&path)).await;
            shot(&browser, name).await;
        }
        browser.go(&unsubscribe).await;
        shot(&browser, "unsubscribe").await;
        browser.click("#unsubscribe button").await;
        assert!(browser
            .text_of("#outcome")
            .await
            .contains("You will get no more emails about"));
        shot(&browser, "unsubscribed").await;
    })
    .await;
}

/// Signs in through the form as a browser in `zone` would (the page's script
/// fills the hidden field with the browser's time zone).
async fn sign_in_from(acme: &Acme, email: &str, zone: &str) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client
        .get(acme.app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains("name=\"time_zone\" value=\"\" data-browser-zone"));
    let marker = "name=\"csrf\" value=\"";
    let start = form.find(marker).unwrap() + marker.len();
    let csrf = &form[start..start + form[start..].find('"').unwrap()];
    let signed_in = client
        .post(acme.app.url("/login"))
        .form(&[
            ("email", email),
            ("password", crate::connections::PASSWORD),
            ("csrf", csrf),
            ("time_zone", zone),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
}

#[tokio::test]
async fn the_browsers_time_zone_at_sign_in_is_taken_until_the_member_chooses_one() {
    let acme = acme().await;
    let amy_id = user(&acme, AMY).await.id;
    let core = &acme.app.core;
    sign_in_from(&acme, AMY, "Europe/Paris").await;
    assert_eq!(
        core.member_settings(amy_id).await.unwrap().time_zone,
        "Europe/Paris"
    );
    sign_in_from(&acme, AMY, "Mars/Olympus").await;
    assert_eq!(
        core.member_settings(amy_id).await.unwrap().time_zone,
        "Europe/Paris",
        "nonsense is ignored"
    );
    core.set_time_zone(amy_id, "America/New_York")
        .await
        .unwrap();
    sign_in_from(&acme, AMY, "Asia/Tokyo").await;
    let settings = core.member_settings(amy_id).await.unwrap();
    assert_eq!(settings.time_zone, "America/New_York", "her choice stays");
    assert!(settings.time_zone_chosen);
}
