//! Storage: every database read and write, on SeaORM. The only module that names `entities`.
//!
//! A workspace's [`Storage`] is opened (and migrated) through the server's [`Databases`] when
//! the workspace is, and is shared by its actors and its handle. Every statement runs in a
//! transaction from [`Storage::read`], [`Storage::write`] or [`Storage::snapshot`], which on
//! PostgreSQL first points the shared connection at the store's schema; a claim
//! ([`Storage::claiming`]) does the same in one round trip. Writes are batched by the callers:
//! one claim, one completion batch, one enqueue batch is one transaction. Times cross this
//! boundary as Unix milliseconds.
//!
//! Every row carries its workspace in a `workspace` column that leads every key, and every
//! statement binds it ([`Storage::key`]). Where the rows live is the placement
//! ([`StorageConfig`]); the statements are the same in all of them, and what differs between
//! placements and between SQLite and PostgreSQL lives in [`placement`], whose doc has the
//! table of it.

mod app_transaction;
mod claim;
pub(crate) mod complete;
mod continuations;
mod counters;
mod due;
pub(crate) use due::CaughtUp;
mod enqueue;
mod history;
mod leases;
mod lists;
mod manage;
mod moves;
mod placement;
#[cfg(all(test, feature = "sqlite"))]
mod query_plans;
mod read;
mod recurring;
mod scope;
#[cfg(test)]
mod scoping_tests;
#[cfg(test)]
mod state_machine_tests;
mod states;
mod stats;
mod text;
mod unique;
mod upkeep;
mod workspaces;

#[cfg(feature = "sqlite")]
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::DatabaseConnection;

pub(crate) use claim::{ClaimFloors, ClaimedJob};
pub(crate) use complete::{Completion, CompletionReport};
pub(crate) use enqueue::{Created, NewJobRow};
use placement::Backend;
pub(crate) use placement::databases::{DEFAULT_READ_TIMEOUT, Databases, Notice};
#[cfg(feature = "postgres")]
use placement::postgres;
pub(crate) use unique::UniqueRow;

pub use lists::{Granularity, HistoryPoint, JobFilter, JobPage, PageStart, ServerInfo};
pub(crate) use manage::{Action, Transition};
pub(crate) use moves::Retention;
pub use read::{Continuation, HistoryEntry, JobDetails, JobSummary, StoredRetry, StoredUnique};
pub use recurring::RecurringJob;
pub(crate) use recurring::{Fired, Firing, JobOptions, RecurringRow, StoredRecurring};
pub(crate) use scope::{RetentionOf, Scope};
pub use stats::{QueueStats, Stats};
pub(crate) use upkeep::{Round, ServerRow, Upkept};

/// Where workspaces keep their jobs: the placement of their rows. Every row carries its
/// workspace, so workspaces can share one set of tables (the placement that scales to many
/// tenants) or each have a store of their own (the placement that isolates them).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageConfig {
    /// One SQLite file per workspace in `dir` (created when missing): the embedded default.
    #[cfg(feature = "sqlite")]
    Sqlite {
        /// The data directory.
        dir: PathBuf,
    },
    /// Every workspace in one SQLite file (created when missing).
    #[cfg(feature = "sqlite")]
    SqliteFile {
        /// The database file.
        path: PathBuf,
    },
    /// Every workspace in shared tables, in schema `stoker` of the database `url` names,
    /// shared with other servers. When the database name contains `{workspace}`
    /// (`postgres://host/jobs_{workspace}`), each workspace gets a database of its own instead,
    /// created on first use.
    #[cfg(feature = "postgres")]
    Postgres {
        /// A `postgres://` or `postgresql://` URL.
        url: String,
    },
    /// A schema per workspace in the database `url` names: the layout before 0.2.
    #[cfg(feature = "postgres")]
    PostgresSchemas {
        /// A `postgres://` or `postgresql://` URL.
        url: String,
    },
}

