//! The sandbox over real HTTP: every test spawns the router on 127.0.0.1:0 and talks to it
//! with reqwest, as Apostle's adapters will. Expected bodies are those of
//! `shared/docs/providers.md`. Time moves through the admin clock, not by sleeping.

mod admin;
mod facebook;
mod helpers;
mod instagram;
mod linkedin;
mod oauth2_client;
mod restart;
mod support;
mod x;
