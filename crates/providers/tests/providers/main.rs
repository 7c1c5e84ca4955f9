//! The adapters over real HTTP, against wiremock servers that check the exact request each
//! real host requires.

mod facebook;
mod helpers;
mod instagram;
mod linkedin;
mod x;
