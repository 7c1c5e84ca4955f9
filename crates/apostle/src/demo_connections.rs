//! The demo's connections, made the way a member makes them: Apostle starts the flow,
//! the sandbox's consent is answered as the sandbox member, and the browser's visit to
//! Apostle's own callback finishes it over HTTP. Nothing is written around that path,
//! so a newcomer watches connections that behave exactly like real ones.
//!
//! Acme's admin connects the business pages on all four providers (the sandbox members
//! `acme-linkedin`, `acme-x` and `acme-facebook`, whose page has Acme's Instagram
//! business account linked); Amy connects her personal LinkedIn and X (`amy-linkedin`,
//! `amy-x`). A connection that exists already is left as it is, so a restarted demo
//! keeps its story.

use apostle_core::connections::{ConnectionFilter, StartFlow};
use apostle_core::demo::{DEMO_ADMIN, DEMO_AMBASSADOR, DEMO_TEAM_SLUG};
use apostle_core::store::{AccountKind, User};
use apostle_core::Core;
use apostle_domain::EmailAddress;
use apostle_providers::Provider;

/// What the demo connects: who, where, as which sandbox member.
const PLAN: [(&str, Provider, AccountKind, &str); 6] = [
    (
        DEMO_ADMIN.0,
        Provider::LinkedIn,
        AccountKind::Business,
        "acme-linkedin",
    ),
    (DEMO_ADMIN.0, Provider::X, AccountKind::Business, "acme-x"),
    (
        DEMO_ADMIN.0,
        Provider::Facebook,
        AccountKind::Business,
        "acme-facebook",
    ),
    (
        DEMO_ADMIN.0,
        Provider::Instagram,
        AccountKind::Business,
        "acme-facebook",
    ),
    (
        DEMO_AMBASSADOR.0,
        Provider::LinkedIn,
        AccountKind::Personal,
        "amy-linkedin",
    ),
    (
        DEMO_AMBASSADOR.0,
        Provider::X,
        AccountKind::Personal,
        "amy-x",
    ),
];

/// Connects whatever of the plan is not connected yet; returns how many it connected.
pub async fn connect(core: &Core) -> Result<usize, String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let mut connected = 0;
    for (email, provider, kind, member) in PLAN {
        let user = user(core, email).await?;
        let existing = core
            .list_connections(
                user.id,
                &ConnectionFilter {
                    provider: Some(provider),
                    kind: Some(kind),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        if !existing.is_empty() {
            continue;
        }
        connect_one(core, &http, &user, provider, kind, member).await?;
        connected += 1;
    }
    Ok(connected)
}

async fn user(core: &Core, email: &str) -> Result<User, String> {
    let email = EmailAddress::parse(email).map_err(|e| e.to_string())?;
    let mut tx = core.store.begin_read().await.map_err(|e| e.to_string())?;
    tx.user_by_email(&email)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("the demo user {email} is missing"))
}

async fn connect_one(
    core: &Core,
    http: &reqwest::Client,
    user: &User,
    provider: Provider,
    kind: AccountKind,
    member: &str,
) -> Result<(), String> {
    let what = format!("{provider} {} as {member}", kind.as_str());
    let authorize = core
        .start_connect(
            user,
            StartFlow {
                provider,
                kind,
                team: (kind == AccountKind::Business).then_some(DEMO_TEAM_SLUG),
                redirect_uri: "/connections",
            },
        )
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    // The member's "Allow" on the sandbox's consent page.
    let consent = http
        .post(authorize.as_str())
        .form(&[("member", member), ("decision", "allow")])
        .send()
        .await
        .map_err(|e| format!("{what}: consent: {e}"))?;
    let callback = location(&consent).ok_or_else(|| format!("{what}: no redirect from consent"))?;
    // The browser arrives at Apostle's callback, served by this process.
    let back = http
        .get(&callback)
        .send()
        .await
        .map_err(|e| format!("{what}: callback: {e}"))?;
    let landed = location(&back).ok_or_else(|| format!("{what}: the callback did not redirect"))?;
    if landed.starts_with("/connections/flows/") {
        let flow = landed
            .trim_start_matches("/connections/flows/")
            .parse::<i64>()
            .map_err(|e| format!("{what}: {e}"))?;
        let choice = core
            .flow_pages(user.id, apostle_domain::FlowId(flow))
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let pages: Vec<String> = choice.pages.into_iter().map(|(p, _)| p.id).collect();
        core.choose_pages(user.id, apostle_domain::FlowId(flow), &pages)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
    } else if !landed.contains("status=connected") {
        return Err(format!("{what}: ended at {landed}"));
    }
    Ok(())
}

fn location(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::LOCATION)?
        .to_str()
        .ok()
        .map(str::to_owned)
}

/// Prints how to watch the story of a break, after the demo's sign-in lines.
pub fn print_story(url: &str) {
    println!("  connections: Acme's pages on LinkedIn, X, Facebook and Instagram, and Amy's");
    println!("               LinkedIn and X, connected through the sandbox: {url}/connections");
    println!("  try a break: open {url}/sandbox, press \"Change password\" for acme-facebook,");
    println!("               then \"Check now\" on Acme's Facebook page in {url}/connections:");
    println!("               it breaks, Acme's Instagram (the same Facebook login) is checked");
    println!("               at once and breaks too, the admin gets an email for each");
    println!("               (./apostle-data/mail/), and Reconnect heals them.");
}
