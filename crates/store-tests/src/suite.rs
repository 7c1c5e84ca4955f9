//! The conformance checks: each is written once against `dyn Store` and run
//! on every backend by [`crate::conformance_tests!`]. A check's name says the
//! behaviour a user would notice if the store got it wrong.

use crate::harness::TestDb;
use apostle_core::store::{
    EmailState, Invite, Job, JobState, MemberChange, NewEmail, NewInvite, NewJob, Session, Store,
    StoreError, Team, Tx, User,
};
use apostle_domain::{
    EmailAddress, EmailId, JobId, PersonName, Role, TeamId, TeamName, TeamSlug, UserId,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::HashSet;
use std::sync::Arc;

mod cancel;
mod connections;
mod keys;
mod posts;
pub use cancel::*;
pub use connections::*;
pub use keys::*;
pub use posts::*;

// ---- fixtures ----------------------------------------------------------

/// The suite's "now": a fixed instant, so checks move time explicitly.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 9, 0, 0).unwrap()
}

fn mins(n: i64) -> Duration {
    Duration::minutes(n)
}

fn slug(s: &str) -> TeamSlug {
    TeamSlug::parse(s).unwrap()
}

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

fn person(s: &str) -> PersonName {
    PersonName::parse(s).unwrap()
}

async fn write(store: &dyn Store) -> Box<dyn Tx> {
    store.begin().await.expect("begin")
}

async fn read(store: &dyn Store) -> Box<dyn Tx> {
    store.begin_read().await.expect("begin_read")
}

async fn commit(tx: Box<dyn Tx>) {
    tx.commit().await.expect("commit");
}

async fn team(store: &dyn Store, s: &str, name: &str) -> Team {
    let mut tx = write(store).await;
    let team = tx
        .create_team(&slug(s), &TeamName::parse(name).unwrap(), t0())
        .await
        .unwrap();
    commit(tx).await;
    team
}

async fn user(store: &dyn Store, address: &str, name: &str) -> User {
    let mut tx = write(store).await;
    let user = tx
        .create_user(&email(address), &person(name), Some("$argon2id$x"), t0())
        .await
        .unwrap();
    commit(tx).await;
    user
}

async fn member(store: &dyn Store, team: TeamId, user: UserId, role: Role) {
    let mut tx = write(store).await;
    tx.upsert_member(team, user, role).await.unwrap();
    commit(tx).await;
}

fn new_job(kind: &str, key: Option<&str>, run_at: DateTime<Utc>) -> NewJob {
    NewJob {
        kind: kind.to_owned(),
        payload: serde_json::json!({ "kind": kind, "n": [1, 2.5, "three"] }),
        dedupe_key: key.map(str::to_owned),
        run_at,
        max_attempts: 5,
        created_at: t0(),
    }
}

async fn enqueue(store: &dyn Store, job: NewJob) -> Option<JobId> {
    let mut tx = write(store).await;
    let id = tx.enqueue_job(&job).await.unwrap();
    commit(tx).await;
    id
}

fn new_invite(address: &str, token_hash: &str, by: UserId, created: DateTime<Utc>) -> NewInvite {
    NewInvite {
        email: email(address),
        name: person("Invited Person"),
        role: Role::Ambassador,
        token_hash: token_hash.to_owned(),
        invited_by: by,
        created_at: created,
        expires_at: created + Duration::days(7),
    }
}

async fn invite(
    tx: &mut dyn Tx,
    team: TeamId,
    address: &str,
    token_hash: &str,
    by: UserId,
    created: DateTime<Utc>,
) -> Invite {
    let spec = new_invite(address, token_hash, by, created);
    tx.create_invite(team, &spec).await.unwrap()
}

fn new_email(to: &str, key: Option<&str>, created: DateTime<Utc>) -> NewEmail {
    NewEmail {
        recipient: email(to),
        template: "invite".to_owned(),
        subject: "You are invited".to_owned(),
        text_body: "Join us".to_owned(),
        html_body: "<p>Join us</p>".to_owned(),
        dedupe_key: key.map(str::to_owned),
        message_id: "<4f1c@apostle.example>".to_owned(),
        unsubscribe_kind: None,
        created_at: created,
    }
}

/// Claims the single job due at `now`, with a five-minute lease.
async fn claim_one(store: &dyn Store, now: DateTime<Utc>) -> Job {
    let mut claimed = store.claim_jobs(now, mins(5), 1).await.unwrap();
    assert_eq!(claimed.len(), 1, "one job is due");
    claimed.remove(0)
}

fn lease(job: &Job) -> &str {
    job.lease_token
        .as_deref()
        .expect("a claimed job has a lease")
}

async fn job_state(store: &dyn Store, id: JobId) -> Option<JobState> {
    let mut tx = read(store).await;
    tx.job_by_id(id).await.unwrap().map(|j| j.state)
}

// ---- teams and users -----------------------------------------------------

pub async fn team_is_found_by_slug_and_id(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    assert_eq!(acme.slug.as_str(), "acme");
    assert_eq!(acme.created_at, t0());
    let mut tx = read(store).await;
    assert_eq!(
        tx.team_by_slug(&slug("acme")).await.unwrap(),
        Some(acme.clone())
    );
    assert_eq!(tx.team_by_id(acme.id).await.unwrap(), Some(acme.clone()));
    assert_eq!(tx.team_by_slug(&slug("globex")).await.unwrap(), None);
    assert_eq!(tx.team_by_id(TeamId(acme.id.0 + 1000)).await.unwrap(), None);
}

pub async fn duplicate_team_slug_is_a_conflict(db: &TestDb) {
    let store = db.store();
    team(store, "acme", "Acme").await;
    let mut tx = write(store).await;
    let again = tx
        .create_team(&slug("acme"), &TeamName::parse("Other").unwrap(), t0())
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
}

pub async fn user_is_found_by_id_and_email(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@acme.example", "Amy").await;
    assert_eq!(amy.password_hash.as_deref(), Some("$argon2id$x"));
    let mut tx = write(store).await;
    let nopass = tx
        .create_user(&email("bob@acme.example"), &person("Bob"), None, t0())
        .await
        .unwrap();
    assert_eq!(nopass.password_hash, None);
    commit(tx).await;
    let mut tx = read(store).await;
    assert_eq!(tx.user_by_id(amy.id).await.unwrap(), Some(amy.clone()));
    assert_eq!(
        tx.user_by_email(&email("amy@acme.example")).await.unwrap(),
        Some(amy)
    );
    assert_eq!(
        tx.user_by_email(&email("zed@acme.example")).await.unwrap(),
        None
    );
}

pub async fn duplicate_user_email_is_a_conflict(db: &TestDb) {
    let store = db.store();
    user(store, "amy@acme.example", "Amy").await;
    let mut tx = write(store).await;
    let again = tx
        .create_user(&email("amy@acme.example"), &person("Other Amy"), None, t0())
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
}

pub async fn user_name_and_password_hash_can_be_changed(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@acme.example", "Amy").await;
    let mut tx = write(store).await;
    assert!(tx.set_user_name(amy.id, &person("Amy Pond")).await.unwrap());
    assert!(tx.set_password_hash(amy.id, "$argon2id$new").await.unwrap());
    assert!(!tx
        .set_user_name(UserId(amy.id.0 + 1000), &person("Nobody"))
        .await
        .unwrap());
    assert!(!tx
        .set_password_hash(UserId(amy.id.0 + 1000), "h")
        .await
        .unwrap());
    commit(tx).await;
    let found = read(store).await.user_by_id(amy.id).await.unwrap().unwrap();
    assert_eq!(found.name.as_str(), "Amy Pond");
    assert_eq!(found.password_hash.as_deref(), Some("$argon2id$new"));
}

