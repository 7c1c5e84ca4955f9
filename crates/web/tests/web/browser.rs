//! The pages in a real browser: headless Chromium (see `apostle-test-browser`).
//! Skipped, saying so, where it is missing.

use crate::helpers::*;
use apostle_domain::Role;
use apostle_test_browser::{run, PHONE};

#[tokio::test]
async fn in_a_browser_an_admin_signs_in_and_reaches_business_pages_from_the_top_right_menu() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    run(PHONE, |browser| async move {
        browser.go(&app.url("/t/acme/settings/pages")).await;
        assert!(browser.url().await.contains("/login?next="));
        browser.type_into("#email", "ada@acme.example").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("button[type=submit]").await;
        let pages = app.url("/t/acme/settings/pages");
        assert_eq!(browser.url_when(|u| u == pages).await, pages);

        browser.go(&app.url("/t/acme")).await;
        assert_eq!(browser.text_of("h1").await, "ACME");
        browser.click("#user-menu > summary").await;
        browser.click("#user-menu a[href$='/settings']").await;
        let settings = app.url("/t/acme/settings");
        assert_eq!(browser.url_when(|u| u == settings).await, settings);
        browser.click(".tabs a[href$='/settings/pages']").await;
        assert_eq!(
            browser.text_of("#business-pages h2").await,
            "Business Pages"
        );

        // A phone-wide window shows the page without sideways scrolling.
        let overflow = browser
            .script("return document.documentElement.scrollWidth - window.innerWidth;")
            .await;
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "page is wider than the phone: {overflow}"
        );

        browser.click("#user-menu > summary").await;
        browser.click("#user-menu button[type=submit]").await;
        assert!(browser
            .url_when(|u| u.ends_with("/login"))
            .await
            .ends_with("/login"));
    })
    .await;
}

#[tokio::test]
async fn in_a_browser_an_invited_ambassador_joins_skips_onboarding_and_lands_on_the_team_page() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let admin = app.signed_in("ada@acme.example").await;
    admin
        .invite("acme", "amy@acme.example", "Amy", "ambassador")
        .await;
    app.run_jobs().await;
    let mail = app.sent().pop().unwrap();
    let link = mail
        .text
        .lines()
        .find(|l| l.contains("/invites/"))
        .unwrap()
        .trim()
        .to_owned();
    run(PHONE, |browser| async move {
        browser.go(&link).await;
        browser.type_into("#password", "amy's own password").await;
        browser.type_into("#confirm", "amy's own password").await;
        browser.click("button[type=submit]").await;
        let welcome = app.url("/t/acme/welcome");
        assert_eq!(browser.url_when(|u| u == welcome).await, welcome);
        assert_eq!(browser.text_of(".notice").await, "Welcome to ACME!");
        browser.click("#onboarding-skip").await;
        let team = app.url("/t/acme");
        assert_eq!(browser.url_when(|u| u == team).await, team);
        assert_eq!(
            browser
                .text_of("#user-menu > summary")
                .await
                .trim_end_matches(" ▾"),
            "Amy"
        );
    })
    .await;
}
