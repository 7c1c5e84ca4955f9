use crate::helpers::*;
use apostle_domain::Role;
use reqwest::StatusCode;

#[tokio::test]
async fn signing_in_with_the_right_password_lands_on_the_team_page() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let client = app.client();
    let res = client.sign_in("ADA@acme.example ", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/");
    let res = client.get("/").await;
    assert_eq!(location(&res), "/t/acme");
    let (status, html) = client.text("/t/acme").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>ACME</h1>"));
    assert!(html.contains("Personal Settings"));
}

#[tokio::test]
async fn signing_in_returns_to_the_page_that_asked_for_it_but_never_off_site() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let client = app.client();
    let res = client.get("/t/acme/members").await;
    assert_eq!(location(&res), "/login?next=%2Ft%2Facme%2Fmembers");
    let res = client
        .submit(
            "/login?next=%2Ft%2Facme%2Fmembers",
            "/login",
            &[
                ("email", "ada@acme.example"),
                ("password", PASSWORD),
                ("next", "/t/acme/members"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/t/acme/members");

    let other = app.client();
    let res = other
        .submit(
            "/login",
            "/login",
            &[
                ("email", "ada@acme.example"),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/");
}

#[tokio::test]
async fn a_sign_in_link_whose_next_browsers_read_as_another_site_lands_on_the_home_page() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    // The link as an attacker would send it: the page must not carry it on.
    let (_, html) = app.client().text("/login?next=/%09/evil.example").await;
    assert!(html.contains(r#"name="next" value="/""#), "{html}");
    for next in [
        "/\t/evil.example",
        "/\n/evil.example",
        "//evil.example",
        "/\\evil.example",
        "/ /evil.example",
        "https:evil.example",
    ] {
        let res = app
            .client()
            .submit(
                "/login",
                "/login",
                &[
                    ("email", "ada@acme.example"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(location(&res), "/", "{next:?}");
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let wrong = app
        .client()
        .sign_in("ada@acme.example", "not the password")
        .await;
    let unknown = app
        .client()
        .sign_in("nobody@acme.example", "not the password")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let wrong = wrong.text().await.unwrap();
    let unknown = unknown.text().await.unwrap();
    assert!(wrong.contains("The email or password is not correct."));
    assert!(unknown.contains("The email or password is not correct."));
    assert!(!wrong.contains("apostle_session"));
}

#[tokio::test]
async fn sign_in_without_the_form_token_is_refused_and_starts_no_session() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let client = app.client();
    let _ = client.get("/login").await;
    for csrf in [None, Some("forged-token-forged-token-forged-token-00")] {
        let mut fields = vec![("email", "ada@acme.example"), ("password", PASSWORD)];
        if let Some(c) = csrf {
            fields.push(("csrf", c));
        }
        let res = client.post("/login", &fields).await;
        assert!(
            res.status() == StatusCode::FORBIDDEN || res.status() == StatusCode::BAD_REQUEST,
            "got {}",
            res.status()
        );
        assert!(res
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("apostle_session=")));
    }
    assert_eq!(
        location(&client.get("/t/acme").await),
        "/login?next=%2Ft%2Facme"
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_email_out_even_with_the_right_password() {
    let app = spawn_app_with(Options {
        login_attempts: 3,
        ..Options::default()
    })
    .await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let client = app.client();
    for _ in 0..3 {
        assert_eq!(
            client
                .sign_in("ada@acme.example", "guess guess")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = client.sign_in("ada@acme.example", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Too many sign-in attempts"));
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_secure_on_https() {
    for secure in [false, true] {
        let app = spawn_app_with(Options {
            secure_cookies: secure,
            ..Options::default()
        })
        .await;
        app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
        let res = app.client().sign_in("ada@acme.example", PASSWORD).await;
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("apostle_session="))
            .expect("session cookie");
        assert!(cookie.contains("HttpOnly"));
        assert!(cookie.contains("SameSite=Lax"));
        assert_eq!(cookie.contains("Secure"), secure);
    }
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let client = app.signed_in("ada@acme.example").await;
    let res = client.submit("/t/acme", "/logout", &[]).await;
    assert_eq!(location(&res), "/login");
    assert_eq!(
        location(&client.get("/t/acme").await),
        "/login?next=%2Ft%2Facme"
    );
}

#[tokio::test]
async fn a_session_expires_after_its_lifetime() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let client = app.signed_in("ada@acme.example").await;
    assert_eq!(client.get("/t/acme").await.status(), StatusCode::OK);
    app.clock.advance(chrono::Duration::days(31));
    assert_eq!(
        location(&client.get("/t/acme").await),
        "/login?next=%2Ft%2Facme"
    );
}

#[tokio::test]
async fn changing_the_password_signs_out_other_browsers_but_keeps_this_one() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let here = app.signed_in("ada@acme.example").await;
    let elsewhere = app.signed_in("ada@acme.example").await;
    let phone = api_token(&app, "ada@acme.example").await;
    let res = here
        .submit(
            "/t/acme/settings",
            "/t/acme/settings/password",
            &[("current", PASSWORD), ("new", "a brand new password")],
        )
        .await;
    assert_eq!(location(&res), "/t/acme/settings");
    let (_, html) = here.text("/t/acme/settings").await;
    assert!(html.contains("Your password is changed"));
    assert_eq!(
        elsewhere.get("/t/acme").await.status(),
        StatusCode::SEE_OTHER
    );
    let (status, _) = crate::api::get(&app, "/api/v1/me", &phone).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the mobile app is signed out too"
    );
    assert_eq!(
        app.client()
            .sign_in("ada@acme.example", "a brand new password")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn oversized_and_non_utf8_forms_are_refused_with_a_clear_page() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let client = app.signed_in("ada@acme.example").await;
    let (_, html) = client.text("/t/acme/settings").await;
    let csrf = csrf_of(&html);

    let huge = "x".repeat(100 * 1024);
    let res = client
        .post(
            "/t/acme/settings/profile",
            &[("csrf", &csrf), ("name", &huge)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let res = client
        .http
        .post(format!("{}/t/acme/settings/profile", client.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&name=%FF%FE"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("not valid UTF-8"));

    let long_name = "x".repeat(101);
    let res = client
        .post(
            "/t/acme/settings/profile",
            &[("csrf", &csrf), ("name", &long_name)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = client.text("/t/acme/settings").await;
    assert!(html.contains("Name: is longer than 100 characters"));
    assert!(html.contains("value=\"ada\""), "name must be unchanged");
}

fn reset_link(app: &TestApp, to: &str) -> String {
    let mail = app
        .sent()
        .into_iter()
        .rev()
        .find(|m| m.to == to)
        .expect("a reset email");
    assert_eq!(mail.subject, "Reset your Apostle password");
    let line = mail
        .text
        .lines()
        .find(|l| l.contains("/password/reset/"))
        .unwrap();
    line.trim()
        .trim_start_matches(&format!("http://{}", app.addr))
        .to_owned()
}

#[tokio::test]
async fn a_forgotten_password_is_reset_once_by_the_emailed_link() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let elsewhere = app.signed_in("ada@acme.example").await;
    let phone = api_token(&app, "ada@acme.example").await;
    let visitor = app.client();
    let (_, login) = visitor.text("/login").await;
    assert!(login.contains("href=\"/password/forgot\""));
    let res = visitor.ask_password_reset("Ada@acme.example").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("a link to choose a new password is on its way"));
    app.run_jobs().await;
    let link = reset_link(&app, "ada@acme.example");

    let res = visitor
        .submit(
            &link,
            &link,
            &[
                ("password", "a fresh password"),
                ("confirm", "a fresh password"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/");
    let (_, html) = visitor.text("/t/acme").await;
    assert!(html.contains("Your password is changed. You are signed in."));
    assert_eq!(
        elsewhere.get("/t/acme").await.status(),
        StatusCode::SEE_OTHER,
        "other browsers are signed out"
    );
    let (status, _) = crate::api::get(&app, "/api/v1/me", &phone).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the mobile app is signed out too"
    );
    assert_eq!(
        app.client()
            .sign_in("ada@acme.example", PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.client()
            .sign_in("ada@acme.example", "a fresh password")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );

    let (status, html) = app.client().text(&link).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("expired or was already used"));
}

#[tokio::test]
async fn asking_for_a_reset_says_the_same_for_unknown_addresses_and_sends_nothing() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let res = app.client().ask_password_reset("nobody@acme.example").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("If nobody@acme.example has an Apostle account"));
    app.run_jobs().await;
    assert!(app.sent().is_empty());
}

#[tokio::test]
async fn a_reset_link_expires_after_an_hour_and_changes_nothing() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let visitor = app.client();
    visitor.ask_password_reset("ada@acme.example").await;
    app.run_jobs().await;
    let link = reset_link(&app, "ada@acme.example");
    let (_, html) = visitor.text(&link).await;
    let csrf = csrf_of(&html);
    app.clock.advance(chrono::Duration::minutes(61));
    let res = visitor
        .post(
            &link,
            &[
                ("csrf", &csrf),
                ("password", "a fresh password"),
                ("confirm", "a fresh password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(
        app.client()
            .sign_in("ada@acme.example", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn reset_requests_are_limited_so_an_inbox_cannot_be_flooded() {
    let app = spawn_app_with(Options {
        login_attempts: 2,
        ..Options::default()
    })
    .await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let visitor = app.client();
    for _ in 0..2 {
        let res = visitor.ask_password_reset("ada@acme.example").await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = visitor.ask_password_reset("ada@acme.example").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    app.run_jobs().await;
    assert_eq!(app.sent().len(), 2);
}

#[tokio::test]
async fn the_sign_in_page_sends_someone_already_signed_in_on() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let client = app.signed_in("ada@acme.example").await;
    let res = client.get("/login?next=%2Ft%2Facme%2Fsettings").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/settings");
    let (status, html) = app.client().text("/login").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Sign in</h1>"));
}

#[tokio::test]
async fn the_inbox_reads_its_member_from_the_session_and_lists_the_teams_they_are_in() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    app.team("globex", &[("gus@globex.example", Role::Admin)])
        .await;
    let outsider = app.client();
    let res = outsider.get("/t/acme/inbox?before=7").await;
    assert_eq!(
        location(&res),
        "/login?next=%2Ft%2Facme%2Finbox%3Fbefore%3D7"
    );

    let ada = app.client();
    ada.sign_in("ada@acme.example", PASSWORD).await;
    let (status, html) = ada.text("/t/acme/inbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<span class=\"muted\">ACME</span>"), "{html}");
    assert!(!html.contains("id=\"team-menu\""), "one team: no menu");
    let (status, _) = ada.text("/t/globex/inbox").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not her team");
    let (status, _) = ada.text("/t/No%20Such/inbox").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no such team");

    // Once in a second team, the menu offers both.
    app.core
        .add_user(
            "globex",
            "ada@acme.example",
            "ada",
            Role::Ambassador,
            PASSWORD.into(),
        )
        .await
        .unwrap();
    let (status, html) = ada.text("/t/globex/inbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"team-menu\""), "{html}");
    assert!(html.contains("<a href=\"/t/acme\">ACME</a><a href=\"/t/globex\">GLOBEX</a>"));

    // Without a session, even an address that names no team asks for a
    // sign-in first: it tells nothing about which teams exist.
    let res = outsider.get("/t/No%20Such/inbox").await;
    assert_eq!(location(&res), "/login?next=%2Ft%2FNo%2520Such%2Finbox");
    app.clock.advance(chrono::Duration::days(31));
    let res = ada.get("/t/acme/inbox").await;
    assert_eq!(
        location(&res),
        "/login?next=%2Ft%2Facme%2Finbox",
        "the session expired"
    );
}
