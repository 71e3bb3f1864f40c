//! Storage: every database read and write, on SeaORM. The only module that names `entities`.
//!
//! A workspace's [`Storage`] is opened (and migrated) when the workspace is, and is shared by its
//! actors and its handle. Writes are batched by the callers: one claim, one completion batch,
//! one enqueue batch is one transaction. Times cross this boundary as Unix milliseconds.
//!
//! SQLite (the embedded default) keeps one database file per workspace in the data directory,
//! in WAL mode with `synchronous=NORMAL` and a `busy_timeout`, written through a single
//! connection and read through a small read-only pool. A lock file beside the database makes
//! the process that holds it the workspace's only server, so anything still `processing` when
//! a workspace opens belonged to a process that died and is recovered at once.

mod claim;
pub(crate) mod complete;
mod continuations;
mod counters;
mod enqueue;
mod lists;
mod maintenance;
mod manage;
mod moves;
mod read;
mod recurring;
mod sqlite;
mod stats;

use std::path::PathBuf;

use sea_orm::DatabaseConnection;

use crate::name::WorkspaceName;

pub(crate) use claim::ClaimedJob;
pub(crate) use complete::{Completion, CompletionReport};
pub(crate) use enqueue::NewJobRow;

pub use lists::{Granularity, HistoryPoint, JobFilter, JobPage, ServerInfo};
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
}

impl StorageConfig {
    /// SQLite files in `dir`.
    pub fn sqlite(dir: impl Into<PathBuf>) -> Self {
        StorageConfig::Sqlite { dir: dir.into() }
    }
}

impl StorageConfig {
    /// Whether workspace `name` has storage already (it was created before).
    pub fn exists(&self, name: &WorkspaceName) -> bool {
        match self {
            StorageConfig::Sqlite { dir } => dir.join(format!("{name}.db")).exists(),
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
    /// A stored value is not what stoker wrote.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

pub(crate) type StorageResult<T> = Result<T, StorageError>;

/// A workspace's database, opened and migrated.
#[derive(Clone)]
pub(crate) struct Storage {
    writer: DatabaseConnection,
    reader: DatabaseConnection,
    /// Statements run so far, for diagnostics (an idle workspace should run none).
    statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
    lock: std::sync::Arc<std::fs::File>,
}

impl Storage {
    /// Opens (creating and migrating as needed) the storage of `workspace`.
    pub(crate) async fn open(
        config: &StorageConfig,
        workspace: &WorkspaceName,
    ) -> StorageResult<Self> {
        match config {
            StorageConfig::Sqlite { dir } => sqlite::open(dir, workspace).await,
        }
    }

    /// How many SQL statements this storage has run since it opened.
    pub(crate) fn statements(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Closes the connections and releases the workspace's lock, so another process (or a
    /// new runtime in this one) can open it.
    pub(crate) async fn close(&self) {
        for connection in [&self.writer, &self.reader] {
            if let Err(error) = connection.clone().close().await {
                tracing::warn!(%error, "closing a storage connection failed");
            }
        }
        if let Err(error) = self.lock.unlock() {
            tracing::warn!(%error, "releasing the workspace lock failed");
        }
    }
}
