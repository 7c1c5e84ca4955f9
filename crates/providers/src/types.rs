//! What the adapters hand back and take: who signed in, which pages they manage, a post,
//! the posts an account published.

use secrecy::SecretString;
use url::Url;

/// The external user a token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// LinkedIn's `sub`, X's user id, Facebook's app-scoped user id.
    pub id: String,
    pub name: Option<String>,
    /// X's handle.
    pub username: Option<String>,
    pub email: Option<String>,
}

/// A business page the member may post as: a LinkedIn organization, a Facebook page (with
/// its own token), an Instagram business account.
#[derive(Clone, Debug)]
pub struct Page {
    pub id: String,
    pub name: String,
    /// Facebook's page token; other providers post with the member's token.
    pub access_token: Option<SecretString>,
}

/// What to publish.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostContent {
    pub text: String,
    pub link: Option<Url>,
    pub link_title: Option<String>,
    /// A public image URL; Instagram cannot publish without one.
    pub image_url: Option<Url>,
}

/// The provider's id of a published post (LinkedIn's URN, X's tweet id, Graph's post id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub id: String,
}

/// A post the account published, as the provider lists it. A worker that died during a
/// publish call looks among these for the text it sent before it publishes again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecentPost {
    pub id: String,
    /// The text as sent, comparable with [`crate::Adapter::published_text`]: LinkedIn's
    /// markup escapes are undone, X's shortened links expanded.
    pub text: String,
}
