//! PostgreSQL storage: every workspace in shared tables of schema [`SHARED_SCHEMA`] (the
//! default), one schema per workspace in a database shared by every workspace, or a database
//! per workspace when the URL's database name contains `{workspace}`.
//!
//! A server holds one [`Database`] per database it uses: one pool, bounded by the server's
//! connection limit, and one listening connection, whatever the number of workspaces in it.
//! Workspaces take turns on the pool. With a schema per workspace each transaction names its
//! schema first (`set_config('search_path', …, true)`, which ends with the transaction); where
//! a database holds one schema (the shared tables, a workspace's own database), the pool's
//! connections start in it. Many servers share
//! one database and coordinate through it alone: creating a schema and migrating it happen
//! under an advisory lock, so servers starting together take turns.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::channel::mpsc::UnboundedSender;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::{
    PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions, PgRow,
};
use sea_orm::sqlx::{self, Connection};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    IsolationLevel, QueryResult, SqlxPostgresConnector, Statement, TransactionTrait,
};

use super::databases::Notice;
use super::{Backend, Purpose};
use crate::name::WorkspaceName;
use crate::storage::{Retention, Storage, StorageError, StorageResult, count_statements};

/// The channel the `jobs_notify_enqueued` trigger notifies, with the schema as payload.
const CHANNEL: &str = "stoker_enqueued";
/// Marks a schema, or a workspace's own database, as a stoker workspace.
const SCHEMA_COMMENT: &str = "stoker workspace";
/// The schema of the tables every workspace shares.
pub(in crate::storage) const SHARED_SCHEMA: &str = "stoker";
/// Marks [`SHARED_SCHEMA`] as stoker's shared tables.
const SHARED_COMMENT: &str = "stoker shared tables";
/// How long a lost listener waits before it tries again.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// How long connecting and acquiring a connection may take before it counts as an outage.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pooled connections unused this long are closed, so an idle server holds few.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A pooled connection unused this long is pinged before it is handed out: it may have been
/// dropped by a restart or the network. One in use more recently goes out untested, which
/// saves a round trip on every claim, completion and enqueue (sqlx pings on every acquire by
/// default); if the server went away meanwhile, its first statement fails like any other
/// during an outage, and the caller retries.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Where one workspace lives on a PostgreSQL server.
pub(super) struct Target {
    /// Connects to the workspace's database.
    options: PgConnectOptions,
    /// Whether that database is the workspace's own (created on first open).
    pub(super) own_database: bool,
    /// Whether the workspace's rows are in the tables of [`SHARED_SCHEMA`], with the others'.
    pub(super) shared: bool,
    workspace: WorkspaceName,
}

impl Target {
    /// Workspace `workspace` on the server `url` names: in the shared tables when `shared`
    /// (and the database is not the workspace's own), else in a schema of its own.
    pub(super) fn new(url: &str, workspace: &WorkspaceName, shared: bool) -> StorageResult<Self> {
        workspace.schema()?;
        let options = url
            .replace("{workspace}", workspace.as_str())
            .parse::<PgConnectOptions>()
            .map_err(|error| StorageError::Config(format!("bad PostgreSQL URL: {error}")))?;
        let own_database = url.contains("{workspace}");
        Ok(Target {
            options: options.application_name("stoker"),
            own_database,
            shared: shared && !own_database,
            workspace: workspace.clone(),
        })
    }

    /// The workspace's database.
    pub(super) fn database(&self) -> &str {
        self.options.get_database().unwrap_or("postgres")
    }

    /// The schema, quoted for SQL (workspace names need no escaping).
    fn schema(&self) -> String {
        match self.shared {
            true => format!("\"{SHARED_SCHEMA}\""),
            false => format!("\"{}\"", self.workspace),
        }
    }

    /// The schema of every workspace in the target's database, when there is one: the
    /// shared tables, or the workspace's own database. Not for a schema per workspace.
    fn fixed_schema(&self) -> Option<String> {
        (self.shared || self.own_database).then(|| self.schema())
    }

    /// How the pool connects to the database: in a database whose workspaces are all in one
    /// schema, each connection starts with its search path there, so that a transaction need
    /// not name it first (a round trip saved on each).
    fn connections(&self) -> PgConnectOptions {
        match self.fixed_schema() {
            Some(schema) => self
                .options
                .clone()
                .options([("search_path", schema.as_str())]),
            None => self.options.clone(),
        }
    }

