//! The demo install behind `apostle serve --demo`: team "Acme" with an admin
//! and an ambassador. Running it again changes nothing but the passwords,
//! so the password printed last is always the one that works.

use crate::error::{CoreError, CoreResult};
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
    Ok(team)
}
