//! Storage: every database read and write, on SeaORM. The only module that names `entities`.
//!
//! A workspace's [`Storage`] is opened (and migrated) when the workspace is, and is shared by its
//! actors and its handle. Writes are batched by the callers: one claim, one completion batch,
//! one enqueue batch is one transaction. Times cross this boundary as Unix milliseconds. The
//! statements are the same on both backends; only opening differs.
//!
//! SQLite (the embedded default) keeps one database file per workspace in the data directory,
//! in WAL mode with `synchronous=NORMAL` and a `busy_timeout`, written through a single
//! connection and read through a small read-only pool. A lock file beside the database makes
//! the process that holds it the workspace's only server, so anything still `processing` when
//! a workspace opens belonged to a process that died and is recovered at once.
//!
//! PostgreSQL keeps one schema per workspace and is shared by many servers: claims skip rows
//! other servers locked, jobs of a dead server come back when their leases run out, and a
//! trigger notifies listening servers when jobs become `enqueued`.

mod claim;
pub(crate) mod complete;
mod continuations;
mod counters;
mod enqueue;
mod leases;
mod lists;
mod maintenance;
mod manage;
mod moves;
mod postgres;
mod read;
mod recurring;
mod sqlite;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::Stream;

use sea_orm::DatabaseConnection;

use crate::name::WorkspaceName;

pub(crate) use claim::ClaimedJob;
pub(crate) use complete::{Completion, CompletionReport};
pub(crate) use enqueue::NewJobRow;

pub use lists::{Granularity, HistoryPoint, JobFilter, JobPage, PageStart, ServerInfo};
pub(crate) use maintenance::ServerRow;
pub(crate) use manage::{Action, Transition};
pub use read::{Continuation, HistoryEntry, JobDetails, JobSummary, StoredRetry};
pub use recurring::RecurringJob;
pub(crate) use recurring::{Firing, RecurringRow};
pub use stats::{QueueStats, Stats};

/// Where workspaces keep their jobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageConfig {
    /// One SQLite file per workspace in `dir` (created when missing).
    Sqlite {
        /// The data directory.
        dir: PathBuf,
    },
    /// One schema per workspace in the database `url` names, shared with other servers. When
    /// the database name contains `{workspace}` (`postgres://host/jobs_{workspace}`), each
    /// workspace gets a database of its own instead, created on first use.
    Postgres {
        /// A `postgres://` or `postgresql://` URL.
        url: String,
    },
}

impl StorageConfig {
    /// SQLite files in `dir`.
    pub fn sqlite(dir: impl Into<PathBuf>) -> Self {
        StorageConfig::Sqlite { dir: dir.into() }
    }

    /// PostgreSQL at `url`.
    pub fn postgres(url: impl Into<String>) -> Self {
        StorageConfig::Postgres { url: url.into() }
    }

    /// The backend a database URL names: `postgres://…` or `postgresql://…` for PostgreSQL,
    /// `sqlite://DIR` for SQLite files in `DIR`.
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StorageConfig::postgres(url))
        } else if let Some(dir) = url.strip_prefix("sqlite://") {
            Ok(StorageConfig::sqlite(dir))
        } else {
            Err(StorageError::Config(format!(
                "unsupported database URL `{url}`: use postgres://… or sqlite://DIR"
            )))
        }
    }

    /// Whether workspace `name` has storage already (it was created before).
    pub(crate) async fn exists(&self, name: &WorkspaceName) -> StorageResult<bool> {
        match self {
            StorageConfig::Sqlite { dir } => Ok(dir.join(format!("{name}.db")).exists()),
            StorageConfig::Postgres { url } => postgres::exists(url, name).await,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig::sqlite("stoker-data")
    }
}

