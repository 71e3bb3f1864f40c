//! Placement: what differs between where workspaces' rows live, and between SQLite and
//! PostgreSQL. Everywhere else in storage the statements are the same for every placement and
//! both backends; here are decided how a transaction begins, how a claim reaches the server,
//! how history rows are appended, what a refusal looks like, and how a store is closed.
//! [`databases`] picks the store a workspace's rows live in; [`sqlite`] and [`postgres`] open
//! each backend's stores. (The migrations, a crate of their own, carry their dialects too.)
//!
//! | placement ([`StorageConfig`](super::StorageConfig)) | a store per | `workspace` | connections | migrated | closing the workspace |
//! |---|---|---|---|---|---|
//! | SQLite, a file per workspace (`--data-dir`) | workspace | `''` | a writer and up to 2 readers per open workspace | at each first open | closes them, unlocks the file |
//! | SQLite, one file (`sqlite:PATH`) | file | the name | a writer and up to 2 readers | once, at first use | nothing |
//! | PostgreSQL, shared tables (schema `stoker`) | database | the name | one pool and one listener per database, starting in `stoker` | once, under an advisory lock | nothing |
//! | PostgreSQL, a schema per workspace | workspace | `''` | the database's pool and listener; each transaction sets `search_path` | at each first open | nothing |
//! | PostgreSQL, a database per workspace (`{workspace}`) | workspace | `''` | a pool and a listener per open workspace | at each first open | closes its pool |
//!
//! A store of its own keeps `''` in the column, so that renaming its file or schema still
//! renames the workspace, and an older store needs no rewrite. A shared store lists its
//! workspaces in `workspaces`; job ids are one sequence per store, and a job of another
//! workspace is simply not found. Its housekeeping (heartbeat, recovery, expiry, the due
//! passes) runs once for all its workspaces, through a view of the whole store (see
//! [`scope`](super::scope)); its own rows, servers and the upkeep lease, carry `''`.
//!
//! | | SQLite | PostgreSQL |
//! |---|---|---|
//! | history rows | the migration's triggers | the writing statement's `WITH` ([`recorded`]) |
//! | claim | one statement on the writer | one simple query, `synchronous_commit = off` ([`Storage::claiming`]) |
//! | claim order | `id` | `id + 0` ([`claim_order_on`]) |
//! | claimed ids | `IN (SELECT … LIMIT n)`, `n` in the text | `= ANY(ARRAY(SELECT … LIMIT $n))` ([`taken_once_on`]) |
//! | row locks (`SKIP LOCKED`, `FOR SHARE`) | none: one writer | as written |
//! | durable enqueue | `synchronous = FULL` for its turn ([`Storage::durably`]) | every commit |
//! | snapshot reads | any transaction | repeatable read, read only |
//! | read timeout | the busy timeout | `statement_timeout` per read |
//! | wake-ups | in-process messages | `pg_notify('stoker_enqueued', workspace)` and a listener ([`Storage::notifies_enqueued`]) |
//! | one server per store | a lock file: what runs at open was left by a dead process ([`Storage::is_exclusive`]) | leases, recovered when they lapse |
//! | refusals ([`is_refusal`]) | primary result codes 18, 19, 20, 25 | SQLSTATE classes 22, 23, 54, P0 |

pub(crate) mod databases;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

use std::sync::Arc;

use entities::job;
use sea_orm::sea_query::extension::postgres::PgFunc;
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, Func, PostgresQueryBuilder, Query, QueryStatementWriter,
    SelectStatement, SqliteQueryBuilder, UpdateStatement,
};
use sea_orm::sqlx::error::DatabaseError;
#[cfg(feature = "sqlite")]
use sea_orm::{ConnectionTrait, TransactionTrait};
use sea_orm::{DatabaseExecutor, DatabaseTransaction, DbBackend, QueryResult, Statement};

use super::history::{self, JobsWrite};
use super::{Storage, StorageResult};

