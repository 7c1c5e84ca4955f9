//! Posts and their delivery: posts and the bin, set-based planning inside a
//! slot, dispatch that moves each delivery once, members' decisions, page
//! approvals, notifications claimed once, one-click links used once,
//! members' settings, images and UTM presets — and that one team never sees
//! another's.

use super::{commit, member, mins, read, t0, team, user, write};
use crate::harness::TestDb;
use apostle_core::store::{
    AccountOwner, NewAccount, NewApproval, NewGrant, NewNotification, PlanSlot, PostContent, Store,
};
use apostle_domain::{
    AccountId, ApprovalState, DeliveryState, DeliveryWindow, NotificationKind, PostId, PostStatus,
    Role, Schedule, TeamId, UserId, Utm,
};
use chrono::Duration;
use std::collections::{BTreeMap, HashSet};

fn content(text: &str) -> PostContent {
    PostContent {
        text: text.to_owned(),
        variants: BTreeMap::from([("x".to_owned(), "short".to_owned())]),
        link: Some("https://acme.example/launch".to_owned()),
        link_title: Some("Launch".to_owned()),
        utm: Utm {
            source: Some("apostle".to_owned()),
            ..Utm::default()
        },
        image_id: None,
        providers: vec!["linkedin".to_owned(), "x".to_owned()],
        recipients_all: true,
        schedule: Schedule::Now,
        expires_at: t0() + Duration::days(7),
    }
}

async fn post(store: &dyn Store, team: TeamId, author: UserId, c: &PostContent) -> PostId {
    let mut tx = write(store).await;
    let post = tx
        .create_post(team, author, c, PostStatus::Scheduled, t0())
        .await
        .unwrap();
    commit(tx).await;
    post.id
}

fn slot(zone: &str, span_seconds: i64, day_index: i64, day_count: i64) -> PlanSlot {
    PlanSlot {
        time_zone: zone.to_owned(),
        start: t0(),
        span_seconds,
        day_index,
        day_count,
        seed: 1_234_567,
    }
}

/// A team with an admin and `n` ambassadors; answers the team and its members.
async fn crew(store: &dyn Store, s: &str, n: usize) -> (TeamId, Vec<UserId>) {
    let t = team(store, s, "Crew").await;
    let mut users = Vec::new();
    for i in 0..=n {
        let u = user(store, &format!("m{i}@{s}.example"), &format!("Member {i}")).await;
        let role = if i == 0 {
            Role::Admin
        } else {
            Role::Ambassador
        };
        member(store, t.id, u.id, role).await;
        users.push(u.id);
    }
    (t.id, users)
}

async fn page(store: &dyn Store, team: TeamId, owner: UserId, external: &str) -> AccountId {
    let mut tx = write(store).await;
    let grant = tx
        .create_grant(
            owner,
            &NewGrant {
                provider: "facebook".to_owned(),
                external_user_id: format!("login-{external}"),
                scopes: "pages_manage_posts".to_owned(),
                access_token: "sealed".to_owned(),
                refresh_token: None,
                access_expires_at: t0() + Duration::days(60),
                refresh_expires_at: None,
                next_due_at: t0(),
                created_at: t0(),
            },
        )
        .await
        .unwrap();
    let account = tx
        .create_account(
            AccountOwner::Business(team),
            &NewAccount {
                grant_id: grant.id,
                provider: "facebook".to_owned(),
                external_id: external.to_owned(),
                name: format!("Page {external}"),
                page_token: Some("sealed-page".to_owned()),
                created_at: t0(),
            },
        )
        .await
        .unwrap();
    commit(tx).await;
    account.id
}

pub async fn a_post_keeps_its_content_and_moves_between_the_list_and_the_bin(db: &TestDb) {
    let store = db.store();
    let (acme, members) = crew(store, "acme", 1).await;
    let (other, _) = crew(store, "other", 0).await;
    let c = content("Our launch is live");
    let id = post(store, acme, members[0], &c).await;
    let mut tx = read(store).await;
    let found = tx.post_by_id(acme, id).await.unwrap().unwrap();
    assert_eq!(found.content, c);
    assert_eq!(found.status, PostStatus::Scheduled);
    assert_eq!(found.author_id, members[0]);
    assert!(
        tx.post_by_id(other, id).await.unwrap().is_none(),
        "another team cannot read it"
    );
    assert_eq!(tx.post_team(id).await.unwrap(), Some(acme));
    assert_eq!(tx.post_team(PostId(id.0 + 1000)).await.unwrap(), None);
    drop(tx);

    let mut tx = write(store).await;
    assert!(!tx.set_post_deleted(other, id, Some(t0())).await.unwrap());
    assert!(tx.set_post_deleted(acme, id, Some(t0())).await.unwrap());
    assert!(
        !tx.set_post_deleted(acme, id, Some(t0())).await.unwrap(),
        "already in the bin"
    );
    commit(tx).await;
    let mut tx = read(store).await;
    assert!(tx.list_posts(acme, false).await.unwrap().is_empty());
    assert_eq!(tx.list_posts(acme, true).await.unwrap()[0].id, id);
    drop(tx);
    let mut tx = write(store).await;
    assert!(tx.set_post_deleted(acme, id, None).await.unwrap());
    assert!(!tx
        .set_post_status(acme, id, &[PostStatus::Draft], PostStatus::Archived, t0())
        .await
        .unwrap());
    assert!(tx
        .set_post_status(
            acme,
            id,
            &[PostStatus::Scheduled],
            PostStatus::Archived,
            t0()
        )
        .await
        .unwrap());
    assert!(
        !tx.update_draft(acme, id, &c, t0()).await.unwrap(),
        "only drafts change"
    );
    commit(tx).await;
    let mut tx = read(store).await;
    let listed = tx.list_posts(acme, false).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, PostStatus::Archived);
}