pub async fn timestamps_are_kept_to_the_microsecond(db: &TestDb) {
    let store = db.store();
    let precise = t0() + Duration::nanoseconds(123_456_789);
    let mut tx = write(store).await;
    let t = tx
        .create_team(&slug("acme"), &TeamName::parse("Acme").unwrap(), precise)
        .await
        .unwrap();
    commit(tx).await;
    let expected = t0() + Duration::microseconds(123_456);
    assert_eq!(t.created_at, expected);
    let found = read(store).await.team_by_id(t.id).await.unwrap().unwrap();
    assert_eq!(found.created_at, expected);
}

// ---- memberships -----------------------------------------------------------

pub async fn upsert_member_adds_then_changes_the_role(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let amy = user(store, "amy@acme.example", "Amy").await;
    let mut tx = write(store).await;
    assert_eq!(tx.member_role(acme.id, amy.id).await.unwrap(), None);
    tx.upsert_member(acme.id, amy.id, Role::Ambassador)
        .await
        .unwrap();
    assert_eq!(
        tx.member_role(acme.id, amy.id).await.unwrap(),
        Some(Role::Ambassador)
    );
    tx.upsert_member(acme.id, amy.id, Role::Admin)
        .await
        .unwrap();
    assert_eq!(
        tx.member_role(acme.id, amy.id).await.unwrap(),
        Some(Role::Admin)
    );
    assert_eq!(tx.list_members(acme.id).await.unwrap().len(), 1);
}

pub async fn set_member_role_changes_only_existing_members(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let amy = user(store, "amy@acme.example", "Amy").await;
    let bob = user(store, "bob@acme.example", "Bob").await;
    member(store, acme.id, amy.id, Role::Ambassador).await;
    let mut tx = write(store).await;
    let promote = MemberEdit::SetRole(Role::Admin);
    let changes = [
        edit_member(&mut *tx, acme.id, amy.id, promote).await,
        edit_member(&mut *tx, acme.id, bob.id, promote).await,
    ];
    assert_eq!(changes, [MemberChange::Done, MemberChange::NotMember]);
    commit(tx).await;
    let mut tx = read(store).await;
    assert_eq!(
        tx.member_role(acme.id, amy.id).await.unwrap(),
        Some(Role::Admin)
    );
    assert_eq!(tx.member_role(acme.id, bob.id).await.unwrap(), None);
}

pub async fn removed_member_is_gone_and_a_second_removal_says_so(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let amy = user(store, "amy@acme.example", "Amy").await;
    member(store, acme.id, amy.id, Role::Ambassador).await;
    let mut tx = write(store).await;
    assert_eq!(
        tx.remove_member(acme.id, amy.id).await.unwrap(),
        MemberChange::Done
    );
    assert_eq!(
        tx.remove_member(acme.id, amy.id).await.unwrap(),
        MemberChange::NotMember
    );
    commit(tx).await;
    let mut tx = read(store).await;
    assert_eq!(tx.member_role(acme.id, amy.id).await.unwrap(), None);
    assert!(tx.list_members(acme.id).await.unwrap().is_empty());
    assert!(tx.teams_of_user(amy.id).await.unwrap().is_empty());
}

pub async fn members_are_listed_by_name_with_their_roles(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let zed = user(store, "zed@acme.example", "Zed").await;
    let amy = user(store, "amy@acme.example", "amy").await;
    let bob = user(store, "bob@acme.example", "Bob").await;
    let outsider = user(store, "out@globex.example", "Aaron").await;
    member(store, acme.id, zed.id, Role::Admin).await;
    member(store, acme.id, amy.id, Role::Ambassador).await;
    member(store, acme.id, bob.id, Role::Ambassador).await;
    let globex = team(store, "globex", "Globex").await;
    member(store, globex.id, outsider.id, Role::Admin).await;
    let members = read(store).await.list_members(acme.id).await.unwrap();
    let listed: Vec<(&str, Role)> = members
        .iter()
        .map(|m| (m.user.name.as_str(), m.role))
        .collect();
    assert_eq!(
        listed,
        [
            ("amy", Role::Ambassador),
            ("Bob", Role::Ambassador),
            ("Zed", Role::Admin)
        ]
    );
    assert_eq!(members[0].user, amy);
}

pub async fn the_last_admin_can_be_neither_demoted_nor_removed(db: &TestDb) {
    use MemberEdit::{Remove, SetRole};
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let globex = team(store, "globex", "Globex").await;
    let amy = user(store, "amy@acme.example", "Amy").await;
    let bob = user(store, "bob@acme.example", "Bob").await;
    member(store, acme.id, amy.id, Role::Admin).await;
    member(store, acme.id, bob.id, Role::Ambassador).await;
    // An admin of another team does not count.
    member(store, globex.id, bob.id, Role::Admin).await;
    let steps = [
        (amy.id, SetRole(Role::Ambassador), MemberChange::LastAdmin),
        (amy.id, Remove, MemberChange::LastAdmin),
        (amy.id, SetRole(Role::Admin), MemberChange::Done),
        (bob.id, SetRole(Role::Admin), MemberChange::Done),
        // With a second admin the first may step down.
        (amy.id, SetRole(Role::Ambassador), MemberChange::Done),
        (bob.id, Remove, MemberChange::LastAdmin),
        (amy.id, Remove, MemberChange::Done),
    ];
    let mut tx = write(store).await;
    for (n, (who, what, expected)) in steps.into_iter().enumerate() {
        let change = edit_member(&mut *tx, acme.id, who, what).await;
        assert_eq!(change, expected, "step {n}: {what:?}");
    }
    commit(tx).await;
    let members = read(store).await.list_members(acme.id).await.unwrap();
    let listed: Vec<(&str, Role)> = members
        .iter()
        .map(|m| (m.user.name.as_str(), m.role))
        .collect();
    assert_eq!(listed, [("Bob", Role::Admin)]);
}

/// Two admins of a team each try, in their own transaction on their own
/// connection, to step down or remove the other, and hold their transaction
/// open until the other has tried too: exactly one change may win.
pub async fn racing_demotions_and_removals_leave_the_team_one_admin(db: &TestDb) {
    let demote = MemberEdit::SetRole(Role::Ambassador);
    for (slug, second) in [
        ("demote-demote", demote),
        ("demote-remove", MemberEdit::Remove),
    ] {
        let store = db.store();
        let acme = team(store, slug, "Acme").await;
        let amy = user(store, &format!("amy@{slug}.example"), "Amy").await;
        let bob = user(store, &format!("bob@{slug}.example"), "Bob").await;
        member(store, acme.id, amy.id, Role::Admin).await;
        member(store, acme.id, bob.id, Role::Admin).await;
        let both_tried = Arc::new(tokio::sync::Barrier::new(2));
        let first = tokio::spawn(edit_and_hold(
            db.open_another().await,
            (acme.id, amy.id, demote),
            Arc::clone(&both_tried),
        ));
        let other = tokio::spawn(edit_and_hold(
            db.open_another().await,
            (acme.id, bob.id, second),
            both_tried,
        ));
        let mut outcomes = [first.await.unwrap(), other.await.unwrap()];
        outcomes.sort_by_key(|o| *o != MemberChange::Done);
        assert_eq!(
            outcomes,
            [MemberChange::Done, MemberChange::LastAdmin],
            "{slug}"
        );
        let members = read(store).await.list_members(acme.id).await.unwrap();
        let admins = members.iter().filter(|m| m.role == Role::Admin).count();
        assert_eq!(admins, 1, "{slug}: {members:?}");
    }
}

