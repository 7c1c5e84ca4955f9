//! The feed benchmark's floor: the team's 20 newest posts from one indexed
//! read, as plain HTML, with no session and no page chrome. It answers for
//! any team id, so it is mounted only when the settings ask for it
//! (`WebConfig::baseline_route`), never by default.

use crate::error::PageError;
use crate::AppState;
use apostle_core::store::PostHeadline;
use apostle_domain::TeamId;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new().route("/baseline/teams/{id}/posts", get(newest_posts))
}

#[derive(Template)]
#[template(path = "baseline.html")]
struct NewestPosts {
    posts: Vec<PostHeadline>,
}

async fn newest_posts(
    State(state): State<AppState>,
    Path(team): Path<i64>,
) -> Result<Html<String>, PageError> {
    let posts = state.core.newest_posts(TeamId(team)).await?;
    Ok(Html(NewestPosts { posts }.render()?))
}
