//! Configuration from the environment and a TOML file.

use apostle::settings::{LogFormat, MailTransport, Settings};
use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::path::PathBuf;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn file(contents: &str) -> (PathBuf, impl Drop) {
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let path = std::env::temp_dir().join(format!("apostle-{}.toml", crate::helpers::unique()));
    std::fs::write(&path, contents).expect("write config file");
    (path.clone(), Remove(path))
}

#[test]
fn with_no_configuration_apostle_runs_locally_on_sqlite_with_mail_in_files() {
    let s = Settings::load_from(None, env(&[])).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(
        s.public_url_for(s.listen).as_str(),
        "http://127.0.0.1:8080/"
    );
    assert_eq!(
        s.database.describe(),
        "SQLite at sqlite://./apostle-data/apostle.db"
    );
    assert!(
        matches!(&s.mail, MailTransport::Files(dir) if dir == &PathBuf::from("./apostle-data/mail"))
    );
    assert_eq!(s.mail_from.to_string(), "Apostle <apostle@localhost>");
    assert_eq!(s.invite_ttl, chrono::Duration::days(7));
    assert_eq!(s.session_ttl, chrono::Duration::days(30));
    assert_eq!(s.jobs.concurrency, 4);
    assert_eq!(s.log_format, LogFormat::Text);
    assert_eq!(s.sandbox.time_scale, 1.0);
    assert!(
        !s.providers.any_configured(),
        "the sandbox stands in for the providers"
    );
}

