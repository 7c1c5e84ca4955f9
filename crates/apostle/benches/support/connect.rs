//! X accounts connected through the real flow against a provider sandbox
//! (mounted in the app, or its own process), for benchmarks that need many.

use apostle_core::connections::{CallbackParams, FlowStatus, StartFlow};
use apostle_core::store::{Account, AccountKind, User};
use apostle_core::Core;
use apostle_providers::Provider;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use url::Url;

/// Accounts connected at once while preparing (not timed).
const CONNECTING: usize = 8;

/// Connects a personal X account for each of `users` (sandbox members
/// `{tag}-{i}`) through the real path: the engine's authorize URL, the
/// sandbox's consent answered with one POST, the engine's callback (code
/// exchange, identity, verifying probe). Answers the accounts in order.
pub async fn connect_x(core: &Core, users: Vec<User>, tag: &str) -> Vec<Account> {
    // Follows no redirect: the consent's answer is read, not followed.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    let limit = Arc::new(Semaphore::new(CONNECTING));
    let mut connecting = JoinSet::new();
    for (i, user) in users.into_iter().enumerate() {
        let permit = Arc::clone(&limit).acquire_owned().await.expect("permit");
        let (core, http) = (core.clone(), http.clone());
        let member = format!("{tag}-{i}");
        connecting.spawn(async move {
            let _permit = permit;
            let start = StartFlow {
                provider: Provider::X,
                kind: AccountKind::Personal,
                team: None,
                redirect_uri: "apostle://connections",
            };
            let authorize = core.start_connect(&user, start).await.expect("started");
            let callback = consent(&http, &authorize, &member).await;
            let outcome = core
                .finish_flow("x", &callback, None)
                .await
                .expect("callback accepted");
            assert_eq!(
                outcome.status,
                FlowStatus::Connected,
                "{:?}",
                outcome.message
            );
            let account = outcome.connection_id.expect("an account");
            let mut tx = core.store.begin_read().await.expect("begin");
            let account = tx.account_by_id(account).await.expect("read");
            (i, account.expect("the account"))
        });
    }
    let mut accounts = connecting.join_all().await;
    accounts.sort_by_key(|(i, _)| *i);
    accounts.into_iter().map(|(_, a)| a).collect()
}

/// The member's "allow" at the sandbox's consent page of `authorize_url`: the
/// callback's parameters.
async fn consent(http: &reqwest::Client, authorize_url: &Url, member: &str) -> CallbackParams {
    let answer = http
        .post(authorize_url.as_str())
        .form(&[("member", member), ("decision", "allow")])
        .send()
        .await
        .expect("consent answered");
    assert_eq!(answer.status(), 302, "the consent redirects back");
    let location = answer.headers()["location"].to_str().expect("a location");
    let location = Url::parse(location).expect("callback URL");
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    CallbackParams {
        state: param("state"),
        code: param("code"),
        ..CallbackParams::default()
    }
}
