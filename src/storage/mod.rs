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
//! ([`StorageConfig`]); the statements are the same in all of them:
//!
//! | placement | a store per | `workspace` | connections | migrated |
//! |---|---|---|---|---|
//! | SQLite, a file per workspace (`--data-dir`) | workspace | `''` | a writer and up to 2 readers per open workspace | at each first open |
//! | SQLite, one file (`sqlite:PATH`) | file | the name | a writer and up to 2 readers | once, at first use |
//! | PostgreSQL, shared tables (schema `stoker`) | database | the name | one pool and one listener per database | once, under an advisory lock |
//! | PostgreSQL, a schema per workspace | workspace | `''` | the database's pool and listener | at each first open |
//! | PostgreSQL, a database per workspace (`{workspace}`) | workspace | `''` | a pool and a listener per open workspace | at each first open |
//!
//! A store of its own keeps `''` in the column, so that renaming its file or schema still
//! renames the workspace, and an older store needs no rewrite. A shared store lists its
//! workspaces in `workspaces`; job ids are one sequence per store, and a job of another
//! workspace is simply not found. Its housekeeping (heartbeat, recovery, expiry, the due
//! passes) runs once for all its workspaces, through a view of the whole store (see
//! [`scope`]); its own rows, servers and the upkeep lease, carry `''`.
//!
//! What differs between the backends:
//!
//! | | SQLite | PostgreSQL |
//! |---|---|---|
//! | history rows | the migration's triggers | the writing statement's `WITH` (see `history`) |
//! | claim | one statement on the writer | one simple query, `synchronous_commit = off` |
//! | claim order | `id` | `id + 0` (see `claim`) |
//! | row locks (`SKIP LOCKED`, `FOR SHARE`) | none: one writer | as written |
//! | durable enqueue | `synchronous = FULL` for its turn ([`Storage::durably`]) | every commit |
//! | snapshot reads | any transaction | repeatable read, read only |
//! | read timeout | the busy timeout | `statement_timeout` per read |
//! | wake-ups | in-process messages | `pg_notify('stoker_enqueued', workspace)` and a listener |
//! | one server per store | a lock file: what runs at open was left by a dead process | leases, recovered when they lapse |

mod claim;
pub(crate) mod complete;
mod continuations;
mod counters;
mod databases;
mod due;
mod enqueue;
mod history;
mod leases;
mod lists;
mod manage;
mod moves;
mod postgres;
mod read;
mod recurring;
mod scope;
#[cfg(test)]
mod scoping_tests;
mod session;
mod sqlite;
#[cfg(test)]
mod state_machine_tests;
mod states;
mod stats;
mod text;
mod upkeep;
mod workspaces;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use entities::job;
use sea_orm::sea_query::UpdateStatement;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QueryResult, Statement,
    TransactionTrait,
};

pub(crate) use claim::{ClaimFloors, ClaimedJob};
pub(crate) use complete::{Completion, CompletionReport};
pub(crate) use databases::{DEFAULT_READ_TIMEOUT, Databases, Notice};
pub(crate) use enqueue::NewJobRow;
use session::Session;

pub use lists::{Granularity, HistoryPoint, JobFilter, JobPage, PageStart, ServerInfo};
pub(crate) use manage::{Action, Transition};
pub(crate) use moves::Retention;
pub use read::{Continuation, HistoryEntry, JobDetails, JobSummary, StoredRetry};
pub use recurring::RecurringJob;
pub(crate) use recurring::{Firing, RecurringRow, StoredRecurring};
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
    Sqlite {
        /// The data directory.
        dir: PathBuf,
    },
    /// Every workspace in one SQLite file (created when missing).
    SqliteFile {
        /// The database file.
        path: PathBuf,
    },
    /// Every workspace in shared tables, in schema `stoker` of the database `url` names,
    /// shared with other servers. When the database name contains `{workspace}`
    /// (`postgres://host/jobs_{workspace}`), each workspace gets a database of its own instead,
    /// created on first use.
    Postgres {
        /// A `postgres://` or `postgresql://` URL.
        url: String,
    },
    /// A schema per workspace in the database `url` names: the layout before 0.2.
    PostgresSchemas {
        /// A `postgres://` or `postgresql://` URL.
        url: String,
    },
}

