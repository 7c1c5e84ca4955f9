//! The posts API as the mobile app uses it: composing (admins), the feed with
//! each post's targets, deciding about a suggestion, an admin's follow-up (bin,
//! archive, reminders), page approvals, images and the member's settings.

use crate::connections::{acme, Acme, ADMIN, AMY, BOB};
use apostle_domain::Role;
use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

const MAX: &str = "max@acme.example";
const PASSWORD: &str = "another horse battery";

/// A PNG's first bytes: enough for its type to be recognised.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

async fn user_id(acme: &Acme, email: &str) -> i64 {
    let (status, body) = acme
        .api(ADMIN, Method::GET, "/teams/acme/members", None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["email"] == email)
        .map(|m| m["user"]["id"].as_i64().unwrap())
        .expect("a member")
}

async fn create(acme: &Acme, who: &str, body: Value) -> Value {
    let (status, post) = acme
        .api(who, Method::POST, "/teams/acme/posts", Some(body))
        .await;
    assert_eq!(status, 201, "{post}");
    post
}

/// A post suggested now to `recipients` (user ids; null: the whole team).
async fn suggest(acme: &Acme, text: &str, recipients: Value) -> i64 {
    let body = json!({"text": text, "providers": ["linkedin", "x"], "recipients": recipients});
    create(acme, ADMIN, body).await["id"].as_i64().unwrap()
}

async fn feed(acme: &Acme, who: &str) -> Vec<Value> {
    let (status, body) = acme.api(who, Method::GET, "/teams/acme/posts", None).await;
    assert_eq!(status, 200, "{body}");
    body["posts"].as_array().unwrap().clone()
}

fn find(feed: &[Value], post: i64) -> Option<&Value> {
    feed.iter().find(|p| p["id"] == post)
}

fn ids(feed: &[Value]) -> Vec<i64> {
    feed.iter().map(|p| p["id"].as_i64().unwrap()).collect()
}

async fn dispatch(acme: &Acme) {
    acme.app
        .core
        .dispatch_due_deliveries()
        .await
        .expect("dispatch");
}

/// The delivery of `post` in `who`'s feed.
async fn delivery_of(acme: &Acme, who: &str, post: i64) -> i64 {
    let feed = feed(acme, who).await;
    find(&feed, post).expect("in the feed")["delivery"]["id"]
        .as_i64()
        .unwrap()
}