pub async fn planning_gives_each_recipient_one_moment_inside_the_slot(db: &TestDb) {
    let store = db.store();
    let (acme, members) = crew(store, "acme", 40).await;
    let id = post(store, acme, members[0], &content("Spread out")).await;
    let span = 8 * 3600;
    let mut tx = write(store).await;
    assert_eq!(
        tx.recipient_time_zones(acme, id).await.unwrap(),
        vec!["UTC".to_owned()]
    );
    let mut planned = 0;
    for day in 0..2 {
        planned += tx
            .plan_deliveries(acme, id, &slot("UTC", span, day, 2))
            .await
            .unwrap();
    }
    assert_eq!(planned, 41, "one delivery per member, over both days");
    assert_eq!(
        tx.plan_deliveries(acme, id, &slot("UTC", span, 0, 1))
            .await
            .unwrap(),
        0,
        "planning again adds nothing"
    );
    assert_eq!(
        tx.plan_deliveries(acme, id, &slot("Europe/Paris", span, 0, 1))
            .await
            .unwrap(),
        0,
        "nobody lives in Paris"
    );
    let due = tx
        .due_deliveries(t0() + Duration::seconds(span), 1000)
        .await
        .unwrap();
    commit(tx).await;
    assert_eq!(due.len(), 41);
    let moments: HashSet<_> = due.iter().map(|d| d.due_at).collect();
    assert!(
        due.iter()
            .all(|d| d.due_at >= t0() && d.due_at < t0() + Duration::seconds(span)),
        "every moment inside the window"
    );
    assert!(
        moments.len() > 20,
        "spread, not one instant: {}",
        moments.len()
    );
}

pub async fn only_chosen_recipients_and_members_of_their_zone_are_planned(db: &TestDb) {
    let store = db.store();
    let (acme, members) = crew(store, "acme", 3).await;
    let mut c = content("For two");
    c.recipients_all = false;
    let id = post(store, acme, members[0], &c).await;
    let mut tx = write(store).await;
    tx.set_post_recipients(id, &[members[1], members[2]])
        .await
        .unwrap();
    tx.set_time_zone(members[2], "Asia/Tokyo", true)
        .await
        .unwrap();
    commit(tx).await;
    let mut tx = write(store).await;
    assert_eq!(
        tx.recipient_time_zones(acme, id).await.unwrap(),
        vec!["Asia/Tokyo".to_owned(), "UTC".to_owned()]
    );
    assert_eq!(
        tx.plan_deliveries(acme, id, &slot("UTC", 0, 0, 1))
            .await
            .unwrap(),
        1
    );
    let mut tokyo = slot("Asia/Tokyo", 0, 0, 1);
    tokyo.start = t0() + mins(30);
    assert_eq!(tx.plan_deliveries(acme, id, &tokyo).await.unwrap(), 1);
    commit(tx).await;
    let mut tx = read(store).await;
    assert_eq!(
        tx.post_recipients(id).await.unwrap(),
        vec![members[1], members[2]]
    );
    let tokyo_delivery = tx.delivery_of(acme, id, members[2]).await.unwrap().unwrap();
    assert_eq!(tokyo_delivery.due_at, t0() + mins(30));
    assert!(tx
        .delivery_of(acme, id, members[3])
        .await
        .unwrap()
        .is_none());
}

