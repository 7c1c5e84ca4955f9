use crate::helpers::*;
use apostle_domain::{EmailAddress, Role, TeamSlug};
use reqwest::StatusCode;

fn invite_link(app: &TestApp, to: &str) -> String {
    let mail = app
        .sent()
        .into_iter()
        .rev()
        .find(|m| m.to == to)
        .expect("an invitation email");
    let start = mail.text.find("/invites/").expect("link in the email");
    let end = start + mail.text[start..].find(char::is_whitespace).unwrap();
    mail.text[start..end].to_owned()
}

/// The form action of the first open invitation's `verb` button.
fn invite_action(html: &str, verb: &str) -> String {
    let end = html
        .find(&format!("/{verb}\""))
        .expect("an invitation button")
        + verb.len()
        + 1;
    let start = html[..end].rfind("/t/").unwrap();
    html[start..end].to_owned()
}

async fn member_role(app: &TestApp, team: &str, email: &str) -> Option<Role> {
    let mut tx = app.core.store.begin_read().await.unwrap();
    let team = tx
        .team_by_slug(&TeamSlug::parse(team).unwrap())
        .await
        .unwrap()
        .unwrap();
    let user = tx
        .user_by_email(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap()?;
    tx.member_role(team.id, user.id).await.unwrap()
}

#[tokio::test]
async fn an_invited_person_joins_by_the_emailed_link_once() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let admin = app.signed_in("ada@acme.example").await;
    let res = admin
        .invite("acme", "Amy@Acme.example", "Amy Ambassador", "ambassador")
        .await;
    assert_eq!(location(&res), "/t/acme/members");
    let (_, html) = admin.text("/t/acme/members").await;
    assert!(html.contains("Invitation sent to amy@acme.example."));
    assert!(html.contains("Open invitations"));

    assert!(app.sent().is_empty(), "mail goes out through the job queue");
    assert_eq!(app.run_jobs().await, 1);
    let mail = app.sent().pop().unwrap();
    assert_eq!(mail.subject, "ada invited you to ACME on Apostle");
    assert!(mail.html.contains("Accept the invitation"));
    let link = invite_link(&app, "amy@acme.example");

    let amy = app.client();
    let (status, html) = amy.text(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Join ACME"));
    let res = amy
        .submit(
            &link,
            &link,
            &[
                ("password", "amy's own password"),
                ("confirm", "amy's own password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/welcome");
    let (_, html) = amy.text("/t/acme").await;
    assert!(html.contains("Welcome to ACME!"));
    assert!(html.contains("You are ambassador of this team."));
    assert_eq!(
        member_role(&app, "acme", "amy@acme.example").await,
        Some(Role::Ambassador)
    );

    let again = app.client();
    let (status, html) = again.text(&link).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("already been used"));
}

#[tokio::test]
async fn an_expired_invitation_is_refused_and_creates_no_user() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let admin = app.signed_in("ada@acme.example").await;
    admin
        .invite("acme", "late@acme.example", "Late", "ambassador")
        .await;
    app.run_jobs().await;
    let link = invite_link(&app, "late@acme.example");
    let late = app.client();
    let (_, html) = late.text(&link).await;
    let csrf = csrf_of(&html);
    app.clock.advance(chrono::Duration::days(8));
    let res = late
        .post(
            &link,
            &[
                ("csrf", &csrf),
                ("password", "a fine password"),
                ("confirm", "a fine password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(res.text().await.unwrap().contains("expired"));
    assert_eq!(member_role(&app, "acme", "late@acme.example").await, None);
}

#[tokio::test]
async fn mismatched_passwords_on_an_invitation_change_nothing() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let admin = app.signed_in("ada@acme.example").await;
    admin
        .invite("acme", "amy@acme.example", "Amy", "ambassador")
        .await;
    app.run_jobs().await;
    let link = invite_link(&app, "amy@acme.example");
    let amy = app.client();
    let res = amy
        .submit(
            &link,
            &link,
            &[
                ("password", "first password"),
                ("confirm", "second password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("The two passwords are not the same."));
    let (status, _) = amy.text(&link).await;
    assert_eq!(status, StatusCode::OK, "the invitation is still open");
}

#[tokio::test]
async fn an_existing_user_joins_another_team_with_their_own_password() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    app.team("globex", &[("gus@globex.example", Role::Admin)])
        .await;
    let gus = app.signed_in("gus@globex.example").await;
    gus.invite("globex", "ada@acme.example", "Ada", "admin")
        .await;
    app.run_jobs().await;
    let link = invite_link(&app, "ada@acme.example");
    let ada = app.client();
    let res = ada
        .submit(&link, &link, &[("password", "someone else's guess")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(member_role(&app, "globex", "ada@acme.example").await, None);
    let res = ada.submit(&link, &link, &[("password", PASSWORD)]).await;
    assert_eq!(location(&res), "/t/globex/welcome");
    assert_eq!(
        member_role(&app, "globex", "ada@acme.example").await,
        Some(Role::Admin)
    );
    let (_, html) = ada.text("/t/globex").await;
    assert!(
        html.contains("href=\"/t/acme\""),
        "the team switcher lists both teams"
    );
}

#[tokio::test]
async fn admins_change_roles_and_remove_members_but_never_the_last_admin() {
    let app = spawn_app().await;
    app.team(
        "acme",
        &[
            ("ada@acme.example", Role::Admin),
            ("amy@acme.example", Role::Ambassador),
        ],
    )
    .await;
    let admin = app.signed_in("ada@acme.example").await;
    let ids = {
        let mut tx = app.core.store.begin_read().await.unwrap();
        let ada = tx
            .user_by_email(&EmailAddress::parse("ada@acme.example").unwrap())
            .await
            .unwrap()
            .unwrap();
        let amy = tx
            .user_by_email(&EmailAddress::parse("amy@acme.example").unwrap())
            .await
            .unwrap()
            .unwrap();
        (ada.id.0, amy.id.0)
    };

    let res = admin
        .submit(
            "/t/acme/members",
            &format!("/t/acme/members/{}/role", ids.0),
            &[("role", "ambassador")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = admin.text("/t/acme/members").await;
    assert!(html.contains("A team needs at least one admin"));
    assert_eq!(
        member_role(&app, "acme", "ada@acme.example").await,
        Some(Role::Admin)
    );

    admin
        .submit(
            "/t/acme/members",
            &format!("/t/acme/members/{}/role", ids.1),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(
        member_role(&app, "acme", "amy@acme.example").await,
        Some(Role::Admin)
    );

    admin
        .submit(
            "/t/acme/members",
            &format!("/t/acme/members/{}/remove", ids.1),
            &[],
        )
        .await;
    assert_eq!(member_role(&app, "acme", "amy@acme.example").await, None);
    let (_, html) = admin.text("/t/acme/members").await;
    assert!(html.contains("Member removed."));
}

#[tokio::test]
async fn ambassadors_cannot_manage_members() {
    let app = spawn_app().await;
    app.team(
        "acme",
        &[
            ("ada@acme.example", Role::Admin),
            ("amy@acme.example", Role::Ambassador),
        ],
    )
    .await;
    let amy = app.signed_in("amy@acme.example").await;
    let (status, _) = amy.text("/t/acme/members").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, html) = amy.text("/t/acme").await;
    assert!(
        !html.contains("/t/acme/members\""),
        "no Members link for ambassadors"
    );
    let res = amy
        .submit(
            "/t/acme",
            "/t/acme/members/invite",
            &[
                ("email", "x@acme.example"),
                ("name", "X"),
                ("role", "admin"),
            ],
        )
        .await;
    let (_, html) = amy.text(&location(&res)).await;
    assert!(html.contains("You are not allowed to do that"));
    app.run_jobs().await;
    assert!(app.sent().is_empty());
}

#[tokio::test]
async fn a_member_of_one_team_can_neither_see_nor_change_another_team() {
    let app = spawn_app().await;
    app.team(
        "acme",
        &[
            ("ada@acme.example", Role::Admin),
            ("amy@acme.example", Role::Ambassador),
        ],
    )
    .await;
    app.team("globex", &[("gus@globex.example", Role::Admin)])
        .await;
    let gus = app.signed_in("gus@globex.example").await;
    for page in [
        "/t/acme",
        "/t/acme/members",
        "/t/acme/settings",
        "/t/acme/settings/pages",
    ] {
        let (status, html) = gus.text(page).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
        assert!(!html.contains("amy@acme.example"));
    }
    let amy_id = {
        let mut tx = app.core.store.begin_read().await.unwrap();
        tx.user_by_email(&EmailAddress::parse("amy@acme.example").unwrap())
            .await
            .unwrap()
            .unwrap()
            .id
            .0
    };
    let (_, html) = gus.text("/t/globex").await;
    let csrf = csrf_of(&html);
    let attempts = [
        (
            format!("/t/acme/members/{amy_id}/role"),
            vec![("role", "admin")],
        ),
        (format!("/t/acme/members/{amy_id}/remove"), vec![]),
        (
            "/t/acme/members/invite".to_owned(),
            vec![
                ("email", "spy@globex.example"),
                ("name", "Spy"),
                ("role", "admin"),
            ],
        ),
    ];
    for (action, fields) in attempts {
        let mut fields = fields;
        fields.push(("csrf", &csrf));
        let res = gus.post(&action, &fields).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{action}");
    }
    assert_eq!(
        member_role(&app, "acme", "amy@acme.example").await,
        Some(Role::Ambassador)
    );
    app.run_jobs().await;
    assert!(app.sent().is_empty());
}

#[tokio::test]
async fn forms_of_a_signed_in_user_need_the_session_csrf_token() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let admin = app.signed_in("ada@acme.example").await;
    let res = admin
        .post(
            "/t/acme/members/invite",
            &[
                ("csrf", "not-the-token"),
                ("email", "x@acme.example"),
                ("name", "X"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = admin
        .post(
            "/t/acme/members/invite",
            &[
                ("email", "x@acme.example"),
                ("name", "X"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    app.run_jobs().await;
    assert!(app.sent().is_empty());
}

#[tokio::test]
async fn inviting_an_existing_member_or_a_bad_address_explains_why() {
    let app = spawn_app().await;
    app.team(
        "acme",
        &[
            ("ada@acme.example", Role::Admin),
            ("amy@acme.example", Role::Ambassador),
        ],
    )
    .await;
    let admin = app.signed_in("ada@acme.example").await;
    for (email, expected) in [
        (
            "amy@acme.example",
            "That person is already a member of this team",
        ),
        ("not-an-address", "Email: must contain @"),
    ] {
        admin.invite("acme", email, "Someone", "ambassador").await;
        let (_, html) = admin.text("/t/acme/members").await;
        assert!(html.contains(expected), "{email}: {html}");
    }
    app.run_jobs().await;
    assert!(app.sent().is_empty());
}

#[tokio::test]
async fn a_cancelled_invitation_link_no_longer_works() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let admin = app.signed_in("ada@acme.example").await;
    admin
        .invite("acme", "amy@acme.example", "Amy", "ambassador")
        .await;
    app.run_jobs().await;
    let link = invite_link(&app, "amy@acme.example");
    let (_, html) = admin.text("/t/acme/members").await;
    let action = invite_action(&html, "cancel");
    let res = admin.submit("/t/acme/members", &action, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, _) = app.client().text(&link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn resending_an_invitation_sends_a_fresh_link_and_retires_the_old_one() {
    let app = spawn_app().await;
    app.team("acme", &[("ada@acme.example", Role::Admin)]).await;
    let admin = app.signed_in("ada@acme.example").await;
    admin
        .invite("acme", "amy@acme.example", "Amy", "ambassador")
        .await;
    app.run_jobs().await;
    let first = invite_link(&app, "amy@acme.example");
    app.clock.advance(chrono::Duration::days(6));

    let (_, html) = admin.text("/t/acme/members").await;
    let res = admin
        .submit("/t/acme/members", &invite_action(&html, "resend"), &[])
        .await;
    assert_eq!(location(&res), "/t/acme/members");
    let (_, html) = admin.text("/t/acme/members").await;
    assert!(html.contains("Invitation sent again to amy@acme.example."));
    assert_eq!(
        html.matches("/resend\"").count(),
        1,
        "still one open invitation"
    );
    app.run_jobs().await;
    assert_eq!(app.sent().len(), 2);
    let second = invite_link(&app, "amy@acme.example");
    assert_ne!(first, second);

    let amy = app.client();
    assert_eq!(amy.text(&first).await.0, StatusCode::NOT_FOUND);
    app.clock.advance(chrono::Duration::days(2));
    let res = amy
        .submit(
            &second,
            &second,
            &[
                ("password", "amy's own password"),
                ("confirm", "amy's own password"),
            ],
        )
        .await;
    assert_eq!(
        location(&res),
        "/t/acme/welcome",
        "the fresh link has a fresh expiry"
    );
}