impl StorageConfig {
    /// A SQLite file per workspace in `dir`.
    pub fn sqlite(dir: impl Into<PathBuf>) -> Self {
        StorageConfig::Sqlite { dir: dir.into() }
    }

    /// Every workspace in the SQLite file `path`.
    pub fn sqlite_file(path: impl Into<PathBuf>) -> Self {
        StorageConfig::SqliteFile { path: path.into() }
    }

    /// PostgreSQL at `url`: shared tables, or a database per workspace when the database name
    /// contains `{workspace}`.
    pub fn postgres(url: impl Into<String>) -> Self {
        StorageConfig::Postgres { url: url.into() }
    }

    /// PostgreSQL at `url`, a schema per workspace.
    pub fn postgres_schema_per_workspace(url: impl Into<String>) -> Self {
        StorageConfig::PostgresSchemas { url: url.into() }
    }

    /// The placement a database URL names: `postgres://…` or `postgresql://…` for PostgreSQL
    /// (shared tables, or a database per workspace with `{workspace}`), `sqlite:PATH` (or
    /// `sqlite://PATH`) for every workspace in the SQLite file `PATH`. A `PATH` that is an
    /// existing directory keeps the meaning it had before 0.2: a file per workspace in it.
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StorageConfig::postgres(url));
        }
        let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .filter(|path| !path.is_empty())
        else {
            return Err(StorageError::Config(format!(
                "unsupported database URL `{url}`: use postgres://… or sqlite:PATH"
            )));
        };
        let path = std::path::Path::new(path);
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

    /// This placement with a schema per workspace, where it is PostgreSQL's shared tables;
    /// refused for any other placement.
    pub fn with_schema_per_workspace(self) -> Result<Self, StorageError> {
        match self {
            StorageConfig::Postgres { url } if !url.contains("{workspace}") => {
                Ok(StorageConfig::PostgresSchemas { url })
            }
            StorageConfig::PostgresSchemas { .. } => Ok(self),
            _ => Err(StorageError::Config(
                "a schema per workspace needs a postgres URL that names one database".into(),
            )),
        }
    }
}

/// The placement, for logs: the URL is left out (it may hold a password).
impl std::fmt::Display for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageConfig::Sqlite { dir } => {
                write!(f, "SQLite, a file per workspace in {}", dir.display())
            }
            StorageConfig::SqliteFile { path } => {
                write!(f, "SQLite, every workspace in {}", path.display())
            }
            StorageConfig::Postgres { url } if url.contains("{workspace}") => {
                f.write_str("PostgreSQL, a database per workspace")
            }
            StorageConfig::Postgres { .. } => write!(
                f,
                "PostgreSQL, every workspace in the shared tables of schema `{}`",
                postgres::SHARED_SCHEMA
            ),
            StorageConfig::PostgresSchemas { .. } => {
                f.write_str("PostgreSQL, a schema per workspace")
            }
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
    /// Another process holds the store (a workspace's file, or the file all share).
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
        let code = error.code().unwrap_or_default();
        match backend_of(error.as_ref()) {
            DbBackend::Postgres => REFUSING_SQLSTATE_CLASSES
                .iter()
                .any(|class| code.starts_with(class)),
            _ => code
                .parse::<i32>()
                .is_ok_and(|code| REFUSING_SQLITE_CODES.contains(&(code & 0xff))),
        }
    }
}

/// PostgreSQL's SQLSTATE classes of refusals: data exceptions (22: a NUL in text, a value out
/// of range), integrity constraints (23), program limits (54: a row too big for an index) and
/// errors raised by triggers (P0).
const REFUSING_SQLSTATE_CLASSES: [&str; 4] = ["22", "23", "54", "P0"];

