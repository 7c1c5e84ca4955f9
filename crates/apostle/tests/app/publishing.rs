//! Publishing against the sandbox over real HTTP, on an app whose clock the
//! test moves: a provider outage keeps a target queued with backoff until it
//! ends, a rate limit holds it until the provider's reset, a connection that
//! breaks during the provider call holds the target for the owner's
//! reconnect and Share now, Instagram's "media not ready" is waited out, and
//! an approved suggestion to a business page goes out once, at the post's
//! moment, or waits for the page's reconnect.

use crate::connections::{acme, acme_at, Acme, ADMIN, AMY, PASSWORD};
use crate::helpers::{runner, TestDb};
use crate::sharing::{access, published, settled, share, suggest, target};
use apostle_core::posts::PostInput;
use apostle_core::sharing::ShareOutcome;
use apostle_core::store::ShareTarget;
use apostle_core::ManualClock;
use apostle_domain::{AccountId, PostId, Role, Schedule, ShareStatus};
use chrono::{Duration, DurationRound, Utc};
use serde_json::json;
use std::sync::Arc;

const EVE: &str = "eve@acme.example";
const BROKEN: &str = "connection_broken";

/// Team acme on an app whose clock stands still until the test moves it.
async fn acme_on_clock() -> (Acme, ManualClock) {
    let clock = ManualClock::new(Utc::now());
    let acme = acme_at(Arc::new(TestDb::new().await), &[], Arc::new(clock.clone())).await;
    (acme, clock)
}