    /// The `workspace` value of the workspace's rows: its name in the shared tables.
    fn key(&self) -> &str {
        match self.shared {
            true => self.workspace.as_str(),
            false => "",
        }
    }

    /// A connection to the server's `postgres` database, to create databases from.
    async fn admin(&self) -> StorageResult<PgConnection> {
        let options = self.options.clone().database("postgres");
        Ok(PgConnection::connect_with(&options).await?)
    }
}

/// One database as this server uses it: a shared pool and a listener.
pub(in crate::storage) struct Database {
    pool: PgPool,
    listener: PgPool,
    /// Workspaces this process created or migrated already: opening them again skips that.
    migrated: Mutex<HashSet<WorkspaceName>>,
    /// Set once this process has brought the shared tables to the current schema.
    shared_ready: tokio::sync::OnceCell<()>,
}

impl Database {
    /// Connects (lazily) to the database `target` names, with at most `max_connections`
    /// pooled, and starts its listener, which reports to `notices`.
    pub(super) fn connect(
        target: &Target,
        max_connections: u32,
        notices: UnboundedSender<Notice>,
    ) -> Arc<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .min_connections(0)
            .idle_timeout(IDLE_TIMEOUT)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE_FOR {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(target.connections());
        let listener = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(target.options.clone());
        let heard_for = target.own_database.then(|| target.workspace.to_string());
        tokio::spawn(listen(listener.clone(), notices, heard_for));
        Arc::new(Database {
            pool,
            listener,
            migrated: Mutex::new(HashSet::new()),
            shared_ready: tokio::sync::OnceCell::new(),
        })
    }

    /// Opens the storage of `target`'s workspace, creating and migrating its schema first
    /// unless this process did already; its reads a caller can make slow are cancelled after
    /// `read_timeout`.
    pub(super) async fn open(
        self: &Arc<Self>,
        target: &Target,
        read_timeout: Duration,
    ) -> StorageResult<Storage> {
        let workspace = &target.workspace;
        if target.shared {
            self.shared_ready
                .get_or_try_init(|| self.prepare(target))
                .await?;
        }
        let storage = self.storage(target, read_timeout);
        if !self
            .migrated
            .lock()
            .expect("migrated lock")
            .contains(workspace)
        {
            match target.shared {
                true => {
                    storage
                        .register(workspace, Utc::now().timestamp_millis())
                        .await?
                }
                false => self.prepare(target).await?,
            }
            let mut migrated = self.migrated.lock().expect("migrated lock");
            migrated.insert(workspace.clone());
        }
        Ok(storage)
    }

    /// The shared tables as a whole, migrated, for the housekeeping of all their workspaces.
    pub(super) async fn store(
        self: &Arc<Self>,
        target: &Target,
        read_timeout: Duration,
    ) -> StorageResult<Storage> {
        self.shared_ready
            .get_or_try_init(|| self.prepare(target))
            .await?;
        Ok(Storage {
            key: Arc::from(""),
            ..self.storage(target, read_timeout)
        })
    }

    /// The storage of `target`'s workspace, on this database's pool.
    fn storage(self: &Arc<Self>, target: &Target, read_timeout: Duration) -> Storage {
        let statements = Arc::new(AtomicU64::new(0));
        let db = count_statements(
            SqlxPostgresConnector::from_sqlx_postgres_pool(self.pool.clone()),
            &statements,
        );
        Storage {
            reader: db.clone(),
            writer: db,
            statements,
            retention: Retention::default(),
            store_wide: None,
            key: Arc::from(target.key()),
            backend: Backend::Postgres {
                search_path: match target.fixed_schema() {
                    Some(_) => None,
                    None => Some(target.schema()),
                },
                schema: target.schema(),
                read_timeout_ms: read_timeout.as_millis().to_string(),
                database: self.clone(),
                own_database: target.own_database,
            },
        }
    }