/// What only one backend has.
#[derive(Clone)]
pub(super) enum Backend {
    /// The lock file that makes this process the workspace's only server, and the turn
    /// taken by writes that must reach the disk before they are answered (see
    /// [`Storage::durably`]).
    #[cfg(feature = "sqlite")]
    Sqlite {
        lock: Arc<std::fs::File>,
        durable_turn: Arc<tokio::sync::Mutex<()>>,
        sharing: sqlite::Sharing,
    },
    /// The schema (quoted) each transaction names first, unless the pool's connections start
    /// in it; the statement timeout of reads a caller can make slow (in milliseconds, as
    /// `statement_timeout` takes it); and the database whose pool it shares.
    #[cfg(feature = "postgres")]
    Postgres {
        search_path: Option<String>,
        /// The store's schema (quoted), which an application's transaction names while
        /// stoker writes in it (see `app_transaction`).
        schema: String,
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
        !self.is_postgres()
    }

    /// Whether every server hears of the jobs enqueued in this store from the database
    /// (PostgreSQL's `pg_notify` and listener), rather than from this process's messages.
    pub(crate) fn notifies_enqueued(&self) -> bool {
        self.is_postgres()
    }

    fn is_postgres(&self) -> bool {
        match self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { .. } => false,
            #[cfg(feature = "postgres")]
            Backend::Postgres { .. } => true,
        }
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
    /// the answer must not lose them. PostgreSQL commits durably by default; SQLite does
    /// in its turn (see `sqlite`'s `durably_in_turn`).
    pub(crate) async fn durably<T>(
        &self,
        work: impl AsyncFnOnce(&DatabaseTransaction) -> StorageResult<T>,
    ) -> StorageResult<T> {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { durable_turn, .. } => self.durably_in_turn(durable_turn, work).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres { .. } => {
                let txn = self.write().await?;
                let value = work(&txn).await?;
                txn.commit().await?;
                Ok(value)
            }
        }
    }

    /// Runs `work`, a single read statement (see [`Storage::single`]).
    pub(crate) async fn reading<T>(
        &self,
        work: impl AsyncFnOnce(&DatabaseExecutor<'_>) -> Result<T, sea_orm::DbErr>,
    ) -> StorageResult<T> {
        self.single(Purpose::Read, work).await
    }

    /// Runs `work`, a single write statement (see [`Storage::single`]).
    pub(crate) async fn writing<T>(
        &self,
        work: impl AsyncFnOnce(&DatabaseExecutor<'_>) -> Result<T, sea_orm::DbErr>,
    ) -> StorageResult<T> {
        self.single(Purpose::Write, work).await
    }

    /// Runs `claim`, a single claim statement, with its history rows (see
    /// [`recorded`]), and returns `columns` of the claimed jobs.
    ///
    /// On PostgreSQL the claim is on the critical path of every job, so it goes to the server
    /// as one simple query (see `postgres`'s `in_one_trip`): one round trip instead of four.
    /// Its commit does not wait for the disk: a claim lost in a database crash only puts its
    /// job back in the queue, which at-least-once allows, and the next durable commit (the
    /// job's completion) makes it durable anyway.
    pub(crate) async fn claiming(
        &self,
        claim: &UpdateStatement,
        columns: &[job::Column],
    ) -> StorageResult<Vec<QueryResult>> {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { .. } => {
                let claim = recorded(claim, columns, DbBackend::Sqlite);
                self.single(Purpose::Write, async |db| db.query_all_raw(claim).await)
                    .await
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres { search_path, .. } => {
                let sql = history::recorded_text(claim, columns);
                self.claiming_in_one_trip(search_path.as_deref(), sql).await
            }
        }
    }

    /// Runs `work`, one call's statements. On SQLite, a call of one statement runs straight on
    /// the connection (it is atomic by itself, and `BEGIN`/`COMMIT` would be two more trips
    /// to the connection's thread); on PostgreSQL every call runs in a transaction, the only
    /// place the shared pool's connection can be pointed at the workspace's schema.
    async fn single<T>(
        &self,
        purpose: Purpose,
        work: impl AsyncFnOnce(&DatabaseExecutor<'_>) -> Result<T, sea_orm::DbErr>,
    ) -> StorageResult<T> {
        let session = match (&self.backend, purpose) {
            #[cfg(feature = "sqlite")]
            (Backend::Sqlite { .. }, Purpose::Read) => DatabaseExecutor::Connection(&self.reader),
            #[cfg(feature = "sqlite")]
            (Backend::Sqlite { .. }, _) => DatabaseExecutor::Connection(&self.writer),
            #[cfg(feature = "postgres")]
            (Backend::Postgres { .. }, _) => {
                DatabaseExecutor::OwnedTransaction(self.begin(purpose).await?)
            }
        };
        let value = work(&session).await?;
        if let DatabaseExecutor::OwnedTransaction(txn) = session {
            txn.commit().await?;
        }
        Ok(value)
    }

    /// Runs `work`, a single read statement of the workspace's own actors (see
    /// [`Purpose::WriterRead`]).
    pub(crate) async fn reading_on_writer<T>(
        &self,
        work: impl AsyncFnOnce(&DatabaseExecutor<'_>) -> Result<T, sea_orm::DbErr>,
    ) -> StorageResult<T> {
        self.single(Purpose::WriterRead, work).await
    }

    async fn begin(&self, purpose: Purpose) -> StorageResult<DatabaseTransaction> {
        let db = match purpose {
            Purpose::Read | Purpose::Snapshot => &self.reader,
            Purpose::Write | Purpose::WriterRead => &self.writer,
        };
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { .. } => Ok(db.begin().await?),
            #[cfg(feature = "postgres")]
            Backend::Postgres {
                search_path,
                read_timeout_ms,
                ..
            } => postgres::begin(db, purpose, search_path.as_ref(), read_timeout_ms).await,
        }
    }

    /// The journal mode SQLite reports for this workspace's database.
    pub(crate) async fn sqlite_journal_mode(&self) -> StorageResult<String> {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { .. } => sqlite::journal_mode(&self.writer).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres { .. } => Err(super::StorageError::Config(
                "only SQLite has a journal mode".into(),
            )),
        }
    }

    /// Closes the workspace's connections and releases its lock, so another process (or a
    /// new runtime in this one) can open it. A store that workspaces share (a SQLite file, a
    /// PostgreSQL pool) stays open for the others.
    pub(crate) async fn close(&self) {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite {
                sharing: sqlite::Sharing::Shared,
                ..
            } => {}
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { .. } => self.close_store().await,
            #[cfg(feature = "postgres")]
            Backend::Postgres {
                database,
                own_database: true,
                ..
            } => database.close().await,
            #[cfg(feature = "postgres")]
            Backend::Postgres { .. } => {}
        }
    }

    /// Points the application's transaction `txn` at the store's tables, and returns what
    /// [`Storage::leave_app_transaction`] gives back: on PostgreSQL the search path names the
    /// store's schema until then (the application's own statements keep theirs); SQLite has
    /// one schema.
    #[cfg_attr(not(feature = "postgres"), expect(unused_variables))]
    pub(crate) async fn enter_app_transaction(
        &self,
        txn: &DatabaseTransaction,
    ) -> StorageResult<Option<String>> {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { .. } => Ok(None),
            #[cfg(feature = "postgres")]
            Backend::Postgres { schema, .. } => {
                Ok(Some(postgres::swap_search_path(txn, schema).await?))
            }
        }
    }

    /// Gives the application's transaction `txn` back the search path it had before
    /// [`Storage::enter_app_transaction`].
    #[cfg_attr(not(feature = "postgres"), expect(unused_variables))]
    pub(crate) async fn leave_app_transaction(
        &self,
        txn: &DatabaseTransaction,
        entered: Option<String>,
    ) -> StorageResult<()> {
        #[cfg(feature = "postgres")]
        if let Some(search_path) = entered {
            postgres::swap_search_path(txn, &search_path).await?;
        }
        Ok(())
    }

    /// Closes a SQLite store's connections and releases its lock.
    #[cfg(feature = "sqlite")]
    pub(crate) async fn close_store(&self) {
        match &self.backend {
            #[cfg(feature = "sqlite")]
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
            #[cfg(feature = "postgres")]
            Backend::Postgres { .. } => {}
        }
    }
}

