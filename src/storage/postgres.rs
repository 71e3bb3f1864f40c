//! Opening a workspace's PostgreSQL storage: its schema (in the URL's database, or in a
//! database of its own when the URL's database name contains `{workspace}`), its pool, its
//! migrations, and the listener that hears other servers enqueue.
//!
//! Many servers share one database and coordinate through it alone: creating a schema and
//! migrating it happen under an advisory lock, so servers starting together take turns.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use futures::Stream;
use migration::{Migrator, MigratorTrait};
use sea_orm::SqlxPostgresConnector;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions};
use sea_orm::sqlx::{self, Connection};

use super::{Backend, Storage, StorageError, StorageResult, count_statements};
use crate::name::WorkspaceName;

/// Connections per workspace for reads and writes (the claimer and the listener have their own).
const POOL_SIZE: u32 = 4;
/// The channel the `jobs_notify_enqueued` trigger notifies, with the schema as payload.
const CHANNEL: &str = "stoker_enqueued";
/// Marks a schema as a stoker workspace.
const SCHEMA_COMMENT: &str = "stoker workspace";
/// How long a lost listener waits before it tries again.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// How long connecting and acquiring a connection may take before it counts as an outage.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where one workspace lives on a PostgreSQL server.
struct Target {
    /// Connects to the workspace's database.
    options: PgConnectOptions,
    /// Whether that database is the workspace's own (created on first open).
    own_database: bool,
    /// The schema, quoted for SQL (workspace names need no escaping).
    schema: String,
}

impl Target {
    fn new(url: &str, workspace: &WorkspaceName) -> StorageResult<Self> {
        let schema = format!("\"{}\"", workspace.schema()?);
        let options = url
            .replace("{workspace}", workspace.as_str())
            .parse::<PgConnectOptions>()
            .map_err(|error| StorageError::Config(format!("bad PostgreSQL URL: {error}")))?;
        Ok(Target {
            options: options.application_name("stoker"),
            own_database: url.contains("{workspace}"),
            schema,
        })
    }

    /// The workspace's database.
    fn database(&self) -> &str {
        self.options.get_database().unwrap_or("postgres")
    }

    /// A connection to the server's `postgres` database, to create databases from.
    async fn admin(&self) -> StorageResult<PgConnection> {
        let options = self.options.clone().database("postgres");
        Ok(PgConnection::connect_with(&options).await?)
    }

    /// Options for the workspace's own connections: its schema comes first on the search path.
    fn workspace_options(&self) -> PgConnectOptions {
        self.options
            .clone()
            .options([("search_path", self.schema.as_str())])
    }
}

pub(super) async fn open(url: &str, workspace: &WorkspaceName) -> StorageResult<Storage> {
    let target = Target::new(url, workspace)?;
    if target.own_database {
        create_database(&target).await?;
    }
    let mut setup = PgConnection::connect_with(&target.options).await?;
    let lock_key = format!("stoker:{workspace}");
    sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
        .bind(&lock_key)
        .execute(&mut setup)
        .await?;
    let prepared = prepare(&target, &mut setup).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
        .bind(&lock_key)
        .execute(&mut setup)
        .await;
    let _ = setup.close().await;
    let (writer, statements) = prepared?;
    unlocked?;
    let listen = single_connection(target.workspace_options());
    let claimer = single_connection(
        target
            .workspace_options()
            .options([("synchronous_commit", "off")]),
    );
    Ok(Storage {
        claimer: count_statements(
            SqlxPostgresConnector::from_sqlx_postgres_pool(claimer),
            &statements,
        ),
        reader: writer.clone(),
        writer,
        statements,
        backend: Backend::Postgres {
            listen,
            schema: workspace.to_string(),
        },
    })
}

/// A pool of one connection, connected when first used.
fn single_connection(options: PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options)
}

/// Creates the schema when missing, connects the pool and migrates. Runs under the advisory lock.
async fn prepare(
    target: &Target,
    setup: &mut PgConnection,
) -> StorageResult<(sea_orm::DatabaseConnection, Arc<AtomicU64>)> {
    let schema = &target.schema;
    for statement in [
        format!("CREATE SCHEMA IF NOT EXISTS {schema}"),
        format!("COMMENT ON SCHEMA {schema} IS '{SCHEMA_COMMENT}'"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut *setup)
            .await?;
    }
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(target.workspace_options())
        .await?;
    let statements = Arc::new(AtomicU64::new(0));
    let writer = count_statements(
        SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
        &statements,
    );
    Migrator::up(&writer, None).await?;
    Ok((writer, statements))
}

/// Creates the workspace's own database when it is missing (another server may be creating
/// it at the same moment: then theirs is as good).
async fn create_database(target: &Target) -> StorageResult<()> {
    let name = target.database();
    let mut admin = target.admin().await?;
    if !database_exists(&mut admin, name).await? {
        // The name is the URL's, with a checked workspace name in it; quotes are doubled.
        let create = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        if let Err(error) = sqlx::raw_sql(sqlx::AssertSqlSafe(create))
            .execute(&mut admin)
            .await
            && !database_exists(&mut admin, name).await?
        {
            return Err(error.into());
        }
    }
    let _ = admin.close().await;
    Ok(())
}

async fn database_exists(admin: &mut PgConnection, name: &str) -> StorageResult<bool> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(admin)
        .await?;
    Ok(found.is_some())
}

/// Whether workspace `name` has storage on the server `url` names.
pub(super) async fn exists(url: &str, workspace: &WorkspaceName) -> StorageResult<bool> {
    let target = Target::new(url, workspace)?;
    if target.own_database {
        let mut admin = target.admin().await?;
        if !database_exists(&mut admin, target.database()).await? {
            return Ok(false);
        }
    }
    let mut connection = PgConnection::connect_with(&target.options).await?;
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM pg_namespace WHERE nspname = $1 \
         AND obj_description(oid, 'pg_namespace') = $2",
    )
    .bind(workspace.as_str())
    .bind(SCHEMA_COMMENT)
    .fetch_optional(&mut connection)
    .await?;
    let _ = connection.close().await;
    Ok(found.is_some())
}

/// A wake-up each time another transaction made jobs of `schema` `enqueued`, and one after
/// the listener lost its connection (notifications may have been missed meanwhile). Ends when
/// the storage closes.
pub(super) fn wakeups(listen: PgPool, schema: String) -> impl Stream<Item = ()> {
    futures::stream::unfold(None::<PgListener>, move |listener| {
        let (listen, schema) = (listen.clone(), schema.clone());
        async move {
            let mut listener = match listener {
                Some(listener) => listener,
                None => match subscribe(&listen).await {
                    Ok(listener) => listener,
                    Err(sqlx::Error::PoolClosed) => return None,
                    Err(error) => {
                        tracing::warn!(%error, "cannot listen for enqueued jobs; retrying");
                        tokio::time::sleep(RECONNECT_DELAY).await;
                        return Some(((), None));
                    }
                },
            };
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) if notification.payload() == schema => {
                        return Some(((), Some(listener)));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        tracing::warn!("lost the listening connection; reconnecting");
                        return Some(((), Some(listener)));
                    }
                    Err(sqlx::Error::PoolClosed) => return None,
                    Err(error) => {
                        tracing::warn!(%error, "listening for enqueued jobs failed; retrying");
                        tokio::time::sleep(RECONNECT_DELAY).await;
                        return Some(((), None));
                    }
                }
            }
        }
    })
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
