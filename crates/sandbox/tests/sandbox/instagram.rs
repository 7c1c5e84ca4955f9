use serde_json::{json, Value};

use crate::helpers::{
    advance, assert_graph_error, body, first_page, graph_get, graph_post, graph_user_token,
    sandbox, INSTAGRAM_SCOPES,
};
use crate::support::Running;

const IG: &str = "instagram";

/// A connected member's long-lived user token and Instagram business account id.
async fn connect(sandbox: &Running, member: &str) -> (String, String) {
    let user = graph_user_token(sandbox, IG, member, INSTAGRAM_SCOPES).await;
    let page = first_page(sandbox, IG, &user, "id,name,instagram_business_account").await;
    let ig_id = page["instagram_business_account"]["id"]
        .as_str()
        .expect("business account")
        .to_owned();
    (user, ig_id)
}

async fn create_container(
    sandbox: &Running,
    token: &str,
    ig_id: &str,
    image_url: &str,
) -> reqwest::Response {
    graph_post(
        sandbox,
        IG,
        &format!("/{ig_id}/media"),
        &[
            ("image_url", image_url),
            ("caption", "Our launch"),
            ("access_token", token),
        ],
    )
    .await
}

async fn container_id(sandbox: &Running, token: &str, ig_id: &str, image_url: &str) -> String {
    let response = create_container(sandbox, token, ig_id, image_url).await;
    assert_eq!(response.status(), 200);
    body(response).await["id"].as_str().unwrap().to_owned()
}

async fn status_code(sandbox: &Running, token: &str, container: &str) -> Value {
    body(
        graph_get(
            sandbox,
            IG,
            &format!("/{container}?fields=status_code"),
            token,
        )
        .await,
    )
    .await["status_code"]
        .clone()
}

async fn media_publish(
    sandbox: &Running,
    token: &str,
    ig_id: &str,
    container: &str,
) -> reqwest::Response {
    graph_post(
        sandbox,
        IG,
        &format!("/{ig_id}/media_publish"),
        &[("creation_id", container), ("access_token", token)],
    )
    .await
}

async fn assert_not_ready(response: reqwest::Response) {
    let error = assert_graph_error(response, 9007, Some(2207027)).await;
    assert_eq!(error["is_transient"], false);
    assert_eq!(error["error_user_title"], "Media not ready for publishing");
}

#[tokio::test]
async fn instagram_business_account_is_found_through_pages() {
    let sandbox = sandbox().await;
    let (user, ig_id) = connect(&sandbox, "fran").await;
    assert!(ig_id.starts_with("17841"), "{ig_id}");
    let account = body(graph_get(&sandbox, IG, &format!("/{ig_id}"), &user).await).await;
    assert_eq!(account["id"], ig_id.as_str());
    assert!(account["username"].is_string());
}