pub async fn a_due_delivery_goes_out_once_and_notifies_unless_muted(db: &TestDb) {
    let store = db.store();
    let (acme, members) = crew(store, "acme", 2).await;
    let id = post(store, acme, members[0], &content("Now")).await;
    let mut tx = write(store).await;
    tx.plan_deliveries(acme, id, &slot("UTC", 0, 0, 1))
        .await
        .unwrap();
    tx.set_muted_notifications(members[2], &[NotificationKind::Suggestion])
        .await
        .unwrap();
    commit(tx).await;
    let due = read(store).await.due_deliveries(t0(), 10).await.unwrap();
    assert_eq!(due.len(), 3);
    assert!(
        read(store)
            .await
            .due_deliveries(t0() - mins(1), 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing before its moment"
    );
    let ids: Vec<_> = due.iter().map(|d| d.id).collect();
    let mut tx = write(store).await;
    let moved = tx
        .finish_pending_deliveries(&ids, DeliveryState::Delivered, t0())
        .await
        .unwrap();
    assert_eq!(moved.len(), 3);
    let notified = tx.notify_delivered(&moved, t0()).await.unwrap();
    assert_eq!(
        notified,
        vec![members[0], members[1]],
        "the muted member is not notified"
    );
    assert!(tx
        .finish_pending_deliveries(&ids, DeliveryState::Delivered, t0())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(tx.mark_posts_sent(&[id], t0()).await.unwrap(), 1);
    commit(tx).await;
    let mut tx = read(store).await;
    assert!(tx.due_deliveries(t0(), 10).await.unwrap().is_empty());
    assert_eq!(
        tx.post_by_id(acme, id).await.unwrap().unwrap().status,
        PostStatus::Sent
    );
    let counts = tx.delivery_counts(acme, id).await.unwrap();
    assert_eq!(counts, vec![(DeliveryState::Delivered, 3)]);
    let notes = tx.unsent_notifications(members[1]).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, NotificationKind::Suggestion);
    assert_eq!(notes[0].team_id, acme);
    drop(tx);
    let mut tx = write(store).await;
    assert_eq!(
        tx.mark_notifications_emailed(members[1], &[notes[0].id], t0())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        tx.mark_notifications_emailed(members[1], &[notes[0].id], t0())
            .await
            .unwrap(),
        0,
        "claimed once"
    );
    commit(tx).await;
}

pub async fn deliveries_of_a_post_in_the_bin_wait_and_members_decide_only_their_own(db: &TestDb) {
    let store = db.store();
    let (acme, members) = crew(store, "acme", 2).await;
    let id = post(store, acme, members[0], &content("Decide")).await;
    let mut tx = write(store).await;
    tx.plan_deliveries(acme, id, &slot("UTC", 0, 0, 1))
        .await
        .unwrap();
    tx.set_post_deleted(acme, id, Some(t0())).await.unwrap();
    commit(tx).await;
    assert!(read(store)
        .await
        .due_deliveries(t0(), 10)
        .await
        .unwrap()
        .is_empty());
    let mut tx = write(store).await;
    tx.set_post_deleted(acme, id, None).await.unwrap();
    let due = tx.due_deliveries(t0(), 10).await.unwrap();
    let ids: Vec<_> = due.iter().map(|d| d.id).collect();
    tx.finish_pending_deliveries(&ids, DeliveryState::Delivered, t0())
        .await
        .unwrap();
    commit(tx).await;
    let amy = members[1];
    let amys = read(store)
        .await
        .delivery_of(acme, id, amy)
        .await
        .unwrap()
        .unwrap();
    let mut tx = write(store).await;
    let from = [DeliveryState::Delivered];
    assert!(
        !tx.decide_delivery(members[2], amys.id, &from, DeliveryState::Rejected, t0())
            .await
            .unwrap(),
        "another member cannot decide Amy's"
    );
    assert!(!tx
        .reschedule_delivery(members[2], amys.id, t0() + mins(60))
        .await
        .unwrap());
    assert!(tx
        .reschedule_delivery(amy, amys.id, t0() + mins(60))
        .await
        .unwrap());
    commit(tx).await;
    let mut tx = read(store).await;
    let back = tx.delivery_by_id(amys.id).await.unwrap().unwrap();
    assert_eq!(back.state, DeliveryState::Pending);
    assert_eq!(back.due_at, t0() + mins(60));
    assert!(tx
        .member_inbox(acme, amy, &[DeliveryState::Delivered])
        .await
        .unwrap()
        .is_empty());
    drop(tx);
    let mut tx = write(store).await;
    tx.finish_pending_deliveries(&[amys.id], DeliveryState::Delivered, t0() + mins(60))
        .await
        .unwrap();
    assert!(tx
        .decide_delivery(amy, amys.id, &from, DeliveryState::Rejected, t0())
        .await
        .unwrap());
    assert!(
        !tx.decide_delivery(amy, amys.id, &from, DeliveryState::Shared, t0())
            .await
            .unwrap(),
        "a decision is taken once"
    );
    commit(tx).await;
    let mut tx = read(store).await;
    assert_eq!(
        tx.layout_counts(acme, members[2], t0(), 10)
            .await
            .unwrap()
            .inbox,
        1
    );
    assert_eq!(
        tx.layout_counts(acme, members[2], t0(), 0)
            .await
            .unwrap()
            .inbox,
        0,
        "counted up to the cap"
    );
    assert_eq!(
        tx.layout_counts(acme, members[2], t0() + Duration::days(8), 10)
            .await
            .unwrap()
            .inbox,
        0,
        "the post expired"
    );
    assert_eq!(
        tx.layout_counts(acme, amy, t0(), 10).await.unwrap().inbox,
        0,
        "decided"
    );
    drop(tx);
    let mut tx = write(store).await;
    tx.create_session("third", &super::session(members[2], t0()))
        .await
        .unwrap();
    commit(tx).await;
    let mut tx = read(store).await;
    let page = tx
        .page_context("third", &super::slug("acme"), t0(), 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.counts.inbox, 1, "the page counts as the layout does");
    let rejected = tx
        .member_inbox(acme, amy, &[DeliveryState::Rejected])
        .await
        .unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].post.id, id);
    assert_eq!(
        tx.undecided_members(acme, id).await.unwrap(),
        vec![members[0], members[2]]
    );
}

/// Acme (an admin and two members) and another team; four posts of Acme's
/// ("First", "Second", "Third", "Binned") delivered to its members.
struct Delivered {
    acme: TeamId,
    other: TeamId,
    members: Vec<UserId>,
    posts: Vec<PostId>,
    due: Vec<apostle_core::store::Delivery>,
}

