//! The in-memory world: members, pages, grants, codes, tokens, posts and Instagram
//! containers of the three worlds (LinkedIn, X, and Facebook, where Instagram business
//! accounts live as they do at Meta). One mutex guards it (see [`crate::Sandbox::world`]),
//! so every request sees and leaves a consistent picture; ids and tokens come from one
//! RNG, seeded when the configuration asks for determinism. A fresh world already holds
//! the demo's members (`DEMO_MEMBERS`).

use std::collections::{BTreeMap, HashMap};

use rand::distributions::Alphanumeric;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::clock::{Millis, DAY};
use crate::faults::Fault;
use crate::tokens::{Fingerprint, Token};
use crate::SandboxConfig;

/// Meta's data-access window: 90 days after the member last logged in to the app.
pub(crate) const DATA_ACCESS_LIFETIME: u64 = 90 * DAY;

/// A member a fresh world holds, and the organization or page it manages.
struct DemoMember {
    provider: Provider,
    handle: &'static str,
    name: &'static str,
    /// The page's name, and the username of the Instagram business account linked to it.
    page: Option<(&'static str, Option<&'static str>)>,
}

/// The members `serve --demo` connects through the consent page: Acme's admin on LinkedIn
/// and Facebook (whose page has Acme's Instagram account linked), Acme's X account, and
/// Amy, an employee, on LinkedIn and X.
const DEMO_MEMBERS: [DemoMember; 5] = [
    DemoMember {
        provider: Provider::LinkedIn,
        handle: "acme-linkedin",
        name: "Acme Admin",
        page: Some(("Acme", None)),
    },
    DemoMember {
        provider: Provider::X,
        handle: "acme-x",
        name: "Acme",
        page: None,
    },
    DemoMember {
        provider: Provider::Facebook,
        handle: "acme-facebook",
        name: "Acme Admin",
        page: Some(("Acme", Some("acme"))),
    },
    DemoMember {
        provider: Provider::LinkedIn,
        handle: "amy-linkedin",
        name: "Amy Adams",
        page: None,
    },
    DemoMember {
        provider: Provider::X,
        handle: "amy-x",
        name: "Amy Adams",
        page: None,
    },
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Provider {
    LinkedIn,
    X,
    Facebook,
    Instagram,
}

impl Provider {
    pub(crate) const ALL: [Provider; 4] = [
        Provider::LinkedIn,
        Provider::X,
        Provider::Facebook,
        Provider::Instagram,
    ];

    pub(crate) fn slug(self) -> &'static str {
        match self {
            Provider::LinkedIn => "linkedin",
            Provider::X => "x",
            Provider::Facebook => "facebook",
            Provider::Instagram => "instagram",
        }
    }

    pub(crate) fn display(self) -> &'static str {
        match self {
            Provider::LinkedIn => "LinkedIn",
            Provider::X => "X",
            Provider::Facebook => "Facebook",
            Provider::Instagram => "Instagram",
        }
    }

    /// The worlds that hold members: Instagram business accounts live in Facebook's,
    /// reached with the same Meta app and the same Facebook login, as at Meta.
    pub(crate) const WORLDS: [Provider; 3] = [Provider::LinkedIn, Provider::X, Provider::Facebook];

    pub(crate) fn parse(slug: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.slug() == slug)
    }

    /// The world a slug names: `instagram` is Facebook's.
    pub(crate) fn parse_world(slug: &str) -> Option<Provider> {
        Provider::parse(slug).map(Provider::world)
    }

    pub(crate) fn world(self) -> Provider {
        match self {
            Provider::Instagram => Provider::Facebook,
            other => other,
        }
    }

    /// The name a world goes by on the page and the consent screen.
    pub(crate) fn world_display(self) -> &'static str {
        match self {
            Provider::Facebook | Provider::Instagram => "Facebook and Instagram",
            other => other.display(),
        }
    }

    /// X accounts are their own pages; the others have pages (LinkedIn organizations).
    pub(crate) fn has_pages(self) -> bool {
        self != Provider::X
    }

    pub(crate) fn is_graph(self) -> bool {
        matches!(self, Provider::Facebook | Provider::Instagram)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct MemberId(pub(crate) usize);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct PageId(pub(crate) usize);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct GrantId(pub(crate) usize);

#[derive(Serialize, Deserialize)]
pub(crate) struct Member {
    pub(crate) provider: Provider,
    /// The provider's id: LinkedIn `sub`, X user id, Facebook app-scoped user id.
    pub(crate) external_id: String,
    pub(crate) handle: String,
    pub(crate) name: String,
    /// Facebook: the member must pass a checkpoint at the provider (190 / 459).
    pub(crate) checkpoint: bool,
    /// Facebook: the member must confirm their account at the provider (190 / 464).
    pub(crate) unconfirmed: bool,
    /// Facebook: the member's posts are refused as abusive (368), the post's problem.
    pub(crate) posts_blocked: bool,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct InstagramAccount {
    pub(crate) id: String,
    pub(crate) username: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Page {
    pub(crate) provider: Provider,
    pub(crate) external_id: String,
    pub(crate) name: String,
    pub(crate) owner: MemberId,
    /// Members with a role on the page; `lose-page-role` removes one.
    pub(crate) admins: Vec<MemberId>,
    /// Facebook: the Instagram business account linked to the page.
    pub(crate) instagram: Option<InstagramAccount>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum GrantState {
    Active,
    Revoked,
    PasswordChanged,
    AppRemoved,
    SessionInvalid,
    LoggedOut,
}

/// One member's authorization of one client at one provider.
#[derive(Serialize, Deserialize)]
pub(crate) struct Grant {
    pub(crate) provider: Provider,
    pub(crate) member: MemberId,
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) state: GrantState,
    /// LinkedIn: when the refresh-token clock started (the first authorization).
    pub(crate) refresh_anchor: Millis,
    /// Facebook: when the data-access window closes (90 days after the last login).
    pub(crate) data_access_expires: Millis,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Code {
    pub(crate) grant: GrantId,
    pub(crate) redirect_uri: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) code_challenge: Option<String>,
    pub(crate) expires: Millis,
    pub(crate) used: bool,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Post {
    pub(crate) provider: Provider,
    pub(crate) id: String,
    pub(crate) member: MemberId,
    pub(crate) page: Option<PageId>,
    pub(crate) author: String,
    pub(crate) text: String,
    pub(crate) link: Option<String>,
    pub(crate) image_url: Option<String>,
    pub(crate) created: Millis,
}

/// An Instagram media container between `media` and `media_publish`.
#[derive(Serialize, Deserialize)]
pub(crate) struct Container {
    pub(crate) page: PageId,
    pub(crate) member: MemberId,
    pub(crate) image_url: String,
    pub(crate) caption: String,
    pub(crate) created: Millis,
    pub(crate) ready: Millis,
    /// Publish attempts still to be answered "not ready" after processing finished.
    pub(crate) not_ready_publishes: u32,
    /// Processing ends in `ERROR` instead of `FINISHED` (the `media-error` fault).
    pub(crate) fails: bool,
    pub(crate) published: Option<String>,
}

/// LinkedIn's app mode: an approved partner app gets refresh tokens, any other app gets a
/// 60-day access token alone and must send the member through authorize again.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct LinkedInApp {
    /// The mode of every client id without one of its own.
    pub(crate) refresh_tokens: bool,
    /// Client ids with a mode of their own.
    pub(crate) clients: BTreeMap<String, bool>,
}

impl LinkedInApp {
    pub(crate) fn refresh_tokens_for(&self, client_id: &str) -> bool {
        self.clients
            .get(client_id)
            .copied()
            .unwrap_or(self.refresh_tokens)
    }
}

/// Everything the sandbox knows. It is what the state file holds, less the RNG and the
/// plaintext page tokens (tokens and codes are kept as fingerprints only).
#[derive(Serialize, Deserialize)]
pub(crate) struct World {
    #[serde(skip, default = "StdRng::from_entropy")]
    rng: StdRng,
    pub(crate) members: Vec<Member>,
    pub(crate) pages: Vec<Page>,
    pub(crate) grants: Vec<Grant>,
    pub(crate) codes: HashMap<Fingerprint, Code>,
    pub(crate) tokens: HashMap<Fingerprint, Token>,
    /// The page token handed out for a (grant, page), reused while it lives. Not saved:
    /// after a restart the next `/me/accounts` hands out a new one, and the old one
    /// keeps working.
    #[serde(skip)]
    pub(crate) page_tokens: HashMap<(GrantId, PageId), String>,
    pub(crate) posts: Vec<Post>,
    pub(crate) containers: HashMap<String, Container>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) next_fault_id: u64,
    pub(crate) linkedin: LinkedInApp,
}

/// Why a member or page could not be created.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CreateError {
    #[error("handle must be 1 to 50 letters, digits, '.', '_' or '-'")]
    BadHandle,
    #[error("{provider} already has a member with handle {handle:?}")]
    DuplicateHandle {
        provider: &'static str,
        handle: String,
    },
    #[error("{0} has no pages: an X account is its own page")]
    NoPages(&'static str),
    #[error("only a Facebook page can have an Instagram business account linked")]
    InstagramOutsideFacebook,
    #[error("an Instagram username must be 1 to 30 letters, digits, '.' or '_'")]
    BadInstagramUsername,
}

impl World {
    /// A fresh world: the demo's members (if configured) and the configured app modes,
    /// nothing else.
    pub(crate) fn new(config: &SandboxConfig) -> World {
        let mut world = World {
            rng: rng_for(config.seed),
            members: Vec::new(),
            pages: Vec::new(),
            grants: Vec::new(),
            codes: HashMap::new(),
            tokens: HashMap::new(),
            page_tokens: HashMap::new(),
            posts: Vec::new(),
            containers: HashMap::new(),
            faults: Vec::new(),
            next_fault_id: 1,
            linkedin: LinkedInApp {
                refresh_tokens: config.linkedin_refresh_tokens,
                clients: BTreeMap::new(),
            },
        };
        if config.demo_members {
            world.seed_demo_members();
        }
        world
    }

    fn seed_demo_members(&mut self) {
        for demo in DEMO_MEMBERS {
            let member = self
                .create_member(demo.provider, demo.handle, Some(demo.name))
                .expect("demo handles are valid and distinct");
            if let Some((page, instagram)) = demo.page {
                self.create_page(demo.provider, member, page, instagram)
                    .expect("demo pages belong to providers with pages");
            }
        }
    }

    pub(crate) fn random_alnum(&mut self, len: usize) -> String {
        (&mut self.rng)
            .sample_iter(&Alphanumeric)
            .take(len)
            .map(char::from)
            .collect()
    }

    /// A decimal id of `len` digits that does not start with 0.
    pub(crate) fn random_digits(&mut self, len: usize) -> String {
        let mut id = String::with_capacity(len);
        id.push(char::from(b'1' + self.rng.gen_range(0..9u8)));
        for _ in 1..len {
            id.push(char::from(b'0' + self.rng.gen_range(0..10u8)));
        }
        id
    }

    /// A uniform draw in [0, 1), for flaky faults.
    pub(crate) fn random_unit(&mut self) -> f64 {
        self.rng.gen()
    }

    pub(crate) fn member_by_handle(&self, provider: Provider, handle: &str) -> Option<MemberId> {
        self.members
            .iter()
            .position(|m| m.provider == provider && m.handle == handle)
            .map(MemberId)
    }

    pub(crate) fn member(&self, id: MemberId) -> &Member {
        &self.members[id.0]
    }

    pub(crate) fn page(&self, id: PageId) -> &Page {
        &self.pages[id.0]
    }

    pub(crate) fn grant(&self, id: GrantId) -> &Grant {
        &self.grants[id.0]
    }

    pub(crate) fn page_by_external_id(&self, provider: Provider, id: &str) -> Option<PageId> {
        self.pages
            .iter()
            .position(|p| p.provider == provider && p.external_id == id)
            .map(PageId)
    }

    pub(crate) fn page_by_instagram_id(&self, id: &str) -> Option<PageId> {
        self.pages
            .iter()
            .position(|p| p.instagram.as_ref().is_some_and(|ig| ig.id == id))
            .map(PageId)
    }

    /// Pages on which `member` has a role, in creation order.
    pub(crate) fn pages_of(&self, member: MemberId) -> Vec<PageId> {
        (0..self.pages.len())
            .map(PageId)
            .filter(|&p| self.page(p).admins.contains(&member))
            .collect()
    }

    pub(crate) fn grants_of(&self, member: MemberId) -> Vec<GrantId> {
        (0..self.grants.len())
            .map(GrantId)
            .filter(|&g| self.grant(g).member == member)
            .collect()
    }

    pub(crate) fn create_member(
        &mut self,
        provider: Provider,
        handle: &str,
        name: Option<&str>,
    ) -> Result<MemberId, CreateError> {
        let valid = !handle.is_empty()
            && handle.len() <= 50
            && handle
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(CreateError::BadHandle);
        }
        if self.member_by_handle(provider, handle).is_some() {
            return Err(CreateError::DuplicateHandle {
                provider: provider.slug(),
                handle: handle.to_owned(),
            });
        }
        let external_id = match provider {
            Provider::LinkedIn => self.random_alnum(10),
            Provider::X => self.random_digits(19),
            Provider::Facebook | Provider::Instagram => self.random_digits(16),
        };
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(handle);
        self.members.push(Member {
            provider,
            external_id,
            handle: handle.to_owned(),
            name: name.to_owned(),
            checkpoint: false,
            unconfirmed: false,
            posts_blocked: false,
        });
        Ok(MemberId(self.members.len() - 1))
    }

    /// A page (LinkedIn: an organization) that `owner` administers; a Facebook page may
    /// have an Instagram business account with the given username linked.
    pub(crate) fn create_page(
        &mut self,
        provider: Provider,
        owner: MemberId,
        name: &str,
        instagram: Option<&str>,
    ) -> Result<PageId, CreateError> {
        if !provider.has_pages() {
            return Err(CreateError::NoPages(provider.slug()));
        }
        let instagram = match instagram {
            None => None,
            Some(_) if provider != Provider::Facebook => {
                return Err(CreateError::InstagramOutsideFacebook)
            }
            Some(username) => {
                let valid = (1..=30).contains(&username.len())
                    && username
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'));
                if !valid {
                    return Err(CreateError::BadInstagramUsername);
                }
                let id = format!("17841{}", self.random_digits(12));
                Some(InstagramAccount {
                    id,
                    username: username.to_owned(),
                })
            }
        };
        let external_id = match provider {
            Provider::LinkedIn => self.random_digits(8),
            _ => self.random_digits(15),
        };
        self.pages.push(Page {
            provider,
            external_id,
            name: name.to_owned(),
            owner,
            admins: vec![owner],
            instagram,
        });
        Ok(PageId(self.pages.len() - 1))
    }

    /// The member a consent names: an existing one, or a new one created with one page
    /// (for the providers that have pages). A new Facebook member's page has an Instagram
    /// business account linked, so any handle can also publish to Instagram.
    pub(crate) fn member_for_consent(
        &mut self,
        provider: Provider,
        handle: &str,
    ) -> Result<MemberId, CreateError> {
        if let Some(id) = self.member_by_handle(provider, handle) {
            return Ok(id);
        }
        let member = self.create_member(provider, handle, None)?;
        if provider.has_pages() {
            let instagram = (provider == Provider::Facebook).then(|| instagram_username(handle));
            self.create_page(
                provider,
                member,
                &format!("{handle} Page"),
                instagram.as_deref(),
            )?;
        }
        Ok(member)
    }

    pub(crate) fn record_post(&mut self, post: Post) {
        self.posts.push(post);
    }
}

/// An Instagram username made from a handle or a page name: its letters and digits,
/// lowercased, at most 30 of them.
pub(crate) fn instagram_username(from: &str) -> String {
    let username: String = from
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(30)
        .collect::<String>()
        .to_lowercase();
    if username.is_empty() {
        "sandbox".to_owned()
    } else {
        username
    }
}

fn rng_for(seed: Option<u64>) -> StdRng {
    match seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_entropy(),
    }
}
