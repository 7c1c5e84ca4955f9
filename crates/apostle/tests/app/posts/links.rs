//! The one-click links of the notification email, pressed from a mail
//! client with no session: opening never acts, the button acts once, and a
//! used, expired, forged or someone else's link is answered with a plain
//! page and the right status. One-click unsubscribe as RFC 8058 has it.

use super::inbox::{access, acme_with_a_page, amys_delivery, page_post_from_cy, suggest, user};
use crate::connections::web::{location, Web};
use crate::connections::{acme, text_of, Acme, ADMIN, AMY, BOB};
use crate::helpers::runner;
use apostle_core::posts::links::unsubscribe_url;
use apostle_domain::{DeliveryState, EmailAddress, NotificationKind};
use chrono::Utc;
use std::time::{Duration, Instant};

crate::on_both_backends!(
    opening_a_link_shows_its_one_button_and_changes_nothing,
    not_for_me_pressed_in_the_email_rejects_once_and_the_link_then_says_so,
    one_click_unsubscribe_turns_that_email_off_without_signing_in,
);

/// The action links (label, path) of the newest notification email to Amy.
async fn amys_links(acme: &Acme) -> Vec<(String, String)> {
    links_to(acme, AMY).await
}

/// The action links (label, path) of the newest notification email to `who`.
pub(crate) async fn links_to(acme: &Acme, who: &str) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sent =
            crate::connections::emails(acme.app.core.store.as_ref(), who, "notification").await;
        if let Some(email) = sent.last() {
            return text_of(&acme.app, email)
                .lines()
                .filter_map(|line| {
                    let (label, url) = line.split_once(": ")?;
                    let at = url.find("/actions/")?;
                    Some((label.to_owned(), url[at..].trim().to_owned()))
                })
                .collect();
        }
        assert!(Instant::now() < deadline, "{who} is emailed");
        // The app's own runner may hold the job: drain what is left.
        runner(&acme.app.core).run_pending().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn link(links: &[(String, String)], label: &str) -> String {
    links
        .iter()
        .find(|(l, _)| l == label)
        .unwrap_or_else(|| panic!("a {label} link in {links:?}"))
        .1
        .clone()
}

