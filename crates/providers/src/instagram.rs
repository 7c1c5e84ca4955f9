//! Instagram business accounts, reached through Facebook Login (Facebook's app, Instagram's
//! endpoints): the accounts linked to the member's pages, and publishing an image as a
//! container that is polled until ready, then published; and the account's latest media.

use std::time::{Duration, SystemTime};

use reqwest::Method;
use secrecy::SecretString;
use serde::Deserialize;

use crate::classify::{Classification, Endpoint, FailedResponse};
use crate::error::{Error, Problem};
use crate::facebook::{self, graph_fields, FacebookLogin};
use crate::http::Http;
use crate::{Page, PostContent, Provider, ProviderConfig, Published, RecentPost};

/// Posts published in the current window, of how many allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishingLimit {
    pub used: u64,
    pub total: u64,
    pub window: Duration,
}

#[derive(Clone, Debug)]
pub struct Instagram {
    login: FacebookLogin,
    poll_interval: Duration,
    poll_attempts: u32,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

impl Instagram {
    /// `config` comes from [`ProviderConfig::instagram`]: Facebook's app.
    pub fn new(http: Http, config: ProviderConfig) -> Self {
        Instagram {
            login: FacebookLogin::new(Provider::Instagram, http, config),
            poll_interval: Duration::from_secs(1),
            poll_attempts: 60,
        }
    }

    /// How often, and how many times, to ask whether a media container is ready.
    pub fn with_polling(mut self, interval: Duration, attempts: u32) -> Self {
        self.poll_interval = interval;
        self.poll_attempts = attempts.max(1);
        self
    }

    /// Sign-in, tokens, identity and probe: Facebook's.
    pub fn login(&self) -> &FacebookLogin {
        &self.login
    }

    /// The Instagram business accounts linked to the member's pages (named after the page).
    pub async fn accounts(&self, user_token: &SecretString) -> Result<Vec<Page>, Error> {
        let entries = self
            .login
            .accounts(user_token, "id,name,instagram_business_account")
            .await?;
        Ok(entries
            .iter()
            .filter_map(|entry| {
                Some(Page {
                    id: entry["instagram_business_account"]["id"]
                        .as_str()?
                        .to_owned(),
                    name: entry["name"].as_str().unwrap_or_default().to_owned(),
                    access_token: None,
                })
            })
            .collect())
    }

    /// How many posts the account may still publish: Instagram allows about 50 a day and
    /// says so here, so read it rather than assume it.
    pub async fn publishing_limit(
        &self,
        account_id: &str,
        token: &SecretString,
    ) -> Result<PublishingLimit, Error> {
        #[derive(Deserialize)]
        struct Limits {
            data: Vec<Limit>,
        }
        #[derive(Deserialize)]
        struct Limit {
            quota_usage: u64,
            config: Config,
        }
        #[derive(Deserialize)]
        struct Config {
            quota_total: u64,
            quota_duration: u64,
        }
        let request = self
            .login
            .request(
                Method::GET,
                &format!("/{account_id}/content_publishing_limit"),
                token,
            )
            .query(&[("fields", "quota_usage,config")]);
        let answer = self.login.send(Endpoint::Api, request).await?;
        let limits: Limits = answer.json("a publishing limit in data")?;
        let limit = limits
            .data
            .into_iter()
            .next()
            .ok_or_else(|| answer.call.malformed("a publishing limit in data"))?;
        Ok(PublishingLimit {
            used: limit.quota_usage,
            total: limit.config.quota_total,
            window: Duration::from_secs(limit.config.quota_duration),
        })
    }

