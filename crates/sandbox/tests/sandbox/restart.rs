//! The world kept in `state_path`: what a restart keeps, how the file is written, and what
//! an unreadable file does.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apostle_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::helpers::{
    admin, advance, first_page, get_json, graph_post, graph_user_token, listed_member, x_users_me,
    FACEBOOK_SCOPES,
};
use crate::support::Running;

/// A fresh directory for one test's state file.
fn state_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("apostle-sandbox-{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn config(path: &Path) -> SandboxConfig {
    SandboxConfig {
        state_path: Some(path.to_owned()),
        ..SandboxConfig::default()
    }
}

/// A sandbox served until `stop` (a clean shutdown: the server lets go of its handles).
struct Served {
    running: Running,
    stop: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

async fn serve(sandbox: &Sandbox) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let router = sandbox.router();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Served {
        running: Running {
            base: format!("http://{address}"),
            http,
        },
        stop,
        server,
    }
}

impl Served {
    async fn shut_down(self) {
        drop(self.running);
        self.stop.send(()).unwrap();
        self.server.await.unwrap();
    }
}

fn wall_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().expect(field).to_owned()
}

#[tokio::test]
async fn a_restart_keeps_members_tokens_posts_clock_and_app_modes() {
    let dir = state_dir("restart");
    let path = dir.join("sandbox.json");
    let first = Sandbox::new(config(&path));
    let served = serve(&first).await;
    let sandbox = &served.running;
    let x = sandbox.x_connect("gil").await;
    let tweet = sandbox
        .http
        .post(sandbox.url("/sandbox/x/2/tweets"))
        .bearer_auth(text(&x, "access_token"))
        .json(&json!({"text": "before the restart"}))
        .send()
        .await
        .unwrap();
    assert_eq!(tweet.status(), 201);
    admin(sandbox, "/apps/linkedin", json!({"refresh_tokens": false})).await;
    let user = graph_user_token(sandbox, "facebook", "acme-facebook", FACEBOOK_SCOPES).await;
    let page = first_page(sandbox, "facebook", &user, "id,access_token").await;
    advance(sandbox, 3600.0).await;
    let acme_id = listed_member(sandbox, "facebook", "acme-facebook").await["id"].clone();
    served.shut_down().await;
    drop(first);

    let file = fs::read_to_string(&path).expect("a clean shutdown wrote the state");
    for secret in [
        text(&x, "access_token"),
        text(&x, "refresh_token"),
        user.clone(),
        text(&page, "access_token"),
    ] {
        assert!(!file.contains(&secret), "the state file holds a live token");
    }

    let second = Sandbox::new(config(&path));
    let ahead = second.now_millis() - wall_millis();
    assert!(
        (3_595_000..3_700_000).contains(&ahead),
        "the clock stays advanced: {ahead} ms"
    );
    let served = serve(&second).await;
    let sandbox = &served.running;
    assert_eq!(
        x_users_me(sandbox, &text(&x, "access_token"))
            .await
            .status(),
        200
    );
    let refreshed = sandbox.x_refresh(&text(&x, "refresh_token")).await;
    assert_eq!(refreshed.status(), 200, "the refresh token survived");
    let posts = get_json(sandbox, "/sandbox/admin/posts?provider=x").await;
    assert_eq!(posts[0]["text"], "before the restart");
    let mode = get_json(sandbox, "/sandbox/admin/apps/linkedin").await;
    assert_eq!(mode["refresh_tokens"], false);
    assert_eq!(
        listed_member(sandbox, "facebook", "acme-facebook").await["id"],
        acme_id
    );
    let published = graph_post(
        sandbox,
        "facebook",
        &format!("/{}/feed", text(&page, "id")),
        &[
            ("message", "after the restart"),
            ("access_token", &text(&page, "access_token")),
        ],
    )
    .await;
    assert_eq!(published.status(), 200, "the page token still works");
    served.shut_down().await;
    drop(second);
    let _ = fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn save_writes_at_once_and_changes_are_written_soon_without_it() {
    let dir = state_dir("save");
    let path = dir.join("nested").join("sandbox.json");
    let sandbox = Sandbox::new(config(&path));
    let served = serve(&sandbox).await;
    let created = admin(
        &served.running,
        "/members",
        json!({"provider": "x", "handle": "saved-now"}),
    )
    .await;
    assert_eq!(created.status(), 201);
    sandbox.save().expect("save");
    assert!(fs::read_to_string(&path).unwrap().contains("saved-now"));

    admin(
        &served.running,
        "/members",
        json!({"provider": "x", "handle": "saved-soon"}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !fs::read_to_string(&path).unwrap().contains("saved-soon") {
        assert!(Instant::now() < deadline, "the change was never written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    served.shut_down().await;
    drop(sandbox);
    let _ = fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_unreadable_state_file_is_set_aside_and_the_sandbox_starts_fresh() {
    let dir = state_dir("corrupt");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sandbox.json");
    fs::write(&path, b"{ not the sandbox's state").unwrap();
    let sandbox = Sandbox::new(config(&path));
    assert_eq!(
        fs::read(dir.join("sandbox.json.corrupt")).unwrap(),
        b"{ not the sandbox's state",
        "kept for a person to look at"
    );
    let served = serve(&sandbox).await;
    listed_member(&served.running, "x", "acme-x").await;
    served.shut_down().await;
    sandbox.save().unwrap();
    let saved: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(saved["version"], 1);
    drop(sandbox);
    let _ = fs::remove_dir_all(&dir);
}
