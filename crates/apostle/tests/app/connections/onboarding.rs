//! Onboarding as a browser without JavaScript goes through it: an invitation
//! accepted, the step to connect personal LinkedIn and X, X connected through the
//! sandbox's consent with the same Connect form Personal accounts uses, and skipping.

use super::web::{csrf_of, location, Web};
use super::{acme, Acme, ADMIN, PASSWORD};
use apostle_domain::Role;

const NIA: &str = "nia@acme.example";

/// Ada invites Nia to Acme: the invitation's address.
pub async fn invite_nia(acme: &Acme) -> String {
    let core = &acme.app.core;
    let ada = core
        .verify_credentials(ADMIN, PASSWORD.to_owned().into())
        .await
        .unwrap();
    let access = core.team_access("acme", &ada).await.unwrap();
    let sent = core
        .invite(&access, NIA, "Nia Newcomer", Role::Ambassador)
        .await
        .unwrap();
    let token = sent.link.rsplit('/').next().unwrap();
    acme.app.url(&format!("/invites/{token}"))
}

/// Nia accepts Ada's invitation in a fresh browser: her browser, signed in, where
/// accepting sent it, and the page there.
async fn accept_invite(acme: &Acme) -> (Web<'_>, String, String) {
    let invite = invite_nia(acme).await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let html = http
        .get(&invite)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let accepted = http
        .post(&invite)
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 303);
    let to = location(&accepted);
    let (web, html) = Web::opening(acme, http, &to).await;
    (web, to, html)
}

/// The HTML of the onboarding step's line for `provider`.
fn line<'h>(html: &'h str, provider: &str) -> &'h str {
    let start = html
        .find(&format!("<li id=\"onboarding-{provider}\""))
        .unwrap_or_else(|| panic!("{provider} is on the step"));
    &html[start..start + html[start..].find("</li>").unwrap()]
}

#[tokio::test]
async fn a_new_member_connects_x_from_the_onboarding_step_and_comes_back_to_it_connected() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-nia").await;
    let (nia, landed, html) = accept_invite(&acme).await;
    assert_eq!(landed, "/t/acme/welcome");
    assert!(html.contains("Welcome to Acme!"), "{html}");
    assert!(line(&html, "linkedin").contains("Connect LinkedIn"));
    assert!(line(&html, "x").contains("Connect X"));
    assert!(html.contains("Skip for now"), "{html}");

    let started = nia
        .post(
            "/t/acme/settings/connect",
            &[
                ("provider", "x"),
                ("kind", "personal"),
                ("onboarding", "true"),
            ],
        )
        .await;
    assert_eq!(started.status(), 303);
    let callback = acme.consent(&location(&started), "x-nia", "allow").await;
    let (landed, html) = nia.follow(&callback).await;
    assert!(
        landed.starts_with("/t/acme/welcome?status=connected"),
        "{landed}"
    );
    assert!(html.contains("Success! x-nia is connected"), "{html}");
    assert!(line(&html, "x").contains("Connected as x-nia"), "{html}");
    assert!(line(&html, "linkedin").contains("Connect LinkedIn"));
    assert!(html.contains("Continue to Acme"), "{html}");
    // The account is the one Personal accounts lists and later reconnects.
    let (_, tab) = nia.follow("/t/acme/settings/accounts").await;
    assert!(tab.contains("x-nia"), "{tab}");
}

#[tokio::test]
async fn a_new_member_who_skips_onboarding_reaches_the_team_page_and_can_resume_from_personal_accounts(
) {
    let acme = acme().await;
    let (nia, _, html) = accept_invite(&acme).await;
    assert!(
        html.contains("<a href=\"/t/acme\" id=\"onboarding-skip\">Skip for now</a>"),
        "{html}"
    );

    let (at, _) = nia.follow("/t/acme").await;
    assert_eq!(at, "/t/acme");
    let (_, tab) = nia.follow("/t/acme/settings/accounts").await;
    assert!(
        tab.contains("<a href=\"/t/acme/welcome\" id=\"resume-onboarding\">"),
        "{tab}"
    );
}