/// SQLite's primary result codes of refusals: a string or blob too big (18), a constraint or a
/// trigger's `RAISE` (19), a datatype mismatch (20), a parameter out of range (25).
const REFUSING_SQLITE_CODES: [i32; 4] = [18, 19, 20, 25];

/// Which backend raised `error`.
fn backend_of(error: &dyn sea_orm::sqlx::error::DatabaseError) -> DbBackend {
    match error.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>() {
        Some(_) => DbBackend::Postgres,
        None => DbBackend::Sqlite,
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

/// What only one backend has.
#[derive(Clone)]
enum Backend {
    /// The lock file that makes this process the workspace's only server, and the turn
    /// taken by writes that must reach the disk before they are answered (see
    /// [`Storage::durably`]).
    Sqlite {
        lock: Arc<std::fs::File>,
        durable_turn: Arc<tokio::sync::Mutex<()>>,
        sharing: sqlite::Sharing,
    },
    /// The schema (quoted) each transaction names first, unless the pool's connections start
    /// in it; the statement timeout of reads a caller can make slow (in milliseconds, as
    /// `statement_timeout` takes it); and the database whose pool it shares.
    Postgres {
        search_path: Option<String>,
        read_timeout_ms: String,
        database: Arc<postgres::Database>,
        own_database: bool,
    },
}

/// What a transaction is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Read,
    Write,
    /// Reads that must all see the same moment.
    Snapshot,
    /// A read the workspace's own actors make between their writes. On SQLite it goes
    /// through the writer, which is connected, where a reader might be a new connection
    /// opened for one query (a workspace about to close, a scheduler that finds nothing due).
    WriterRead,
}

impl Storage {
    /// Whether this process is the workspace's only server: then any job still `processing`
    /// when it opens was left by a process that died. Otherwise other servers share it, and
    /// their jobs come back only when their leases run out.
    pub(crate) fn is_exclusive(&self) -> bool {
        matches!(self.backend, Backend::Sqlite { .. })
    }

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

    /// Whether the workspace is stored in PostgreSQL.
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres { .. })
    }

    /// A transaction for reads.
    pub(crate) async fn read(&self) -> StorageResult<DatabaseTransaction> {
        self.begin(Purpose::Read).await
    }

    /// A transaction for writes.
    pub(crate) async fn write(&self) -> StorageResult<DatabaseTransaction> {
        self.begin(Purpose::Write).await
    }

    /// A read transaction whose statements all see the same moment. SQLite's transactions do
    /// by themselves; PostgreSQL's default (read committed) gives each statement a new one.
    pub(crate) async fn snapshot(&self) -> StorageResult<DatabaseTransaction> {
        self.begin(Purpose::Snapshot).await
    }

    /// Runs `work` in a write transaction whose commit reaches the disk before it returns,
    /// for writes that are answered as stored (enqueues): a power cut or an OS crash after
    /// the answer must not lose them.
    ///
    /// SQLite's connections run `synchronous=NORMAL`, under which a WAL commit survives a
    /// crash of the process but not of the machine: losing a claim or a completion only runs
    /// a job again, and a sync per commit would slow both. A durable write sets `FULL` for
    /// its transaction (the setting cannot change inside one, so it is set before `BEGIN`
    /// and put back after the end). Durable writes take turns, so one's `NORMAL` cannot land
    /// between another's `FULL` and its commit; a write of another kind that slips in between
    /// is only made durable too. The pool may hand the transaction a fresh connection (one
    /// closed after an I/O error, say), so the transaction reads the level before it writes.
    /// PostgreSQL commits durably by default.
    pub(crate) async fn durably<T>(
        &self,
        work: impl AsyncFnOnce(&DatabaseTransaction) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let Backend::Sqlite { durable_turn, .. } = &self.backend else {
            let txn = self.write().await?;
            let value = work(&txn).await?;
            txn.commit().await?;
            return Ok(value);
        };
        let _turn = durable_turn.lock().await;
        let txn = self.synced_transaction().await?;
        let done: StorageResult<T> = async {
            let value = work(&txn).await?;
            txn.commit().await?;
            Ok(value)
        }
        .await;
        // Stored is stored: a connection left at FULL is only slower until it is reset.
        if let Err(error) = sqlite::set_synchronous(&self.writer, "NORMAL").await {
            tracing::warn!(%error, "putting SQLite back to synchronous=NORMAL failed");
        }
        done
    }

    /// A write transaction on SQLite's writer that commits with `synchronous=FULL`.
    async fn synced_transaction(&self) -> StorageResult<DatabaseTransaction> {
        for _ in 0..3 {
            sqlite::set_synchronous(&self.writer, "FULL").await?;
            let txn = self.write().await?;
            if sqlite::is_synchronous_full(&txn).await? {
                return Ok(txn);
            }
            txn.rollback().await?;
        }
        Err(StorageError::Config(
            "SQLite's writer would not keep synchronous=FULL for an enqueue".into(),
        ))
    }

    /// Runs `work`, a single read statement (see [`Session`]).
    pub(crate) async fn reading<T>(
        &self,
        work: impl AsyncFnOnce(&Session) -> Result<T, sea_orm::DbErr>,
    ) -> StorageResult<T> {
        self.single(Purpose::Read, work).await
    }

    /// Runs `work`, a single write statement (see [`Session`]).
    pub(crate) async fn writing<T>(
        &self,
        work: impl AsyncFnOnce(&Session) -> Result<T, sea_orm::DbErr>,
    ) -> StorageResult<T> {
        self.single(Purpose::Write, work).await
    }

    /// Runs `claim`, a single claim statement, with its history rows (see
    /// [`history::recorded`]), and returns `columns` of the claimed jobs.
    ///
    /// On PostgreSQL the claim is on the critical path of every job, so it goes to the server
    /// as one simple query (see [`postgres::in_one_trip`]): one round trip instead of four.
    /// Its commit does not wait for the disk: a claim lost in a database crash only puts its
    /// job back in the queue, which at-least-once allows, and the next durable commit (the
    /// job's completion) makes it durable anyway.
    pub(crate) async fn claiming(
        &self,
        claim: &UpdateStatement,
        columns: &[job::Column],
    ) -> StorageResult<Vec<QueryResult>> {
        let Backend::Postgres { search_path, .. } = &self.backend else {
            let claim = history::recorded(claim, columns, DbBackend::Sqlite);
            return self
                .single(Purpose::Write, async |db| db.query_all_raw(claim).await)
                .await;
        };
        let schema = match search_path {
            Some(schema) => format!("SET LOCAL search_path = {schema}; "),
            None => String::new(),
        };
        let sql = format!(
            "{schema}SET LOCAL synchronous_commit = off; {}",
            history::recorded_text(claim, columns)
        );

        self.statements.fetch_add(1, Ordering::Relaxed);
        let pool = self.writer.get_postgres_connection_pool();
        let rows = postgres::in_one_trip(pool, sql)
            .await
            .map_err(|error| sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(error.into())))?;
        Ok(rows.into_iter().map(QueryResult::from).collect())
    }

    async fn single<T>(
        &self,
        purpose: Purpose,
        work: impl AsyncFnOnce(&Session) -> Result<T, sea_orm::DbErr>,
    ) -> StorageResult<T> {
        let session = match (&self.backend, purpose) {
            (Backend::Sqlite { .. }, Purpose::Read) => Session::Direct(self.reader.clone()),
            (Backend::Sqlite { .. }, _) => Session::Direct(self.writer.clone()),
            (Backend::Postgres { .. }, _) => Session::Transaction(self.begin(purpose).await?),
        };
        let value = work(&session).await?;
        session.finish().await?;
        Ok(value)
    }

    /// Runs `work`, a single read statement of the workspace's own actors (see
    /// [`Purpose::WriterRead`]).
    pub(crate) async fn reading_on_writer<T>(
        &self,
        work: impl AsyncFnOnce(&Session) -> Result<T, sea_orm::DbErr>,
    ) -> StorageResult<T> {
        self.single(Purpose::WriterRead, work).await
    }

    async fn begin(&self, purpose: Purpose) -> StorageResult<DatabaseTransaction> {
        use sea_orm::{AccessMode, IsolationLevel};
        let db = match purpose {
            Purpose::Read | Purpose::Snapshot => &self.reader,
            Purpose::Write | Purpose::WriterRead => &self.writer,
        };
        let Backend::Postgres {
            search_path,
            read_timeout_ms,
            ..
        } = &self.backend
        else {
            return Ok(db.begin().await?);
        };
        let txn = match purpose {
            Purpose::Snapshot => {
                let (isolation, access) = (IsolationLevel::RepeatableRead, AccessMode::ReadOnly);
                db.begin_with_config(Some(isolation), Some(access)).await?
            }
            _ => db.begin().await?,
        };
        let mut settings = Vec::new();
        if let Some(schema) = search_path {
            settings.push(("search_path", schema));
        }
        // Reads for callers (lists, searches, counts) can be made slow by what a tenant
        // stores and asks; they give up rather than hold a connection the other workspaces
        // share. The workspace's own writes and reads keep the server's setting.
        if matches!(purpose, Purpose::Read | Purpose::Snapshot) {
            settings.push(("statement_timeout", read_timeout_ms));
        }
        if !settings.is_empty() {
            txn.execute_raw(local_settings(&settings)).await?;
        }
        Ok(txn)
    }

    /// How many SQL statements this storage has run since it opened.
    pub(crate) fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// This store's storage for the workspace whose rows carry `key` (in a store that
    /// workspaces share), counting its own statements.
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

    /// Closes the workspace's connections and releases its lock, so another process (or a
    /// new runtime in this one) can open it. A store that workspaces share (a SQLite file, a
    /// PostgreSQL pool) stays open for the others.
    pub(crate) async fn close(&self) {
        match &self.backend {
            Backend::Sqlite {
                sharing: sqlite::Sharing::Shared,
                ..
            } => {}
            Backend::Sqlite { .. } => self.close_store().await,
            Backend::Postgres {
                database,
                own_database: true,
                ..
            } => database.close().await,
            Backend::Postgres { .. } => {}
        }
    }

    /// Closes a SQLite store's connections and releases its lock.
    pub(crate) async fn close_store(&self) {
        match &self.backend {
            Backend::Sqlite { lock, .. } => {
                for connection in [&self.writer, &self.reader] {
                    if let Err(error) = connection.clone().close().await {
                        tracing::warn!(%error, "closing a storage connection failed");
                    }
                }
                if let Err(error) = lock.unlock() {
                    tracing::warn!(%error, "releasing the SQLite lock failed");
                }
            }
            Backend::Postgres { .. } => {}
        }
    }
}

/// One PostgreSQL statement that gives the transaction each of `settings` (name, value), until
/// it ends.
fn local_settings(settings: &[(&str, &String)]) -> Statement {
    let calls: Vec<String> = (0..settings.len())
        .map(|n| format!("set_config(${}, ${}, true)", 2 * n + 1, 2 * n + 2))
        .collect();
    let values = settings
        .iter()
        .flat_map(|(name, value)| [name.to_string().into(), (*value).clone().into()]);
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("SELECT {}", calls.join(", ")),
        values,
    )
}

/// `db`, counting each statement it runs in `statements`.
fn count_statements(mut db: DatabaseConnection, statements: &Arc<AtomicU64>) -> DatabaseConnection {
    let counter = statements.clone();
    db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    db
}