impl StorageConfig {
    /// A SQLite file per workspace in `dir`.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(dir: impl Into<PathBuf>) -> Self {
        StorageConfig::Sqlite { dir: dir.into() }
    }

    /// Every workspace in the SQLite file `path`.
    #[cfg(feature = "sqlite")]
    pub fn sqlite_file(path: impl Into<PathBuf>) -> Self {
        StorageConfig::SqliteFile { path: path.into() }
    }

    /// PostgreSQL at `url`: shared tables, or a database per workspace when the database name
    /// contains `{workspace}`.
    #[cfg(feature = "postgres")]
    pub fn postgres(url: impl Into<String>) -> Self {
        StorageConfig::Postgres { url: url.into() }
    }

    /// PostgreSQL at `url`, a schema per workspace.
    #[cfg(feature = "postgres")]
    pub fn postgres_schema_per_workspace(url: impl Into<String>) -> Self {
        StorageConfig::PostgresSchemas { url: url.into() }
    }

    /// The placement a database URL names: `postgres://…` or `postgresql://…` for PostgreSQL
    /// (shared tables, or a database per workspace with `{workspace}`), `sqlite:PATH` (or
    /// `sqlite://PATH`) for every workspace in the SQLite file `PATH`. A `PATH` that is an
    /// existing directory keeps the meaning it had before 0.2: a file per workspace in it.
    ///
    /// A URL of a backend this build leaves out (see the crate's features) is refused.
    pub fn from_url(url: &str) -> crate::Result<Self> {
        Ok(placement_of(url)?)
    }

    /// This placement with a schema per workspace, where it is PostgreSQL's shared tables;
    /// refused for any other placement.
    pub fn with_schema_per_workspace(self) -> crate::Result<Self> {
        match self {
            #[cfg(feature = "postgres")]
            StorageConfig::Postgres { url } if !url.contains("{workspace}") => {
                Ok(StorageConfig::PostgresSchemas { url })
            }
            #[cfg(feature = "postgres")]
            StorageConfig::PostgresSchemas { .. } => Ok(self),
            _ => Err(crate::Error::InvalidConfig(
                "a schema per workspace needs a postgres URL that names one database".into(),
            )),
        }
    }
}

/// The placement a database URL names (see [`StorageConfig::from_url`]).
fn placement_of(url: &str) -> StorageResult<StorageConfig> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return postgres_url(url);
    }
    match url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .filter(|path| !path.is_empty())
    {
        Some(path) => sqlite_path(std::path::Path::new(path)),
        None => Err(StorageError::Config(format!(
            "unsupported database URL `{url}`: use postgres://… or sqlite:PATH"
        ))),
    }
}

/// The placement a `postgres://` URL names, where PostgreSQL is built in.
fn postgres_url(url: &str) -> Result<StorageConfig, StorageError> {
    #[cfg(feature = "postgres")]
    return Ok(StorageConfig::postgres(url));
    #[cfg(not(feature = "postgres"))]
    Err(not_built(url, "postgres"))
}

/// The placement a `sqlite:PATH` URL names, where SQLite is built in. A `path` that is an
/// existing directory keeps the meaning it had before 0.2: a file per workspace in it.
fn sqlite_path(path: &std::path::Path) -> Result<StorageConfig, StorageError> {
    #[cfg(feature = "sqlite")]
    {
        if path.is_dir() {
            tracing::warn!(
                dir = %path.display(),
                "sqlite: naming a directory means a file per workspace in it, as before 0.2; \
                 use --data-dir for that, and sqlite:PATH for one file"
            );
            return Ok(StorageConfig::sqlite(path));
        }
        Ok(StorageConfig::sqlite_file(path))
    }
    #[cfg(not(feature = "sqlite"))]
    Err(not_built(&path.display().to_string(), "sqlite"))
}

/// The refusal of a URL whose backend this build leaves out.
#[cfg(not(all(feature = "sqlite", feature = "postgres")))]
fn not_built(url: &str, feature: &str) -> StorageError {
    StorageError::Config(format!(
        "`{url}` needs stoker's `{feature}` feature, which this build leaves out"
    ))
}

