//! Key rotation: after a new key is put first in the keyring, every value
//! sealed under an older key is opened and sealed again under the new one,
//! in its same place, so the older key can then be dropped (design.md §5).
//!
//! A column is walked in batches by row id, one transaction per batch, and
//! each value is written back only if it is still the one that was read: a
//! refresh that stores a new token meanwhile wins. A value that does not
//! open is counted and left exactly as it is, for an operator to look at:
//! rotation never destroys what it cannot read.

use crate::connections::places;
use crate::email::outbox::body_place;
use crate::error::CoreResult;
use crate::store::{AccountOwner, SealedColumn, SealedRow};
use crate::Core;
use apostle_encryption::Resealed;

/// Values read and re-sealed per transaction: small enough that a batch
/// holds SQLite's write lock only briefly, large enough to keep round trips few.
const BATCH: i64 = 200;

/// What rotation found in one sealed column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColumnRotation {
    /// Opened with an older key and sealed again with the active one.
    pub resealed: u64,
    /// Under the active key already.
    pub current: u64,
    /// Did not open (its key is not in the keyring, or it is damaged or not
    /// in its place); left as it was.
    pub unreadable: u64,
    /// Written by someone else (a refresh) between being read and being
    /// re-sealed; left as they wrote it.
    pub changed: u64,
}

/// What [`Core::rotate_keys`] did, column by column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// The key every value was brought under.
    pub active_key: String,
    /// Every sealed column, in [`SealedColumn::ALL`] order.
    pub columns: Vec<(SealedColumn, ColumnRotation)>,
}

impl RotationReport {
    /// Values that did not open, in every column.
    pub fn unreadable(&self) -> u64 {
        self.columns.iter().map(|(_, c)| c.unreadable).sum()
    }
}

impl Core {
    /// Re-seals every stored sealed value that is not under the keyring's
    /// active (first) key, and counts what it found.
    pub async fn rotate_keys(&self) -> CoreResult<RotationReport> {
        let mut columns = Vec::with_capacity(SealedColumn::ALL.len());
        for column in SealedColumn::ALL {
            columns.push((column, self.rotate_column(column).await?));
        }
        Ok(RotationReport {
            active_key: self.keyring.active_key_id().to_owned(),
            columns,
        })
    }

    async fn rotate_column(&self, column: SealedColumn) -> CoreResult<ColumnRotation> {
        let mut counts = ColumnRotation::default();
        // Row ids start at 1 on both databases.
        let mut after = 0;
        loop {
            let mut tx = self.store.begin().await?;
            let batch = tx.sealed_values(column, after, BATCH).await?;
            let Some(last) = batch.last() else {
                return Ok(counts);
            };
            after = last.row_id;
            for value in &batch {
                let unreadable = |why: &dyn std::fmt::Display| {
                    tracing::warn!(
                        column = column.as_str(),
                        row_id = value.row_id,
                        "left a sealed value as it was: {why}"
                    );
                };
                let Some(place) = place(column, &value.row) else {
                    unreadable(&"its row gives it no place");
                    counts.unreadable += 1;
                    continue;
                };
                match self.keyring.reseal_text(&value.sealed, &place) {
                    Ok(Resealed::Current) => counts.current += 1,
                    Ok(Resealed::Under(resealed)) => {
                        let written = tx
                            .reseal_value(column, value.row_id, &value.sealed, &resealed)
                            .await?;
                        if written {
                            counts.resealed += 1;
                        } else {
                            counts.changed += 1;
                        }
                    }
                    // The error names a key id or what is wrong, never contents.
                    Err(e) => {
                        unreadable(&e);
                        counts.unreadable += 1;
                    }
                }
            }
            tx.commit().await?;
        }
    }
}

/// Where a value of `column` in this row is bound, as it was sealed. A
/// personal account has no page token place: only business pages have one.
fn place(column: SealedColumn, row: &SealedRow) -> Option<String> {
    match (column, row) {
        (
            SealedColumn::GrantAccessToken | SealedColumn::GrantRefreshToken,
            SealedRow::Grant {
                owner,
                provider,
                external_user_id,
            },
        ) => {
            let field = if column == SealedColumn::GrantAccessToken {
                "access"
            } else {
                "refresh"
            };
            Some(places::grant_token(
                *owner,
                provider,
                external_user_id,
                field,
            ))
        }
        (
            SealedColumn::AccountPageToken,
            SealedRow::Account {
                owner: AccountOwner::Business(team),
                provider,
                external_id,
            },
        ) => Some(places::page_token(*team, provider, external_id)),
        (SealedColumn::FlowPkceVerifier, SealedRow::Flow { state_hash }) => {
            Some(places::flow_verifier(state_hash))
        }
        (
            SealedColumn::EmailTextBody | SealedColumn::EmailHtmlBody,
            SealedRow::Email {
                recipient,
                template,
            },
        ) => Some(body_place(recipient, template)),
        _ => None,
    }
}
