//! The member's inbox: current suggestions, one suggestion with where it can
//! go (and the offer to reconnect a broken personal account), its "Not for
//! me" and "Remind me later", and the archive of what they shared.

use super::settings::{connect_label, connectable};
use super::{after_form, page, team_form, Chrome, Fields};
use crate::error::PageError;
use crate::session::{Flash, HtmlForm, SessionCookie, SignedIn};
use crate::AppState;
use apostle_core::posts::inbox::{Listing, RemindAt, Target};
use apostle_core::posts::notify::provider_name;
use apostle_core::sharing::{provider_post_url, ShareOutcome};
use apostle_core::store::{AccountKind, ConnectionStatus, FlowPurpose, InboxCard, Post};
use apostle_domain::{AccountId, DeliveryId, ImageId, ShareStatus, TimeZoneName};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A moment as the member reads it: in their time zone, named.
pub fn local_time(at: DateTime<Utc>, zone: &TimeZoneName) -> String {
    format!(
        "{} ({zone})",
        at.with_timezone(&zone.tz()).format("%A %-d %B %Y at %H:%M")
    )
}

/// A post as a card shows it.
pub struct PostCard {
    pub text: String,
    pub link: Option<String>,
    pub link_title: Option<String>,
    pub image: Option<String>,
    pub expires: String,
}

impl PostCard {
    pub fn new(post: &Post, image: Option<String>, zone: &TimeZoneName) -> Self {
        PostCard {
            text: post.content.text.clone(),
            link: post.content.link.clone(),
            link_title: post.content.link_title.clone(),
            image,
            expires: local_time(post.content.expires_at, zone),
        }
    }

    /// A card in a list, its image among the list's `urls`.
    pub fn listed(post: &Post, urls: &BTreeMap<ImageId, String>, zone: &TimeZoneName) -> Self {
        let image = post.content.image_id.and_then(|id| urls.get(&id).cloned());
        PostCard::new(post, image, zone)
    }

    /// A card of the inbox or the archive, its image among the page's `urls`.
    fn suggested(card: InboxCard, urls: &BTreeMap<ImageId, String>, zone: &TimeZoneName) -> Self {
        PostCard {
            image: card.image_id.and_then(|id| urls.get(&id).cloned()),
            expires: local_time(card.expires_at, zone),
            text: card.text,
            link: card.link,
            link_title: card.link_title,
        }
    }
}

/// One row of the inbox or the archive.
pub struct InboxRow {
    pub id: i64,
    pub card: PostCard,
    /// When it arrived, or when it was shared.
    pub when: String,
}

pub fn image_ids<'a>(posts: impl Iterator<Item = &'a Post>) -> Vec<ImageId> {
    posts.filter_map(|p| p.content.image_id).collect()
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    chrome: Chrome,
    rows: Vec<InboxRow>,
    archive: bool,
    /// The delivery the "Older" link starts after, when there are older.
    older: Option<i64>,
    /// This is an older page: a link leads back to the newest.
    paged: bool,
}

/// `before`: the delivery the previous page ended with ("Older").
#[derive(Debug, Default, Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    before: Option<i64>,
}

impl InboxPage {
    /// Where this list lives, under the team's path.
    fn list_path(&self) -> &'static str {
        if self.archive {
            "inbox/shared"
        } else {
            "inbox"
        }
    }

    fn respond(self, state: &AppState) -> Result<Response, PageError> {
        let shown = self.chrome.notice.is_some();
        Ok(page(StatusCode::OK, self.render()?, state, shown))
    }
}

/// Current suggestions, a page at a time ("Older" follows `before`).
pub async fn inbox(
    State(state): State<AppState>,
    session: SessionCookie,
    flash: Flash,
    Path(slug): Path<String>,
    Query(query): Query<InboxQuery>,
) -> Result<Response, PageError> {
    let before = query.before.map(DeliveryId);
    list(state, session, flash, &slug, Listing::Current { before }).await
}

/// What the member shared, a page at a time.
pub async fn shared(
    State(state): State<AppState>,
    session: SessionCookie,
    flash: Flash,
    Path(slug): Path<String>,
    Query(query): Query<InboxQuery>,
) -> Result<Response, PageError> {
    let before = query.before.map(DeliveryId);
    list(state, session, flash, &slug, Listing::Shared { before }).await
}

/// The pages every member opens most: the session, the layout and the
/// list are read together, in one transaction.
async fn list(
    state: AppState,
    session: SessionCookie,
    flash: Flash,
    slug: &str,
    listing: Listing,
) -> Result<Response, PageError> {
    let Some(view) = state
        .core
        .inbox_view(&session.cookie, slug, listing)
        .await?
    else {
        return Err(session.expired());
    };
    let (archive, paged) = match listing {
        Listing::Current { before } => (false, before.is_some()),
        Listing::Shared { before } => (true, before.is_some()),
    };
    let frame = view.frame;
    let rows = view
        .page
        .items
        .into_iter()
        .map(|card| InboxRow {
            id: card.delivery.0,
            when: if archive {
                card.decided_at
            } else {
                card.delivered_at
            }
            .map_or_else(String::new, |at| local_time(at, &frame.zone)),
            card: PostCard::suggested(card, &view.images, &frame.zone),
        })
        .collect();
    let me = SignedIn {
        csrf: frame.session.csrf_token,
        user: frame.access.user.clone(),
        cookie: session.cookie,
    };
    InboxPage {
        chrome: Chrome::new(&me, &frame.access, frame.layout, flash),
        rows,
        archive,
        older: view.page.older.map(|d| d.0),
        paged,
    }
    .respond(&state)
}

