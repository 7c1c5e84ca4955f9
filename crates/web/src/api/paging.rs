//! Lists in the API: pages by cursor (`?cursor=&limit=`, answered with
//! `next_cursor`) and `ETag` / `If-None-Match`, the same way for every list.
//!
//! A cursor is the sort key of the last item of a page, opaque to clients: the
//! next page starts strictly after it, so rows added meanwhile never repeat or
//! shift an item the client already has. A list held in memory is paged with
//! [`Paging::page`]; a list read page by page from the store takes
//! [`Paging::after`] and [`Paging::fetch`], and finishes with [`Paging::page`].
//! A handler takes `paging: Paging`, documents `PageQuery` among its params,
//! adds `next_cursor` to its body and answers `paging.respond(&body)`; for a
//! feed newest first the key is `|item| Reverse((item.created_at, item.id))`.

use crate::error::ApiError;
use crate::session::ApiQuery;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

/// Items on a page when the client does not say.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

/// `?cursor=&limit=`, as documented on every list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// The `next_cursor` of the previous page; absent: the first page.
    cursor: Option<String>,
    /// Items on the page, 1 to 200; default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// The request's [`PageQuery`] and `If-None-Match`.
pub(crate) struct Paging {
    cursor: Option<String>,
    limit: usize,
    if_none_match: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiQuery(query) = ApiQuery::<PageQuery>::from_request_parts(parts, state).await?;
        let limit = match query.limit {
            None => DEFAULT_LIMIT,
            Some(l) if (1..=MAX_LIMIT).contains(&(l as usize)) => l as usize,
            Some(_) => {
                return Err(bad_request(format!(
                    "`limit` must be between 1 and {MAX_LIMIT}."
                )))
            }
        };
        Ok(Paging {
            cursor: query.cursor,
            limit,
            if_none_match: parts
                .headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    }
}

fn bad_request(message: String) -> ApiError {
    ApiError::BadRequest(StatusCode::BAD_REQUEST, message)
}

/// One page of items and where the next one starts.
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl Paging {
    /// The sort key the page starts after, for a store query.
    pub fn after<K: DeserializeOwned>(&self) -> Result<Option<K>, ApiError> {
        let Some(cursor) = &self.cursor else {
            return Ok(None);
        };
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .map(Some)
            .ok_or_else(|| bad_request("The cursor is not one this list gave.".to_owned()))
    }

    /// How many rows a store query reads: one more than the page holds, so
    /// that the page knows whether another follows.
    pub fn fetch(&self) -> usize {
        self.limit + 1
    }

    /// The page of `items` (in any order) after the cursor, sorted by `key`,
    /// which must be unique within the list.
    pub fn page<T, K>(&self, mut items: Vec<T>, key: impl Fn(&T) -> K) -> Result<Page<T>, ApiError>
    where
        K: Ord + Serialize + DeserializeOwned,
    {
        let after: Option<K> = self.after()?;
        items.sort_by_key(|item| key(item));
        if let Some(after) = &after {
            items.retain(|item| key(item) > *after);
        }
        let more = items.len() > self.limit;
        items.truncate(self.limit);
        let next_cursor = match items.last() {
            Some(last) if more => Some(URL_SAFE_NO_PAD.encode(
                serde_json::to_vec(&key(last)).map_err(|e| {
                    apostle_core::CoreError::Internal(format!("encoding a cursor: {e}"))
                })?,
            )),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }

    /// `body` as JSON with its `ETag`, or `304 Not Modified` when the client
    /// already holds exactly this.
    pub fn respond<B: Serialize>(&self, body: &B) -> Result<Response, ApiError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| apostle_core::CoreError::Internal(format!("encoding a list: {e}")))?;
        let digest = Sha256::digest(&bytes);
        let etag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..16]));
        let etag_value = HeaderValue::from_str(&etag)
            .map_err(|e| apostle_core::CoreError::Internal(format!("an ETag: {e}")))?;
        let unchanged = self.if_none_match.as_deref().is_some_and(|held| {
            held.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        });
        let mut response = if unchanged {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                bytes,
            )
                .into_response()
        };
        response.headers_mut().insert(header::ETAG, etag_value);
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
        Ok(response)
    }
}
