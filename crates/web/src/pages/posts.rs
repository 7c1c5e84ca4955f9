//! A team's posts, for admins: the list (with the bin), one post's page,
//! what can be done to a post from there (to the bin and back, archive,
//! remind the members who have not shared it), the team's delivery window;
//! and the public address of a post's image, which Instagram fetches.

use super::{after_form, page, Chrome, CsrfForm};
use crate::error::PageError;
use crate::session::{Flash, HtmlForm, SignedIn};
use crate::AppState;
use apostle_core::teams::TeamAccess;
use apostle_core::CoreError;
use apostle_domain::{ApprovalState, DeliveryState, DeliveryWindow, PostId, PostStatus, Schedule};
use apostle_providers::Provider;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

pub fn post_path(slug: &str, post: PostId) -> String {
    format!("/t/{slug}/posts/{}", post.0)
}

fn posts_path(slug: &str) -> String {
    format!("/t/{slug}/posts")
}

/// The team as an admin sees it; anyone else is refused (403), not sent
/// back to a page they cannot open either.
pub async fn admin_access(
    state: &AppState,
    me: &SignedIn,
    slug: &str,
) -> Result<TeamAccess, PageError> {
    let access = state.core.team_access(slug, &me.user).await?;
    if !access.is_admin() {
        return Err(CoreError::Forbidden.into());
    }
    Ok(access)
}

/// [`admin_access`] for a form: its CSRF token checked first.
pub async fn admin_form(
    state: &AppState,
    me: &SignedIn,
    slug: &str,
    csrf: &str,
) -> Result<TeamAccess, PageError> {
    me.check_csrf(csrf)?;
    admin_access(state, me, slug).await
}

/// The name people know a provider by (`x` → `X`).
pub fn provider_name(provider: &str) -> &'static str {
    Provider::parse(provider).map_or("Other", Provider::display_name)
}

/// How a status is shown, and the class that colours it.
fn status_of(status: PostStatus) -> (&'static str, &'static str) {
    match status {
        PostStatus::Draft => ("Draft", ""),
        PostStatus::Scheduled => ("Scheduled", "ok"),
        PostStatus::Sent => ("Sent", "ok"),
        PostStatus::Expired => ("Expired", "bad"),
        PostStatus::Archived => ("Archived", ""),
    }
}

fn state_label(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "waiting to go out",
        DeliveryState::Delivered => "in inboxes",
        DeliveryState::Shared => "shared",
        DeliveryState::Rejected => "turned down",
        DeliveryState::Expired => "expired",
    }
}

/// Every delivery state with how many of the post's deliveries are in it.
fn all_counts(counts: &[(DeliveryState, i64)]) -> Vec<(&'static str, i64)> {
    DeliveryState::ALL
        .iter()
        .map(|s| {
            let n = counts.iter().find(|(c, _)| c == s).map_or(0, |(_, n)| *n);
            (state_label(*s), n)
        })
        .collect()
}

/// The first line of a post, short enough for a list.
fn excerpt(text: &str) -> String {
    const MAX: usize = 120;
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > MAX || line.len() < text.trim_end().len() {
        let cut: String = line.chars().take(MAX).collect();
        format!("{}…", cut.trim_end())
    } else {
        line.to_owned()
    }
}

pub struct PostRow {
    pub id: i64,
    pub excerpt: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub created: String,
    /// `3 in inboxes · 1 shared`, the states with any delivery.
    pub counts: String,
    pub is_draft: bool,
    /// Whether members can still be reminded of it.
    pub live: bool,
    pub can_archive: bool,
}

#[derive(Template)]
#[template(path = "posts.html")]
struct PostsPage {
    chrome: Chrome,
    bin: bool,
    posts: Vec<PostRow>,
    window_start: String,
    window_end: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    bin: Option<String>,
}