#[derive(Debug, Clone, Copy)]
enum MemberEdit {
    SetRole(Role),
    Remove,
}

async fn edit_member(
    tx: &mut dyn Tx,
    team: TeamId,
    user: UserId,
    what: MemberEdit,
) -> MemberChange {
    match what {
        MemberEdit::SetRole(role) => tx.set_member_role(team, user, role).await,
        MemberEdit::Remove => tx.remove_member(team, user).await,
    }
    .expect("member edit")
}

/// How long a racer keeps its transaction open waiting for the other; the
/// other may be blocked by this one's locks and never get there.
const HOLD: std::time::Duration = std::time::Duration::from_millis(500);

async fn edit_and_hold(
    store: Box<dyn Store>,
    (team, user, what): (TeamId, UserId, MemberEdit),
    both_tried: Arc<tokio::sync::Barrier>,
) -> MemberChange {
    let mut tx = store.begin().await.expect("begin");
    let change = edit_member(&mut *tx, team, user, what).await;
    // Timing out is expected when this change blocks the other racer.
    let _ = tokio::time::timeout(HOLD, both_tried.wait()).await;
    commit(tx).await;
    store.close().await;
    change
}

pub async fn teams_of_a_user_are_listed_by_name_with_roles(db: &TestDb) {
    let store = db.store();
    let zeta = team(store, "zeta", "Zeta").await;
    let acme = team(store, "acme", "acme").await;
    let beta = team(store, "beta", "Beta").await;
    let amy = user(store, "amy@acme.example", "Amy").await;
    member(store, zeta.id, amy.id, Role::Admin).await;
    member(store, acme.id, amy.id, Role::Ambassador).await;
    let teams = read(store).await.teams_of_user(amy.id).await.unwrap();
    let listed: Vec<(&str, Role)> = teams
        .iter()
        .map(|t| (t.team.slug.as_str(), t.role))
        .collect();
    assert_eq!(listed, [("acme", Role::Ambassador), ("zeta", Role::Admin)]);
    assert_eq!(teams[0].team, acme);
    assert!(!listed.iter().any(|(s, _)| *s == beta.slug.as_str()));
}

pub async fn a_team_cannot_read_change_or_remove_another_teams_members(db: &TestDb) {
    let store = db.store();
    let a = team(store, "team-a", "Team A").await;
    let b = team(store, "team-b", "Team B").await;
    let amy = user(store, "amy@a.example", "Amy").await;
    member(store, a.id, amy.id, Role::Admin).await;
    let mut tx = write(store).await;
    assert_eq!(tx.member_role(b.id, amy.id).await.unwrap(), None);
    for what in [MemberEdit::SetRole(Role::Ambassador), MemberEdit::Remove] {
        let change = edit_member(&mut *tx, b.id, amy.id, what).await;
        assert_eq!(change, MemberChange::NotMember, "{what:?}");
    }
    assert!(tx.list_members(b.id).await.unwrap().is_empty());
    commit(tx).await;
    let mut tx = read(store).await;
    assert_eq!(
        tx.member_role(a.id, amy.id).await.unwrap(),
        Some(Role::Admin)
    );
}

// ---- password resets ---------------------------------------------------------

pub async fn a_password_reset_works_once_and_only_until_it_expires(db: &TestDb) {
    let store = db.store();
    let ada = user(store, "ada@acme.example", "Ada").await;
    let bob = user(store, "bob@acme.example", "Bob").await;
    let mut tx = write(store).await;
    tx.create_password_reset(ada.id, "reset-a", t0(), t0() + mins(60))
        .await
        .unwrap();
    tx.create_password_reset(bob.id, "reset-b", t0(), t0() + mins(60))
        .await
        .unwrap();
    commit(tx).await;

    let mut tx = write(store).await;
    assert_eq!(
        tx.password_reset_user("reset-a", t0() + mins(1))
            .await
            .unwrap(),
        Some(ada.id)
    );
    assert_eq!(tx.password_reset_user("nope", t0()).await.unwrap(), None);
    assert_eq!(
        tx.password_reset_user("reset-b", t0() + mins(60))
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        tx.use_password_reset("reset-b", t0() + mins(61))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        tx.use_password_reset("reset-a", t0() + mins(2))
            .await
            .unwrap(),
        Some(ada.id)
    );
    assert_eq!(
        tx.use_password_reset("reset-a", t0() + mins(3))
            .await
            .unwrap(),
        None,
        "used"
    );
    assert_eq!(
        tx.password_reset_user("reset-a", t0() + mins(3))
            .await
            .unwrap(),
        None
    );
    commit(tx).await;
}

pub async fn a_new_password_reset_retires_the_users_earlier_link(db: &TestDb) {
    let store = db.store();
    let ada = user(store, "ada@acme.example", "Ada").await;
    let bob = user(store, "bob@acme.example", "Bob").await;
    let mut tx = write(store).await;
    tx.create_password_reset(ada.id, "first", t0(), t0() + mins(60))
        .await
        .unwrap();
    tx.create_password_reset(bob.id, "bobs", t0(), t0() + mins(60))
        .await
        .unwrap();
    tx.create_password_reset(ada.id, "second", t0() + mins(1), t0() + mins(61))
        .await
        .unwrap();
    commit(tx).await;
    let mut tx = write(store).await;
    assert!(matches!(
        tx.create_password_reset(bob.id, "second", t0() + mins(2), t0() + mins(62))
            .await,
        Err(StoreError::Conflict(_))
    ));
    drop(tx);
    let mut tx = read(store).await;
    assert_eq!(
        tx.password_reset_user("first", t0() + mins(5))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        tx.password_reset_user("second", t0() + mins(5))
            .await
            .unwrap(),
        Some(ada.id)
    );
    assert_eq!(
        tx.password_reset_user("bobs", t0() + mins(5))
            .await
            .unwrap(),
        Some(bob.id),
        "other users keep theirs"
    );
}

// ---- invites -----------------------------------------------------------------

