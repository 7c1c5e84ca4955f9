//! The sharing engine against the sandbox over real HTTP: a target is
//! published at most once whatever the clicks or crashes, a share to a broken
//! personal account publishes nothing until the member reconnects and shares
//! again, a connection that breaks before publishing holds its target, and a
//! text too long for X is refused before anything is sent.

use crate::connections::{acme, Acme, ADMIN, AMY};
use crate::helpers::runner;
use apostle_core::posts::PostInput;
use apostle_core::sharing::ShareOutcome;
use apostle_core::store::ShareTarget;
use apostle_core::teams::TeamAccess;
use apostle_core::Clock;
use apostle_domain::{AccountId, EmailAddress, PostId, ShareStatus};
use serde_json::{json, Value};

pub(crate) async fn access(acme: &Acme, email: &str) -> TeamAccess {
    let core = &acme.app.core;
    let user = {
        let mut tx = core.store.begin_read().await.unwrap();
        tx.user_by_email(&EmailAddress::parse(email).unwrap())
            .await
            .unwrap()
            .unwrap()
    };
    core.team_access("acme", &user).await.unwrap()
}

/// A post from Ada to everyone, delivered now.
pub(crate) async fn suggest(acme: &Acme, text: &str) -> PostId {
    let core = &acme.app.core;
    let post = core
        .create_post(
            &access(acme, ADMIN).await,
            PostInput {
                text: text.to_owned(),
                link: Some("https://acme.example/news".to_owned()),
                providers: vec!["linkedin".to_owned(), "x".to_owned()],
                ..PostInput::default()
            },
        )
        .await
        .unwrap();
    core.dispatch_due_deliveries().await.unwrap();
    post.id
}