/// The statement that runs `write`, appends the history rows of the jobs it wrote, and
/// returns their `columns`: on SQLite the migration's triggers append them, on PostgreSQL
/// the statement's own `WITH` (see [`history`]).
pub(super) fn recorded(
    write: &impl JobsWrite,
    columns: &[job::Column],
    backend: DbBackend,
) -> Statement {
    let mut write = write.clone();
    if backend != DbBackend::Postgres {
        write.return_columns(Query::returning().columns(columns.iter().copied()));
        return backend.build(&write);
    }
    write.return_columns(history::returning_history(columns));
    let (sql, values) = QueryStatementWriter::build(&write, PostgresQueryBuilder);
    Statement::from_sql_and_values(backend, history::with_history(&sql, columns), values)
}

impl Storage {
    /// The claim's order within a priority, oldest first (see [`claim_order_on`]).
    pub(super) fn claim_order(&self) -> Expr {
        claim_order_on(self.is_postgres())
    }

    /// The first `limit` jobs `oldest` selects, taken once (see [`taken_once_on`]).
    pub(super) fn taken_once(&self, oldest: SelectStatement, limit: usize) -> Expr {
        taken_once_on(oldest, limit, self.is_postgres())
    }
}

/// Oldest first. On PostgreSQL as `id + 0`, the order of the claim's own index
/// (`jobs_enqueued_fifo`), which the primary key cannot give: a planner misled by
/// statistics from before a burst cannot walk the primary key past every finished job.
/// The `0` is a literal: `id + $1` is not the index's expression, and the planner would
/// sort every enqueued job on each claim.
fn claim_order_on(postgres: bool) -> Expr {
    if postgres {
        Expr::cust(r#""id" + 0"#)
    } else {
        Expr::col(job::Column::Id)
    }
}

/// The first `limit` jobs `oldest` selects (and locks), taken once.
/// - On PostgreSQL as `id = ANY(ARRAY(…))`: an `IN` the planner may turn into a join that runs
///   the locking subquery again for each row of the workspace, and each run then skips the
///   rows the statement just claimed and returns the next ones, until the `UPDATE` has claimed
///   the whole queue. `ARRAY(…)` is computed once, before the update reads a row.
/// - SQLite runs an `IN` list once by itself. Its `LIMIT` is written into the text: SQLite
///   sizes a plan from a bound `LIMIT` and then prepares the statement again, triggers and
///   all, each time the value is bound (as with a bound state, see `states`). A claim takes
///   at most as many jobs as a workspace has workers, so the texts are few.
fn taken_once_on(mut oldest: SelectStatement, limit: usize, postgres: bool) -> Expr {
    let id = Expr::col(job::Column::Id);
    match postgres {
        true => {
            oldest.limit(limit as u64);
            let ids = Expr::SubQuery(None, Box::new(oldest.into()));
            id.eq(PgFunc::any(Func::cust(Alias::new("ARRAY")).arg(ids)))
        }
        false => {
            let (select, values) = oldest.build(SqliteQueryBuilder);
            let taken = format!(r#""id" IN ({select} LIMIT {limit})"#);
            Expr::cust_with_values(taken, values.0)
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

/// Whether the database's `error` refuses what it was given (see
/// [`StorageError::is_refusal`](super::StorageError::is_refusal)).
pub(super) fn is_refusal(error: &dyn DatabaseError) -> bool {
    let code = error.code().unwrap_or_default();
    match raised_by_postgres(error) {
        true => REFUSING_SQLSTATE_CLASSES
            .iter()
            .any(|class| code.starts_with(class)),
        false => code
            .parse::<i32>()
            .is_ok_and(|code| REFUSING_SQLITE_CODES.contains(&(code & 0xff))),
    }
}

/// Whether PostgreSQL raised `error` (otherwise SQLite did).
#[cfg(feature = "postgres")]
fn raised_by_postgres(error: &dyn DatabaseError) -> bool {
    error
        .try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>()
        .is_some()
}

/// Whether PostgreSQL raised `error`: never, in a build without it.
#[cfg(not(feature = "postgres"))]
fn raised_by_postgres(_: &dyn DatabaseError) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use sea_orm::Value;

    use super::*;

    #[test]
    fn the_postgresql_claim_orders_by_its_index_expression_without_a_parameter() {
        use sea_orm::sea_query::PostgresQueryBuilder;
        let (sql, values) = Query::select()
            .expr(claim_order_on(true))
            .build(PostgresQueryBuilder);
        assert!(sql.ends_with(r#""id" + 0"#), "{sql}");
        assert!(values.0.is_empty(), "bound: {values:?}");
    }

    #[test]
    fn the_sqlite_claim_writes_its_limit_into_the_text_and_binds_the_rest_in_order() {
        let oldest = Query::select()
            .column(job::Column::Id)
            .from(job::Entity)
            .and_where(Expr::col(job::Column::Queue).eq("default"))
            .and_where(Expr::col(job::Column::Id).gte(40))
            .to_owned();
        let claim = Query::update()
            .table(job::Entity)
            .value(job::Column::LeaseOwner, "server")
            .and_where(taken_once_on(oldest, 7, false))
            .to_owned();
        let (sql, values) = claim.build(SqliteQueryBuilder);
        assert!(sql.ends_with(r#">= ? LIMIT 7)"#), "{sql}");
        let bound: Vec<Value> = values.0;
        assert_eq!(
            bound,
            [
                Value::from("server"),
                Value::from("default"),
                Value::from(40)
            ],
            "{sql}"
        );
    }

    #[test]
    fn on_postgresql_the_statement_appends_history_keeps_values_bound_and_returns_what_was_asked() {
        let insert = Query::insert()
            .into_table(job::Entity)
            .columns([job::Column::Args])
            .values_panic(["{\"tenant\": \"o'brien\"}".into()])
            .to_owned();
        let statement = recorded(&insert, &[job::Column::Id], DbBackend::Postgres);
        assert!(
            statement.sql.starts_with("WITH written AS (INSERT"),
            "{}",
            statement.sql
        );
        assert!(
            statement.sql.contains("INSERT INTO job_history"),
            "{}",
            statement.sql
        );
        assert!(
            statement.sql.ends_with(r#"SELECT "id" FROM written"#),
            "{}",
            statement.sql
        );
        assert!(!statement.sql.contains("o'brien"), "{}", statement.sql);
        assert_eq!(statement.values.map(|values| values.0.len()), Some(1));
    }

    #[test]
    fn on_sqlite_the_statement_is_left_to_the_triggers() {
        let update = Query::update()
            .table(job::Entity)
            .value(job::Column::State, "enqueued")
            .to_owned();
        let statement = recorded(&update, &[job::Column::Id], DbBackend::Sqlite);
        assert!(statement.sql.starts_with("UPDATE"), "{}", statement.sql);
        assert!(
            statement.sql.ends_with(r#"RETURNING "id""#),
            "{}",
            statement.sql
        );
        assert!(!statement.sql.contains("job_history"), "{}", statement.sql);
    }
}
