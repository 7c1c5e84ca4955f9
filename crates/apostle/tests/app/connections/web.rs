//! Connections in the web app, as a browser without JavaScript uses them: Personal
//! Settings' Business Pages and Personal accounts tabs, the reconnect that comes back
//! to the team page, the disconnection email's link and the banner. The same paths in
//! Chromium are in `browser`.

use super::{acme, text_of, Acme, ADMIN, AMY, PASSWORD};
use serde_json::json;

/// A signed-in browser on the web app: cookies kept, redirects not followed, so each
/// test can say where every step lands.
pub struct Web<'a> {
    acme: &'a Acme,
    http: reqwest::Client,
    csrf: String,
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

impl<'a> Web<'a> {
    pub async fn sign_in(acme: &'a Acme, who: &str) -> Web<'a> {
        let http = acme.app.signed_in(who, PASSWORD).await;
        Web::opening(acme, http, "/t/acme").await.0
    }

    /// A browser whose client already holds a session cookie, opening `to` (whose
    /// notice it shows once): the browser and the page's HTML.
    pub async fn opening(acme: &'a Acme, http: reqwest::Client, to: &str) -> (Web<'a>, String) {
        let mut web = Web {
            acme,
            http,
            csrf: String::new(),
        };
        let (_, html) = web.follow(to).await;
        web.csrf = csrf_of(&html);
        (web, html)
    }

    fn absolute(&self, to: &str) -> String {
        if to.starts_with('/') {
            self.acme.app.url(to)
        } else {
            to.to_owned()
        }
    }

    /// Follows redirects to the page they end on: its path and query, and its HTML.
    pub async fn follow(&self, to: &str) -> (String, String) {
        let mut at = self.absolute(to);
        for _ in 0..10 {
            let response = self.http.get(&at).send().await.unwrap();
            if response.status().is_redirection() {
                at = self.absolute(&location(&response));
                continue;
            }
            assert_eq!(response.status(), 200, "{at}");
            let url = response.url().clone();
            let path = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_owned(),
            };
            return (path, response.text().await.unwrap());
        }
        panic!("too many redirects from {to}");
    }

    /// The signed-in client and its CSRF token, for a form this helper does
    /// not send (a multipart one).
    pub fn session(&self) -> (&reqwest::Client, &str) {
        (&self.http, &self.csrf)
    }

    /// A page fetched without following redirects.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.absolute(path)).send().await.unwrap()
    }

    /// A form posted with the session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        self.http
            .post(self.absolute(path))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Reconnect pressed on `id`: the provider's consent URL.
    pub async fn press_reconnect(&self, id: i64) -> String {
        let response = self
            .post(&format!("/t/acme/settings/connections/{id}/reconnect"), &[])
            .await;
        assert_eq!(response.status(), 303);
        location(&response)
    }

    /// Reconnect, the consent answered as `member` (`allow` or `deny`), and back:
    /// where the browser lands and what it shows.
    pub async fn reconnect(&self, id: i64, member: &str, decision: &str) -> (String, String) {
        let authorize = self.press_reconnect(id).await;
        let callback = self.acme.consent(&authorize, member, decision).await;
        self.follow(&callback).await
    }
}

pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// The HTML of the list row of connection `id`.
pub fn row(html: &str, id: i64) -> &str {
    let start = html
        .find(&format!("<li id=\"connection-{id}\""))
        .unwrap_or_else(|| panic!("connection {id} is listed"));
    &html[start..start + html[start..].find("</li>").unwrap()]
}

/// Acme with a Facebook page "Acme Coffee" connected by Ada and broken by a
/// password change at Facebook; its id.
pub async fn broken_page(acme: &Acme) -> i64 {
    acme.sandbox_member("facebook", "fb-ada").await;
    acme.sandbox_page("facebook", "fb-ada", "Acme Coffee").await;
    let id = acme.connect_pages("facebook", "fb-ada").await[0];
    acme.member_action("facebook", "fb-ada", "change-password", json!({}))
        .await;
    assert_eq!(acme.check(ADMIN, id).await["status"], "broken");
    id
}

/// The link in the newest disconnection email to Ada.
pub async fn emailed_link(acme: &Acme) -> String {
    let sent = acme.emails(ADMIN, "connection_broken").await;
    let text = text_of(&acme.app, sent.last().expect("the break is emailed"));
    text.split_whitespace()
        .find(|w| w.contains("/settings/connections/"))
        .expect("a link in the email")
        .to_owned()
}

