//! The headers that make browsers refuse what the pages never do, on every
//! response: pages, error pages, the sandbox's pages and the JSON API.

use crate::helpers::{admin_api_token, admin_of_new_team, spawn_app_with};

#[tokio::test]
async fn pages_error_pages_and_sandbox_pages_carry_the_security_headers() {
    let app = spawn_app_with(&[(
        "APOSTLE_PROVIDERS__LINKEDIN__AUTH_BASE_URL",
        "https://www.linkedin.example/oauth",
    )])
    .await;
    for (path, status) in [
        ("/login", 200),
        ("/invites/no-such-invitation", 404),
        ("/sandbox", 200),
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{path} has no {name}"))
                .to_owned()
        };
        assert!(header("content-type").starts_with("text/html"), "{path}");
        let policy = header("content-security-policy");
        for directive in [
            "default-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self' ",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        // A Connect form posts here and is redirected to the provider's
        // consent page, wherever its authorize URL is.
        let form_action = policy
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("form-action "))
            .unwrap();
        assert!(
            form_action
                .split(' ')
                .any(|source| source == "https://www.linkedin.example"),
            "{path}: {policy}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        // The policy refuses inline style and script: the pages have none.
        let html = response.text().await.unwrap();
        for inline in ["<style", "style=", " onclick="] {
            assert!(!html.contains(inline), "{path} has {inline}");
        }
        assert!(
            html.match_indices("<script")
                .all(|(at, _)| html[at..].starts_with("<script src=\"/")),
            "{path} has an inline script"
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_json_api_signs_the_mobile_app_in_and_answers_under_the_same_headers() {
    let app = spawn_app_with(&[]).await;
    admin_of_new_team(&app.core).await;
    let token = admin_api_token(&app, "Pixel 9").await;
    let me = app
        .http
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.headers()["x-content-type-options"], "nosniff");
    assert!(me.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@acme.example");
    app.stop().await.unwrap();
}