    /// Creates the schema when missing and migrates it, under an advisory lock, through a
    /// pool of one connection of its own whose search path is the schema. A pooled connection
    /// of the shared pool would not do: one left inside a transaction by a cancelled `begin`
    /// would keep the new schema uncommitted, out of the migration's sight; and were this
    /// call cancelled, the session's lock would stay with the pooled connection, stopping
    /// every server that opens the workspace after. Closing (or dropping) the pool of one
    /// ends the session and its lock.
    async fn prepare(&self, target: &Target) -> StorageResult<()> {
        if target.own_database {
            create_database(target).await?;
        }
        let schema = target.schema();
        let setup = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(
                target
                    .options
                    .clone()
                    .options([("search_path", schema.as_str())]),
            )
            .await?;
        // Workspace names have no space: the shared tables' lock is no workspace's.
        let lock_key = match target.shared {
            true => SHARED_COMMENT.to_owned(),
            false => format!("stoker:{}", target.workspace),
        };
        let prepared = async {
            sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
                .bind(&lock_key)
                .execute(&setup)
                .await?;
            let migrated = migrate(target, &setup).await;
            let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
                .bind(&lock_key)
                .execute(&setup)
                .await;
            migrated?;
            unlocked?;
            Ok(())
        }
        .await;
        setup.close().await;
        prepared
    }

    /// The workspaces this process created or migrated already (see [`Database::open`]).
    pub(super) fn migrated(&self) -> &Mutex<HashSet<WorkspaceName>> {
        &self.migrated
    }

    /// Whether `target`'s workspace exists in this database: a row of the shared tables, or a
    /// stoker schema of its own.
    pub(super) async fn has_workspace(&self, target: &Target) -> StorageResult<bool> {
        if target.shared {
            let names = self
                .shared_workspaces(Some(target.workspace.as_str()))
                .await?;
            return Ok(!names.is_empty());
        }
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM pg_namespace WHERE nspname = $1 \
             AND obj_description(oid, 'pg_namespace') = $2",
        )
        .bind(target.workspace.as_str())
        .bind(SCHEMA_COMMENT)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// The workspaces in the shared tables (only `only`, when given); none before the tables
    /// are made.
    pub(super) async fn shared_workspaces(&self, only: Option<&str>) -> StorageResult<Vec<String>> {
        let tables = format!("{SHARED_SCHEMA}.workspaces");
        let made: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(&tables)
            .fetch_one(&self.pool)
            .await?;
        if made.is_none() {
            return Ok(Vec::new());
        }
        let select =
            format!("SELECT name FROM {tables} WHERE $1::text IS NULL OR name = $1 ORDER BY name");
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(select))
            .bind(only)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The names of the stoker schemas in this database.
    pub(super) async fn schemas(&self) -> StorageResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace \
             WHERE obj_description(oid, 'pg_namespace') = $1 ORDER BY 1",
        )
        .bind(SCHEMA_COMMENT)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Closes the pool and the listener (which ends its task).
    pub(super) async fn close(&self) {
        self.listener.close().await;
        self.pool.close().await;
    }
}

/// Creates `target`'s schema when missing and brings it to the current migration, through
/// `setup`, a pool of one connection whose search path is the schema. A schema that is not
/// what the placement expects is refused, and nothing is written (see [`check_placement`]).
async fn migrate(target: &Target, setup: &PgPool) -> StorageResult<()> {
    check_placement(target, setup).await?;
    let (schema, comment) = match target.shared {
        true => (target.schema(), SHARED_COMMENT),
        false => (target.schema(), SCHEMA_COMMENT),
    };
    // One simple query is one transaction: the schema is never there without its mark.
    let create =
        format!("CREATE SCHEMA IF NOT EXISTS {schema}; COMMENT ON SCHEMA {schema} IS '{comment}'");
    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
        .execute(setup)
        .await?;
    let migrating = SqlxPostgresConnector::from_sqlx_postgres_pool(setup.clone());
    Ok(Migrator::up(&migrating, None).await?)
}

