//! End to end against the sandbox crate on loopback: authorize → consent → code exchange →
//! identity → refresh → publish per provider, then an injected fault classified as the
//! break it is.

use apostle_providers::{
    Adapter, Author, BreakReason, Classification, Confirm, Facebook, Instagram, LinkedIn, PostAs,
    PostContent, Provider, ProviderConfig, ScopeSet, TokenSet, X,
};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::helpers::{admin, class, config_at, consent, http, redirect, sandbox, SECRET};

fn post(text: &str) -> PostContent {
    PostContent {
        text: text.to_owned(),
        link: Some("https://acme.example/news".parse().unwrap()),
        link_title: Some("News".to_owned()),
        image_url: None,
    }
}

fn broken(reason: BreakReason, confirm: Confirm) -> Classification {
    Classification::Broken { reason, confirm }
}

fn linkedin(base: &str) -> LinkedIn {
    LinkedIn::new(
        http(),
        config_at(
            Provider::LinkedIn,
            &format!("{base}/sandbox/linkedin"),
            SECRET,
        ),
    )
}

#[tokio::test]
async fn linkedin_member_connects_refreshes_posts_and_a_revoke_is_confirmed_by_probe() {
    let base = sandbox().await;
    let adapter = linkedin(&base);
    let authorization = adapter.authorize(&redirect(), ScopeSet::Personal);
    let code = consent(&authorization, "amy-linkedin").await;
    let tokens = adapter.exchange_code(&code, &redirect()).await.unwrap();
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 5184);
    let me = adapter.identity(&tokens.access_token).await.unwrap();
    let refreshed = adapter
        .refresh(tokens.refresh_token.as_ref().unwrap())
        .await
        .unwrap();
    adapter.probe(&refreshed.access_token).await.unwrap();
    let author = Author::Person(me.id.clone());
    let published = adapter
        .publish(
            &refreshed.access_token,
            &author,
            &post("Hello from Apostle"),
        )
        .await
        .unwrap();
    assert!(
        published.id.starts_with("urn:li:share:"),
        "{}",
        published.id
    );

    admin(&base, "/members/linkedin/amy-linkedin/revoke", json!({})).await;
    assert_eq!(
        class(
            adapter
                .publish(&refreshed.access_token, &author, &post("Again"))
                .await
        ),
        broken(BreakReason::TokenRevoked, Confirm::Probe)
    );
    assert_eq!(
        class(adapter.probe(&refreshed.access_token).await),
        broken(BreakReason::TokenRevoked, Confirm::No)
    );
}

#[tokio::test]
async fn linkedin_spurious_65601_is_not_confirmed_by_the_probe() {
    let base = sandbox().await;
    let adapter = linkedin(&base);
    let code = consent(&adapter.authorize(&redirect(), ScopeSet::Personal), "sam").await;
    let tokens = adapter.exchange_code(&code, &redirect()).await.unwrap();
    let me = adapter.identity(&tokens.access_token).await.unwrap();
    admin(
        &base,
        "/faults",
        json!({"provider": "linkedin", "kind": "spurious-revoked"}),
    )
    .await;
    let author = Author::Person(me.id);
    assert_eq!(
        class(
            adapter
                .publish(&tokens.access_token, &author, &post("First"))
                .await
        ),
        broken(BreakReason::TokenRevoked, Confirm::Probe)
    );
    adapter.probe(&tokens.access_token).await.unwrap();
    adapter
        .publish(&tokens.access_token, &author, &post("Second"))
        .await
        .unwrap();
}

#[tokio::test]
async fn linkedin_admin_lists_organizations_posts_as_one_and_loses_its_role() {
    let base = sandbox().await;
    let adapter = linkedin(&base);
    let code = consent(
        &adapter.authorize(&redirect(), ScopeSet::Pages),
        "acme-linkedin",
    )
    .await;
    let tokens = adapter.exchange_code(&code, &redirect()).await.unwrap();
    let organizations = adapter.organizations(&tokens.access_token).await.unwrap();
    assert_eq!(organizations.len(), 1);
    assert_eq!(organizations[0].name, "Acme");
    let author = Author::Organization(organizations[0].id.clone());
    adapter
        .publish(&tokens.access_token, &author, &post("From the page"))
        .await
        .unwrap();
    admin(
        &base,
        "/members/linkedin/acme-linkedin/lose-page-role",
        json!({"page_id": organizations[0].id}),
    )
    .await;
    assert_eq!(
        class(
            adapter
                .publish(&tokens.access_token, &author, &post("Lost"))
                .await
        ),
        broken(BreakReason::PageAccessLost, Confirm::No)
    );
}

