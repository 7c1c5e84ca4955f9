//! The provider sandbox: a local LinkedIn, X, Facebook and Instagram that behave like the
//! real ones (`shared/docs/providers.md` is the specification), with fault injection.
//!
//! Everything is served under `/sandbox`:
//! - `/sandbox/linkedin/…`, `/sandbox/x/…`, `/sandbox/facebook/…` mirror the real paths
//!   below one prefix per provider. A provider with two hosts (`www.linkedin.com` for
//!   OAuth, `api.linkedin.com` for the API; `x.com` and `api.x.com`) serves both hosts'
//!   paths under its one prefix.
//! - Instagram is reached the real way: business accounts are linked to Facebook pages and
//!   used with the same Meta app and the same Facebook login, so `/sandbox/facebook/…`
//!   serves the Instagram publishing endpoints as graph.facebook.com does.
//!   `/sandbox/instagram/…` is an alias of the same Graph world (same members, same tokens).
//! - `/sandbox/admin/…` is the JSON admin API (members, pages, token breaks, faults, app
//!   modes, clock, reset).
//! - `/sandbox` is the page for people: state, published posts, buttons for every action;
//!   `/sandbox/assets/sandbox.css` its stylesheet.
//!
//! A fresh world already holds the demo's members (unless [`SandboxConfig::demo_members`]
//! is off): `acme-linkedin` (administers the organization "Acme"), `acme-x`,
//! `acme-facebook` (manages the page "Acme", which has the Instagram business account
//! "acme" linked), `amy-linkedin` and `amy-x`.
//!
//! **Time.** The sandbox keeps its own clock: wall time plus whatever the admin API advanced
//! it by. Every expiry is checked against it. [`Sandbox::now_millis`] reads it, so an app
//! that mounts the sandbox can let its connection engine follow the sandbox's clock and
//! watch a 60-day token reach its reminders and its expiry in seconds.
//!
//! **Persistence.** With [`SandboxConfig::state_path`] set, the world (members, pages,
//! grants and tokens, published posts, faults, app modes) and the clock's offset survive a
//! restart: they are read at [`Sandbox::new`] and written back shortly after every change
//! ([`Sandbox::save`] writes at once; dropping the last handle flushes). Tokens and codes
//! are kept as SHA-256 fingerprints, so the file holds none that works. A missing file
//! starts a fresh world; an unreadable one is set aside as `{name}.corrupt` and the sandbox
//! starts fresh, with a warning in the log.
//!
//! Modules: [`state`] holds the world behind one mutex; [`clock`] the sandbox's clock and
//! lifetime scaling; [`persist`] the state file; [`tokens`] issuing and checking tokens;
//! [`oauth`] the consent page and codes shared by all providers; one module per provider;
//! [`errors`] every error body the providers send; [`faults`] the injected faults;
//! [`admin`] the admin API; [`pages`] the HTML.

mod admin;
mod clock;
mod errors;
mod facebook;
mod faults;
mod graph;
mod instagram;
mod linkedin;
mod oauth;
mod pages;
mod params;
mod persist;
mod state;
mod tokens;
mod x;

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::routing::get;
use axum::Router;

use crate::clock::Clock;
use crate::persist::{Loaded, Store};
use crate::state::World;

pub use crate::persist::SaveError;

/// How the sandbox behaves.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Factor applied to every token lifetime: 1.0 = real lifetimes; 1.0/3600.0 makes a
    /// 2-hour X token live 2 seconds. Authorization codes keep their real lifetimes.
    pub time_scale: f64,
    /// The secret every client must present; any `client_id` is accepted.
    pub client_secret: String,
    /// Where `remove-app` POSTs Facebook's signed deauthorize request.
    pub facebook_deauthorize_url: Option<String>,
    /// The app name shown on consent pages.
    pub app_name: String,
    /// Whether a fresh (or reset) world holds the demo's members and Acme's pages. Off,
    /// it starts empty, for tests that create every member they use.
    pub demo_members: bool,
    /// Seed for ids and tokens; the same seed and the same requests give the same values.
    /// A world read back from `state_path` draws fresh randomness.
    pub seed: Option<u64>,
    /// Where the world is kept across restarts; `None` keeps it in memory only.
    pub state_path: Option<PathBuf>,
    /// Whether LinkedIn treats every client as an approved partner app, which gets refresh
    /// tokens. `false`: a 60-day access token alone, and the member must authorize again.
    /// The admin API changes it, for all clients or one (`/sandbox/admin/apps/linkedin`).
    pub linkedin_refresh_tokens: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            time_scale: 1.0,
            client_secret: "sandbox-secret".to_owned(),
            facebook_deauthorize_url: None,
            app_name: "Apostle".to_owned(),
            demo_members: true,
            seed: None,
            state_path: None,
            linkedin_refresh_tokens: true,
        }
    }
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("time_scale", &self.time_scale)
            .field("client_secret", &"[redacted]")
            .field("facebook_deauthorize_url", &self.facebook_deauthorize_url)
            .field("app_name", &self.app_name)
            .field("demo_members", &self.demo_members)
            .field("seed", &self.seed)
            .field("state_path", &self.state_path)
            .field("linkedin_refresh_tokens", &self.linkedin_refresh_tokens)
            .finish()
    }
}

