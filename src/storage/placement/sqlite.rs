//! SQLite stores: a file per workspace in a data directory (and the directory's list of
//! workspaces), or one file every workspace shares; each file with its lock, its pragmas, its
//! migrations.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::Connection;
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, SqlxSqliteConnector,
    Statement,
};

use super::Backend;
use crate::name::WorkspaceName;
use crate::storage::{Retention, Storage, StorageError, StorageResult, count_statements};

/// How long a connection waits for a lock held by another connection before giving up, and
/// how long a caller waits for a connection of the pool: together they bound how long a
/// request waits while another process holds the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Read-only connections per workspace (the single writer comes on top).
const READERS: u32 = 2;
/// Read connections unused this long are closed: each holds file descriptors.
const READER_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Prepared statements kept per connection: enough for the claim, completion and enqueue
/// paths; each costs memory, and a server may hold many workspaces' connections.
const STATEMENT_CACHE: usize = 32;
/// A workspace's database file in the data directory.
const EXTENSION: &str = "db";

/// Whether workspace `name` has a database file in `dir`.
pub(super) fn exists(dir: &Path, workspace: &WorkspaceName) -> bool {
    dir.join(format!("{workspace}.{EXTENSION}")).exists()
}

/// The names of the database files in `dir` (none when it does not exist yet).
pub(super) fn workspaces(dir: &Path) -> StorageResult<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StorageError::Io {
                context: format!("listing data directory {}", dir.display()),
                source,
            });
        }
    };
    Ok(entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == EXTENSION)
                .then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect())
}

/// Opens workspace `workspace`'s database in `dir`; `migrate` when this process has not
/// brought it to the current schema yet.
pub(super) async fn open(
    dir: &Path,
    workspace: &WorkspaceName,
    migrate: bool,
) -> StorageResult<Storage> {
    create_dir(dir)?;
    let file = dir.join(format!("{workspace}.{EXTENSION}"));
    let lock = dir.join(format!("{workspace}.lock"));
    let label = format!("workspace `{workspace}`");
    open_store(&file, &lock, &label, migrate, Sharing::Own).await
}

/// Opens (creating and migrating) the SQLite file `path` that every workspace shares: a store
/// whose rows carry their workspace's name, open until [`Storage::close_store`].
pub(super) async fn open_shared(path: &Path) -> StorageResult<Storage> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        create_dir(dir)?;
    }
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lock");
    let label = format!("SQLite file `{}`", path.display());
    open_store(path, Path::new(&lock), &label, true, Sharing::Shared).await
}

fn create_dir(dir: &Path) -> StorageResult<()> {
    std::fs::create_dir_all(dir).map_err(|source| StorageError::Io {
        context: format!("creating data directory {}", dir.display()),
        source,
    })
}

/// Whether a SQLite store holds one workspace or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::storage) enum Sharing {
    /// A file per workspace: its storage closes it.
    Own,
    /// One file for all: the server closes it.
    Shared,
}

/// Opens the SQLite database `file`, holding the lock file `lock` (a store `label` names in
/// errors and logs); `migrate` when this process has not brought it to the current schema yet.
async fn open_store(
    file: &Path,
    lock: &Path,
    label: &str,
    migrate: bool,
    sharing: Sharing,
) -> StorageResult<Storage> {
    let lock = take_lock(lock, label)?;
    let options = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .statement_cache_capacity(STATEMENT_CACHE);
    let statements = Arc::new(AtomicU64::new(0));
    let writer = pool(options.clone(), 1, 1, &statements).await?;
    if migrate {
        Migrator::up(&writer, None).await?;
        let mode = journal_mode(&writer).await?;
        if mode != "wal" {
            tracing::warn!(store = label, %mode, "SQLite did not switch to WAL; writers will block readers");
        }
    }
    let reader = pool(options.read_only(true), 0, READERS, &statements).await?;
    Ok(Storage {
        writer,
        reader,
        statements,
        retention: Retention::default(),
        key: Arc::from(""),
        store_wide: None,
        backend: Backend::Sqlite {
            lock: Arc::new(lock),
            durable_turn: Arc::default(),
            sharing,
        },
    })
}

