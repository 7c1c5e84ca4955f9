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

/// Rows are built on SQLite's worker threads and dropped on the runtime's:
/// glibc's allocator serialises those frees on its arenas' locks, and under
/// load it spent a fifth of the feed's time there. Here, in the library, so
/// that the benchmarks and tests that build the app in-process run on the
/// allocator the binary runs on.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use error::AppError;
pub use settings::Settings;
pub use startup::Application;