pub async fn open_invites_are_found_by_token_and_listed_newest_first(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let admin = user(store, "admin@acme.example", "Admin").await;
    let mut tx = write(store).await;
    let older = invite(
        tx.as_mut(),
        acme.id,
        "a@x.example",
        "hash-a",
        admin.id,
        t0(),
    )
    .await;
    let newer = invite(
        tx.as_mut(),
        acme.id,
        "b@x.example",
        "hash-b",
        admin.id,
        t0() + mins(1),
    )
    .await;
    let accepted = invite(
        tx.as_mut(),
        acme.id,
        "c@x.example",
        "hash-c",
        admin.id,
        t0() + mins(2),
    )
    .await;
    assert!(tx
        .mark_invite_accepted(accepted.id, t0() + mins(3))
        .await
        .unwrap());
    commit(tx).await;
    assert_eq!(older.team_id, acme.id);
    assert_eq!(older.role, Role::Ambassador);
    assert_eq!(older.accepted_at, None);
    let mut tx = read(store).await;
    assert_eq!(
        tx.invite_by_token_hash("hash-a").await.unwrap(),
        Some(older.clone())
    );
    let found = tx.invite_by_token_hash("hash-c").await.unwrap().unwrap();
    assert_eq!(found.accepted_at, Some(t0() + mins(3)));
    assert_eq!(tx.invite_by_token_hash("nope").await.unwrap(), None);
    let open = tx.list_open_invites(acme.id, t0() + mins(5)).await.unwrap();
    assert_eq!(open, [newer.clone(), older.clone()]);
    // A week later the first invite has expired; the second expires a minute after.
    let later = tx
        .list_open_invites(acme.id, t0() + Duration::days(7) + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(later, [newer]);
}

pub async fn an_invite_can_be_accepted_only_once(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let admin = user(store, "admin@acme.example", "Admin").await;
    let mut tx = write(store).await;
    let invite = invite(
        tx.as_mut(),
        acme.id,
        "a@x.example",
        "hash-a",
        admin.id,
        t0(),
    )
    .await;
    commit(tx).await;
    let mut tx = write(store).await;
    assert!(tx
        .mark_invite_accepted(invite.id, t0() + mins(1))
        .await
        .unwrap());
    commit(tx).await;
    let mut tx = write(store).await;
    assert!(!tx
        .mark_invite_accepted(invite.id, t0() + mins(2))
        .await
        .unwrap());
    commit(tx).await;
    let found = read(store)
        .await
        .invite_by_token_hash("hash-a")
        .await
        .unwrap();
    assert_eq!(found.unwrap().accepted_at, Some(t0() + mins(1)));
}

pub async fn an_expired_invite_cannot_be_accepted(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let admin = user(store, "admin@acme.example", "Admin").await;
    let mut tx = write(store).await;
    let invite = invite(
        tx.as_mut(),
        acme.id,
        "a@x.example",
        "hash-a",
        admin.id,
        t0(),
    )
    .await;
    assert!(!tx
        .mark_invite_accepted(invite.id, invite.expires_at)
        .await
        .unwrap());
    assert!(tx
        .list_open_invites(acme.id, invite.expires_at)
        .await
        .unwrap()
        .is_empty());
}

pub async fn duplicate_invite_token_is_a_conflict(db: &TestDb) {
    let store = db.store();
    let acme = team(store, "acme", "Acme").await;
    let admin = user(store, "admin@acme.example", "Admin").await;
    let mut tx = write(store).await;
    invite(tx.as_mut(), acme.id, "a@x.example", "same", admin.id, t0()).await;
    let again = tx
        .create_invite(acme.id, &new_invite("b@x.example", "same", admin.id, t0()))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
}

pub async fn a_team_cannot_list_or_delete_another_teams_invites(db: &TestDb) {
    let store = db.store();
    let a = team(store, "team-a", "Team A").await;
    let b = team(store, "team-b", "Team B").await;
    let admin = user(store, "admin@a.example", "Admin").await;
    let mut tx = write(store).await;
    let invite = invite(tx.as_mut(), a.id, "x@x.example", "hash-x", admin.id, t0()).await;
    assert!(tx.list_open_invites(b.id, t0()).await.unwrap().is_empty());
    assert!(!tx.delete_invite(b.id, invite.id).await.unwrap());
    commit(tx).await;
    let mut tx = write(store).await;
    assert_eq!(
        tx.list_open_invites(a.id, t0()).await.unwrap(),
        std::slice::from_ref(&invite)
    );
    assert!(tx.delete_invite(a.id, invite.id).await.unwrap());
    assert!(!tx.delete_invite(a.id, invite.id).await.unwrap());
    assert_eq!(tx.invite_by_token_hash("hash-x").await.unwrap(), None);
}

// ---- sessions ------------------------------------------------------------------

fn session(user: UserId, created: DateTime<Utc>) -> Session {
    Session {
        user_id: user,
        csrf_token: "csrf-123".to_owned(),
        created_at: created,
        expires_at: created + Duration::hours(12),
    }
}

pub async fn a_session_signs_its_user_in_until_it_expires(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@acme.example", "Amy").await;
    let s = session(amy.id, t0());
    let mut tx = write(store).await;
    tx.create_session("sid-1", &s).await.unwrap();
    let again = tx.create_session("sid-1", &s).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    drop(tx);
    let mut tx = write(store).await;
    tx.create_session("sid-1", &s).await.unwrap();
    commit(tx).await;
    let mut tx = read(store).await;
    let found = tx.session_by_hash("sid-1", t0() + mins(1)).await.unwrap();
    assert_eq!(found, Some((s.clone(), amy)));
    assert_eq!(
        tx.session_by_hash("sid-1", s.expires_at).await.unwrap(),
        None
    );
    assert_eq!(tx.session_by_hash("sid-2", t0()).await.unwrap(), None);
}

pub async fn sessions_are_deleted_singly_per_user_and_when_expired(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@acme.example", "Amy").await;
    let bob = user(store, "bob@acme.example", "Bob").await;
    let mut tx = write(store).await;
    tx.create_session("amy-1", &session(amy.id, t0()))
        .await
        .unwrap();
    tx.create_session("amy-2", &session(amy.id, t0()))
        .await
        .unwrap();
    tx.create_session("amy-3", &session(amy.id, t0()))
        .await
        .unwrap();
    tx.create_session("bob-old", &session(bob.id, t0() - Duration::days(1)))
        .await
        .unwrap();
    tx.create_session("bob-new", &session(bob.id, t0()))
        .await
        .unwrap();
    commit(tx).await;
    let mut tx = write(store).await;
    assert!(tx.delete_session("amy-1").await.unwrap());
    assert!(!tx.delete_session("amy-1").await.unwrap());
    assert_eq!(tx.delete_sessions_of_user(amy.id).await.unwrap(), 2);
    assert_eq!(tx.delete_expired_sessions(t0()).await.unwrap(), 1);
    commit(tx).await;
    let mut tx = read(store).await;
    assert_eq!(tx.session_by_hash("amy-2", t0()).await.unwrap(), None);
    assert_eq!(
        tx.session_by_hash("bob-old", t0() - Duration::days(1))
            .await
            .unwrap(),
        None
    );
    assert!(tx.session_by_hash("bob-new", t0()).await.unwrap().is_some());
}

// ---- API tokens ----------------------------------------------------------------

pub async fn an_api_token_is_found_with_its_owner_and_its_use_recorded_once_per_interval(
    db: &TestDb,
) {
    let store = db.store();
    let amy = user(store, "amy@acme.example", "Amy").await;
    let mut tx = write(store).await;
    let first = tx
        .create_api_token(amy.id, "tok-1", "Phone", t0())
        .await
        .unwrap();
    let second = tx
        .create_api_token(amy.id, "tok-2", "Tablet", t0() + mins(1))
        .await
        .unwrap();
    let dup = tx.create_api_token(amy.id, "tok-1", "Again", t0()).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    drop(tx);
    let mut tx = write(store).await;
    tx.create_api_token(amy.id, "tok-1", "Phone", t0())
        .await
        .unwrap();
    tx.create_api_token(amy.id, "tok-2", "Tablet", t0() + mins(1))
        .await
        .unwrap();
    commit(tx).await;
    assert_eq!(
        (first.name.as_str(), first.last_used_at, first.revoked_at),
        ("Phone", None, None)
    );
    let mut tx = write(store).await;
    let (token, owner) = tx.api_token_by_hash("tok-1").await.unwrap().unwrap();
    assert_eq!(owner, amy);
    assert_eq!(token.name, "Phone");
    assert_eq!(token.last_used_at, None);
    assert_eq!(tx.api_token_by_hash("unknown").await.unwrap(), None);
    assert!(tx
        .record_api_token_use(token.id, t0() + mins(5), t0() + mins(4))
        .await
        .unwrap());
    // A use recorded since the cut-off is kept, not rewritten.
    assert!(!tx
        .record_api_token_use(
            token.id,
            t0() + mins(5) + Duration::seconds(30),
            t0() + mins(5)
        )
        .await
        .unwrap());
    commit(tx).await;
    let listed = read(store).await.list_api_tokens(amy.id).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, [second.name.as_str(), "Phone"]);
    assert_eq!(listed[1].last_used_at, Some(t0() + mins(5)));
}

