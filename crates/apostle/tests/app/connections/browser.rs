//! The help center's five steps in headless Chromium, against the sandbox, after a
//! password change at Facebook broke the page: team page → Personal Settings (top
//! right) → Business Pages → search → Reconnect → the provider's consent → back on the
//! team page with "Success!". Then the declined and wrong-account variants, and the
//! path from the disconnection email, the five steps again on a phone-sized screen,
//! and a new member's onboarding. Each step's screen is saved under `target/e2e/`,
//! and no step may scroll sideways.

use super::onboarding::invite_nia;
use super::web::{broken_page, emailed_link};
use super::{acme, Acme, ADMIN, PASSWORD};
use apostle_test_browser::{run, Browser, Window, DESKTOP, PHONE};

/// Saves the screen of a step as `name`, after checking it fits the window's width
/// (a page wider than a phone makes every step a sideways scroll) and has no serious
/// or critical accessibility violation.
pub(crate) async fn shot(browser: &Browser, name: &str) {
    let fits = browser
        .script("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await;
    assert_eq!(fits, true, "{name} scrolls sideways");
    browser.assert_accessible(name).await;
    browser.screenshot(name).await;
}

/// Signs in on the sign-in page the browser is on, or opens it first.
pub(crate) async fn sign_in(browser: &Browser, acme: &Acme) {
    if !browser.url().await.contains("/login") {
        browser.go(&acme.app.url("/login")).await;
    }
    browser.type_into("#email", ADMIN).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.url_when(|u| !u.contains("/login")).await;
}

/// Steps 1 to 3: the team, Personal Settings from the top-right menu, Business
/// Pages, the search for the page; then Reconnect on it.
async fn find_and_press_reconnect(browser: &Browser, acme: &Acme, id: i64, shots: &str) {
    browser.go(&acme.app.url("/t/acme")).await;
    shot(browser, &format!("{shots}-1-team")).await;
    browser.click("#user-menu > summary").await;
    browser.click("#user-menu a[href$='/settings']").await;
    browser.click(".tabs a[href$='/settings/pages']").await;
    assert_eq!(
        browser.text_of("#business-pages h2").await,
        "Business Pages"
    );
    shot(browser, &format!("{shots}-2-business-pages")).await;
    browser.type_into("#q", "coffee").await;
    // Filtered as typed: the other page is gone, the broken one stays.
    assert!(
        !browser
            .is_shown("#business-list li:not([data-search*='coffee'])")
            .await
    );
    let row = format!("#connection-{id}");
    assert!(browser.text_of(&row).await.contains("Broken since"));
    shot(browser, &format!("{shots}-3-search")).await;
    browser.click(&format!("{row} button.reconnect")).await;
}

/// Step 4: the provider's consent page, answered as `member`.
pub(crate) async fn consent(browser: &Browser, member: &str, decision: &str, shots: &str) {
    browser.url_when(|u| u.contains("/sandbox/")).await;
    browser
        .click(&format!("select[name=member] option[value='{member}']"))
        .await;
    shot(browser, &format!("{shots}-4-consent")).await;
    browser
        .click(&format!("button[name=decision][value={decision}]"))
        .await;
}

/// Acme's broken Facebook page "Acme Coffee" beside a healthy X account, so the
/// search has something to leave out; the page's id.
pub(crate) async fn broken_page_among_others(acme: &Acme) -> i64 {
    let id = broken_page(acme).await;
    acme.sandbox_member("x", "x-acme").await;
    acme.connect_pages("x", "x-acme").await;
    id
}

/// The help center's five steps in a browser window of `window`'s size.
async fn five_steps(window: Window, shots: &'static str) {
    let acme = acme().await;
    let id = broken_page_among_others(&acme).await;
    run(window, |browser| async move {
        sign_in(&browser, &acme).await;
        find_and_press_reconnect(&browser, &acme, id, shots).await;
        consent(&browser, "fb-ada", "allow", shots).await;
        let team = acme.app.url("/t/acme");
        assert_eq!(browser.url_when(|u| u == team).await, team);
        assert_eq!(
            browser.text_of(".notice.ok").await,
            "Success! Acme Coffee is reconnected and ready for sharing."
        );
        shot(&browser, &format!("{shots}-5-success")).await;
        assert_eq!(acme.connection(ADMIN, id).await["status"], "active");
    })
    .await;
}

#[tokio::test]
async fn in_chromium_the_five_steps_reconnect_a_page_broken_by_a_password_change() {
    five_steps(DESKTOP, "five-steps").await;
}

#[tokio::test]
async fn on_a_phone_screen_the_five_steps_reconnect_the_page_with_no_sideways_scroll() {
    five_steps(PHONE, "phone-five-steps").await;
}

#[tokio::test]
async fn in_chromium_a_declined_or_wrong_account_reconnect_lands_on_business_pages_still_broken() {
    let acme = acme().await;
    let id = broken_page_among_others(&acme).await;
    acme.sandbox_member("facebook", "stranger").await;
    run(DESKTOP, |browser| async move {
        sign_in(&browser, &acme).await;
        for (member, decision, says, shots) in [
            ("fb-ada", "deny", "You did not allow Apostle", "declined"),
            ("stranger", "allow", "", "wrong-account"),
        ] {
            find_and_press_reconnect(&browser, &acme, id, shots).await;
            consent(&browser, member, decision, shots).await;
            let landed = browser
                .url_when(|u| u.contains("/t/acme/settings/pages?status="))
                .await;
            assert!(
                landed.contains("/t/acme/settings/pages?status="),
                "{landed}"
            );
            let notice = browser.text_of("main > .notice.error[role=status]").await;
            assert!(notice.contains(says), "{notice}");
            assert!(browser
                .text_of(&format!("#connection-{id}"))
                .await
                .contains("Broken since"));
            shot(&browser, &format!("{shots}-5-back-on-business-pages")).await;
        }
        assert_eq!(acme.connection(ADMIN, id).await["status"], "broken");
    })
    .await;
}

#[tokio::test]
async fn in_chromium_the_disconnection_email_leads_through_sign_in_to_the_reconnect() {
    let acme = acme().await;
    let id = broken_page_among_others(&acme).await;
    let link = emailed_link(&acme).await;
    run(DESKTOP, |browser| async move {
        browser.go(&link).await;
        assert!(browser.url().await.contains("/login?next="));
        shot(&browser, "email-1-sign-in").await;
        sign_in(&browser, &acme).await;
        let tab = browser
            .url_when(|u| u.contains("/t/acme/settings/pages"))
            .await;
        assert!(
            tab.ends_with(&format!("?q=Acme%20Coffee#connection-{id}")),
            "{tab}"
        );
        // Only the page the email is about is shown.
        assert!(
            !browser
                .is_shown("#business-list li:not([data-search*='coffee'])")
                .await
        );
        shot(&browser, "email-2-business-pages-filtered").await;
        browser
            .click(&format!("#connection-{id} button.reconnect"))
            .await;
        consent(&browser, "fb-ada", "allow", "email").await;
        let team = acme.app.url("/t/acme");
        assert_eq!(browser.url_when(|u| u == team).await, team);
        assert!(browser.text_of(".notice.ok").await.starts_with("Success!"));
        shot(&browser, "email-5-success").await;
    })
    .await;
}

#[tokio::test]
async fn in_chromium_a_new_member_accepts_the_invitation_connects_x_and_continues_to_the_team() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-nia").await;
    let invite = invite_nia(&acme).await;
    run(DESKTOP, |browser| async move {
        browser.go(&invite).await;
        browser.type_into("#password", PASSWORD).await;
        browser.type_into("#confirm", PASSWORD).await;
        browser.click("button[type=submit]").await;
        let welcome = acme.app.url("/t/acme/welcome");
        assert_eq!(browser.url_when(|u| u == welcome).await, welcome);
        shot(&browser, "onboarding-1-step").await;
        assert!(browser.is_shown("#onboarding-skip").await);
        browser.click("#onboarding-x button[type=submit]").await;
        consent(&browser, "x-nia", "allow", "onboarding").await;
        browser.url_when(|u| u.starts_with(&welcome)).await;
        assert!(browser
            .text_of("#onboarding-x")
            .await
            .contains("Connected as x-nia"));
        shot(&browser, "onboarding-5-connected").await;
        browser.click("#onboarding-done").await;
        let team = acme.app.url("/t/acme");
        assert_eq!(browser.url_when(|u| u == team).await, team);
    })
    .await;
}

#[tokio::test]
async fn on_a_phone_every_connection_page_fits_and_passes_the_accessibility_checks() {
    let acme = acme().await;
    let id = broken_page_among_others(&acme).await;
    run(PHONE, |browser| async move {
        sign_in(&browser, &acme).await;
        for (path, name) in [
            ("/t/acme/connections".to_owned(), "pages-health"),
            (format!("/t/acme/connections/{id}"), "pages-timeline"),
            (
                "/t/acme/settings/accounts".to_owned(),
                "pages-personal-accounts",
            ),
            ("/t/acme/settings/pages".to_owned(), "pages-business-pages"),
            ("/connections".to_owned(), "pages-connections"),
            (format!("/connections/{id}"), "pages-connection"),
        ] {
            browser.go(&acme.app.url(&path)).await;
            shot(&browser, name).await;
        }
    })
    .await;
}
