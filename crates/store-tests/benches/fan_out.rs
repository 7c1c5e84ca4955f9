//! Delivery fan-out: one post scheduled for every member of a team of
//! 100,000 (`APOSTLE_BENCH_MEMBERS` to try fewer), on SQLite and (when
//! `APOSTLE_TEST_POSTGRES_URL` is set) on PostgreSQL. Printed per backend
//! and schedule: the time `Core::create_post` takes to plan every delivery,
//! and the rate at which the due deliveries then reach their members, each
//! counted when its inbox row exists and its email is queued.
//!
//! Two schedules, each on a fresh database: "now", and five days, where each
//! member gets a random moment in the team's window on one of the days in
//! their own time zone (the clock is then moved past the last day). Dispatch
//! runs as `serve` runs it: `Core::dispatch_due_deliveries` beside a job
//! runner with every job type and the default settings, which mails each
//! member's notification (`FlushNotifications`); the time stops when the
//! outbox holds one email per member. The job queue's raw-cycle rates from
//! the same run are printed beside, so figures compare across machines.
//!
//! Members are seeded set-based in one statement (a recursive CTE on SQLite,
//! `generate_series` on PostgreSQL) with the admin's password hash, computed
//! once, and spread over three time zones (70% UTC, 20% Europe/Paris, 10%
//! America/New_York) so that planning runs its statement per zone and day.
//! The bench panics unless every member got exactly one delivery and one
//! email.

#[path = "shared/beside.rs"]
mod beside;
#[path = "shared/queue_cycle.rs"]
mod queue_cycle;

use apostle_core::connections::Connections;
use apostle_core::email::Mailer;
use apostle_core::jobs::{Runner, RunnerConfig};
use apostle_core::posts::PostInput;
use apostle_core::store::{Post, User};
use apostle_core::{Core, CoreSettings, ManualClock};
use apostle_domain::{DeliveryState, Role, Schedule};
use apostle_encryption::Keyring;
use apostle_store_tests::harness::{Backend, TestDb, POSTGRES_URL_VAR};
use beside::{execute, Arg};
use chrono::{DateTime, Days, Utc};
use queue_cycle::cycle_rates;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const MEMBERS_VAR: &str = "APOSTLE_BENCH_MEMBERS";
const DEFAULT_MEMBERS: i64 = 100_000;
const TEAM: &str = "bench";
const ADMIN_EMAIL: &str = "admin@bench.example";
const PASSWORD: &str = "fan-out bench password, long enough";
/// Days in the spread-out schedule.
const SPREAD_DAYS: u64 = 5;
/// Dispatch is declared stuck when the outbox grows by nothing for this long.
const STUCK_AFTER: Duration = Duration::from_secs(120);
/// How often the outbox is counted while dispatch runs: seldom enough to
/// take little from the work measured.
const POLL: Duration = Duration::from_millis(200);

/// Every member but the admin (who is one too): `$1` the password hash, `$2`
/// their creation time, `$3` how many; `n` counts from 1.
macro_rules! seed_members {
    ($series:literal) => {
        concat!(
            $series,
            " INSERT INTO users (email, name, password_hash, created_at, time_zone) \
             SELECT 'member-' || n || '@bench.example', 'Member ' || n, $1, $2, \
                 CASE WHEN n % 10 < 7 THEN 'UTC' WHEN n % 10 < 9 THEN 'Europe/Paris' \
                     ELSE 'America/New_York' END \
             FROM series"
        )
    };
}
const SQLITE_SEED: &str = seed_members!(
    "WITH RECURSIVE series(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM series WHERE n < $3)"
);
const PG_SEED: &str = seed_members!("WITH series AS (SELECT generate_series(1, $3::bigint) AS n)");
/// `$1` the team, `$2` the admin, already a member.
const SEED_MEMBERSHIPS: &str = "INSERT INTO memberships (team_id, user_id, role) \
     SELECT $1, id, 'ambassador' FROM users WHERE id <> $2";
const EMAILED_MEMBERS: &str = "SELECT COUNT(DISTINCT recipient) FROM emails";
const NEWEST_EMAIL: &str = "SELECT COALESCE(MAX(id), 0) FROM emails";

