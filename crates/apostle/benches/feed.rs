//! What the member's feed and sharing cost against the floor, on SQLite with
//! 1,000 posts and 1,000 members, with `wrk` on loopback (64 connections, a
//! few seconds each), in one app built in-process:
//!
//! - the baseline, `GET /baseline/teams/{id}/posts`: one indexed read of the
//!   team's 20 newest posts as plain HTML (mounted for this run only);
//! - the feed, `GET /t/{slug}/inbox` as a signed-in member with every post
//!   current in their inbox: the page as a browser gets it;
//! - the share API, `POST /api/v1/posts/{id}/shares`, each request from
//!   another member (each with an X account connected through the real flow
//!   at the sandbox this app mounts), another post and its own text, so the
//!   sandbox's X limits (100 posts per 15 minutes per member, no duplicate
//!   text) hold. Shares are published by the app's job runner, as in `serve`;
//!   after the run the queue is drained and the shares counted by status.
//!
//! Prints requests per second, p99 latency and failures for each, and the
//! ratios to the baseline. The goal: the feed at 0.35 of the baseline's rate
//! or more, with a p99 of 20 ms or less.

#[path = "support/connect.rs"]
mod connect;
#[path = "support/served.rs"]
mod served;

use apostle_core::posts::PostInput;
use apostle_core::secrets::{random_token, token_hash};
use apostle_core::store::{JobState, User};
use apostle_domain::{EmailAddress, TeamId, UserId};
use secrecy::ExposeSecret;
use served::{Figures, Served, CONNECTIONS, SECONDS, THREADS};
use sqlx::Connection;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, Instant};

const MEMBERS: usize = 1_000;
const POSTS: usize = 1_000;
/// The baseline and the feed are each measured this many times, alternated.
const ROUNDS: usize = 2;
/// How long the shares may take to publish after the run.
const DRAIN: Duration = Duration::from_secs(120);
/// The member whose feed is read; the others share.
const READER: &str = "member-1@bench.example";

/// `$1` how many, `$2` their creation time; `n` counts from 1. No password:
/// the reader signs in through a session made for it, sharers with tokens.
const SEED_MEMBERS: &str = "WITH RECURSIVE series(n) AS \
         (SELECT 1 UNION ALL SELECT n + 1 FROM series WHERE n < $1) \
     INSERT INTO users (email, name, created_at) \
     SELECT 'member-' || n || '@bench.example', 'Member ' || n, $2 FROM series";
/// `$1` the team, `$2` the admin.
const SEED_MEMBERSHIPS: &str = "INSERT INTO memberships (team_id, user_id, role) \
     SELECT $1, id, 'ambassador' FROM users WHERE id <> $2";
/// Copies of post `$1` (made by the composer), `$2` of them, a second apart
/// and older, already sent.
const SEED_POSTS: &str = "WITH RECURSIVE series(n) AS \
         (SELECT 1 UNION ALL SELECT n + 1 FROM series WHERE n < $2) \
     INSERT INTO posts (team_id, author_id, text, variants, link, link_title, utm, image_id, \
         providers, recipients_all, schedule, status, expires_at, created_at, updated_at) \
     SELECT team_id, author_id, 'Post ' || n || ': ' || text, variants, link, link_title, utm, \
         image_id, providers, recipients_all, schedule, 'sent', expires_at, \
         created_at - n * 1000000, updated_at \
     FROM posts, series WHERE posts.id = $1";
/// Every post of team `$1` delivered to every ambassador when it was made.
const SEED_DELIVERIES: &str = "INSERT INTO deliveries \
         (post_id, team_id, user_id, due_at, state, delivered_at) \
     SELECT p.id, p.team_id, m.user_id, p.created_at, 'delivered', p.created_at \
     FROM posts p JOIN memberships m ON m.team_id = p.team_id AND m.role = 'ambassador' \
     WHERE p.team_id = $1";