/// X's authorize → consent as `member` → code exchange with the PKCE verifier.
async fn connect_x(base: &str, member: &str) -> (X, TokenSet) {
    let adapter = X::new(
        http(),
        config_at(Provider::X, &format!("{base}/sandbox/x"), SECRET),
    );
    let authorization = adapter.authorize(&redirect(), ScopeSet::Personal);
    let code = consent(&authorization, member).await;
    let verifier = authorization.pkce_verifier.as_ref().unwrap();
    let tokens = adapter
        .exchange_code(&code, &redirect(), verifier)
        .await
        .unwrap();
    (adapter, tokens)
}

#[tokio::test]
async fn x_member_connects_with_pkce_refresh_rotates_and_the_old_refresh_token_is_dead() {
    let base = sandbox().await;
    let (adapter, tokens) = connect_x(&base, "amy-x").await;
    let me = adapter.identity(&tokens.access_token).await.unwrap();
    assert_eq!(me.username.as_deref(), Some("amy-x"));
    let first = tokens.refresh_token.unwrap();
    let refreshed = adapter.refresh(&first).await.unwrap();
    let second = refreshed.refresh_token.clone().unwrap();
    assert_ne!(first.expose_secret(), second.expose_secret());
    adapter.probe(&refreshed.access_token).await.unwrap();
    adapter
        .publish(&refreshed.access_token, &post("Hello X"))
        .await
        .unwrap();
    assert_eq!(
        class(adapter.refresh(&first).await),
        broken(BreakReason::RefreshFailed, Confirm::No)
    );

    admin(&base, "/members/x/amy-x/change-password", json!({})).await;
    assert_eq!(
        class(
            adapter
                .publish(&refreshed.access_token, &post("After the password change"))
                .await
        ),
        broken(BreakReason::TokenExpired, Confirm::Refresh)
    );
    assert_eq!(
        class(adapter.refresh(&second).await),
        broken(BreakReason::RefreshFailed, Confirm::No)
    );
}

#[tokio::test]
async fn facebook_admin_connects_lists_pages_posts_and_a_password_change_breaks() {
    let base = sandbox().await;
    let adapter = Facebook::new(
        http(),
        config_at(
            Provider::Facebook,
            &format!("{base}/sandbox/facebook"),
            SECRET,
        ),
    );
    let login = adapter.login();
    let code = consent(
        &login.authorize(&redirect(), ScopeSet::Pages),
        "acme-facebook",
    )
    .await;
    let tokens = login.exchange_code(&code, &redirect()).await.unwrap();
    assert_eq!(tokens.expires_in.unwrap().as_secs(), 5184);
    login.identity(&tokens.access_token).await.unwrap();
    login.probe(&tokens.access_token).await.unwrap();
    let pages = adapter.pages(&tokens.access_token).await.unwrap();
    assert_eq!(pages.len(), 1);
    let page_token = pages[0].access_token.clone().unwrap();
    let published = adapter
        .publish(&pages[0].id, &page_token, &post("Open day"))
        .await
        .unwrap();
    assert!(published.id.starts_with(&format!("{}_", pages[0].id)));
    assert_eq!(
        class(
            adapter
                .publish(&pages[0].id, &page_token, &post("Open day"))
                .await
        ),
        Classification::PostRejected
    );

    admin(
        &base,
        "/members/facebook/acme-facebook/change-password",
        json!({}),
    )
    .await;
    assert_eq!(
        class(
            adapter
                .publish(&pages[0].id, &page_token, &post("After"))
                .await
        ),
        broken(BreakReason::PasswordChanged, Confirm::No)
    );
    assert_eq!(
        class(login.probe(&tokens.access_token).await),
        broken(BreakReason::PasswordChanged, Confirm::No)
    );
}