async fn four_delivered(store: &dyn Store) -> Delivered {
    let (acme, members) = crew(store, "acme", 2).await;
    let (other, _) = crew(store, "other", 0).await;
    let mut posts = Vec::new();
    for text in ["First", "Second", "Third", "Binned"] {
        posts.push(post(store, acme, members[0], &content(text)).await);
    }
    let mut tx = write(store).await;
    for id in &posts {
        tx.plan_deliveries(acme, *id, &slot("UTC", 0, 0, 1))
            .await
            .unwrap();
    }
    let due = tx.due_deliveries(t0(), 100).await.unwrap();
    let ids: Vec<_> = due.iter().map(|d| d.id).collect();
    // All at the same moment: orders by delivery time fall back on the id.
    tx.finish_pending_deliveries(&ids, DeliveryState::Delivered, t0())
        .await
        .unwrap();
    commit(tx).await;
    Delivered {
        acme,
        other,
        members,
        posts,
        due,
    }
}

pub async fn an_inbox_page_holds_live_suggestions_newest_first_and_the_next_starts_after_it(
    db: &TestDb,
) {
    let store = db.store();
    let Delivered {
        acme,
        other,
        members,
        posts,
        ..
    } = four_delivered(store).await;
    let (amy, bob) = (members[1], members[2]);
    let mut tx = write(store).await;
    tx.set_post_deleted(acme, posts[3], Some(t0()))
        .await
        .unwrap();
    commit(tx).await;
    let amys =
        |cards: &[apostle_core::store::InboxCard]| cards.iter().map(|c| c.post).collect::<Vec<_>>();
    let mut tx = read(store).await;
    let first = tx.inbox_page(acme, amy, t0(), None, 2).await.unwrap();
    assert_eq!(
        amys(&first),
        vec![posts[2], posts[1]],
        "newest first, not the bin"
    );
    let third = content("Third");
    assert_eq!(
        (
            &first[0].text,
            &first[0].link,
            &first[0].link_title,
            first[0].image_id,
            first[0].expires_at,
            first[0].delivered_at
        ),
        (
            &third.text,
            &third.link,
            &third.link_title,
            None,
            third.expires_at,
            Some(t0())
        )
    );
    for card in &first {
        let delivery = tx.delivery_by_id(card.delivery).await.unwrap().unwrap();
        assert_eq!(
            (delivery.user_id, delivery.state, delivery.post_id),
            (amy, DeliveryState::Delivered, card.post)
        );
    }
    let after = Some(first[1].delivery);
    let next = tx.inbox_page(acme, amy, t0(), after, 2).await.unwrap();
    assert_eq!(amys(&next), vec![posts[0]]);
    let after = Some(next[0].delivery);
    assert!(tx
        .inbox_page(acme, amy, t0(), after, 2)
        .await
        .unwrap()
        .is_empty());
    assert!(
        tx.inbox_page(acme, amy, t0() + Duration::days(8), None, 2)
            .await
            .unwrap()
            .is_empty(),
        "the posts expired"
    );
    let bobs = tx.inbox_page(acme, bob, t0(), None, 10).await.unwrap();
    assert_eq!(bobs.len(), 3);
    assert!(
        tx.inbox_page(acme, amy, t0(), Some(bobs[0].delivery), 10)
            .await
            .unwrap()
            .is_empty(),
        "another member's delivery is no place to start from"
    );
    assert!(tx
        .inbox_page(other, amy, t0(), None, 10)
        .await
        .unwrap()
        .is_empty());
    drop(tx);
    let mut tx = write(store).await;
    let from = [DeliveryState::Delivered];
    tx.decide_delivery(amy, first[0].delivery, &from, DeliveryState::Rejected, t0())
        .await
        .unwrap();
    commit(tx).await;
    let mut tx = read(store).await;
    let left = tx.inbox_page(acme, amy, t0(), None, 10).await.unwrap();
    assert_eq!(amys(&left), vec![posts[1], posts[0]], "decided ones leave");
}