/// Refuses a schema the placement cannot use, before anything is written: shared tables in a
/// database that holds workspaces in schemas of their own (the layout before 0.2) and no shared
/// tables yet, where those workspaces would look empty; shared tables where schema `stoker` is
/// not them (a workspace's, or somebody else's); a workspace's own schema where it is the
/// shared tables.
async fn check_placement(target: &Target, setup: &PgPool) -> StorageResult<()> {
    let schema = match target.shared {
        true => SHARED_SCHEMA,
        false => target.workspace.as_str(),
    };
    let (own_schemas, comment): (i64, Option<String>) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_namespace WHERE obj_description(oid, 'pg_namespace') = $1), \
         (SELECT COALESCE(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace \
          WHERE nspname = $2)",
    )
    .bind(SCHEMA_COMMENT)
    .bind(schema)
    .fetch_one(setup)
    .await?;
    let database = target.database();
    let shared_tables = comment.as_deref() == Some(SHARED_COMMENT);
    if !target.shared {
        return match shared_tables {
            false => Ok(()),
            true => Err(StorageError::Config(format!(
                "schema `{SHARED_SCHEMA}` of database `{database}` holds stoker's shared \
                 tables: a workspace named `{SHARED_SCHEMA}` cannot have a schema of its own there"
            ))),
        };
    }
    match comment {
        Some(_) if shared_tables => Ok(()),
        Some(_) => Err(StorageError::Config(format!(
            "schema `{SHARED_SCHEMA}` of database `{database}` is not stoker's shared tables (a \
             workspace of a schema per workspace, or somebody else's); stoker leaves it alone"
        ))),
        None if own_schemas == 0 => Ok(()),
        None => Err(StorageError::Config(format!(
            "database `{database}` holds {own_schemas} workspaces in schemas of their own (the \
             layout before 0.2) and no shared tables: start with --schema-per-workspace \
             (StorageConfig::PostgresSchemas) to keep using them"
        ))),
    }
}

/// Whose a database of the name a workspace's own database would have is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ownership {
    /// There is none.
    Missing,
    /// Stoker's: it carries stoker's mark, or holds the workspace's schema (a database an
    /// earlier version created, which is marked when found).
    Ours,
    /// Somebody else's (`postgres`, another application's): stoker never writes to it.
    Foreign,
}

/// The name quoted for SQL: the URL's, with a checked workspace name in it; quotes doubled.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whose the workspace's own database is (see [`Ownership`]).
async fn ownership(target: &Target, admin: &mut PgConnection) -> StorageResult<Ownership> {
    let name = target.database();
    let found: Option<(Option<String>, bool)> = sqlx::query_as(
        "SELECT shobj_description(oid, 'pg_database'), datallowconn AND NOT datistemplate \
         FROM pg_database WHERE datname = $1",
    )
    .bind(name)
    .fetch_optional(&mut *admin)
    .await?;
    match found {
        None => return Ok(Ownership::Missing),
        Some((Some(mark), _)) if mark == SCHEMA_COMMENT => return Ok(Ownership::Ours),
        Some((_, false)) => return Ok(Ownership::Foreign),
        Some(_) => {}
    }
    // The server answered the admin connection: one that fails inside the database is refused
    // it (no CONNECT right, say), and stoker has no business there.
    let holds_the_schema = match workspace_schema_in(target).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(database = name, %error, "cannot look into a database named like a workspace's");
            false
        }
    };
    if !holds_the_schema {
        return Ok(Ownership::Foreign);
    }
    // Made by an earlier version. Only its owner may mark it; it is stoker's either way.
    if let Err(error) = mark_database(admin, name).await {
        tracing::warn!(database = name, %error, "cannot mark a workspace's database as stoker's");
    }
    Ok(Ownership::Ours)
}

/// Whether the workspace's own database holds its stoker schema.
async fn workspace_schema_in(target: &Target) -> StorageResult<bool> {
    let mut inside = PgConnection::connect_with(&target.options).await?;
    let found: Result<Option<i32>, sqlx::Error> = sqlx::query_scalar(
        "SELECT 1 FROM pg_namespace WHERE nspname = $1 \
         AND obj_description(oid, 'pg_namespace') = $2",
    )
    .bind(target.workspace.as_str())
    .bind(SCHEMA_COMMENT)
    .fetch_optional(&mut inside)
    .await;
    let _ = inside.close().await;
    Ok(found?.is_some())
}

async fn mark_database(admin: &mut PgConnection, name: &str) -> StorageResult<()> {
    let mark = format!("COMMENT ON DATABASE {} IS '{SCHEMA_COMMENT}'", quoted(name));
    sqlx::raw_sql(sqlx::AssertSqlSafe(mark))
        .execute(admin)
        .await?;
    Ok(())
}