/// An account the post can go to, as the suggestion lists it.
pub struct TargetRow {
    pub id: i64,
    pub provider: &'static str,
    pub name: String,
    pub business: bool,
    pub broken: bool,
    /// A broken personal account: the member reconnects it here.
    pub reconnect: bool,
}

impl From<&Target> for TargetRow {
    fn from(t: &Target) -> Self {
        let broken = t.status == ConnectionStatus::Broken;
        TargetRow {
            id: t.connection_id.0,
            provider: provider_name(&t.provider),
            name: t.name.clone(),
            business: t.business,
            broken,
            reconnect: broken && !t.business,
        }
    }
}

#[derive(Template)]
#[template(path = "inbox_item.html")]
struct ItemPage {
    chrome: Chrome,
    id: i64,
    /// What the member shared of this post, each account's state.
    shares: Vec<ShareRow>,
    shareable: bool,
    /// Back from the reconnect (or first connect) a share started:
    /// "Reconnected" or "Connected", and nothing was shared yet.
    reconnected: Option<&'static str>,
    /// Facebook's own share dialog for the post's link (no connection kept).
    facebook_share: Option<String>,
    /// Instagram has no web share dialog: the caption to copy.
    instagram_caption: Option<String>,
    card: PostCard,
    targets: Vec<TargetRow>,
    /// Connect buttons (provider, label) for the post's personal providers
    /// the member has no account on yet.
    connect: Vec<(&'static str, &'static str)>,
    open: bool,
    edit: bool,
    /// Earliest and latest moment the date-time field accepts (local).
    min: String,
    max: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ItemQuery {
    #[serde(default)]
    edit: Option<String>,
    /// Set by the reconnect flow a share started, on its way back here.
    #[serde(default)]
    status: Option<String>,
}

/// A share target's state, as the suggestion shows it.
pub struct ShareRow {
    pub name: String,
    pub provider: &'static str,
    pub state: &'static str,
    pub detail: Option<String>,
    /// The post at the provider, once published.
    pub url: Option<String>,
}

pub async fn item(
    State(state): State<AppState>,
    me: SignedIn,
    flash: Flash,
    Path((slug, id)): Path<(String, i64)>,
    Query(query): Query<ItemQuery>,
) -> Result<Response, PageError> {
    let access = state.core.team_access(&slug, &me.user).await?;
    let found = state.core.suggestion(&access, DeliveryId(id)).await?;
    let zone = state.core.time_zone_of(me.user.id).await?;
    let now = state.core.clock.now();
    let connect = connectable(&state, AccountKind::Personal)
        .into_iter()
        .filter(|p| {
            found.post.content.providers.iter().any(|x| x == p.as_str())
                && !found
                    .targets
                    .iter()
                    .any(|t| !t.business && t.provider == p.as_str())
        })
        .map(|p| (p.as_str(), connect_label(p, AccountKind::Personal)))
        .collect();
    let local = |at: DateTime<Utc>| {
        at.with_timezone(&zone.tz())
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let shares = state
        .core
        .shares_of(&access, found.post.id)
        .await?
        .into_iter()
        .map(|t| ShareRow {
            name: found
                .targets
                .iter()
                .find(|x| x.connection_id == t.account_id)
                .map_or_else(|| "An account".to_owned(), |x| x.name.clone()),
            provider: provider_name(&t.provider),
            state: share_state(t.status),
            url: t
                .provider_post_id
                .as_deref()
                .and_then(|id| provider_post_url(&t.provider, id)),
            detail: t.error,
        })
        .collect();
    let chrome = Chrome::load(&state, &me, &access, flash).await?;
    let shown = chrome.notice.is_some();
    let html = ItemPage {
        chrome,
        id,
        shares,
        shareable: found.post.is_live(now)
            && matches!(
                found.delivery.state,
                apostle_domain::DeliveryState::Delivered | apostle_domain::DeliveryState::Shared
            ),
        reconnected: match query.status.as_deref() {
            Some("reconnected") => Some("Reconnected"),
            Some("connected") => Some("Connected"),
            _ => None,
        },
        facebook_share: facebook_share(&found.post),
        instagram_caption: instagram_caption(&found.post),
        open: found.delivery.state == apostle_domain::DeliveryState::Delivered
            && found.post.is_live(now),
        edit: query.edit.is_some_and(|e| e == "1"),
        card: PostCard::new(&found.post, found.image, &zone),
        targets: found.targets.iter().map(TargetRow::from).collect(),
        connect,
        min: local(now),
        max: local(found.post.content.expires_at),
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, shown))
}

#[derive(Deserialize)]
pub struct RejectForm {
    csrf: String,
}

/// "Not for me".
pub async fn reject(
    State(state): State<AppState>,
    me: SignedIn,
    Path((slug, id)): Path<(String, i64)>,
    HtmlForm(form): HtmlForm<RejectForm>,
) -> Result<Response, PageError> {
    let access = team_form(&state, &me, &slug, &form.csrf).await?;
    let result = state
        .core
        .reject_delivery(me.user.id, DeliveryId(id))
        .await
        .map(|()| rejected_text().to_owned());
    after_form(&state, &format!("/t/{}/inbox", access.team.slug), result)
}

pub fn rejected_text() -> &'static str {
    "Done — this post will not be suggested to you again."
}

