//! What the SQLite and PostgreSQL stores have in common: SQL text that runs
//! unchanged on both, row shapes and their decoding, error classification.
//!
//! This folder is compiled into both `apostle-store-sqlite` and
//! `apostle-store-postgres` (the latter includes it with `#[path]`): neither
//! backend may depend on the other, `apostle-core` holds no SQL, and
//! `sqlx::Any` is ruled out. Nothing here may name a backend-specific sqlx type.

pub(crate) mod rows;
pub(crate) mod sql;
pub(crate) mod tx;