/// Takes the store's lock file, so that one process at a time serves it.
fn take_lock(path: &Path, label: &str) -> StorageResult<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| StorageError::Io {
            context: format!("opening lock file {}", path.display()),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StorageError::Locked(label.to_owned())),
        Err(std::fs::TryLockError::Error(source)) => Err(StorageError::Io {
            context: format!("locking {}", path.display()),
            source,
        }),
    }
}

/// A pool of `min` to `max` connections whose statements are counted in `statements`. With
/// `min` 0 no connection opens before one is needed: a workspace opened to run its due jobs
/// often reads nothing through its readers, and each connection costs a thread, files and a
/// schema parse (sqlx's `connect_with` would open one at once to try the options).
async fn pool(
    options: SqliteConnectOptions,
    min: u32,
    max: u32,
    statements: &Arc<AtomicU64>,
) -> StorageResult<DatabaseConnection> {
    let pool_options = SqlitePoolOptions::new()
        .min_connections(min)
        .max_connections(max)
        .idle_timeout(READER_IDLE_TIMEOUT)
        // A connection lives until it fails: the writer's is the one its pragmas were set on.
        .max_lifetime(None)
        .acquire_timeout(BUSY_TIMEOUT)
        .before_acquire(|connection, _| Box::pin(async move { Ok(reusable(connection)) }));
    let pool = match min {
        0 => pool_options.connect_lazy_with(options),
        _ => pool_options.connect_with(options).await?,
    };
    Ok(count_statements(
        SqlxSqliteConnector::from_sqlx_sqlite_pool(pool),
        statements,
    ))
}

/// Whether a pooled connection may be handed out again: not while sqlx still counts it inside
/// a transaction. A COMMIT that fails with an I/O error (a full disk) ends the transaction
/// inside SQLite, but sqlx's count stays up and the ROLLBACK that follows fails. Reused, such
/// a connection would make every later transaction a savepoint of a transaction that never
/// commits: writes acknowledged, never stored. The pool closes it and opens a fresh one.
fn reusable(connection: &SqliteConnection) -> bool {
    !connection.is_in_transaction()
}

/// Sets `PRAGMA synchronous` on `db`'s connection (outside any transaction).
async fn set_synchronous(db: &DatabaseConnection, level: &str) -> StorageResult<()> {
    let pragma = format!("PRAGMA synchronous = {level}");
    db.execute_raw(Statement::from_string(DbBackend::Sqlite, pragma))
        .await?;
    Ok(())
}

/// Whether `db`'s connection commits with `synchronous=FULL` (level 2).
async fn is_synchronous_full(db: &impl ConnectionTrait) -> StorageResult<bool> {
    Ok(pragma::<i32>(db, "synchronous").await? == 2)
}

/// What `PRAGMA journal_mode` answers: `wal` when WAL took effect.
pub(super) async fn journal_mode(db: &DatabaseConnection) -> StorageResult<String> {
    Ok(pragma::<String>(db, "journal_mode").await?.to_lowercase())
}

/// The value `PRAGMA name` answers on `db`'s connection.
async fn pragma<T: sea_orm::TryGetable>(db: &impl ConnectionTrait, name: &str) -> StorageResult<T> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("PRAGMA {name}"),
        ))
        .await?
        .ok_or_else(|| StorageError::Corrupt(format!("PRAGMA {name} returned nothing")))?;
    Ok(row.try_get_by_index::<T>(0)?)
}

