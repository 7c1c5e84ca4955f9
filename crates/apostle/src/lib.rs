//! The `apostle` binary's library: configuration ([`settings`]), the
//! providers it talks to ([`providers`]), the database chosen by URL
//! ([`database`]), logs and metrics ([`telemetry`]),
//! wiring everything into a running [`startup::Application`], and the
//! command line ([`cli`]). `main.rs` only parses arguments and maps errors
//! to exit codes, so tests drive the same code the binary runs.

pub mod cli;
pub mod database;
pub mod demo_connections;
pub mod error;
pub mod providers;
pub mod settings;
pub mod startup;
pub mod telemetry;

pub use error::AppError;
pub use settings::Settings;
pub use startup::Application;