/// A mail client: no cookies, no redirects followed.
async fn get(acme: &Acme, path: &str) -> (u16, String) {
    let response = acme.app.http.get(acme.app.url(path)).send().await.unwrap();
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn press(acme: &Acme, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let response = acme
        .app
        .http
        .post(acme.app.url(path))
        .form(fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    response
}

async fn amy_has(acme: &Acme, post: &apostle_core::store::Post) -> bool {
    let inbox = acme.app.core.inbox(&access(acme, AMY).await).await.unwrap();
    inbox.iter().any(|i| i.post.id == post.id)
}

async fn opening_a_link_shows_its_one_button_and_changes_nothing() {
    let acme = acme().await;
    let post = suggest(&acme, "Scanners open every link", None).await;
    let links = amys_links(&acme).await;
    let reject = link(&links, "Not for me");

    for _ in 0..2 {
        let (status, html) = get(&acme, &reject).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Turn this post down?"));
        assert!(html.contains("Scanners open every link"));
        assert!(html.contains(&format!("<form method=\"post\" action=\"{reject}\"")));
        assert_eq!(html.matches("<button").count(), 1, "one button: {html}");
    }
    assert!(amy_has(&acme, &post).await, "opening did not reject it");

    let (status, html) = get(&acme, &link(&links, "Remind me later")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Tomorrow morning (09:00)") && html.contains("In 3 days"));
    assert!(amy_has(&acme, &post).await);
}

async fn not_for_me_pressed_in_the_email_rejects_once_and_the_link_then_says_so() {
    let acme = acme().await;
    let post = suggest(&acme, "Once is enough", None).await;
    let reject = link(&amys_links(&acme).await, "Not for me");

    let pressed = press(&acme, &reject, &[]).await;
    assert_eq!(pressed.status(), 200);
    let html = pressed.text().await.unwrap();
    assert!(html.contains("Done — this post will not be suggested to you again."));
    assert!(!amy_has(&acme, &post).await);

    let again = press(&acme, &reject, &[]).await;
    assert_eq!(again.status(), 410);
    assert!(again.text().await.unwrap().contains("already"));
    let (status, html) = get(&acme, &reject).await;
    assert_eq!(status, 410);
    assert!(
        html.contains("You already turned this post down."),
        "{html}"
    );
}

#[tokio::test]
async fn a_link_with_one_character_changed_is_refused_as_not_valid() {
    let acme = acme().await;
    let post = suggest(&acme, "Signed, sealed", None).await;
    let reject = link(&amys_links(&acme).await, "Not for me");
    let mut forged: Vec<char> = reject.chars().collect();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();

    let (status, html) = get(&acme, &forged).await;
    assert_eq!(status, 400);
    assert!(html.contains("This link is not valid."), "{html}");
    let pressed = press(&acme, &forged, &[]).await;
    assert_eq!(pressed.status(), 400);
    assert!(amy_has(&acme, &post).await);
}

#[tokio::test]
async fn another_member_signed_in_cannot_open_or_press_amys_link() {
    let acme = acme().await;
    let post = suggest(&acme, "For Amy's eyes", None).await;
    let reject = link(&amys_links(&acme).await, "Not for me");
    let bob = Web::sign_in(&acme, BOB).await;

    let opened = bob.get(&reject).await;
    assert_eq!(opened.status(), 400);
    assert!(opened
        .text()
        .await
        .unwrap()
        .contains("This link was sent to another member."));
    let pressed = bob.post(&reject, &[]).await;
    assert_eq!(pressed.status(), 400);
    assert!(amy_has(&acme, &post).await, "Amy's suggestion is untouched");
}

#[tokio::test]
async fn a_link_of_an_expired_post_is_closed() {
    let acme = acme().await;
    let expires = Utc::now() + chrono::Duration::seconds(3);
    suggest(&acme, "Gone in three seconds", Some(expires)).await;
    let reject = link(&amys_links(&acme).await, "Not for me");
    // This test is about the real clock the app runs on.
    while Utc::now() <= expires {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (status, html) = get(&acme, &reject).await;
    assert_eq!(status, 410);
    assert!(
        html.contains("This link has expired with its post"),
        "{html}"
    );
    assert_eq!(press(&acme, &reject, &[]).await.status(), 410);
}

#[tokio::test]
async fn remind_me_later_from_the_email_brings_the_post_back_in_three_days() {
    let acme = acme().await;
    let post = suggest(&acme, "Later, please", None).await;
    let delivery = amys_delivery(&acme, &post).await;
    let remind = link(&amys_links(&acme).await, "Remind me later");

    let pressed = press(&acme, &remind, &[("choice", "three_days")]).await;
    assert_eq!(pressed.status(), 200);
    let html = pressed.text().await.unwrap();
    assert!(html.contains("We will bring it back on"), "{html}");
    assert!(!amy_has(&acme, &post).await);
    let (back, _) = acme
        .app
        .core
        .delivery_for(&access(&acme, AMY).await, delivery)
        .await
        .unwrap();
    assert_eq!(back.state, DeliveryState::Pending);
    let days = (back.due_at - Utc::now()).num_hours();
    assert!((71..=72).contains(&days), "{days} hours");
    let (status, html) = get(&acme, &remind).await;
    assert_eq!(status, 410, "opened again, the used link says so at once");
    assert!(html.contains("This link was already used."), "{html}");
}

#[tokio::test]
async fn edit_then_share_continues_on_the_suggestions_page_through_sign_in() {
    let acme = acme().await;
    let post = suggest(&acme, "Make it yours", None).await;
    let delivery = amys_delivery(&acme, &post).await;
    let edit = link(&amys_links(&acme).await, "Edit, then share");

    let pressed = press(&acme, &edit, &[]).await;
    assert_eq!(pressed.status(), 303);
    let to = location(&pressed);
    assert_eq!(to, format!("/t/acme/inbox/{delivery}?edit=1"));
    let page = acme.app.http.get(acme.app.url(&to)).send().await.unwrap();
    assert!(
        location(&page).starts_with("/login?next="),
        "signs in first"
    );
    assert!(amy_has(&acme, &post).await, "still waiting to be shared");
}

#[tokio::test]
async fn a_page_owner_approves_from_the_email_with_one_press() {
    let (acme, page) = acme_with_a_page().await;
    page_post_from_cy(&acme, page, "Coffee tasting at noon").await;
    let approve = link(&links_to(&acme, ADMIN).await, "Approve");

    let (status, html) = get(&acme, &approve).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("A post for Acme Coffee waits for your approval"),
        "{html}"
    );
    let pending = || async {
        acme.app
            .core
            .pending_approvals(&access(&acme, ADMIN).await)
            .await
            .unwrap()
            .len()
    };
    assert_eq!(pending().await, 1, "opening approved nothing");

    let pressed = press(&acme, &approve, &[]).await;
    assert_eq!(pressed.status(), 200);
    let html = pressed.text().await.unwrap();
    assert!(
        html.contains("Approved. The post will be published on Acme Coffee."),
        "{html}"
    );
    assert_eq!(pending().await, 0);
    assert_eq!(press(&acme, &approve, &[]).await.status(), 410);
}

async fn one_click_unsubscribe_turns_that_email_off_without_signing_in() {
    let acme = acme().await;
    let amy = user(&acme, AMY).await;
    let url = unsubscribe_url(
        &acme.app.core,
        &EmailAddress::parse(AMY).unwrap(),
        NotificationKind::Suggestion,
    );
    let path = &url[url.find("/unsubscribe/").unwrap()..];

    let (status, html) = get(&acme, path).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Stop emails about new posts suggested to me?"),
        "{html}"
    );
    assert!(html.contains("Stop these emails"));
    let settings = acme.app.core.member_settings(amy.id).await.unwrap();
    assert!(settings.muted.is_empty(), "opening changed nothing");

    let pressed = press(&acme, path, &[("List-Unsubscribe", "One-Click")]).await;
    assert_eq!(pressed.status(), 200);
    assert!(pressed
        .text()
        .await
        .unwrap()
        .contains("You will get no more emails about"));
    let settings = acme.app.core.member_settings(amy.id).await.unwrap();
    assert_eq!(settings.muted, vec![NotificationKind::Suggestion]);

    let forged = path.replace("suggestion.", "approval.");
    let (status, _) = get(&acme, &forged).await;
    assert_eq!(status, 400);
}
