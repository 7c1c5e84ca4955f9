//! Connections: grants with their tokens, leases and health, the accounts
//! posted as through them, single-use OAuth flows and the timeline. Tokens
//! are opaque sealed text to the store; one check seals a real value with
//! the keyring to show it comes back intact.

use super::{commit, member, mins, read, t0, team, user, write};
use crate::harness::TestDb;
use apostle_core::store::{
    AccountKind, AccountOwner, ConnectionStatus, FlowPurpose, Grant, GrantTokens, LayoutCounts,
    NewAccount, NewConnectionEvent, NewFlow, NewGrant, Store, StoreError,
};
use apostle_domain::{AccountId, GrantId, Role, TeamId, UserId};
use apostle_encryption::Keyring;
use chrono::{DateTime, Utc};
use std::collections::HashSet;

// ---- fixtures ----------------------------------------------------------

fn new_grant(provider: &str, external: &str, due: DateTime<Utc>) -> NewGrant {
    NewGrant {
        provider: provider.to_owned(),
        external_user_id: external.to_owned(),
        scopes: "openid profile".to_owned(),
        access_token: format!("sealed-access-{external}"),
        refresh_token: Some(format!("sealed-refresh-{external}")),
        access_expires_at: t0() + mins(60),
        refresh_expires_at: Some(t0() + mins(60 * 24 * 365)),
        next_due_at: due,
        created_at: t0(),
    }
}

async fn grant(store: &dyn Store, owner: UserId, external: &str, due: DateTime<Utc>) -> Grant {
    let mut tx = write(store).await;
    let grant = tx
        .create_grant(owner, &new_grant("linkedin", external, due))
        .await
        .unwrap();
    commit(tx).await;
    grant
}

async fn stored(store: &dyn Store, id: GrantId) -> Grant {
    read(store).await.grant_by_id(id).await.unwrap().unwrap()
}

fn tokens(access: &str, refresh: Option<&str>) -> GrantTokens {
    GrantTokens {
        scopes: "openid profile w_member_social".to_owned(),
        access_token: access.to_owned(),
        refresh_token: refresh.map(str::to_owned),
        access_expires_at: t0() + mins(120),
        refresh_expires_at: refresh.map(|_| t0() + mins(60 * 24 * 400)),
    }
}

fn new_account(grant: GrantId, external: &str, name: &str) -> NewAccount {
    NewAccount {
        grant_id: grant,
        provider: "linkedin".to_owned(),
        external_id: external.to_owned(),
        name: name.to_owned(),
        page_token: None,
        created_at: t0(),
    }
}

async fn account(
    store: &dyn Store,
    owner: AccountOwner,
    grant: GrantId,
    external: &str,
) -> AccountId {
    let mut tx = write(store).await;
    let account = tx
        .create_account(owner, &new_account(grant, external, external))
        .await
        .unwrap();
    commit(tx).await;
    account.id
}

fn new_flow(state_hash: &str, expires: DateTime<Utc>) -> NewFlow {
    NewFlow {
        state_hash: state_hash.to_owned(),
        pkce_verifier: Some("sealed-verifier".to_owned()),
        provider: "x".to_owned(),
        purpose: FlowPurpose::Reconnect,
        kind: AccountKind::Business,
        team_id: None,
        account_id: None,
        redirect_to: "apostle://connections".to_owned(),
        created_at: t0(),
        expires_at: expires,
    }
}

fn ids(accounts: &[apostle_core::store::Account]) -> Vec<AccountId> {
    accounts.iter().map(|a| a.id).collect()
}

fn lease_of(grant: &Grant) -> &str {
    grant
        .lease_token
        .as_deref()
        .expect("a claimed grant has a lease")
}

// ---- grants ------------------------------------------------------------

pub async fn a_grant_is_found_by_id_and_by_its_login_and_stored_once(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@example.com", "Amy").await;
    let bob = user(store, "bob@example.com", "Bob").await;
    let created = grant(store, amy.id, "li-amy", t0()).await;
    assert_eq!(created.owner, amy.id);
    assert_eq!(created.status, ConnectionStatus::Active);
    assert_eq!(created.generation, 0);
    assert_eq!(
        created.refresh_token.as_deref(),
        Some("sealed-refresh-li-amy")
    );
    assert_eq!(created.lease_token, None);
    let mut tx = read(store).await;
    assert_eq!(
        tx.grant_by_id(created.id).await.unwrap(),
        Some(created.clone())
    );
    let by_login = tx
        .grant_by_login(amy.id, "linkedin", "li-amy")
        .await
        .unwrap();
    assert_eq!(by_login, Some(created.clone()));
    assert_eq!(
        tx.grant_by_login(amy.id, "x", "li-amy").await.unwrap(),
        None
    );
    drop(tx);
    let mut tx = write(store).await;
    let again = tx
        .create_grant(amy.id, &new_grant("linkedin", "li-amy", t0()))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    drop(tx);
    // Another member may hold a grant of the same external user id.
    grant(store, bob.id, "li-amy", t0()).await;
}

pub async fn new_tokens_are_stored_only_by_the_generation_they_were_read_at(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@example.com", "Amy").await;
    let g = grant(store, amy.id, "x-amy", t0()).await;
    let mut tx = write(store).await;
    let first = tokens("access-2", Some("refresh-2"));
    assert!(tx
        .store_grant_tokens(g.id, g.generation, &first, t0() + mins(1))
        .await
        .unwrap());
    // A second refresher that read the same generation loses.
    let stale = tokens("access-stale", Some("refresh-stale"));
    assert!(!tx
        .store_grant_tokens(g.id, g.generation, &stale, t0() + mins(1))
        .await
        .unwrap());
    commit(tx).await;
    let now = stored(store, g.id).await;
    assert_eq!(now.generation, g.generation + 1);
    assert_eq!(now.access_token, "access-2");
    assert_eq!(now.refresh_token.as_deref(), Some("refresh-2"));
    assert_eq!(now.scopes, first.scopes);
    assert_eq!(now.access_expires_at, first.access_expires_at);
    assert_eq!(now.refresh_expires_at, first.refresh_expires_at);
    assert_eq!(now.updated_at, t0() + mins(1));
}

