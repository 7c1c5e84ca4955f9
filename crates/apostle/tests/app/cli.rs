//! The command line: bootstrapping a team and its first admin, the demo,
//! the worker and sandbox commands, and what happens when the
//! configuration or the database cannot be used.

use crate::helpers::{
    admin_of_new_team, free_port, output, output_with_input, stderr_of, system_clock, Running,
    TestDb,
};
use apostle_core::demo::{DEMO_ADMIN, DEMO_AMBASSADOR, DEMO_TEAM_SLUG};
use apostle_core::store::EmailState;
use apostle_domain::{EmailAddress, Role, TeamSlug};
use secrecy::ExposeSecret;
use std::time::{Duration, Instant};

crate::on_both_backends!(
    a_user_added_on_the_command_line_can_sign_in_as_admin_of_the_team,
    user_add_reads_the_password_from_standard_input_when_it_is_not_a_terminal,
    adding_a_user_to_a_team_that_does_not_exist_fails_and_creates_nobody,
    a_second_team_with_the_same_slug_is_refused,
    the_demo_run_twice_keeps_one_team_with_two_users_one_post_and_the_last_password_works,
    worker_delivers_queued_mail_and_stops_cleanly_on_sigterm,
    a_dead_job_is_listed_with_its_error_and_can_be_queued_again,
);

async fn a_user_added_on_the_command_line_can_sign_in_as_admin_of_the_team() {
    let db = TestDb::new().await;
    let team = output(db.apostle(&["team", "add", "globex", "--name", "Globex Corporation"]));
    assert!(team.status.success(), "team add: {}", stderr_of(&team));

    let mut add = db.apostle(&[
        "user",
        "add",
        "hank@globex.example",
        "--name",
        "Hank Scorpio",
        "--team",
        "globex",
        "--role",
        "admin",
    ]);
    add.env("APOSTLE_PASSWORD", "hammock district 42");
    let user = output(add);
    assert!(user.status.success(), "user add: {}", stderr_of(&user));

    let core = db.core(&[], system_clock()).await;
    let signed_in = core
        .verify_credentials(
            "hank@globex.example",
            "hammock district 42".to_owned().into(),
        )
        .await
        .expect("the password given on the command line works");
    let teams = core.teams_of(signed_in.id).await.unwrap();
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0].team.name.as_str(), "Globex Corporation");
    assert_eq!(teams[0].role, Role::Admin);
}

async fn user_add_reads_the_password_from_standard_input_when_it_is_not_a_terminal() {
    let db = TestDb::new().await;
    assert!(
        output(db.apostle(&["team", "add", "globex", "--name", "Globex"]))
            .status
            .success()
    );
    let user = output_with_input(
        db.apostle(&[
            "user",
            "add",
            "amy@globex.example",
            "--name",
            "Amy",
            "--team",
            "globex",
            "--role",
            "ambassador",
        ]),
        "typed on stdin 123\n",
    );
    assert!(user.status.success(), "user add: {}", stderr_of(&user));

    let core = db.core(&[], system_clock()).await;
    let amy = core
        .verify_credentials("amy@globex.example", "typed on stdin 123".to_owned().into())
        .await
        .expect("the line read is the password, without its newline");
    assert_eq!(
        core.teams_of(amy.id).await.unwrap()[0].role,
        Role::Ambassador
    );
}

async fn adding_a_user_to_a_team_that_does_not_exist_fails_and_creates_nobody() {
    let db = TestDb::new().await;
    let mut add = db.apostle(&[
        "user",
        "add",
        "ghost@example.com",
        "--name",
        "Ghost",
        "--team",
        "nowhere",
        "--role",
        "admin",
    ]);
    add.env("APOSTLE_PASSWORD", "long enough password");
    let out = output(add);
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("no team \"nowhere\""), "{stderr}");

    let core = db.core(&[], system_clock()).await;
    let mut tx = core.store.begin_read().await.unwrap();
    let email = EmailAddress::parse("ghost@example.com").unwrap();
    assert!(tx.user_by_email(&email).await.unwrap().is_none());
}

