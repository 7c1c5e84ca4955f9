//! End-to-end tests of the web app and JSON API: the real router on a real
//! socket, a fresh SQLite database per test, a clock the tests move and mail
//! kept in memory.

mod api;
mod browser;
mod helpers;
mod members;
mod ops;
mod sign_in;
