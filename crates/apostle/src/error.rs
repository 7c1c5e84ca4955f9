//! What can stop the `apostle` binary, each with the sentence it prints
//! and the exit code it ends with.

use crate::settings::SettingsError;
use apostle_core::{CoreError, StoreError};
use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A configuration value cannot be used (exit code 2).
    #[error("invalid configuration: {0}")]
    Settings(#[from] SettingsError),
    /// The database cannot be opened or migrated; the message names the
    /// file or `host:port`, never a password.
    #[error("{0}")]
    Database(String),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    /// A command was asked for something it cannot do (no such team, a
    /// password that is too short, …).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// The stores' messages name the file or `host:port`, never a password.
impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Database(e.to_string())
    }
}

impl AppError {
    /// 2 for configuration mistakes, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Settings(_) => 2,
            _ => 1,
        }
    }
}
