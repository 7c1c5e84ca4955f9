//! What the SQLite and PostgreSQL stores have in common: SQL text that runs
//! unchanged on both, row shapes and their decoding, error classification,
//! and the `Tx` implementation as a macro each backend instantiates with its
//! own types.
//!
//! Neither backend may depend on the other, `apostle-core` holds no SQL, and
//! `sqlx::Any` is ruled out, so the shared part lives here. Nothing here may
//! name a backend-specific sqlx type.

pub mod alerts;
pub mod pool;
pub mod posts;
pub mod posts_sql;
pub mod rows;
pub mod shares;
pub mod sql;
mod tx;
