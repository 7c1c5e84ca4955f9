//! Facebook pages: publishing to a page feed with its page token
//! (`POST /{version}/{page-id}/feed`), reading it back (`GET`), and the deauthorize callback (`signed_request`)
//! sent when a member removes the app. Login, tokens and pages are the shared Graph code
//! in [`crate::graph`].

use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use url::Url;

use crate::clock::{epoch_secs, Millis};
use axum::Json;
use serde_json::Value;

use crate::errors::{GraphError, ProviderError};
use crate::graph::{created, permission_error, post_list, GraphCall, PostFields};
use crate::params::Params;
use crate::state::{Post, Provider};
use crate::tokens::{Access, TokenKind};
use crate::Sandbox;

/// `POST /{page-id}/feed` with `message` and/or `link` → `{"id": "{page}_{post}"}`.
pub(crate) fn publish(
    sandbox: &Sandbox,
    access: &Access,
    page_id: &str,
    params: &Params,
) -> Result<Response, ProviderError> {
    let now = sandbox.clock().now();
    let mut world = sandbox.world();
    let page = world
        .page_by_external_id(Provider::Facebook, page_id)
        .ok_or_else(|| GraphError::unsupported("post", page_id))?;
    if access.kind != TokenKind::Page(page) || !access.has_scope("pages_manage_posts") {
        return Err(permission_error().into());
    }
    if world.member(access.member).posts_blocked {
        return Err(blocked().into());
    }
    let message = params.get("message").unwrap_or_default().to_owned();
    let link = params.nonempty("link").map(str::to_owned);
    if message.is_empty() && link.is_none() {
        return Err(GraphError::new(100, "(#100) Missing message or attachment").into());
    }
    if let Some(link) = &link {
        let valid = Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !valid {
            return Err(
                GraphError::new(100, "(#100) The link you provided is not valid")
                    .subcode(1609005)
                    .into(),
            );
        }
    }
    let duplicate = world
        .posts
        .iter()
        .rev()
        .find(|p| p.page == Some(page))
        .is_some_and(|p| p.text == message && p.link == link);
    if duplicate {
        return Err(GraphError::new(506, "(#506) Duplicate status message").into());
    }
    let id = format!("{page_id}_{}", world.random_digits(16));
    let author = world.page(page).name.clone();
    world.record_post(Post {
        provider: Provider::Facebook,
        id: id.clone(),
        member: access.member,
        page: Some(page),
        author,
        text: message,
        link,
        image_url: None,
        created: now,
    });
    Ok(created(json!({ "id": id })))
}

/// `GET /{page-id}/feed`: the page's posts, newest first, with the page's own token or the
/// token of a member with a role on the page, and `pages_read_engagement`.
pub(crate) fn feed(
    sandbox: &Sandbox,
    call: &GraphCall,
    page_id: &str,
) -> Result<Json<Value>, ProviderError> {
    let world = sandbox.world();
    let page = world
        .page_by_external_id(Provider::Facebook, page_id)
        .ok_or_else(|| GraphError::unsupported("get", page_id))?;
    let access = &call.access;
    let allowed = match access.kind {
        TokenKind::Page(own) => own == page,
        _ => world.page(page).admins.contains(&access.member),
    };
    if !allowed {
        return Err(GraphError::unsupported("get", page_id).into());
    }
    if !access.has_scope("pages_read_engagement") {
        return Err(GraphError::new(
            10,
            "(#10) This endpoint requires the 'pages_read_engagement' permission",
        )
        .into());
    }
    post_list(
        &world,
        &call.params,
        page,
        &PostFields {
            provider: Provider::Facebook,
            default: "id,message,created_time",
            text: "message",
            time: "created_time",
        },
    )
}

/// Meta's answer to a post it refuses as abusive (code 368): the post's problem, not the
/// connection's. The `block-posts` admin action turns it on for a member.
pub(crate) fn blocked() -> GraphError {
    GraphError::new(
        368,
        "(#368) The action attempted has been deemed abusive or is otherwise disallowed",
    )
}

/// `b64url(HMAC-SHA256(payload_b64, secret)) . payload_b64`, as Facebook signs its callbacks.
pub(crate) fn signed_request(secret: &str, user_id: &str, issued_at: i64) -> String {
    let payload = serde_json::json!({
        "algorithm": "HMAC-SHA256",
        "issued_at": issued_at,
        "user_id": user_id,
    });
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(payload.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signature}.{payload}")
}

/// POSTs the deauthorize callback for `user_id` to `url`; the callee's HTTP status, or
/// `None` when it could not be reached.
pub(crate) async fn send_deauthorize(
    sandbox: &Sandbox,
    url: &str,
    user_id: &str,
    now: Millis,
) -> Option<u16> {
    let signed = signed_request(&sandbox.config().client_secret, user_id, epoch_secs(now));
    match sandbox
        .http()
        .post(url)
        .form(&[("signed_request", signed)])
        .send()
        .await
    {
        Ok(response) => Some(response.status().as_u16()),
        Err(error) => {
            tracing::warn!(%error, "sandbox: the Facebook deauthorize callback failed");
            None
        }
    }
}
