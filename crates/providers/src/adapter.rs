//! One type over the four adapters for the steps every provider has, so a caller that
//! holds a grant's provider can refresh, probe, revoke, publish or look for a post it
//! published without matching on it.

use secrecy::SecretString;
use url::Url;

use crate::error::Problem;
use crate::{instagram, x};
use crate::{
    Author, Authorization, Error, Facebook, FacebookLogin, Http, Identity, Instagram, LinkedIn,
    Page, PostContent, Provider, ProviderConfig, Published, RecentPost, ScopeSet, TokenSet, X,
};

/// Who a post goes out as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostAs<'a> {
    /// The member's personal account, by their external user id.
    Member(&'a str),
    /// A business page: LinkedIn organization id, Facebook page id (with the page's own
    /// token), Instagram business account id, or for X the team's account itself.
    Page(&'a str),
}

enum Login<'a> {
    LinkedIn(&'a LinkedIn),
    X(&'a X),
    Meta(&'a FacebookLogin),
}

#[derive(Clone, Debug)]
pub enum Adapter {
    LinkedIn(LinkedIn),
    X(X),
    Facebook(Facebook),
    Instagram(Instagram),
}

impl Adapter {
    /// For Instagram, `config` is [`ProviderConfig::instagram`]: Facebook's app.
    pub fn new(provider: Provider, http: Http, config: ProviderConfig) -> Self {
        match provider {
            Provider::LinkedIn => Adapter::LinkedIn(LinkedIn::new(http, config)),
            Provider::X => Adapter::X(X::new(http, config)),
            Provider::Facebook => Adapter::Facebook(Facebook::new(http, config)),
            Provider::Instagram => Adapter::Instagram(Instagram::new(http, config)),
        }
    }

    pub fn provider(&self) -> Provider {
        match self {
            Adapter::LinkedIn(_) => Provider::LinkedIn,
            Adapter::X(_) => Provider::X,
            Adapter::Facebook(_) => Provider::Facebook,
            Adapter::Instagram(_) => Provider::Instagram,
        }
    }

    /// The OAuth side: Facebook and Instagram share Facebook Login.
    fn login(&self) -> Login<'_> {
        match self {
            Adapter::LinkedIn(linkedin) => Login::LinkedIn(linkedin),
            Adapter::X(x) => Login::X(x),
            Adapter::Facebook(facebook) => Login::Meta(facebook.login()),
            Adapter::Instagram(instagram) => Login::Meta(instagram.login()),
        }
    }

    fn unsupported(&self, what: &'static str) -> Error {
        Error::unsent(self.provider(), Problem::Unsupported(what))
    }

    pub fn authorize(&self, redirect_uri: &Url, scopes: ScopeSet) -> Authorization {
        match self.login() {
            Login::LinkedIn(linkedin) => linkedin.authorize(redirect_uri, scopes),
            Login::X(x) => x.authorize(redirect_uri, scopes),
            Login::Meta(login) => login.authorize(redirect_uri, scopes),
        }
    }

    /// `pkce_verifier` is the one [`Adapter::authorize`] returned (X needs it).
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &Url,
        pkce_verifier: Option<&SecretString>,
    ) -> Result<TokenSet, Error> {
        match self.login() {
            Login::LinkedIn(linkedin) => linkedin.exchange_code(code, redirect_uri).await,
            Login::X(x) => match pkce_verifier {
                Some(verifier) => x.exchange_code(code, redirect_uri, verifier).await,
                None => Err(self.unsupported("X exchanges a code only with its PKCE verifier")),
            },
            Login::Meta(login) => login.exchange_code(code, redirect_uri).await,
        }
    }

    /// Whether tokens are renewed by refresh; Meta's long-lived tokens are not, the
    /// member reconnects before they end.
    pub fn can_refresh(&self) -> bool {
        matches!(self, Adapter::LinkedIn(_) | Adapter::X(_))
    }

    /// Whether a refresh token is single-use, replaced at every refresh (X): a refused
    /// one may only mean that another refresh already replaced it.
    pub fn rotates_refresh_tokens(&self) -> bool {
        matches!(self, Adapter::X(_))
    }

    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet, Error> {
        match self {
            Adapter::LinkedIn(linkedin) => linkedin.refresh(refresh_token).await,
            Adapter::X(x) => x.refresh(refresh_token).await,
            Adapter::Facebook(_) | Adapter::Instagram(_) => {
                Err(self.unsupported("Facebook Login has no refresh tokens"))
            }
        }
    }

    pub async fn revoke(&self, token: &SecretString) -> Result<(), Error> {
        match self.login() {
            Login::LinkedIn(linkedin) => linkedin.revoke(token).await,
            Login::X(x) => x.revoke(token).await,
            Login::Meta(login) => login.revoke(token).await,
        }
    }

    pub async fn identity(&self, token: &SecretString) -> Result<Identity, Error> {
        match self.login() {
            Login::LinkedIn(linkedin) => linkedin.identity(token).await,
            Login::X(x) => x.identity(token).await,
            Login::Meta(login) => login.identity(token).await,
        }
    }

    /// `Ok` when the token works; otherwise the error's classification says why not.
    pub async fn probe(&self, token: &SecretString) -> Result<(), Error> {
        match self.login() {
            Login::LinkedIn(linkedin) => linkedin.probe(token).await,
            Login::X(x) => x.probe(token).await,
            Login::Meta(login) => login.probe(token).await,
        }
    }

    /// The business pages this login manages; an X login is itself the account.
    pub async fn pages(&self, token: &SecretString) -> Result<Vec<Page>, Error> {
        match self {
            Adapter::LinkedIn(linkedin) => linkedin.organizations(token).await,
            Adapter::X(_) => Ok(Vec::new()),
            Adapter::Facebook(facebook) => facebook.pages(token).await,
            Adapter::Instagram(instagram) => instagram.accounts(token).await,
        }
    }

    /// `token` is the member's, except for a Facebook page: the page's own.
    pub async fn publish(
        &self,
        token: &SecretString,
        as_: PostAs<'_>,
        post: &PostContent,
    ) -> Result<Published, Error> {
        match (self, as_) {
            (Adapter::LinkedIn(linkedin), PostAs::Member(id)) => {
                linkedin
                    .publish(token, &Author::Person(id.to_owned()), post)
                    .await
            }
            (Adapter::LinkedIn(linkedin), PostAs::Page(id)) => {
                linkedin
                    .publish(token, &Author::Organization(id.to_owned()), post)
                    .await
            }
            (Adapter::X(x), _) => x.publish(token, post).await,
            (Adapter::Facebook(facebook), PostAs::Page(id)) => {
                facebook.publish(id, token, post).await
            }
            (Adapter::Instagram(instagram), PostAs::Page(id)) => {
                instagram.publish(id, token, post).await
            }
            (Adapter::Facebook(_) | Adapter::Instagram(_), PostAs::Member(_)) => {
                Err(self.unsupported("Facebook and Instagram publish as business pages only"))
            }
        }
    }

    /// The account's latest posts, newest first, at most `limit` (providers cap a call at
    /// 100). `token` and `as_` as for [`Adapter::publish`]. Recovery from a publish that
    /// may or may not have happened looks here for [`Adapter::published_text`] before it
    /// publishes again.
    pub async fn recent_posts(
        &self,
        token: &SecretString,
        as_: PostAs<'_>,
        limit: usize,
    ) -> Result<Vec<RecentPost>, Error> {
        match (self, as_) {
            (Adapter::LinkedIn(linkedin), PostAs::Member(id)) => {
                linkedin
                    .recent_posts(token, &Author::Person(id.to_owned()), limit)
                    .await
            }
            (Adapter::LinkedIn(linkedin), PostAs::Page(id)) => {
                linkedin
                    .recent_posts(token, &Author::Organization(id.to_owned()), limit)
                    .await
            }
            (Adapter::X(x), PostAs::Member(id) | PostAs::Page(id)) => {
                x.recent_posts(token, id, limit).await
            }
            (Adapter::Facebook(facebook), PostAs::Page(id)) => {
                facebook.recent_posts(id, token, limit).await
            }
            (Adapter::Instagram(instagram), PostAs::Page(id)) => {
                instagram.recent_posts(id, token, limit).await
            }
            (Adapter::Facebook(_) | Adapter::Instagram(_), PostAs::Member(_)) => {
                Err(self.unsupported("Facebook and Instagram publish as business pages only"))
            }
        }
    }

    /// The text `post` shows at the provider once published, as [`Adapter::recent_posts`]
    /// reads it back: X appends the link to the text, Instagram puts it below the caption.
    pub fn published_text(&self, post: &PostContent) -> String {
        match self {
            Adapter::LinkedIn(_) | Adapter::Facebook(_) => post.text.clone(),
            Adapter::X(_) => x::tweet_text(post),
            Adapter::Instagram(_) => instagram::caption(post),
        }
    }
}
