//! Instagram business accounts (found through pages): media containers
//! (`POST /{ig-user-id}/media`), their status (`GET /{container}?fields=status_code`),
//! `POST /{ig-user-id}/media_publish`, `GET /{ig-user-id}/content_publishing_limit` and
//! the account's published media (`GET /{ig-user-id}/media`).
//!
//! These are Graph endpoints of the Facebook world, used with the Facebook login's tokens
//! (user or page), as on graph.facebook.com.
//!
//! A container is `IN_PROGRESS` for 5 seconds (scaled by `time_scale`), then `FINISHED`;
//! publishing earlier answers "media not ready" (9007 / 2207027). An `image_url` carrying
//! `sandbox_not_ready=N` in its query also answers "not ready" N more times after
//! `FINISHED`, as the real API sometimes does, and so does each publish of a `FINISHED`
//! container while a `media-not-ready` fault lasts. While a `media-error` fault lasts,
//! new containers end in `ERROR` instead.

use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};
use url::Url;

use crate::clock::{Millis, DAY};
use crate::errors::{GraphError, ProviderError};
use crate::facebook;
use crate::faults::FaultKind;
use crate::graph::{created, post_list, GraphCall, PostFields};
use crate::params::Params;
use crate::state::{Container, PageId, Post, Provider, World};
use crate::tokens::{Access, TokenKind, TokenProblem};
use crate::Sandbox;

const PROCESSING_SECS: u64 = 5;
const QUOTA_TOTAL: usize = 50;
const QUOTA_DURATION_SECS: u64 = DAY;
const CONTAINER_TTL_MS: Millis = DAY as Millis * 1000;

/// The page whose Instagram account is `ig_id`, if `access` may act for it.
fn account(world: &World, access: &Access, ig_id: &str) -> Result<PageId, GraphError> {
    let page = world
        .page_by_instagram_id(ig_id)
        .filter(|&p| world.page(p).provider == Provider::Facebook)
        .ok_or_else(|| GraphError::unsupported("post", ig_id))?;
    match access.kind {
        TokenKind::Page(own) if own == page => Ok(page),
        TokenKind::Page(_) => Err(GraphError::unsupported("post", ig_id)),
        _ if world.page(page).admins.contains(&access.member) => Ok(page),
        _ => Err(GraphError::for_token(TokenProblem::PageRoleLost)),
    }
}

fn require_publish_scope(access: &Access) -> Result<(), GraphError> {
    if access.has_scope("instagram_content_publish") {
        Ok(())
    } else {
        Err(missing_permission())
    }
}

fn missing_permission() -> GraphError {
    GraphError::new(
        10,
        "(#10) Application does not have permission for this action",
    )
}

fn not_ready() -> GraphError {
    GraphError::new(9007, "Media ID is not available")
        .subcode(2207027)
        .transient(false)
        .user_message(
            "Media not ready for publishing",
            "The media is not ready for publishing, please wait for a moment",
        )
}

fn status_code(container: &Container, now: Millis) -> &'static str {
    if container.published.is_some() {
        "PUBLISHED"
    } else if now >= container.created + CONTAINER_TTL_MS {
        "EXPIRED"
    } else if now < container.ready {
        "IN_PROGRESS"
    } else if container.fails {
        "ERROR"
    } else {
        "FINISHED"
    }
}

pub(crate) fn create_container(
    sandbox: &Sandbox,
    access: &Access,
    ig_id: &str,
    params: &Params,
) -> Result<Response, ProviderError> {
    require_publish_scope(access)?;
    let clock = sandbox.clock();
    let now = clock.now();
    let mut world = sandbox.world();
    let page = account(&world, access, ig_id)?;
    let image_url = params
        .nonempty("image_url")
        .ok_or_else(|| GraphError::new(100, "(#100) The parameter image_url is required"))?;
    let parsed = Url::parse(image_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            GraphError::new(
                9004,
                "Media download has failed. The media URI doesn't meet our requirements.",
            )
            .subcode(2207052)
            .instagram()
        })?;
    let not_ready_publishes = parsed
        .query_pairs()
        .find(|(k, _)| k == "sandbox_not_ready")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let fails = world.take_fault(Provider::Facebook, FaultKind::MediaError, now);
    let id = world.random_digits(17);
    world.containers.insert(
        id.clone(),
        Container {
            page,
            member: access.member,
            image_url: image_url.to_owned(),
            caption: params.get("caption").unwrap_or_default().to_owned(),
            created: now,
            ready: now + clock.lifetime(PROCESSING_SECS),
            not_ready_publishes,
            fails,
            published: None,
        },
    );
    Ok(created(json!({ "id": id })))
}

