//! Key rotation's store side: every sealed column is walked in batches by
//! row id with what its values' places are built from, and a re-sealed
//! value is written only over the value that was read, so a refresh that
//! wrote meanwhile is never undone.

use super::{commit, email, mins, new_email, read, t0, team, user, write};
use crate::harness::TestDb;
use apostle_core::store::{
    AccountKind, AccountOwner, FlowPurpose, GrantTokens, NewAccount, NewFlow, NewGrant,
    SealedColumn, SealedRow, SealedValue, Store,
};
use apostle_domain::{GrantId, TeamId, UserId};

// ---- fixtures ----------------------------------------------------------

fn new_grant(external: &str, refresh: Option<&str>) -> NewGrant {
    NewGrant {
        provider: "x".to_owned(),
        external_user_id: external.to_owned(),
        scopes: "tweet.read".to_owned(),
        access_token: format!("access-{external}"),
        refresh_token: refresh.map(str::to_owned),
        access_expires_at: t0() + mins(120),
        refresh_expires_at: refresh.map(|_| t0() + mins(60 * 24)),
        next_due_at: t0(),
        created_at: t0(),
    }
}

fn new_account(grant: GrantId, external: &str, page_token: Option<&str>) -> NewAccount {
    NewAccount {
        grant_id: grant,
        provider: "facebook".to_owned(),
        external_id: external.to_owned(),
        name: external.to_owned(),
        page_token: page_token.map(str::to_owned),
        created_at: t0(),
    }
}

fn new_flow(state_hash: &str, verifier: Option<&str>) -> NewFlow {
    NewFlow {
        state_hash: state_hash.to_owned(),
        pkce_verifier: verifier.map(str::to_owned),
        provider: "x".to_owned(),
        purpose: FlowPurpose::Connect,
        kind: AccountKind::Personal,
        team_id: None,
        account_id: None,
        redirect_to: "/connections".to_owned(),
        created_at: t0(),
        expires_at: t0() + mins(10),
    }
}

/// One value of each kind in every sealed column, and rows whose optional
/// sealed columns are empty: two grants (one without a refresh token), a
/// personal account without a page token and two business pages with one,
/// a flow with a PKCE verifier and one without, two emails.
async fn seed(store: &dyn Store) -> (UserId, TeamId, [GrantId; 3]) {
    let acme = team(store, "acme", "Acme").await;
    let amy = user(store, "amy@example.com", "Amy").await;
    let mut tx = write(store).await;
    let g1 = tx
        .create_grant(amy.id, &new_grant("x-1", Some("refresh-x-1")))
        .await
        .unwrap();
    let g2 = tx
        .create_grant(amy.id, &new_grant("x-2", None))
        .await
        .unwrap();
    let g3 = tx
        .create_grant(amy.id, &new_grant("x-3", Some("refresh-x-3")))
        .await
        .unwrap();
    tx.create_account(
        AccountOwner::Personal(amy.id),
        &new_account(g1.id, "me", None),
    )
    .await
    .unwrap();
    for page in ["page-1", "page-2"] {
        tx.create_account(
            AccountOwner::Business(acme.id),
            &new_account(g1.id, page, Some(&format!("token-{page}"))),
        )
        .await
        .unwrap();
    }
    tx.create_flow(amy.id, &new_flow("hash-1", Some("verifier-1")))
        .await
        .unwrap();
    tx.create_flow(amy.id, &new_flow("hash-2", None))
        .await
        .unwrap();
    for to in ["amy@example.com", "bob@example.com"] {
        tx.insert_email(&new_email(to, None, t0())).await.unwrap();
    }
    commit(tx).await;
    (amy.id, acme.id, [g1.id, g2.id, g3.id])
}

/// The whole column, walked in batches of `limit`.
async fn walk(store: &dyn Store, column: SealedColumn, limit: i64) -> Vec<SealedValue> {
    let mut all: Vec<SealedValue> = Vec::new();
    let mut after = 0;
    loop {
        let batch = read(store)
            .await
            .sealed_values(column, after, limit)
            .await
            .unwrap();
        assert!(batch.len() <= limit as usize, "at most the limit");
        let Some(last) = batch.last() else {
            return all;
        };
        after = last.row_id;
        all.extend(batch);
    }
}

fn sealed(values: &[SealedValue]) -> Vec<&str> {
    values.iter().map(|v| v.sealed.as_str()).collect()
}

// ---- checks ------------------------------------------------------------