#[tokio::test]
async fn instagram_container_is_not_ready_while_in_progress_then_publishes() {
    let sandbox = sandbox().await;
    let (user, ig_id) = connect(&sandbox, "fran").await;
    let container = container_id(&sandbox, &user, &ig_id, "https://cdn.example/launch.jpg").await;
    assert_eq!(
        status_code(&sandbox, &user, &container).await,
        "IN_PROGRESS"
    );
    assert_not_ready(media_publish(&sandbox, &user, &ig_id, &container).await).await;

    advance(&sandbox, 5.0).await;
    assert_eq!(status_code(&sandbox, &user, &container).await, "FINISHED");
    let response = media_publish(&sandbox, &user, &ig_id, &container).await;
    assert_eq!(response.status(), 200);
    let media_id = body(response).await["id"].as_str().unwrap().to_owned();
    assert_eq!(status_code(&sandbox, &user, &container).await, "PUBLISHED");

    let posts = body(
        sandbox
            .http
            .get(sandbox.url("/sandbox/admin/posts?provider=instagram"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(posts[0]["id"], media_id.as_str());
    assert_eq!(posts[0]["text"], "Our launch");
    assert_eq!(posts[0]["image_url"], "https://cdn.example/launch.jpg");

    let limit = body(
        graph_get(
            &sandbox,
            IG,
            &format!("/{ig_id}/content_publishing_limit"),
            &user,
        )
        .await,
    )
    .await;
    assert_eq!(limit["data"][0]["quota_usage"], 1);
    assert_eq!(
        limit["data"][0]["config"],
        json!({"quota_total": 50, "quota_duration": 86400})
    );
}

#[tokio::test]
async fn instagram_media_not_ready_is_reproducible_even_after_finished() {
    let sandbox = sandbox().await;
    let (user, ig_id) = connect(&sandbox, "fran").await;
    let container = container_id(
        &sandbox,
        &user,
        &ig_id,
        "https://cdn.example/a.jpg?sandbox_not_ready=2",
    )
    .await;
    advance(&sandbox, 5.0).await;
    assert_eq!(status_code(&sandbox, &user, &container).await, "FINISHED");
    assert_not_ready(media_publish(&sandbox, &user, &ig_id, &container).await).await;
    assert_not_ready(media_publish(&sandbox, &user, &ig_id, &container).await).await;
    assert_eq!(
        media_publish(&sandbox, &user, &ig_id, &container)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn instagram_unusable_image_url_is_a_media_error_not_a_break() {
    let sandbox = sandbox().await;
    let (user, ig_id) = connect(&sandbox, "fran").await;
    let error = assert_graph_error(
        create_container(&sandbox, &user, &ig_id, "ftp://nope").await,
        9004,
        Some(2207052),
    )
    .await;
    assert_eq!(error["type"], "IGApiException");
}

#[tokio::test]
async fn instagram_publishing_needs_instagram_content_publish() {
    let sandbox = sandbox().await;
    let user = graph_user_token(&sandbox, IG, "fran", "pages_show_list,instagram_basic").await;
    let page = first_page(&sandbox, IG, &user, "instagram_business_account").await;
    let ig_id = page["instagram_business_account"]["id"].as_str().unwrap();
    assert_graph_error(
        create_container(&sandbox, &user, ig_id, "https://cdn.example/a.jpg").await,
        10,
        None,
    )
    .await;
}

/// Acme's Facebook login with Instagram's scopes, through the Facebook prefix.
async fn acme_through_facebook(sandbox: &Running) -> String {
    graph_user_token(sandbox, "facebook", "acme-facebook", INSTAGRAM_SCOPES).await
}

#[tokio::test]
async fn instagram_account_is_reached_with_the_facebook_login_and_nested_fields() {
    let sandbox = sandbox().await;
    let user = acme_through_facebook(&sandbox).await;
    let bare = first_page(&sandbox, "facebook", &user, "instagram_business_account").await;
    let ig_id = bare["instagram_business_account"]["id"]
        .as_str()
        .expect("Acme's page has Instagram linked")
        .to_owned();
    let page = first_page(
        &sandbox,
        "facebook",
        &user,
        "id,name,access_token,instagram_business_account{id,username}",
    )
    .await;
    assert_eq!(page["name"], "Acme");
    assert!(page["access_token"].is_string());
    assert_eq!(
        page["instagram_business_account"],
        json!({"id": ig_id, "username": "acme"})
    );
    let by_id = body(
        graph_get(
            &sandbox,
            "facebook",
            &format!(
                "/{}?fields=instagram_business_account{{username}}",
                page["id"].as_str().unwrap()
            ),
            &user,
        )
        .await,
    )
    .await;
    assert_eq!(by_id["instagram_business_account"]["username"], "acme");
}

#[tokio::test]
async fn instagram_publishes_through_graph_facebook_and_the_instagram_alias_shares_the_world() {
    let sandbox = sandbox().await;
    let user = acme_through_facebook(&sandbox).await;
    let page = first_page(&sandbox, "facebook", &user, "instagram_business_account").await;
    let ig_id = page["instagram_business_account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = graph_post(
        &sandbox,
        "facebook",
        &format!("/{ig_id}/media"),
        &[
            ("image_url", "https://cdn.example/acme.jpg"),
            ("caption", "Acme on Instagram"),
            ("access_token", &user),
        ],
    )
    .await;
    assert_eq!(created.status(), 200);
    let container = body(created).await["id"].as_str().unwrap().to_owned();
    advance(&sandbox, 5.0).await;
    let status = body(
        graph_get(
            &sandbox,
            "facebook",
            &format!("/{container}?fields=status_code"),
            &user,
        )
        .await,
    )
    .await;
    assert_eq!(status["status_code"], "FINISHED");
    // The same token, through the Instagram prefix: one world.
    assert_eq!(status_code(&sandbox, &user, &container).await, "FINISHED");
    let published = graph_post(
        &sandbox,
        "facebook",
        &format!("/{ig_id}/media_publish"),
        &[("creation_id", &container), ("access_token", &user)],
    )
    .await;
    assert_eq!(published.status(), 200);
    let limit = body(
        graph_get(
            &sandbox,
            "facebook",
            &format!("/{ig_id}/content_publishing_limit"),
            &user,
        )
        .await,
    )
    .await;
    assert_eq!(limit["data"][0]["quota_usage"], 1);
    let posts = body(
        sandbox
            .http
            .get(sandbox.url("/sandbox/admin/posts?provider=instagram"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(posts[0]["text"], "Acme on Instagram");
    assert_eq!(posts[0]["member"], "acme-facebook");
    let facebook_posts = body(
        sandbox
            .http
            .get(sandbox.url("/sandbox/admin/posts?provider=facebook"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        facebook_posts,
        json!([]),
        "Instagram media is not a page post"
    );

    let me_via_alias = graph_get(&sandbox, IG, "/me", &user).await;
    assert_eq!(body(me_via_alias).await["name"], "Acme Admin");
}

#[tokio::test]
async fn instagram_container_ends_in_error_while_the_media_error_fault_lasts() {
    let sandbox = sandbox().await;
    let (user, ig_id) = connect(&sandbox, "fran").await;
    crate::helpers::fault(
        &sandbox,
        json!({"provider": "instagram", "kind": "media-error", "calls": 1}),
    )
    .await;
    let failing = container_id(&sandbox, &user, &ig_id, "https://cdn.example/a.jpg").await;
    let fine = container_id(&sandbox, &user, &ig_id, "https://cdn.example/b.jpg").await;
    assert_eq!(status_code(&sandbox, &user, &failing).await, "IN_PROGRESS");
    advance(&sandbox, 5.0).await;
    assert_eq!(status_code(&sandbox, &user, &failing).await, "ERROR");
    assert_eq!(status_code(&sandbox, &user, &fine).await, "FINISHED");
    assert_ne!(
        media_publish(&sandbox, &user, &ig_id, &failing)
            .await
            .status(),
        200
    );
    assert_eq!(
        media_publish(&sandbox, &user, &ig_id, &fine).await.status(),
        200
    );
}

#[tokio::test]
async fn instagram_answers_media_not_ready_after_finished_while_the_fault_lasts() {
    let sandbox = sandbox().await;
    let (user, ig_id) = connect(&sandbox, "fran").await;
    crate::helpers::fault(
        &sandbox,
        json!({"provider": "instagram", "kind": "media-not-ready", "calls": 2}),
    )
    .await;
    let container = container_id(&sandbox, &user, &ig_id, "https://cdn.example/a.jpg").await;
    advance(&sandbox, 5.0).await;
    assert_eq!(status_code(&sandbox, &user, &container).await, "FINISHED");
    for _ in 0..2 {
        let refused = body(media_publish(&sandbox, &user, &ig_id, &container).await).await;
        assert_eq!(refused["error"]["code"], 9007, "{refused}");
        assert_eq!(refused["error"]["error_subcode"], 2207027, "{refused}");
    }
    assert_eq!(
        media_publish(&sandbox, &user, &ig_id, &container)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn instagram_blocked_member_gets_368_on_publishing() {
    let sandbox = sandbox().await;
    let (user, ig_id) = connect(&sandbox, "fran").await;
    let container = container_id(&sandbox, &user, &ig_id, "https://cdn.example/a.jpg").await;
    advance(&sandbox, 5.0).await;
    crate::helpers::member_action(&sandbox, IG, "fran", "block-posts").await;
    assert_graph_error(
        media_publish(&sandbox, &user, &ig_id, &container).await,
        368,
        None,
    )
    .await;
}