async fn a_second_team_with_the_same_slug_is_refused() {
    let db = TestDb::new().await;
    assert!(
        output(db.apostle(&["team", "add", "acme", "--name", "Acme"]))
            .status
            .success()
    );
    let again = output(db.apostle(&["team", "add", "acme", "--name", "Other Acme"]));
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr_of(&again).contains("already exists"),
        "{}",
        stderr_of(&again)
    );

    let core = db.core(&[], system_clock()).await;
    let mut tx = core.store.begin_read().await.unwrap();
    let team = tx
        .team_by_slug(&TeamSlug::parse("acme").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(team.name.as_str(), "Acme", "the first team is unchanged");
}

/// Runs `serve --demo`, returns the password it printed, and stops it.
fn run_demo(db: &TestDb) -> String {
    let mut demo = Running::start(db.apostle(&["serve", "--demo"]));
    let url = demo.line_starting_with("Apostle demo is running at http://127.0.0.1:");
    assert!(
        !url.ends_with(":0"),
        "the printed URL has the real port: {url}"
    );
    demo.line_starting_with(&format!("admin:      {}", DEMO_ADMIN.0));
    demo.line_starting_with(&format!("ambassador: {}", DEMO_AMBASSADOR.0));
    let password = demo.line_starting_with("password:");
    let status = demo.terminate();
    assert!(status.success(), "demo server stops cleanly: {status}");
    password
        .split_whitespace()
        .nth(1)
        .expect("a password")
        .to_owned()
}

async fn the_demo_run_twice_keeps_one_team_with_two_users_one_post_and_the_last_password_works() {
    let db = TestDb::new().await;
    let first = run_demo(&db);
    let second = run_demo(&db);
    assert_ne!(first, second, "each run generates a fresh password");

    let core = db.core(&[], system_clock()).await;
    let mut tx = core.store.begin_read().await.unwrap();
    let team = tx
        .team_by_slug(&TeamSlug::parse(DEMO_TEAM_SLUG).unwrap())
        .await
        .unwrap()
        .expect("the demo team exists");
    let members = tx.list_members(team.id).await.unwrap();
    let posts = tx.list_posts(team.id, false).await.unwrap();
    drop(tx);
    assert_eq!(posts.len(), 1, "one suggested post, not one per run");
    let mut emails: Vec<_> = members.iter().map(|m| m.user.email.to_string()).collect();
    emails.sort();
    assert_eq!(emails, [DEMO_ADMIN.0, DEMO_AMBASSADOR.0]);

    for (email, _) in [DEMO_ADMIN, DEMO_AMBASSADOR] {
        let user = core
            .verify_credentials(email, second.clone().into())
            .await
            .expect("the password printed last signs in");
        assert_eq!(
            core.teams_of(user.id).await.unwrap().len(),
            1,
            "one team, not two"
        );
        assert!(core
            .verify_credentials(email, first.clone().into())
            .await
            .is_err());
    }
}