#[tokio::test]
async fn instagram_admin_connects_through_facebook_login_publishes_and_app_removal_breaks() {
    let base = sandbox().await;
    let facebook = config_at(Provider::Facebook, "https://graph.facebook.com", SECRET);
    let endpoints = config_at(
        Provider::Instagram,
        &format!("{base}/sandbox/instagram"),
        "unused",
    )
    .endpoints;
    let adapter = Instagram::new(http(), ProviderConfig::instagram(&facebook, endpoints))
        .with_polling(std::time::Duration::from_millis(20), 50);
    let login = adapter.login();
    let code = consent(
        &login.authorize(&redirect(), ScopeSet::Pages),
        "acme-facebook",
    )
    .await;
    let tokens = login.exchange_code(&code, &redirect()).await.unwrap();
    let accounts = adapter.accounts(&tokens.access_token).await.unwrap();
    assert_eq!(accounts.len(), 1);
    let image = PostContent {
        text: "Our cat".to_owned(),
        image_url: Some(
            "https://acme.example/cat.jpg?sandbox_not_ready=1"
                .parse()
                .unwrap(),
        ),
        ..PostContent::default()
    };
    adapter
        .publish(&accounts[0].id, &tokens.access_token, &image)
        .await
        .unwrap();
    let limit = adapter
        .publishing_limit(&accounts[0].id, &tokens.access_token)
        .await
        .unwrap();
    assert_eq!((limit.used, limit.total), (1, 50));

    admin(
        &base,
        "/members/instagram/acme-facebook/remove-app",
        json!({}),
    )
    .await;
    assert_eq!(
        class(
            adapter
                .publish(&accounts[0].id, &tokens.access_token, &image)
                .await
        ),
        broken(BreakReason::AppRemoved, Confirm::No)
    );
}

#[tokio::test]
async fn a_wrong_client_secret_is_our_configuration_at_every_provider() {
    let base = sandbox().await;
    let wrong = "not-the-secret";
    let linkedin = LinkedIn::new(
        http(),
        config_at(
            Provider::LinkedIn,
            &format!("{base}/sandbox/linkedin"),
            wrong,
        ),
    );
    let code = consent(&linkedin.authorize(&redirect(), ScopeSet::Personal), "pat").await;
    assert_eq!(
        class(linkedin.exchange_code(&code, &redirect()).await),
        Classification::Configuration
    );

    let x = X::new(
        http(),
        config_at(Provider::X, &format!("{base}/sandbox/x"), wrong),
    );
    let authorization = x.authorize(&redirect(), ScopeSet::Personal);
    let code = consent(&authorization, "pat").await;
    assert_eq!(
        class(
            x.exchange_code(
                &code,
                &redirect(),
                authorization.pkce_verifier.as_ref().unwrap(),
            )
            .await
        ),
        Classification::Configuration
    );

    let facebook = Facebook::new(
        http(),
        config_at(
            Provider::Facebook,
            &format!("{base}/sandbox/facebook"),
            wrong,
        ),
    );
    let code = consent(
        &facebook.login().authorize(&redirect(), ScopeSet::Pages),
        "pat",
    )
    .await;
    assert_eq!(
        class(facebook.login().exchange_code(&code, &redirect()).await),
        Classification::Configuration
    );
}

#[tokio::test]
async fn an_outage_and_a_rate_limit_are_transient() {
    let base = sandbox().await;
    let (adapter, tokens) = connect_x(&base, "olga").await;
    admin(
        &base,
        "/faults",
        json!({"provider": "x", "kind": "outage", "calls": 1}),
    )
    .await;
    let error = adapter.probe(&tokens.access_token).await.unwrap_err();
    assert!(error.classification().is_transient(), "{error}");
    admin(
        &base,
        "/faults",
        json!({"provider": "x", "kind": "rate-limit", "calls": 1}),
    )
    .await;
    let error = adapter.probe(&tokens.access_token).await.unwrap_err();
    let Classification::Transient {
        retry_after: Some(_),
    } = error.classification()
    else {
        panic!("a rate limit says when to retry: {error}");
    };
    adapter.probe(&tokens.access_token).await.unwrap();
}