/// `GET /{id}` for Instagram objects: accounts and containers.
pub(crate) fn describe(world: &World, id: &str, now: Millis) -> Option<Value> {
    if let Some(page) = world.page_by_instagram_id(id) {
        let record = world.page(page);
        let username = record.instagram.as_ref().map(|ig| ig.username.as_str());
        return Some(json!({"id": id, "username": username, "name": record.name}));
    }
    let container = world.containers.get(id)?;
    let status = status_code(container, now);
    Some(json!({"id": id, "status_code": status, "status": status}))
}

fn published_within_quota(world: &World, page: PageId, now: Millis) -> usize {
    let window = QUOTA_DURATION_SECS as Millis * 1000;
    world
        .posts
        .iter()
        .filter(|p| p.page == Some(page) && p.created > now - window)
        .count()
}

pub(crate) fn publish(
    sandbox: &Sandbox,
    access: &Access,
    ig_id: &str,
    params: &Params,
) -> Result<Response, ProviderError> {
    require_publish_scope(access)?;
    let now = sandbox.clock().now();
    let mut world = sandbox.world();
    let page = account(&world, access, ig_id)?;
    let creation_id = params
        .nonempty("creation_id")
        .ok_or_else(|| GraphError::new(100, "(#100) The parameter creation_id is required"))?;
    if world.member(access.member).posts_blocked {
        return Err(facebook::blocked().into());
    }
    if published_within_quota(&world, page, now) >= QUOTA_TOTAL {
        return Err(GraphError::new(9, "Application request limit reached")
            .subcode(2207042)
            .instagram()
            .user_message(
                "Maximum posts reached",
                "You have reached the maximum number of posts allowed in 24 hours.",
            )
            .into());
    }
    let finished = world
        .containers
        .get(creation_id)
        .filter(|c| c.page == page)
        .is_some_and(|c| status_code(c, now) == "FINISHED");
    if finished && world.take_fault(Provider::Facebook, FaultKind::MediaNotReady, now) {
        return Err(not_ready().into());
    }
    let container = world
        .containers
        .get_mut(creation_id)
        .filter(|c| c.page == page)
        .ok_or_else(|| GraphError::unsupported("post", creation_id))?;
    match status_code(container, now) {
        "IN_PROGRESS" => return Err(not_ready().into()),
        "FINISHED" if container.not_ready_publishes > 0 => {
            container.not_ready_publishes -= 1;
            return Err(not_ready().into());
        }
        "FINISHED" => {}
        status => {
            return Err(GraphError::new(
                100,
                format!("(#100) The media container is {status} and cannot be published"),
            )
            .into())
        }
    }
    let caption = container.caption.clone();
    let image_url = container.image_url.clone();
    let member = container.member;
    let id = world.random_digits(17);
    if let Some(container) = world.containers.get_mut(creation_id) {
        container.published = Some(id.clone());
    }
    world.record_post(Post {
        provider: Provider::Instagram,
        id: id.clone(),
        member,
        page: Some(page),
        author: ig_id.to_owned(),
        text: caption,
        link: None,
        image_url: Some(image_url),
        created: now,
    });
    Ok(created(json!({ "id": id })))
}

/// `GET /{ig-user-id}/media`: the account's published media, newest first (needs
/// `instagram_basic`).
pub(crate) fn media(
    sandbox: &Sandbox,
    call: &GraphCall,
    ig_id: &str,
) -> Result<Json<Value>, ProviderError> {
    if !call.access.has_scope("instagram_basic") {
        return Err(missing_permission().into());
    }
    let world = sandbox.world();
    let page = account(&world, &call.access, ig_id)?;
    post_list(
        &world,
        &call.params,
        page,
        &PostFields {
            provider: Provider::Instagram,
            default: "id,caption,timestamp",
            text: "caption",
            time: "timestamp",
        },
    )
}

pub(crate) fn publishing_limit(
    sandbox: &Sandbox,
    access: &Access,
    ig_id: &str,
) -> Result<Json<Value>, ProviderError> {
    let now = sandbox.clock().now();
    let world = sandbox.world();
    let page = account(&world, access, ig_id)?;
    let usage = published_within_quota(&world, page, now);
    Ok(Json(json!({"data": [{
        "quota_usage": usage,
        "config": {"quota_total": QUOTA_TOTAL, "quota_duration": QUOTA_DURATION_SECS},
    }]})))
}