async fn detail(acme: &Acme, post: i64) -> Value {
    let path = format!("/teams/acme/posts/{post}");
    let (status, body) = acme.api(ADMIN, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Another admin of Acme, with a token.
async fn second_admin(acme: &Acme) -> String {
    acme.app
        .core
        .add_user(
            "acme",
            MAX,
            "Max Admin",
            Role::Admin,
            PASSWORD.to_owned().into(),
        )
        .await
        .unwrap();
    token(acme, MAX).await
}

async fn token(acme: &Acme, email: &str) -> String {
    let response = acme
        .app
        .http
        .post(acme.app.url("/api/v1/auth/token"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

/// A request with a token that `Acme::api` does not hold.
async fn api_as(acme: &Acme, token: &str, method: Method, path: &str, body: Value) -> (u16, Value) {
    let response = acme
        .app
        .http
        .request(method, acme.app.url(&format!("/api/v1{path}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

crate::on_both_backends!(
    an_admin_creates_a_post_and_gets_it_back_with_every_field,
    an_ambassadors_feed_lists_only_what_was_delivered_to_them_with_their_accounts,
    a_rejected_suggestion_shows_rejected_in_the_feed,
    a_suggestion_put_off_until_later_leaves_the_feed_and_the_past_is_refused,
);

async fn an_admin_creates_a_post_and_gets_it_back_with_every_field() {
    let acme = acme().await;
    let expires = "2030-12-20T18:00:00Z";
    let post = create(
        &acme,
        ADMIN,
        json!({
            "text": "We are hiring in Lyon, come and build with us!",
            "variants": {"x": "Hiring in Lyon"},
            "link": "https://acme.example/jobs",
            "link_title": "Jobs at Acme",
            "utm": {"source": "apostle", "campaign": "hiring"},
            "providers": ["x", "linkedin"],
            "schedule": {"kind": "days", "days": ["2030-12-02", "2030-12-03"],
                         "skip_weekends": true},
            "expires_at": expires,
        }),
    )
    .await;
    assert!(post["id"].as_i64().is_some());
    assert_eq!(
        post["text"],
        "We are hiring in Lyon, come and build with us!"
    );
    assert_eq!(post["variants"], json!({"x": "Hiring in Lyon"}));
    assert_eq!(post["link"], "https://acme.example/jobs");
    assert_eq!(post["link_title"], "Jobs at Acme");
    assert_eq!(
        post["utm"],
        json!({"source": "apostle", "campaign": "hiring"})
    );
    assert_eq!(post["providers"], json!(["linkedin", "x"]));
    assert_eq!(post["schedule"]["kind"], "days");
    assert_eq!(post["schedule"]["skip_weekends"], true);
    assert_eq!(post["expires_at"], expires);
    assert_eq!(post["status"], "scheduled");
    assert_eq!(post["in_bin"], false);
    assert!(post["image_url"].is_null());
    assert!(post["created_at"].as_str().is_some());

    let draft = create(
        &acme,
        ADMIN,
        json!({"text": "Not yet", "providers": ["linkedin"], "draft": true}),
    )
    .await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(
        draft["schedule"],
        json!({"kind": "now"}),
        "the schedule defaults to now"
    );
    let listed = feed(&acme, ADMIN).await;
    assert_eq!(
        ids(&listed),
        vec![draft["id"].as_i64().unwrap(), post["id"].as_i64().unwrap()]
    );
}

#[tokio::test]
async fn invalid_posts_are_refused_with_the_reason_and_nothing_is_stored() {
    let acme = acme().await;
    let cases = [
        (json!({"text": "   ", "providers": ["linkedin"]}), "text"),
        (json!({"text": "a".repeat(281), "providers": ["x"]}), "text"),
        (
            json!({"text": "Hello", "providers": ["myspace"]}),
            "providers",
        ),
        (
            json!({"text": "Hello", "providers": ["linkedin"],
                   "schedule": {"kind": "at", "date": "2020-01-01", "time": "10:00:00"}}),
            "schedule",
        ),
        (
            json!({"text": "Hello", "providers": ["linkedin"], "recipients": [999_999]}),
            "recipients",
        ),
        (
            json!({"text": "Hello", "providers": ["instagram"]}),
            "image",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = acme
            .api(ADMIN, Method::POST, "/teams/acme/posts", Some(body.clone()))
            .await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], "invalid", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.to_lowercase().contains(field), "{message}");
    }
    assert!(feed(&acme, ADMIN).await.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn an_ambassador_cannot_create_a_post() {
    let acme = acme().await;
    let (status, body) = acme
        .api(
            AMY,
            Method::POST,
            "/teams/acme/posts",
            Some(json!({"text": "Mine", "providers": ["linkedin"]})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(feed(&acme, ADMIN).await.is_empty());
}

async fn an_ambassadors_feed_lists_only_what_was_delivered_to_them_with_their_accounts() {
    let acme = acme().await;
    acme.sandbox_member("linkedin", "li-amy").await;
    let linkedin = acme.connect_personal(AMY, "linkedin", "li-amy").await;
    let (amy, bob) = (user_id(&acme, AMY).await, user_id(&acme, BOB).await);
    let to_amy = suggest(&acme, "For Amy", json!([amy])).await;
    let to_bob = suggest(&acme, "For Bob", json!([bob])).await;
    let later = create(
        &acme,
        ADMIN,
        json!({"text": "Next year", "providers": ["linkedin"],
               "schedule": {"kind": "at", "date": "2030-06-03", "time": "10:00:00"}}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    // The app's own delivery runner may get there first: dispatching again
    // changes nothing then.
    dispatch(&acme).await;
    let amys = feed(&acme, AMY).await;
    assert_eq!(
        ids(&amys),
        vec![to_amy],
        "next year's post is planned for Amy too, and not in her feed before it is delivered"
    );
    let post = &amys[0];
    assert_eq!(post["text"], "For Amy");
    assert_eq!(post["delivery"]["state"], "delivered");
    assert!(post["delivery"]["id"].as_i64().is_some());
    assert_eq!(
        post["targets"],
        json!([{"connection_id": linkedin, "provider": "linkedin", "name": "li-amy",
                "kind": "personal", "status": "active"}])
    );
    assert_eq!(ids(&feed(&acme, BOB).await), vec![to_bob]);
    let mut every = ids(&feed(&acme, ADMIN).await);
    every.sort_unstable();
    assert_eq!(every, vec![to_amy, to_bob, later]);

    // A connection that broke is offered with its state, for a reconnect first.
    acme.member_action("linkedin", "li-amy", "revoke", json!({}))
        .await;
    assert_eq!(acme.check(AMY, linkedin).await["status"], "broken");
    assert_eq!(feed(&acme, AMY).await[0]["targets"][0]["status"], "broken");
}

async fn a_rejected_suggestion_shows_rejected_in_the_feed() {
    let acme = acme().await;
    let amy = user_id(&acme, AMY).await;
    let post = suggest(&acme, "For Amy", json!([amy])).await;
    dispatch(&acme).await;
    let delivery = delivery_of(&acme, AMY, post).await;
    let path = format!("/teams/acme/deliveries/{delivery}/reject");

    let (status, body) = acme.api(AMY, Method::POST, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "rejected");
    let amys = feed(&acme, AMY).await;
    assert_eq!(find(&amys, post).unwrap()["delivery"]["state"], "rejected");

    let (status, body) = acme.api(AMY, Method::POST, &path, None).await;
    assert_eq!(status, 410, "a decision is taken once: {body}");
    assert_eq!(body["error"]["code"], "link_closed");
}

async fn a_suggestion_put_off_until_later_leaves_the_feed_and_the_past_is_refused() {
    let acme = acme().await;
    let amy = user_id(&acme, AMY).await;
    let post = suggest(&acme, "For Amy", json!([amy])).await;
    dispatch(&acme).await;
    let delivery = delivery_of(&acme, AMY, post).await;
    let path = format!("/teams/acme/deliveries/{delivery}/reschedule");

    let past = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let (status, body) = acme
        .api(AMY, Method::POST, &path, Some(json!({"at": past})))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid");
    assert!(find(&feed(&acme, AMY).await, post).is_some());

    let later = Utc::now() + Duration::hours(3);
    let (status, body) = acme
        .api(
            AMY,
            Method::POST,
            &path,
            Some(json!({"at": later.to_rfc3339()})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "pending");
    let due: chrono::DateTime<Utc> = body["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due.timestamp(), later.timestamp());
    assert!(
        find(&feed(&acme, AMY).await, post).is_none(),
        "it comes back at the chosen time"
    );
}

#[tokio::test]
async fn another_members_delivery_is_not_found() {
    let acme = acme().await;
    let amy = user_id(&acme, AMY).await;
    let post = suggest(&acme, "For Amy", json!([amy])).await;
    dispatch(&acme).await;
    let delivery = delivery_of(&acme, AMY, post).await;
    let later = (Utc::now() + Duration::hours(3)).to_rfc3339();
    for (action, body) in [("reject", None), ("reschedule", Some(json!({"at": later})))] {
        let path = format!("/teams/acme/deliveries/{delivery}/{action}");
        let (status, answer) = acme.api(BOB, Method::POST, &path, body).await;
        assert_eq!(status, 404, "{action}: {answer}");
        assert_eq!(answer["error"]["code"], "not_found");
    }
    let amys = feed(&acme, AMY).await;
    assert_eq!(find(&amys, post).unwrap()["delivery"]["state"], "delivered");
}

#[tokio::test]
async fn another_teams_post_is_not_found() {
    let acme = acme().await;
    acme.app.core.create_team("globex", "Globex").await.unwrap();
    acme.app
        .core
        .add_user(
            "globex",
            "gina@globex.example",
            "Gina Globex",
            Role::Admin,
            PASSWORD.to_owned().into(),
        )
        .await
        .unwrap();
    let gina = token(&acme, "gina@globex.example").await;
    let (status, theirs) = api_as(
        &acme,
        &gina,
        Method::POST,
        "/teams/globex/posts",
        json!({"text": "Globex news", "providers": ["linkedin"]}),
    )
    .await;
    assert_eq!(status, 201, "{theirs}");
    let id = theirs["id"].as_i64().unwrap();

    for (method, path) in [
        (Method::GET, format!("/teams/acme/posts/{id}")),
        (Method::DELETE, format!("/teams/acme/posts/{id}")),
        (Method::POST, format!("/teams/acme/posts/{id}/archive")),
        (Method::GET, format!("/teams/globex/posts/{id}")),
        (Method::GET, "/teams/globex/posts".to_owned()),
    ] {
        let (status, body) = acme.api(ADMIN, method.clone(), &path, None).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    let (status, still) = api_as(
        &acme,
        &gina,
        Method::GET,
        &format!("/teams/globex/posts/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(still["status"], "scheduled");
    assert_eq!(still["in_bin"], false);
}

#[tokio::test]
async fn a_post_goes_to_the_bin_comes_back_and_is_archived() {
    let acme = acme().await;
    let post = suggest(&acme, "For everyone", Value::Null).await;
    let post_path = format!("/teams/acme/posts/{post}");

    let (status, _) = acme.api(ADMIN, Method::DELETE, &post_path, None).await;
    assert_eq!(status, 204);
    assert!(find(&feed(&acme, ADMIN).await, post).is_none());
    assert_eq!(detail(&acme, post).await["in_bin"], true);
    dispatch(&acme).await;
    assert!(
        feed(&acme, AMY).await.is_empty(),
        "nothing in the bin is delivered"
    );
    let (status, _) = acme
        .api(AMY, Method::POST, &format!("{post_path}/restore"), None)
        .await;
    assert_eq!(status, 403, "ambassadors cannot restore");

    let (status, _) = acme
        .api(ADMIN, Method::POST, &format!("{post_path}/restore"), None)
        .await;
    assert_eq!(status, 204);
    assert!(find(&feed(&acme, ADMIN).await, post).is_some());
    dispatch(&acme).await;
    assert_eq!(ids(&feed(&acme, AMY).await), vec![post]);

    let (status, _) = acme
        .api(ADMIN, Method::POST, &format!("{post_path}/archive"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(detail(&acme, post).await["status"], "archived");
}

#[tokio::test]
async fn an_admin_follows_a_post_and_reminds_those_who_have_not_decided() {
    let acme = acme().await;
    let (amy, bob) = (user_id(&acme, AMY).await, user_id(&acme, BOB).await);
    let post = suggest(&acme, "For both", json!([amy, bob])).await;
    dispatch(&acme).await;
    let delivery = delivery_of(&acme, AMY, post).await;
    let (status, _) = acme
        .api(
            AMY,
            Method::POST,
            &format!("/teams/acme/deliveries/{delivery}/reject"),
            None,
        )
        .await;
    assert_eq!(status, 200);

    let shown = detail(&acme, post).await;
    assert_eq!(shown["text"], "For both");
    assert_eq!(shown["recipients"], json!([amy, bob]));
    assert_eq!(
        shown["deliveries"],
        json!({"pending": 0, "delivered": 1, "shared": 0, "rejected": 1, "expired": 0})
    );
    let (status, _) = acme
        .api(AMY, Method::GET, &format!("/teams/acme/posts/{post}"), None)
        .await;
    assert_eq!(status, 403, "the follow-up is for admins");

    let remind = format!("/teams/acme/posts/{post}/remind");
    let (status, body) = acme.api(ADMIN, Method::POST, &remind, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reminded"], 1, "only Bob has not decided");

    acme.api(
        ADMIN,
        Method::POST,
        &format!("/teams/acme/posts/{post}/archive"),
        None,
    )
    .await;
    let (status, body) = acme.api(ADMIN, Method::POST, &remind, None).await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn a_suggestion_to_a_page_waits_for_its_owner_unless_auto_approve_is_on() {
    let acme = acme().await;
    acme.sandbox_member("facebook", "fb-ada").await;
    acme.sandbox_page("facebook", "fb-ada", "Acme").await;
    let page = acme.connect_pages("facebook", "fb-ada").await[0];
    let max = second_admin(&acme).await;
    let to_page = json!({"text": "On our page", "pages": [page]});

    let (status, post) = api_as(
        &acme,
        &max,
        Method::POST,
        "/teams/acme/posts",
        to_page.clone(),
    )
    .await;
    assert_eq!(status, 201, "{post}");
    assert_eq!(post["providers"], json!(["facebook"]));
    let (status, waiting) = acme
        .api(ADMIN, Method::GET, "/teams/acme/approvals", None)
        .await;
    assert_eq!(status, 200, "{waiting}");
    let waiting = waiting["approvals"].as_array().unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0]["state"], "pending");
    assert_eq!(waiting[0]["page_id"], page);
    assert_eq!(waiting[0]["post"]["id"], post["id"]);
    let approval = waiting[0]["id"].as_i64().unwrap();
    let decide = format!("/teams/acme/approvals/{approval}");

    let (status, _) = api_as(&acme, &max, Method::POST, &decide, json!({"approve": true})).await;
    assert_eq!(status, 403, "only the page's owner answers");
    let (status, decided) = acme
        .api(ADMIN, Method::POST, &decide, Some(json!({"approve": true})))
        .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["state"], "approved");
    let (status, _) = acme
        .api(
            ADMIN,
            Method::POST,
            &decide,
            Some(json!({"approve": false})),
        )
        .await;
    assert_eq!(status, 409, "answered once");

    let auto = format!("/teams/acme/pages/{page}/auto-approve");
    let (status, _) = api_as(&acme, &max, Method::PUT, &auto, json!({"on": true})).await;
    assert_eq!(status, 403, "only the owner turns on Auto Approve");
    let (status, _) = acme
        .api(ADMIN, Method::PUT, &auto, Some(json!({"on": true})))
        .await;
    assert_eq!(status, 204);
    let (_, second) = api_as(&acme, &max, Method::POST, "/teams/acme/posts", to_page).await;
    let second = detail(&acme, second["id"].as_i64().unwrap()).await;
    assert_eq!(second["approvals"][0]["state"], "approved");
    assert_eq!(second["pages"][0]["connection_id"], page);
    let (_, waiting) = acme
        .api(ADMIN, Method::GET, "/teams/acme/approvals", None)
        .await;
    assert!(waiting["approvals"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_uploaded_image_is_checked_by_its_bytes_and_carried_by_an_instagram_post() {
    let acme = acme().await;
    let upload = |who: &'static str, bytes: Vec<u8>| {
        let request = acme
            .app
            .http
            .post(acme.app.url("/api/v1/teams/acme/images"))
            .bearer_auth(acme.token(who))
            .header("content-type", "text/plain")
            .body(bytes);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, image) = upload(ADMIN, PNG.to_vec()).await;
    assert_eq!(status, 201, "{image}");
    let url = image["url"].as_str().unwrap().to_owned();
    assert!(url.contains("/media/"), "{url}");

    let (status, body) = upload(ADMIN, b"<svg onload=alert(1)>".to_vec()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(upload(AMY, PNG.to_vec()).await.0, 403);
    let mut huge = PNG.to_vec();
    huge.resize(6 * 1024 * 1024, 0);
    assert_eq!(upload(ADMIN, huge).await.0, 413);

    let post = create(
        &acme,
        ADMIN,
        json!({"text": "Look", "providers": ["instagram"], "image_id": image["id"]}),
    )
    .await;
    assert_eq!(post["image_id"], image["id"]);
    assert_eq!(post["image_url"], url.as_str());
    assert_eq!(feed(&acme, ADMIN).await[0]["image_url"], url.as_str());
}

#[tokio::test]
async fn a_member_sets_their_time_zone_and_email_notifications() {
    let acme = acme().await;
    let (status, settings) = acme.api(AMY, Method::GET, "/me/settings", None).await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["time_zone"], "UTC");
    assert_eq!(
        settings["email_notifications"],
        json!(["suggestion", "approval", "share_reminder"])
    );

    let (status, settings) = acme
        .api(
            AMY,
            Method::PATCH,
            "/me/settings",
            Some(json!({"time_zone": "Europe/Paris", "email_notifications": ["approval"]})),
        )
        .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["time_zone"], "Europe/Paris");
    assert_eq!(settings["email_notifications"], json!(["approval"]));

    for bad in [
        json!({"time_zone": "Mars/Olympus", "email_notifications": []}),
        json!({"time_zone": "Asia/Tokyo", "email_notifications": ["gossip"]}),
    ] {
        let (status, body) = acme
            .api(AMY, Method::PATCH, "/me/settings", Some(bad.clone()))
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid");
    }
    let (_, unchanged) = acme.api(AMY, Method::GET, "/me/settings", None).await;
    assert_eq!(unchanged, settings, "nothing changed");
    let (_, bobs) = acme.api(BOB, Method::GET, "/me/settings", None).await;
    assert_eq!(
        bobs["time_zone"], "UTC",
        "another member's settings are their own"
    );
}

#[tokio::test]
async fn the_feed_comes_a_page_at_a_time_and_answers_304_until_it_changes() {
    let acme = acme().await;
    for text in ["First", "Second", "Third"] {
        suggest(&acme, text, Value::Null).await;
    }
    let page = |path: String, etag: Option<String>| {
        let acme = &acme;
        async move {
            let mut request = acme
                .app
                .http
                .get(acme.app.url(&format!("/api/v1{path}")))
                .bearer_auth(acme.token(ADMIN));
            if let Some(etag) = etag {
                request = request.header("If-None-Match", etag);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let etag = response.headers()["etag"].to_str().unwrap().to_owned();
            (status, etag, response.json().await.unwrap_or(Value::Null))
        }
    };
    let texts = |body: &Value| -> Vec<String> {
        body["posts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["text"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, etag, first) = page("/teams/acme/posts?limit=2".into(), None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(texts(&first), ["Third", "Second"], "newest first");
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, _, rest) = page(format!("/teams/acme/posts?limit=2&cursor={cursor}"), None).await;
    assert_eq!(texts(&rest), ["First"]);
    assert!(rest["next_cursor"].is_null(), "the last page");

    let (status, same, _) = page("/teams/acme/posts?limit=2".into(), Some(etag.clone())).await;
    assert_eq!((status, &same), (304, &etag), "nothing changed");
    suggest(&acme, "Fourth", Value::Null).await;
    let (status, changed, body) =
        page("/teams/acme/posts?limit=2".into(), Some(etag.clone())).await;
    assert_eq!(status, 200);
    assert_ne!(changed, etag);
    assert_eq!(texts(&body), ["Fourth", "Third"]);
}
