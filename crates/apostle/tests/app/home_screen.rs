//! Adding Apostle to a phone's home screen: every page links the web app manifest,
//! which names the app, opens it standalone and points at icons the app serves.

use crate::helpers::{admin_of_new_team, spawn_app};
use serde_json::Value;

#[tokio::test]
async fn every_page_links_a_manifest_that_installs_apostle_standalone_with_served_icons() {
    let app = &spawn_app().await;
    admin_of_new_team(&app.core).await;
    let signed_out = app.http.get(app.url("/login")).send().await.unwrap();
    let signed_in = app
        .signed_in("ada@acme.example", "correct horse battery")
        .await;
    let team = signed_in.get(app.url("/t/acme")).send().await.unwrap();
    for page in [signed_out, team] {
        let html = page.text().await.unwrap();
        assert!(
            html.contains("<link rel=\"manifest\" href=\"/manifest.webmanifest\">"),
            "{html}"
        );
    }

    let served = app
        .http
        .get(app.url("/manifest.webmanifest"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(
        served.headers()["content-type"],
        "application/manifest+json"
    );
    let manifest: Value = served.json().await.unwrap();
    assert_eq!(manifest["name"], "Apostle");
    assert_eq!(manifest["start_url"], "/");
    assert_eq!(manifest["display"], "standalone");
    let icons = manifest["icons"].as_array().unwrap();
    assert!(icons.iter().any(|i| i["type"] == "image/png"));
    for icon in icons {
        let got = app
            .http
            .get(app.url(icon["src"].as_str().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200, "{icon}");
        assert_eq!(
            got.headers()["content-type"],
            icon["type"].as_str().unwrap()
        );
        assert!(!got.bytes().await.unwrap().is_empty());
    }
}
