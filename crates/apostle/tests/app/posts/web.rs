//! The admins' composer and post pages as a browser without JavaScript uses
//! them: plain multipart form posts, redirects not followed, so each test
//! says where every step lands. The same composer in Chromium is in
//! `browser`.

use crate::connections::web::{location, Web};
use crate::connections::{acme, Acme, ADMIN, AMY, BOB, PASSWORD};
use apostle_core::teams::TeamAccess;
use reqwest::multipart::{Form, Part};

/// A real PNG: the app's own icon.
const PNG: &[u8] = include_bytes!("../../../../web/assets/icon-192.png");

/// `who`'s access to Acme, to look at what the services hold.
pub async fn access_of(acme: &Acme, who: &str) -> TeamAccess {
    let core = &acme.app.core;
    let user = core
        .verify_credentials(who, PASSWORD.to_owned().into())
        .await
        .unwrap();
    core.team_access("acme", &user).await.unwrap()
}

/// The composer's form at `path` sent as a browser sends it (multipart,
/// with the session's CSRF token), with an image file when given.
pub async fn compose(
    acme: &Acme,
    web: &Web<'_>,
    path: &str,
    fields: &[(&str, &str)],
    image: Option<(&[u8], &str)>,
) -> reqwest::Response {
    let (http, csrf) = web.session();
    let mut form = Form::new().text("csrf", csrf.to_owned());
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    if let Some((bytes, file_name)) = image {
        form = form.part(
            "image",
            Part::bytes(bytes.to_vec()).file_name(file_name.to_owned()),
        );
    }
    http.post(acme.app.url(path))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// A post for LinkedIn and X to the whole team, at once.
const NOW: &[(&str, &str)] = &[
    ("provider", "linkedin"),
    ("provider", "x"),
    ("recipients", "all"),
    ("timing", "now"),
    ("intent", "schedule"),
];

fn with<'a>(base: &[(&'a str, &'a str)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(more).copied().collect()
}

/// The post a composer submission was saved as: its id, from where it
/// redirects (the post's page).
fn saved(response: &reqwest::Response) -> i64 {
    assert_eq!(response.status(), 303, "the composer saves and redirects");
    let to = location(response);
    let id = to
        .strip_prefix("/t/acme/posts/")
        .unwrap_or_else(|| panic!("redirected to {to}"));
    id.parse().unwrap()
}

async fn text_of(response: reqwest::Response) -> String {
    response.text().await.unwrap()
}

async fn a_post_scheduled_now_in_the_composer_lands_in_every_members_inbox() {
    let acme = acme().await;
    let web = Web::sign_in(&acme, ADMIN).await;
    let (_, composer) = web.follow("/t/acme/posts/new").await;
    assert!(composer.contains("enctype=\"multipart/form-data\""));
    let fields = with(NOW, &[("text", "We are hiring in Lyon!")]);
    let id = saved(&compose(&acme, &web, "/t/acme/posts/new", &fields, None).await);
    let (_, page) = web.follow(&format!("/t/acme/posts/{id}")).await;
    assert!(page.contains("The post is scheduled."), "{page}");
    assert!(page.contains("We are hiring in Lyon!"));

    acme.app.core.dispatch_due_deliveries().await.unwrap();
    for who in [AMY, BOB] {
        let inbox = acme
            .app
            .core
            .inbox(&access_of(&acme, who).await)
            .await
            .unwrap();
        assert_eq!(inbox.len(), 1, "{who} has the post");
        assert_eq!(inbox[0].post.content.text, "We are hiring in Lyon!");
    }
    let (_, list) = web.follow("/t/acme/posts").await;
    assert!(list.contains(&format!("id=\"post-{id}\"")));
    assert!(list.contains("3 in inboxes"), "{list}");
}

async fn a_post_moved_to_the_bin_from_the_list_is_restored_from_the_bin() {
    let acme = acme().await;
    let web = Web::sign_in(&acme, ADMIN).await;
    let fields = with(NOW, &[("text", "Bin me")]);
    let id = saved(&compose(&acme, &web, "/t/acme/posts/new", &fields, None).await);
    let row = format!("id=\"post-{id}\"");

    let deleted = web.post(&format!("/t/acme/posts/{id}/delete"), &[]).await;
    assert_eq!(location(&deleted), "/t/acme/posts");
    let (_, list) = web.follow("/t/acme/posts").await;
    assert!(list.contains("The post is in the bin"), "{list}");
    assert!(!list.contains(&row));
    let (_, bin) = web.follow("/t/acme/posts?bin=1").await;
    assert!(bin.contains(&row) && bin.contains("Restore"), "{bin}");

    let restored = web.post(&format!("/t/acme/posts/{id}/restore"), &[]).await;
    assert_eq!(restored.status(), 303);
    let (_, bin) = web.follow(&location(&restored)).await;
    assert!(bin.contains("The post is restored"), "{bin}");
    assert!(!bin.contains(&row));
    let (_, list) = web.follow("/t/acme/posts").await;
    assert!(list.contains(&row));
}