#[derive(Debug, Clone, Copy)]
enum Timing {
    Now,
    SpreadOverDays,
}

/// What one fan-out measured.
struct Figures {
    plan: Duration,
    /// From the first dispatch until the last email was queued.
    dispatch: Duration,
    /// Of which the dispatcher's own rounds (inbox rows and notifications).
    inbox: Duration,
}

#[tokio::main]
async fn main() {
    let members: i64 = std::env::var(MEMBERS_VAR)
        .ok()
        .map(|v| v.parse().expect("APOSTLE_BENCH_MEMBERS is a number"))
        .unwrap_or(DEFAULT_MEMBERS);
    assert!(members >= 2, "{MEMBERS_VAR} must be at least 2");
    println!(
        "delivery fan-out: one post for {members} members, planned, then dispatched \
         (inbox row + queued email)"
    );
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(cycle) = cycle_rates(backend, 1).await else {
            println!("{backend:?}: skipped, {POSTGRES_URL_VAR} is not set");
            continue;
        };
        for timing in [Timing::Now, Timing::SpreadOverDays] {
            let db = TestDb::create(backend).await.expect("database");
            let figures = fan_out(&db, members, timing).await;
            db.destroy().await;
            let rate = members as f64 / figures.dispatch.as_secs_f64();
            println!(
                "{backend:?}, {timing:?}: planned {members} deliveries in {:.0} ms; \
                 dispatched at {rate:.0} deliveries/s ({:.1} s, of which inbox {:.1} s), \
                 {members} emails queued; dispatch/raw cycle {:.2}",
                ms(figures.plan),
                figures.dispatch.as_secs_f64(),
                figures.inbox.as_secs_f64(),
                rate / cycle.raw
            );
        }
        println!(
            "{backend:?}, job queue beside it, 1 worker: queue {:.0} jobs/s, raw cycle {:.0} \
             jobs/s, ratio {:.2}",
            cycle.queue,
            cycle.raw,
            cycle.ratio()
        );
    }
}

/// Seeds a team of `members`, schedules one post for all of them with
/// `timing`, dispatches it and checks that each member got it once.
async fn fan_out(db: &TestDb, members: i64, timing: Timing) -> Figures {
    let started_at = Utc::now();
    let clock = ManualClock::new(started_at);
    let core = core(db, clock.clone()).await;
    let team = core.create_team(TEAM, "Bench").await.expect("team");
    let admin = core
        .add_user(
            TEAM,
            ADMIN_EMAIL,
            "Bench Admin",
            Role::Admin,
            PASSWORD.to_owned().into(),
        )
        .await
        .expect("admin");
    let started = Instant::now();
    seed(db, team.id.0, &admin, members - 1, started_at).await;
    println!(
        "{:?}: {members} members seeded in {:.1} s",
        db.backend(),
        started.elapsed().as_secs_f64()
    );

    let access = core.team_access(TEAM, &admin).await.expect("access");
    let schedule = match timing {
        Timing::Now => Schedule::Now,
        Timing::SpreadOverDays => Schedule::Days {
            days: (1..=SPREAD_DAYS)
                .map(|d| started_at.date_naive() + Days::new(d))
                .collect(),
            skip_weekends: false,
        },
    };
    let input = PostInput {
        text: "Our new release is out: read what changed and tell your network.".to_owned(),
        link: Some("https://bench.example/release".to_owned()),
        providers: vec!["linkedin".to_owned(), "x".to_owned()],
        schedule: Some(schedule),
        ..PostInput::default()
    };
    let started = Instant::now();
    let post = core.create_post(&access, input).await.expect("post");
    let plan = started.elapsed();
    assert_deliveries(&core, &post, DeliveryState::Pending, members).await;
    if let Timing::SpreadOverDays = timing {
        // Past the last day's window in every member's zone.
        clock.advance(chrono::Duration::days(SPREAD_DAYS as i64 + 2));
    }

    let (stop, stopped) = watch::channel(false);
    let runner = Runner::with_all_jobs(core.clone(), RunnerConfig::default());
    let jobs = tokio::spawn(runner.run(stopped));
    let started = Instant::now();
    let delivered = core.dispatch_due_deliveries().await.expect("dispatch");
    let inbox = started.elapsed();
    assert_eq!(delivered as i64, members, "every delivery went out");
    wait_for_emails(&core, db, members).await;
    let dispatch = started.elapsed();
    stop.send(true).expect("runner listens");
    jobs.await.expect("runner stops");

    assert_deliveries(&core, &post, DeliveryState::Delivered, members).await;
    assert_eq!(
        emails(&core).await,
        members,
        "one email per member, no more"
    );
    assert_eq!(
        execute(db, EMAILED_MEMBERS, &[]).await,
        Some(members),
        "every member got an email"
    );
    core.store.close().await;
    Figures {
        plan,
        dispatch,
        inbox,
    }
}