pub async fn every_sealed_column_is_walked_by_row_id_in_batches_with_its_places_fields(
    db: &TestDb,
) {
    let store = db.store();
    let (amy, acme, [g1, g2, g3]) = seed(store).await;

    let access = walk(store, SealedColumn::GrantAccessToken, 2).await;
    assert_eq!(sealed(&access), ["access-x-1", "access-x-2", "access-x-3"]);
    let ids: Vec<i64> = access.iter().map(|v| v.row_id).collect();
    assert_eq!(ids, [g1.0, g2.0, g3.0], "by row id");
    assert_eq!(
        access[0].row,
        SealedRow::Grant {
            owner: amy,
            provider: "x".to_owned(),
            external_user_id: "x-1".to_owned(),
        }
    );
    let refresh = walk(store, SealedColumn::GrantRefreshToken, 1).await;
    assert_eq!(
        sealed(&refresh),
        ["refresh-x-1", "refresh-x-3"],
        "an empty column is skipped"
    );

    let pages = walk(store, SealedColumn::AccountPageToken, 1).await;
    assert_eq!(sealed(&pages), ["token-page-1", "token-page-2"]);
    assert_eq!(
        pages[1].row,
        SealedRow::Account {
            owner: AccountOwner::Business(acme),
            provider: "facebook".to_owned(),
            external_id: "page-2".to_owned(),
        }
    );

    let verifiers = walk(store, SealedColumn::FlowPkceVerifier, 5).await;
    assert_eq!(sealed(&verifiers), ["verifier-1"]);
    assert_eq!(
        verifiers[0].row,
        SealedRow::Flow {
            state_hash: "hash-1".to_owned()
        }
    );
    assert!(
        !format!("{:?}", verifiers[0]).contains("hash-1")
            && !format!("{:?}", verifiers[0]).contains("verifier-1"),
        "Debug shows neither the state hash nor the sealed value"
    );

    for (column, body) in [
        (SealedColumn::EmailTextBody, "Join us"),
        (SealedColumn::EmailHtmlBody, "<p>Join us</p>"),
    ] {
        let bodies = walk(store, column, 1).await;
        assert_eq!(sealed(&bodies), [body, body]);
        assert_eq!(
            bodies[1].row,
            SealedRow::Email {
                recipient: email("bob@example.com"),
                template: "invite".to_owned(),
            }
        );
    }

    let last = access.last().unwrap().row_id;
    let mut tx = read(store).await;
    assert!(tx
        .sealed_values(SealedColumn::GrantAccessToken, last, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn a_resealed_value_is_written_only_over_the_value_that_was_read(db: &TestDb) {
    let store = db.store();
    let (_, _, [g1, _, _]) = seed(store).await;
    let before = read(store).await.grant_by_id(g1).await.unwrap().unwrap();

    for column in SealedColumn::ALL {
        let first = walk(store, column, 1).await.remove(0);
        let resealed = format!("resealed-{}", column.as_str());
        let mut tx = write(store).await;
        assert!(
            !tx.reseal_value(column, first.row_id, "not-what-is-stored", &resealed)
                .await
                .unwrap(),
            "{column:?}: a value written since it was read stays"
        );
        assert!(
            !tx.reseal_value(column, first.row_id + 1000, &first.sealed, &resealed)
                .await
                .unwrap(),
            "{column:?}: no such row"
        );
        assert!(
            tx.reseal_value(column, first.row_id, &first.sealed, &resealed)
                .await
                .unwrap(),
            "{column:?}"
        );
        assert!(
            !tx.reseal_value(column, first.row_id, &first.sealed, "again")
                .await
                .unwrap(),
            "{column:?}: the value read is gone once re-sealed"
        );
        commit(tx).await;
        let now = walk(store, column, 10).await;
        assert_eq!(now[0].sealed, resealed, "{column:?}");
        assert_eq!(now[0].row, first.row, "{column:?}");
    }

    // The grant's fence and history are untouched: re-sealing is not a new
    // token, so a refresh that read the grant before still stores its own.
    let after = read(store).await.grant_by_id(g1).await.unwrap().unwrap();
    assert_eq!(
        (after.generation, after.updated_at, &after.scopes),
        (before.generation, before.updated_at, &before.scopes)
    );
    let mut tx = write(store).await;
    let refreshed = GrantTokens {
        scopes: "tweet.read".to_owned(),
        access_token: "access-from-refresh".to_owned(),
        refresh_token: Some("refresh-from-refresh".to_owned()),
        access_expires_at: t0() + mins(240),
        refresh_expires_at: Some(t0() + mins(60 * 48)),
    };
    assert!(tx
        .store_grant_tokens(g1, before.generation, &refreshed, t0() + mins(1))
        .await
        .unwrap());
    assert!(
        !tx.reseal_value(
            SealedColumn::GrantAccessToken,
            g1.0,
            "resealed-grants.access_token",
            "late"
        )
        .await
        .unwrap(),
        "a rotation that read the token before the refresh loses"
    );
    commit(tx).await;
    let stored = read(store).await.grant_by_id(g1).await.unwrap().unwrap();
    assert_eq!(stored.access_token, "access-from-refresh");
}