#[tokio::main]
async fn main() {
    if !served::wrk_installed() {
        return;
    }
    println!(
        "feed: wrk, {CONNECTIONS} connections, {SECONDS} per path, loopback, SQLite, \
         {POSTS} posts, {MEMBERS} members"
    );
    let (scratch, mut env) = served::sqlite_env("feed");
    env.insert("APOSTLE_BASELINE_ROUTE".to_owned(), "true".to_owned());
    let db_url = env["APOSTLE_DATABASE_URL"].clone();
    let app = Served::start(env).await;

    let started = Instant::now();
    let team = seed(&app, &db_url).await;
    let reader = user(&app, READER).await;
    let session = app
        .core
        .start_session(reader.id)
        .await
        .expect("the reader's session");
    let cookie = format!("Cookie: apostle_session={}", session.cookie.expose_secret());
    let sharers = sharers(&app, team, reader.id).await;
    println!(
        "seeded, and connected {MEMBERS} members' X accounts, in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let baseline_url = format!("{}/baseline/teams/{}/posts", app.base, team.0);
    let feed_url = format!("{}/t/acme/inbox", app.base);
    check(&baseline_url, &[], "Post 1: ").await;
    check(&feed_url, &[&cookie], "Post 1: ").await;
    // Alternated, so that a noisy moment weighs on both alike.
    let (mut baseline, mut feed) = (Figures::default(), Figures::default());
    for _ in 0..ROUNDS {
        baseline.add(served::wrk(&baseline_url, &[], None));
        feed.add(served::wrk(&feed_url, &[&cookie], None));
    }
    let script = scratch.join("shares.lua");
    std::fs::write(&script, sharers.script()).expect("the script is written");
    let mut shares = Figures::default();
    // Any path: the script names each request's own.
    shares.add(served::wrk(&app.base, &[], Some((&script, &[]))));
    let drained = drain(&app).await;
    let published = share_counts(&app, team).await;

    println!("baseline, GET /baseline/teams/{{id}}/posts: {baseline}");
    println!(
        "feed, GET /t/{{slug}}/inbox: {feed}; ratio {:.2}",
        feed.rate / baseline.rate
    );
    println!(
        "share API, POST /api/v1/posts/{{id}}/shares: {shares}; ratio {:.2}",
        shares.rate / baseline.rate
    );
    println!(
        "shares after the run, by status: {published:?}{}",
        match drained {
            Some(took) => format!(" (published within {:.1} s)", took.as_secs_f64()),
            None => format!(" (jobs still waiting after {} s)", DRAIN.as_secs()),
        }
    );
    app.stop().await;
    std::fs::remove_dir_all(&scratch).ok();
}

/// Acme with its admin, then the members, posts and deliveries set-based on a
/// connection of our own (the post they copy comes from the composer).
async fn seed(app: &Served, db_url: &str) -> TeamId {
    let core = &app.core;
    let (team, admin) = served::acme(core).await;
    let access = core.team_access("acme", &admin).await.expect("access");
    let post = core
        .create_post(
            &access,
            PostInput {
                text: "Our new espresso machine is here, come and try it".to_owned(),
                providers: vec!["linkedin".to_owned(), "x".to_owned()],
                ..PostInput::default()
            },
        )
        .await
        .expect("the post");
    let mut conn = sqlx::SqliteConnection::connect(db_url)
        .await
        .expect("the database opens");
    let created: i64 = sqlx::query_scalar("SELECT created_at FROM users WHERE id = $1")
        .bind(admin.id.0)
        .fetch_one(&mut conn)
        .await
        .expect("the admin's row");
    let run = |sql: &'static str| sqlx::query(sql);
    run(SEED_MEMBERS)
        .bind(MEMBERS as i64)
        .bind(created)
        .execute(&mut conn)
        .await
        .expect("members");
    run(SEED_MEMBERSHIPS)
        .bind(team.id.0)
        .bind(admin.id.0)
        .execute(&mut conn)
        .await
        .expect("memberships");
    // The composer's post is one of the 1,000.
    run(SEED_POSTS)
        .bind(post.id.0)
        .bind(POSTS as i64 - 1)
        .execute(&mut conn)
        .await
        .expect("posts");
    run(SEED_DELIVERIES)
        .bind(team.id.0)
        .execute(&mut conn)
        .await
        .expect("deliveries");
    run("ANALYZE").execute(&mut conn).await.expect("statistics");
    conn.close().await.ok();
    team.id
}

async fn user(app: &Served, email: &str) -> User {
    let mut tx = app.core.store.begin_read().await.expect("begin");
    tx.user_by_email(&EmailAddress::parse(email).expect("an address"))
        .await
        .expect("read")
        .expect("the member")
}

/// Every member but the reader, with an API token and an X account (the
/// reader has one too, as a member who shares would: the page shows it).
struct Sharers {
    tokens: Vec<String>,
    accounts: Vec<i64>,
    posts: Vec<i64>,
}

async fn sharers(app: &Served, team: TeamId, reader: UserId) -> Sharers {
    let mut users = Vec::new();
    for n in 1..=MEMBERS {
        users.push(user(app, &format!("member-{n}@bench.example")).await);
    }
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    let accounts = connect::connect_x(&app.core, users, "feed-bench").await;
    let now = app.core.clock.now();
    let (mut tokens, mut sharing) = (Vec::new(), Vec::new());
    let mut tx = app.core.store.begin().await.expect("begin");
    for (member, account) in ids.into_iter().zip(accounts) {
        if member == reader {
            continue;
        }
        let token = random_token();
        tx.create_api_token(member, &token_hash(&token), "bench", now)
            .await
            .expect("a token");
        tokens.push(token);
        sharing.push(account.id.0);
    }
    tx.commit().await.expect("commit");
    let mut tx = app.core.store.begin_read().await.expect("begin");
    let posts = tx
        .newest_posts(team, POSTS as i64)
        .await
        .expect("posts")
        .into_iter()
        .map(|p| p.id.0)
        .collect();
    Sharers {
        tokens,
        accounts: sharing,
        posts,
    }
}

impl Sharers {
    /// A wrk script whose request number `g` (counted across threads) goes to
    /// member `g % members` and post `(g / members) % posts`, with text that
    /// names `g`: no member shares a post twice, nor the same text.
    fn script(&self) -> String {
        let list = |items: &mut dyn Iterator<Item = String>| items.collect::<Vec<_>>().join(",");
        let mut lua = String::new();
        let _ = writeln!(
            lua,
            "local tokens = {{{}}}",
            list(&mut self.tokens.iter().map(|t| format!("\"{t}\"")))
        );
        let _ = writeln!(
            lua,
            "local accounts = {{{}}}",
            list(&mut self.accounts.iter().map(i64::to_string))
        );
        let _ = writeln!(
            lua,
            "local posts = {{{}}}",
            list(&mut self.posts.iter().map(i64::to_string))
        );
        let _ = writeln!(lua, "local threads = {THREADS}");
        lua.push_str(
            r#"local created = 0
function setup(thread)
  thread:set("offset", created)
  created = created + 1
end
local n = 0
function request()
  local g = offset + threads * n
  n = n + 1
  local m = g % #tokens + 1
  local p = math.floor(g / #tokens) % #posts + 1
  local body = string.format(
    '{"targets":[%d],"text":"Bench share %d, worth a read"}', accounts[m], g)
  return wrk.format("POST", "/api/v1/posts/" .. posts[p] .. "/shares",
    {["Authorization"] = "Bearer " .. tokens[m], ["Content-Type"] = "application/json"}, body)
end
"#,
        );
        lua
    }
}

/// The page answers 200 with what it should show, before it is measured:
/// wrk would count a redirect to sign in as a success.
async fn check(url: &str, headers: &[&str], expected: &str) {
    let mut request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
        .get(url);
    for header in headers {
        let (name, value) = header.split_once(": ").expect("a header");
        request = request.header(name, value);
    }
    let answer = request.send().await.expect("an answer");
    assert_eq!(answer.status(), 200, "{url}");
    let body = answer.text().await.expect("a body");
    assert!(body.contains(expected), "{url}: {body}");
}

/// Waits until no job is pending or running (the shares are published or
/// given up); how long that took, or `None` past [`DRAIN`].
async fn drain(app: &Served) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < DRAIN {
        let mut tx = app.core.store.begin_read().await.expect("begin");
        let counts = tx.count_jobs_by_state().await.expect("counts");
        drop(tx);
        let waiting: i64 = counts
            .iter()
            .filter(|(s, _)| matches!(s, JobState::Pending | JobState::Running))
            .map(|(_, n)| n)
            .sum();
        if waiting == 0 {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}

async fn share_counts(app: &Served, team: TeamId) -> BTreeMap<String, i64> {
    let mut tx = app.core.store.begin_read().await.expect("begin");
    let mut by_status = BTreeMap::new();
    for c in tx.share_counts(team).await.expect("share counts") {
        *by_status.entry(c.status.as_str().to_owned()).or_insert(0) += c.count;
    }
    by_status
}
