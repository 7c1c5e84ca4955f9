//! The command line: `serve`, `worker`, `migrate`, `sandbox`, `team add`,
//! `user add`, `jobs` and `keys` (`generate`, `rotate`), and what each one does.

use crate::database;
use crate::error::AppError;
use crate::settings::Settings;
use crate::startup::{self, Application};
use apostle_core::connections::{Connection, HealthRunner};
use apostle_core::demo::{self, DEMO_ADMIN, DEMO_AMBASSADOR, DEMO_TEAM_NAME, DEMO_TEAM_SLUG};
use apostle_core::jobs::Runner;
use apostle_core::posts::dispatch::DeliveryRunner;
use apostle_core::store::ConnectionStatus;
use apostle_core::store::JobState;
use apostle_core::{Core, CoreError, StoreError, SystemClock};
use apostle_domain::{AccountId, JobId, Role};
use apostle_encryption::Keyring;
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Apostle: employee advocacy with social connections that stay healthy.
#[derive(Debug, Parser)]
#[command(name = "apostle", version, about)]
pub struct Cli {
    /// A TOML configuration file; `APOSTLE_*` environment variables override it.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web app, the JSON API and the background workers.
    Serve {
        /// Create the demo team "Acme" with two users and print how to sign in.
        #[arg(long)]
        demo: bool,
    },
    /// Run only the background workers (start several to scale out).
    Worker,
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Run the provider sandbox alone.
    Sandbox {
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        /// Factor on token lifetimes (overrides `sandbox.time_scale`).
        #[arg(long, value_name = "F")]
        time_scale: Option<f64>,
    },
    /// Manage teams.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect background jobs and retry dead ones.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Encryption keys for secrets at rest.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inspect members' connections and check one with its provider.
    #[command(subcommand)]
    Connections(ConnectionsCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// List every connection with its health.
    List {
        /// Only broken connections.
        #[arg(long)]
        broken: bool,
    },
    /// Check one connection with its provider now and print its health.
    Check { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a new key entry `ID:BASE64KEY` for `encryption_keys`; put it
    /// first to make it the key that seals, keep older entries after it.
    Generate {
        #[arg(long, default_value = "key-1")]
        id: String,
    },
    /// Seal every stored secret again with the first key of
    /// `encryption_keys`, so the keys after it can then be removed. Give
    /// every running process the new keyring first, or they keep sealing
    /// with the old key. Prints counts per column; exits with 1 if any
    /// value did not open (it is left as it was).
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs in one state, newest first.
    List {
        #[arg(long, default_value = "dead", value_parser = parse_job_state, value_name = "pending|running|dead")]
        state: JobState,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Put a dead job back in the queue with fresh attempts.
    Retry { id: i64 },
}

fn parse_job_state(s: &str) -> Result<JobState, String> {
    JobState::parse(s).map_err(|_| "expected pending, running or dead".to_owned())
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create a team.
    Add {
        /// Short name used in links, e.g. `acme`.
        slug: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (or update an existing one) and put them in a team.
    /// The password comes from APOSTLE_PASSWORD, else it is asked for.
    Add {
        email: String,
        #[arg(long)]
        name: String,
        /// The team's slug.
        #[arg(long)]
        team: String,
        #[arg(long, value_name = "admin|ambassador")]
        role: Role,
    },
}

/// Runs one command to its end. `shutdown` turning true stops the
/// long-running ones (`serve`, `worker`, `sandbox`) gracefully.
pub async fn run(
    command: Command,
    settings: Settings,
    shutdown: watch::Receiver<bool>,
) -> Result<(), AppError> {
    match command {
        Command::Serve { demo } => serve(settings, demo, shutdown).await,
        Command::Worker => worker(settings, shutdown).await,
        Command::Migrate => {
            database::open(&settings.database).await?;
            println!("{} is up to date", settings.database.describe());
            Ok(())
        }
        Command::Sandbox { listen, time_scale } => {
            let mut settings = settings;
            if let Some(scale) = time_scale {
                settings.sandbox.time_scale = scale;
            }
            sandbox(settings, listen, shutdown).await
        }
        Command::Team(TeamCommand::Add { slug, name }) => {
            let core = command_core(&settings).await?;
            let team = core.create_team(&slug, &name).await.map_err(|e| match e {
                CoreError::Store(StoreError::Conflict(_)) => {
                    AppError::Refused(format!("a team with the slug \"{slug}\" already exists"))
                }
                other => other.into(),
            })?;
            println!("created team {} ({})", team.slug, team.name);
            Ok(())
        }
        Command::Keys(KeysCommand::Generate { id }) => {
            let entry = Keyring::generate_entry(&id);
            Keyring::parse(&entry).map_err(|e| AppError::Refused(format!("--id: {e}")))?;
            println!("{}", entry.expose_secret());
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate) => rotate_keys(&settings).await,
        Command::Jobs(JobsCommand::List { state, limit }) => {
            let core = command_core(&settings).await?;
            let jobs = core.jobs_in_state(state, limit).await?;
            if jobs.is_empty() {
                println!("no {} jobs", state.as_str());
            }
            for job in jobs {
                println!(
                    "{}\t{}\tattempts {}/{}\tdue {}\t{}",
                    job.id,
                    job.kind,
                    job.attempts,
                    job.max_attempts,
                    job.run_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    job.last_error.as_deref().unwrap_or("-"),
                );
            }
            Ok(())
        }
        Command::Connections(ConnectionsCommand::List { broken }) => {
            let core = command_core(&settings).await?;
            let all = core.all_connections().await?;
            let shown: Vec<_> = all
                .iter()
                .filter(|c| !broken || c.status == ConnectionStatus::Broken)
                .collect();
            if shown.is_empty() {
                println!("no connections");
            }
            for c in shown {
                println!("{}", connection_line(c));
            }
            Ok(())
        }
        Command::Connections(ConnectionsCommand::Check { id }) => {
            let core = command_core(&settings).await?;
            let (outcome, connection) = core
                .check_connection_as_operator(AccountId(id))
                .await
                .map_err(|e| match e {
                    CoreError::NotFound(_) => {
                        AppError::Refused(format!("there is no connection {id}"))
                    }
                    other => other.into(),
                })?;
            println!("check: {outcome:?}");
            println!("{}", connection_line(&connection));
            Ok(())
        }
        Command::Jobs(JobsCommand::Retry { id }) => {
            let core = command_core(&settings).await?;
            core.retry_dead_job(JobId(id)).await.map_err(|e| match e {
                CoreError::NotFound(_) => AppError::Refused(format!("there is no dead job {id}")),
                other => other.into(),
            })?;
            println!("job {id} is queued again");
            Ok(())
        }
        Command::User(UserCommand::Add {
            email,
            name,
            team,
            role,
        }) => {
            let password = password_for(&email).await?;
            let core = command_core(&settings).await?;
            core.add_user(&team, &email, &name, role, password)
                .await
                .map_err(|e| match e {
                    CoreError::NotFound("team") => AppError::Refused(format!(
                        "there is no team \"{team}\"; create it with `apostle team add {team} --name NAME`"
                    )),
                    other => other.into(),
                })?;
            println!("{email} is {} of team {team}", role.as_str());
            Ok(())
        }
    }
}

/// One connection on one line: id, provider, kind, name, team, health, who.
fn connection_line(c: &Connection) -> String {
    let health = match (c.status, c.reason) {
        (ConnectionStatus::Broken, Some(reason)) => format!("broken ({reason})"),
        (status, _) => status.as_str().to_owned(),
    };
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\tconnected by {}",
        c.id.0,
        c.provider,
        c.kind.as_str(),
        c.name,
        c.team.as_ref().map_or("-", |(slug, _)| slug.as_str()),
        health,
        c.connected_by
    )
}

/// The services for a command that serves no HTTP: links point at the
/// public URL, or at the configured listen address.
/// Providers are those with credentials: the sandbox lives inside `serve`.
async fn command_core(settings: &Settings) -> Result<Core, AppError> {
    let public_url = settings.public_url_for(settings.listen);
    let clock: Arc<dyn apostle_core::Clock> = Arc::new(SystemClock);
    let mut core = startup::build_core(settings, public_url, Arc::clone(&clock)).await?;
    let providers = crate::providers::provider_configs(settings, None)?;
    core.connections = Arc::new(startup::connections(settings, providers, None, clock)?);
    Ok(core)
}

async fn rotate_keys(settings: &Settings) -> Result<(), AppError> {
    let core = command_core(settings).await?;
    let report = core.rotate_keys().await?;
    println!("sealed values under key {}:", report.active_key);
    for (column, counts) in &report.columns {
        println!(
            "  {:<26} resealed {:>6}  current {:>6}  unreadable {:>6}  changed meanwhile {:>6}",
            column.as_str(),
            counts.resealed,
            counts.current,
            counts.unreadable,
            counts.changed,
        );
    }
    core.store.close().await;
    match report.unreadable() {
        0 => Ok(()),
        n => Err(AppError::Refused(format!(
            "{n} sealed value(s) did not open with any key in encryption_keys and were left \
             as they were (logged with their column and row id); keep the keys they need \
             until they are dealt with"
        ))),
    }
}

async fn serve(
    settings: Settings,
    demo: bool,
    shutdown: watch::Receiver<bool>,
) -> Result<(), AppError> {
    log_start("starting", &settings);
    let app = if demo {
        Application::build_demo(settings).await?
    } else {
        Application::build(settings).await?
    };
    if demo {
        seed_demo(&app).await?;
        if app.serves_sandbox() {
            // Served by this process: the flows run once it is listening.
            let core = app.core().clone();
            tokio::spawn(async move {
                match crate::demo_connections::connect(&core).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(connected = n, "demo connections made through the sandbox")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "connecting the demo through the sandbox")
                    }
                }
            });
        }
    }
    app.run_until_stopped(shutdown).await
}

