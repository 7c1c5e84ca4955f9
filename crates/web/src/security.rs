//! Security headers on every response, set in one layer: the pages load
//! nothing but their own files (no inline script or style), sit in no
//! frame, send forms nowhere but here and to the providers' consent pages,
//! and are never sniffed as another type.

use axum::http::{header, HeaderValue};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

/// `router` with the security headers on every response it gives.
///
/// `form_action_origins` are the other sites a form may lead to, such as
/// `https://www.linkedin.com`: Chromium applies `form-action` to the
/// redirect that answers a form POST too, so a Connect button posting here
/// and redirected to a provider's consent page needs that provider listed.
pub fn with_security_headers(router: Router, form_action_origins: &[String]) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(
                header::CONTENT_SECURITY_POLICY,
                content_security_policy(form_action_origins),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            // The OAuth callback sets a stricter one of its own.
            .layer(SetResponseHeaderLayer::if_not_present(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            ))
            // For browsers that predate `frame-ancestors`.
            .layer(SetResponseHeaderLayer::overriding(
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            )),
    )
}

fn content_security_policy(form_action_origins: &[String]) -> HeaderValue {
    let mut form_action = String::from("'self'");
    // An origin with a space, `;` or `,` would end the directive and start
    // another: such a value is not an origin, so it is left out.
    for origin in form_action_origins.iter().filter(|o| {
        !o.is_empty()
            && o.bytes()
                .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
    }) {
        form_action.push(' ');
        form_action.push_str(origin);
    }
    let policy = format!(
        "default-src 'self'; base-uri 'none'; object-src 'none'; \
         frame-ancestors 'none'; form-action {form_action}"
    );
    HeaderValue::from_str(&policy).expect("the policy is printable ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_action_admits_this_site_and_the_given_origins_only() {
        let policy = content_security_policy(&[
            "https://www.linkedin.com".to_owned(),
            "https://evil.example; script-src *".to_owned(),
        ]);
        let policy = policy.to_str().unwrap();
        assert!(
            policy.ends_with("form-action 'self' https://www.linkedin.com"),
            "{policy}"
        );
        assert!(!policy.contains("evil"), "{policy}");
    }
}
