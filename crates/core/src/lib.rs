//! Apostle's services and the traits they run on (storage, time, mail).
//! Web handlers and workers call into here; nothing here knows about HTTP.

pub mod clock;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use store::{Store, StoreError, StoreResult, Tx};