#[tokio::test]
async fn every_provider_runs_the_whole_cycle_through_one_adapter_type() {
    let base = sandbox().await;
    let facebook = config_at(
        Provider::Facebook,
        &format!("{base}/sandbox/facebook"),
        SECRET,
    );
    for provider in Provider::ALL {
        let mut config = config_at(provider, &format!("{base}/sandbox/{provider}"), SECRET);
        if provider == Provider::Instagram {
            config = ProviderConfig::instagram(&facebook, config.endpoints);
        }
        let adapter = Adapter::new(provider, http(), config);
        assert_eq!(adapter.provider(), provider);
        let authorization = adapter.authorize(&redirect(), ScopeSet::Pages);
        let code = consent(&authorization, "casey").await;
        let verifier = authorization.pkce_verifier.as_ref();
        let mut tokens = adapter
            .exchange_code(&code, &redirect(), verifier)
            .await
            .unwrap();
        let me = adapter.identity(&tokens.access_token).await.unwrap();
        if adapter.can_refresh() {
            tokens = adapter
                .refresh(tokens.refresh_token.as_ref().unwrap())
                .await
                .unwrap();
        } else {
            let refresh = adapter.refresh(&tokens.access_token).await;
            assert_eq!(class(refresh), Classification::Unknown, "{provider}");
        }
        adapter.probe(&tokens.access_token).await.unwrap();
        let pages = adapter.pages(&tokens.access_token).await.unwrap();
        let mut content = post(&format!("Through one adapter to {provider}"));
        content.image_url = Some("https://acme.example/cat.jpg".parse().unwrap());
        let published = match provider {
            Provider::LinkedIn | Provider::X => {
                adapter
                    .publish(&tokens.access_token, PostAs::Member(&me.id), &content)
                    .await
            }
            Provider::Facebook => {
                let page_token = pages[0].access_token.as_ref().unwrap();
                adapter
                    .publish(page_token, PostAs::Page(&pages[0].id), &content)
                    .await
            }
            Provider::Instagram => {
                adapter
                    .publish(&tokens.access_token, PostAs::Page(&pages[0].id), &content)
                    .await
            }
        };
        published.unwrap_or_else(|error| panic!("{provider}: {error}"));

        adapter.revoke(&tokens.access_token).await.unwrap();
        let after = class(adapter.probe(&tokens.access_token).await);
        assert!(
            matches!(after, Classification::Broken { .. }),
            "{provider}: {after:?}"
        );
    }
}

/// An adapter for `provider` at the sandbox, connected as `member` with page scopes (and,
/// for LinkedIn, `r_member_social`, which LinkedIn grants approved apps only). The token
/// and who to post as: the member, or for Facebook and Instagram their first page.
async fn connect_for_posts(
    base: &str,
    provider: Provider,
    member: &str,
) -> (Adapter, secrecy::SecretString, String) {
    let facebook = config_at(
        Provider::Facebook,
        &format!("{base}/sandbox/facebook"),
        SECRET,
    );
    let mut config = config_at(provider, &format!("{base}/sandbox/{provider}"), SECRET);
    match provider {
        Provider::LinkedIn => config.endpoints.scopes.push("r_member_social".to_owned()),
        Provider::Instagram => config = ProviderConfig::instagram(&facebook, config.endpoints),
        Provider::X | Provider::Facebook => {}
    }
    let adapter = Adapter::new(provider, http(), config);
    let authorization = adapter.authorize(&redirect(), ScopeSet::Pages);
    let code = consent(&authorization, member).await;
    let tokens = adapter
        .exchange_code(&code, &redirect(), authorization.pkce_verifier.as_ref())
        .await
        .unwrap();
    let pages = adapter.pages(&tokens.access_token).await.unwrap();
    match provider {
        Provider::LinkedIn | Provider::X => {
            let me = adapter.identity(&tokens.access_token).await.unwrap();
            (adapter, tokens.access_token, me.id)
        }
        Provider::Facebook => {
            let page_token = pages[0].access_token.clone().unwrap();
            (adapter, page_token, pages[0].id.clone())
        }
        Provider::Instagram => (adapter, tokens.access_token, pages[0].id.clone()),
    }
}

fn post_as(provider: Provider, id: &str) -> PostAs<'_> {
    match provider {
        Provider::LinkedIn | Provider::X => PostAs::Member(id),
        Provider::Facebook | Provider::Instagram => PostAs::Page(id),
    }
}

