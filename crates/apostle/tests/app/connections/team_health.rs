//! Team connection health as an admin's browser sees it: counts and what needs
//! attention after a break, the chart's bar for the break, each connection's
//! timeline, reconnect reminders (one email each, once a day), and who may not look.

use super::web::{broken_page, Web};
use super::{acme, Acme, ADMIN, AMY, BOB, PASSWORD};
use apostle_domain::Role;
use serde_json::json;

/// Amy's and Bob's personal X accounts, connected then revoked at X and found broken.
async fn broken_personal_accounts(acme: &Acme) -> (i64, i64) {
    let mut ids = Vec::new();
    for (who, handle) in [(AMY, "x-amy"), (BOB, "x-bob")] {
        acme.sandbox_member("x", handle).await;
        let id = acme.connect_personal(who, "x", handle).await;
        acme.member_action("x", handle, "revoke", json!({})).await;
        assert_eq!(acme.check(who, id).await["status"], "broken");
        ids.push(id);
    }
    (ids[0], ids[1])
}

/// The HTML between `<section ... id="{id}">` and its end.
fn section<'h>(html: &'h str, id: &str) -> &'h str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("section {id}"));
    &html[start..start + html[start..].find("</section>").unwrap()]
}

/// The user id in the reminder form beside `name`.
fn user_id(html: &str, name: &str) -> String {
    let at = html
        .find(name)
        .unwrap_or_else(|| panic!("{name} is listed"));
    let marker = "name=\"user\" value=\"";
    let start = at + html[at..].find(marker).expect("a reminder form") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn after_a_break_admins_see_counts_the_broken_page_with_reconnect_and_broken_members() {
    let acme = acme().await;
    let page = broken_page(&acme).await;
    broken_personal_accounts(&acme).await;
    let ada = Web::sign_in(&acme, ADMIN).await;
    let (_, team) = ada.follow("/t/acme").await;
    assert!(
        team.contains("href=\"/t/acme/connections\""),
        "linked from the team page"
    );

    let (_, html) = ada.follow("/t/acme/connections").await;
    let counts = section(&html, "counts");
    assert!(
        counts.contains("<td>Facebook</td><td>Business pages</td><td>0</td><td>1</td>"),
        "{counts}"
    );
    assert!(
        counts.contains("<td>X</td><td>Personal accounts</td><td>0</td><td>2</td>"),
        "{counts}"
    );
    let attention = section(&html, "attention");
    assert!(attention.contains("Acme Coffee"), "{attention}");
    assert!(attention.contains("Broken since"), "{attention}");
    assert!(
        attention.contains(&format!(
            "action=\"/t/acme/settings/connections/{page}/reconnect\""
        )),
        "the Business Pages tab's Reconnect: {attention}"
    );
    let members = section(&html, "members");
    assert!(members.contains("Amy Ambassador") && members.contains("Bob Ambassador"));

    let chart = section(&html, "chart");
    assert!(chart.contains("<svg class=\"chart\""), "{chart}");
    assert!(
        chart.contains("<rect class=\"break\""),
        "the break is drawn: {chart}"
    );
    assert!(chart.contains(": 3 breaks</title>"), "{chart}");
    assert!(!html.contains("style="), "the CSP forbids inline style");

    let (_, timeline) = ada.follow(&format!("/t/acme/connections/{page}")).await;
    let events = section(&timeline, "timeline");
    assert!(events.contains("broken ("), "{events}");
    assert!(events.contains("connected"), "{events}");
}

#[tokio::test]
async fn a_reminder_goes_to_one_or_to_all_once_a_day_each() {
    let acme = acme().await;
    broken_personal_accounts(&acme).await;
    let ada = Web::sign_in(&acme, ADMIN).await;
    let (_, html) = ada.follow("/t/acme/connections").await;
    let amy = user_id(section(&html, "members"), "Amy Ambassador");

    let one = ada
        .post("/t/acme/connections/remind", &[("user", amy.as_str())])
        .await;
    assert_eq!(one.status(), 303);
    assert_eq!(acme.emails(AMY, "reconnect_reminder").await.len(), 1);
    assert!(acme.emails(BOB, "reconnect_reminder").await.is_empty());

    let all = ada.post("/t/acme/connections/remind", &[]).await;
    assert_eq!(all.status(), 303);
    assert_eq!(acme.emails(AMY, "reconnect_reminder").await.len(), 1);
    assert_eq!(acme.emails(BOB, "reconnect_reminder").await.len(), 1);
    let text = super::text_of(&acme.app, &acme.emails(BOB, "reconnect_reminder").await[0]);
    assert!(text.contains("/settings/connections/"), "{text}");

    ada.post("/t/acme/connections/remind", &[]).await;
    ada.post("/t/acme/connections/remind", &[("user", amy.as_str())])
        .await;
    assert_eq!(acme.emails(AMY, "reconnect_reminder").await.len(), 1);
    assert_eq!(acme.emails(BOB, "reconnect_reminder").await.len(), 1);
    let (_, after) = ada.follow("/t/acme/connections").await;
    assert!(after.contains("already reminded today"), "{after}");
}

#[tokio::test]
async fn ambassadors_and_other_teams_admins_see_nothing_of_the_team_health() {
    let acme = acme().await;
    let page = broken_page(&acme).await;
    let amy = Web::sign_in(&acme, AMY).await;
    let (_, team) = amy.follow("/t/acme").await;
    assert!(!team.contains("/t/acme/connections"));
    for path in [
        "/t/acme/connections".to_owned(),
        format!("/t/acme/connections/{page}"),
    ] {
        let status = amy.get(&path).await.status().as_u16();
        assert!(status == 403 || status == 404, "{path}: {status}");
    }
    let remind = amy.post("/t/acme/connections/remind", &[]).await;
    assert!([403, 404].contains(&remind.status().as_u16()));

    let core = &acme.app.core;
    core.create_team("globex", "Globex").await.unwrap();
    core.add_user(
        "globex",
        "gil@globex.example",
        "Gil Globex",
        Role::Admin,
        PASSWORD.to_owned().into(),
    )
    .await
    .unwrap();
    let gil = acme.app.signed_in("gil@globex.example", PASSWORD).await;
    for path in [
        "/t/acme/connections".to_owned(),
        format!("/t/acme/connections/{page}"),
        format!("/t/globex/connections/{page}"),
    ] {
        let response = gil.get(acme.app.url(&path)).send().await.unwrap();
        let status = response.status().as_u16();
        assert!(status == 403 || status == 404, "{path}: {status}");
        assert!(!response.text().await.unwrap().contains("Acme Coffee"));
    }
    let response = gil
        .get(acme.app.url("/t/globex/connections"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        !html.contains("Acme Coffee") && !html.contains("<rect"),
        "{html}"
    );
}

#[tokio::test]
async fn pages_whose_access_cannot_be_renewed_are_listed_with_days_left_as_expiry_nears() {
    let acme = acme().await;
    acme.sandbox("/apps/linkedin", json!({"refresh_tokens": false}))
        .await;
    acme.sandbox_member("linkedin", "li-owner").await;
    acme.sandbox_page("linkedin", "li-owner", "Acme Labs").await;
    let page = acme.connect_pages("linkedin", "li-owner").await[0];
    let ada = Web::sign_in(&acme, ADMIN).await;
    let (_, html) = ada.follow("/t/acme/connections").await;
    assert!(
        !html.contains("id=\"expiring\""),
        "60 days left is not soon"
    );
    acme.sandbox("/clock/advance", json!({"seconds": 50 * 86_400}))
        .await;
    let (_, html) = ada.follow("/t/acme/connections").await;
    let expiring = section(&html, "expiring");
    assert!(expiring.contains(&format!("expiring-{page}")), "{expiring}");
    assert!(expiring.contains("Acme Labs"), "{expiring}");
    assert!(expiring.contains(" days left."), "{expiring}");
}

#[tokio::test]
async fn a_team_that_turns_on_automatic_reminders_reminds_members_3_and_7_days_after_a_break() {
    let acme = acme().await;
    broken_personal_accounts(&acme).await;
    let reminders = |who| acme.emails(who, "reconnect_reminder");
    // Off by default: nothing however long the break lasts.
    acme.sandbox("/clock/advance", json!({"seconds": 4 * 86_400}))
        .await;
    assert_eq!(acme.app.core.send_due_reminders().await.unwrap(), 0);
    let ada = Web::sign_in(&acme, ADMIN).await;
    let turned = ada
        .post("/t/acme/connections/auto-reminders", &[("reminders", "on")])
        .await;
    assert_eq!(turned.status(), 303);
    let (_, html) = ada.follow("/t/acme/connections").await;
    assert!(html.contains("Turn automatic reminders off"));
    acme.app.core.send_due_reminders().await.unwrap();
    assert_eq!(reminders(AMY).await.len(), 1, "the 3-day reminder");
    assert_eq!(reminders(BOB).await.len(), 1);
    acme.app.core.send_due_reminders().await.unwrap();
    assert_eq!(reminders(AMY).await.len(), 1, "once");
    acme.sandbox("/clock/advance", json!({"seconds": 3 * 86_400}))
        .await;
    acme.app.core.send_due_reminders().await.unwrap();
    assert_eq!(reminders(AMY).await.len(), 2, "the 7-day reminder");
    acme.app.core.send_due_reminders().await.unwrap();
    assert_eq!(reminders(AMY).await.len(), 2, "and no more");
}