fn log_start(message: &str, settings: &Settings) {
    tracing::info!(
        database = %settings.database.describe(),
        mail = %settings.mail,
        "{message}"
    );
}

/// Seeds the demo and prints how to sign in. The password is
/// `APOSTLE_DEMO_PASSWORD` or a fresh one; seeding again only resets it.
async fn seed_demo(app: &Application) -> Result<(), AppError> {
    let (password, shown) = match std::env::var("APOSTLE_DEMO_PASSWORD") {
        Ok(p) if !p.is_empty() => (
            SecretString::from(p),
            "(the value of APOSTLE_DEMO_PASSWORD)".to_owned(),
        ),
        _ => {
            let generated: String = apostle_core::secrets::random_token()
                .chars()
                .take(16)
                .collect();
            (SecretString::from(generated.clone()), generated)
        }
    };
    demo::seed(app.core(), &password).await?;
    let url = app.public_url().as_str().trim_end_matches('/');
    println!("Apostle demo is running at {url}");
    println!("  team:       {DEMO_TEAM_NAME} ({DEMO_TEAM_SLUG})");
    println!("  admin:      {}", DEMO_ADMIN.0);
    println!("  ambassador: {}", DEMO_AMBASSADOR.0);
    println!("  password:   {shown}");
    if app.serves_sandbox() {
        println!("  providers:  sandbox at {url}/sandbox");
        crate::demo_connections::print_story(url);
    }
    Ok(())
}

