//! The `stoker` command line: arguments (clap, each flag also read from the environment),
//! logging, and the `serve` (the HTTP API and the workspaces' jobs) and `migrate` commands.

mod jobs;

use std::path::PathBuf;

use actix_web::{App, HttpServer};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use stoker::web::{Access, Token, api};
use stoker::{Stoker, StorageConfig};
use tracing_subscriber::EnvFilter;

/// Persistent background jobs, per workspace.
#[derive(Parser)]
#[command(name = "stoker", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the workspaces' jobs until SIGINT or SIGTERM.
    Serve(Serve),
    /// Creates or updates a workspace's storage to the current schema.
    Migrate(Migrate),
}

#[derive(clap::Args)]
struct Serve {
    /// Address the HTTP API listens on.
    #[arg(long, env = "STOKER_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// SQLite data directory: one database file per workspace.
    #[arg(long, env = "STOKER_DATA_DIR", default_value = "stoker-data")]
    data_dir: PathBuf,
    /// Workspaces opened at start.
    #[arg(long = "workspace", default_value = "default")]
    workspaces: Vec<String>,
    /// Jobs run at once per workspace (default: 5 per core, at most 20).
    #[arg(long, env = "STOKER_WORKERS")]
    workers: Option<usize>,
    /// Queues worked, in priority order.
    #[arg(
        long,
        env = "STOKER_QUEUES",
        value_delimiter = ',',
        default_value = "default"
    )]
    queues: Vec<String>,
    /// Bearer tokens, `TOKEN` (every workspace) or `WS=TOKEN` (one); none: loopback only.
    #[arg(long = "token", env = "STOKER_TOKENS", value_delimiter = ',')]
    tokens: Vec<String>,
    /// Refuse every write over HTTP.
    #[arg(long)]
    read_only: bool,
}

#[derive(clap::Args)]
struct Migrate {
    /// SQLite data directory.
    #[arg(long, env = "STOKER_DATA_DIR")]
    data_dir: PathBuf,
    /// The workspace to migrate.
    #[arg(long)]
    workspace: String,
}

pub(crate) fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    actix_rt::System::new().block_on(async move {
        match cli.command {
            Command::Serve(serve) => run_server(serve).await,
            Command::Migrate(migrate) => {
                let storage = StorageConfig::sqlite(&migrate.data_dir);
                Stoker::migrate(&storage, &migrate.workspace).await?;
                tracing::info!(workspace = %migrate.workspace, "migrated");
                Ok(())
            }
        }
    })
}

async fn run_server(serve: Serve) -> anyhow::Result<()> {
    let mut builder = jobs::register(Stoker::builder())
        .storage(StorageConfig::sqlite(&serve.data_dir))
        .queues(serve.queues);
    if let Some(workers) = serve.workers {
        builder = builder.workers(workers);
    }
    let stoker = builder.build()?;
    for name in &serve.workspaces {
        stoker
            .workspace(name)
            .await
            .with_context(|| format!("opening workspace `{name}`"))?;
    }
    let tokens = serve
        .tokens
        .iter()
        .map(|spec| Token::parse(spec).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let access = Access::loopback().tokens(tokens).read_only(serve.read_only);
    let api_stoker = stoker.clone();
    let server =
        HttpServer::new(move || App::new().configure(api(api_stoker.clone(), access.clone())))
            .disable_signals()
            .bind(&serve.bind)
            .with_context(|| format!("binding {}", serve.bind))?
            .run();
    let http = server.handle();
    actix_rt::spawn(server);
    tracing::info!(bind = %serve.bind, data_dir = %serve.data_dir.display(), workspaces = ?serve.workspaces, "serving");
    wait_for_signal().await?;
    http.stop(true).await;
    tracing::info!("shutting down: running jobs finish or go back to their queues");
    stoker.shutdown().await;
    Ok(())
}

/// Waits for SIGINT or SIGTERM.
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}