/// Creates the workspace's own database when it is missing, marked as stoker's (another
/// server may be creating it at the same moment: then theirs is as good). A database of that
/// name that is not stoker's is refused: a URL `postgres://host/{workspace}` must not turn a
/// workspace named `postgres` into tables in the server's own database.
async fn create_database(target: &Target) -> StorageResult<()> {
    let name = target.database();
    let mut admin = target.admin().await?;
    let created = async {
        match ownership(target, &mut admin).await? {
            Ownership::Ours => return Ok(()),
            Ownership::Foreign => return Err(foreign(name)),
            Ownership::Missing => {}
        }
        let create = format!("CREATE DATABASE {}", quoted(name));
        if let Err(error) = sqlx::raw_sql(sqlx::AssertSqlSafe(create))
            .execute(&mut admin)
            .await
        {
            return created_meanwhile(target, &mut admin, error).await;
        }
        mark_database(&mut admin, name).await
    }
    .await;
    let _ = admin.close().await;
    created
}

/// After `CREATE DATABASE` failed with `error`: whether another server created the database
/// meanwhile. It marks it in a statement of its own just after, so an unmarked one is given a
/// moment before it counts as somebody else's.
async fn created_meanwhile(
    target: &Target,
    admin: &mut PgConnection,
    error: sqlx::Error,
) -> StorageResult<()> {
    for _ in 0..MARK_WAITS {
        match ownership(target, admin).await? {
            Ownership::Ours => return Ok(()),
            Ownership::Missing => return Err(error.into()),
            Ownership::Foreign => tokio::time::sleep(MARK_WAIT).await,
        }
    }
    Err(foreign(target.database()))
}

/// How often, and how long each time, a database another server just created is given to
/// carry stoker's mark.
const MARK_WAITS: usize = 20;
const MARK_WAIT: Duration = Duration::from_millis(100);

/// The refusal of a database that is not stoker's.
fn foreign(name: &str) -> StorageError {
    StorageError::Config(format!(
        "database `{name}` exists and is not a stoker workspace's; stoker uses only databases \
         it created (to give it this one, run COMMENT ON DATABASE {} IS '{SCHEMA_COMMENT}')",
        quoted(name)
    ))
}

/// Whether the workspace's own database exists and is stoker's (URLs with `{workspace}`).
pub(super) async fn own_database_exists(target: &Target) -> StorageResult<bool> {
    let mut admin = target.admin().await?;
    let ours = ownership(target, &mut admin).await;
    let _ = admin.close().await;
    Ok(ours? == Ownership::Ours)
}

/// The workspaces that have a database of their own on the server `url` names: the databases
/// whose names fit the URL's pattern around `{workspace}` and are stoker's.
pub(super) async fn own_databases(url: &str) -> StorageResult<Vec<String>> {
    let pattern = url
        .parse::<PgConnectOptions>()
        .map_err(|error| StorageError::Config(format!("bad PostgreSQL URL: {error}")))?;
    let database = pattern.get_database().unwrap_or_default().to_owned();
    let Some((prefix, suffix)) = database.split_once("{workspace}") else {
        return Ok(Vec::new());
    };
    let mut admin = PgConnection::connect_with(&pattern.database("postgres")).await?;
    let names: Vec<String> = sqlx::query_scalar("SELECT datname::text FROM pg_database")
        .fetch_all(&mut admin)
        .await?;
    let mut workspaces = Vec::new();
    let candidates = names
        .iter()
        .filter_map(|name| name.strip_prefix(prefix)?.strip_suffix(suffix))
        .filter_map(|name| WorkspaceName::new(name).ok());
    for workspace in candidates {
        // A name PostgreSQL keeps for itself (`public`) is no workspace's.
        let Ok(target) = Target::new(url, &workspace, false) else {
            continue;
        };
        if ownership(&target, &mut admin).await? == Ownership::Ours {
            workspaces.push(workspace.to_string());
        }
    }
    let _ = admin.close().await;
    Ok(workspaces)
}