/// A running sandbox: cheap to clone, every clone shares the same state.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    config: SandboxConfig,
    /// What the state file holds; shared with the thread that writes it.
    shared: Arc<Shared>,
    http: reqwest::Client,
    /// The state file, when there is one to write.
    store: Option<Arc<Store>>,
}

struct Shared {
    clock: Clock,
    world: Mutex<World>,
}

impl Shared {
    fn save_to(&self, store: &Store) -> Result<(), SaveError> {
        store.save(&self.world, || self.clock.offset())
    }
}

impl Inner {
    fn save(&self) -> Result<(), SaveError> {
        match &self.store {
            Some(store) => self.shared.save_to(store),
            None => Ok(()),
        }
    }

    fn changed(&self) {
        if let Some(store) = &self.store {
            store.mark_dirty();
        }
    }
}

impl Drop for Inner {
    /// The last handle is gone (a clean shutdown): the state is written now, on this
    /// thread, after any write in flight, so the process may exit as soon as this returns.
    fn drop(&mut self) {
        if let Some(store) = &self.store {
            store.stop();
            if let Err(error) = self.save() {
                tracing::warn!(%error, "sandbox: the final save failed");
            }
        }
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// The world, locked; a mutable use marks it changed for the state file.
pub(crate) struct WorldGuard<'a> {
    world: MutexGuard<'a, World>,
    inner: &'a Inner,
    changed: bool,
}

impl Deref for WorldGuard<'_> {
    type Target = World;

    fn deref(&self) -> &World {
        &self.world
    }
}

impl DerefMut for WorldGuard<'_> {
    fn deref_mut(&mut self) -> &mut World {
        self.changed = true;
        &mut self.world
    }
}

impl Drop for WorldGuard<'_> {
    fn drop(&mut self) {
        if self.changed {
            self.inner.changed();
        }
    }
}

impl Sandbox {
    /// A sandbox with a fresh world, or with the world kept at `config.state_path`.
    pub fn new(config: SandboxConfig) -> Sandbox {
        let clock = Clock::new(config.time_scale);
        let (world, store, fresh) = match &config.state_path {
            None => (World::new(&config), None, false),
            Some(path) => match persist::load(path) {
                Loaded::World(world, offset) => {
                    clock.set_offset(offset);
                    (*world, Some(Store::new(path.clone())), false)
                }
                Loaded::Fresh => (World::new(&config), Some(Store::new(path.clone())), true),
                Loaded::Unwritable => (World::new(&config), None, false),
            },
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let shared = Arc::new(Shared {
            clock,
            world: Mutex::new(world),
        });
        if let Some(store) = &store {
            let (store, shared) = (Arc::clone(store), Arc::clone(&shared));
            persist::spawn_writer(Arc::clone(&store), move || shared.save_to(&store));
        }
        let inner = Inner {
            config,
            shared,
            http,
            store,
        };
        // A fresh world is written at once, so its ids outlive this run.
        if fresh {
            inner.changed();
        }
        Sandbox {
            inner: Arc::new(inner),
        }
    }

    /// All routes, with the `/sandbox` prefix included (`/sandbox/linkedin/...`,
    /// `/sandbox/admin/...`, `/sandbox`).
    pub fn router(&self) -> Router {
        Router::new()
            .nest("/sandbox/linkedin", linkedin::router(self))
            .nest("/sandbox/x", x::router(self))
            .nest("/sandbox/facebook", graph::router(self))
            .nest("/sandbox/instagram", graph::router(self))
            .nest("/sandbox/admin", admin::router())
            .route("/sandbox", get(pages::dashboard))
            .route("/sandbox/assets/sandbox.css", get(pages::stylesheet))
            .with_state(self.clone())
    }

    /// Now on the sandbox's clock, in milliseconds since the Unix epoch: wall time plus
    /// whatever the admin API advanced the clock by. An app that mounts the sandbox can
    /// drive its connection engine with it, so advancing the sandbox's clock moves both.
    pub fn now_millis(&self) -> i64 {
        self.inner.shared.clock.now()
    }

    /// Writes the state file now. Does nothing without `state_path`, or when the file was
    /// unreadable at start and could not be set aside (the log says so). Blocking file I/O:
    /// from async code, call it on a blocking thread. Changes are also written on their
    /// own shortly after they happen, and when the last handle is dropped.
    pub fn save(&self) -> Result<(), SaveError> {
        self.inner.save()
    }

    pub(crate) fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.inner.shared.clock
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The world, locked. Never hold the guard across an `.await`.
    pub(crate) fn world(&self) -> WorldGuard<'_> {
        WorldGuard {
            world: self
                .inner
                .shared
                .world
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            inner: &self.inner,
            changed: false,
        }
    }

    /// Moves the sandbox's clock forward (or back, with negative seconds).
    pub(crate) fn advance_clock(&self, seconds: f64) {
        self.clock().advance(seconds);
        self.inner.changed();
    }

    /// Forgets everything: a fresh world (the demo's members again, with new ids and no
    /// grants) and the clock back to wall time.
    pub(crate) fn reset(&self) {
        self.clock().reset();
        *self.world() = World::new(&self.inner.config);
    }

    /// Constant-time check of a client secret presented by a client.
    pub(crate) fn secret_matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        presented
            .as_bytes()
            .ct_eq(self.inner.config.client_secret.as_bytes())
            .into()
    }
}