pub async fn a_refresh_without_a_refresh_token_keeps_the_stored_one(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@example.com", "Amy").await;
    let g = grant(store, amy.id, "li-amy", t0()).await;
    let mut tx = write(store).await;
    assert!(tx
        .store_grant_tokens(g.id, g.generation, &tokens("access-2", None), t0())
        .await
        .unwrap());
    commit(tx).await;
    let now = stored(store, g.id).await;
    assert_eq!(now.access_token, "access-2");
    assert_eq!(now.refresh_token, g.refresh_token);
    assert_eq!(now.refresh_expires_at, g.refresh_expires_at);
    assert_eq!(now.generation, g.generation + 1);
}

pub async fn a_grant_breaks_only_once_and_heals_as_active_again(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@example.com", "Amy").await;
    let g = grant(store, amy.id, "li-amy", t0()).await;
    let mut tx = write(store).await;
    assert!(tx
        .mark_grant_broken(g.id, "token_revoked", t0() + mins(1))
        .await
        .unwrap());
    // A second detection of the same break changes nothing.
    assert!(!tx
        .mark_grant_broken(g.id, "password_changed", t0() + mins(2))
        .await
        .unwrap());
    commit(tx).await;
    let broken = stored(store, g.id).await;
    assert_eq!(broken.status, ConnectionStatus::Broken);
    assert_eq!(broken.break_reason.as_deref(), Some("token_revoked"));
    assert_eq!(broken.broken_since, Some(t0() + mins(1)));
    let mut tx = write(store).await;
    assert!(tx
        .mark_grant_active(g.id, t0() + mins(10), t0() + mins(3))
        .await
        .unwrap());
    assert!(!tx
        .mark_grant_active(g.id, t0() + mins(10), t0() + mins(3))
        .await
        .unwrap());
    commit(tx).await;
    let healed = stored(store, g.id).await;
    assert_eq!(healed.status, ConnectionStatus::Active);
    assert_eq!(healed.break_reason, None);
    assert_eq!(healed.broken_since, None);
    assert_eq!(healed.next_due_at, t0() + mins(10));
    // Healed, it can break again, once.
    let mut tx = write(store).await;
    assert!(tx
        .mark_grant_broken(g.id, "app_removed", t0() + mins(4))
        .await
        .unwrap());
    commit(tx).await;
}

pub async fn a_grant_is_removed_only_by_its_owner_never_claimed_then_and_comes_back_on_reconnect(
    db: &TestDb,
) {
    let store = db.store();
    let amy = user(store, "amy@example.com", "Amy").await;
    let bob = user(store, "bob@example.com", "Bob").await;
    let g = grant(store, amy.id, "li-amy", t0()).await;
    let mut tx = write(store).await;
    assert!(!tx.remove_grant(bob.id, g.id, t0()).await.unwrap());
    assert!(tx.remove_grant(amy.id, g.id, t0()).await.unwrap());
    assert!(!tx.remove_grant(amy.id, g.id, t0()).await.unwrap());
    commit(tx).await;
    // A probe or refresh that finishes late neither heals, breaks nor
    // stores a live token on it.
    let mut tx = write(store).await;
    let late = tokens("access-late", Some("refresh-late"));
    assert!(!tx
        .store_grant_tokens(g.id, g.generation, &late, t0())
        .await
        .unwrap());
    assert!(!tx.mark_grant_active(g.id, t0(), t0()).await.unwrap());
    assert!(!tx
        .mark_grant_broken(g.id, "token_revoked", t0())
        .await
        .unwrap());
    commit(tx).await;
    assert_eq!(stored(store, g.id).await.status, ConnectionStatus::Removed);
    let claimed = store.claim_due_grants(t0() + mins(60), mins(5), 10).await;
    assert!(claimed.unwrap().is_empty());

    // Connecting the same login again brings the same row back, active
    // with the new tokens; its history stays attached to its id.
    let mut again = new_grant("linkedin", "li-amy", t0() + mins(90));
    again.access_token = "sealed-access-again".to_owned();
    let mut tx = write(store).await;
    let back = tx.create_grant(amy.id, &again).await.unwrap();
    commit(tx).await;
    assert_eq!(back.id, g.id);
    assert_eq!(back.status, ConnectionStatus::Active);
    assert_eq!(back.access_token, "sealed-access-again");
    assert_eq!(back.generation, g.generation + 1);
    assert_eq!(back.next_due_at, t0() + mins(90));
    // While it is active, connecting it once more is still a conflict.
    let mut tx = write(store).await;
    let twice = tx.create_grant(amy.id, &again).await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
}