crate::on_both_backends!(
    a_post_scheduled_now_in_the_composer_lands_in_every_members_inbox,
    a_post_moved_to_the_bin_from_the_list_is_restored_from_the_bin,
);

#[tokio::test]
async fn a_text_too_long_for_x_comes_back_filled_with_the_message_and_counts_and_nothing_is_stored()
{
    let acme = acme().await;
    let web = Web::sign_in(&acme, ADMIN).await;
    let long = "a".repeat(281);
    let fields = with(NOW, &[("text", &long), ("link_title", "Our news")]);
    let response = compose(&acme, &web, "/t/acme/posts/new", &fields, None).await;
    assert_eq!(response.status(), 422);
    let html = text_of(response).await;
    assert!(
        html.contains("longer than X allows (280 characters, a link counts as 23)"),
        "{html}"
    );
    assert!(html.contains(&long), "the text comes back");
    assert!(html.contains("value=\"Our news\""), "the other fields too");
    assert!(
        html.contains("<span class=\"n\">281</span> / 280"),
        "{html}"
    );
    let posts = acme
        .app
        .core
        .team_posts(&access_of(&acme, ADMIN).await, false)
        .await
        .unwrap();
    assert!(posts.is_empty(), "nothing is stored");

    // A shorter X version is all it takes.
    let fields = with(&fields, &[("variant_x", "Short for X")]);
    saved(&compose(&acme, &web, "/t/acme/posts/new", &fields, None).await);
}

#[tokio::test]
async fn a_draft_is_saved_edited_and_then_scheduled() {
    let acme = acme().await;
    let web = Web::sign_in(&acme, ADMIN).await;
    let draft = with(
        NOW,
        &[
            ("text", "First words"),
            ("timing", "days"),
            ("days_start", "2099-03-02"),
            ("days_count", "5"),
            ("skip_weekends", "1"),
            ("intent", "draft"),
        ],
    );
    // The last `intent` and `timing` win, as they would for a pressed button.
    let id = saved(&compose(&acme, &web, "/t/acme/posts/new", &draft, None).await);
    let (_, page) = web.follow(&format!("/t/acme/posts/{id}")).await;
    assert!(page.contains("The draft is saved."), "{page}");
    assert!(page.contains(">Draft<"), "{page}");

    let edit = format!("/t/acme/posts/{id}/edit");
    let (_, form) = web.follow(&edit).await;
    assert!(form.contains("First words"));
    assert!(form.contains("value=\"2099-03-02\""), "the days come back");

    let scheduled = with(NOW, &[("text", "Better words"), ("recipients", "chosen")]);
    let amy = access_of(&acme, AMY).await.user.id.0.to_string();
    let scheduled = with(&scheduled, &[("member", &amy)]);
    assert_eq!(
        saved(&compose(&acme, &web, &edit, &scheduled, None).await),
        id
    );
    let (_, page) = web.follow(&format!("/t/acme/posts/{id}")).await;
    assert!(
        page.contains("Better words") && page.contains(">Scheduled<"),
        "{page}"
    );
    assert!(page.contains("Recipients: Amy Ambassador"), "{page}");

    // Only drafts can be edited.
    let again = web.get(&edit).await;
    assert_eq!(again.status(), 303);
    let (_, page) = web.follow(&location(&again)).await;
    assert!(page.contains("Only a draft can be edited"), "{page}");
}