/// What "Remind me later" sends: `choice` is `tomorrow`, `three_days` or
/// `at` with the member's local `at`.
#[derive(Deserialize)]
pub struct RemindForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub choice: String,
    #[serde(default)]
    pub at: Option<String>,
}

/// "Remind me later": the suggestion comes back at the chosen moment.
pub async fn reschedule(
    State(state): State<AppState>,
    me: SignedIn,
    Path((slug, id)): Path<(String, i64)>,
    HtmlForm(form): HtmlForm<RemindForm>,
) -> Result<Response, PageError> {
    let access = team_form(&state, &me, &slug, &form.csrf).await?;
    let result = async {
        let choice = RemindAt::parse(&form.choice, form.at.as_deref())?;
        let at = state.core.remind_moment(me.user.id, choice).await?;
        let at = state
            .core
            .reschedule_delivery(me.user.id, DeliveryId(id), at)
            .await?;
        let zone = state.core.time_zone_of(me.user.id).await?;
        Ok(back_on_text(at, &zone))
    }
    .await;
    let failed_here = format!("/t/{}/inbox/{id}", access.team.slug);
    let to = if result.is_ok() {
        format!("/t/{}/inbox", access.team.slug)
    } else {
        failed_here
    };
    after_form(&state, &to, result)
}

pub fn back_on_text(at: DateTime<Utc>, zone: &TimeZoneName) -> String {
    format!("We will bring it back on {}.", local_time(at, zone))
}

/// A share target's state in words.
pub(super) fn share_state(status: ShareStatus) -> &'static str {
    match status {
        ShareStatus::Queued => "On its way",
        ShareStatus::Publishing => "Publishing",
        ShareStatus::Published => "Published",
        ShareStatus::Failed => "Not published",
        ShareStatus::WaitingForReconnect => "Waiting for you to reconnect",
        ShareStatus::Unsure => "Check your account",
    }
}

/// "Share": the chosen accounts (`target`, repeated) and the member's
/// `text`. A broken personal account among them sends the member to
/// reconnect first, back to this page, where nothing is shared until they
/// press Share now.
pub async fn share(
    State(state): State<AppState>,
    me: SignedIn,
    Path((slug, id)): Path<(String, i64)>,
    HtmlForm(fields): HtmlForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = Fields(fields);
    let access = team_form(&state, &me, &slug, fields.one("csrf").unwrap_or_default()).await?;
    let back = format!("/t/{}/inbox/{id}", access.team.slug);
    let found = state.core.suggestion(&access, DeliveryId(id)).await?;
    let chosen: Vec<AccountId> = fields
        .ids("target", "Choose where to share.")?
        .into_iter()
        .map(AccountId)
        .collect();
    let outcome = state
        .core
        .share_post(&access, found.post.id, &chosen, fields.one("text"), None)
        .await;
    match outcome {
        Ok(ShareOutcome::ReconnectFirst { account }) => {
            match state
                .core
                .start_reconnect(&me.user, account.id, &back, FlowPurpose::Share)
                .await
            {
                Ok(url) => Ok(Redirect::to(url.as_str()).into_response()),
                Err(e) => after_form(&state, &back, Err(e)),
            }
        }
        Ok(ShareOutcome::Queued(targets)) => after_form(
            &state,
            &back,
            Ok(format!(
                "Shared: {} on {} way.",
                if targets.len() == 1 {
                    "your post is"
                } else {
                    "your posts are"
                },
                if targets.len() == 1 { "its" } else { "their" }
            )),
        ),
        Err(e) => after_form(&state, &back, Err(e)),
    }
}

/// Facebook's share dialog for a post that suits Facebook and has a link.
fn facebook_share(post: &Post) -> Option<String> {
    if !post.content.providers.iter().any(|p| p == "facebook") {
        return None;
    }
    let link = post.shared_link()?;
    Some(format!(
        "https://www.facebook.com/sharer/sharer.php?u={}",
        urlencoding::encode(link.as_str())
    ))
}

/// The caption to copy for a post that suits Instagram: its Instagram text
/// (or its text) and the link, which Instagram shows as plain text.
fn instagram_caption(post: &Post) -> Option<String> {
    if !post.content.providers.iter().any(|p| p == "instagram") {
        return None;
    }
    let text = post
        .content
        .variants
        .get("instagram")
        .unwrap_or(&post.content.text);
    Some(match post.shared_link() {
        Some(link) => format!("{text}\n\n{link}"),
        None => text.clone(),
    })
}
