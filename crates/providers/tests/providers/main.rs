//! The adapters over real HTTP: against wiremock servers that check the exact request each
//! real host requires, and end to end against the sandbox crate served on loopback.

mod facebook;
mod helpers;
mod http;
mod instagram;
mod linkedin;
mod sandbox;
mod secrets;
mod x;