#[tokio::test]
async fn business_pages_show_each_page_with_who_connected_it_and_why_a_broken_one_broke() {
    let acme = acme().await;
    let broken = broken_page(&acme).await;
    acme.sandbox_member("x", "x-acme").await;
    let healthy = acme.connect_pages("x", "x-acme").await[0];
    let ada = Web::sign_in(&acme, ADMIN).await;

    let (_, html) = ada.follow("/t/acme/settings/pages").await;
    let page = row(&html, broken);
    assert!(
        page.contains("Acme Coffee") && page.contains("Facebook"),
        "{page}"
    );
    assert!(page.contains("connected by Ada"), "{page}");
    assert!(page.contains("Broken since"), "{page}");
    assert!(page.contains("class=\"reconnect\""), "{page}");
    let account = row(&html, healthy);
    assert!(account.contains("Healthy"), "{account}");
    // A healthy page's Reconnect waits in its menu.
    assert!(account.contains("<details"), "{account}");
    for label in [
        "Connect a LinkedIn page",
        "Connect a Facebook page",
        "Connect an Instagram account",
        "Connect an X account",
    ] {
        assert!(html.contains(label), "{label}");
    }

    // Without JavaScript the search asks the server, which hides the rest.
    let (_, found) = ada.follow("/t/acme/settings/pages?q=coffee").await;
    assert!(!row(&found, broken).contains(" hidden"));
    assert!(row(&found, healthy).contains(" hidden"));
    let (_, none) = ada.follow("/t/acme/settings/pages?q=nothing-like-it").await;
    assert!(none.contains("No business page matches your search."));
    assert!(!none.contains("id=\"business-list-empty\" hidden"));
}

#[tokio::test]
async fn a_page_reconnected_from_business_pages_lands_on_the_team_page_with_success() {
    let acme = acme().await;
    let id = broken_page(&acme).await;
    let ada = Web::sign_in(&acme, ADMIN).await;
    let (landed, html) = ada.reconnect(id, "fb-ada", "allow").await;
    assert_eq!(landed, "/t/acme");
    assert!(
        html.contains("Success! Acme Coffee is reconnected and ready for sharing."),
        "{html}"
    );
    assert_eq!(acme.connection(ADMIN, id).await["status"], "active");
    let (_, pages) = ada.follow("/t/acme/settings/pages").await;
    assert!(row(&pages, id).contains("Healthy"));
}

#[tokio::test]
async fn a_declined_wrong_account_or_expired_reconnect_lands_on_business_pages_still_broken() {
    let acme = acme().await;
    let id = broken_page(&acme).await;
    acme.sandbox_member("facebook", "stranger").await;
    let ada = Web::sign_in(&acme, ADMIN).await;

    let (landed, html) = ada.reconnect(id, "fb-ada", "deny").await;
    assert!(
        landed.starts_with("/t/acme/settings/pages?status=declined"),
        "{landed}"
    );
    assert!(
        html.contains("You did not allow Apostle at the provider"),
        "{html}"
    );
    assert!(row(&html, id).contains("Broken since"));

    let (landed, html) = ada.reconnect(id, "stranger", "allow").await;
    assert!(landed.contains("status=wrong_account"), "{landed}");
    assert!(html.contains("class=\"notice error\""), "{html}");
    // The page the flow was about is the one shown.
    assert!(!row(&html, id).contains(" hidden"));
    assert!(row(&html, id).contains("Broken since"));

    let authorize = ada.press_reconnect(id).await;
    let callback = acme.consent(&authorize, "fb-ada", "allow").await;
    acme.sandbox("/clock/advance", json!({"seconds": 660}))
        .await;
    let (landed, html) = ada.follow(&callback).await;
    assert!(landed.contains("status=expired"), "{landed}");
    assert!(html.contains("took too long"), "{html}");
    assert_eq!(acme.connection(ADMIN, id).await["status"], "broken");
}

#[tokio::test]
async fn removing_a_broken_page_first_offers_reconnect_and_says_it_loses_its_history() {
    let acme = acme().await;
    let id = broken_page(&acme).await;
    let ada = Web::sign_in(&acme, ADMIN).await;
    let (_, confirm) = ada
        .follow(&format!("/t/acme/settings/connections/{id}/remove"))
        .await;
    assert!(confirm.contains("Reconnect Acme Coffee"), "{confirm}");
    assert!(confirm.contains("loses its history"), "{confirm}");
    assert!(confirm.contains("Remove Acme Coffee anyway"), "{confirm}");

    let removed = ada
        .post(&format!("/t/acme/settings/connections/{id}/remove"), &[])
        .await;
    assert_eq!(location(&removed), "/t/acme/settings/pages");
    let (_, html) = ada.follow("/t/acme/settings/pages").await;
    assert!(html.contains("Acme Coffee was removed."));
    assert!(!html.contains(&format!("id=\"connection-{id}\"")));
}

