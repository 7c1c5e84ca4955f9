use std::time::{Duration, Instant};

use apostle_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

use crate::helpers::{
    admin, advance, assert_contains, body, fault, get_json, html_page, listed_member, sandbox,
    x_users_me,
};
use crate::support::{
    pkce_challenge, query_value, serve, spawn, x_authorize_query, Running, PKCE_VERIFIER,
};

async fn get(sandbox: &Running, path: &str) -> Value {
    get_json(sandbox, path).await
}

async fn x_token(sandbox: &Running) -> String {
    sandbox.x_connect("gil").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn admin_creates_members_and_pages_and_lists_them() {
    let sandbox = sandbox().await;
    let member = admin(
        &sandbox,
        "/members",
        json!({"provider": "facebook", "handle": "hana", "name": "Hana Ito"}),
    )
    .await;
    assert_eq!(member.status(), 201);
    let member = body(member).await;
    assert_eq!(member["name"], "Hana Ito");
    assert_eq!(member["pages"], json!([]));

    let page = admin(
        &sandbox,
        "/pages",
        json!({"provider": "facebook", "owner": "hana", "name": "Ito Bakery"}),
    )
    .await;
    assert_eq!(page.status(), 201);
    let page = body(page).await;
    assert_eq!(page["owner"], "hana");

    let listed = listed_member(&sandbox, "facebook", "hana").await;
    assert_eq!(listed["pages"][0]["id"], page["id"]);
    assert_eq!(listed["pages"][0]["name"], "Ito Bakery");
    assert_eq!(
        listed["pages"][0]["instagram_business_account"]["username"], "itobakery",
        "a Facebook page has an Instagram account linked unless told otherwise"
    );
    let alone = body(
        admin(
            &sandbox,
            "/pages",
            json!({"provider": "facebook", "owner": "hana", "name": "Ito Offline", "instagram": false}),
        )
        .await,
    )
    .await;
    assert!(alone["instagram_business_account"].is_null(), "{alone}");

    let linked = body(
        admin(
            &sandbox,
            "/pages",
            json!({"provider": "facebook", "owner": "hana", "name": "Ito Cafe", "instagram": "itocafe"}),
        )
        .await,
    )
    .await;
    assert_eq!(linked["instagram_business_account"]["username"], "itocafe");
    let through_instagram = body(
        admin(
            &sandbox,
            "/pages",
            json!({"provider": "instagram", "owner": "hana", "name": "Ito Bakery Two"}),
        )
        .await,
    )
    .await;
    assert_eq!(through_instagram["provider"], "facebook");
    assert_eq!(
        through_instagram["instagram_business_account"]["username"],
        "itobakerytwo"
    );
}

#[tokio::test]
async fn instagram_names_the_facebook_world_in_the_admin_api() {
    let sandbox = sandbox().await;
    let created = admin(
        &sandbox,
        "/members",
        json!({"provider": "instagram", "handle": "hana", "name": "Hana"}),
    )
    .await;
    assert_eq!(body(created).await["provider"], "facebook");
    let again = json!({"provider": "facebook", "handle": "hana", "name": "Hana"});
    assert_eq!(admin(&sandbox, "/members", again).await.status(), 409);
    assert_eq!(
        admin(
            &sandbox,
            "/pages",
            json!({"provider": "linkedin", "owner": "acme-linkedin", "name": "P", "instagram": "p"})
        )
        .await
        .status(),
        400,
        "only Facebook pages link Instagram accounts"
    );
}

#[tokio::test]
async fn admin_refuses_duplicates_unknown_members_and_pages_on_x() {
    let sandbox = sandbox().await;
    let payload = json!({"provider": "x", "handle": "ivy", "name": "Ivy"});
    assert_eq!(
        admin(&sandbox, "/members", payload.clone()).await.status(),
        201
    );
    assert_eq!(admin(&sandbox, "/members", payload).await.status(), 409);
    assert_eq!(
        admin(
            &sandbox,
            "/pages",
            json!({"provider": "x", "owner": "ivy", "name": "P"})
        )
        .await
        .status(),
        400
    );
    assert_eq!(
        admin(&sandbox, "/members/x/nobody/revoke", json!({}))
            .await
            .status(),
        404
    );
    assert_eq!(
        admin(&sandbox, "/members/x/ivy/explode", json!({}))
            .await
            .status(),
        400
    );
    assert_eq!(
        admin(&sandbox, "/members/x/ivy/checkpoint", json!({}))
            .await
            .status(),
        400
    );
    assert_eq!(
        admin(
            &sandbox,
            "/members",
            json!({"provider": "myspace", "handle": "a", "name": "a"})
        )
        .await
        .status(),
        400
    );
}

#[tokio::test]
async fn admin_grant_state_follows_the_breaks() {
    let sandbox = sandbox().await;
    sandbox.x_connect("gil").await;
    let state = |member: Value| member["grants"][0]["state"].clone();
    assert_eq!(state(listed_member(&sandbox, "x", "gil").await), "active");
    advance(&sandbox, 7201.0).await;
    assert_eq!(state(listed_member(&sandbox, "x", "gil").await), "expired");
    assert_eq!(
        admin(&sandbox, "/members/x/gil/change-password", json!({}))
            .await
            .status(),
        200
    );
    assert_eq!(
        state(listed_member(&sandbox, "x", "gil").await),
        "password_changed"
    );
}

#[tokio::test]
async fn admin_posts_are_listed_newest_first_per_provider() {
    let sandbox = sandbox().await;
    let token = x_token(&sandbox).await;
    for text in ["first", "second"] {
        let response = sandbox
            .http
            .post(sandbox.url("/sandbox/x/2/tweets"))
            .bearer_auth(&token)
            .json(&json!({ "text": text }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let posts = get(&sandbox, "/sandbox/admin/posts?provider=x").await;
    assert_eq!(posts[0]["text"], "second");
    assert_eq!(posts[1]["text"], "first");
    assert_eq!(posts[0]["member"], "gil");
    assert_eq!(
        get(&sandbox, "/sandbox/admin/posts?provider=linkedin").await,
        json!([])
    );
}

#[tokio::test]
async fn admin_reset_forgets_members_tokens_posts_faults_and_clock_and_warns_of_broken_connections()
{
    let sandbox = sandbox().await;
    let token = x_token(&sandbox).await;
    fault(&sandbox, json!({"provider": "x", "kind": "outage"})).await;
    advance(&sandbox, 1000.0).await;
    let reset = admin(&sandbox, "/reset", json!({})).await;
    assert_eq!(reset.status(), 200);
    let warning = body(reset).await["warning"].as_str().unwrap().to_owned();
    assert!(
        warning.contains("Apostle's connections made against this sandbox will break"),
        "{warning}"
    );
    let handles: Vec<Value> = get(&sandbox, "/sandbox/admin/members")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["handle"].clone())
        .collect();
    assert_eq!(
        handles,
        json!([
            "acme-linkedin",
            "acme-x",
            "acme-facebook",
            "amy-linkedin",
            "amy-x"
        ])
        .as_array()
        .unwrap()
        .clone(),
        "only the demo's members, fresh"
    );
    assert_eq!(get(&sandbox, "/sandbox/admin/faults").await, json!([]));
    assert_eq!(x_users_me(&sandbox, &token).await.status(), 401);
    let now = get(&sandbox, "/sandbox/admin/clock").await["now"]
        .as_i64()
        .unwrap();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - wall).abs() < 5);
}

#[tokio::test]
async fn outage_fault_lasts_its_seconds_on_the_sandbox_clock() {
    let sandbox = sandbox().await;
    let token = x_token(&sandbox).await;
    fault(
        &sandbox,
        json!({"provider": "x", "kind": "outage", "seconds": 60}),
    )
    .await;
    for _ in 0..2 {
        let response = x_users_me(&sandbox, &token).await;
        assert_eq!(response.status(), 503);
        assert_eq!(
            body(response).await,
            json!({"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503})
        );
    }
    advance(&sandbox, 61.0).await;
    assert_eq!(x_users_me(&sandbox, &token).await.status(), 200);
}

#[tokio::test]
async fn faults_touch_only_their_provider_and_delete_clears_them() {
    let sandbox = sandbox().await;
    let token = x_token(&sandbox).await;
    fault(&sandbox, json!({"provider": "linkedin", "kind": "outage"})).await;
    assert_eq!(x_users_me(&sandbox, &token).await.status(), 200);
    fault(&sandbox, json!({"provider": "x", "kind": "outage"})).await;
    assert_eq!(x_users_me(&sandbox, &token).await.status(), 503);
    let cleared = sandbox
        .http
        .delete(sandbox.url("/sandbox/admin/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(body(cleared).await, json!({"cleared": 2}));
    assert_eq!(x_users_me(&sandbox, &token).await.status(), 200);
}

#[tokio::test]
async fn outage_spares_the_consent_page_but_not_the_token_endpoint() {
    let sandbox = sandbox().await;
    fault(&sandbox, json!({"provider": "x", "kind": "outage"})).await;
    let challenge = pkce_challenge(PKCE_VERIFIER);
    let query = x_authorize_query("users.read", &challenge);
    let page = sandbox
        .http
        .get(sandbox.url("/sandbox/x/i/oauth2/authorize"))
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let redirect = sandbox
        .decide("/sandbox/x/i/oauth2/authorize", &query, "gil", "allow")
        .await;
    let code = query_value(&redirect, "code").unwrap();
    let token = sandbox.x_exchange(&code, PKCE_VERIFIER).await;
    assert_eq!(token.status(), 503);
}

#[tokio::test]
async fn flaky_fault_fails_the_given_fraction_of_calls() {
    let sandbox = sandbox().await;
    let token = x_token(&sandbox).await;
    fault(
        &sandbox,
        json!({"provider": "x", "kind": "flaky", "fraction": 1.0, "calls": 2}),
    )
    .await;
    assert_eq!(x_users_me(&sandbox, &token).await.status(), 503);
    assert_eq!(x_users_me(&sandbox, &token).await.status(), 503);
    assert_eq!(x_users_me(&sandbox, &token).await.status(), 200);

    fault(
        &sandbox,
        json!({"provider": "x", "kind": "flaky", "fraction": 0.5}),
    )
    .await;
    let mut failures = 0;
    for _ in 0..200 {
        if x_users_me(&sandbox, &token).await.status() == 503 {
            failures += 1;
        }
    }
    assert!((60..=140).contains(&failures), "{failures} of 200 failed");
}

#[tokio::test]
async fn latency_fault_delays_each_call() {
    let sandbox = sandbox().await;
    let token = x_token(&sandbox).await;
    fault(
        &sandbox,
        json!({"provider": "x", "kind": "latency", "ms": 300, "calls": 1}),
    )
    .await;
    let started = Instant::now();
    assert_eq!(x_users_me(&sandbox, &token).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn admin_rejects_malformed_faults() {
    let sandbox = sandbox().await;
    for spec in [
        json!({"provider": "x", "kind": "spurious-revoked"}),
        json!({"provider": "x", "kind": "meteor"}),
        json!({"provider": "x", "kind": "latency"}),
        json!({"provider": "x", "kind": "flaky", "fraction": 2.0}),
    ] {
        let response = admin(&sandbox, "/faults", spec.clone()).await;
        assert_eq!(response.status(), 400, "{spec}");
        assert!(body(response).await["error"].is_string());
    }
}

#[tokio::test]
async fn seeded_sandboxes_hand_out_identical_ids_and_tokens() {
    let config = || SandboxConfig {
        seed: Some(42),
        ..SandboxConfig::default()
    };
    let (one, two) = (spawn(config()).await, spawn(config()).await);
    let (a, b) = (one.x_connect("kim").await, two.x_connect("kim").await);
    assert_eq!(a["access_token"], b["access_token"]);
    assert_eq!(a["refresh_token"], b["refresh_token"]);
    assert_eq!(
        listed_member(&one, "x", "kim").await["id"],
        listed_member(&two, "x", "kim").await["id"]
    );
}

#[tokio::test]
async fn dashboard_shows_members_pages_grants_posts_and_action_buttons() {
    let sandbox = sandbox().await;
    let token = sandbox.linkedin_connect("lena").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let author = sandbox.linkedin_author(&token).await;
    let posted = sandbox
        .linkedin_post(&token, &author, "Dashboard <b>post</b>")
        .await;
    assert_eq!(posted.status(), 201);
    let html = html_page(sandbox.http.get(sandbox.url("/sandbox"))).await;
    assert_contains(
        &html,
        &[
            "lena Page",
            "@lena",
            "active",
            "Dashboard ",
            "/sandbox/admin/members/linkedin/lena/change-password",
            "lose-page-role",
            "/sandbox/admin/faults",
            "name=\"viewport\"",
        ],
    );
    assert!(!html.contains("<b>post</b>"), "post text is escaped");
}

#[tokio::test]
async fn dashboard_forms_act_and_redirect_back() {
    let sandbox = sandbox().await;
    let token = x_token(&sandbox).await;
    let response = sandbox
        .http
        .post(sandbox.url("/sandbox/admin/members/x/gil/revoke"))
        .form(&[("page_id", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/sandbox#x");
    assert_eq!(x_users_me(&sandbox, &token).await.status(), 401);

    let response = sandbox
        .http
        .post(sandbox.url("/sandbox/admin/faults"))
        .form(&[
            ("provider", "x"),
            ("kind", "outage"),
            ("calls", "1"),
            ("seconds", ""),
            ("ms", ""),
            ("fraction", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(get(&sandbox, "/sandbox/admin/faults").await[0]["calls"], 1);
}

#[tokio::test]
async fn a_fresh_sandbox_holds_the_demo_members_and_acme_pages() {
    let sandbox = sandbox().await;
    let acme_linkedin = listed_member(&sandbox, "linkedin", "acme-linkedin").await;
    assert_eq!(acme_linkedin["pages"][0]["name"], "Acme");
    let acme_facebook = listed_member(&sandbox, "facebook", "acme-facebook").await;
    assert_eq!(acme_facebook["pages"][0]["name"], "Acme");
    assert_eq!(
        acme_facebook["pages"][0]["instagram_business_account"]["username"],
        "acme"
    );
    assert_eq!(
        listed_member(&sandbox, "instagram", "acme-facebook").await["id"],
        acme_facebook["id"],
        "Instagram's members are Facebook's"
    );
    for (provider, handle) in [
        ("x", "acme-x"),
        ("linkedin", "amy-linkedin"),
        ("x", "amy-x"),
    ] {
        let member = listed_member(&sandbox, provider, handle).await;
        assert_eq!(
            member["grants"],
            json!([]),
            "{handle} has connected nothing yet"
        );
    }
}

#[tokio::test]
async fn a_page_role_can_be_given_to_another_member_and_taken_back() {
    let sandbox = sandbox().await;
    let acme = listed_member(&sandbox, "facebook", "acme-facebook").await;
    let page_id = acme["pages"][0]["id"].as_str().unwrap().to_owned();
    admin(
        &sandbox,
        "/members",
        json!({"provider": "facebook", "handle": "bob-facebook"}),
    )
    .await;
    let given = admin(
        &sandbox,
        "/pages/roles",
        json!({"provider": "facebook", "page_id": page_id, "member": "bob-facebook"}),
    )
    .await;
    assert_eq!(given.status(), 200);
    assert_eq!(
        body(given).await["admins"],
        json!(["acme-facebook", "bob-facebook"])
    );
    let bob = listed_member(&sandbox, "facebook", "bob-facebook").await;
    assert_eq!(
        bob["pages"][0]["name"], "Acme",
        "Bob's login manages Acme now"
    );
    let taken = admin(
        &sandbox,
        "/members/facebook/bob-facebook/lose-page-role",
        json!({ "page_id": page_id }),
    )
    .await;
    assert_eq!(taken.status(), 200);
    assert_eq!(
        listed_member(&sandbox, "facebook", "bob-facebook").await["pages"],
        json!([])
    );
    let unknown = admin(
        &sandbox,
        "/pages/roles",
        json!({"provider": "facebook", "page_id": "1", "member": "bob-facebook"}),
    )
    .await;
    assert_eq!(unknown.status(), 404);

    admin(
        &sandbox,
        "/members/facebook/acme-facebook/lose-page-role",
        json!({ "page_id": page_id }),
    )
    .await;
    let html = html_page(sandbox.http.get(sandbox.url("/sandbox"))).await;
    assert_contains(&html, &["role lost", "Give the role back"]);
}

#[tokio::test]
async fn without_demo_members_a_fresh_sandbox_is_empty_and_stays_so_after_a_reset() {
    let sandbox = spawn(SandboxConfig {
        demo_members: false,
        ..SandboxConfig::default()
    })
    .await;
    assert_eq!(get(&sandbox, "/sandbox/admin/members").await, json!([]));
    let created = admin(
        &sandbox,
        "/members",
        json!({"provider": "facebook", "handle": "acme-facebook"}),
    )
    .await;
    assert_eq!(created.status(), 201, "the demo's handles are free");
    assert_eq!(admin(&sandbox, "/reset", json!({})).await.status(), 200);
    assert_eq!(get(&sandbox, "/sandbox/admin/members").await, json!([]));
}

#[tokio::test]
async fn dashboard_warns_before_a_reset_and_offers_the_new_breaks_and_faults() {
    let sandbox = sandbox().await;
    let html = html_page(sandbox.http.get(sandbox.url("/sandbox"))).await;
    assert_contains(
        &html,
        &[
            "Apostle&#39;s connections made against this sandbox will break",
            "name=\"confirm\"",
            "/sandbox/admin/members/facebook/acme-facebook/log-out",
            "/sandbox/admin/members/facebook/acme-facebook/invalidate-session",
            "/sandbox/admin/members/facebook/acme-facebook/unconfirm",
            "/sandbox/admin/members/facebook/acme-facebook/expire-data-access",
            "/sandbox/admin/members/facebook/acme-facebook/block-posts",
            "value=\"rate-limit-429\"",
            "value=\"613\"",
            "value=\"media-error\"",
            "value=\"client-forbidden\"",
            "value=\"duplicate-content\"",
            "/sandbox/admin/apps/linkedin",
            "Published on Instagram",
            "@acme",
        ],
    );
}

#[tokio::test]
async fn now_millis_follows_the_sandbox_clock() {
    let sandbox = Sandbox::new(SandboxConfig::default());
    let running = serve(&sandbox).await;
    let wall = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let before = sandbox.now_millis();
    assert!((before - wall()).abs() < 1000);
    advance(&running, 86400.0).await;
    let moved = sandbox.now_millis() - before;
    assert!(
        (86_400_000..86_405_000).contains(&moved),
        "moved {moved} ms"
    );
    let clock = get(&running, "/sandbox/admin/clock").await;
    assert!((clock["now_ms"].as_i64().unwrap() - sandbox.now_millis()).abs() < 1000);
}
