//! The mobile app's reconnect, its four steps through the API against the sandbox:
//! the Settings list searched and filtered to broken connections, the reconnect
//! started with the app's deep link, the provider's consent, and our callback
//! handing the result back to the app. Then the app's notifications of it.

use super::{acme, outcome, Acme, ADMIN, AMY};
use reqwest::Method;
use serde_json::{json, Value};

/// Where the app's Settings screen wants to come back to.
const SETTINGS_LINK: &str = "apostle://settings/connections";

/// Step 1: the app's Settings list, searched, broken ones only.
async fn broken_matching(acme: &Acme, who: &str, query: &str) -> Vec<Value> {
    let (status, list) = acme
        .api(
            who,
            Method::GET,
            &format!("/connections?status=broken&{query}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    list["connections"].as_array().unwrap().clone()
}

/// Steps 2 to 4: start with the deep link, consent as `member`, and where our
/// callback sends the app's browser.
async fn reconnect_from_the_app(acme: &Acme, who: &str, id: i64, member: &str) -> String {
    let (status, started) = acme
        .api(
            who,
            Method::POST,
            &format!("/connections/{id}/reconnect"),
            Some(json!({"redirect_uri": SETTINGS_LINK})),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let authorize = started["authorize_url"].as_str().unwrap();
    let callback = acme.consent(authorize, member, "allow").await;
    let back = acme.callback(&callback).await;
    assert_eq!(back.status(), 303);
    back.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_app_finds_a_broken_business_page_by_search_reconnects_it_and_lands_back_in_the_app() {
    let acme = acme().await;
    acme.sandbox_member("facebook", "fb-ada").await;
    acme.sandbox_page("facebook", "fb-ada", "Acme Coffee").await;
    acme.sandbox_page("facebook", "fb-ada", "Acme Careers")
        .await;
    let pages = acme.connect_pages("facebook", "fb-ada").await;
    acme.member_action("facebook", "fb-ada", "change-password", json!({}))
        .await;
    acme.check(ADMIN, pages[0]).await;

    let found = broken_matching(&acme, ADMIN, "kind=business&q=coffee").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["name"], "Acme Coffee");
    assert_eq!(found[0]["reason"], "password_changed");
    assert_eq!(found[0]["team"]["slug"], "acme");
    let id = found[0]["id"].as_i64().unwrap();

    let back = reconnect_from_the_app(&acme, ADMIN, id, "fb-ada").await;
    assert!(back.starts_with(&format!("{SETTINGS_LINK}?")), "{back}");
    let done = outcome(&back);
    assert_eq!(done.status, "reconnected", "{done:?}");
    assert_eq!(done.connection_id, Some(id));
    assert!(done.message.is_some_and(|m| m.contains("Acme Coffee")));
    assert_eq!(acme.connection(ADMIN, id).await["status"], "active");
    assert!(broken_matching(&acme, ADMIN, "q=acme").await.is_empty());
}

#[tokio::test]
async fn the_app_finds_a_broken_personal_account_reconnects_it_and_lands_back_in_the_app() {
    let acme = acme().await;
    acme.sandbox_member("linkedin", "li-amy").await;
    let linkedin = acme.connect_personal(AMY, "linkedin", "li-amy").await;
    acme.sandbox_member("x", "x-amy").await;
    acme.connect_personal(AMY, "x", "x-amy").await;
    acme.member_action("linkedin", "li-amy", "revoke", json!({}))
        .await;
    acme.check(AMY, linkedin).await;

    assert!(
        broken_matching(&acme, AMY, "q=x").await.is_empty(),
        "X is healthy"
    );
    let found = broken_matching(&acme, AMY, "kind=personal&q=linkedin").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["id"], linkedin);
    assert_eq!(found[0]["reason"], "token_revoked");

    let back = reconnect_from_the_app(&acme, AMY, linkedin, "li-amy").await;
    assert!(back.starts_with(SETTINGS_LINK), "{back}");
    let done = outcome(&back);
    assert_eq!(done.status, "reconnected", "{done:?}");
    assert_eq!(done.connection_id, Some(linkedin));
    assert_eq!(acme.connection(AMY, linkedin).await["status"], "active");
    assert!(broken_matching(&acme, AMY, "").await.is_empty());
}

#[tokio::test]
async fn a_reconnect_to_a_link_outside_the_allowlist_is_refused_and_starts_nothing() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy").await;
    let x = acme.connect_personal(AMY, "x", "x-amy").await;
    for bad in [
        "otherapp://settings",
        "https://evil.example/apostle",
        "apostle:/no-slashes",
    ] {
        let (status, body) = acme
            .api(
                AMY,
                Method::POST,
                &format!("/connections/{x}/reconnect"),
                Some(json!({"redirect_uri": bad})),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
        assert!(body["error"].get("authorize_url").is_none());
    }
}

/// The caller's notifications as the app reads them.
async fn notifications(acme: &Acme, who: &str, query: &str) -> Value {
    let (status, body) = acme
        .api(who, Method::GET, &format!("/notifications{query}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn a_break_and_a_suggestion_become_notifications_the_member_reads_one_by_one_or_all_at_once()
{
    let acme = acme().await;
    acme.sandbox_member("linkedin", "li-amy").await;
    let linkedin = acme.connect_personal(AMY, "linkedin", "li-amy").await;
    assert_eq!(notifications(&acme, AMY, "").await["unread"], 0);
    acme.member_action("linkedin", "li-amy", "revoke", json!({}))
        .await;
    acme.check(AMY, linkedin).await;
    acme.check(AMY, linkedin).await;
    let (status, _) = acme
        .api(
            ADMIN,
            Method::POST,
            "/teams/acme/posts",
            Some(json!({"text": "Our new workshop", "providers": ["linkedin"]})),
        )
        .await;
    assert_eq!(status, 201);
    acme.app.core.dispatch_due_deliveries().await.unwrap();

    let listed = notifications(&acme, AMY, "").await;
    let items = listed["notifications"].as_array().unwrap();
    assert_eq!(
        items.len(),
        2,
        "the second check tells nothing new: {listed}"
    );
    assert_eq!(listed["unread"], 2);
    let (suggestion, broken) = (&items[0], &items[1]);
    assert_eq!(suggestion["kind"], "suggestion");
    assert_eq!(suggestion["team"], "acme");
    assert!(suggestion["post_id"].is_i64());
    assert!(suggestion["text"]
        .as_str()
        .unwrap()
        .contains("Our new workshop"));
    assert_eq!(broken["kind"], "connection_broken");
    assert_eq!(broken["connection_id"], linkedin);
    assert_eq!(broken["read"], false);
    let first = notifications(&acme, AMY, "?limit=1").await;
    assert_eq!(first["notifications"][0]["id"], suggestion["id"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = notifications(&acme, AMY, &format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(second["notifications"][0]["id"], broken["id"]);
    assert!(second.get("next_cursor").is_none(), "{second}");

    let (status, _) = acme
        .api(
            ADMIN,
            Method::POST,
            &format!("/notifications/{}/read", broken["id"]),
            None,
        )
        .await;
    assert_eq!(status, 404, "another member's notification");
    let (status, read) = acme
        .api(
            AMY,
            Method::POST,
            &format!("/notifications/{}/read", broken["id"]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["read"], true);
    assert!(read["read_at"].is_string());
    let unread = notifications(&acme, AMY, "?unread=true").await;
    assert_eq!(unread["unread"], 1);
    assert_eq!(unread["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(unread["notifications"][0]["kind"], "suggestion");

    let (status, all) = acme
        .api(AMY, Method::POST, "/notifications/read", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(all["marked"], 1);
    let after = notifications(&acme, AMY, "").await;
    assert_eq!(after["unread"], 0);
    assert!(after["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["read"] == true));
}

#[tokio::test]
async fn a_reminder_to_reconnect_is_a_notification_too() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy").await;
    let x = acme.connect_personal(AMY, "x", "x-amy").await;
    acme.member_action("x", "x-amy", "revoke", json!({})).await;
    acme.check(AMY, x).await;
    let admin = {
        let mut tx = acme.app.core.store.begin_read().await.unwrap();
        tx.user_by_email(&apostle_domain::EmailAddress::parse(ADMIN).unwrap())
            .await
            .unwrap()
            .unwrap()
    };
    let access = acme.app.core.team_access("acme", &admin).await.unwrap();
    assert_eq!(
        acme.app
            .core
            .send_reconnect_reminders(&access, None)
            .await
            .unwrap(),
        1
    );
    let listed = notifications(&acme, AMY, "").await;
    let newest = &listed["notifications"][0];
    assert_eq!(newest["kind"], "reconnect_reminder", "{listed}");
    assert_eq!(newest["connection_id"], x);
    assert!(newest["text"].as_str().unwrap().contains("reconnect"));
}
