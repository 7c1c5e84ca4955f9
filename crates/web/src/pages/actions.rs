//! The one-click links from emails, and one-click unsubscribe. They work
//! without signing in: the signed token is what protects them, so their
//! POSTs carry no session CSRF token. Mail scanners open every link, so a
//! GET only shows the action and its one button; the button's POST acts.
//! Their responses send no `Referer` onwards, which would carry the token.

use super::inbox::{back_on_text, rejected_text, PostCard, RemindForm};
use super::page;
use crate::error::PageError;
use crate::session::{HtmlForm, SignedIn};
use crate::AppState;
use apostle_core::connections::StartFlow;
use apostle_core::posts::inbox::{LinkDone, LinkView, RemindAt};
use apostle_core::posts::links::{verify_unsubscribe, LinkAction, LinkSubject};
use apostle_core::posts::notify::provider_name;
use apostle_core::store::{AccountKind, FlowPurpose};
use apostle_core::CoreError;
use apostle_providers::Provider;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/actions/{token}", get(open).post(act))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

#[derive(Template)]
#[template(path = "action.html")]
struct ActionPage {
    token: String,
    heading: String,
    card: PostCard,
    button: &'static str,
    reschedule: bool,
    min: String,
    max: String,
}

fn heading(view: &LinkView) -> String {
    match (view.link.action, &view.page) {
        (LinkAction::Approve | LinkAction::Decline, Some(page)) => {
            format!("A post for {page} waits for your approval")
        }
        (LinkAction::Reject, _) => "Turn this post down?".to_owned(),
        (LinkAction::Reschedule, _) => "When should we remind you?".to_owned(),
        _ => "A post suggested to you".to_owned(),
    }
}

pub async fn open(
    State(state): State<AppState>,
    me: Option<SignedIn>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let view = state.core.open_link(&token, me.map(|m| m.user.id)).await?;
    let zone = state.core.time_zone_of(view.link.member).await?;
    let image = state.core.post_image(&view.post).await?;
    let local = |at: chrono::DateTime<chrono::Utc>| {
        at.with_timezone(&zone.tz())
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let html = ActionPage {
        heading: heading(&view),
        button: view.link.action.label(),
        reschedule: view.link.action == LinkAction::Reschedule
            && matches!(view.link.subject, LinkSubject::Delivery(_)),
        min: local(state.core.clock.now()),
        max: local(view.post.content.expires_at),
        card: PostCard::new(&view.post, image, &zone),
        token,
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, false))
}

#[derive(Template)]
#[template(path = "action_done.html")]
struct DonePage<'a> {
    title: &'a str,
    text: &'a str,
    /// Where to go from here, and the link's words.
    next: Option<(&'a str, &'a str)>,
}

fn done_page(state: &AppState, title: &str, text: &str, next: Option<(&str, &str)>) -> Response {
    match (DonePage { title, text, next }).render() {
        Ok(html) => page(StatusCode::OK, html, state, false),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// The button: does what the link says, once.
pub async fn act(
    State(state): State<AppState>,
    me: Option<SignedIn>,
    Path(token): Path<String>,
    HtmlForm(form): HtmlForm<RemindForm>,
) -> Result<Response, PageError> {
    let viewer = me.as_ref().map(|m| m.user.id);
    let view = state.core.open_link(&token, viewer).await?;
    let member = view.link.member;
    let at = if view.link.action == LinkAction::Reschedule {
        let choice = RemindAt::parse(&form.choice, form.at.as_deref())?;
        Some(state.core.remind_moment(member, choice).await?)
    } else {
        None
    };
    let done = state.core.use_link(&token, viewer, at).await?;
    let inbox = format!("/t/{}/inbox", view.team_slug);
    Ok(match done {
        LinkDone::ContinueSharing { path } => Redirect::to(&path).into_response(),
        LinkDone::Shared {
            targets,
            account,
            path,
        } => {
            let text = format!(
                "Shared: your post is on its way to {account} on {}.",
                provider_name(targets.first().map_or("", |t| t.provider.as_str()))
            );
            done_page(&state, "Shared", &text, Some((&path, "See how it went")))
        }
        LinkDone::ConnectFirst {
            provider,
            account,
            path,
        } => match me {
            // The flow is the member's own: it starts in their signed-in browser.
            Some(me) => {
                let url = match account {
                    Some(account) => {
                        state
                            .core
                            .start_reconnect(&me.user, account, &path, FlowPurpose::Share)
                            .await?
                    }
                    None => {
                        let provider = Provider::parse(provider)
                            .map_err(|e| CoreError::Internal(e.to_string()))?;
                        state
                            .core
                            .start_connect(
                                &me.user,
                                StartFlow {
                                    provider,
                                    kind: AccountKind::Personal,
                                    team: None,
                                    redirect_uri: &path,
                                },
                            )
                            .await?
                    }
                };
                Redirect::to(url.as_str()).into_response()
            }
            // Signed in, the member comes back to this link and presses again.
            None => Redirect::to(&format!(
                "/login?next={}",
                urlencoding::encode(&format!("/actions/{token}"))
            ))
            .into_response(),
        },
        LinkDone::Rejected => done_page(
            &state,
            "Done",
            rejected_text(),
            Some((&inbox, "Open Apostle")),
        ),
        LinkDone::Rescheduled(at) => {
            let zone = state.core.time_zone_of(member).await?;
            done_page(
                &state,
                "Done",
                &back_on_text(at, &zone),
                Some((&inbox, "Open Apostle")),
            )
        }
        LinkDone::Approved => {
            let text = format!(
                "Approved. The post will be published on {}.",
                view.page.as_deref().unwrap_or("the page")
            );
            done_page(&state, "Approved", &text, None)
        }
        LinkDone::Declined => {
            let text = format!(
                "Declined. The post will not go to {}.",
                view.page.as_deref().unwrap_or("the page")
            );
            done_page(&state, "Declined", &text, None)
        }
    })
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage<'a> {
    token: &'a str,
    what: &'static str,
}

/// Shows what the link stops, with one button; changes nothing.
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let (_, kind) = verify_unsubscribe(&state.core, &token)?;
    let html = UnsubscribePage {
        token: &token,
        what: kind.label(),
    }
    .render()?;
    Ok(page(StatusCode::OK, html, &state, false))
}

/// RFC 8058: a mail client POSTs `List-Unsubscribe=One-Click`, without
/// cookies; the button on the page above posts the same. The body says
/// nothing more, so it is not read.
pub async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let kind = state.core.unsubscribe(&token).await?;
    let text = format!(
        "You will get no more emails about: {}. You can turn them back on in your notification settings.",
        kind.label().to_lowercase()
    );
    Ok(done_page(
        &state,
        "Unsubscribed",
        &text,
        Some(("/settings/notifications", "Open Apostle")),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::inbox::local_time;
    use super::*;
    use apostle_domain::TimeZoneName;
    use chrono::TimeZone;

    #[test]
    fn a_reminder_is_announced_in_the_members_own_time() {
        let zone = TimeZoneName::parse("Europe/Paris").unwrap();
        let at = chrono::Utc.with_ymd_and_hms(2026, 6, 3, 7, 0, 0).unwrap();
        assert_eq!(
            back_on_text(at, &zone),
            "We will bring it back on Wednesday 3 June 2026 at 09:00 (Europe/Paris)."
        );
        assert!(local_time(at, &zone).contains("09:00"));
    }
}
