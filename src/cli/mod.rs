//! The `stoker` command line: arguments (clap, each flag also read from the environment),
//! logging, and the `serve` (the HTTP API and the workspaces' jobs) and `migrate` commands.

mod jobs;

use std::path::{Path, PathBuf};
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use stoker::outgoing::{Allow, Destinations};
use stoker::web::{Access, Token, api, dashboard};
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
    ///
    /// Built-in job types: `noop` {}, `sleep` {"ms"}, `fail` {"message"?, "times"?} and `http`
    /// {"url", "method"?, "headers"?, "body"?, "timeout_ms"?}. `http` calls public addresses
    /// only, unless --http-allow names the destination: every address the host resolves to is
    /// checked and the connection goes to a checked one. It follows no redirects (a 3xx answer
    /// fails the attempt), and waits 30,000 ms for an answer unless `timeout_ms` says otherwise
    /// (at most 300,000).
    Serve(Serve),
    /// Creates or updates a workspace's storage to the current schema.
    Migrate(Migrate),
}

#[derive(clap::Args)]
struct Serve {
    /// Address the HTTP API listens on.
    #[arg(long, env = "STOKER_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    #[command(flatten)]
    storage: StorageArgs,
    /// Workspaces created at start (if missing); all workspaces in storage are served.
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
    /// Bearer tokens of at least 16 characters, `TOKEN` (every workspace) or `WS=TOKEN` (one);
    /// none: loopback only.
    #[arg(long = "token", env = "STOKER_TOKENS", value_delimiter = ',')]
    tokens: Vec<String>,
    /// Refuse every write over HTTP.
    #[arg(long)]
    read_only: bool,
    /// Destinations the `http` job type may call besides public addresses: host names,
    /// `*.suffix` (any name under suffix), IP addresses and CIDR ranges (`10.0.0.0/8`); repeat
    /// the flag or separate them with commas.
    #[arg(
        long = "http-allow",
        env = "STOKER_HTTP_ALLOW",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    http_allow: Vec<Allow>,
    /// Leave the built-in `http` job type out: enqueuing one answers `unknown_job_type`.
    #[arg(long)]
    no_http_jobs: bool,
    /// Jobs run at once on this server, all workspaces together; workspaces take turns
    /// (default: 100, or --workers if that is more).
    #[arg(long, env = "STOKER_MAX_RUNNING")]
    max_running: Option<usize>,
    /// PostgreSQL connections per database, shared by all workspaces (plus one listening).
    #[arg(long, env = "STOKER_MAX_CONNECTIONS", default_value_t = 10)]
    max_connections: u32,
    /// Seconds a workspace stays open with nothing to do; then it is released until it is
    /// used or due again.
    #[arg(long, env = "STOKER_IDLE_SECONDS", default_value_t = 30)]
    idle_seconds: u64,
    /// Seconds between heartbeats, which renew the leases of running jobs.
    #[arg(long, env = "STOKER_HEARTBEAT_SECONDS", default_value_t = 30)]
    heartbeat_seconds: u64,
    /// Seconds a running job's lease lasts without a heartbeat; then another server may run
    /// it again (at least two heartbeats).
    #[arg(long, env = "STOKER_LEASE_SECONDS", default_value_t = 90)]
    lease_seconds: u64,
    /// Hours succeeded and deleted jobs are kept (at most ten years).
    #[arg(long, env = "STOKER_RETENTION_HOURS", default_value_t = 24,
          value_parser = clap::value_parser!(u64).range(0..=TEN_YEARS_IN_HOURS))]
    retention_hours: u64,
    /// Days failed jobs are kept, to be looked at and requeued (at most ten years).
    #[arg(long, env = "STOKER_FAILED_RETENTION_DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u64).range(0..=TEN_YEARS_IN_HOURS / 24))]
    failed_retention_days: u64,
}

/// The longest retention the flags take: the longest duration stoker takes from outside.
const TEN_YEARS_IN_HOURS: u64 = stoker::bounds::MAX_DURATION_SECONDS / HOUR_SECONDS;

/// Seconds in an hour.
const HOUR_SECONDS: u64 = 3600;

#[derive(clap::Args)]
struct Migrate {
    #[command(flatten)]
    storage: StorageArgs,
    /// The workspace to migrate.
    #[arg(long)]
    workspace: String,
}