impl Storage {
    /// Runs `work` in a write transaction whose commit reaches the disk before it returns
    /// (see [`Storage::durably`]).
    ///
    /// SQLite's connections run `synchronous=NORMAL`, under which a WAL commit survives a
    /// crash of the process but not of the machine: losing a claim or a completion only runs
    /// a job again, and a sync per commit would slow both. A durable write sets `FULL` for
    /// its transaction (the setting cannot change inside one, so it is set before `BEGIN`
    /// and put back after the end). Durable writes take `turn`s, so one's `NORMAL` cannot land
    /// between another's `FULL` and its commit; a write of another kind that slips in between
    /// is only made durable too. The pool may hand the transaction a fresh connection (one
    /// closed after an I/O error, say), so the transaction reads the level before it writes.
    pub(super) async fn durably_in_turn<T>(
        &self,
        turn: &tokio::sync::Mutex<()>,
        work: impl AsyncFnOnce(&DatabaseTransaction) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let _turn = turn.lock().await;
        let txn = self.synced_transaction().await?;
        let done: StorageResult<T> = async {
            let value = work(&txn).await?;
            txn.commit().await?;
            Ok(value)
        }
        .await;
        // Stored is stored: a connection left at FULL is only slower until it is reset.
        if let Err(error) = set_synchronous(&self.writer, "NORMAL").await {
            tracing::warn!(%error, "putting SQLite back to synchronous=NORMAL failed");
        }
        done
    }

    /// A write transaction on SQLite's writer that commits with `synchronous=FULL`.
    async fn synced_transaction(&self) -> StorageResult<DatabaseTransaction> {
        for _ in 0..3 {
            set_synchronous(&self.writer, "FULL").await?;
            let txn = self.write().await?;
            if is_synchronous_full(&txn).await? {
                return Ok(txn);
            }
            txn.rollback().await?;
        }
        Err(StorageError::Config(
            "SQLite's writer would not keep synchronous=FULL for an enqueue".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Action, ClaimFloors, NewJobRow};

    /// Records, from inside each write to `jobs`, the `synchronous` level its transaction
    /// commits with.
    async fn probe_synchronous(storage: &Storage) {
        for statement in [
            "CREATE TABLE probe (statement TEXT, synchronous INTEGER)",
            "CREATE TRIGGER probe_insert AFTER INSERT ON jobs BEGIN \
             INSERT INTO probe SELECT 'insert', synchronous FROM pragma_synchronous(); END",
            "CREATE TRIGGER probe_update AFTER UPDATE OF state ON jobs BEGIN \
             INSERT INTO probe SELECT NEW.state, synchronous FROM pragma_synchronous(); END",
        ] {
            let statement = Statement::from_string(DbBackend::Sqlite, statement);
            storage.writer.execute_raw(statement).await.unwrap();
        }
    }

    async fn probed(storage: &Storage) -> Vec<(String, i32)> {
        let rows = storage
            .writer
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT statement, synchronous FROM probe ORDER BY rowid",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|row| {
                (
                    row.try_get_by_index(0).unwrap(),
                    row.try_get_by_index(1).unwrap(),
                )
            })
            .collect()
    }

    /// `synchronous` levels: 1 is NORMAL, 2 is FULL.
    #[actix_rt::test]
    async fn enqueues_commit_with_full_sync_and_claims_and_other_writes_with_normal() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = WorkspaceName::new("durable").unwrap();
        let storage = open(dir.path(), &workspace, true).await.unwrap();
        probe_synchronous(&storage).await;

        let rows = vec![
            NewJobRow::plain("default", 0),
            NewJobRow::plain("default", 0),
        ];
        let created = storage.insert_jobs(rows, 1).await.unwrap();
        let queues = ["default".to_owned()];
        let claimed = storage
            .claim(&queues, 1, &ClaimFloors::default(), "server", 2, 1000)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        storage
            .apply(created[1].id, Action::Delete, 3)
            .await
            .unwrap();

        let expected = [
            ("insert", 2),
            ("insert", 2),
            ("processing", 1),
            ("deleted", 1),
        ];
        let expected = expected.map(|(statement, level)| (statement.to_owned(), level));
        assert_eq!(probed(&storage).await, expected);
        storage.close().await;
    }
}