pub async fn a_revoked_api_token_no_longer_signs_in(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@acme.example", "Amy").await;
    let mut tx = write(store).await;
    let token = tx
        .create_api_token(amy.id, "tok-1", "Phone", t0())
        .await
        .unwrap();
    commit(tx).await;
    let mut tx = write(store).await;
    assert!(tx
        .revoke_api_token(amy.id, token.id, t0() + mins(1))
        .await
        .unwrap());
    assert!(!tx
        .revoke_api_token(amy.id, token.id, t0() + mins(2))
        .await
        .unwrap());
    commit(tx).await;
    let mut tx = write(store).await;
    assert_eq!(tx.api_token_by_hash("tok-1").await.unwrap(), None);
    let listed = tx.list_api_tokens(amy.id).await.unwrap();
    assert_eq!(listed[0].revoked_at, Some(t0() + mins(1)));
    assert_eq!(listed[0].last_used_at, None);
}

pub async fn a_user_cannot_revoke_or_list_another_users_token(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@acme.example", "Amy").await;
    let eve = user(store, "eve@evil.example", "Eve").await;
    let mut tx = write(store).await;
    let token = tx
        .create_api_token(amy.id, "tok-1", "Phone", t0())
        .await
        .unwrap();
    assert!(tx.list_api_tokens(eve.id).await.unwrap().is_empty());
    assert!(!tx.revoke_api_token(eve.id, token.id, t0()).await.unwrap());
    commit(tx).await;
    let mut tx = write(store).await;
    assert!(tx.api_token_by_hash("tok-1").await.unwrap().is_some());
}

pub async fn revoking_all_tokens_of_a_user_spares_other_users(db: &TestDb) {
    let store = db.store();
    let amy = user(store, "amy@acme.example", "Amy").await;
    let bob = user(store, "bob@acme.example", "Bob").await;
    let mut tx = write(store).await;
    tx.create_api_token(amy.id, "amy-1", "Phone", t0())
        .await
        .unwrap();
    tx.create_api_token(amy.id, "amy-2", "Tablet", t0())
        .await
        .unwrap();
    tx.create_api_token(bob.id, "bob-1", "Phone", t0())
        .await
        .unwrap();
    assert_eq!(
        tx.revoke_api_tokens_of_user(amy.id, t0() + mins(1))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        tx.revoke_api_tokens_of_user(amy.id, t0() + mins(2))
            .await
            .unwrap(),
        0
    );
    commit(tx).await;
    let mut tx = write(store).await;
    assert!(tx.api_token_by_hash("amy-1").await.unwrap().is_none());
    assert!(tx.api_token_by_hash("amy-2").await.unwrap().is_none());
    assert!(tx.api_token_by_hash("bob-1").await.unwrap().is_some());
    let amys = tx.list_api_tokens(amy.id).await.unwrap();
    assert!(amys.iter().all(|t| t.revoked_at == Some(t0() + mins(1))));
}

// ---- jobs ------------------------------------------------------------------------

pub async fn a_job_is_stored_with_its_payload(db: &TestDb) {
    let store = db.store();
    let spec = new_job("send_email", Some("k"), t0());
    let id = enqueue(store, spec.clone()).await.unwrap();
    let job = read(store).await.job_by_id(id).await.unwrap().unwrap();
    assert_eq!(job.kind, "send_email");
    assert_eq!(job.payload, spec.payload);
    assert_eq!(job.dedupe_key.as_deref(), Some("k"));
    assert_eq!(job.state, JobState::Pending);
    assert_eq!((job.attempts, job.max_attempts), (0, 5));
    assert_eq!(job.run_at, t0());
    assert_eq!(
        (job.lease_token, job.locked_until, job.last_error),
        (None, None, None)
    );
    assert_eq!(
        read(store)
            .await
            .job_by_id(JobId(id.0 + 1000))
            .await
            .unwrap(),
        None
    );
}

pub async fn a_job_is_deduplicated_only_while_pending(db: &TestDb) {
    let store = db.store();
    let first = enqueue(store, new_job("probe", Some("grant-7"), t0())).await;
    assert!(first.is_some());
    assert_eq!(
        enqueue(store, new_job("probe", Some("grant-7"), t0())).await,
        None
    );
    assert!(enqueue(store, new_job("probe", Some("grant-8"), t0()))
        .await
        .is_some());
    assert!(enqueue(store, new_job("probe", None, t0())).await.is_some());
    assert!(enqueue(store, new_job("probe", None, t0())).await.is_some());
    // Once claimed it is no longer pending: the same key may be enqueued again.
    let claimed = store.claim_jobs(t0(), mins(5), 1).await.unwrap();
    assert_eq!(claimed[0].id, first.unwrap());
    assert!(enqueue(store, new_job("probe", Some("grant-7"), t0()))
        .await
        .is_some());
}

pub async fn due_jobs_are_claimed_by_run_at_then_id(db: &TestDb) {
    let store = db.store();
    let late = enqueue(store, new_job("a", None, t0() - mins(1)))
        .await
        .unwrap();
    let early = enqueue(store, new_job("b", None, t0() - mins(10)))
        .await
        .unwrap();
    let tie_1 = enqueue(store, new_job("c", None, t0() - mins(5)))
        .await
        .unwrap();
    let tie_2 = enqueue(store, new_job("d", None, t0() - mins(5)))
        .await
        .unwrap();
    let first = store.claim_jobs(t0(), mins(5), 3).await.unwrap();
    let ids: Vec<JobId> = first.iter().map(|j| j.id).collect();
    assert_eq!(ids, [early, tie_1, tie_2]);
    for job in &first {
        assert_eq!(job.state, JobState::Running);
        assert_eq!(job.attempts, 1);
        assert_eq!(job.locked_until, Some(t0() + mins(5)));
    }
    let tokens: HashSet<_> = first
        .iter()
        .map(|j| j.lease_token.clone().unwrap())
        .collect();
    assert_eq!(tokens.len(), 3, "every claim has its own lease token");
    let rest = store.claim_jobs(t0(), mins(5), 10).await.unwrap();
    assert_eq!(rest.iter().map(|j| j.id).collect::<Vec<_>>(), [late]);
    assert!(store
        .claim_jobs(t0(), mins(5), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(job_state(store, early).await, Some(JobState::Running));
}

pub async fn a_job_due_in_the_future_is_not_claimed(db: &TestDb) {
    let store = db.store();
    let id = enqueue(store, new_job("later", None, t0() + mins(10)))
        .await
        .unwrap();
    assert!(store
        .claim_jobs(t0(), mins(5), 10)
        .await
        .unwrap()
        .is_empty());
    let claimed = store
        .claim_jobs(t0() + mins(10), mins(5), 10)
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
}

pub async fn completing_a_job_needs_its_current_lease(db: &TestDb) {
    let store = db.store();
    let id = enqueue(store, new_job("a", None, t0())).await.unwrap();
    let job = claim_one(store, t0()).await;
    let mut tx = write(store).await;
    assert_eq!(
        tx.complete_jobs(&[(id, "not-the-lease")]).await.unwrap(),
        []
    );
    assert_eq!(tx.complete_jobs(&[(id, lease(&job))]).await.unwrap(), [id]);
    assert_eq!(tx.complete_jobs(&[(id, lease(&job))]).await.unwrap(), []);
    commit(tx).await;
    assert_eq!(job_state(store, id).await, None);
}

pub async fn an_expired_lease_lets_another_worker_claim_and_fences_the_first(db: &TestDb) {
    let store = db.store();
    let id = enqueue(store, new_job("a", None, t0())).await.unwrap();
    let first = claim_one(store, t0()).await;
    assert!(store
        .claim_jobs(t0() + mins(4), mins(5), 1)
        .await
        .unwrap()
        .is_empty());
    let second = claim_one(store, t0() + mins(5)).await;
    assert_eq!(second.id, id);
    assert_eq!(second.attempts, 2);
    assert_ne!(second.lease_token, first.lease_token);
    assert_eq!(second.locked_until, Some(t0() + mins(10)));
    let stale = lease(&first);
    let mut tx = write(store).await;
    assert_eq!(tx.complete_jobs(&[(id, stale)]).await.unwrap(), []);
    assert!(!tx.fail_job(id, stale, "late", None).await.unwrap());
    assert!(!tx.release_job(id, stale, t0()).await.unwrap());
    commit(tx).await;
    let job = read(store).await.job_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.lease_token),
        (JobState::Running, second.lease_token)
    );
}