    /// Container → wait until `FINISHED` → `media_publish`, which may still answer "not
    /// ready" for a while. Needs `post.image_url`.
    pub async fn publish(
        &self,
        account_id: &str,
        token: &SecretString,
        post: &PostContent,
    ) -> Result<Published, Error> {
        let Some(image_url) = &post.image_url else {
            return Err(Error::unsent(
                Provider::Instagram,
                Problem::Refused("Instagram publishes only posts with an image"),
            ));
        };
        let caption = caption(post);
        let request = self
            .login
            .request(Method::POST, &format!("/{account_id}/media"), token)
            .form(&[("image_url", image_url.as_str()), ("caption", &caption)]);
        let container: Created = self
            .login
            .send_json(Endpoint::PagePost, request, "a container id")
            .await?;
        self.wait_until_finished(&container.id, token).await?;
        let mut attempts = self.poll_attempts;
        loop {
            let request = self
                .login
                .request(Method::POST, &format!("/{account_id}/media_publish"), token)
                .form(&[("creation_id", container.id.as_str())]);
            match self
                .login
                .send_json::<Created>(Endpoint::PagePost, request, "a media id")
                .await
            {
                Ok(media) => return Ok(Published { id: media.id }),
                // A 4xx that is transient ("media not ready", throttling) published nothing,
                // so asking again cannot publish twice; a 5xx might have.
                Err(error)
                    if attempts > 1
                        && error.classification().is_transient()
                        && error.status().is_some_and(|s| s.is_client_error()) =>
                {
                    attempts -= 1;
                    tokio::time::sleep(self.poll_interval).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// The account's latest media, newest first, with their captions.
    pub async fn recent_posts(
        &self,
        account_id: &str,
        token: &SecretString,
        limit: usize,
    ) -> Result<Vec<RecentPost>, Error> {
        self.login
            .recent(
                &format!("/{account_id}/media"),
                token,
                "id,caption,timestamp",
                "caption",
                limit,
            )
            .await
    }

    async fn wait_until_finished(
        &self,
        container: &str,
        token: &SecretString,
    ) -> Result<(), Error> {
        #[derive(Deserialize)]
        struct Status {
            status_code: String,
        }
        for attempt in 1..=self.poll_attempts {
            let request = self
                .login
                .request(Method::GET, &format!("/{container}"), token)
                .query(&[("fields", "status_code")]);
            let answer = self.login.send(Endpoint::PagePost, request).await?;
            let status: Status = answer.json("a container status_code")?;
            match status.status_code.as_str() {
                "FINISHED" | "PUBLISHED" => return Ok(()),
                "IN_PROGRESS" if attempt < self.poll_attempts => {
                    tokio::time::sleep(self.poll_interval).await;
                }
                "IN_PROGRESS" => {
                    return Err(answer.call.error(Problem::Reported {
                        state: "a container still IN_PROGRESS".to_owned(),
                        classification: Classification::TRANSIENT,
                    }))
                }
                _ => {
                    return Err(answer.call.error(Problem::Reported {
                        state: format!("a container in {}", status.status_code),
                        classification: Classification::PostRejected,
                    }))
                }
            }
        }
        unreachable!("the last attempt returns")
    }
}

/// The caption a post of `post` shows on Instagram: links are not clickable there, so the
/// link goes below the text.
pub(crate) fn caption(post: &PostContent) -> String {
    match &post.link {
        Some(link) => format!("{}\n\n{link}", post.text),
        None => post.text.clone(),
    }
}

/// Instagram's own media answers first, then the Graph table it shares with Facebook.
pub(crate) fn classify(
    endpoint: Endpoint,
    response: &FailedResponse,
    now: SystemTime,
) -> Classification {
    match graph_fields(response).subcode {
        // Daily publishing limit, and media Instagram cannot use: not breaks.
        Some(2207042 | 2207052 | 2207009 | 2207026) => Classification::PostRejected,
        // "Media not ready": wait and retry, even after FINISHED.
        Some(2207027) => Classification::TRANSIENT,
        _ => facebook::classify(endpoint, response, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::tests::{classified, response};

    use crate::facebook::tests::graph_error;
    use crate::BreakReason;

    #[test]
    fn every_row_of_the_instagram_table() {
        let rows: Vec<(&str, u64, Option<u64>, Classification)> = vec![
            (
                "2207042 daily limit: not a break",
                9,
                Some(2207042),
                Classification::PostRejected,
            ),
            (
                "2207052 media problem: not a break",
                9004,
                Some(2207052),
                Classification::PostRejected,
            ),
            (
                "2207009 media problem: not a break",
                9004,
                Some(2207009),
                Classification::PostRejected,
            ),
            (
                "2207026 media problem: not a break",
                9004,
                Some(2207026),
                Classification::PostRejected,
            ),
            (
                "9007 / 2207027 media not ready: wait and retry",
                9007,
                Some(2207027),
                Classification::TRANSIENT,
            ),
            (
                "same envelope as Facebook: 190 / 460",
                190,
                Some(460),
                Classification::broken(BreakReason::PasswordChanged),
            ),
            (
                "same envelope as Facebook: 190 / 492",
                190,
                Some(492),
                Classification::broken(BreakReason::PageAccessLost),
            ),
        ];
        for (row, code, subcode, expected) in rows {
            let body = graph_error(code, subcode, "IGApiException");
            assert_eq!(
                classified(
                    Provider::Instagram,
                    Endpoint::PagePost,
                    &response(400, &body)
                ),
                expected,
                "{row}"
            );
        }
    }

    #[test]
    fn a_server_error_stays_transient_whatever_its_subcode() {
        let body = graph_error(9, Some(2207042), "IGApiException");
        assert_eq!(
            classified(
                Provider::Instagram,
                Endpoint::PagePost,
                &response(500, &body)
            ),
            Classification::TRANSIENT
        );
    }
}