/// A core on the bench's database, with a memory mailer and no providers.
async fn core(db: &TestDb, clock: ManualClock) -> Core {
    let clock = Arc::new(clock);
    Core {
        store: Arc::from(db.open_another().await),
        connections: Arc::new(Connections::none(clock.clone())),
        clock,
        mailer: Mailer::memory(),
        keyring: Arc::new(Keyring::parse(&Keyring::generate_entry("bench")).expect("keyring")),
        settings: Arc::new(CoreSettings {
            public_url: "http://127.0.0.1:8080".parse().expect("URL"),
            mail_from: "Apostle <apostle@bench.example>".parse().expect("mailbox"),
            invite_ttl: chrono::Duration::days(7),
            session_ttl: chrono::Duration::days(30),
        }),
    }
}

/// Adds `count` ambassadors to the team in two statements, all with the
/// admin's password hash.
async fn seed(db: &TestDb, team: i64, admin: &User, count: i64, now: DateTime<Utc>) {
    let hash = admin
        .password_hash
        .clone()
        .expect("the admin has a password");
    let args = [Arg::Text(hash), Arg::Time(now), Arg::Int(count)];
    let members = match db.backend() {
        Backend::Sqlite => SQLITE_SEED,
        Backend::Postgres => PG_SEED,
    };
    execute(db, members, &args).await;
    execute(
        db,
        SEED_MEMBERSHIPS,
        &[Arg::Int(team), Arg::Int(admin.id.0)],
    )
    .await;
    if db.backend() == Backend::Postgres {
        // What autovacuum does after a bulk insert, done now so that planning
        // runs on the plans a settled table gets.
        execute(db, "ANALYZE users", &[]).await;
        execute(db, "ANALYZE memberships", &[]).await;
    }
}

/// Panics unless the post has exactly `members` deliveries, all in `state`.
async fn assert_deliveries(core: &Core, post: &Post, state: DeliveryState, members: i64) {
    let mut tx = core.store.begin_read().await.expect("begin");
    let counts = tx
        .delivery_counts(post.team_id, post.id)
        .await
        .expect("counts");
    assert_eq!(
        counts,
        vec![(state, members)],
        "one delivery per member, each {state:?}"
    );
}

/// Emails in the outbox, whatever their state: the runner may have sent
/// some already.
async fn emails(core: &Core) -> i64 {
    let mut tx = core.store.begin_read().await.expect("begin");
    tx.count_emails_by_state()
        .await
        .expect("count")
        .into_iter()
        .map(|(_, n)| n)
        .sum()
}

/// Returns once the outbox holds `members` emails; panics when it stops
/// growing. Polled by the newest email's id, read through the primary key:
/// counting rows whose sealed bodies fill the table would itself take a
/// core from the work measured. Ids can skip, so the store counts at the end.
async fn wait_for_emails(core: &Core, db: &TestDb, members: i64) {
    let mut last = (0, Instant::now());
    loop {
        let newest = execute(db, NEWEST_EMAIL, &[]).await.unwrap_or(0);
        if newest >= members && emails(core).await >= members {
            return;
        }
        if newest > last.0 {
            last = (newest, Instant::now());
        }
        assert!(
            last.1.elapsed() < STUCK_AFTER,
            "dispatch stuck at email {newest} of {members}"
        );
        tokio::time::sleep(POLL).await;
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