pub async fn a_failed_job_with_retry_time_is_pending_again_then(db: &TestDb) {
    let store = db.store();
    let id = enqueue(store, new_job("a", Some("k"), t0())).await.unwrap();
    let job = claim_one(store, t0()).await;
    let mut tx = write(store).await;
    let lease = lease(&job);
    assert!(tx
        .fail_job(id, lease, "timeout", Some(t0() + mins(2)))
        .await
        .unwrap());
    assert!(!tx
        .fail_job(id, lease, "again", Some(t0() + mins(2)))
        .await
        .unwrap());
    commit(tx).await;
    let job = read(store).await.job_by_id(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.attempts, 1);
    assert_eq!(job.run_at, t0() + mins(2));
    assert_eq!(job.last_error.as_deref(), Some("timeout"));
    assert_eq!((job.lease_token, job.locked_until), (None, None));
    assert_eq!(
        enqueue(store, new_job("a", Some("k"), t0())).await,
        None,
        "still deduplicated"
    );
    assert!(store
        .claim_jobs(t0() + mins(1), mins(5), 1)
        .await
        .unwrap()
        .is_empty());
    let again = store.claim_jobs(t0() + mins(2), mins(5), 1).await.unwrap();
    assert_eq!((again[0].id, again[0].attempts), (id, 2));
}

pub async fn a_failed_job_without_retry_is_dead_and_listed(db: &TestDb) {
    let store = db.store();
    let id = enqueue(store, new_job("a", None, t0())).await.unwrap();
    let job = claim_one(store, t0()).await;
    let mut tx = write(store).await;
    assert!(tx.fail_job(id, lease(&job), "gave up", None).await.unwrap());
    commit(tx).await;
    let mut tx = read(store).await;
    let dead = tx.list_jobs(JobState::Dead, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].id, dead[0].attempts), (id, 1));
    assert_eq!(dead[0].last_error.as_deref(), Some("gave up"));
    assert_eq!(dead[0].lease_token, None);
    assert!(tx
        .list_jobs(JobState::Running, 10)
        .await
        .unwrap()
        .is_empty());
    drop(tx);
    assert!(store
        .claim_jobs(t0() + Duration::days(1), mins(5), 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn a_released_job_is_pending_now_without_counting_the_attempt(db: &TestDb) {
    let store = db.store();
    let id = enqueue(store, new_job("a", None, t0())).await.unwrap();
    let job = claim_one(store, t0()).await;
    let mut tx = write(store).await;
    assert!(tx
        .release_job(id, lease(&job), t0() + mins(1))
        .await
        .unwrap());
    commit(tx).await;
    let job = read(store).await.job_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempts, job.run_at),
        (JobState::Pending, 0, t0() + mins(1))
    );
    assert_eq!((job.lease_token, job.locked_until), (None, None));
    let again = store.claim_jobs(t0() + mins(1), mins(5), 1).await.unwrap();
    assert_eq!((again[0].id, again[0].attempts), (id, 1));
}

pub async fn a_dead_job_can_be_retried_with_fresh_attempts(db: &TestDb) {
    let store = db.store();
    let id = enqueue(store, new_job("a", None, t0())).await.unwrap();
    let mut tx = write(store).await;
    assert!(
        !tx.retry_dead_job(id, t0()).await.unwrap(),
        "pending is not dead"
    );
    drop(tx);
    let job = claim_one(store, t0()).await;
    let mut tx = write(store).await;
    tx.fail_job(id, lease(&job), "boom", None).await.unwrap();
    commit(tx).await;
    let mut tx = write(store).await;
    assert!(tx.retry_dead_job(id, t0() + mins(30)).await.unwrap());
    assert!(!tx.retry_dead_job(id, t0() + mins(30)).await.unwrap());
    commit(tx).await;
    let job = read(store).await.job_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempts, job.run_at),
        (JobState::Pending, 0, t0() + mins(30))
    );
    assert!(
        store
            .claim_jobs(t0() + mins(30), mins(5), 1)
            .await
            .unwrap()
            .len()
            == 1
    );
}

pub async fn a_retried_job_gives_way_to_a_pending_twin_with_its_key(db: &TestDb) {
    let store = db.store();
    let old = enqueue(store, new_job("a", Some("k"), t0())).await.unwrap();
    let job = claim_one(store, t0()).await;
    // While it runs, the same work is asked for again.
    let twin = enqueue(store, new_job("a", Some("k"), t0())).await.unwrap();
    let mut tx = write(store).await;
    let lease = lease(&job);
    assert!(tx
        .fail_job(old, lease, "flaky", Some(t0() + mins(1)))
        .await
        .unwrap());
    commit(tx).await;
    let mut tx = read(store).await;
    let old_job = tx.job_by_id(old).await.unwrap().unwrap();
    let twin_job = tx.job_by_id(twin).await.unwrap().unwrap();
    assert_eq!(old_job.state, JobState::Pending);
    assert_eq!(old_job.dedupe_key, None);
    assert_eq!(twin_job.dedupe_key.as_deref(), Some("k"));
}

pub async fn jobs_are_listed_newest_first_up_to_the_limit(db: &TestDb) {
    let store = db.store();
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(
            enqueue(store, new_job(&format!("job-{n}"), None, t0()))
                .await
                .unwrap(),
        );
    }
    let listed = read(store)
        .await
        .list_jobs(JobState::Pending, 3)
        .await
        .unwrap();
    let listed: Vec<JobId> = listed.iter().map(|j| j.id).collect();
    assert_eq!(listed, [ids[3], ids[2], ids[1]]);
}

pub async fn jobs_are_counted_by_state(db: &TestDb) {
    let store = db.store();
    let zero = read(store).await.count_jobs_by_state().await.unwrap();
    assert_eq!(
        zero,
        [
            (JobState::Pending, 0),
            (JobState::Running, 0),
            (JobState::Dead, 0)
        ]
    );
    for n in 0..4 {
        enqueue(store, new_job(&format!("job-{n}"), None, t0())).await;
    }
    let claimed = store.claim_jobs(t0(), mins(5), 2).await.unwrap();
    let mut tx = write(store).await;
    let lease = lease(&claimed[0]);
    tx.fail_job(claimed[0].id, lease, "x", None).await.unwrap();
    commit(tx).await;
    let counts = read(store).await.count_jobs_by_state().await.unwrap();
    assert_eq!(
        counts,
        [
            (JobState::Pending, 2),
            (JobState::Running, 1),
            (JobState::Dead, 1)
        ]
    );
}