pub async fn a_shared_page_holds_what_a_member_shared_newest_first_and_the_next_starts_after_it(
    db: &TestDb,
) {
    let store = db.store();
    let Delivered {
        acme,
        other,
        members,
        posts,
        due,
    } = four_delivered(store).await;
    let (amy, bob) = (members[1], members[2]);
    let delivery = |post: PostId, member: UserId| {
        due.iter()
            .find(|d| d.post_id == post && d.user_id == member)
            .unwrap()
            .id
    };
    let from = [DeliveryState::Delivered];
    let mut tx = write(store).await;
    // Amy shares First, then Third, then the post later binned; she turns
    // Second down, which Bob shares.
    for (minute, (post, member, state)) in [
        (posts[0], amy, DeliveryState::Shared),
        (posts[2], amy, DeliveryState::Shared),
        (posts[3], amy, DeliveryState::Shared),
        (posts[1], amy, DeliveryState::Rejected),
        (posts[1], bob, DeliveryState::Shared),
    ]
    .into_iter()
    .enumerate()
    {
        let at = t0() + mins(minute as i64 + 1);
        assert!(tx
            .decide_delivery(member, delivery(post, member), &from, state, at)
            .await
            .unwrap());
    }
    tx.set_post_deleted(acme, posts[3], Some(t0() + mins(9)))
        .await
        .unwrap();
    commit(tx).await;

    let mut tx = read(store).await;
    let first = tx.shared_page(acme, amy, None, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].post, first[0].decided_at, &first[0].text),
        (posts[2], Some(t0() + mins(2)), &content("Third").text),
        "the newest share, not the bin"
    );
    let next = tx
        .shared_page(acme, amy, Some(first[0].delivery), 1)
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|c| c.post).collect::<Vec<_>>(),
        vec![posts[0]]
    );
    assert!(tx
        .shared_page(acme, amy, Some(next[0].delivery), 1)
        .await
        .unwrap()
        .is_empty());
    let bobs = tx.shared_page(acme, bob, None, 10).await.unwrap();
    assert_eq!(
        bobs.iter().map(|c| c.post).collect::<Vec<_>>(),
        vec![posts[1]]
    );
    assert!(
        tx.shared_page(acme, amy, Some(bobs[0].delivery), 10)
            .await
            .unwrap()
            .is_empty(),
        "another member's delivery is no place to start from"
    );
    assert!(tx
        .shared_page(other, amy, None, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn posts_are_read_together_by_id_only_from_their_own_team(db: &TestDb) {
    let store = db.store();
    let (acme, members) = crew(store, "acme", 0).await;
    let (other, others) = crew(store, "other", 0).await;
    let first = post(store, acme, members[0], &content("First")).await;
    let second = post(store, acme, members[0], &content("Second")).await;
    let theirs = post(store, other, others[0], &content("Theirs")).await;
    let mut tx = read(store).await;
    let mut found = tx
        .posts_by_ids(acme, &[second, theirs, first, PostId(first.0 + 1000)])
        .await
        .unwrap();
    found.sort_by_key(|p| p.id);
    assert_eq!(
        found.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![first, second],
        "not another team's, nor one that does not exist"
    );
    assert_eq!(found[1].content, content("Second"));
    assert_eq!(
        Some(found[0].clone()),
        tx.post_by_id(acme, first).await.unwrap(),
        "whole, as one by one"
    );
    assert!(tx.posts_by_ids(acme, &[]).await.unwrap().is_empty());
}

pub async fn newest_posts_are_a_teams_own_out_of_the_bin_newest_first(db: &TestDb) {
    let store = db.store();
    let (acme, members) = crew(store, "acme", 0).await;
    let (other, others) = crew(store, "other", 0).await;
    let mut tx = write(store).await;
    let mut ids = Vec::new();
    for (i, text) in ["Old", "Middle", "New", "Binned"].into_iter().enumerate() {
        let at = t0() + mins(i as i64);
        let p = tx
            .create_post(acme, members[0], &content(text), PostStatus::Sent, at)
            .await
            .unwrap();
        ids.push(p.id);
    }
    tx.set_post_deleted(acme, ids[3], Some(t0())).await.unwrap();
    tx.create_post(
        other,
        others[0],
        &content("Theirs"),
        PostStatus::Sent,
        t0() + mins(9),
    )
    .await
    .unwrap();
    commit(tx).await;
    let mut tx = read(store).await;
    let newest = tx.newest_posts(acme, 2).await.unwrap();
    let seen: Vec<_> = newest.iter().map(|p| (p.id, p.text.as_str())).collect();
    assert_eq!(seen, vec![(ids[2], "New"), (ids[1], "Middle")]);
    assert_eq!(newest[0].created_at, t0() + mins(2));
    assert_eq!(tx.newest_posts(acme, 20).await.unwrap().len(), 3);
    assert_eq!(tx.newest_posts(other, 20).await.unwrap()[0].text, "Theirs");
}

pub async fn a_page_suggestion_is_answered_once_by_its_owner_or_by_admins_once_the_owner_left(
    db: &TestDb,
) {
    let store = db.store();
    let (acme, members) = crew(store, "acme", 1).await;
    let (ada, amy) = (members[0], members[1]);
    let eve = user(store, "eve@acme.example", "Eve").await.id;
    member(store, acme, eve, Role::Admin).await;
    let (other, _) = crew(store, "other", 0).await;
    let fb = page(store, acme, ada, "p1").await;
    let id = post(store, acme, eve, &content("Page post")).await;
    let mut tx = write(store).await;
    let new = NewApproval {
        post_id: id,
        account_id: fb,
        state: ApprovalState::Pending,
        publish_at: t0() + mins(5),
        decided_by: None,
        created_at: t0(),
    };
    assert!(
        tx.create_approval(other, &new).await.unwrap().is_none(),
        "not another team's page"
    );
    let approval = tx.create_approval(acme, &new).await.unwrap().unwrap();
    assert!(
        tx.create_approval(acme, &new).await.unwrap().is_none(),
        "one approval per post and page"
    );
    commit(tx).await;
    let mut tx = read(store).await;
    assert_eq!(tx.approvals_for(acme, ada).await.unwrap().len(), 1);
    assert!(
        tx.approvals_for(acme, eve).await.unwrap().is_empty(),
        "Ada connected the page and is still an admin"
    );
    drop(tx);
    let mut tx = write(store).await;
    tx.upsert_member(acme, ada, Role::Ambassador).await.unwrap();
    commit(tx).await;
    let mut tx = read(store).await;
    assert!(tx.approvals_for(acme, ada).await.unwrap().is_empty());
    assert!(tx.approvals_for(acme, amy).await.unwrap().is_empty());
    let for_eve = tx.approvals_for(acme, eve).await.unwrap();
    assert_eq!(for_eve.len(), 1, "the current admins answer now");
    assert_eq!(for_eve[0].post.id, id);
    drop(tx);
    let mut tx = write(store).await;
    assert!(tx
        .decide_approval(acme, approval.id, ApprovalState::Approved, eve, t0())
        .await
        .unwrap());
    assert!(!tx
        .decide_approval(acme, approval.id, ApprovalState::Rejected, eve, t0())
        .await
        .unwrap());
    assert!(!tx.set_auto_approve(other, fb, true).await.unwrap());
    assert!(tx.set_auto_approve(acme, fb, true).await.unwrap());
    commit(tx).await;
    let mut tx = read(store).await;
    assert!(tx.auto_approve(acme, fb).await.unwrap());
    assert!(!tx.auto_approve(other, fb).await.unwrap());
    let stored = tx.approval_by_id(acme, approval.id).await.unwrap().unwrap();
    assert_eq!(stored.state, ApprovalState::Approved);
    assert_eq!(stored.decided_by, Some(eve));
    assert!(tx
        .approval_by_id(other, approval.id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(tx.approvals_of_post(acme, id).await.unwrap().len(), 1);
}

pub async fn members_settings_team_windows_links_images_and_presets_are_kept(db: &TestDb) {
    let store = db.store();
    let (acme, members) = crew(store, "acme", 1).await;
    let (other, _) = crew(store, "other", 0).await;
    let amy = members[1];
    let mut tx = write(store).await;
    let defaults = tx.member_settings(amy).await.unwrap().unwrap();
    assert_eq!(defaults.time_zone, "UTC");
    assert!(defaults.muted.is_empty());
    assert_eq!(defaults.last_notified_at, None);
    assert_eq!(tx.team_window(acme).await.unwrap(), DeliveryWindow::DEFAULT);
    assert!(!defaults.time_zone_chosen);
    assert!(
        tx.set_time_zone(amy, "Europe/Paris", false).await.unwrap(),
        "detected"
    );
    assert!(tx
        .set_time_zone(amy, "America/New_York", true)
        .await
        .unwrap());
    assert!(
        !tx.set_time_zone(amy, "Asia/Tokyo", false).await.unwrap(),
        "a detected zone never replaces a chosen one"
    );
    tx.set_muted_notifications(
        amy,
        &[NotificationKind::Approval, NotificationKind::ShareReminder],
    )
    .await
    .unwrap();
    tx.set_last_notified(amy, t0()).await.unwrap();
    let window = DeliveryWindow::new(8 * 60, 12 * 60).unwrap();
    tx.set_team_window(acme, window).await.unwrap();
    assert!(!tx.action_link_used("hash-1").await.unwrap());
    assert!(tx.use_action_link("hash-1", t0()).await.unwrap());
    assert!(!tx.use_action_link("hash-1", t0()).await.unwrap(), "once");
    assert!(tx.action_link_used("hash-1").await.unwrap());
    let image = tx
        .insert_image(acme, "pub-1", "image/png", b"\x89PNG bytes", t0())
        .await
        .unwrap();
    let preset = tx
        .save_utm_preset(
            acme,
            "Newsletter",
            &Utm {
                medium: Some("social".to_owned()),
                ..Utm::default()
            },
            t0(),
        )
        .await
        .unwrap();
    commit(tx).await;
    let mut tx = read(store).await;
    let settings = tx.member_settings(amy).await.unwrap().unwrap();
    assert_eq!(settings.time_zone, "America/New_York");
    assert!(settings.time_zone_chosen);
    assert_eq!(
        settings.muted,
        vec![NotificationKind::Approval, NotificationKind::ShareReminder]
    );
    assert_eq!(settings.last_notified_at, Some(t0()));
    assert_eq!(tx.team_window(acme).await.unwrap(), window);
    assert_eq!(
        tx.team_window(other).await.unwrap(),
        DeliveryWindow::DEFAULT
    );
    let found = tx.image_by_public_id("pub-1").await.unwrap().unwrap();
    assert_eq!(found.bytes, b"\x89PNG bytes");
    assert_eq!(found.content_type, "image/png");
    assert_eq!(
        tx.image_public_id(acme, image.id).await.unwrap().as_deref(),
        Some("pub-1")
    );
    assert!(tx.image_public_id(other, image.id).await.unwrap().is_none());
    assert_eq!(tx.utm_presets(acme).await.unwrap(), vec![preset.clone()]);
    assert!(tx.utm_presets(other).await.unwrap().is_empty());
    drop(tx);
    let reminded = post(store, acme, members[0], &content("x")).await;
    let mut tx = write(store).await;
    assert!(!tx.delete_utm_preset(other, preset.id).await.unwrap());
    assert!(tx.delete_utm_preset(acme, preset.id).await.unwrap());
    tx.insert_notification(&NewNotification {
        user_id: amy,
        team_id: acme,
        kind: NotificationKind::ShareReminder,
        post_id: reminded,
        delivery_id: None,
        approval_id: None,
        created_at: t0(),
    })
    .await
    .unwrap();
    commit(tx).await;
    assert_eq!(
        read(store)
            .await
            .unsent_notifications(amy)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn personal_grants_not_heard_from_recently_are_found_for_a_probe(db: &TestDb) {
    let store = db.store();
    let (acme, members) = crew(store, "acme", 1).await;
    let amy = members[1];
    let mut tx = write(store).await;
    let grant = tx
        .create_grant(
            amy,
            &NewGrant {
                provider: "x".to_owned(),
                external_user_id: "x-amy".to_owned(),
                scopes: "tweet.write".to_owned(),
                access_token: "sealed".to_owned(),
                refresh_token: None,
                access_expires_at: t0() + mins(120),
                refresh_expires_at: None,
                next_due_at: t0(),
                created_at: t0(),
            },
        )
        .await
        .unwrap();
    tx.create_account(
        AccountOwner::Personal(amy),
        &NewAccount {
            grant_id: grant.id,
            provider: "x".to_owned(),
            external_id: "x-amy".to_owned(),
            name: "@amy".to_owned(),
            page_token: None,
            created_at: t0(),
        },
    )
    .await
    .unwrap();
    commit(tx).await;
    page(store, acme, amy, "not-personal").await;
    let users = [amy, members[0]];
    let stale = read(store)
        .await
        .stale_personal_grants(&users, t0())
        .await
        .unwrap();
    assert_eq!(
        stale,
        vec![grant.id],
        "never checked, and pages are not probed here"
    );
    let mut tx = write(store).await;
    tx.mark_grant_checked(grant.id, t0()).await.unwrap();
    commit(tx).await;
    let mut tx = read(store).await;
    assert!(tx
        .stale_personal_grants(&users, t0() - mins(60))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        tx.stale_personal_grants(&users, t0() + mins(1))
            .await
            .unwrap(),
        vec![grant.id]
    );
}

pub async fn a_share_target_is_live_once_per_account_and_moves_only_from_its_states(db: &TestDb) {
    use apostle_core::store::NewShareTarget;
    use apostle_domain::ShareStatus;
    let store = db.store();
    let (acme, members) = crew(store, "acme", 1).await;
    let amy = members[1];
    let fb = page(store, acme, members[0], "p1").await;
    let id = post(store, acme, members[0], &content("Share me")).await;
    let new = |key: &str| NewShareTarget {
        team_id: acme,
        post_id: id,
        user_id: amy,
        account_id: fb,
        provider: "facebook".to_owned(),
        text: "Share me".to_owned(),
        idempotency_key: key.to_owned(),
        created_at: t0(),
    };
    let mut tx = write(store).await;
    let first = tx.add_share_target(&new("k1")).await.unwrap().unwrap();
    assert_eq!(first.status, ShareStatus::Queued);
    assert!(
        tx.add_share_target(&new("k2")).await.unwrap().is_none(),
        "one live target per post, member and account"
    );
    assert!(tx.add_share_target(&new("k1")).await.unwrap().is_none());
    assert_eq!(
        tx.share_target_by_key("k1").await.unwrap().unwrap().id,
        first.id
    );
    assert!(!tx
        .move_share_target(
            first.id,
            &[ShareStatus::Publishing],
            ShareStatus::Published,
            None,
            None,
            t0()
        )
        .await
        .unwrap());
    assert!(tx
        .move_share_target(
            first.id,
            &[ShareStatus::Queued],
            ShareStatus::Publishing,
            None,
            None,
            t0()
        )
        .await
        .unwrap());
    assert!(tx
        .move_share_target(
            first.id,
            &[ShareStatus::Publishing],
            ShareStatus::Failed,
            None,
            Some("refused"),
            t0()
        )
        .await
        .unwrap());
    let retry = tx
        .add_share_target(&new("k3"))
        .await
        .unwrap()
        .expect("a failed target does not block a new one");
    commit(tx).await;
    let mut tx = read(store).await;
    let failed = tx.share_target(first.id).await.unwrap().unwrap();
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.error.as_deref(), Some("refused"));
    assert_eq!(
        tx.live_share_target(id, amy, fb).await.unwrap().unwrap().id,
        retry.id
    );
    assert_eq!(tx.share_targets_of(amy, id).await.unwrap().len(), 2);
    assert_eq!(
        tx.member_share_targets(amy, ShareStatus::Failed)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(tx
        .member_share_targets(members[0], ShareStatus::Queued)
        .await
        .unwrap()
        .is_empty());
    let counts = tx.share_counts(acme).await.unwrap();
    let statuses: Vec<(ShareStatus, i64)> = counts.iter().map(|c| (c.status, c.count)).collect();
    assert_eq!(
        statuses,
        vec![(ShareStatus::Failed, 1), (ShareStatus::Queued, 1)]
    );
    assert!(counts.iter().all(|c| c.user_id == amy && c.post_id == id));
    let (other, _) = crew(store, "other", 0).await;
    assert!(read(store)
        .await
        .share_counts(other)
        .await
        .unwrap()
        .is_empty());
}

pub async fn the_apps_notifications_are_told_once_paged_newest_first_and_read_only_by_their_member(
    db: &TestDb,
) {
    use apostle_core::store::{AlertKind, NewAlert};
    let store = db.store();
    let (acme, members) = crew(store, "acme", 1).await;
    let (ada, amy) = (members[0], members[1]);
    let fb = page(store, acme, ada, "p1").await;
    let id = post(store, acme, ada, &content("Our launch")).await;
    let broken = |key: &str, at: i64| NewAlert {
        user_id: ada,
        kind: AlertKind::ConnectionBroken,
        team_id: Some(acme),
        account_id: Some(fb),
        post_id: None,
        text: "Acme on Facebook is disconnected".to_owned(),
        dedupe_key: key.to_owned(),
        created_at: t0() + mins(at),
    };
    let mut tx = write(store).await;
    assert!(tx.add_alert(&broken("broken:1", 0)).await.unwrap());
    assert!(
        !tx.add_alert(&broken("broken:1", 1)).await.unwrap(),
        "the same event told twice adds nothing"
    );
    assert!(tx.add_alert(&broken("broken:2", 2)).await.unwrap());
    tx.plan_deliveries(acme, id, &slot("UTC", 0, 0, 1))
        .await
        .unwrap();
    commit(tx).await;
    let due = read(store).await.due_deliveries(t0(), 10).await.unwrap();
    let ids: Vec<_> = due.iter().map(|d| d.id).collect();
    let mut tx = write(store).await;
    assert_eq!(tx.add_suggestion_alerts(&ids, t0()).await.unwrap(), 2);
    assert_eq!(
        tx.add_suggestion_alerts(&ids, t0()).await.unwrap(),
        0,
        "one per delivery"
    );
    assert_eq!(tx.add_suggestion_alerts(&[], t0()).await.unwrap(), 0);
    commit(tx).await;

    let mut tx = read(store).await;
    let all = tx.alerts_of(ada, None, false, 10).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let suggestion = &all[0];
    assert_eq!(suggestion.kind, AlertKind::Suggestion);
    assert_eq!(suggestion.post_id, Some(id));
    assert_eq!(suggestion.team_id, Some(acme));
    assert_eq!(suggestion.text, "New suggestion from Crew: Our launch");
    assert_eq!(all[1].account_id, Some(fb));
    assert_eq!(all[1].created_at, t0() + mins(2));
    let first_page = tx.alerts_of(ada, None, false, 2).await.unwrap();
    let next = tx
        .alerts_of(ada, Some(first_page[1].id), false, 2)
        .await
        .unwrap();
    assert_eq!(next, all[2..].to_vec());
    assert_eq!(tx.unread_alerts(ada).await.unwrap(), 3);
    assert_eq!(tx.alerts_of(amy, None, false, 10).await.unwrap().len(), 1);
    drop(tx);

    let mut tx = write(store).await;
    assert!(
        tx.mark_alert_read(amy, all[1].id, t0())
            .await
            .unwrap()
            .is_none(),
        "another member's notification is not found"
    );
    let read_one = tx
        .mark_alert_read(ada, all[1].id, t0() + mins(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read_one.read_at, Some(t0() + mins(5)));
    let again = tx
        .mark_alert_read(ada, all[1].id, t0() + mins(9))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.read_at, Some(t0() + mins(5)), "first read is kept");
    commit(tx).await;
    let mut tx = read(store).await;
    assert_eq!(tx.unread_alerts(ada).await.unwrap(), 2);
    let unread = tx.alerts_of(ada, None, true, 10).await.unwrap();
    assert!(unread
        .iter()
        .all(|a| a.read_at.is_none() && a.id != all[1].id));
    drop(tx);
    let mut tx = write(store).await;
    assert_eq!(tx.mark_alerts_read(ada, t0() + mins(10)).await.unwrap(), 2);
    assert_eq!(tx.mark_alerts_read(ada, t0() + mins(11)).await.unwrap(), 0);
    commit(tx).await;
    let mut tx = read(store).await;
    assert_eq!(tx.unread_alerts(ada).await.unwrap(), 0);
    assert_eq!(tx.unread_alerts(amy).await.unwrap(), 1, "Amy's stay unread");
}

pub async fn a_held_share_is_rescheduled_once_and_history_lists_a_members_shares_newest_first(
    db: &TestDb,
) {
    use apostle_core::store::NewShareTarget;
    use apostle_domain::ShareStatus;
    let store = db.store();
    let (acme, members) = crew(store, "acme", 1).await;
    let amy = members[1];
    let (other, others) = crew(store, "other", 0).await;
    let mut made = Vec::new();
    for (team, author, external, text) in [
        (acme, members[0], "p1", "First"),
        (acme, members[0], "p2", "Second"),
        (other, others[0], "p3", "Elsewhere"),
    ] {
        let account = page(store, team, author, external).await;
        let id = post(store, team, author, &content(text)).await;
        let mut tx = write(store).await;
        made.push(
            tx.add_share_target(&NewShareTarget {
                team_id: team,
                post_id: id,
                user_id: amy,
                account_id: account,
                provider: "facebook".to_owned(),
                text: text.to_owned(),
                idempotency_key: text.to_owned(),
                created_at: t0(),
            })
            .await
            .unwrap()
            .unwrap(),
        );
        commit(tx).await;
    }
    let mut tx = read(store).await;
    let history = tx.member_share_history(amy, acme, 10).await.unwrap();
    let texts: Vec<&str> = history.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(texts, ["Second", "First"], "newest first, this team only");
    assert_eq!(
        tx.member_share_history(amy, acme, 1).await.unwrap().len(),
        1
    );
    assert!(tx
        .member_share_history(members[0], acme, 10)
        .await
        .unwrap()
        .is_empty());
    drop(tx);

    let held = made[0].id;
    let later = t0() + mins(90);
    let mut tx = write(store).await;
    assert!(
        !tx.schedule_share_target(held, later, t0()).await.unwrap(),
        "only a held share is rescheduled"
    );
    assert!(tx
        .move_share_target(
            held,
            &[ShareStatus::Queued],
            ShareStatus::WaitingForReconnect,
            None,
            None,
            t0()
        )
        .await
        .unwrap());
    assert!(tx.schedule_share_target(held, later, t0()).await.unwrap());
    assert!(!tx.schedule_share_target(held, later, t0()).await.unwrap());
    commit(tx).await;
    let found = read(store).await.share_target(held).await.unwrap().unwrap();
    assert_eq!(found.status, ShareStatus::Queued);
    assert_eq!(found.publish_after, Some(later));
    assert_eq!(made[1].publish_after, None);
}