/// `GET /t/{slug}/posts` (`?bin=1`: the bin).
pub async fn list(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path(slug): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let access = admin_access(&state, &me, &slug).await?;
    let bin = query.bin.is_some_and(|b| b == "1");
    let now = state.core.clock.now();
    let posts = state
        .core
        .team_posts_counted(&access, bin)
        .await?
        .into_iter()
        .map(|(post, counts)| {
            let shown = post.shown_status(now);
            let (status, status_class) = status_of(shown);
            PostRow {
                id: post.id.0,
                excerpt: excerpt(&post.content.text),
                status,
                status_class,
                created: post.created_at.format("%Y-%m-%d").to_string(),
                counts: all_counts(&counts)
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(label, n)| format!("{n} {label}"))
                    .collect::<Vec<_>>()
                    .join(" · "),
                is_draft: post.status == PostStatus::Draft,
                live: post.is_live(now),
                can_archive: post.status != PostStatus::Archived,
            }
        })
        .collect();
    let window = state.core.delivery_window(&access).await?;
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = PostsPage {
        chrome,
        bin,
        posts,
        window_start: DeliveryWindow::clock(window.start_minute),
        window_end: DeliveryWindow::clock(window.end_minute),
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

pub struct PageRow {
    pub name: String,
    pub approval: &'static str,
}

#[derive(Template)]
#[template(path = "post.html")]
struct PostPage {
    chrome: Chrome,
    post: PostRow,
    text: String,
    variants: Vec<(&'static str, String)>,
    link: Option<String>,
    /// The link as members share it, with the UTM parameters applied.
    shared_link: Option<String>,
    link_title: Option<String>,
    image_url: Option<String>,
    providers: Vec<&'static str>,
    /// `None`: the whole team.
    recipients: Option<Vec<String>>,
    pages: Vec<PageRow>,
    counts: Vec<(&'static str, i64)>,
    timing: String,
    expires: String,
    in_bin: bool,
}

fn timing(schedule: &Schedule, window: DeliveryWindow) -> String {
    match schedule {
        Schedule::Now => "Now".to_owned(),
        Schedule::At { date, time } => format!(
            "On {date} at {}, in each member's local time",
            time.format("%H:%M")
        ),
        Schedule::Days { skip_weekends, .. } => {
            let days: Vec<String> = schedule
                .usable_days()
                .iter()
                .map(|d| d.format("%a %Y-%m-%d").to_string())
                .collect();
            format!(
                "At a random moment between {} and {} (each member's local time) on one of: {}{}",
                DeliveryWindow::clock(window.start_minute),
                DeliveryWindow::clock(window.end_minute),
                days.join(", "),
                if *skip_weekends {
                    " (weekends skipped)"
                } else {
                    ""
                }
            )
        }
    }
}

/// `GET /t/{slug}/posts/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path((slug, id)): Path<(String, i64)>,
) -> Result<Response, PageError> {
    let access = admin_access(&state, &me, &slug).await?;
    let detail = state.core.post_detail(&access, PostId(id)).await?;
    let now = state.core.clock.now();
    let post = &detail.post;
    let c = &post.content;
    let (status, status_class) = status_of(detail.status);
    let image_url = state
        .core
        .image_urls(&access, c.image_id.as_slice())
        .await?
        .into_values()
        .next();
    let recipients = if c.recipients_all {
        None
    } else {
        let members = state.core.members(&access).await?;
        Some(
            members
                .into_iter()
                .filter(|m| detail.recipients.contains(&m.user.id))
                .map(|m| m.user.name.to_string())
                .collect(),
        )
    };
    let pages = detail
        .pages
        .iter()
        .map(|p| PageRow {
            name: format!("{} ({})", p.name, provider_name(&p.provider)),
            approval: match detail.approvals.iter().find(|a| a.account_id == p.id) {
                Some(a) => match a.state {
                    ApprovalState::Pending => "waiting for the page owner's approval",
                    ApprovalState::Approved => "approved",
                    ApprovalState::Rejected => "declined by the page owner",
                },
                None => "not asked yet (the post is a draft)",
            },
        })
        .collect();
    let window = state.core.delivery_window(&access).await?;
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = PostPage {
        chrome,
        post: PostRow {
            id: post.id.0,
            excerpt: excerpt(&c.text),
            status,
            status_class,
            created: post.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            counts: String::new(),
            is_draft: post.status == PostStatus::Draft,
            live: post.is_live(now),
            can_archive: post.status != PostStatus::Archived,
        },
        text: c.text.clone(),
        variants: c
            .variants
            .iter()
            .map(|(p, v)| (provider_name(p), v.clone()))
            .collect(),
        shared_link: post.shared_link().map(|l| l.to_string()),
        link: c.link.clone(),
        link_title: c.link_title.clone(),
        image_url,
        providers: c.providers.iter().map(|p| provider_name(p)).collect(),
        recipients,
        pages,
        counts: all_counts(&detail.counts),
        timing: timing(&c.schedule, window),
        expires: c.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        in_bin: post.deleted_at.is_some(),
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

/// What an admin can do to a post from the list or its page.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum PostAction {
    /// To the bin: nothing in it is delivered or shareable.
    Delete,
    Restore,
    Archive,
    /// Remind the members who have it and have not decided.
    Remind,
}

/// `POST /t/{slug}/posts/{id}/{action}`; back to the list.
pub async fn act(
    State(state): State<AppState>,
    me: SignedIn,
    Path((slug, id, action)): Path<(String, i64, PostAction)>,
    HtmlForm(form): HtmlForm<CsrfForm>,
) -> Result<Response, PageError> {
    let access = admin_form(&state, &me, &slug, &form.csrf).await?;
    let post = PostId(id);
    let core = &state.core;
    let result = match action {
        PostAction::Delete => core
            .delete_post(&access, post)
            .await
            .map(|()| "The post is in the bin: it is no longer delivered or shareable.".to_owned()),
        PostAction::Restore => core
            .restore_post(&access, post)
            .await
            .map(|()| "The post is restored from the bin.".to_owned()),
        PostAction::Archive => core
            .archive_post(&access, post)
            .await
            .map(|()| "The post is archived: it is no longer offered.".to_owned()),
        PostAction::Remind => core.remind_unshared(&access, post).await.map(|n| match n {
            0 => "Nobody to remind: everyone who has the post has decided.".to_owned(),
            1 => "Reminded 1 member who has not shared the post yet.".to_owned(),
            n => format!("Reminded {n} members who have not shared the post yet."),
        }),
    };
    let back = match action {
        PostAction::Restore => format!("{}?bin=1", posts_path(&slug)),
        _ => posts_path(&slug),
    };
    after_form(&state, &back, result)
}

#[derive(Deserialize)]
pub struct WindowForm {
    csrf: String,
    start: String,
    end: String,
}

/// `POST /t/{slug}/posts/window`: the team's delivery window.
pub async fn set_window(
    State(state): State<AppState>,
    me: SignedIn,
    Path(slug): Path<String>,
    HtmlForm(form): HtmlForm<WindowForm>,
) -> Result<Response, PageError> {
    let access = admin_form(&state, &me, &slug, &form.csrf).await?;
    let result = async {
        let window = DeliveryWindow::new(
            DeliveryWindow::parse_clock(&form.start)?,
            DeliveryWindow::parse_clock(&form.end)?,
        )?;
        state.core.set_delivery_window(&access, window).await?;
        Ok::<_, CoreError>(format!(
            "Posts spread over days now go out between {} and {}, in each member's local time.",
            DeliveryWindow::clock(window.start_minute),
            DeliveryWindow::clock(window.end_minute)
        ))
    }
    .await;
    after_form(&state, &posts_path(&slug), result)
}

/// `GET /media/{public_id}`: a post's image, public (Instagram fetches it)
/// and never changing under its name, so cached for good.
pub async fn media(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, PageError> {
    let image = state.core.public_image(&public_id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, image.content_type),
            (
                header::CACHE_CONTROL,
                "public, max-age=31536000, immutable".to_owned(),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        image.bytes,
    )
        .into_response())
}
