//! Tests of the `apostle` binary and the application it runs, one test
//! binary for all (modules by subject, helpers in `helpers`).

mod burst;
mod cli;
mod connections;
mod email;
mod health;
mod helpers;
mod home_screen;
mod keys;
mod mobile_app;
mod mobile_docs;
mod overload;
mod posts;
mod publishing;
mod sandbox;
mod security;
mod settings;
mod sharing;
mod shutdown;
mod sign_in;