/// A storage failure. Its text is for logs; API answers say only that storage is unavailable.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// The data directory or a lock file could not be used.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Another process holds the workspace.
    #[error("workspace `{0}` is open in another process")]
    Locked(String),
    /// A continuation names a parent job that does not exist (nothing was stored).
    #[error("parent job {0} not found")]
    MissingParent(i64),
    /// The storage configuration cannot work (a bad URL, say).
    #[error("{0}")]
    Config(String),
    /// The workspace's name cannot be used on this backend.
    #[error(transparent)]
    Name(#[from] crate::name::InvalidName),
    /// A stored value is not what stoker wrote.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

pub(crate) type StorageResult<T> = Result<T, StorageError>;

/// Errors of the driver itself (connecting, listening), as SeaORM reports them.
impl From<sea_orm::sqlx::Error> for StorageError {
    fn from(error: sea_orm::sqlx::Error) -> Self {
        StorageError::Database(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(
            error.into(),
        )))
    }
}

/// A workspace's database, opened and migrated.
#[derive(Clone)]
pub(crate) struct Storage {
    writer: DatabaseConnection,
    reader: DatabaseConnection,
    /// Runs claims. On PostgreSQL its commits do not wait for the disk: a claim lost in a
    /// database crash only puts its job back in the queue, which at-least-once allows, and the
    /// next durable commit (such as the job's completion) makes it durable anyway.
    claimer: DatabaseConnection,
    /// Statements run so far, for diagnostics (an idle workspace should run none).
    statements: Arc<AtomicU64>,
    backend: Backend,
}

/// What only one backend has.
#[derive(Clone)]
enum Backend {
    /// The lock file that makes this process the workspace's only server.
    Sqlite { lock: Arc<std::fs::File> },
    /// The listener's own pool, and the schema whose notifications matter.
    Postgres {
        listen: sea_orm::sqlx::PgPool,
        schema: String,
    },
}

impl Storage {
    /// Opens (creating and migrating as needed) the storage of `workspace`.
    pub(crate) async fn open(
        config: &StorageConfig,
        workspace: &WorkspaceName,
    ) -> StorageResult<Self> {
        match config {
            StorageConfig::Sqlite { dir } => sqlite::open(dir, workspace).await,
            StorageConfig::Postgres { url } => postgres::open(url, workspace).await,
        }
    }

    /// Whether this process is the workspace's only server: then any job still `processing`
    /// when it opens was left by a process that died. Otherwise other servers share it, and
    /// their jobs come back only when their leases run out.
    pub(crate) fn is_exclusive(&self) -> bool {
        matches!(self.backend, Backend::Sqlite { .. })
    }

    /// Wake-ups for the queue when other servers enqueue (none where no other server can).
    pub(crate) fn wakeups(&self) -> Option<impl Stream<Item = ()> + use<>> {
        match &self.backend {
            Backend::Sqlite { .. } => None,
            Backend::Postgres { listen, schema } => {
                Some(postgres::wakeups(listen.clone(), schema.clone()))
            }
        }
    }

    /// A read transaction whose statements all see the same moment. SQLite's transactions do
    /// by themselves; PostgreSQL's default (read committed) gives each statement a new one.
    pub(crate) async fn snapshot(&self) -> StorageResult<sea_orm::DatabaseTransaction> {
        use sea_orm::{AccessMode, IsolationLevel, TransactionTrait};
        Ok(match self.backend {
            Backend::Sqlite { .. } => self.reader.begin().await?,
            Backend::Postgres { .. } => {
                let (isolation, access) = (IsolationLevel::RepeatableRead, AccessMode::ReadOnly);
                self.reader
                    .begin_with_config(Some(isolation), Some(access))
                    .await?
            }
        })
    }

    /// How many SQL statements this storage has run since it opened.
    pub(crate) fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Closes the connections and releases the workspace's lock, so another process (or a
    /// new runtime in this one) can open it.
    pub(crate) async fn close(&self) {
        for connection in [&self.writer, &self.reader] {
            if let Err(error) = connection.clone().close().await {
                tracing::warn!(%error, "closing a storage connection failed");
            }
        }
        match &self.backend {
            Backend::Sqlite { lock } => {
                if let Err(error) = lock.unlock() {
                    tracing::warn!(%error, "releasing the workspace lock failed");
                }
            }
            Backend::Postgres { listen, .. } => listen.close().await,
        }
    }
}

/// `db`, counting each statement it runs in `statements`.
fn count_statements(mut db: DatabaseConnection, statements: &Arc<AtomicU64>) -> DatabaseConnection {
    let counter = statements.clone();
    db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    db
}