#[tokio::test]
async fn a_published_post_is_found_newest_first_among_recent_posts_by_its_exact_text() {
    let base = sandbox().await;
    for provider in Provider::ALL {
        let (adapter, token, id) = connect_for_posts(&base, provider, "rita").await;
        let as_ = post_as(provider, &id);
        assert_eq!(
            adapter.recent_posts(&token, as_, 10).await.unwrap(),
            [],
            "{provider}: nothing published yet"
        );
        let mut ids = Vec::new();
        let mut texts = Vec::new();
        for text in ["Earlier news", "Launch (day) #1 @acme *now*"] {
            let mut content = post(text);
            content.image_url = Some("https://acme.example/cat.jpg".parse().unwrap());
            let published = adapter.publish(&token, as_, &content).await;
            ids.push(published.unwrap_or_else(|e| panic!("{provider}: {e}")).id);
            texts.push(adapter.published_text(&content));
        }
        let recent = adapter.recent_posts(&token, as_, 10).await.unwrap();
        let found: Vec<(&str, &str)> = recent
            .iter()
            .map(|p| (p.id.as_str(), p.text.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (ids[1].as_str(), texts[1].as_str()),
                (ids[0].as_str(), texts[0].as_str())
            ],
            "{provider}"
        );
        let newest = adapter.recent_posts(&token, as_, 1).await.unwrap();
        assert_eq!(newest.len(), 1, "{provider}");
        assert_eq!(newest[0].id, ids[1], "{provider}");
    }
}

#[tokio::test]
async fn recent_posts_with_a_revoked_token_is_a_broken_connection() {
    let base = sandbox().await;
    for provider in Provider::ALL {
        let (adapter, token, id) = connect_for_posts(&base, provider, "ravi").await;
        admin(
            &base,
            &format!("/members/{provider}/ravi/revoke"),
            json!({}),
        )
        .await;
        let after = class(
            adapter
                .recent_posts(&token, post_as(provider, &id), 10)
                .await,
        );
        assert!(
            matches!(after, Classification::Broken { .. }),
            "{provider}: {after:?}"
        );
    }
}

#[tokio::test]
async fn recent_posts_during_an_outage_or_a_rate_limit_is_transient() {
    let base = sandbox().await;
    for provider in Provider::ALL {
        let (adapter, token, id) = connect_for_posts(&base, provider, "omar").await;
        for kind in ["outage", "rate-limit"] {
            admin(
                &base,
                "/faults",
                json!({"provider": provider.as_str(), "kind": kind, "calls": 1}),
            )
            .await;
            let error = adapter
                .recent_posts(&token, post_as(provider, &id), 10)
                .await
                .unwrap_err();
            assert!(
                error.classification().is_transient(),
                "{provider} {kind}: {error}"
            );
        }
        adapter
            .recent_posts(&token, post_as(provider, &id), 10)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn linkedin_without_r_member_social_may_not_read_the_members_posts() {
    let base = sandbox().await;
    let adapter = linkedin(&base);
    let code = consent(&adapter.authorize(&redirect(), ScopeSet::Personal), "lena").await;
    let tokens = adapter.exchange_code(&code, &redirect()).await.unwrap();
    let me = adapter.identity(&tokens.access_token).await.unwrap();
    let author = Author::Person(me.id);
    adapter
        .publish(&tokens.access_token, &author, &post("Mine"))
        .await
        .unwrap();
    assert_eq!(
        class(
            adapter
                .recent_posts(&tokens.access_token, &author, 10)
                .await
        ),
        broken(BreakReason::PermissionMissing, Confirm::No)
    );
}

#[tokio::test]
async fn linkedin_organization_posts_are_read_with_r_organization_social() {
    let base = sandbox().await;
    let adapter = linkedin(&base);
    let code = consent(
        &adapter.authorize(&redirect(), ScopeSet::Pages),
        "acme-linkedin",
    )
    .await;
    let tokens = adapter.exchange_code(&code, &redirect()).await.unwrap();
    let organizations = adapter.organizations(&tokens.access_token).await.unwrap();
    let author = Author::Organization(organizations[0].id.clone());
    let published = adapter
        .publish(&tokens.access_token, &author, &post("From the page [v2]"))
        .await
        .unwrap();
    let recent = adapter
        .recent_posts(&tokens.access_token, &author, 5)
        .await
        .unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].id, published.id);
    assert_eq!(recent[0].text, "From the page [v2]");
}