async fn worker(settings: Settings, shutdown: watch::Receiver<bool>) -> Result<(), AppError> {
    log_start("starting workers", &settings);
    let core = command_core(&settings).await?;
    let health = tokio::spawn(HealthRunner::new(core.clone()).run(shutdown.clone()));
    let deliveries = tokio::spawn(DeliveryRunner::new(core.clone()).run(shutdown.clone()));
    Runner::with_all_jobs(core.clone(), startup::runner_config(&settings))
        .run(shutdown)
        .await;
    if let Err(e) = health.await {
        tracing::error!(error = %e, "connection health runner ended abnormally");
    }
    if let Err(e) = deliveries.await {
        tracing::error!(error = %e, "delivery runner ended abnormally");
    }
    core.store.close().await;
    Ok(())
}

async fn sandbox(
    settings: Settings,
    listen: SocketAddr,
    shutdown: watch::Receiver<bool>,
) -> Result<(), AppError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| AppError::Listen {
            address: listen,
            source,
        })?;
    let address = listener.local_addr().map_err(|source| AppError::Listen {
        address: listen,
        source,
    })?;
    // Its consent page redirects to whichever client asked, on any site.
    let router = apostle_web::with_security_headers(
        startup::sandbox(&settings).router(),
        &["http:".to_owned(), "https:".to_owned()],
    );
    tracing::info!(%address, time_scale = settings.sandbox.time_scale, "provider sandbox listening");
    println!("provider sandbox at http://{address}/sandbox");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(startup::stopped(shutdown))
    .await
    .map_err(AppError::Serve)
}

/// The new user's password: `APOSTLE_PASSWORD`, else typed at the
/// terminal without echo (twice), else one line of standard input.
async fn password_for(email: &str) -> Result<SecretString, AppError> {
    if let Ok(p) = std::env::var("APOSTLE_PASSWORD") {
        if !p.is_empty() {
            return Ok(p.into());
        }
    }
    let email = email.to_owned();
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        if std::io::stdin().is_terminal() {
            let first = rpassword::prompt_password(format!("Password for {email}: "))?;
            let again = rpassword::prompt_password("Same password again: ")?;
            if first != again {
                return Err(std::io::Error::other("the two passwords differ"));
            }
            Ok(first)
        } else {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            Ok(line.trim_end_matches(['\r', '\n']).to_owned())
        }
    })
    .await
    .map_err(|e| AppError::Refused(format!("reading the password failed: {e}")))?
    .map_err(|e| AppError::Refused(format!("could not read the password: {e}")))?;
    if read.is_empty() {
        return Err(AppError::Refused(
            "no password given: set APOSTLE_PASSWORD or type it when asked".to_owned(),
        ));
    }
    Ok(read.into())
}

/// A channel that turns true on Ctrl-C or SIGTERM.
pub fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing requests and jobs");
        let _ = tx.send(true);
    });
    rx
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