#[tokio::test]
async fn an_uploaded_png_is_served_publicly_with_its_type_and_a_non_image_or_one_over_5_mb_is_refused(
) {
    let acme = acme().await;
    let web = Web::sign_in(&acme, ADMIN).await;
    let fields = with(NOW, &[("text", "With a picture"), ("intent", "draft")]);
    let refused = compose(
        &acme,
        &web,
        "/t/acme/posts/new",
        &fields,
        Some((b"<svg onload=alert(1)>", "fake.png")),
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(text_of(refused)
        .await
        .contains("Image: must be a JPEG, PNG, GIF or WebP"));

    let mut too_large = PNG.to_vec();
    too_large.resize(5 * 1024 * 1024 + 1, 0);
    let refused = compose(
        &acme,
        &web,
        "/t/acme/posts/new",
        &fields,
        Some((&too_large, "huge.png")),
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(text_of(refused)
        .await
        .contains("Image: is larger than 5 MB"));

    let id = saved(
        &compose(
            &acme,
            &web,
            "/t/acme/posts/new",
            &fields,
            Some((PNG, "icon.png")),
        )
        .await,
    );
    let (_, page) = web.follow(&format!("/t/acme/posts/{id}")).await;
    let public = acme.app.url("/media/");
    let start = page
        .find(&public)
        .expect("the image is shown at its public URL");
    let src = &page[start..start + page[start..].find('"').unwrap()];

    // Instagram fetches it without a session.
    let image = acme.app.http.get(src).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(
        image.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(image.headers()["x-content-type-options"], "nosniff");
    assert_eq!(image.bytes().await.unwrap().as_ref(), PNG);

    let missing = acme
        .app
        .http
        .get(acme.app.url("/media/no-such-image"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_utm_preset_saved_in_the_composer_is_offered_again_and_applied_to_the_shared_link() {
    let acme = acme().await;
    let web = Web::sign_in(&acme, ADMIN).await;
    let utm = [
        ("link", "https://acme.example/jobs"),
        ("utm_source", "apostle"),
        ("utm_medium", "social"),
        ("utm_campaign", "hiring"),
    ];
    let fields = with(
        &utm,
        &[("preset_name", "Hiring"), ("intent", "save_preset")],
    );
    let saved_preset = compose(&acme, &web, "/t/acme/posts/new", &fields, None).await;
    assert_eq!(saved_preset.status(), 200);
    assert!(text_of(saved_preset)
        .await
        .contains("Preset “Hiring” saved for the team."));

    let (_, composer) = web.follow("/t/acme/posts/new").await;
    let marker = "<option value=\"";
    let option = composer
        .split(marker)
        .find(|o| o.contains(">Hiring</option>"))
        .expect("the preset is offered");
    let preset_id = &option[..option.find('"').unwrap()];

    // Without JavaScript, "Use preset" fills the fields from the server.
    let used = compose(
        &acme,
        &web,
        "/t/acme/posts/new",
        &[("preset", preset_id), ("intent", "use_preset")],
        None,
    )
    .await;
    let html = text_of(used).await;
    assert!(html.contains("Preset “Hiring” applied."), "{html}");
    assert!(
        html.contains("name=\"utm_campaign\" value=\"hiring\""),
        "{html}"
    );

    let fields = with(NOW, &utm);
    let fields = with(&fields, &[("text", "Join us")]);
    let id = saved(&compose(&acme, &web, "/t/acme/posts/new", &fields, None).await);
    let (_, page) = web.follow(&format!("/t/acme/posts/{id}")).await;
    let page = page.replace("&#38;", "&");
    assert!(
        page.contains("Shared as <a href=\"https://acme.example/jobs?utm_source=apostle&utm_medium=social&utm_campaign=hiring\""),
        "{page}"
    );
}

#[tokio::test]
async fn remind_from_the_list_says_how_many_were_reminded_and_an_archived_post_offers_no_reminder()
{
    let acme = acme().await;
    let web = Web::sign_in(&acme, ADMIN).await;
    let fields = with(NOW, &[("text", "Please share")]);
    let id = saved(&compose(&acme, &web, "/t/acme/posts/new", &fields, None).await);
    acme.app.core.dispatch_due_deliveries().await.unwrap();
    let reminded = web.post(&format!("/t/acme/posts/{id}/remind"), &[]).await;
    let (_, list) = web.follow(&location(&reminded)).await;
    assert!(
        list.contains("Reminded 3 members who have not shared the post yet."),
        "{list}"
    );

    let archived = web.post(&format!("/t/acme/posts/{id}/archive"), &[]).await;
    let (_, list) = web.follow(&location(&archived)).await;
    assert!(list.contains("The post is archived"), "{list}");
    let row = &list[list.find(&format!("id=\"post-{id}\"")).unwrap()..];
    let row = &row[..row.find("</li>").unwrap()];
    assert!(row.contains(">Archived<"), "{row}");
    assert!(
        !row.contains("Remind"),
        "an archived post is offered to nobody"
    );
}

#[tokio::test]
async fn the_delivery_window_saved_on_the_posts_page_is_the_teams_and_a_backward_one_is_refused() {
    let acme = acme().await;
    let web = Web::sign_in(&acme, ADMIN).await;
    let access = access_of(&acme, ADMIN).await;
    let saved = web
        .post(
            "/t/acme/posts/window",
            &[("start", "10:00"), ("end", "16:30")],
        )
        .await;
    let (_, list) = web.follow(&location(&saved)).await;
    assert!(list.contains("between 10:00 and 16:30"), "{list}");
    assert!(list.contains("value=\"16:30\""));
    let window = acme.app.core.delivery_window(&access).await.unwrap();
    assert_eq!((window.start_minute, window.end_minute), (600, 990));

    let backward = web
        .post(
            "/t/acme/posts/window",
            &[("start", "17:00"), ("end", "09:00")],
        )
        .await;
    let (_, list) = web.follow(&location(&backward)).await;
    assert!(list.contains("must end after it starts"), "{list}");
    let window = acme.app.core.delivery_window(&access).await.unwrap();
    assert_eq!((window.start_minute, window.end_minute), (600, 990));
}

#[tokio::test]
async fn ambassadors_get_no_posts_link_and_are_refused_every_posts_page_and_form() {
    let acme = acme().await;
    let admin = Web::sign_in(&acme, ADMIN).await;
    let (_, team) = admin.follow("/t/acme").await;
    assert!(team.contains("href=\"/t/acme/posts\""));
    let fields = with(NOW, &[("text", "Admins only")]);
    let id = saved(&compose(&acme, &admin, "/t/acme/posts/new", &fields, None).await);

    let amy = Web::sign_in(&acme, AMY).await;
    let (_, team) = amy.follow("/t/acme").await;
    assert!(!team.contains("href=\"/t/acme/posts\""));
    for path in [
        "/t/acme/posts".to_owned(),
        "/t/acme/posts?bin=1".to_owned(),
        "/t/acme/posts/new".to_owned(),
        format!("/t/acme/posts/{id}"),
        format!("/t/acme/posts/{id}/edit"),
    ] {
        assert_eq!(amy.get(&path).await.status(), 403, "GET {path}");
    }
    let composed = compose(&acme, &amy, "/t/acme/posts/new", &fields, None).await;
    assert_eq!(composed.status(), 403);
    for path in [
        format!("/t/acme/posts/{id}/delete"),
        format!("/t/acme/posts/{id}/archive"),
        format!("/t/acme/posts/{id}/remind"),
        "/t/acme/posts/window".to_owned(),
    ] {
        let response = amy
            .post(&path, &[("start", "01:00"), ("end", "02:00")])
            .await;
        assert_eq!(response.status(), 403, "POST {path}");
    }
    let post = acme
        .app
        .core
        .post_detail(&access_of(&acme, ADMIN).await, apostle_domain::PostId(id))
        .await
        .unwrap();
    assert!(post.post.deleted_at.is_none(), "nothing changed");

    // Another team's posts are not there at all.
    assert_eq!(amy.get("/t/globex/posts").await.status(), 404);
}

#[tokio::test]
async fn a_business_page_chosen_in_the_composer_is_listed_on_the_post_with_its_approval() {
    let acme = acme().await;
    acme.sandbox_member("facebook", "fb-ada").await;
    acme.sandbox_page("facebook", "fb-ada", "Acme Coffee").await;
    let page = acme.connect_pages("facebook", "fb-ada").await[0].to_string();
    let web = Web::sign_in(&acme, ADMIN).await;
    let (_, composer) = web.follow("/t/acme/posts/new").await;
    assert!(
        composer.contains(&format!("name=\"page\" value=\"{page}\"")),
        "the team's pages are offered"
    );
    assert!(composer.contains("Acme Coffee (Facebook)"));

    let fields = with(NOW, &[("text", "Fresh beans"), ("page", &page)]);
    let id = saved(&compose(&acme, &web, "/t/acme/posts/new", &fields, None).await);
    let (_, html) = web.follow(&format!("/t/acme/posts/{id}")).await;
    let pages = &html[html.find("id=\"post-pages\"").expect("pages listed")..];
    assert!(pages.contains("Acme Coffee (Facebook)"), "{pages}");
    // Ada connected the page herself, so her own post needs no approval.
    assert!(pages.contains("approved"), "{pages}");
    assert!(html.contains("Networks: LinkedIn, X, Facebook"), "{html}");
}