pub async fn due_active_unleased_grants_are_claimed_most_overdue_first_up_to_the_limit(
    db: &TestDb,
) {
    let store = db.store();
    let amy = user(store, "amy@example.com", "Amy").await;
    let late = grant(store, amy.id, "late", t0() - mins(30)).await;
    let due = grant(store, amy.id, "due", t0()).await;
    let later = grant(store, amy.id, "later", t0() - mins(10)).await;
    let future = grant(store, amy.id, "future", t0() + mins(1)).await;
    let broken = grant(store, amy.id, "broken", t0() - mins(60)).await;
    let mut tx = write(store).await;
    tx.mark_grant_broken(broken.id, "token_expired", t0())
        .await
        .unwrap();
    commit(tx).await;

    let first = store.claim_due_grants(t0(), mins(5), 2).await.unwrap();
    assert_eq!(
        first.iter().map(|g| g.id).collect::<Vec<_>>(),
        [late.id, later.id]
    );
    for g in &first {
        assert_eq!(g.leased_until, Some(t0() + mins(5)));
        assert!(!lease_of(g).is_empty());
    }
    assert_ne!(
        lease_of(&first[0]),
        lease_of(&first[1]),
        "a fresh token each"
    );
    let rest = store.claim_due_grants(t0(), mins(5), 10).await.unwrap();
    assert_eq!(rest.iter().map(|g| g.id).collect::<Vec<_>>(), [due.id]);
    assert!(store
        .claim_due_grants(t0(), mins(5), 10)
        .await
        .unwrap()
        .is_empty());
    // When its time comes, the future grant is due too.
    let then = store.claim_due_grants(t0() + mins(1), mins(5), 10).await;
    assert_eq!(
        then.unwrap().iter().map(|g| g.id).collect::<Vec<_>>(),
        [future.id]
    );
}

pub async fn a_grant_lease_is_released_and_renewed_only_with_its_token(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@example.com", "Amy").await;
    let g = grant(store, amy.id, "li-amy", t0()).await;
    let claimed = store.claim_due_grants(t0(), mins(5), 10).await.unwrap();
    let lease = lease_of(&claimed[0]).to_owned();
    let mut tx = write(store).await;
    assert!(!tx
        .renew_grant_lease(g.id, "not-the-lease", t0() + mins(30))
        .await
        .unwrap());
    assert!(tx
        .renew_grant_lease(g.id, &lease, t0() + mins(10))
        .await
        .unwrap());
    commit(tx).await;
    // Renewed: still held after the first lease would have ended.
    let held = store.claim_due_grants(t0() + mins(7), mins(5), 10).await;
    assert!(held.unwrap().is_empty());
    // An expired lease lets another claimer in, with a new token that
    // fences out the first holder.
    let taken = store
        .claim_due_grants(t0() + mins(10), mins(5), 10)
        .await
        .unwrap();
    let second = lease_of(&taken[0]).to_owned();
    assert_ne!(second, lease);
    let mut tx = write(store).await;
    assert!(!tx
        .release_grant_lease(g.id, &lease, t0() + mins(60))
        .await
        .unwrap());
    assert!(tx
        .release_grant_lease(g.id, &second, t0() + mins(60))
        .await
        .unwrap());
    commit(tx).await;
    let released = stored(store, g.id).await;
    assert_eq!(released.lease_token, None);
    assert_eq!(released.leased_until, None);
    assert_eq!(released.next_due_at, t0() + mins(60));
    let early = store.claim_due_grants(t0() + mins(59), mins(5), 10).await;
    assert!(early.unwrap().is_empty());
    let due = store.claim_due_grants(t0() + mins(60), mins(5), 10).await;
    assert_eq!(due.unwrap().len(), 1);
}

pub async fn a_grant_moved_to_a_later_due_time_is_claimed_only_then(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@example.com", "Amy").await;
    let g = grant(store, amy.id, "li-amy", t0()).await;
    let mut tx = write(store).await;
    assert!(tx.set_grant_next_due(g.id, t0() + mins(90)).await.unwrap());
    assert!(!tx.set_grant_next_due(GrantId(-1), t0()).await.unwrap());
    commit(tx).await;
    assert!(store
        .claim_due_grants(t0() + mins(89), mins(5), 10)
        .await
        .unwrap()
        .is_empty());
    let due = store.claim_due_grants(t0() + mins(90), mins(5), 10).await;
    assert_eq!(due.unwrap()[0].id, g.id);
}

pub async fn concurrent_schedulers_never_claim_the_same_grant(db: &TestDb) {
    const GRANTS: usize = 120;
    const SCHEDULERS: usize = 4;
    let store = db.store();
    let amy = user(store, "amy@example.com", "Amy").await;
    let mut tx = write(store).await;
    for n in 0..GRANTS {
        let due = t0() - mins(n as i64 % 7);
        tx.create_grant(amy.id, &new_grant("x", &format!("x-{n}"), due))
            .await
            .unwrap();
    }
    commit(tx).await;
    let mut schedulers = Vec::new();
    for _ in 0..SCHEDULERS {
        let pool = db.open_another().await;
        schedulers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = pool
                    .claim_due_grants(t0(), mins(5), 7)
                    .await
                    .expect("claim");
                if batch.is_empty() {
                    break;
                }
                mine.extend(batch.into_iter().map(|g| g.id));
            }
            pool.close().await;
            mine
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for scheduler in schedulers {
        let mine = scheduler.await.expect("scheduler");
        total += mine.len();
        seen.extend(mine);
    }
    assert_eq!(total, GRANTS, "claims handed out");
    assert_eq!(seen.len(), GRANTS, "distinct grants claimed");
}

pub async fn a_token_sealed_for_its_row_reads_back_intact(db: &TestDb) {
    let store = db.store();
    let keyring = Keyring::parse(&Keyring::generate_entry("k1")).unwrap();
    let amy = user(store, "amy@example.com", "Amy").await;
    let g = grant(store, amy.id, "li-amy", t0()).await;
    let place = format!("grants/{}/access_token", g.id);
    let sealed = keyring.seal_text("AQX-plaintext-access-token", &place);
    let mut tx = write(store).await;
    let fresh = GrantTokens {
        access_token: sealed.clone(),
        ..tokens("unused", None)
    };
    assert!(tx
        .store_grant_tokens(g.id, g.generation, &fresh, t0())
        .await
        .unwrap());
    commit(tx).await;
    let back = stored(store, g.id).await;
    assert_eq!(back.access_token, sealed);
    assert_eq!(
        keyring.open_text(&back.access_token, &place).unwrap(),
        "AQX-plaintext-access-token"
    );
    // Bound to its row: another grant's place does not open it.
    let elsewhere = format!("grants/{}/access_token", g.id.0 + 1);
    assert!(keyring.open_text(&back.access_token, &elsewhere).is_err());
    // Sealed or not, a grant's Debug never shows its tokens.
    let shown = format!("{back:?}");
    assert!(
        !shown.contains(&sealed) && !shown.contains("sealed-refresh"),
        "{shown}"
    );
}

