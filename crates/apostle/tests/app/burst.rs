//! A burst of clients that give up on their requests — as load balancers,
//! phones losing signal and impatient scripts do — must not knock the
//! server out: afterwards every request succeeds and queued mail still goes
//! out.

use crate::helpers::{admin_api_token, admin_of_new_team, spawn_app, TestApp};
use apostle_core::secrets::{random_token, token_hash};
use apostle_domain::{Role, UserId};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

crate::on_both_backends!(clients_that_give_up_mid_request_leave_the_server_answering_and_mailing);

/// Impatient clients at once, each sending request after request for
/// [`BURST`], with timeouts of about a millisecond.
const CLIENTS: usize = 64;
const BURST: Duration = Duration::from_secs(3);
/// Fresh tokens per client: the first use of a token writes (its last-use
/// time), and signing out with one writes too, so the burst cuts writes
/// as well as reads.
const TOKENS_PER_CLIENT: usize = 60;

/// Tokens of the team's admin, stored directly: issuing each through the
/// API would spend the burst on password hashing.
async fn fresh_tokens(app: &TestApp, user: UserId, count: usize) -> Vec<String> {
    let now = app.core.clock.now();
    let mut tx = app.core.store.begin().await.unwrap();
    let mut tokens = Vec::with_capacity(count);
    for _ in 0..count {
        let token = format!("apo_{}", random_token());
        tx.create_api_token(user, &token_hash(&token), "burst", now)
            .await
            .unwrap();
        tokens.push(token);
    }
    tx.commit().await.unwrap();
    tokens
}

/// One client sending reads and writes until the burst ends, giving up on
/// each after about a millisecond; returns how many it gave up on.
async fn impatient_client(base: String, tokens: Vec<String>, n: usize, until: Instant) -> usize {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_micros(300 + 400 * (n as u64 % 5)))
        .build()
        .unwrap();
    let mut gave_up = 0;
    for (i, token) in tokens.iter().cycle().enumerate() {
        if Instant::now() >= until {
            break;
        }
        let request = match i % 5 {
            0..=2 => client.get(format!("{base}/api/v1/me")),
            3 => client.get(format!("{base}/api/v1/teams/acme/members")),
            _ => client.delete(format!("{base}/api/v1/auth/token")),
        };
        if request.bearer_auth(token).send().await.is_err() {
            gave_up += 1;
        }
    }
    gave_up
}

async fn clients_that_give_up_mid_request_leave_the_server_answering_and_mailing() {
    let app = spawn_app().await;
    let admin = admin_of_new_team(&app.core).await;
    let token = admin_api_token(&app, "burst").await;
    let mut tokens = fresh_tokens(&app, admin.user.id, CLIENTS * TOKENS_PER_CLIENT).await;
    let base = app.url("");
    let until = Instant::now() + BURST;
    let mut clients = JoinSet::new();
    for n in 0..CLIENTS {
        let mine = tokens.split_off(tokens.len() - TOKENS_PER_CLIENT);
        clients.spawn(impatient_client(base.clone(), mine, n, until));
    }
    let mut gave_up = 0;
    while let Some(count) = clients.join_next().await {
        gave_up += count.unwrap();
    }
    assert!(gave_up > 0, "some clients gave up mid-request");

    for path in ["/api/v1/me", "/api/v1/teams/acme/members"] {
        for _ in 0..20 {
            let res = app
                .http
                .get(app.url(path))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{path} after the burst");
        }
    }
    // A write after the burst, and a fresh sign-in.
    let again = admin_api_token(&app, "burst").await;
    assert_ne!(again, token);
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "ready after the burst");

    app.core
        .invite(&admin, "newbie@acme.example", "Newbie", Role::Ambassador)
        .await
        .expect("an invite is queued after the burst");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_dir(&app.mail_dir).is_ok_and(|mut files| files.next().is_some()) {
        assert!(
            Instant::now() < deadline,
            "the job runner delivered no mail after the burst"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await.expect("the app stops cleanly");
}