#[tokio::test]
async fn a_member_connects_reconnects_and_removes_personal_x_from_personal_accounts() {
    let acme = acme().await;
    acme.sandbox_member("x", "x-amy").await;
    let amy = Web::sign_in(&acme, AMY).await;
    let (_, tab) = amy.follow("/t/acme/settings/accounts").await;
    assert!(tab.contains("Connect LinkedIn") && tab.contains("Connect X"));
    assert!(tab.contains("share dialog") && tab.contains("caption to copy"));
    // An ambassador is not offered the team's pages.
    let (_, pages) = amy.follow("/t/acme/settings/pages").await;
    assert!(!pages.contains("Connect a Facebook page"));

    let started = amy
        .post(
            "/t/acme/settings/connect",
            &[("provider", "x"), ("kind", "personal")],
        )
        .await;
    let callback = acme.consent(&location(&started), "x-amy", "allow").await;
    let (landed, html) = amy.follow(&callback).await;
    assert!(
        landed.starts_with("/t/acme/settings/accounts?status=connected"),
        "{landed}"
    );
    assert!(html.contains("Success! x-amy is connected"), "{html}");
    let id: i64 = landed
        .split("connection_id=")
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();

    acme.member_action("x", "x-amy", "revoke", json!({})).await;
    assert_eq!(acme.check(AMY, id).await["status"], "broken");
    let (landed, html) = amy.reconnect(id, "x-amy", "allow").await;
    assert!(
        landed.starts_with("/t/acme/settings/accounts?status=reconnected"),
        "{landed}"
    );
    assert!(html.contains("Success! x-amy is reconnected"), "{html}");
    assert!(row(&html, id).contains("Healthy"));

    let removed = amy
        .post(&format!("/t/acme/settings/connections/{id}/remove"), &[])
        .await;
    assert_eq!(location(&removed), "/t/acme/settings/accounts");
    assert_eq!(
        acme.api(
            AMY,
            reqwest::Method::GET,
            &format!("/connections/{id}"),
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn the_disconnection_email_opens_business_pages_filtered_to_the_page_after_sign_in() {
    let acme = acme().await;
    let id = broken_page(&acme).await;
    let link = emailed_link(&acme).await;

    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let to_sign_in = browser.get(&link).send().await.unwrap();
    let sign_in = location(&to_sign_in);
    assert!(sign_in.starts_with("/login?next="), "{sign_in}");
    let login_page = browser.get(acme.app.url(&sign_in)).send().await.unwrap();
    let csrf = csrf_of(&login_page.text().await.unwrap());
    let next = format!("/settings/connections/{id}");
    let signed_in = browser
        .post(acme.app.url("/login"))
        .form(&[
            ("email", ADMIN),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", &next),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&signed_in), next);
    let tab = browser.get(acme.app.url(&next)).send().await.unwrap();
    assert_eq!(
        location(&tab),
        format!("/t/acme/settings/pages?q=Acme%20Coffee#connection-{id}")
    );
}

#[tokio::test]
async fn a_broken_connection_puts_a_one_click_reconnect_banner_on_every_page() {
    let acme = acme().await;
    let id = broken_page(&acme).await;
    let ada = Web::sign_in(&acme, ADMIN).await;
    for path in [
        "/t/acme",
        "/t/acme/inbox",
        "/t/acme/settings",
        "/t/acme/members",
    ] {
        let (_, html) = ada.follow(path).await;
        assert!(html.contains(&format!("id=\"broken-{id}\"")), "{path}");
        assert!(html.contains("Reconnect Acme Coffee"), "{path}");
    }
    // Not for an ambassador, whose own accounts are fine.
    let amy = Web::sign_in(&acme, AMY).await;
    for path in ["/t/acme", "/t/acme/inbox"] {
        let (_, html) = amy.follow(path).await;
        assert!(!html.contains("is disconnected"), "{path}");
    }
    // The banner's button is the reconnect itself.
    let (landed, html) = ada.reconnect(id, "fb-ada", "allow").await;
    assert_eq!(landed, "/t/acme");
    assert!(!html.contains(&format!("id=\"broken-{id}\"")));
}

#[tokio::test]
async fn a_page_connected_from_business_pages_is_chosen_then_listed_there() {
    let acme = acme().await;
    acme.sandbox_member("linkedin", "li-ada").await;
    acme.sandbox_page("linkedin", "li-ada", "Acme Labs").await;
    let ada = Web::sign_in(&acme, ADMIN).await;
    let started = ada
        .post(
            "/t/acme/settings/connect",
            &[("provider", "linkedin"), ("kind", "business")],
        )
        .await;
    let callback = acme.consent(&location(&started), "li-ada", "allow").await;
    let (landed, choose) = ada.follow(&callback).await;
    assert!(landed.starts_with("/connections/flows/"), "{landed}");
    assert!(choose.contains("Acme Labs"));
    let page_id = choose
        .split("name=\"page\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let chosen = ada.post(&landed, &[("page", page_id)]).await;
    assert_eq!(location(&chosen), "/t/acme/settings/pages");
    let (_, html) = ada.follow("/t/acme/settings/pages").await;
    assert!(html.contains("Success! Acme Labs connected and ready for sharing."));
    assert!(html.contains("Acme Labs"));
}
