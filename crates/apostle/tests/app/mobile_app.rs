//! The Apostle app at `/app`, walked as a member walks it on a phone: headless
//! Chromium at phone size against the real server and its sandbox. Signing in,
//! Settings → search for the broken page → Reconnect → the provider → back in
//! the app, reconnected, then signing out; a share to a broken X that
//! reconnects first and publishes exactly once, only when Share now is
//! pressed; and the shell that opens from the service worker with the server
//! gone. Each step's screen is saved under `target/e2e/`.

use crate::connections::browser::{broken_page_among_others, consent, shot};
use crate::connections::{acme, Acme, ADMIN, AMY, PASSWORD};
use crate::helpers::{json_of, runner};
use crate::sharing::{published, suggest};
use apostle_test_browser::{run, Browser, PHONE};
use serde_json::json;
use std::time::Duration;

/// Signs `email` in on the app's sign-in screen; back once the menu shows.
async fn sign_in(browser: &Browser, acme: &Acme, email: &str, shots: &str) {
    browser.go(&acme.app.url("/app")).await;
    browser.find("#sign-in").await;
    shot(browser, &format!("{shots}-0-sign-in")).await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#sign-in button[type=submit]").await;
    browser.find("#menu:not([hidden])").await;
}

/// Whether `js` (an expression) turns true within a few seconds.
async fn becomes_true(browser: &Browser, js: &str) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if browser.script(&format!("return !!({js});")).await == true {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_app_shell_installs_standalone_at_app_with_a_worker_allowed_to_control_it() {
    let acme = acme().await;
    let http = &acme.app.http;
    let shell = http.get(acme.app.url("/app")).send().await.unwrap();
    assert_eq!(shell.status(), 200);
    assert!(shell.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let html = shell.text().await.unwrap();
    assert!(html.contains("<link rel=\"manifest\" href=\"/app/manifest.webmanifest\">"));
    assert!(html.contains("<script src=\"/app/app.js\" defer></script>"));

    let manifest = json_of(http.get(acme.app.url("/app/manifest.webmanifest"))).await;
    assert_eq!(manifest["start_url"], "/app");
    assert_eq!(manifest["scope"], "/app");
    assert_eq!(manifest["display"], "standalone");
    for icon in manifest["icons"].as_array().unwrap() {
        let got = http
            .get(acme.app.url(icon["src"].as_str().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200, "{icon}");
    }

    let worker = http.get(acme.app.url("/app/sw.js")).send().await.unwrap();
    assert_eq!(worker.status(), 200);
    assert_eq!(worker.headers()["service-worker-allowed"], "/app");
    let script = worker.text().await.unwrap();
    assert!(
        !script.contains("__SHELL_VERSION__"),
        "the cache is named after the shell's digest"
    );
    for cached in ["'/app'", "'/app/app.js'", "'/app/app.css'"] {
        assert!(script.contains(cached), "{cached} is kept for offline use");
    }
}

#[tokio::test]
async fn a_reconnect_started_from_the_app_returns_to_the_app_with_the_result_in_its_address() {
    let acme = acme().await;
    let id = broken_page_among_others(&acme).await;
    let (status, started) = acme
        .api(
            ADMIN,
            reqwest::Method::POST,
            &format!("/connections/{id}/reconnect"),
            Some(json!({"redirect_uri": "/app?view=settings"})),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let callback = acme
        .consent(
            started["authorize_url"].as_str().unwrap(),
            "fb-ada",
            "allow",
        )
        .await;
    let back = acme.callback(&callback).await;
    assert_eq!(back.status(), 303);
    assert!(
        back.headers().get("set-cookie").is_none(),
        "no notice is left for the website's next page"
    );
    let to = back.headers()["location"].to_str().unwrap();
    assert!(
        to.starts_with("/app?view=settings&status=reconnected"),
        "{to}"
    );
    let query: std::collections::HashMap<String, String> = url::Url::parse("http://app.invalid")
        .unwrap()
        .join(to)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["connection_id"], id.to_string());
    assert_eq!(
        query["message"],
        "Acme Coffee is reconnected and ready for sharing."
    );
}

#[tokio::test]
async fn in_the_app_on_a_phone_settings_finds_the_broken_page_and_reconnect_brings_it_back() {
    let acme = acme().await;
    let id = broken_page_among_others(&acme).await;
    run(PHONE, |browser| async move {
        sign_in(&browser, &acme, ADMIN, "app-reconnect").await;
        shot(&browser, "app-reconnect-1-feed").await;
        browser.click("#nav-settings").await;
        browser.find("#connections[data-status='']").await;
        assert_eq!(browser.text_of("#screen-title").await, "Settings");
        shot(&browser, "app-reconnect-2-settings").await;

        browser.click("#broken-only").await;
        browser.find("#connections[data-status='broken']").await;
        browser.type_into("#q", "coffee").await;
        browser
            .find("#connections[data-q='coffee'][data-status='broken']")
            .await;
        let rows = browser
            .script("return document.querySelectorAll('#connections > li').length;")
            .await;
        assert_eq!(rows, 1, "only the broken Acme Coffee is left");
        let row = format!("#connection-{id}");
        assert!(browser.text_of(&row).await.contains("Broken since"));
        shot(&browser, "app-reconnect-3-search").await;

        browser.click(&format!("{row} button.reconnect")).await;
        consent(&browser, "fb-ada", "allow", "app-reconnect").await;
        let settings = acme.app.url("/app#settings");
        let landed = browser.url_when(|u| u == settings).await;
        assert_eq!(
            landed, settings,
            "back in the app, the result read from the address"
        );
        assert_eq!(
            browser.text_of("#reconnect-result").await,
            "Success! Acme Coffee is reconnected and ready for sharing."
        );
        browser.find("#connections[data-status='']").await;
        assert!(browser.text_of(&row).await.contains("Healthy"));
        shot(&browser, "app-reconnect-5-success").await;
        assert_eq!(acme.connection(ADMIN, id).await["status"], "active");

        // Signing out revokes the app's token, not only forgets it.
        let token = browser
            .script("return JSON.parse(localStorage.getItem('apostle.token'));")
            .await;
        let token = token.as_str().expect("the app keeps its token").to_owned();
        browser.click("#sign-out").await;
        browser.find("#sign-in").await;
        assert_eq!(
            browser
                .script("return localStorage.getItem('apostle.token');")
                .await,
            serde_json::Value::Null
        );
        let me = acme
            .app
            .http
            .get(acme.app.url("/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 401, "the token is revoked");
    })
    .await;
}

#[tokio::test]
async fn in_the_app_sharing_to_a_broken_x_reconnects_first_and_publishes_once_on_share_now() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy-app").await;
    let x = acme.connect_personal(AMY, "x", "x-amy-app").await;
    acme.member_action("x", "x-amy-app", "revoke", json!({}))
        .await;
    assert_eq!(acme.check(AMY, x).await["status"], "broken");
    let post = suggest(&acme, "Our X feed is back").await.0;
    let text = "Our X feed is back, says Amy";
    run(PHONE, |browser| async move {
        sign_in(&browser, &acme, AMY, "app-share").await;
        browser.click(&format!("#post-{post} a.open")).await;
        let target = format!("#target-{x}");
        browser.find(&target).await;
        assert_eq!(
            browser
                .script(&format!(
                    "return document.querySelector('{target}').checked;"
                ))
                .await,
            true,
            "a personal account is chosen by default"
        );
        assert!(browser
            .text_of("#share-form")
            .await
            .contains("disconnected, reconnect first"));
        let area = browser.find("#share-text").await;
        area.clear().await.unwrap();
        area.send_keys(text).await.unwrap();
        shot(&browser, "app-share-1-post").await;
        browser.click("#share").await;

        consent(&browser, "x-amy-app", "allow", "app-share").await;
        let on_the_post = acme.app.url(&format!("/app#post/{post}"));
        let landed = browser.url_when(|u| u == on_the_post).await;
        assert_eq!(landed, on_the_post);
        assert_eq!(
            browser.text_of("#reconnected").await,
            "Reconnected — your post has not been shared yet. Press Share now to share it."
        );
        assert_eq!(browser.text_of("#share").await, "Share now");
        assert_eq!(
            browser
                .script("return document.getElementById('share-text').value;")
                .await,
            text,
            "the text the member wrote waits with the post"
        );
        shot(&browser, "app-share-2-back-on-the-post").await;
        runner(&acme.app.core).run_pending().await.unwrap();
        assert!(
            published(&acme, "x").await.is_empty(),
            "nothing before Share now"
        );
        assert!(browser.is_shown("#no-shares").await);

        browser.click("#share").await;
        browser.find("#shared").await;
        runner(&acme.app.core).run_pending().await.unwrap();
        assert!(
            becomes_true(
                &browser,
                "[...document.querySelectorAll('#shares .share-state')].some(e => e.textContent === 'Published')"
            )
            .await,
            "the app shows the share published"
        );
        assert!(!browser.is_shown("#reconnected").await);
        browser
            .script("document.getElementById('shares').scrollIntoView();")
            .await;
        shot(&browser, "app-share-3-published").await;
        let tweets = published(&acme, "x").await;
        assert_eq!(tweets.len(), 1, "exactly one tweet: {tweets:?}");
        assert!(tweets[0]["text"].as_str().unwrap().starts_with(text));
    })
    .await;
}

#[tokio::test]
async fn the_app_opens_from_its_service_worker_with_the_server_gone_and_says_it_is_offline() {
    let acme = acme().await;
    run(PHONE, |browser| async move {
        sign_in(&browser, &acme, AMY, "app-offline").await;
        let app = acme.app.url("/app");
        assert!(
            becomes_true(&browser, "navigator.serviceWorker.controller").await,
            "the service worker controls the app"
        );
        let kept = browser
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 caches.keys()
                   .then(names => Promise.all(names.map(n => caches.open(n).then(c => c.keys()))))
                   .then(all => done(all.flat().map(r => new URL(r.url).pathname)));",
                Vec::new(),
            )
            .await
            .unwrap();
        for path in ["/app", "/app/app.js", "/app/app.css"] {
            assert!(
                kept.as_array().unwrap().iter().any(|p| p == path),
                "{path} kept: {kept}"
            );
        }

        let Acme { app: server, .. } = acme;
        server.stop().await.unwrap();
        browser.go(&app).await;
        assert!(browser
            .find("#offline:not([hidden])")
            .await
            .is_displayed()
            .await
            .unwrap());
        assert!(browser
            .text_of("#offline")
            .await
            .starts_with("You are offline"));
        assert!(browser
            .text_of("#feed .notice.error")
            .await
            .starts_with("You are offline"));
        assert_eq!(browser.text_of("#team-name").await, "Acme");
        shot(&browser, "app-offline-1-feed").await;
        browser.click("#nav-settings").await;
        assert!(browser
            .text_of("#connections .notice.error")
            .await
            .starts_with("You are offline"));
        shot(&browser, "app-offline-2-settings").await;
    })
    .await;
}