// ---- accounts ----------------------------------------------------------

pub async fn accounts_are_listed_by_grant_by_user_and_by_team_in_connecting_order(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let amy = user(store, "amy@example.com", "Amy").await;
    let g = grant(store, amy.id, "li-amy", t0()).await;
    let personal = account(store, AccountOwner::Personal(amy.id), g.id, "li-amy").await;
    let page_b = account(store, AccountOwner::Business(acme.id), g.id, "org-b").await;
    let page_a = account(store, AccountOwner::Business(acme.id), g.id, "org-a").await;
    let mut tx = read(store).await;
    let of_grant = tx.accounts_of_grant(g.id).await.unwrap();
    assert_eq!(ids(&of_grant), [personal, page_b, page_a]);
    let mine = tx.personal_accounts(amy.id).await.unwrap();
    assert_eq!(ids(&mine), [personal]);
    assert_eq!(mine[0].owner, AccountOwner::Personal(amy.id));
    assert_eq!(mine[0].status, ConnectionStatus::Active);
    assert_eq!(mine[0].provider, "linkedin");
    assert_eq!(mine[0].external_id, "li-amy");
    let pages = tx.business_accounts(acme.id).await.unwrap();
    assert_eq!(ids(&pages), [page_b, page_a]);
    assert_eq!(pages[0].owner, AccountOwner::Business(acme.id));
    assert_eq!(pages[0].grant_id, g.id);
}