pub async fn a_dropped_transaction_discards_its_data_and_jobs_together(db: &TestDb) {
    let store = db.store();
    let mut tx = write(store).await;
    tx.create_team(&slug("acme"), &TeamName::parse("Acme").unwrap(), t0())
        .await
        .unwrap();
    let id = tx
        .enqueue_job(&new_job("welcome", Some("acme"), t0()))
        .await
        .unwrap();
    tx.insert_email(&new_email("amy@acme.example", Some("welcome"), t0()))
        .await
        .unwrap();
    drop(tx);
    let mut tx = read(store).await;
    assert_eq!(tx.team_by_slug(&slug("acme")).await.unwrap(), None);
    assert_eq!(tx.job_by_id(id.unwrap()).await.unwrap(), None);
    assert!(tx
        .emails_to(&email("amy@acme.example"))
        .await
        .unwrap()
        .is_empty());
    drop(tx);
    assert!(store
        .claim_jobs(t0(), mins(5), 10)
        .await
        .unwrap()
        .is_empty());
    // The same work, committed this time, is all there.
    let mut tx = write(store).await;
    tx.create_team(&slug("acme"), &TeamName::parse("Acme").unwrap(), t0())
        .await
        .unwrap();
    let id = tx
        .enqueue_job(&new_job("welcome", Some("acme"), t0()))
        .await
        .unwrap();
    commit(tx).await;
    assert!(id.is_some());
    assert_eq!(store.claim_jobs(t0(), mins(5), 10).await.unwrap().len(), 1);
}

/// Four pools (as four worker processes would have) claim 500 jobs at once;
/// every job must be handed out exactly once.
pub async fn concurrent_workers_never_receive_the_same_job(db: &TestDb) {
    const JOBS: usize = 500;
    const WORKERS: usize = 4;
    let store = db.store();
    let mut tx = write(store).await;
    for n in 0..JOBS {
        let job = new_job("bulk", None, t0() - Duration::seconds(n as i64 % 7));
        tx.enqueue_job(&job).await.unwrap().unwrap();
    }
    commit(tx).await;
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let pool = db.open_another().await;
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = pool.claim_jobs(t0(), mins(5), 7).await.expect("claim");
                if batch.is_empty() {
                    break;
                }
                let mut tx = pool.begin().await.expect("begin");
                let finished: Vec<_> = batch.iter().map(|job| (job.id, lease(job))).collect();
                let completed = tx.complete_jobs(&finished).await.unwrap();
                assert_eq!(completed.len(), batch.len());
                tx.commit().await.expect("commit");
                mine.extend(batch.into_iter().map(|j| j.id));
            }
            pool.close().await;
            mine
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for worker in workers {
        let mine = worker.await.expect("worker");
        total += mine.len();
        seen.extend(mine);
    }
    assert_eq!(total, JOBS, "claims handed out");
    assert_eq!(seen.len(), JOBS, "distinct jobs claimed");
    let counts = read(store).await.count_jobs_by_state().await.unwrap();
    assert!(counts.iter().all(|(_, n)| *n == 0), "{counts:?}");
}

/// A worker renews the lease of a job it is still running: nobody else may
/// claim it before the renewed end, and a stale or wrong lease renews nothing.
pub async fn a_renewed_lease_keeps_a_running_job_from_other_workers(db: &TestDb) {
    let store = db.store();
    let id = enqueue(store, new_job("long", None, t0())).await.unwrap();
    let first = claim_one(store, t0()).await;
    let mut tx = write(store).await;
    assert!(!tx
        .extend_job_lease(id, "not-the-lease", t0() + mins(9))
        .await
        .unwrap());
    assert!(tx
        .extend_job_lease(id, lease(&first), t0() + mins(9))
        .await
        .unwrap());
    commit(tx).await;
    let job = read(store).await.job_by_id(id).await.unwrap().unwrap();
    assert_eq!(job.locked_until, Some(t0() + mins(9)));
    assert!(store
        .claim_jobs(t0() + mins(6), mins(5), 1)
        .await
        .unwrap()
        .is_empty());
    let second = claim_one(store, t0() + mins(9)).await;
    assert_eq!((second.id, second.attempts), (id, 2));
    let mut tx = write(store).await;
    assert!(!tx
        .extend_job_lease(id, lease(&first), t0() + mins(20))
        .await
        .unwrap());
    commit(tx).await;
    let pending = enqueue(store, new_job("waiting", None, t0() + mins(30)))
        .await
        .unwrap();
    let mut tx = write(store).await;
    assert!(
        !tx.extend_job_lease(pending, "", t0() + mins(20))
            .await
            .unwrap(),
        "a pending job has no lease to renew"
    );
    commit(tx).await;
    let job = read(store).await.job_by_id(id).await.unwrap().unwrap();
    assert_eq!(job.locked_until, Some(t0() + mins(14)));
}

/// Jobs that finished together are completed in one call; each goes only
/// with its own current lease, and the call says which went.
pub async fn finished_jobs_are_completed_together_each_only_with_its_lease(db: &TestDb) {
    let store = db.store();
    let mut ids = Vec::new();
    for n in 0..4 {
        let job = new_job(&format!("job-{n}"), None, t0() - Duration::seconds(4 - n));
        ids.push(enqueue(store, job).await.unwrap());
    }
    let claimed = store.claim_jobs(t0(), mins(5), 3).await.unwrap();
    assert_eq!(claimed.len(), 3);
    let mut tx = write(store).await;
    assert_eq!(tx.complete_jobs(&[]).await.unwrap(), []);
    let mut completed = tx
        .complete_jobs(&[
            (claimed[0].id, lease(&claimed[0])),
            (claimed[1].id, "not-the-lease"),
            (claimed[2].id, lease(&claimed[2])),
            (ids[3], lease(&claimed[0])),
        ])
        .await
        .unwrap();
    commit(tx).await;
    completed.sort();
    assert_eq!(completed, [ids[0], ids[2]]);
    assert_eq!(job_state(store, ids[0]).await, None);
    assert_eq!(job_state(store, ids[1]).await, Some(JobState::Running));
    assert_eq!(job_state(store, ids[2]).await, None);
    assert_eq!(job_state(store, ids[3]).await, Some(JobState::Pending));
}

// ---- email outbox ------------------------------------------------------------------

pub async fn an_email_with_the_same_dedupe_key_is_stored_once(db: &TestDb) {
    let store = db.store();
    let mut tx = write(store).await;
    let first = tx
        .insert_email(&new_email("amy@acme.example", Some("invite-1"), t0()))
        .await
        .unwrap();
    let again = tx
        .insert_email(&new_email("amy@acme.example", Some("invite-1"), t0()))
        .await
        .unwrap();
    let plain_1 = tx
        .insert_email(&new_email("amy@acme.example", None, t0()))
        .await
        .unwrap();
    let plain_2 = tx
        .insert_email(&new_email("amy@acme.example", None, t0()))
        .await
        .unwrap();
    commit(tx).await;
    assert!(first.is_some());
    assert_eq!(again, None);
    assert!(plain_1.is_some() && plain_2.is_some() && plain_1 != plain_2);
    let mut tx = read(store).await;
    assert_eq!(
        tx.emails_to(&email("amy@acme.example"))
            .await
            .unwrap()
            .len(),
        3
    );
    let stored = tx.email_by_id(first.unwrap()).await.unwrap().unwrap();
    let expected = new_email("amy@acme.example", Some("invite-1"), t0());
    assert_eq!(stored.recipient, expected.recipient);
    assert_eq!(
        (
            stored.template,
            stored.subject,
            stored.text_body,
            stored.html_body,
            stored.message_id
        ),
        (
            expected.template,
            expected.subject,
            expected.text_body,
            expected.html_body,
            expected.message_id
        )
    );
    assert_eq!(stored.dedupe_key.as_deref(), Some("invite-1"));
    assert_eq!((stored.state, stored.attempts), (EmailState::Queued, 0));
    assert_eq!((stored.last_error, stored.sent_at), (None, None));
    assert_eq!(stored.created_at, t0());
}

