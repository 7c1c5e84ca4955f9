//! The demo install behind `apostle serve --demo`: team "Acme" with an admin
//! and an ambassador. Running it again changes nothing but the passwords,
//! so the password printed last is always the one that works.

use crate::error::{CoreError, CoreResult};
use crate::posts::PostInput;
use crate::store::Team;
use crate::Core;
use apostle_domain::Role;
use secrecy::SecretString;

pub const DEMO_TEAM_SLUG: &str = "acme";
pub const DEMO_TEAM_NAME: &str = "Acme";
pub const DEMO_ADMIN: (&str, &str) = ("admin@acme.example", "Ada Admin");
pub const DEMO_AMBASSADOR: (&str, &str) = ("amy@acme.example", "Amy Ambassador");

pub async fn seed(core: &Core, password: &SecretString) -> CoreResult<Team> {
    let team = match core.create_team(DEMO_TEAM_SLUG, DEMO_TEAM_NAME).await {
        Ok(team) => team,
        Err(CoreError::Store(crate::StoreError::Conflict(_))) => {
            let slug = apostle_domain::TeamSlug::parse(DEMO_TEAM_SLUG)?;
            let mut tx = core.store.begin_read().await?;
            tx.team_by_slug(&slug)
                .await?
                .ok_or(CoreError::NotFound("team"))?
        }
        Err(e) => return Err(e),
    };
    for ((email, name), role) in [
        (DEMO_ADMIN, Role::Admin),
        (DEMO_AMBASSADOR, Role::Ambassador),
    ] {
        core.add_user(DEMO_TEAM_SLUG, email, name, role, password.clone())
            .await?;
    }
    suggest_first_post(core).await?;
    Ok(team)
}

/// A first suggestion from the admin to everyone, so the inbox, the email
/// with its one-click links and the admin's post list have something in
/// them. Only on a team without posts: running the demo again adds none.
async fn suggest_first_post(core: &Core) -> CoreResult<()> {
    let admin = {
        let mut tx = core.store.begin_read().await?;
        tx.user_by_email(&apostle_domain::EmailAddress::parse(DEMO_ADMIN.0)?)
            .await?
            .ok_or(CoreError::NotFound("user"))?
    };
    let access = core.team_access(DEMO_TEAM_SLUG, &admin).await?;
    if !core.team_posts(&access, false).await?.is_empty()
        || !core.team_posts(&access, true).await?.is_empty()
    {
        return Ok(());
    }
    core.create_post(
        &access,
        PostInput {
            text: "Acme opens its new workshop this week: come and see how our products are made."
                .to_owned(),
            variants: [(
                "x".to_owned(),
                "Acme opens its new workshop this week. Come and see how our products are made!"
                    .to_owned(),
            )]
            .into(),
            link: Some("https://acme.example/workshop".to_owned()),
            link_title: Some("The new Acme workshop".to_owned()),
            utm: apostle_domain::Utm {
                source: Some("apostle".to_owned()),
                medium: Some("social".to_owned()),
                campaign: Some("workshop".to_owned()),
                ..Default::default()
            },
            providers: vec!["linkedin".to_owned(), "x".to_owned()],
            ..PostInput::default()
        },
    )
    .await?;
    Ok(())
}