/// The target once a publish run has tried it `attempts` times and put it
/// back: this test's runner and the app's own may each have run it.
async fn tried(acme: &Acme, t: &ShareTarget, attempts: i32) -> ShareTarget {
    for _ in 0..300 {
        runner(&acme.app.core).run_pending().await.unwrap();
        let now = target(acme, t).await;
        if now.attempts >= attempts && now.status != ShareStatus::Publishing {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the share target was never tried {attempts} times");
}

/// `who` reconnects `account` as sandbox member `handle`: nothing goes out
/// by that alone.
async fn reconnect_publishes_nothing(
    acme: &Acme,
    who: &str,
    account: i64,
    handle: &str,
    provider: &str,
) {
    let url = acme.start_reconnect(who, account).await;
    assert_eq!(acme.run_flow(&url, handle).await.status, "reconnected");
    runner(&acme.app.core).run_pending().await.unwrap();
    assert!(
        published(acme, provider).await.is_empty(),
        "a reconnect publishes nothing by itself"
    );
}

/// `who` presses Share now on a held share: exactly one post goes out.
async fn share_now_publishes_one(acme: &Acme, who: &str, held: &ShareTarget, provider: &str) {
    let moved = acme
        .app
        .core
        .resume_waiting(
            &access(acme, who).await,
            &[held.id],
            apostle_core::sharing::HeldChoice::ShareNow,
        )
        .await
        .unwrap();
    assert_eq!(moved, 1);
    assert_eq!(settled(acme, held).await.status, ShareStatus::Published);
    assert_eq!(published(acme, provider).await.len(), 1, "exactly one post");
}

async fn status_of(acme: &Acme, who: &str, account: i64) -> String {
    acme.connection(who, account).await["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Amy shares to her X while a `kind` fault lasts `seconds` there: the app
/// on a clock the test moves, her X account, and the target after its first
/// try, back in the queue.
async fn shared_during(kind: &str, seconds: u32) -> (Acme, ManualClock, i64, ShareTarget) {
    let (acme, clock) = acme_on_clock().await;
    let handle = format!("x-amy-{kind}");
    acme.sandbox_member("x", &handle).await;
    let x = acme.connect_personal(AMY, "x", &handle).await;
    let post = suggest(&acme, "Through the storm").await;
    acme.sandbox(
        "/faults",
        json!({"provider": "x", "kind": kind, "seconds": seconds}),
    )
    .await;
    let targets = share(&acme, post, x, None).await;
    let first = tried(&acme, &targets[0], 1).await;
    assert_eq!(first.status, ShareStatus::Queued, "{first:?}");
    (acme, clock, x, first)
}

async fn an_outage_at_x_keeps_the_share_queued_with_backoff_and_it_goes_out_after() {
    let (acme, clock, x, first) = shared_during("outage", 600).await;
    runner(&acme.app.core).run_pending().await.unwrap();
    assert_eq!(
        target(&acme, &first).await.attempts,
        1,
        "no retry before the backoff"
    );
    clock.advance(Duration::minutes(1));
    let second = tried(&acme, &first, 2).await;
    assert_eq!(second.status, ShareStatus::Queued, "still out: {second:?}");
    assert!(published(&acme, "x").await.is_empty());
    assert_eq!(
        status_of(&acme, AMY, x).await,
        "active",
        "an outage breaks nothing"
    );
    assert!(acme.emails(AMY, BROKEN).await.is_empty(), "nobody emailed");

    acme.sandbox("/clock/advance", json!({"seconds": 601}))
        .await;
    clock.advance(Duration::hours(1));
    let done = settled(&acme, &second).await;
    assert_eq!(done.status, ShareStatus::Published);
    let tweets = published(&acme, "x").await;
    assert_eq!(tweets.len(), 1, "{tweets:?}");
    assert_eq!(done.provider_post_id.as_deref(), tweets[0]["id"].as_str());
}

crate::on_both_backends!(
    an_outage_at_x_keeps_the_share_queued_with_backoff_and_it_goes_out_after,
    an_approved_page_suggestion_goes_out_once_at_the_posts_moment,
);

#[tokio::test]
async fn a_rate_limit_at_x_holds_the_share_until_its_reset_and_it_goes_out_after() {
    let (acme, clock, x, first) = shared_during("rate-limit", 900).await;
    // Past any backoff, still before X's x-rate-limit-reset.
    clock.advance(Duration::minutes(5));
    runner(&acme.app.core).run_pending().await.unwrap();
    assert_eq!(
        target(&acme, &first).await.attempts,
        1,
        "not before the reset"
    );
    assert!(published(&acme, "x").await.is_empty());
    assert_eq!(status_of(&acme, AMY, x).await, "active");

    acme.sandbox("/clock/advance", json!({"seconds": 901}))
        .await;
    clock.advance(Duration::minutes(11));
    assert_eq!(settled(&acme, &first).await.status, ShareStatus::Published);
    assert_eq!(published(&acme, "x").await.len(), 1);
    assert!(acme.emails(AMY, BROKEN).await.is_empty(), "nobody emailed");
}

#[tokio::test]
async fn x_revoked_between_share_and_publish_holds_the_share_for_the_reconnect_and_share_now() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy-midway").await;
    let x = acme.connect_personal(AMY, "x", "x-amy-midway").await;
    let post = suggest(&acme, "Revoked on the way").await;
    // Amy revokes Apostle at X; Apostle learns it from the publish call itself.
    acme.member_action("x", "x-amy-midway", "revoke", json!({}))
        .await;
    let targets = share(&acme, post, x, None).await;
    assert_eq!(
        targets[0].status,
        ShareStatus::Queued,
        "queued: not yet known"
    );

    let held = settled(&acme, &targets[0]).await;
    assert_eq!(held.status, ShareStatus::WaitingForReconnect, "{held:?}");
    assert!(published(&acme, "x").await.is_empty());
    assert_eq!(status_of(&acme, AMY, x).await, "broken");
    runner(&acme.app.core).run_pending().await.unwrap();
    assert_eq!(
        acme.emails(AMY, BROKEN).await.len(),
        1,
        "the owner is emailed exactly once"
    );

    reconnect_publishes_nothing(&acme, AMY, x, "x-amy-midway", "x").await;
    let amy = access(&acme, AMY).await;
    let waiting = acme.app.core.waiting_for_reconnect(&amy).await.unwrap();
    assert_eq!(
        waiting.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![held.id],
        "among the waiting shares"
    );

    share_now_publishes_one(&acme, AMY, &held, "x").await;
    assert_eq!(acme.emails(AMY, BROKEN).await.len(), 1);
}

#[tokio::test]
async fn instagram_media_not_ready_after_finished_is_waited_out_and_published_once() {
    // Containers finish in 50 ms instead of 5 s.
    let acme = crate::connections::acme_with(&[("APOSTLE_SANDBOX__TIME_SCALE", "0.01")]).await;
    acme.sandbox_member("facebook", "fb-ig").await;
    acme.sandbox_page("facebook", "fb-ig", "Acme Cafe").await;
    let instagram = acme.connect_pages("instagram", "fb-ig").await[0];
    let core = &acme.app.core;
    let ada = access(&acme, ADMIN).await;
    let image = core
        .store_image(&ada, b"\x89PNG\r\n\x1a\n-cafe-")
        .await
        .unwrap();
    let post = core
        .create_post(
            &ada,
            PostInput {
                text: "Fresh from the oven".to_owned(),
                image: Some(image.id),
                providers: vec!["instagram".to_owned()],
                ..PostInput::default()
            },
        )
        .await
        .unwrap();
    acme.sandbox(
        "/faults",
        json!({"provider": "instagram", "kind": "media-not-ready", "calls": 2}),
    )
    .await;

    let ShareOutcome::Queued(targets) = core
        .share_post(&ada, post.id, &[AccountId(instagram)], None, None)
        .await
        .unwrap()
    else {
        panic!("a page needs no reconnect");
    };
    let done = settled(&acme, &targets[0]).await;
    assert_eq!(done.status, ShareStatus::Published, "{done:?}");
    let media = published(&acme, "instagram").await;
    assert_eq!(media.len(), 1, "{media:?}");
    assert_eq!(done.provider_post_id.as_deref(), media[0]["id"].as_str());
    assert!(media[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Fresh from the oven"));
    assert!(media[0]["image_url"]
        .as_str()
        .unwrap()
        .contains(&format!("/media/{}", image.public_id)));
    let faults = acme
        .app
        .http
        .get(acme.app.url("/sandbox/admin/faults"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert!(
        !faults.to_string().contains("media-not-ready"),
        "both not-ready answers were met: {faults}"
    );
}

/// Ada's Facebook page at the sandbox and in Apostle, and Eve, a second
/// admin whose suggestions to it wait for Ada.
async fn page_and_eve(acme: &Acme, handle: &str) -> i64 {
    acme.sandbox_member("facebook", handle).await;
    acme.sandbox_page("facebook", handle, "Acme Coffee").await;
    acme.app
        .core
        .add_user(
            "acme",
            EVE,
            "Eve Editor",
            Role::Admin,
            PASSWORD.to_owned().into(),
        )
        .await
        .unwrap();
    acme.connect_pages("facebook", handle).await[0]
}

/// A post by `author` to `page`, at `at` (UTC, the authors' time zone).
async fn page_post_at(acme: &Acme, author: &str, page: i64, at: chrono::DateTime<Utc>) -> PostId {
    acme.app
        .core
        .create_post(
            &access(acme, author).await,
            PostInput {
                text: "The terrace opens at noon".to_owned(),
                link: Some("https://acme.example/terrace".to_owned()),
                providers: vec!["facebook".to_owned()],
                pages: vec![AccountId(page)],
                schedule: Some(Schedule::At {
                    date: at.date_naive(),
                    time: at.time(),
                }),
                ..PostInput::default()
            },
        )
        .await
        .unwrap()
        .id
}

async fn page_targets(acme: &Acme, who: &str, post: PostId) -> Vec<ShareTarget> {
    acme.app
        .core
        .shares_of(&access(acme, who).await, post)
        .await
        .unwrap()
}

async fn an_approved_page_suggestion_goes_out_once_at_the_posts_moment() {
    let (acme, clock) = acme_on_clock().await;
    let page = page_and_eve(&acme, "fb-ada-approve").await;
    let moment = (Utc::now() + Duration::hours(2))
        .duration_trunc(Duration::minutes(1))
        .unwrap();
    let post = page_post_at(&acme, EVE, page, moment).await;
    let ada = access(&acme, ADMIN).await;
    let pending = acme.app.core.pending_approvals(&ada).await.unwrap();
    assert_eq!(pending.len(), 1);
    acme.app
        .core
        .decide_approval(&ada, pending[0].approval.id, true)
        .await
        .unwrap();

    let targets = page_targets(&acme, ADMIN, post).await;
    assert_eq!(targets.len(), 1, "one target for the page, held for Ada");
    runner(&acme.app.core).run_pending().await.unwrap();
    assert_eq!(target(&acme, &targets[0]).await.status, ShareStatus::Queued);
    assert!(
        published(&acme, "facebook").await.is_empty(),
        "nothing before the post's moment"
    );
    // An admin sharing to the page too finds the same target.
    let again = acme
        .app
        .core
        .share_post(&ada, post, &[AccountId(page)], None, None)
        .await
        .unwrap();
    assert_eq!(again, ShareOutcome::Queued(vec![targets[0].clone()]));

    clock.set(moment);
    let done = settled(&acme, &targets[0]).await;
    assert_eq!(done.status, ShareStatus::Published, "{done:?}");
    clock.advance(Duration::hours(1));
    runner(&acme.app.core).run_pending().await.unwrap();
    let posts = published(&acme, "facebook").await;
    assert_eq!(posts.len(), 1, "exactly once: {posts:?}");
    assert_eq!(posts[0]["text"], "The terrace opens at noon");
    assert_eq!(done.provider_post_id.as_deref(), posts[0]["id"].as_str());
}

#[tokio::test]
async fn an_approved_page_suggestion_waits_while_the_page_is_broken_and_goes_out_on_share_now() {
    let (acme, clock) = acme_on_clock().await;
    let page = page_and_eve(&acme, "fb-ada-broken").await;
    let ada = access(&acme, ADMIN).await;
    acme.app
        .core
        .set_auto_approve(&ada, AccountId(page), true)
        .await
        .unwrap();
    let moment = (Utc::now() + Duration::hours(1))
        .duration_trunc(Duration::minutes(1))
        .unwrap();
    let post = page_post_at(&acme, EVE, page, moment).await;
    let targets = page_targets(&acme, ADMIN, post).await;
    assert_eq!(targets.len(), 1, "auto-approved: queued for the page");
    acme.member_action("facebook", "fb-ada-broken", "change-password", json!({}))
        .await;

    clock.set(moment);
    let held = settled(&acme, &targets[0]).await;
    assert_eq!(held.status, ShareStatus::WaitingForReconnect, "{held:?}");
    assert!(published(&acme, "facebook").await.is_empty());
    assert_eq!(status_of(&acme, ADMIN, page).await, "broken");
    assert_eq!(acme.emails(ADMIN, BROKEN).await.len(), 1);

    reconnect_publishes_nothing(&acme, ADMIN, page, "fb-ada-broken", "facebook").await;
    let waiting = acme.app.core.waiting_for_reconnect(&ada).await.unwrap();
    assert_eq!(waiting.len(), 1);
    let web = crate::connections::web::Web::sign_in(&acme, ADMIN).await;
    let (_, html) = web.follow("/t/acme/waiting").await;
    assert!(
        html.contains("Acme Coffee") && html.contains("Ready to share"),
        "{html}"
    );
    share_now_publishes_one(&acme, ADMIN, &held, "facebook").await;
}
