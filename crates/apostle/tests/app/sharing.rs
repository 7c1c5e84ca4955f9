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

/// The path the product is known for, on the web: Amy's X is broken; the
/// suggestion offers to reconnect; Share sends her to X; back on the post it
/// says nothing was shared yet; Share now publishes exactly one tweet.
#[tokio::test]
async fn on_the_web_sharing_to_a_broken_x_reconnects_first_and_shares_only_when_pressed_again() {
    use crate::connections::web::{location, Web};
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy-web").await;
    let x = acme.connect_personal(AMY, "x", "x-amy-web").await;
    acme.member_action("x", "x-amy-web", "revoke", json!({}))
        .await;
    assert_eq!(acme.check(AMY, x).await["status"], "broken");
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
    assert!(
        html.contains("Reconnected — your post has not been shared yet"),
        "{html}"
    );
    assert!(html.contains(">Share now</button>"));
    runner(&acme.app.core).run_pending().await.unwrap();
    assert!(
        published(&acme, "x").await.is_empty(),
        "nothing without the press"
    );

    let shared = amy
        .post(&format!("{page}/share"), &[("target", &x.to_string())])
        .await;
    assert_eq!(shared.status(), 303);
    let targets = acme
        .app
        .core
        .shares_of(&access(&acme, AMY).await, post)
        .await
        .unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(
        settled(&acme, &targets[0]).await.status,
        ShareStatus::Published
    );
    assert_eq!(published(&acme, "x").await.len(), 1, "exactly one tweet");
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
