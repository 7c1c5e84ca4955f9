//! Connecting and reconnecting through the provider's consent, and every way a flow
//! is refused with nothing changed.

use super::{acme, outcome, Acme, ADMIN, AMY, APP_LINK, BOB};
use reqwest::Method;
use serde_json::json;

async fn amy_on_linkedin(acme: &Acme) -> i64 {
    acme.sandbox_member("linkedin", "li-amy").await;
    acme.connect_personal(AMY, "linkedin", "li-amy").await
}

#[tokio::test]
async fn a_member_connects_personal_linkedin_and_x_and_lists_them_healthy() {
    let acme = acme().await;
    let linkedin = amy_on_linkedin(&acme).await;
    acme.sandbox_member("x", "x-amy").await;
    let x = acme.connect_personal(AMY, "x", "x-amy").await;
    let (status, list) = acme.api(AMY, Method::GET, "/connections", None).await;
    assert_eq!(status, 200);
    let list = list["connections"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    for c in list {
        assert_eq!(c["status"], "active");
        assert_eq!(c["kind"], "personal");
        assert!(c["reason"].is_null());
    }
    assert_eq!(acme.connection(AMY, linkedin).await["provider"], "linkedin");
    assert_eq!(acme.connection(AMY, x).await["provider"], "x");
    // Nobody else sees them.
    let (status, _) = acme
        .api(BOB, Method::GET, &format!("/connections/{linkedin}"), None)
        .await;
    assert_eq!(status, 404);
    let (_, bobs) = acme.api(BOB, Method::GET, "/connections", None).await;
    assert!(bobs["connections"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn personal_facebook_and_instagram_are_refused_with_the_reason() {
    let acme = acme().await;
    for provider in ["facebook", "instagram"] {
        let (status, body) = acme
            .api(
                AMY,
                Method::POST,
                "/connections",
                Some(json!({"provider": provider, "kind": "personal", "redirect_uri": APP_LINK})),
            )
            .await;
        assert_eq!(status, 409, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("share dialog"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_flow_returns_only_to_this_site_or_the_app() {
    let acme = acme().await;
    for bad in [
        "https://evil.example/",
        "//evil.example",
        "myapp://x",
        "javascript:x",
    ] {
        let (status, body) = acme
            .api(
                AMY,
                Method::POST,
                "/connections",
                Some(json!({"provider": "x", "kind": "personal", "redirect_uri": bad})),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
    }
}

#[tokio::test]
async fn an_ambassador_cannot_connect_the_teams_pages() {
    let acme = acme().await;
    let (status, _) = acme
        .api(
            AMY,
            Method::POST,
            "/connections",
            Some(
                json!({"provider": "linkedin", "kind": "business", "team": "acme",
                        "redirect_uri": APP_LINK}),
            ),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn an_admin_connects_business_pages_choosing_among_those_the_login_manages() {
    let acme = acme().await;
    acme.sandbox_member("facebook", "fb-owner").await;
    let first = acme.sandbox_page("facebook", "fb-owner", "Acme").await;
    acme.sandbox_page("facebook", "fb-owner", "Acme Careers")
        .await;
    let url = acme
        .start(
            ADMIN,
            json!({"provider": "facebook", "kind": "business", "team": "acme",
                   "redirect_uri": APP_LINK}),
        )
        .await;
    let done = acme.run_flow(&url, "fb-owner").await;
    assert_eq!(done.status, "choose_pages", "{done:?}");
    let flow = done.flow.unwrap();
    let path = format!("/connections/flows/{flow}");
    let (status, choice) = acme.api(ADMIN, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{choice}");
    assert_eq!(choice["pages"].as_array().unwrap().len(), 2, "{choice}");
    // Another member cannot see or use the admin's flow.
    let (status, _) = acme.api(AMY, Method::GET, &path, None).await;
    assert_eq!(status, 404);
    let (status, body) = acme
        .api(
            ADMIN,
            Method::POST,
            &path,
            Some(json!({"pages": ["not-a-page"]})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, added) = acme
        .api(ADMIN, Method::POST, &path, Some(json!({"pages": [first]})))
        .await;
    assert_eq!(status, 201, "{added}");
    let added = added["connections"].as_array().unwrap();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["name"], "Acme");
    assert_eq!(added[0]["kind"], "business");
    assert_eq!(added[0]["team"]["slug"], "acme");
    assert_eq!(added[0]["status"], "active");
    // Choosing again adds nothing twice.
    let (status, again) = acme
        .api(ADMIN, Method::POST, &path, Some(json!({"pages": [first]})))
        .await;
    assert_eq!(status, 201);
    assert_eq!(again["connections"][0]["id"], added[0]["id"]);
    let (_, list) = acme
        .api(ADMIN, Method::GET, "/connections?kind=business", None)
        .await;
    assert_eq!(list["connections"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn personal_linkedin_then_pages_with_the_same_login_is_one_grant_with_wider_scopes() {
    let acme = acme().await;
    acme.sandbox_member("linkedin", "ada-linkedin").await;
    acme.sandbox_page("linkedin", "ada-linkedin", "Acme").await;
    let personal = acme
        .connect_personal(ADMIN, "linkedin", "ada-linkedin")
        .await;
    let pages = acme.connect_pages("linkedin", "ada-linkedin").await;
    assert_eq!(pages.len(), 1);
    // Both work: the upgrade did not leave the personal account on a dead token.
    assert_eq!(acme.check(ADMIN, personal).await["status"], "active");
    assert_eq!(acme.check(ADMIN, pages[0]).await["status"], "active");
    let mut tx = acme.app.core.store.begin_read().await.unwrap();
    let account = tx
        .account_by_id(apostle_domain::AccountId(personal))
        .await
        .unwrap()
        .unwrap();
    let page = tx
        .account_by_id(apostle_domain::AccountId(pages[0]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.grant_id, page.grant_id, "one login, one grant");
    let grant = tx.grant_by_id(page.grant_id).await.unwrap().unwrap();
    assert!(
        grant.scopes.contains("w_organization_social"),
        "{}",
        grant.scopes
    );
    assert!(grant.scopes.contains("w_member_social"), "{}", grant.scopes);
}

#[tokio::test]
async fn a_declined_consent_changes_nothing_and_says_so() {
    let acme = acme().await;
    let id = amy_on_linkedin(&acme).await;
    let url = acme.start_reconnect(AMY, id).await;
    let callback = acme.consent(&url, "li-amy", "deny").await;
    let done = acme.finish(&callback).await;
    assert_eq!(done.status, "declined");
    assert!(done.message.unwrap().contains("nothing was changed"));
    assert_eq!(acme.connection(AMY, id).await["status"], "active");
    // A declined first connection stores nothing at all.
    acme.sandbox_member("x", "x-amy").await;
    let url = acme
        .start(
            AMY,
            json!({"provider": "x", "kind": "personal", "redirect_uri": APP_LINK}),
        )
        .await;
    let callback = acme.consent(&url, "x-amy", "deny").await;
    assert_eq!(acme.finish(&callback).await.status, "declined");
    let (_, list) = acme.api(AMY, Method::GET, "/connections", None).await;
    assert_eq!(list["connections"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_replayed_or_forged_callback_gets_a_plain_error_and_changes_nothing() {
    let acme = acme().await;
    let id = amy_on_linkedin(&acme).await;
    let url = acme.start_reconnect(AMY, id).await;
    let callback = acme.consent(&url, "li-amy", "allow").await;
    assert_eq!(acme.finish(&callback).await.status, "reconnected");
    let replay = acme.callback(&callback).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(replay.headers()["referrer-policy"], "no-referrer");
    assert!(replay.text().await.unwrap().contains("already used"));
    let mut forged = url::Url::parse(&callback).unwrap();
    forged.set_query(Some("code=abc&state=made-up"));
    let response = acme.callback(forged.as_str()).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("not valid"));
    assert_eq!(acme.connection(AMY, id).await["status"], "active");
}

#[tokio::test]
async fn a_callback_on_another_providers_path_is_refused_as_a_mix_up() {
    let acme = acme().await;
    let id = amy_on_linkedin(&acme).await;
    let url = acme.start_reconnect(AMY, id).await;
    let callback = acme.consent(&url, "li-amy", "allow").await;
    let mixed = callback.replace("/oauth/linkedin/callback", "/oauth/x/callback");
    let response = acme.callback(&mixed).await;
    assert_eq!(response.status(), 400);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("different provider"));
    // The real callback still works afterwards: the mix-up did not burn the flow.
    assert_eq!(acme.finish(&callback).await.status, "reconnected");
}

#[tokio::test]
async fn an_issuer_other_than_the_provider_is_refused_and_a_matching_one_tolerated() {
    let acme = acme().await;
    let id = amy_on_linkedin(&acme).await;
    let url = acme.start_reconnect(AMY, id).await;
    let callback = acme.consent(&url, "li-amy", "allow").await;
    let done = acme
        .finish(&format!("{callback}&iss=https%3A%2F%2Fevil.example"))
        .await;
    assert_eq!(done.status, "error");
    let url = acme.start_reconnect(AMY, id).await;
    let callback = acme.consent(&url, "li-amy", "allow").await;
    let issuer = url::Url::parse(&url)
        .unwrap()
        .origin()
        .ascii_serialization();
    let done = acme
        .finish(&format!("{callback}&iss={}", urlencoding::encode(&issuer)))
        .await;
    assert_eq!(done.status, "reconnected", "{done:?}");
}

#[tokio::test]
async fn a_personal_reconnect_as_a_different_account_is_refused() {
    let acme = acme().await;
    let id = amy_on_linkedin(&acme).await;
    acme.sandbox_member("linkedin", "someone-else").await;
    acme.member_action("linkedin", "li-amy", "revoke", json!({}))
        .await;
    assert_eq!(acme.check(AMY, id).await["status"], "broken");
    let url = acme.start_reconnect(AMY, id).await;
    let done = acme.run_flow(&url, "someone-else").await;
    assert_eq!(done.status, "wrong_account", "{done:?}");
    assert_eq!(done.connection_id, Some(id));
    let after = acme.connection(AMY, id).await;
    assert_eq!(after["status"], "broken", "nothing changed: {after}");
    // The right account heals it.
    let url = acme.start_reconnect(AMY, id).await;
    assert_eq!(acme.run_flow(&url, "li-amy").await.status, "reconnected");
    assert_eq!(acme.connection(AMY, id).await["status"], "active");
}

#[tokio::test]
async fn a_flow_started_by_one_member_is_refused_in_another_members_browser() {
    let acme = acme().await;
    let id = amy_on_linkedin(&acme).await;
    let url = acme.start_reconnect(AMY, id).await;
    let callback = acme.consent(&url, "li-amy", "allow").await;
    let bobs_browser = acme.app.signed_in(BOB, "correct horse battery").await;
    let response = bobs_browser.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("started by someone else"));
    // Amy's own browser finishes it.
    let amys_browser = acme.app.signed_in(AMY, "correct horse battery").await;
    let response = amys_browser.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let done = outcome(response.headers()["location"].to_str().unwrap());
    assert_eq!(done.status, "reconnected");
}

#[tokio::test]
async fn an_expired_flow_returns_expired_and_changes_nothing() {
    let acme = acme().await;
    let id = amy_on_linkedin(&acme).await;
    let url = acme.start_reconnect(AMY, id).await;
    let callback = acme.consent(&url, "li-amy", "allow").await;
    // Eleven minutes pass on the engine's clock (the sandbox's).
    acme.sandbox("/clock/advance", json!({"seconds": 660}))
        .await;
    let done = acme.finish(&callback).await;
    assert_eq!(done.status, "expired", "{done:?}");
    assert_eq!(acme.finish_replayed(&callback).await, 400);
}

impl Acme {
    async fn finish_replayed(&self, callback: &str) -> u16 {
        self.callback(callback).await.status().as_u16()
    }
}

#[tokio::test]
async fn a_business_page_is_reconnected_by_another_admin_whose_login_manages_it() {
    let acme = acme().await;
    acme.sandbox_member("facebook", "ada-facebook").await;
    let page_id = acme.sandbox_page("facebook", "ada-facebook", "Acme").await;
    let pages = acme.connect_pages("facebook", "ada-facebook").await;
    // Bob becomes an admin; his own Facebook login also manages the page.
    let bob = {
        let mut tx = acme.app.core.store.begin_read().await.unwrap();
        tx.user_by_email(&apostle_domain::EmailAddress::parse(BOB).unwrap())
            .await
            .unwrap()
            .unwrap()
    };
    let team = {
        let mut tx = acme.app.core.store.begin_read().await.unwrap();
        tx.team_by_slug(&apostle_domain::TeamSlug::parse("acme").unwrap())
            .await
            .unwrap()
            .unwrap()
    };
    {
        let mut tx = acme.app.core.store.begin().await.unwrap();
        tx.set_member_role(team.id, bob.id, apostle_domain::Role::Admin)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    acme.sandbox_member("facebook", "bob-facebook").await;
    acme.sandbox(
        "/pages/roles",
        json!({"provider": "facebook", "page_id": page_id, "member": "bob-facebook"}),
    )
    .await;
    acme.member_action("facebook", "ada-facebook", "change-password", json!({}))
        .await;
    assert_eq!(acme.check(ADMIN, pages[0]).await["status"], "broken");
    // A login that does not manage the page is refused.
    acme.sandbox_member("facebook", "stranger").await;
    let url = acme.start_reconnect(BOB, pages[0]).await;
    assert_eq!(
        acme.run_flow(&url, "stranger").await.status,
        "wrong_account"
    );
    let url = acme.start_reconnect(BOB, pages[0]).await;
    let done = acme.run_flow(&url, "bob-facebook").await;
    assert_eq!(done.status, "reconnected", "{done:?}");
    let page = acme.connection(BOB, pages[0]).await;
    assert_eq!(page["status"], "active");
    assert_eq!(page["connected_by"], "Bob Ambassador");
}

#[tokio::test]
async fn a_callback_whose_browser_gives_up_still_finishes_the_connection() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy").await;
    let url = acme
        .start(
            AMY,
            json!({"provider": "x", "kind": "personal", "redirect_uri": APP_LINK}),
        )
        .await;
    let callback = acme.consent(&url, "x-amy", "allow").await;
    acme.sandbox(
        "/faults",
        json!({"provider": "x", "kind": "latency", "ms": 800}),
    )
    .await;
    let impatient = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    assert!(impatient.get(&callback).send().await.is_err(), "gave up");
    let mut connections = Vec::new();
    for _ in 0..100 {
        let (_, list) = acme.api(AMY, Method::GET, "/connections", None).await;
        connections = list["connections"].as_array().unwrap().clone();
        if !connections.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(connections.len(), 1, "the connection was made anyway");
    assert_eq!(connections[0]["status"], "active");
}
