//! The composer in headless Chromium on a phone-sized screen: the live count
//! per network as the admin types, an X variant, a schedule over several
//! days, and the scheduled post in the list. Each step fits the screen's
//! width and passes the accessibility checks; its screen is saved under
//! `target/e2e/`.

use crate::connections::acme;
use crate::connections::browser::{shot, sign_in};
use apostle_test_browser::{run, Browser, PHONE};

async fn x_count(browser: &Browser) -> String {
    browser.text_of("#count-x .n").await
}

#[tokio::test]
async fn on_a_phone_an_admin_composes_with_a_live_x_count_and_an_x_variant_and_schedules_it() {
    let acme = acme().await;
    run(PHONE, |browser| async move {
        sign_in(&browser, &acme).await;
        browser.click("#user-menu > summary").await;
        browser.click("#user-menu a[href$='/posts']").await;
        browser.click("#new-post").await;
        browser.url_when(|u| u.ends_with("/t/acme/posts/new")).await;
        assert_eq!(x_count(&browser).await, "0");
        shot(&browser, "composer-1-empty").await;

        browser.type_into("#text", "We are hiring in Lyon").await;
        assert_eq!(x_count(&browser).await, "21", "counted as typed");
        browser
            .type_into("#link", "https://acme.example/jobs")
            .await;
        assert_eq!(x_count(&browser).await, "45", "a link counts as 23 on X");
        assert_eq!(
            browser.text_of("#count-linkedin .n").await,
            "47",
            "and in full on LinkedIn"
        );

        browser.click("#variants > summary").await;
        browser.type_into("#variant-x", "Hiring!").await;
        assert_eq!(x_count(&browser).await, "31", "X counts its own text");
        shot(&browser, "composer-2-typed").await;

        browser.click("#timing-days").await;
        browser.type_into("#days-start", "03022099").await;
        assert_eq!(
            browser
                .script("return document.getElementById('days-start').value;")
                .await,
            "2099-03-02"
        );
        shot(&browser, "composer-3-schedule").await;
        browser.click("#schedule").await;

        let landed = browser.url_when(|u| !u.ends_with("/posts/new")).await;
        assert!(landed.contains("/t/acme/posts/"), "{landed}");
        assert_eq!(
            browser.text_of(".notice.ok").await,
            "The post is scheduled."
        );
        assert!(browser
            .text_of("#post-audience")
            .await
            .contains("2099-03-02"));
        shot(&browser, "composer-4-post").await;

        browser.click("main > p > a[href$='/posts']").await;
        browser.url_when(|u| u.ends_with("/t/acme/posts")).await;
        let row = browser.text_of("#post-list li").await;
        assert!(row.contains("We are hiring in Lyon"), "{row}");
        assert!(row.contains("Scheduled"), "{row}");
        shot(&browser, "composer-5-list").await;
    })
    .await;
}