pub async fn a_sent_email_records_when_it_went_out(db: &TestDb) {
    let store = db.store();
    let mut tx = write(store).await;
    let id = tx
        .insert_email(&new_email("amy@acme.example", None, t0()))
        .await
        .unwrap()
        .unwrap();
    assert!(tx.mark_email_sent(id, t0() + mins(1)).await.unwrap());
    assert!(
        !tx.mark_email_sent(id, t0() + mins(2)).await.unwrap(),
        "sent once"
    );
    assert!(!tx.record_email_failure(id, "late", false).await.unwrap());
    commit(tx).await;
    let sent = read(store).await.email_by_id(id).await.unwrap().unwrap();
    assert_eq!(sent.state, EmailState::Sent);
    assert_eq!(sent.sent_at, Some(t0() + mins(1)));
    assert_eq!(sent.attempts, 1);
    assert_eq!(
        read(store)
            .await
            .email_by_id(EmailId(id.0 + 1000))
            .await
            .unwrap(),
        None
    );
}

pub async fn email_failures_are_recorded_until_it_gives_up(db: &TestDb) {
    let store = db.store();
    let mut tx = write(store).await;
    let id = tx
        .insert_email(&new_email("amy@acme.example", None, t0()))
        .await
        .unwrap()
        .unwrap();
    assert!(tx
        .record_email_failure(id, "connection refused", false)
        .await
        .unwrap());
    commit(tx).await;
    let queued = read(store).await.email_by_id(id).await.unwrap().unwrap();
    assert_eq!((queued.state, queued.attempts), (EmailState::Queued, 1));
    assert_eq!(queued.last_error.as_deref(), Some("connection refused"));
    let mut tx = write(store).await;
    assert!(tx
        .record_email_failure(id, "mailbox full", true)
        .await
        .unwrap());
    assert!(!tx.record_email_failure(id, "after", true).await.unwrap());
    assert!(
        !tx.mark_email_sent(id, t0()).await.unwrap(),
        "failed for good"
    );
    commit(tx).await;
    let failed = read(store).await.email_by_id(id).await.unwrap().unwrap();
    assert_eq!((failed.state, failed.attempts), (EmailState::Failed, 2));
    assert_eq!(failed.last_error.as_deref(), Some("mailbox full"));
    assert_eq!(failed.sent_at, None);
}

pub async fn emails_to_an_address_are_listed_newest_first(db: &TestDb) {
    let store = db.store();
    let mut tx = write(store).await;
    let old = tx
        .insert_email(&new_email("amy@acme.example", None, t0()))
        .await
        .unwrap();
    let new = tx
        .insert_email(&new_email("amy@acme.example", None, t0() + mins(1)))
        .await
        .unwrap();
    tx.insert_email(&new_email("bob@acme.example", None, t0() + mins(2)))
        .await
        .unwrap();
    commit(tx).await;
    let listed = read(store)
        .await
        .emails_to(&email("amy@acme.example"))
        .await
        .unwrap();
    let ids: Vec<_> = listed.iter().map(|e| Some(e.id)).collect();
    assert_eq!(ids, [new, old]);
    assert!(listed
        .iter()
        .all(|e| e.recipient.as_str() == "amy@acme.example"));
}

pub async fn emails_are_counted_by_state(db: &TestDb) {
    let store = db.store();
    let zero = read(store).await.count_emails_by_state().await.unwrap();
    assert_eq!(
        zero,
        [
            (EmailState::Queued, 0),
            (EmailState::Sent, 0),
            (EmailState::Failed, 0)
        ]
    );
    let mut tx = write(store).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(
            tx.insert_email(&new_email("amy@acme.example", None, t0()))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    tx.mark_email_sent(ids[0], t0()).await.unwrap();
    tx.record_email_failure(ids[1], "no", true).await.unwrap();
    tx.record_email_failure(ids[2], "later", false)
        .await
        .unwrap();
    commit(tx).await;
    let counts = read(store).await.count_emails_by_state().await.unwrap();
    assert_eq!(
        counts,
        [
            (EmailState::Queued, 2),
            (EmailState::Sent, 1),
            (EmailState::Failed, 1)
        ]
    );
}

// ---- sign-in limits ----------------------------------------------------------------

const AMY_KEY: &str = "8f4e2a0c6b1d3e5f7a9b0c2d4e6f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f";
const IP_KEY: &str = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c";

/// Records one failure under `key` at each of `at` (minutes after t0).
async fn fail_at(store: &dyn Store, key: &str, at: &[i64]) {
    let mut tx = write(store).await;
    for m in at {
        tx.record_login_failure(key, t0() + mins(*m)).await.unwrap();
    }
    commit(tx).await;
}

async fn recent(store: &dyn Store, key: &str, since: i64, limit: i64) -> Vec<DateTime<Utc>> {
    let mut tx = read(store).await;
    tx.recent_login_failures(key, t0() + mins(since), limit)
        .await
        .unwrap()
}

pub async fn login_failures_are_listed_per_key_newest_first_after_a_time(db: &TestDb) {
    let store = db.store();
    fail_at(store, AMY_KEY, &[0, 5, 10, 15]).await;
    fail_at(store, IP_KEY, &[12]).await;
    assert_eq!(
        recent(store, AMY_KEY, 0, 10).await,
        [t0() + mins(15), t0() + mins(10), t0() + mins(5)],
        "strictly after the time, newest first"
    );
    assert_eq!(
        recent(store, AMY_KEY, -1, 2).await,
        [t0() + mins(15), t0() + mins(10)],
        "at most the limit"
    );
    assert_eq!(recent(store, IP_KEY, -1, 10).await, [t0() + mins(12)]);
    assert!(recent(store, "unknown", -1, 10).await.is_empty());
}

pub async fn forgetting_a_keys_login_failures_spares_other_keys(db: &TestDb) {
    let store = db.store();
    fail_at(store, AMY_KEY, &[0, 1]).await;
    fail_at(store, IP_KEY, &[1]).await;
    let mut tx = write(store).await;
    assert_eq!(tx.forget_login_failures(AMY_KEY).await.unwrap(), 2);
    assert_eq!(tx.forget_login_failures(AMY_KEY).await.unwrap(), 0);
    commit(tx).await;
    assert!(recent(store, AMY_KEY, -1, 10).await.is_empty());
    assert_eq!(recent(store, IP_KEY, -1, 10).await.len(), 1);
}

pub async fn purging_login_failures_drops_those_up_to_a_time_whatever_their_key(db: &TestDb) {
    let store = db.store();
    fail_at(store, AMY_KEY, &[0, 10]).await;
    fail_at(store, IP_KEY, &[5, 20]).await;
    let mut tx = write(store).await;
    assert_eq!(tx.purge_login_failures(t0() + mins(10)).await.unwrap(), 3);
    commit(tx).await;
    assert!(recent(store, AMY_KEY, -60, 10).await.is_empty());
    assert_eq!(recent(store, IP_KEY, -60, 10).await, [t0() + mins(20)]);
}
