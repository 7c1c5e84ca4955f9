//! `apostle`: parse the command line, read the configuration, run the
//! command. A failure prints one line on stderr and exits with 2 for a
//! configuration mistake, 1 for anything else.

use apostle::cli::{self, Cli};
use apostle::{telemetry, AppError, Settings};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Settings::load(cli.config.as_deref())
        .map_err(AppError::from)
        .and_then(|settings| {
            telemetry::init_logging(settings.log_format);
            settings.log_unknown_environment();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| AppError::Refused(format!("cannot start the async runtime: {e}")))?;
            runtime.block_on(async {
                let shutdown = cli::shutdown_signal();
                cli::run(cli.command, settings, shutdown).await
            })
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apostle: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