/// Runs `command`, which must stop on a configuration mistake: exit code 2
/// and one line on stderr, returned.
fn configuration_refusal(command: std::process::Command) -> String {
    let out = output(command);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

#[tokio::test]
async fn an_unknown_database_scheme_stops_apostle_with_exit_code_2_naming_database_url() {
    let db = TestDb::new().await;
    let mut migrate = db.apostle(&["migrate"]);
    migrate.env(
        "APOSTLE_DATABASE_URL",
        "mysql://root:hunter2@localhost/apostle",
    );
    let stderr = configuration_refusal(migrate);
    assert!(
        stderr.contains("database_url") && stderr.contains("mysql"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test]
async fn an_unreachable_postgresql_stops_apostle_with_exit_code_1_naming_host_and_port() {
    let db = TestDb::new().await;
    let port = free_port();
    let mut serve = db.apostle(&["serve"]);
    serve.env(
        "APOSTLE_DATABASE_URL",
        format!("postgres://apostle:hunter2@127.0.0.1:{port}/apostle"),
    );
    let keys = apostle_encryption::Keyring::generate_entry("k1");
    serve.env("APOSTLE_ENCRYPTION_KEYS", keys.expose_secret());
    let out = output(serve);
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(last.contains("PostgreSQL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test]
async fn a_wrong_configuration_value_stops_apostle_with_exit_code_2_and_one_line() {
    let db = TestDb::new().await;
    let mut serve = db.apostle(&["serve"]);
    serve.env("APOSTLE_LISTEN", "everywhere");
    let stderr = configuration_refusal(serve);
    assert!(stderr.contains("listen"), "{stderr}");
}

async fn worker_delivers_queued_mail_and_stops_cleanly_on_sigterm() {
    let db = TestDb::new().await;
    let core = db.core(&[], system_clock()).await;
    let admin = admin_of_new_team(&core).await;
    core.invite(&admin, "newbie@acme.example", "Newbie", Role::Ambassador)
        .await
        .unwrap();

    let mut worker = Running::start(db.apostle(&["worker"]));
    let mail_dir = db.dir.join("mail");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_dir(&mail_dir).is_ok_and(|mut files| files.next().is_some()) {
        assert!(Instant::now() < deadline, "the worker wrote no mail");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        worker.terminate().success(),
        "the worker exits 0 on SIGTERM"
    );

    let mut tx = core.store.begin_read().await.unwrap();
    let emails = tx
        .emails_to(&EmailAddress::parse("newbie@acme.example").unwrap())
        .await
        .unwrap();
    assert_eq!(emails[0].state, EmailState::Sent);
}

#[tokio::test]
async fn the_sandbox_command_serves_the_provider_sandbox_alone() {
    let db = TestDb::new().await;
    let mut sandbox =
        Running::start(db.apostle(&["sandbox", "--listen", "127.0.0.1:0", "--time-scale", "0.01"]));
    let line = sandbox.line_starting_with("provider sandbox at http://");
    let url = line.rsplit(' ').next().unwrap();
    let page = reqwest::get(url).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(sandbox.terminate().success());
}

async fn a_dead_job_is_listed_with_its_error_and_can_be_queued_again() {
    let db = TestDb::new().await;
    let core = db.core(&[], system_clock()).await;
    let mut tx = core.store.begin().await.unwrap();
    let now = chrono::Utc::now();
    let id = tx
        .enqueue_job(&apostle_core::store::NewJob {
            kind: "retired_kind".to_owned(),
            payload: serde_json::json!({}),
            dedupe_key: None,
            run_at: now,
            max_attempts: 3,
            created_at: now,
        })
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    crate::helpers::runner(&core).run_pending().await.unwrap();

    let listed = output(db.apostle(&["jobs", "list"]));
    assert!(listed.status.success(), "{}", stderr_of(&listed));
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        stdout.starts_with(&format!("{id}\tretired_kind\tattempts 1/3")),
        "{stdout}"
    );
    assert!(
        stdout.contains("no handler for job kind retired_kind"),
        "{stdout}"
    );

    let retried = output(db.apostle(&["jobs", "retry", &id.to_string()]));
    assert!(retried.status.success(), "{}", stderr_of(&retried));
    let pending = core
        .jobs_in_state(apostle_core::store::JobState::Pending, 10)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].attempts, 0);

    let again = output(db.apostle(&["jobs", "retry", &id.to_string()]));
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr_of(&again).contains(&format!("there is no dead job {id}")));
}

#[tokio::test]
async fn postgresql_without_encryption_keys_is_refused_before_connecting() {
    let db = TestDb::new().await;
    let port = free_port();
    let mut serve = db.apostle(&["serve"]);
    serve.env(
        "APOSTLE_DATABASE_URL",
        format!("postgres://apostle@127.0.0.1:{port}/apostle"),
    );
    serve.env_remove("APOSTLE_ENCRYPTION_KEYS");
    let out = output(serve);
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("encryption_keys: is required with PostgreSQL"),
        "{stderr}"
    );
    assert!(stderr.contains("apostle keys generate"), "{stderr}");
}

#[tokio::test]
async fn a_generated_key_entry_is_accepted_as_encryption_keys() {
    let db = TestDb::new().await;
    let out = output(db.apostle(&["keys", "generate", "--id", "2026-11"]));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let entry = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(entry.starts_with("2026-11:"), "{entry}");
    let keyring = apostle_encryption::Keyring::parse(&entry.clone().into()).unwrap();
    assert_eq!(keyring.active_key_id(), "2026-11");
    let migrate = output({
        let mut c = db.apostle(&["migrate"]);
        c.env("APOSTLE_ENCRYPTION_KEYS", &entry);
        c
    });
    assert!(migrate.status.success(), "{}", stderr_of(&migrate));
}

#[tokio::test]
async fn an_sqlite_install_keeps_its_generated_key_beside_the_database() {
    // Always SQLite, whatever backend the other tests run on.
    let dir = std::env::temp_dir().join(format!("apostle-keys-{}", crate::helpers::unique()));
    let settings = apostle::settings::Settings::load_from(
        None,
        std::collections::HashMap::from([
            (
                "APOSTLE_DATABASE_URL".to_owned(),
                format!("sqlite://{}/data/apostle.db", dir.display()),
            ),
            (
                "APOSTLE_MAIL_DIR".to_owned(),
                dir.join("mail").display().to_string(),
            ),
        ]),
    )
    .unwrap();
    let url = settings.public_url_for(settings.listen);
    let first = apostle::startup::build_core(&settings, url.clone(), system_clock())
        .await
        .unwrap();
    let sealed = first.keyring.seal_text("a secret", "place");
    let second = apostle::startup::build_core(&settings, url, system_clock())
        .await
        .unwrap();
    assert_eq!(
        second.keyring.open_text(&sealed, "place").unwrap(),
        "a secret"
    );
    let key_file = dir.join("data").join("encryption.keys");
    assert!(key_file.exists(), "a key file beside the database");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner may read the key file");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_misspelt_key_in_the_configuration_file_stops_apostle_with_exit_code_2_naming_it() {
    let db = TestDb::new().await;
    std::fs::write(
        db.dir.join("apostle.toml"),
        "[providers.x]\nclient_id = \"x-client\"\nclient_secret = \"x-secret\"\nclient_idd = \"typo\"\n",
    )
    .unwrap();
    let stderr = configuration_refusal(db.apostle(&["migrate", "--config", "apostle.toml"]));
    assert!(stderr.contains("providers.x.client_idd"), "{stderr}");
    assert!(!stderr.contains("x-secret"), "{stderr}");
}

#[tokio::test]
async fn an_unknown_apostle_variable_is_named_in_a_warning_and_apostle_carries_on() {
    let db = TestDb::new().await;
    let mut migrate = db.apostle(&["migrate"]);
    migrate
        .env("APOSTLE_JOBS__CONCURENCY", "value-not-logged")
        .env("APOSTLE_PASSWORD", "read by user add")
        .env("APOSTLE_DEMO_PASSWORD", "read by serve --demo");
    let out = output(migrate);
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("APOSTLE_JOBS__CONCURENCY"))
        .unwrap_or_else(|| panic!("no warning naming the variable in:\n{stderr}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(!stderr.contains("value-not-logged"), "{stderr}");
    assert!(!stderr.contains("APOSTLE_PASSWORD"), "{stderr}");
    assert!(!stderr.contains("APOSTLE_DEMO_PASSWORD"), "{stderr}");
}