#[test]
fn environment_variables_set_top_level_and_nested_keys() {
    let s = Settings::load_from(
        None,
        env(&[
            ("APOSTLE_LISTEN", "0.0.0.0:9000"),
            ("APOSTLE_PUBLIC_URL", "https://apostle.example.com"),
            (
                "APOSTLE_DATABASE_URL",
                "postgres://app:pw@db.internal:6543/apostle",
            ),
            (
                "APOSTLE_SMTP_URL",
                "smtp://mailer:pw@mail.internal:587?tls=required",
            ),
            ("APOSTLE_LOG_FORMAT", "json"),
            ("APOSTLE_PROVIDERS__X__CLIENT_ID", "x-client"),
            ("APOSTLE_PROVIDERS__X__CLIENT_SECRET", "x-secret"),
            (
                "APOSTLE_PROVIDERS__X__API_BASE_URL",
                "http://127.0.0.1:9090/sandbox/x",
            ),
            ("APOSTLE_JOBS__CONCURRENCY", "8"),
            ("APOSTLE_SANDBOX__TIME_SCALE", "0.001"),
            ("APOSTLE_SANDBOX__CLIENT_SECRET", "local-secret"),
            (
                "APOSTLE_SANDBOX__FACEBOOK_DEAUTHORIZE_URL",
                "http://127.0.0.1:9000/oauth/facebook/deauthorize",
            ),
        ]),
    )
    .unwrap();
    assert_eq!(s.sandbox.client_secret.expose_secret(), "local-secret");
    assert_eq!(
        s.sandbox
            .facebook_deauthorize_url
            .as_ref()
            .map(|u| u.as_str()),
        Some("http://127.0.0.1:9000/oauth/facebook/deauthorize")
    );
    assert_eq!(s.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(
        s.public_url_for(s.listen).as_str(),
        "https://apostle.example.com/"
    );
    assert_eq!(
        s.database.describe(),
        "PostgreSQL at db.internal:6543/apostle"
    );
    assert!(
        matches!(&s.mail, MailTransport::Smtp(url) if url.expose_secret().contains("mail.internal"))
    );
    assert_eq!(s.log_format, LogFormat::Json);
    assert_eq!(s.providers.x.client_id.as_deref(), Some("x-client"));
    assert_eq!(
        s.providers
            .x
            .client_secret
            .as_ref()
            .map(|c| c.expose_secret()),
        Some("x-secret")
    );
    assert_eq!(
        s.providers.x.api_base_url.as_ref().map(|u| u.as_str()),
        Some("http://127.0.0.1:9090/sandbox/x")
    );
    assert!(s.providers.any_configured());
    assert_eq!(s.jobs.concurrency, 8);
    assert_eq!(s.sandbox.time_scale, 0.001);
}

#[test]
fn a_toml_file_configures_apostle_and_the_environment_overrides_it() {
    let (path, _cleanup) = file(
        r#"
listen = "127.0.0.1:7000"
database_url = "sqlite://./from-file.db"
mail_from = "Acme Advocacy <advocacy@acme.example>"
invite_ttl_days = 3

[jobs]
concurrency = 2

[providers.linkedin]
client_id = "li-client"
client_secret = "li-secret"
auth_base_url = "https://www.linkedin.com"
"#,
    );
    let from_file = Settings::load_from(Some(&path), env(&[])).unwrap();
    assert_eq!(from_file.listen.to_string(), "127.0.0.1:7000");
    assert_eq!(
        from_file.database.describe(),
        "SQLite at sqlite://./from-file.db"
    );
    assert_eq!(
        from_file.mail_from.to_string(),
        "Acme Advocacy <advocacy@acme.example>"
    );
    assert_eq!(from_file.invite_ttl, chrono::Duration::days(3));
    assert_eq!(from_file.jobs.concurrency, 2);
    assert_eq!(
        from_file.providers.linkedin.client_id.as_deref(),
        Some("li-client")
    );

    let overridden = Settings::load_from(
        Some(&path),
        env(&[
            ("APOSTLE_LISTEN", "127.0.0.1:7001"),
            ("APOSTLE_JOBS__CONCURRENCY", "6"),
            ("APOSTLE_PROVIDERS__LINKEDIN__CLIENT_ID", "li-from-env"),
        ]),
    )
    .unwrap();
    assert_eq!(overridden.listen.to_string(), "127.0.0.1:7001");
    assert_eq!(overridden.jobs.concurrency, 6);
    assert_eq!(
        overridden.providers.linkedin.client_id.as_deref(),
        Some("li-from-env")
    );
    assert_eq!(
        overridden.invite_ttl,
        chrono::Duration::days(3),
        "untouched keys keep the file's value"
    );
}

#[test]
fn a_wrong_value_is_refused_with_one_line_naming_its_key() {
    let cases = [
        ("APOSTLE_LISTEN", "localhost", "listen"),
        ("APOSTLE_PUBLIC_URL", "apostle.example.com", "public_url"),
        (
            "APOSTLE_DATABASE_URL",
            "mysql://root@localhost/apostle",
            "database_url",
        ),
        ("APOSTLE_SMTP_URL", "http://mail.example.com", "smtp_url"),
        ("APOSTLE_MAIL_FROM", "not a mailbox", "mail_from"),
        ("APOSTLE_ENCRYPTION_KEYS", "k1:tooshort", "encryption_keys"),
        ("APOSTLE_LOG_FORMAT", "xml", "log_format"),
        ("APOSTLE_INVITE_TTL_DAYS", "0", "invite_ttl_days"),
        ("APOSTLE_SESSION_TTL_DAYS", "a month", "session_ttl_days"),
        ("APOSTLE_JOBS__CONCURRENCY", "many", "jobs.concurrency"),
        ("APOSTLE_SANDBOX__TIME_SCALE", "fast", "sandbox.time_scale"),
        ("APOSTLE_SANDBOX__TIME_SCALE", "-1", "sandbox.time_scale"),
        (
            "APOSTLE_PROVIDERS__FACEBOOK__CLIENT_ID",
            "fb",
            "providers.facebook.client_secret",
        ),
        (
            "APOSTLE_PROVIDERS__X__AUTH_BASE_URL",
            "x.com",
            "providers.x.auth_base_url",
        ),
    ];
    for (var, value, key) in cases {
        let message = Settings::load_from(None, env(&[(var, value)]))
            .expect_err(&format!("{var}={value} is refused"))
            .to_string();
        assert!(
            message.contains(key),
            "{var}={value}: {message:?} names {key}"
        );
        assert!(
            !message.contains('\n'),
            "{var}={value}: one line, got {message:?}"
        );
    }
}

#[test]
fn secrets_appear_neither_in_debug_output_nor_in_error_messages() {
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes
    let s = Settings::load_from(
        None,
        env(&[
            (
                "APOSTLE_DATABASE_URL",
                "postgres://app:db-password-1@db:5432/apostle",
            ),
            (
                "APOSTLE_SMTP_URL",
                "smtps://mailer:smtp-password-2@mail:465",
            ),
            ("APOSTLE_ENCRYPTION_KEYS", &format!("k1:{key}")),
            ("APOSTLE_PROVIDERS__X__CLIENT_ID", "x-client"),
            ("APOSTLE_PROVIDERS__X__CLIENT_SECRET", "client-secret-3"),
            ("APOSTLE_SANDBOX__CLIENT_SECRET", "sandbox-secret-5"),
        ]),
    )
    .unwrap();
    let debug = format!("{s:?}");
    for secret in [
        "db-password-1",
        "smtp-password-2",
        key,
        "client-secret-3",
        "sandbox-secret-5",
    ] {
        assert!(!debug.contains(secret), "Debug shows {secret}: {debug}");
    }
    assert!(debug.contains("x-client"), "non-secret values stay visible");

    let bad_smtp = Settings::load_from(
        None,
        env(&[("APOSTLE_SMTP_URL", "ftp://u:smtp-password-4@mail")]),
    )
    .unwrap_err()
    .to_string();
    assert!(!bad_smtp.contains("smtp-password-4"), "{bad_smtp}");
    let bad_key = Settings::load_from(
        None,
        env(&[("APOSTLE_ENCRYPTION_KEYS", "k1:c2VjcmV0LWtleS01")]),
    )
    .unwrap_err()
    .to_string();
    assert!(!bad_key.contains("c2VjcmV0LWtleS01"), "{bad_key}");
}

#[test]
fn a_misspelt_key_in_the_file_is_refused_naming_its_full_path() {
    for (contents, key) in [
        (
            "[providers.x]\nclient_id = \"x\"\nclient_secret = \"s\"\nclient_idd = \"x\"\n",
            "providers.x.client_idd",
        ),
        ("listn = \"127.0.0.1:7000\"\n", "listn"),
        ("[job]\nconcurrency = 2\n", "job"),
        ("[jobs]\nconcurency = 2\n", "jobs.concurency"),
        (
            "[providers.mastodon]\nclient_id = \"m\"\n",
            "providers.mastodon",
        ),
        ("[sandbox]\nenable = true\n", "sandbox.enable"),
    ] {
        let (path, _cleanup) = file(contents);
        let message = Settings::load_from(Some(&path), env(&[]))
            .expect_err(&format!("{contents:?} is refused"))
            .to_string();
        assert!(
            message.starts_with(&format!("{key}: ")),
            "{message:?} names {key}"
        );
        assert!(!message.contains('\n'), "one line: {message:?}");
    }
}

#[test]
fn unknown_apostle_variables_are_reported_but_those_read_by_commands_and_tests_are_not() {
    let s = Settings::load_from(
        None,
        env(&[
            ("APOSTLE_JOBS__CONCURENCY", "8"),
            ("APOSTLE_LISTN", "0.0.0.0:9000"),
            ("APOSTLE_PASSWORD", "for user add"),
            ("APOSTLE_DEMO_PASSWORD", "for serve --demo"),
            (
                "APOSTLE_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
        ]),
    )
    .unwrap();
    let mut unknown = s.unknown_environment.clone();
    unknown.sort();
    assert_eq!(unknown, ["APOSTLE_JOBS__CONCURENCY", "APOSTLE_LISTN"]);
    assert_eq!(s.jobs.concurrency, 4, "a misspelt variable changes nothing");
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
}