/// The placement, for logs: the URL is left out (it may hold a password).
impl std::fmt::Display for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            #[cfg(feature = "sqlite")]
            StorageConfig::Sqlite { dir } => {
                write!(f, "SQLite, a file per workspace in {}", dir.display())
            }
            #[cfg(feature = "sqlite")]
            StorageConfig::SqliteFile { path } => {
                write!(f, "SQLite, every workspace in {}", path.display())
            }
            #[cfg(feature = "postgres")]
            StorageConfig::Postgres { url } if url.contains("{workspace}") => {
                f.write_str("PostgreSQL, a database per workspace")
            }
            #[cfg(feature = "postgres")]
            StorageConfig::Postgres { .. } => write!(
                f,
                "PostgreSQL, every workspace in the shared tables of schema `{}`",
                postgres::SHARED_SCHEMA
            ),
            #[cfg(feature = "postgres")]
            StorageConfig::PostgresSchemas { .. } => {
                f.write_str("PostgreSQL, a schema per workspace")
            }
        }
    }
}

/// A file per workspace in `stoker-data`, where SQLite is built in; PostgreSQL has no default.
#[cfg(feature = "sqlite")]
impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig::sqlite("stoker-data")
    }
}

/// A storage failure. Its text is for logs; API answers say only that storage is unavailable.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StorageError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// The data directory or a lock file could not be used.
    #[cfg(feature = "sqlite")]
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Another process holds the store (a workspace's file, or the file all share).
    #[cfg(feature = "sqlite")]
    #[error("{0} is open in another process")]
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
    /// Concurrent writers kept changing what a write depends on; trying again may succeed.
    #[error("contended: {0}")]
    Contended(String),
    /// One failure answered to every call that shared the failed write.
    #[error(transparent)]
    Shared(Arc<StorageError>),
}

pub(crate) type StorageResult<T> = Result<T, StorageError>;

impl StorageError {
    /// Whether the database ran the statement and refused what it was given (a value it
    /// cannot store, a constraint, a trigger's error): the same statement would be refused
    /// again, while leaving out what it refused would go through. Every other failure (a lost
    /// connection, a timeout, a locked or full database) passes with time.
    pub(crate) fn is_refusal(&self) -> bool {
        use sea_orm::{DbErr, RuntimeErr, sqlx};
        let error = match self {
            StorageError::Shared(shared) => return shared.is_refusal(),
            StorageError::Database(DbErr::Exec(error) | DbErr::Query(error)) => error,
            _ => return false,
        };
        let RuntimeErr::SqlxError(error) = error else {
            return false;
        };
        let sqlx::Error::Database(error) = error.as_ref() else {
            return false;
        };
        placement::is_refusal(error.as_ref())
    }
}

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
    /// Runs writes: SQLite's single writing connection, or the database's shared pool.
    writer: DatabaseConnection,
    /// Runs reads: SQLite's read-only connections, or the database's shared pool.
    reader: DatabaseConnection,
    /// Statements run so far, for diagnostics (an idle workspace should run none).
    statements: Arc<AtomicU64>,
    /// How long the workspace's jobs are kept once they end.
    retention: Retention,
    /// The value of the `workspace` column of the workspace's rows, which every statement
    /// binds: its name where workspaces share the tables, `''` in a store of its own.
    key: Arc<str>,
    /// Set on a view of the whole store (see [`Storage::whole_store`]): how long each
    /// workspace's jobs are kept.
    store_wide: Option<scope::RetentionOf>,
    backend: Backend,
}

impl Storage {
    /// This storage, keeping the jobs that end as `retention` says (by default a day, and a
    /// week for failed jobs).
    pub(crate) fn retaining(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The workspace's rows' `workspace` value (see [`Storage::key`]'s field).
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// How many SQL statements this storage has run since it opened.
    pub(crate) fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// This store's storage for the workspace whose rows carry `key` (in a store that
    /// workspaces share), counting its own statements.
    #[cfg(feature = "sqlite")]
    pub(crate) fn of_workspace(&self, key: &str) -> Storage {
        let statements = Arc::new(AtomicU64::new(0));
        Storage {
            writer: count_statements(self.writer.clone(), &statements),
            reader: count_statements(self.reader.clone(), &statements),
            statements,
            key: Arc::from(key),
            ..self.clone()
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