/// Tells the listeners of the workspace's database, when `db`'s transaction commits, that
/// jobs of the workspace whose rows carry `key` wait, as the `jobs_notify_enqueued` trigger
/// does for the jobs it sees become `enqueued`: with the key as payload where workspaces share
/// the tables, else with the schema, named after its workspace. Nothing on SQLite, where
/// nobody listens.
pub(in crate::storage) async fn announce_enqueued(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let notify = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, COALESCE(NULLIF($2, ''), current_schema()))",
        [CHANNEL.into(), key.into()],
    );
    db.execute_raw(notify).await?;
    Ok(())
}

/// Reports to `notices` each time a transaction makes jobs `enqueued` (with the workspace's
/// name), and after each reconnection (notifications may have been missed meanwhile) of the
/// database of all workspaces, or of `heard_for`'s own. Ends when the pool closes or nobody
/// takes the notices any more.
async fn listen(pool: PgPool, notices: UnboundedSender<Notice>, heard_for: Option<String>) {
    let reconnected = || Notice::Reconnected(heard_for.clone());
    loop {
        let mut listener = match subscribe(&pool).await {
            Ok(listener) => listener,
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for enqueued jobs; retrying");
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        if notices.unbounded_send(reconnected()).is_err() {
            return;
        }
        loop {
            let notice = match listener.try_recv().await {
                Ok(Some(notification)) => Notice::Enqueued(notification.payload().to_owned()),
                Ok(None) => {
                    tracing::warn!("lost the listening connection; reconnecting");
                    reconnected()
                }
                Err(sqlx::Error::PoolClosed) => return,
                Err(error) => {
                    tracing::warn!(%error, "listening for enqueued jobs failed; retrying");
                    tokio::time::sleep(RECONNECT_DELAY).await;
                    break;
                }
            };
            if notices.unbounded_send(notice).is_err() {
                return;
            }
        }
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Runs `statements` in a transaction of their own as one simple query (`BEGIN; …; COMMIT`,
/// values written into the text): one round trip, where `begin`, each statement and `commit`
/// would take one each. The rows of every statement come back together.
///
/// The explicit `BEGIN` and `COMMIT` are not for atomicity (a simple query is one implicit
/// transaction anyway) but for what a cancelled `BEGIN` can leave behind: sqlx does not roll
/// back a top-level `BEGIN` whose answer it never read, so a pooled connection can come back
/// inside a transaction. Transactions of sea-orm heal such a connection by committing it;
/// so does this `COMMIT` (after the server's warning about the `BEGIN`). When a statement
/// fails, the server skips the rest and keeps the transaction open and aborted, so it is
/// rolled back here, and a connection that cannot even do that is closed.
async fn in_one_trip(pool: &PgPool, statements: String) -> Result<Vec<PgRow>, sqlx::Error> {
    let mut connection = pool.acquire().await?;
    let query = format!("BEGIN; {statements}; COMMIT");
    let result = sqlx::raw_sql(sqlx::AssertSqlSafe(query))
        .fetch_all(&mut *connection)
        .await;
    if result.is_err()
        && sqlx::raw_sql("ROLLBACK")
            .execute(&mut *connection)
            .await
            .is_err()
    {
        connection.close_on_drop();
    }
    result
}

impl Storage {
    /// Runs `claim`, the text of a claim statement, as one simple query (see [`in_one_trip`])
    /// in the schema `search_path` names, if any. Its commit does not wait for the disk (see
    /// [`Storage::claiming`]).
    pub(super) async fn claiming_in_one_trip(
        &self,
        search_path: Option<&str>,
        claim: String,
    ) -> StorageResult<Vec<QueryResult>> {
        let schema = match search_path {
            Some(schema) => format!("SET LOCAL search_path = {schema}; "),
            None => String::new(),
        };
        let sql = format!("{schema}SET LOCAL synchronous_commit = off; {claim}");
        self.statements.fetch_add(1, Ordering::Relaxed);
        let pool = self.writer.get_postgres_connection_pool();
        let rows = in_one_trip(pool, sql)
            .await
            .map_err(|error| DbErr::Query(sea_orm::RuntimeErr::SqlxError(error.into())))?;
        Ok(rows.into_iter().map(QueryResult::from).collect())
    }
}

/// A transaction on `db` for `purpose`, in the schema `search_path` names (if any); reads
/// give up after `read_timeout_ms`.
pub(super) async fn begin(
    db: &DatabaseConnection,
    purpose: Purpose,
    search_path: Option<&String>,
    read_timeout_ms: &String,
) -> StorageResult<DatabaseTransaction> {
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

/// Sets the search path of `txn` to `search_path` until the transaction ends or it is set
/// again; returns the one it replaced. (PostgreSQL evaluates the two outputs in order.)
pub(super) async fn swap_search_path(
    txn: &DatabaseTransaction,
    search_path: &str,
) -> Result<String, DbErr> {
    let swap = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT current_setting('search_path') AS replaced, \
         set_config('search_path', $1, true) AS search_path",
        [search_path.into()],
    );
    let row = txn.query_one_raw(swap).await?;
    let row = row.ok_or_else(|| DbErr::RecordNotFound("the search path".into()))?;
    row.try_get("", "replaced")
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

#[cfg(test)]
mod tests {
    use sea_orm::sqlx::Row;

    use super::*;

    /// The suite's PostgreSQL (these tests run in its pass only).
    fn postgres_url() -> String {
        std::env::var("STOKER_TEST_DATABASE_URL").expect("the PostgreSQL pass")
    }

    /// A pool of one connection to the suite's PostgreSQL.
    fn one_connection() -> PgPool {
        let options = postgres_url().parse::<PgConnectOptions>().unwrap();
        PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(options)
    }

    /// Whether the pool's connection is outside any transaction: a simple query that starts
    /// its own transaction runs at that transaction's start time.
    async fn outside_a_transaction(pool: &PgPool) -> bool {
        sqlx::raw_sql("SELECT now() = statement_timestamp() AS fresh")
            .fetch_one(pool)
            .await
            .unwrap()
            .get("fresh")
    }

    async fn drop_schema(url: &str, workspace: &WorkspaceName) {
        let mut admin = PgConnection::connect(url).await.unwrap();
        let drop = format!("DROP SCHEMA \"{workspace}\" CASCADE");
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
            .execute(&mut admin)
            .await
            .unwrap();
    }

    #[actix_rt::test]
    #[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
    async fn a_workspace_opens_when_the_pooled_connection_was_left_inside_a_transaction() {
        let url = postgres_url();
        let workspace = WorkspaceName::new(&format!("stray_{}", std::process::id())).unwrap();
        let target = Target::new(&url, &workspace, false).unwrap();
        let (notices, _heard) = futures::channel::mpsc::unbounded();
        let database = Database::connect(&target, 1, notices);
        // A `BEGIN` that sqlx does not count, as a cancelled `begin` leaves one.
        sqlx::raw_sql("BEGIN")
            .execute(&database.pool)
            .await
            .unwrap();

        let storage = database
            .open(&target, super::super::databases::DEFAULT_READ_TIMEOUT)
            .await
            .unwrap();
        assert!(database.has_workspace(&target).await.unwrap());
        // Whatever the stray transaction holds is not the schema: ending it loses nothing.
        sqlx::raw_sql("ROLLBACK")
            .execute(&database.pool)
            .await
            .unwrap();
        let stats = storage.stats().await.unwrap();
        assert_eq!(stats.enqueued, 0, "the workspace's tables are there");
        database.close().await;
        drop_schema(&url, &workspace).await;
    }

    #[actix_rt::test]
    #[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
    async fn a_trip_ends_a_transaction_left_open_and_leaves_its_connection_clean_after_a_failure() {
        let pool = one_connection();
        // A `BEGIN` that sqlx does not count, as a cancelled `begin` leaves one.
        sqlx::raw_sql("BEGIN").execute(&pool).await.unwrap();
        assert!(
            !outside_a_transaction(&pool).await,
            "the transaction was left open"
        );

        let rows = in_one_trip(&pool, "SELECT 2 AS two".to_owned())
            .await
            .unwrap();
        assert_eq!(rows[0].get::<i32, _>("two"), 2);
        assert!(outside_a_transaction(&pool).await, "the trip ended it");

        assert!(in_one_trip(&pool, "SELECT 1 / 0".to_owned()).await.is_err());
        assert!(
            outside_a_transaction(&pool).await,
            "the failed trip was rolled back"
        );
        let rows = in_one_trip(&pool, "SELECT 3 AS three".to_owned())
            .await
            .unwrap();
        assert_eq!(rows[0].get::<i32, _>("three"), 3);
    }
}