/// Where workspaces keep their jobs: SQLite files, or the database a URL names.
#[derive(clap::Args)]
struct StorageArgs {
    /// SQLite data directory: one database file per workspace [default: stoker-data].
    #[arg(long, env = "STOKER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Instead of --data-dir: `sqlite:PATH` (every workspace in one SQLite file),
    /// `postgres://…/DB` (every workspace in shared tables of DB, in the schema `stoker`), or
    /// `postgres://…/p_{workspace}` (a database per workspace).
    #[arg(long, env = "STOKER_DATABASE_URL")]
    database_url: Option<String>,
    /// With a postgres URL that names one database: a schema per workspace instead of shared
    /// tables (the layout before 0.2).
    #[arg(long)]
    schema_per_workspace: bool,
}

impl StorageArgs {
    /// The storage named, or SQLite in `default_dir` when none is (an error without one).
    fn config(&self, default_dir: Option<&str>) -> anyhow::Result<StorageConfig> {
        let dir = self.data_dir.as_deref().or(default_dir.map(Path::new));
        let config = match (&self.database_url, dir) {
            (Some(url), _) => StorageConfig::from_url(url)?,
            (None, Some(dir)) => StorageConfig::sqlite(dir),
            (None, None) => anyhow::bail!("give --data-dir DIR or --database-url URL"),
        };
        match self.schema_per_workspace {
            true => Ok(config
                .with_schema_per_workspace()
                .context("--schema-per-workspace")?),
            false => Ok(config),
        }
    }
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
                let storage = migrate.storage.config(None)?;
                Stoker::migrate(&storage, &migrate.workspace).await?;
                tracing::info!(workspace = %migrate.workspace, "migrated");
                Ok(())
            }
        }
    })
}

async fn run_server(serve: Serve) -> anyhow::Result<()> {
    survive_file_size_limit()?;
    let access = Access::loopback()
        .tokens(tokens(&serve.tokens)?)
        .read_only(serve.read_only);
    let storage = serve.storage.config(Some("stoker-data"))?;
    let http = (!serve.no_http_jobs).then(|| Destinations::allowing(serve.http_allow));
    let mut builder = jobs::register(Stoker::builder(), http)
        .storage(storage.clone())
        .heartbeat(Duration::from_secs(serve.heartbeat_seconds.max(1)))
        .lease(Duration::from_secs(serve.lease_seconds))
        .max_connections(serve.max_connections)
        .idle_timeout(Duration::from_secs(serve.idle_seconds))
        .retention(Duration::from_secs(serve.retention_hours * HOUR_SECONDS))
        .failed_retention(Duration::from_secs(
            serve.failed_retention_days * 24 * HOUR_SECONDS,
        ))
        .queues(serve.queues);
    if let Some(workers) = serve.workers {
        builder = builder.workers(workers);
    }
    if let Some(jobs) = serve.max_running {
        builder = builder.max_running(jobs);
    }
    let stoker = builder.build()?;
    for name in &serve.workspaces {
        stoker
            .workspace(name)
            .await
            .with_context(|| format!("opening workspace `{name}`"))?;
    }
    let api_stoker = stoker.clone();
    let server = HttpServer::new(move || {
        let dashboard = dashboard(api_stoker.clone(), access.clone());
        App::new()
            .service(web::scope("/dashboard").configure(dashboard))
            .configure(api(api_stoker.clone(), access.clone()))
    })
    .disable_signals()
    .bind(&serve.bind)
    .with_context(|| format!("binding {}", serve.bind))?
    .run();
    let http = server.handle();
    actix_rt::spawn(server);
    tracing::info!(bind = %serve.bind, %storage, workspaces = ?serve.workspaces, "serving");
    wait_for_signal().await?;
    http.stop(true).await;
    tracing::info!("shutting down: running jobs finish or go back to their queues");
    stoker.shutdown().await;
    Ok(())
}

/// The tokens of `--token` and `STOKER_TOKENS`, checked before anything starts.
fn tokens(specs: &[String]) -> anyhow::Result<Vec<Token>> {
    specs
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            Token::parse(spec).map_err(|problem| {
                anyhow::anyhow!("--token / STOKER_TOKENS, entry {}: {problem}", index + 1)
            })
        })
        .collect()
}

/// Makes a write past the file-size limit (`ulimit -f`) an error the storage reports, as a
/// full disk is, rather than SIGXFSZ killing the process: PostgreSQL's servers do the same.
/// A handler registered once replaces the default action for the life of the process.
fn survive_file_size_limit() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let _registered = signal(SignalKind::from_raw(libc::SIGXFSZ))?;
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