pub async fn the_same_account_twice_for_one_owner_is_a_conflict(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let globex = team(store, "globex", "Globex").await;
    let amy = user(store, "amy@example.com", "Amy").await;
    let g = grant(store, amy.id, "li-amy", t0()).await;
    account(store, AccountOwner::Business(acme.id), g.id, "org-1").await;
    let mut tx = write(store).await;
    let again = tx
        .create_account(
            AccountOwner::Business(acme.id),
            &new_account(g.id, "org-1", "Org"),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    drop(tx);
    // Another team, or a member's personal account, may hold the same id.
    account(store, AccountOwner::Business(globex.id), g.id, "org-1").await;
    account(store, AccountOwner::Personal(amy.id), g.id, "org-1").await;
}

pub async fn an_account_breaks_on_its_own_once_and_recovers(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let amy = user(store, "amy@example.com", "Amy").await;
    let g = grant(store, amy.id, "fb-amy", t0()).await;
    let owner = AccountOwner::Business(acme.id);
    let lost = account(store, owner, g.id, "page-lost").await;
    let kept = account(store, owner, g.id, "page-kept").await;
    let broken = ConnectionStatus::Broken;
    let mut tx = write(store).await;
    let reason = Some("page_access_lost");
    assert!(tx
        .set_account_status(owner, lost, broken, reason, t0() + mins(1))
        .await
        .unwrap());
    assert!(!tx
        .set_account_status(owner, lost, broken, reason, t0() + mins(2))
        .await
        .unwrap());
    commit(tx).await;
    let pages = read(store).await.business_accounts(acme.id).await.unwrap();
    assert_eq!(pages[0].status, ConnectionStatus::Broken);
    assert_eq!(pages[0].break_reason.as_deref(), Some("page_access_lost"));
    assert_eq!(pages[0].broken_since, Some(t0() + mins(1)));
    assert_eq!(
        (pages[1].id, pages[1].status),
        (kept, ConnectionStatus::Active)
    );
    assert_eq!(stored(store, g.id).await.status, ConnectionStatus::Active);
    let mut tx = write(store).await;
    assert!(tx
        .set_account_status(owner, lost, ConnectionStatus::Active, None, t0())
        .await
        .unwrap());
    commit(tx).await;
    let pages = read(store).await.business_accounts(acme.id).await.unwrap();
    assert_eq!(pages[0].status, ConnectionStatus::Active);
    assert_eq!(
        (pages[0].break_reason.clone(), pages[0].broken_since),
        (None, None)
    );
}

pub async fn a_business_page_moves_under_another_admins_grant(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let amy = user(store, "amy@example.com", "Amy").await;
    let bob = user(store, "bob@example.com", "Bob").await;
    let amys = grant(store, amy.id, "fb-amy", t0()).await;
    let bobs = grant(store, bob.id, "fb-bob", t0()).await;
    let mut tx = write(store).await;
    let page = tx
        .create_account(
            AccountOwner::Business(acme.id),
            &NewAccount {
                page_token: Some("sealed-page-token-amy".to_owned()),
                ..new_account(amys.id, "page-1", "Acme Page")
            },
        )
        .await
        .unwrap();
    assert!(tx
        .move_account(acme.id, page.id, bobs.id, Some("sealed-page-token-bob"))
        .await
        .unwrap());
    commit(tx).await;
    let mut tx = read(store).await;
    assert!(tx.accounts_of_grant(amys.id).await.unwrap().is_empty());
    let moved = tx.accounts_of_grant(bobs.id).await.unwrap();
    assert_eq!(ids(&moved), [page.id]);
    assert_eq!(
        moved[0].page_token.as_deref(),
        Some("sealed-page-token-bob")
    );
    drop(tx);
    // Without a new page token, the stored one stays.
    let mut tx = write(store).await;
    assert!(tx
        .move_account(acme.id, page.id, amys.id, None)
        .await
        .unwrap());
    commit(tx).await;
    let back = read(store).await.accounts_of_grant(amys.id).await.unwrap();
    assert_eq!(back[0].page_token.as_deref(), Some("sealed-page-token-bob"));
    assert!(!format!("{back:?}").contains("sealed-page-token"));
}

pub async fn one_tenant_cannot_read_or_change_anothers_connections(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let globex = team(store, "globex", "Globex").await;
    let amy = user(store, "amy@example.com", "Amy").await;
    let eve = user(store, "eve@example.com", "Eve").await;
    let amys = grant(store, amy.id, "li-amy", t0()).await;
    let eves = grant(store, eve.id, "li-eve", t0()).await;
    let personal = account(store, AccountOwner::Personal(amy.id), amys.id, "li-amy").await;
    let page = account(store, AccountOwner::Business(acme.id), amys.id, "org-1").await;

    let mut tx = write(store).await;
    assert_eq!(
        tx.grant_by_login(eve.id, "linkedin", "li-amy")
            .await
            .unwrap(),
        None
    );
    assert!(!tx.remove_grant(eve.id, amys.id, t0()).await.unwrap());
    assert!(tx.personal_accounts(eve.id).await.unwrap().is_empty());
    assert!(tx.business_accounts(globex.id).await.unwrap().is_empty());
    let broken = ConnectionStatus::Broken;
    let reason = Some("token_revoked");
    for (owner, account) in [
        (AccountOwner::Personal(eve.id), personal),
        (AccountOwner::Business(globex.id), page),
        // The right id of the wrong kind is no owner either.
        (AccountOwner::Business(TeamId(amy.id.0)), personal),
        (AccountOwner::Personal(UserId(acme.id.0)), page),
    ] {
        let changed = tx
            .set_account_status(owner, account, broken, reason, t0())
            .await
            .unwrap();
        assert!(!changed, "{owner:?} changed account {account}");
    }
    assert!(!tx
        .move_account(globex.id, page, eves.id, None)
        .await
        .unwrap());
    // A personal account is never moved as a page.
    assert!(!tx
        .move_account(acme.id, personal, eves.id, None)
        .await
        .unwrap());
    commit(tx).await;
    let mut tx = read(store).await;
    assert_eq!(
        stored(store, amys.id).await.status,
        ConnectionStatus::Active
    );
    let accounts = tx.accounts_of_grant(amys.id).await.unwrap();
    assert_eq!(ids(&accounts), [personal, page]);
    assert!(accounts
        .iter()
        .all(|a| a.status == ConnectionStatus::Active));
}

// ---- flows and the timeline -------------------------------------------

pub async fn an_oauth_flow_is_consumed_once_and_only_before_it_expires(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let amy = user(store, "amy@example.com", "Amy").await;
    let g = grant(store, amy.id, "x-amy", t0()).await;
    let page = account(store, AccountOwner::Business(acme.id), g.id, "x-acme").await;
    let mut tx = write(store).await;
    let flow = NewFlow {
        team_id: Some(acme.id),
        account_id: Some(page),
        ..new_flow("hash-1", t0() + mins(10))
    };
    let started = tx.create_flow(amy.id, &flow).await.unwrap();
    tx.create_flow(amy.id, &new_flow("hash-late", t0() + mins(10)))
        .await
        .unwrap();
    commit(tx).await;
    let mut tx = write(store).await;
    let twin = tx.create_flow(amy.id, &new_flow("hash-1", t0())).await;
    assert!(matches!(twin, Err(StoreError::Conflict(_))), "{twin:?}");
    drop(tx);
    assert_eq!(started.user_id, amy.id);
    assert_eq!(started.consumed_at, None);
    assert!(!format!("{started:?}").contains("sealed-verifier"));

    let mut tx = write(store).await;
    let used = tx.consume_flow("hash-1", t0() + mins(9)).await.unwrap();
    let used = used.expect("an open flow is consumed");
    assert_eq!(used.id, started.id);
    assert_eq!(used.purpose, FlowPurpose::Reconnect);
    assert_eq!(used.kind, AccountKind::Business);
    assert_eq!(used.provider, "x");
    assert_eq!((used.team_id, used.account_id), (Some(acme.id), Some(page)));
    assert_eq!(used.pkce_verifier.as_deref(), Some("sealed-verifier"));
    assert_eq!(used.redirect_to, "apostle://connections");
    assert_eq!(used.expires_at, t0() + mins(10));
    assert_eq!(used.consumed_at, Some(t0() + mins(9)));
    assert_eq!(
        tx.consume_flow("hash-1", t0() + mins(9)).await.unwrap(),
        None
    );
    assert_eq!(
        tx.consume_flow("hash-late", t0() + mins(10)).await.unwrap(),
        None
    );
    assert_eq!(tx.consume_flow("unknown", t0()).await.unwrap(), None);
    commit(tx).await;
}

pub async fn connection_events_are_listed_per_grant_newest_first(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let amy = user(store, "amy@example.com", "Amy").await;
    let g = grant(store, amy.id, "li-amy", t0()).await;
    let other = grant(store, amy.id, "li-other", t0()).await;
    let page = account(store, AccountOwner::Business(acme.id), g.id, "org-1").await;
    let event = |grant, kind: &str, at| NewConnectionEvent {
        grant_id: grant,
        account_id: None,
        kind: kind.to_owned(),
        reason: None,
        at,
        detail: String::new(),
    };
    let mut tx = write(store).await;
    let connected = tx
        .append_connection_event(&event(g.id, "connected", t0()))
        .await
        .unwrap();
    let broken = tx
        .append_connection_event(&NewConnectionEvent {
            account_id: Some(page),
            reason: Some("page_access_lost".to_owned()),
            detail: "Acme lost its page role".to_owned(),
            ..event(g.id, "broken", t0() + mins(5))
        })
        .await
        .unwrap();
    let refreshed = tx
        .append_connection_event(&event(g.id, "refreshed", t0() + mins(2)))
        .await
        .unwrap();
    tx.append_connection_event(&event(other.id, "connected", t0() + mins(9)))
        .await
        .unwrap();
    commit(tx).await;
    let mut tx = read(store).await;
    let timeline = tx.connection_events(g.id, 10).await.unwrap();
    let order: Vec<_> = timeline.iter().map(|e| e.id).collect();
    assert_eq!(order, [broken, refreshed, connected]);
    let newest = &timeline[0];
    assert_eq!(newest.grant_id, g.id);
    assert_eq!(newest.account_id, Some(page));
    assert_eq!(newest.kind, "broken");
    assert_eq!(newest.reason.as_deref(), Some("page_access_lost"));
    assert_eq!(newest.at, t0() + mins(5));
    assert_eq!(newest.detail, "Acme lost its page role");
    let limited = tx.connection_events(g.id, 2).await.unwrap();
    assert_eq!(
        limited.iter().map(|e| e.id).collect::<Vec<_>>(),
        [broken, refreshed]
    );
}

pub async fn a_teams_connection_events_are_its_pages_and_its_members_accounts_only(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let globex = team(store, "globex", "Globex").await;
    let ada = user(store, "ada@example.com", "Ada").await;
    let amy = user(store, "amy@example.com", "Amy").await;
    let gil = user(store, "gil@example.com", "Gil").await;
    let zed = user(store, "zed@example.com", "Zed").await;
    member(store, acme.id, ada.id, Role::Admin).await;
    member(store, globex.id, ada.id, Role::Admin).await;
    member(store, acme.id, amy.id, Role::Ambassador).await;
    member(store, globex.id, gil.id, Role::Admin).await;
    // Ada's one login carries a page of each team.
    let g_ada = grant(store, ada.id, "li-ada", t0()).await;
    let acme_page = account(store, AccountOwner::Business(acme.id), g_ada.id, "org-a").await;
    let globex_page = account(store, AccountOwner::Business(globex.id), g_ada.id, "org-g").await;
    let g_amy = grant(store, amy.id, "li-amy", t0()).await;
    account(store, AccountOwner::Personal(amy.id), g_amy.id, "li-amy").await;
    let g_gil = grant(store, gil.id, "li-gil", t0()).await;
    account(store, AccountOwner::Personal(gil.id), g_gil.id, "li-gil").await;
    let g_zed = grant(store, zed.id, "li-zed", t0()).await;
    account(store, AccountOwner::Personal(zed.id), g_zed.id, "li-zed").await;
    let event = |grant: GrantId, account: Option<AccountId>, kind: &str, at| NewConnectionEvent {
        grant_id: grant,
        account_id: account,
        kind: kind.to_owned(),
        reason: None,
        at,
        detail: String::new(),
    };
    let mut tx = write(store).await;
    tx.append_connection_event(&event(g_ada.id, None, "connected", t0() - mins(60)))
        .await
        .unwrap();
    let ada_broke = tx
        .append_connection_event(&event(g_ada.id, None, "broken", t0() + mins(5)))
        .await
        .unwrap();
    let acme_back = tx
        .append_connection_event(&event(
            g_ada.id,
            Some(acme_page),
            "reconnected",
            t0() + mins(6),
        ))
        .await
        .unwrap();
    let globex_back = tx
        .append_connection_event(&event(
            g_ada.id,
            Some(globex_page),
            "reconnected",
            t0() + mins(7),
        ))
        .await
        .unwrap();
    let amy_broke = tx
        .append_connection_event(&event(g_amy.id, None, "broken", t0() + mins(8)))
        .await
        .unwrap();
    let gil_broke = tx
        .append_connection_event(&event(g_gil.id, None, "broken", t0() + mins(9)))
        .await
        .unwrap();
    tx.append_connection_event(&event(g_zed.id, None, "broken", t0() + mins(10)))
        .await
        .unwrap();
    commit(tx).await;
    let mut tx = read(store).await;
    let ids = |events: Vec<apostle_core::store::ConnectionEvent>| {
        events.into_iter().map(|e| e.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(tx.team_connection_events(acme.id, t0()).await.unwrap()),
        [amy_broke, acme_back, ada_broke],
        "Acme sees its page, its member and Ada's login, not Globex's page or anyone else"
    );
    assert_eq!(
        ids(tx.team_connection_events(globex.id, t0()).await.unwrap()),
        [gil_broke, globex_back, ada_broke]
    );
    assert_eq!(
        ids(tx
            .team_connection_events(acme.id, t0() + mins(6))
            .await
            .unwrap()),
        [amy_broke, acme_back]
    );
}

pub async fn a_grant_broken_for_an_action_at_the_provider_stays_due_for_the_probe_that_heals_it(
    db: &TestDb,
) {
    let store = db.store();
    let amy = user(store, "amy@example.com", "Amy").await;
    let checkpoint = grant(store, amy.id, "checkpoint", t0()).await;
    let revoked = grant(store, amy.id, "revoked", t0()).await;
    let mut tx = write(store).await;
    tx.mark_grant_broken(checkpoint.id, "provider_action_required", t0())
        .await
        .unwrap();
    tx.mark_grant_broken(revoked.id, "token_revoked", t0())
        .await
        .unwrap();
    commit(tx).await;
    let claimed = store.claim_due_grants(t0(), mins(5), 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|g| g.id).collect::<Vec<_>>(),
        [checkpoint.id]
    );
    assert_eq!(claimed[0].status, ConnectionStatus::Broken);
    let mut tx = write(store).await;
    assert!(tx.remove_grant(amy.id, checkpoint.id, t0()).await.unwrap());
    commit(tx).await;
    assert!(store
        .claim_due_grants(t0() + mins(10), mins(5), 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn a_flow_is_found_by_state_and_id_closed_once_kept_for_choosing_pages_and_purged(
    db: &TestDb,
) {
    let store = db.store();
    let amy = user(store, "amy@example.com", "Amy").await;
    let bob = user(store, "bob@example.com", "Bob").await;
    let g = grant(store, amy.id, "fb-amy", t0()).await;
    let mut tx = write(store).await;
    let open = tx
        .create_flow(amy.id, &new_flow("open", t0() + mins(10)))
        .await
        .unwrap();
    let stale = tx
        .create_flow(amy.id, &new_flow("stale", t0() - mins(1)))
        .await
        .unwrap();
    commit(tx).await;

    let mut tx = write(store).await;
    let found = tx.flow_by_state("stale").await.unwrap().unwrap();
    assert_eq!(found.id, stale.id, "an expired flow is still found");
    assert_eq!(tx.flow_by_state("unknown").await.unwrap(), None);
    assert_eq!(tx.flow_by_id(bob.id, open.id).await.unwrap(), None);
    assert!(tx.close_flow(stale.id, t0()).await.unwrap());
    assert!(!tx.close_flow(stale.id, t0()).await.unwrap(), "once");
    // Only a consumed flow keeps a grant.
    assert!(!tx
        .set_flow_grant(amy.id, open.id, g.id, t0() + mins(30))
        .await
        .unwrap());
    tx.consume_flow("open", t0()).await.unwrap().unwrap();
    assert!(!tx
        .set_flow_grant(bob.id, open.id, g.id, t0() + mins(30))
        .await
        .unwrap());
    assert!(tx
        .set_flow_grant(amy.id, open.id, g.id, t0() + mins(30))
        .await
        .unwrap());
    let kept = tx.flow_by_id(amy.id, open.id).await.unwrap().unwrap();
    assert_eq!(kept.grant_id, Some(g.id));
    assert_eq!(kept.expires_at, t0() + mins(30));
    assert_eq!(tx.purge_flows(t0()).await.unwrap(), 1);
    assert_eq!(tx.flow_by_id(amy.id, stale.id).await.unwrap(), None);
    assert!(tx.flow_by_id(amy.id, open.id).await.unwrap().is_some());
    commit(tx).await;
}

pub async fn grants_are_found_by_login_and_accounts_listed_and_counted_by_health(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let amy = user(store, "amy@example.com", "Amy").await;
    let bob = user(store, "bob@example.com", "Bob").await;
    let amys = grant(store, amy.id, "shared-login", t0()).await;
    let bobs = grant(store, bob.id, "shared-login", t0()).await;
    grant(store, bob.id, "other", t0()).await;
    let mine = account(store, AccountOwner::Personal(amy.id), amys.id, "p-amy").await;
    let page = account(store, AccountOwner::Business(acme.id), bobs.id, "page").await;
    let lost = account(store, AccountOwner::Business(acme.id), bobs.id, "lost").await;
    let mut tx = write(store).await;
    let logins = tx
        .grants_of_login("linkedin", "shared-login")
        .await
        .unwrap();
    assert_eq!(
        logins.iter().map(|g| g.id).collect::<Vec<_>>(),
        [amys.id, bobs.id]
    );
    assert!(tx
        .grants_of_login("x", "shared-login")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        tx.account_by_id(page).await.unwrap().map(|a| a.owner),
        Some(AccountOwner::Business(acme.id))
    );
    assert_eq!(tx.account_by_id(AccountId(999_999)).await.unwrap(), None);
    let listed = tx.list_accounts(AccountId(0), 2).await.unwrap();
    assert_eq!(ids(&listed), [mine, page]);
    let rest = tx.list_accounts(page, 10).await.unwrap();
    assert_eq!(ids(&rest), [lost]);
    tx.mark_grant_broken(amys.id, "token_revoked", t0())
        .await
        .unwrap();
    tx.set_account_status(
        AccountOwner::Business(acme.id),
        lost,
        ConnectionStatus::Broken,
        Some("page_access_lost"),
        t0(),
    )
    .await
    .unwrap();
    commit(tx).await;
    let counts = read(store).await.count_connections().await.unwrap();
    let seen: HashSet<(String, AccountKind, ConnectionStatus, i64)> = counts
        .into_iter()
        .map(|c| (c.provider, c.kind, c.status, c.count))
        .collect();
    let expected: HashSet<_> = [
        (
            "linkedin".to_owned(),
            AccountKind::Personal,
            ConnectionStatus::Broken,
            1,
        ),
        (
            "linkedin".to_owned(),
            AccountKind::Business,
            ConnectionStatus::Active,
            1,
        ),
        (
            "linkedin".to_owned(),
            AccountKind::Business,
            ConnectionStatus::Broken,
            1,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen, expected);
}

pub async fn one_grant_is_leased_on_request_unless_a_live_lease_or_removal_holds_it(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@example.com", "Amy").await;
    let g = grant(store, amy.id, "amy", t0() + mins(60)).await;
    let mut tx = write(store).await;
    let leased = tx
        .lease_grant(g.id, "mine", t0(), t0() + mins(2))
        .await
        .unwrap()
        .expect("an unleased grant is leased, due or not");
    assert_eq!(leased.lease_token.as_deref(), Some("mine"));
    assert_eq!(leased.leased_until, Some(t0() + mins(2)));
    assert_eq!(
        tx.lease_grant(g.id, "theirs", t0() + mins(1), t0() + mins(3))
            .await
            .unwrap(),
        None,
        "a live lease holds it"
    );
    commit(tx).await;
    let mut tx = write(store).await;
    let taken = tx
        .lease_grant(g.id, "later", t0() + mins(2), t0() + mins(4))
        .await
        .unwrap();
    assert_eq!(taken.and_then(|t| t.lease_token).as_deref(), Some("later"));
    assert!(tx.remove_grant(amy.id, g.id, t0()).await.unwrap());
    assert_eq!(
        tx.lease_grant(g.id, "gone", t0() + mins(10), t0() + mins(12))
            .await
            .unwrap(),
        None,
        "a removed grant is not checked"
    );
    commit(tx).await;
}

pub async fn a_teams_automatic_reminders_are_off_until_turned_on(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let globex = team(store, "globex", "Globex").await;
    let mut tx = write(store).await;
    assert!(!tx.team_auto_reminders(acme.id).await.unwrap());
    assert!(tx.auto_reminder_teams().await.unwrap().is_empty());
    assert!(tx.set_team_auto_reminders(globex.id, true).await.unwrap());
    assert!(!tx
        .set_team_auto_reminders(TeamId(999_999), true)
        .await
        .unwrap());
    commit(tx).await;
    let mut tx = read(store).await;
    assert!(tx.team_auto_reminders(globex.id).await.unwrap());
    assert!(!tx.team_auto_reminders(acme.id).await.unwrap());
    assert_eq!(tx.auto_reminder_teams().await.unwrap(), [globex.id]);
    drop(tx);
    let mut tx = write(store).await;
    tx.set_team_auto_reminders(globex.id, false).await.unwrap();
    commit(tx).await;
    assert!(read(store)
        .await
        .auto_reminder_teams()
        .await
        .unwrap()
        .is_empty());
}

pub async fn a_page_context_is_a_live_sessions_with_its_membership_and_broken_connections_counted(
    db: &TestDb,
) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let globex = team(store, "globex", "Globex").await;
    let amy = user(store, "amy@example.com", "Amy").await;
    let bob = user(store, "bob@example.com", "Bob").await;
    member(store, acme.id, amy.id, Role::Admin).await;
    member(store, globex.id, amy.id, Role::Ambassador).await;
    member(store, acme.id, bob.id, Role::Ambassador).await;
    // Amy's: a healthy personal account, one whose grant broke, one she
    // removed, a broken page of the team she runs and one of the team she
    // does not; Bob's broken personal account.
    let healthy = grant(store, amy.id, "li-amy", t0()).await;
    account(store, AccountOwner::Personal(amy.id), healthy.id, "amy").await;
    let lost = grant(store, amy.id, "li-amy-2", t0()).await;
    account(store, AccountOwner::Personal(amy.id), lost.id, "amy-2").await;
    let gone = account(store, AccountOwner::Personal(amy.id), lost.id, "amy-3").await;
    let page = account(store, AccountOwner::Business(acme.id), healthy.id, "acme").await;
    let other = account(
        store,
        AccountOwner::Business(globex.id),
        healthy.id,
        "globex",
    )
    .await;
    let bobs = grant(store, bob.id, "li-bob", t0()).await;
    account(store, AccountOwner::Personal(bob.id), bobs.id, "bob").await;
    let broken = ConnectionStatus::Broken;
    let mut tx = write(store).await;
    for g in [lost.id, bobs.id] {
        assert!(tx.mark_grant_broken(g, "revoked", t0()).await.unwrap());
    }
    let removed = ConnectionStatus::Removed;
    let personal = AccountOwner::Personal(amy.id);
    assert!(tx
        .set_account_status(personal, gone, removed, None, t0())
        .await
        .unwrap());
    for (owner, id) in [(acme.id, page), (globex.id, other)] {
        assert!(tx
            .set_account_status(AccountOwner::Business(owner), id, broken, None, t0())
            .await
            .unwrap());
    }
    let created = t0();
    for (hash, who) in [("amy-s", amy.id), ("bob-s", bob.id)] {
        tx.create_session(hash, &super::session(who, created))
            .await
            .unwrap();
    }
    commit(tx).await;

    let mut tx = read(store).await;
    let now = t0() + mins(1);
    let at_acme = tx
        .page_context("amy-s", &acme.slug, now, 100)
        .await
        .unwrap()
        .expect("a live session");
    assert_eq!(at_acme.session, super::session(amy.id, created));
    assert_eq!(at_acme.user, amy);
    assert_eq!(at_acme.time_zone, "UTC");
    assert_eq!(
        at_acme.membership,
        Some(apostle_core::store::TeamRole {
            team: acme.clone(),
            role: Role::Admin
        })
    );
    let counted = LayoutCounts {
        teams: 2,
        inbox: 0,
        broken: 2,
    };
    assert_eq!(
        at_acme.counts, counted,
        "her broken personal one and Acme's page"
    );
    assert_eq!(
        tx.layout_counts(acme.id, amy.id, now, 100).await.unwrap(),
        counted
    );
    let at_globex = tx
        .page_context("amy-s", &globex.slug, now, 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at_globex.membership.map(|m| m.role), Some(Role::Ambassador));
    assert_eq!(at_globex.counts, counted, "her connections, whichever team");
    let nowhere = tx
        .page_context("amy-s", &super::slug("initech"), now, 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(nowhere.membership, None, "no such team");
    let bobs_view = tx
        .page_context("bob-s", &globex.slug, now, 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bobs_view.user, bob);
    assert_eq!(bobs_view.membership, None, "not his team");
    assert_eq!(
        bobs_view.counts,
        LayoutCounts {
            teams: 1,
            inbox: 0,
            broken: 1
        }
    );
    let expires = super::session(amy.id, created).expires_at;
    assert_eq!(
        tx.page_context("amy-s", &acme.slug, expires, 100)
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        tx.page_context("nobody", &acme.slug, now, 100)
            .await
            .unwrap(),
        None
    );
}