pub(crate) async fn published(acme: &Acme, provider: &str) -> Vec<Value> {
    let posts = acme
        .app
        .http
        .get(
            acme.app
                .url(&format!("/sandbox/admin/posts?provider={provider}")),
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    posts.as_array().unwrap().clone()
}

pub(crate) async fn share(
    acme: &Acme,
    post: PostId,
    account: i64,
    key: Option<&str>,
) -> Vec<ShareTarget> {
    match acme
        .app
        .core
        .share_post(
            &access(acme, AMY).await,
            post,
            &[AccountId(account)],
            None,
            key,
        )
        .await
        .unwrap()
    {
        ShareOutcome::Queued(targets) => targets,
        other => panic!("expected queued targets, got {other:?}"),
    }
}

pub(crate) async fn target(acme: &Acme, t: &ShareTarget) -> ShareTarget {
    let mut tx = acme.app.core.store.begin_read().await.unwrap();
    tx.share_target(t.id).await.unwrap().unwrap()
}

/// The target once its publish job is done: this test's runner and the
/// app's own may each have run it.
pub(crate) async fn settled(acme: &Acme, t: &ShareTarget) -> ShareTarget {
    for _ in 0..300 {
        runner(&acme.app.core).run_pending().await.unwrap();
        let now = target(acme, t).await;
        if !matches!(now.status, ShareStatus::Queued | ShareStatus::Publishing) {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the share target never settled");
}

crate::on_both_backends!(
    a_double_clicked_share_to_x_publishes_exactly_one_tweet,
    a_share_to_a_broken_x_publishes_nothing_until_reconnected_and_shared_again,
    a_share_to_a_broken_linkedin_publishes_nothing_until_reconnected_and_shared_again,
);

async fn a_double_clicked_share_to_x_publishes_exactly_one_tweet() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy-share").await;
    let x = acme.connect_personal(AMY, "x", "x-amy-share").await;
    let post = suggest(&acme, "We are hiring in Lyon").await;

    let first = share(&acme, post, x, Some("tap-1")).await;
    let again = share(&acme, post, x, Some("tap-1")).await;
    let other_tab = share(&acme, post, x, None).await;
    assert_eq!(first[0].id, again[0].id, "the same key finds its target");
    assert_eq!(first[0].id, other_tab[0].id, "one live target per account");
    let done = settled(&acme, &first[0]).await;
    runner(&acme.app.core).run_pending().await.unwrap();

    let tweets = published(&acme, "x").await;
    assert_eq!(tweets.len(), 1, "{tweets:?}");
    assert!(tweets[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("We are hiring in Lyon"));
    assert_eq!(done.status, ShareStatus::Published);
    assert_eq!(done.provider_post_id.as_deref(), tweets[0]["id"].as_str());
    assert_eq!(done.attempts, 1);
}

async fn a_share_to_a_broken_x_publishes_nothing_until_reconnected_and_shared_again() {
    reconnect_first_then_share_again("x", "x-amy-broken").await;
}

async fn a_share_to_a_broken_linkedin_publishes_nothing_until_reconnected_and_shared_again() {
    reconnect_first_then_share_again("linkedin", "li-amy-broken").await;
}

/// Amy's personal account at `provider` is broken: sharing answers
/// "reconnect first" and publishes nothing, the reconnect publishes
/// nothing, and sharing again publishes exactly one post.
async fn reconnect_first_then_share_again(provider: &str, handle: &str) {
    let acme = acme().await;
    acme.sandbox_member(provider, handle).await;
    let account = acme.connect_personal(AMY, provider, handle).await;
    acme.member_action(provider, handle, "revoke", json!({}))
        .await;
    assert_eq!(acme.check(AMY, account).await["status"], "broken");
    let post = suggest(&acme, "Reconnect, then share").await;

    let outcome = acme
        .app
        .core
        .share_post(
            &access(&acme, AMY).await,
            post,
            &[AccountId(account)],
            None,
            None,
        )
        .await
        .unwrap();
    let ShareOutcome::ReconnectFirst { account: broken } = outcome else {
        panic!("expected a reconnect first, got {outcome:?}");
    };
    assert_eq!(broken.id.0, account);
    runner(&acme.app.core).run_pending().await.unwrap();
    assert!(
        published(&acme, provider).await.is_empty(),
        "nothing before the reconnect"
    );

    let url = acme.start_reconnect(AMY, account).await;
    let outcome = acme.run_flow(&url, handle).await;
    assert_eq!(outcome.status, "reconnected", "{outcome:?}");
    runner(&acme.app.core).run_pending().await.unwrap();
    assert!(
        published(&acme, provider).await.is_empty(),
        "reconnecting shares nothing by itself"
    );

    let targets = share(&acme, post, account, None).await;
    assert_eq!(
        settled(&acme, &targets[0]).await.status,
        ShareStatus::Published
    );
    assert_eq!(
        published(&acme, provider).await.len(),
        1,
        "exactly one post"
    );
}

/// A target left `publishing` by a worker that died during the provider
/// call, with its job due again (its lease gone).
async fn interrupted(
    acme: &Acme,
    post: PostId,
    account: i64,
    provider: &str,
    text: &str,
) -> ShareTarget {
    let amy = access(acme, AMY).await;
    let now = chrono::Utc::now();
    let mut tx = acme.app.core.store.begin().await.unwrap();
    let made = tx
        .add_share_target(&apostle_core::store::NewShareTarget {
            team_id: amy.team.id,
            post_id: post,
            user_id: amy.user.id,
            account_id: AccountId(account),
            provider: provider.to_owned(),
            text: text.to_owned(),
            idempotency_key: format!("crash-{provider}"),
            created_at: now,
        })
        .await
        .unwrap()
        .unwrap();
    assert!(tx
        .move_share_target(
            made.id,
            &[ShareStatus::Queued],
            ShareStatus::Publishing,
            None,
            None,
            now
        )
        .await
        .unwrap());
    apostle_core::jobs::enqueue(
        &mut *tx,
        &apostle_core::sharing::publish::PublishTarget { target: made.id },
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    made
}

#[tokio::test]
async fn an_interrupted_publish_that_never_reached_x_is_published_once_after_looking() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy-crash").await;
    let x = acme.connect_personal(AMY, "x", "x-amy-crash").await;
    let post = suggest(&acme, "Crash-proof sharing").await;
    let made = interrupted(&acme, post, x, "x", "Crash-proof sharing").await;
    assert_eq!(settled(&acme, &made).await.status, ShareStatus::Published);
    assert_eq!(published(&acme, "x").await.len(), 1);
}

#[tokio::test]
async fn an_interrupted_publish_that_x_accepted_is_found_and_never_posted_twice() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy-accepted").await;
    let x = acme.connect_personal(AMY, "x", "x-amy-accepted").await;
    let post = suggest(&acme, "Posted once, saved never").await;
    let targets = share(&acme, post, x, None).await;
    let first = settled(&acme, &targets[0]).await;
    assert_eq!(first.status, ShareStatus::Published);
    // As if the worker died after X accepted and before the answer was saved.
    let mut tx = acme.app.core.store.begin().await.unwrap();
    tx.move_share_target(
        first.id,
        &[ShareStatus::Published],
        ShareStatus::Publishing,
        None,
        None,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    apostle_core::jobs::enqueue(
        &mut *tx,
        &apostle_core::sharing::publish::PublishTarget { target: first.id },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let recovered = settled(&acme, &first).await;
    assert_eq!(recovered.status, ShareStatus::Published);
    assert_eq!(recovered.provider_post_id, first.provider_post_id);
    assert_eq!(published(&acme, "x").await.len(), 1, "exactly one tweet");
}

#[tokio::test]
async fn an_interrupted_publish_the_provider_cannot_tell_about_asks_the_member() {
    let acme = acme().await;
    // LinkedIn lets only approved apps read a member's posts.
    acme.sandbox_member("linkedin", "li-amy-crash").await;
    let linkedin = acme.connect_personal(AMY, "linkedin", "li-amy-crash").await;
    let post = suggest(&acme, "Cannot tell").await;
    let made = interrupted(&acme, post, linkedin, "linkedin", "Cannot tell").await;
    let after = settled(&acme, &made).await;
    assert_eq!(after.status, ShareStatus::Unsure);
    assert!(after
        .error
        .unwrap()
        .contains("could not tell whether this went out"));
    assert!(
        published(&acme, "linkedin").await.is_empty(),
        "not called again blindly"
    );
    assert_eq!(
        acme.check(AMY, linkedin).await["status"],
        "active",
        "a lookup it may not make does not break the connection"
    );
}

#[tokio::test]
async fn a_connection_broken_before_publishing_holds_the_share_waiting_for_the_reconnect() {
    let acme = acme().await;
    acme.sandbox_member("linkedin", "li-amy-held").await;
    let linkedin = acme.connect_personal(AMY, "linkedin", "li-amy-held").await;
    let post = suggest(&acme, "Held, not lost").await;
    // Revoked at LinkedIn; Apostle has not noticed yet when Amy shares.
    acme.member_action("linkedin", "li-amy-held", "revoke", json!({}))
        .await;
    let before = acme.emails(AMY, "connection_broken").await.len();
    let targets = share(&acme, post, linkedin, None).await;

    assert_eq!(
        settled(&acme, &targets[0]).await.status,
        ShareStatus::WaitingForReconnect
    );
    assert!(published(&acme, "linkedin").await.is_empty());
    assert_eq!(
        acme.emails(AMY, "connection_broken").await.len(),
        before + 1,
        "the break is confirmed and emailed once"
    );
    let waiting = acme
        .app
        .core
        .waiting_for_reconnect(&access(&acme, AMY).await)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1);

    use crate::connections::web::Web;
    let amy = Web::sign_in(&acme, AMY).await;
    let (_, team) = amy.follow("/t/acme").await;
    assert!(team.contains("1 post is waiting"), "{team}");
    let (_, page) = amy.follow("/t/acme/waiting").await;
    assert!(page.contains("Reconnect first"), "{page}");
    let url = acme.start_reconnect(AMY, linkedin).await;
    assert_eq!(
        acme.run_flow(&url, "li-amy-held").await.status,
        "reconnected"
    );
    runner(&acme.app.core).run_pending().await.unwrap();
    assert!(
        published(&acme, "linkedin").await.is_empty(),
        "a reconnect shares nothing by itself"
    );
    let (_, page) = amy.follow("/t/acme/waiting").await;
    assert!(
        page.contains("Ready to share") && page.contains("Share now"),
        "{page}"
    );
    let pressed = amy
        .post(
            "/t/acme/waiting",
            &[
                ("target", &targets[0].id.0.to_string()),
                ("action", "share"),
            ],
        )
        .await;
    assert_eq!(pressed.status(), 303);
    assert_eq!(
        settled(&acme, &targets[0]).await.status,
        ShareStatus::Published
    );
    assert_eq!(published(&acme, "linkedin").await.len(), 1);
    let (_, team) = amy.follow("/t/acme").await;
    assert!(!team.contains("is waiting"), "{team}");
}

#[tokio::test]
async fn a_text_over_280_characters_for_x_is_refused_before_anything_is_sent() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy-long").await;
    let x = acme.connect_personal(AMY, "x", "x-amy-long").await;
    let post = suggest(&acme, "Short enough").await;
    let long = "a".repeat(270);
    let refused = acme
        .app
        .core
        .share_post(
            &access(&acme, AMY).await,
            post,
            &[AccountId(x)],
            Some(&long),
            None,
        )
        .await;
    assert!(
        matches!(refused, Err(apostle_core::CoreError::Invalid(_))),
        "{refused:?}"
    );
    runner(&acme.app.core).run_pending().await.unwrap();
    assert!(published(&acme, "x").await.is_empty());
}

/// Amy's X, connected as `handle` and then broken at X by `action`
/// (and noticed by Apostle).
async fn broken_x(acme: &Acme, handle: &str, action: &str) -> i64 {
    acme.sandbox_member("x", handle).await;
    let x = acme.connect_personal(AMY, "x", handle).await;
    acme.member_action("x", handle, action, json!({})).await;
    assert_eq!(acme.check(AMY, x).await["status"], "broken");
    x
}

/// Back on the post after the reconnect (its page's `html`): it says nothing
/// was shared and X has nothing; Share now publishes exactly one tweet.
async fn share_now_after_the_reconnect(
    acme: &Acme,
    amy: &crate::connections::web::Web<'_>,
    html: &str,
    page: &str,
    post: PostId,
    x: i64,
) {
    assert!(
        html.contains("Reconnected — your post has not been shared yet"),
        "{html}"
    );
    assert!(html.contains(">Share now</button>"), "{html}");
    runner(&acme.app.core).run_pending().await.unwrap();
    assert!(
        published(acme, "x").await.is_empty(),
        "nothing without the press"
    );
    let shared = amy
        .post(&format!("{page}/share"), &[("target", &x.to_string())])
        .await;
    assert_eq!(shared.status(), 303);
    assert_eq!(
        amys_one_share(acme, post).await.status,
        ShareStatus::Published
    );
    assert_eq!(published(acme, "x").await.len(), 1, "exactly one tweet");
}

/// Amy's one target of `post`, once its publish job is done.
async fn amys_one_share(acme: &Acme, post: PostId) -> ShareTarget {
    let targets = acme
        .app
        .core
        .shares_of(&access(acme, AMY).await, post)
        .await
        .unwrap();
    assert_eq!(targets.len(), 1, "{targets:?}");
    settled(acme, &targets[0]).await
}

/// The path the product is known for, on the web: Amy's X is broken; the
/// suggestion offers to reconnect; Share sends her to X; back on the post it
/// says nothing was shared yet; Share now publishes exactly one tweet.
#[tokio::test]
async fn on_the_web_sharing_to_a_broken_x_reconnects_first_and_shares_only_when_pressed_again() {
    use crate::connections::web::{location, Web};
    let acme = acme().await;
    let x = broken_x(&acme, "x-amy-web", "revoke").await;
    let post = suggest(&acme, "Our X feed is back").await;
    let delivery = {
        let amy = access(&acme, AMY).await;
        let mut tx = acme.app.core.store.begin_read().await.unwrap();
        tx.delivery_of(amy.team.id, post, amy.user.id)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let page = format!("/t/acme/inbox/{delivery}");

    let amy = Web::sign_in(&acme, AMY).await;
    let (_, html) = amy.follow(&page).await;
    assert!(
        html.contains("Disconnected") && html.contains("reconnect first"),
        "{html}"
    );
    let pressed = amy
        .post(&format!("{page}/share"), &[("target", &x.to_string())])
        .await;
    assert_eq!(pressed.status(), 303);
    let authorize = location(&pressed);
    assert!(authorize.contains("/sandbox/x/"), "off to X: {authorize}");
    let callback = acme.consent(&authorize, "x-amy-web", "allow").await;
    let (landed, html) = amy.follow(&callback).await;
    assert!(landed.starts_with(&page), "back on the post: {landed}");
    share_now_after_the_reconnect(&acme, &amy, &html, &page, post, x).await;
    let (_, html) = amy.follow(&page).await;
    assert!(html.contains("Published"), "{html}");
}

#[tokio::test]
async fn through_the_api_a_retried_share_finds_its_target_and_reports_the_published_post() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy-api").await;
    let x = acme.connect_personal(AMY, "x", "x-amy-api").await;
    let post = suggest(&acme, "From the app").await;
    let share = || async {
        let response = acme
            .app
            .http
            .post(acme.app.url(&format!("/api/v1/posts/{}/shares", post.0)))
            .bearer_auth(acme.token(AMY))
            .header("Idempotency-Key", "app-tap-7")
            .json(&json!({"targets": [x]}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    let (status, first) = share().await;
    assert_eq!(status, 201, "{first}");
    let (_, again) = share().await;
    assert_eq!(first["targets"][0]["id"], again["targets"][0]["id"]);
    let id = first["targets"][0]["id"].as_i64().unwrap();
    let target = {
        let mut tx = acme.app.core.store.begin_read().await.unwrap();
        tx.share_target(apostle_domain::ShareTargetId(id))
            .await
            .unwrap()
            .unwrap()
    };
    settled(&acme, &target).await;
    let (status, listed) = acme
        .api(
            AMY,
            reqwest::Method::GET,
            &format!("/posts/{}/shares", post.0),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["targets"][0]["status"], "published", "{listed}");
    assert!(listed["targets"][0]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://x.com/i/web/status/"));
    assert_eq!(published(&acme, "x").await.len(), 1);
    let (status, _) = acme
        .api(
            crate::connections::BOB,
            reqwest::Method::GET,
            "/posts/999999/shares",
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn through_the_api_a_share_to_a_broken_account_answers_reconnect_required_and_shares_nothing()
{
    let acme = acme().await;
    acme.sandbox_member("linkedin", "li-amy-api").await;
    let linkedin = acme.connect_personal(AMY, "linkedin", "li-amy-api").await;
    acme.member_action("linkedin", "li-amy-api", "revoke", json!({}))
        .await;
    assert_eq!(acme.check(AMY, linkedin).await["status"], "broken");
    let post = suggest(&acme, "Needs LinkedIn back").await;
    let (status, body) = acme
        .api(
            AMY,
            reqwest::Method::POST,
            &format!("/posts/{}/shares", post.0),
            Some(json!({"targets": [linkedin], "redirect_uri": crate::connections::APP_LINK})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "reconnect_required");
    assert_eq!(body["error"]["connection_id"], linkedin);
    assert_eq!(body["error"]["provider"], "linkedin");
    let authorize = body["error"]["authorize_url"].as_str().unwrap();
    let callback = acme.consent(authorize, "li-amy-api", "allow").await;
    let back = acme.callback(&callback).await;
    let to = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with(crate::connections::APP_LINK), "{to}");
    assert!(to.contains(&format!("post_id={}", post.0)), "{to}");
    assert!(to.contains("status=reconnected"), "{to}");
    runner(&acme.app.core).run_pending().await.unwrap();
    assert!(
        published(&acme, "linkedin").await.is_empty(),
        "nothing until shared again"
    );
}

#[tokio::test]
async fn a_post_for_facebook_and_instagram_offers_facebooks_dialog_and_a_caption_to_copy() {
    use crate::connections::web::Web;
    let acme = acme().await;
    let core = &acme.app.core;
    let png = b"\x89PNG\r\n\x1a\n-image-".to_vec();
    let ada = access(&acme, ADMIN).await;
    let image = core.store_image(&ada, &png).await.unwrap();
    let post = core
        .create_post(
            &ada,
            PostInput {
                text: "Our new café".to_owned(),
                link: Some("https://acme.example/cafe".to_owned()),
                utm: apostle_domain::Utm {
                    source: Some("apostle".to_owned()),
                    ..Default::default()
                },
                image: Some(image.id),
                providers: vec!["facebook".to_owned(), "instagram".to_owned()],
                ..PostInput::default()
            },
        )
        .await
        .unwrap();
    core.dispatch_due_deliveries().await.unwrap();
    let amy_access = access(&acme, AMY).await;
    let delivery = {
        let mut tx = core.store.begin_read().await.unwrap();
        tx.delivery_of(amy_access.team.id, post.id, amy_access.user.id)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let amy = Web::sign_in(&acme, AMY).await;
    let (_, html) = amy.follow(&format!("/t/acme/inbox/{delivery}")).await;
    assert!(
        html.contains("https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Facme.example%2Fcafe%3Futm_source%3Dapostle"),
        "{html}"
    );
    assert!(
        html.contains("Our new café\n\nhttps://acme.example/cafe?utm_source=apostle"),
        "{html}"
    );
    assert!(html.contains(&format!("/media/{}\" download", image.public_id)));
}

#[tokio::test]
async fn admins_see_shares_per_post_network_and_member_and_ambassadors_do_not() {
    use crate::connections::web::Web;
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy-numbers").await;
    let x = acme.connect_personal(AMY, "x", "x-amy-numbers").await;
    let post = suggest(&acme, "Counted once").await;
    let targets = share(&acme, post, x, None).await;
    assert_eq!(
        settled(&acme, &targets[0]).await.status,
        ShareStatus::Published
    );

    let ada = Web::sign_in(&acme, ADMIN).await;
    let (_, html) = ada.follow("/t/acme/shares").await;
    assert!(
        html.contains("0 shares wait on a broken connection."),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "/t/acme/posts/{}\">Counted once</a></td><td>1</td><td>0</td>",
            post.0
        )),
        "{html}"
    );
    assert!(html.contains("<td>X</td><td>1</td>"), "{html}");
    assert!(html.contains("<td>Amy Ambassador</td><td>1</td>"), "{html}");
    let amy = Web::sign_in(&acme, AMY).await;
    assert_eq!(amy.get("/t/acme/shares").await.status(), 403);
}

/// Amy's delivery of `post`.
async fn delivery_of(acme: &Acme, post: PostId) -> apostle_domain::DeliveryId {
    let amy = access(acme, AMY).await;
    let mut tx = acme.app.core.store.begin_read().await.unwrap();
    tx.delivery_of(amy.team.id, post, amy.user.id)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// The path of the newest suggestion email's `label` link to Amy.
async fn email_link(acme: &Acme, label: &str) -> String {
    let links = crate::posts::links::links_to(acme, AMY).await;
    crate::posts::links::link(&links, label)
}

/// A mail client presses a link's button: no cookies, no redirects followed.
async fn press(acme: &Acme, path: &str) -> reqwest::Response {
    acme.app
        .http
        .post(acme.app.url(path))
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn share_on_x_pressed_in_the_email_publishes_one_tweet_however_often_it_is_pressed() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy-email").await;
    acme.connect_personal(AMY, "x", "x-amy-email").await;
    let post = suggest(&acme, "Straight from the email").await;
    let page = format!("/t/acme/inbox/{}", delivery_of(&acme, post).await);
    let share = email_link(&acme, "Share on X").await;

    let pressed = press(&acme, &share).await;
    assert_eq!(pressed.status(), 200);
    let html = pressed.text().await.unwrap();
    assert!(
        html.contains("Shared: your post is on its way to x-amy-email on X."),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<a href=\"{page}\" id=\"next\">See how it went</a>"
        )),
        "{html}"
    );
    let again = press(&acme, &share).await;
    assert_eq!(again.status(), 410, "the link acted once");

    assert_eq!(
        amys_one_share(&acme, post).await.status,
        ShareStatus::Published
    );
    let tweets = published(&acme, "x").await;
    assert_eq!(tweets.len(), 1, "exactly one tweet: {tweets:?}");
    assert!(tweets[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Straight from the email"));
    let amy = crate::connections::web::Web::sign_in(&acme, AMY).await;
    let (_, html) = amy.follow(&page).await;
    assert!(html.contains("Published"), "{html}");
    let tweet = format!(
        "<a href=\"https://x.com/i/web/status/{}\"",
        tweets[0]["id"].as_str().unwrap()
    );
    assert!(html.contains(&tweet), "the post at X is linked: {html}");
}

#[tokio::test]
async fn after_sharing_on_linkedin_from_the_email_its_share_on_x_still_shares_on_x_once() {
    let acme = acme().await;
    acme.sandbox_member("linkedin", "li-amy-both").await;
    acme.connect_personal(AMY, "linkedin", "li-amy-both").await;
    acme.sandbox_member("x", "x-amy-both").await;
    acme.connect_personal(AMY, "x", "x-amy-both").await;
    let post = suggest(&acme, "Worth it on both networks").await;
    let on_linkedin = email_link(&acme, "Share on LinkedIn").await;
    let on_x = email_link(&acme, "Share on X").await;
    let turn_down = email_link(&acme, "Not for me").await;

    assert_eq!(press(&acme, &on_linkedin).await.status(), 200);
    let pressed = press(&acme, &on_x).await;
    assert_eq!(
        pressed.status(),
        200,
        "the suggestion is shared, not closed"
    );
    let html = pressed.text().await.unwrap();
    assert!(
        html.contains("Shared: your post is on its way to x-amy-both on X."),
        "{html}"
    );
    assert_eq!(
        press(&acme, &on_x).await.status(),
        410,
        "each link acts once"
    );
    let refused = press(&acme, &turn_down).await;
    assert_eq!(refused.status(), 410);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("You already shared this post."));

    runner(&acme.app.core).run_pending().await.unwrap();
    assert_eq!(published(&acme, "linkedin").await.len(), 1);
    assert_eq!(published(&acme, "x").await.len(), 1, "exactly one tweet");
    let amy = access(&acme, AMY).await;
    let mut tx = acme.app.core.store.begin_read().await.unwrap();
    let delivery = tx
        .delivery_of(amy.team.id, post, amy.user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.state, apostle_domain::DeliveryState::Shared);
}

#[tokio::test]
async fn share_on_x_from_the_email_to_a_broken_x_signs_in_reconnects_and_shares_only_on_share_now()
{
    use crate::connections::web::{location, Web};
    let acme = acme().await;
    let x = broken_x(&acme, "x-amy-email-broken", "revoke").await;
    let post = suggest(&acme, "Back on X first").await;
    let page = format!("/t/acme/inbox/{}", delivery_of(&acme, post).await);
    let share = email_link(&acme, "Share on X").await;

    // From the mail client: sign in first, then back to the link.
    let pressed = press(&acme, &share).await;
    assert_eq!(pressed.status(), 303);
    let to = location(&pressed);
    assert_eq!(
        to,
        format!("/login?next={}", urlencoding::encode(&share)),
        "signs in first"
    );
    let amy = Web::sign_in(&acme, AMY).await;
    let pressed = amy.post(&share, &[]).await;
    assert_eq!(pressed.status(), 303);
    let authorize = location(&pressed);
    assert!(authorize.contains("/sandbox/x/"), "off to X: {authorize}");
    runner(&acme.app.core).run_pending().await.unwrap();
    assert!(published(&acme, "x").await.is_empty(), "nothing yet");

    let callback = acme
        .consent(&authorize, "x-amy-email-broken", "allow")
        .await;
    let (landed, html) = amy.follow(&callback).await;
    assert!(landed.starts_with(&page), "back on the post: {landed}");
    share_now_after_the_reconnect(&acme, &amy, &html, &page, post, x).await;
}

#[tokio::test]
async fn share_on_linkedin_from_the_email_without_a_linkedin_connects_it_first_and_shares_nothing()
{
    use crate::connections::web::{location, Web};
    let acme = acme().await;
    acme.sandbox_member("linkedin", "li-amy-new").await;
    let post = suggest(&acme, "Connect, then share").await;
    let page = format!("/t/acme/inbox/{}", delivery_of(&acme, post).await);
    let share = email_link(&acme, "Share on LinkedIn").await;

    let amy = Web::sign_in(&acme, AMY).await;
    let pressed = amy.post(&share, &[]).await;
    assert_eq!(pressed.status(), 303);
    let authorize = location(&pressed);
    assert!(authorize.contains("/sandbox/linkedin/"), "{authorize}");
    let callback = acme.consent(&authorize, "li-amy-new", "allow").await;
    let (landed, html) = amy.follow(&callback).await;
    assert!(landed.starts_with(&page), "back on the post: {landed}");
    assert!(
        html.contains("Connected — your post has not been shared yet"),
        "{html}"
    );
    runner(&acme.app.core).run_pending().await.unwrap();
    assert!(published(&acme, "linkedin").await.is_empty());
}

/// Amy's LinkedIn broke before her share went out: the share is held.
async fn held_on_linkedin(acme: &Acme, handle: &str, text: &str) -> (i64, PostId, ShareTarget) {
    acme.sandbox_member("linkedin", handle).await;
    let linkedin = acme.connect_personal(AMY, "linkedin", handle).await;
    let post = suggest(acme, text).await;
    acme.member_action("linkedin", handle, "revoke", json!({}))
        .await;
    let targets = share(acme, post, linkedin, None).await;
    assert_eq!(
        settled(acme, &targets[0]).await.status,
        ShareStatus::WaitingForReconnect
    );
    (linkedin, post, targets[0].clone())
}

#[tokio::test]
async fn a_held_share_rescheduled_after_the_reconnect_publishes_at_the_chosen_time_and_not_before()
{
    use crate::connections::web::Web;
    let clock = apostle_core::ManualClock::new(chrono::Utc::now());
    let acme = crate::connections::acme_at(
        std::sync::Arc::new(crate::helpers::TestDb::new().await),
        &[],
        std::sync::Arc::new(clock.clone()),
    )
    .await;
    let (linkedin, _, held) = held_on_linkedin(&acme, "li-amy-later", "Later on LinkedIn").await;
    let url = acme.start_reconnect(AMY, linkedin).await;
    assert_eq!(
        acme.run_flow(&url, "li-amy-later").await.status,
        "reconnected"
    );
    let amy = Web::sign_in(&acme, AMY).await;
    let (_, page) = amy.follow("/t/acme/waiting").await;
    assert!(
        page.contains(">Reschedule</button>") && page.contains(">Share now</button>"),
        "{page}"
    );

    let refused = amy
        .post(
            "/t/acme/waiting",
            &[
                ("target", &held.id.0.to_string()),
                ("action", "reschedule"),
                ("at", "2001-01-01T09:00"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 303);
    let (_, page) = amy.follow("/t/acme/waiting").await;
    assert!(page.contains("must be in the future"), "{page}");
    assert_eq!(
        target(&acme, &held).await.status,
        ShareStatus::WaitingForReconnect
    );

    // Amy's time zone is UTC until she chooses one.
    let at = clock.now() + chrono::Duration::hours(2);
    let chosen = at.format("%Y-%m-%dT%H:%M").to_string();
    let pressed = amy
        .post(
            "/t/acme/waiting",
            &[
                ("target", &held.id.0.to_string()),
                ("action", "reschedule"),
                ("at", &chosen),
            ],
        )
        .await;
    assert_eq!(pressed.status(), 303);
    let (_, page) = amy.follow("/t/acme/waiting").await;
    assert!(page.contains("1 post will be shared on"), "{page}");
    assert!(page.contains("Nothing is waiting"), "{page}");
    runner(&acme.app.core).run_pending().await.unwrap();
    let before = target(&acme, &held).await;
    assert_eq!(before.status, ShareStatus::Queued);
    assert!(
        published(&acme, "linkedin").await.is_empty(),
        "not before the chosen time"
    );
    let (_, history) = amy.follow("/t/acme/shares/mine").await;
    assert!(history.contains("Scheduled"), "{history}");
    assert!(history.contains("Goes out on"), "{history}");

    // Even a job run early for it waits for the moment.
    acme.app
        .core
        .publish_target(held.id, false)
        .await
        .expect_err("too early: retried at the chosen moment");
    assert!(published(&acme, "linkedin").await.is_empty());

    clock.advance(chrono::Duration::hours(2));
    assert_eq!(settled(&acme, &held).await.status, ShareStatus::Published);
    assert_eq!(published(&acme, "linkedin").await.len(), 1);
}

#[tokio::test]
async fn the_share_history_lists_each_share_newest_first_with_its_state_link_and_reason() {
    use crate::connections::web::Web;
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy-history").await;
    let x = acme.connect_personal(AMY, "x", "x-amy-history").await;
    let first = suggest(&acme, "Our first post").await;
    let done = share(&acme, first, x, None).await;
    let done = settled(&acme, &done[0]).await;
    assert_eq!(done.status, ShareStatus::Published);
    let (_, _, held) = held_on_linkedin(&acme, "li-amy-history", "Our second post").await;

    let amy = Web::sign_in(&acme, AMY).await;
    let (_, team) = amy.follow("/t/acme").await;
    assert!(
        team.contains("/t/acme/shares/mine\">Your shares</a>"),
        "{team}"
    );
    let (_, html) = amy.follow("/t/acme/shares/mine").await;
    let second_at = html.find("Our second post").expect("the held one listed");
    let first_at = html
        .find("Our first post")
        .expect("the published one listed");
    assert!(second_at < first_at, "newest first: {html}");
    let tweet = format!(
        "https://x.com/i/web/status/{}",
        done.provider_post_id.as_deref().unwrap()
    );
    assert!(html.contains(&format!("<a href=\"{tweet}\"")), "{html}");
    assert!(html.contains("Published"), "{html}");
    let held_row = &html[html.find(&format!("id=\"share-{}\"", held.id.0)).unwrap()..];
    assert!(
        held_row.contains("Waiting for you to reconnect") && held_row.contains("to share it."),
        "{held_row}"
    );
    let (status, api) = acme
        .api(AMY, reqwest::Method::GET, "/teams/acme/shares/mine", None)
        .await;
    assert_eq!(status, 200, "{api}");
    assert_eq!(api["posts"][0]["text"], "Our second post", "{api}");
    assert_eq!(
        api["posts"][0]["targets"][0]["status"],
        "waiting_for_reconnect"
    );
    assert_eq!(api["posts"][1]["targets"][0]["url"], tweet.as_str());
    assert_eq!(api["posts"][1]["targets"][0]["account"], "x-amy-history");
    // Bob, who shares nothing, sees an empty history.
    let bob = Web::sign_in(&acme, crate::connections::BOB).await;
    let (_, html) = bob.follow("/t/acme/shares/mine").await;
    assert!(html.contains("You have not shared any post yet."), "{html}");
}

/// The path the product is known for, in Chromium on a phone: Amy's X is
/// broken at the sandbox; the suggestion offers the reconnect; Share goes
/// to X's consent page; back on the post it says nothing was shared yet
/// and X has nothing; Share now publishes exactly one tweet. Each step
/// fits the screen, passes axe, and is saved under `target/e2e/`.
#[tokio::test]
async fn on_a_phone_amy_reconnects_her_broken_x_inside_sharing_and_share_now_posts_one_tweet() {
    use crate::connections::browser::{consent, shot};
    use apostle_test_browser::{run, PHONE};
    let acme = acme().await;
    broken_x(&acme, "x-amy-phone", "change-password").await;
    let post = suggest(&acme, "Our new office opens Monday").await;
    let page = format!("/t/acme/inbox/{}", delivery_of(&acme, post).await);
    run(PHONE, |browser| async move {
        browser.go(&acme.app.url(&page)).await;
        browser.url_when(|u| u.contains("/login")).await;
        browser.type_into("#email", AMY).await;
        browser
            .type_into("#password", crate::connections::PASSWORD)
            .await;
        browser.click("button[type=submit]").await;
        browser.url_when(|u| u.ends_with(&page)).await;
        let offer = browser.text_of("main").await;
        assert!(offer.contains("reconnect first"), "{offer}");
        shot(&browser, "share-reconnect-1-offer").await;

        browser.click("#share-now").await;
        consent(&browser, "x-amy-phone", "allow", "share-reconnect").await;
        browser.url_when(|u| u.contains("status=reconnected")).await;
        assert_eq!(
            browser.text_of("#reconnected").await,
            "Reconnected — your post has not been shared yet. Press Share now to share it."
        );
        assert_eq!(browser.text_of("#share-now").await, "Share now");
        shot(&browser, "share-reconnect-5-back-on-the-post").await;
        runner(&acme.app.core).run_pending().await.unwrap();
        assert!(
            published(&acme, "x").await.is_empty(),
            "the sandbox has nothing before Share now"
        );

        browser.click("#share-now").await;
        browser.url_when(|u| !u.contains("status=")).await;
        assert_eq!(
            browser.text_of(".notice.ok").await,
            "Shared: your post is on its way."
        );
        assert_eq!(
            amys_one_share(&acme, post).await.status,
            ShareStatus::Published
        );
        browser.go(&acme.app.url(&page)).await;
        let shares = browser.text_of("#shares").await;
        assert!(shares.contains("Published"), "{shares}");
        shot(&browser, "share-reconnect-6-published").await;
        let tweets = published(&acme, "x").await;
        assert_eq!(tweets.len(), 1, "exactly one tweet: {tweets:?}");
    })
    .await;
}
