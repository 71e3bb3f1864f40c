//! [`Databases`]: the storage a server's workspaces share, and the door through which each
//! workspace's [`Storage`] is opened.
//!
//! On PostgreSQL every workspace of a database goes through one pool and one listener, so a
//! thousand workspaces cost no more connections than one. A database of its own per workspace
//! (`{workspace}` in the URL) has its pool and listener for as long as its workspace is open.
//! On SQLite a file every workspace shares is opened once, with one writer and its readers;
//! a file per workspace has its own connections while the workspace is open.

use std::collections::HashSet;
#[cfg(feature = "sqlite")]
use std::path::Path;
use std::time::Duration;
#[cfg(feature = "postgres")]
use std::{collections::HashMap, sync::Arc};

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};

#[cfg(feature = "postgres")]
use super::postgres::{self, Database, Target};
#[cfg(feature = "sqlite")]
use super::sqlite;
use crate::name::WorkspaceName;
use crate::storage::{Storage, StorageConfig, StorageResult};

/// How long a read a caller can make slow may run on PostgreSQL unless the runtime says.
pub(crate) const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What a PostgreSQL listener heard.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(feature = "postgres"),
    expect(dead_code, reason = "only PostgreSQL's listeners send notices")
)]
pub(crate) enum Notice {
    /// Jobs of workspace `0` became `enqueued` (on this server or another).
    Enqueued(String),
    /// The listener (re)connected: notifications may have been missed before. It listens for
    /// every workspace (`None`: the database they all share), or for one (its own database).
    Reconnected(Option<String>),
}

/// The databases one server uses, opened once each.
#[cfg_attr(
    not(all(feature = "sqlite", feature = "postgres")),
    expect(
        dead_code,
        reason = "a build with one backend leaves the other's fields unread"
    )
)]
pub(crate) struct Databases {
    config: StorageConfig,
    max_connections: u32,
    #[cfg(feature = "postgres")]
    shared: tokio::sync::Mutex<HashMap<String, Arc<Database>>>,
    notices: UnboundedSender<Notice>,
    /// How long a read a caller can make slow may run on PostgreSQL (see [`Storage::read`]).
    read_timeout: Duration,
    /// Workspaces this process brought to the current schema (SQLite files) or recorded in
    /// the shared file already.
    migrated: std::sync::Mutex<HashSet<WorkspaceName>>,
    /// The SQLite file every workspace shares, once open.
    #[cfg(feature = "sqlite")]
    shared_file: tokio::sync::Mutex<Option<Storage>>,
}

impl Databases {
    /// Databases as `config` describes them, with at most `max_connections` pooled per
    /// database; listeners report to the receiver returned.
    pub(crate) fn new(
        config: StorageConfig,
        max_connections: u32,
    ) -> (Self, UnboundedReceiver<Notice>) {
        let (notices, heard) = unbounded();
        let databases = Databases {
            config,
            max_connections,
            #[cfg(feature = "postgres")]
            shared: tokio::sync::Mutex::new(HashMap::new()),
            notices,
            read_timeout: DEFAULT_READ_TIMEOUT,
            migrated: std::sync::Mutex::new(HashSet::new()),
            #[cfg(feature = "sqlite")]
            shared_file: tokio::sync::Mutex::new(None),
        };
        (databases, heard)
    }

    /// These databases, cancelling reads a caller can make slow (lists, searches, counts)
    /// after `timeout` on PostgreSQL, where they would hold connections every workspace
    /// shares.
    pub(crate) fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Opens (creating and migrating as needed) the storage of `workspace`. On PostgreSQL this
    /// starts a listener the first time a database is used; call it where that task may live.
    pub(crate) async fn open(&self, workspace: &WorkspaceName) -> StorageResult<Storage> {
        match &self.config {
            #[cfg(feature = "sqlite")]
            StorageConfig::Sqlite { dir } => {
                let migrate = !self.migrated.lock().expect("migrated").contains(workspace);
                let storage = sqlite::open(dir, workspace, migrate).await?;
                self.migrated
                    .lock()
                    .expect("migrated")
                    .insert(workspace.clone());
                Ok(storage)
            }
            #[cfg(feature = "sqlite")]
            StorageConfig::SqliteFile { path } => {
                let store = self.shared_file(path).await?;
                if !self.migrated.lock().expect("migrated").contains(workspace) {
                    store
                        .register(workspace, chrono::Utc::now().timestamp_millis())
                        .await?;
                    let mut migrated = self.migrated.lock().expect("migrated");
                    migrated.insert(workspace.clone());
                }
                Ok(store.of_workspace(workspace.as_str()))
            }
            #[cfg(feature = "postgres")]
            StorageConfig::Postgres { url } | StorageConfig::PostgresSchemas { url } => {
                let target = self.target(url, workspace)?;
                let database = self.database(&target).await;
                database.open(&target, self.read_timeout).await
            }
        }
    }

    /// The store every workspace shares, where the placement has one (one SQLite file, or
    /// PostgreSQL's shared tables), opened and migrated: its housekeeping runs once for all
    /// its workspaces. `None` where each workspace has a store of its own.
    pub(crate) async fn shared_store(&self) -> StorageResult<Option<Storage>> {
        match &self.config {
            #[cfg(feature = "sqlite")]
            StorageConfig::SqliteFile { path } => Ok(Some(self.shared_file(path).await?)),
            #[cfg(feature = "sqlite")]
            StorageConfig::Sqlite { .. } => Ok(None),
            #[cfg(feature = "postgres")]
            StorageConfig::Postgres { url } => {
                // Any valid name finds the shared database.
                let target = self.target(url, &WorkspaceName::new("default")?)?;
                if !target.shared {
                    return Ok(None);
                }
                let database = self.database(&target).await;
                Ok(Some(database.store(&target, self.read_timeout).await?))
            }
            #[cfg(feature = "postgres")]
            StorageConfig::PostgresSchemas { .. } => Ok(None),
        }
    }

    /// Whether workspace `name` has storage already (it was created before).
    pub(crate) async fn exists(&self, workspace: &WorkspaceName) -> StorageResult<bool> {
        match &self.config {
            #[cfg(feature = "sqlite")]
            StorageConfig::Sqlite { dir } => Ok(sqlite::exists(dir, workspace)),
            #[cfg(feature = "sqlite")]
            StorageConfig::SqliteFile { path } => match path.exists() {
                true => self.shared_file(path).await?.holds(workspace).await,
                false => Ok(false),
            },
            #[cfg(feature = "postgres")]
            StorageConfig::Postgres { url } | StorageConfig::PostgresSchemas { url } => {
                let target = self.target(url, workspace)?;
                if target.own_database {
                    return postgres::own_database_exists(&target).await;
                }
                self.database(&target).await.has_workspace(&target).await
            }
        }
    }

    /// Every workspace with storage, by name (names that are not valid workspace names, such
    /// as unrelated files or databases, are skipped).
    pub(crate) async fn workspaces(&self) -> StorageResult<Vec<WorkspaceName>> {
        let names = match &self.config {
            #[cfg(feature = "sqlite")]
            StorageConfig::Sqlite { dir } => sqlite::workspaces(dir)?,
            #[cfg(feature = "sqlite")]
            StorageConfig::SqliteFile { path } => match path.exists() {
                true => {
                    let held = self.shared_file(path).await?.held().await?;
                    note_known(&self.migrated, &held);
                    held
                }
                false => Vec::new(),
            },
            #[cfg(feature = "postgres")]
            StorageConfig::Postgres { url } if url.contains("{workspace}") => {
                postgres::own_databases(url).await?
            }
            #[cfg(feature = "postgres")]
            StorageConfig::Postgres { url } | StorageConfig::PostgresSchemas { url } => {
                // Any valid name finds the shared database.
                let target = self.target(url, &WorkspaceName::new("default")?)?;
                let database = self.database(&target).await;
                match target.shared {
                    true => {
                        let held = database.shared_workspaces(None).await?;
                        note_known(database.migrated(), &held);
                        held
                    }
                    false => database.schemas().await?,
                }
            }
        };
        let mut names: Vec<WorkspaceName> = names
            .iter()
            .filter_map(|name| WorkspaceName::new(name).ok())
            .collect();
        names.sort_unstable();
        Ok(names)
    }

    /// Where `workspace` lives on the PostgreSQL server `url` names, in this placement.
    #[cfg(feature = "postgres")]
    fn target(&self, url: &str, workspace: &WorkspaceName) -> StorageResult<Target> {
        let shared = matches!(self.config, StorageConfig::Postgres { .. });
        Target::new(url, workspace, shared)
    }

    /// The SQLite file every workspace shares, opened (and migrated) on first use.
    #[cfg(feature = "sqlite")]
    async fn shared_file(&self, path: &Path) -> StorageResult<Storage> {
        let mut shared = self.shared_file.lock().await;
        if let Some(store) = shared.as_ref() {
            return Ok(store.clone());
        }
        let store = sqlite::open_shared(path).await?;
        *shared = Some(store.clone());
        Ok(store)
    }

    /// The database `target` lives in: the shared one (connected on first use), or a new one
    /// of the workspace's own that its storage closes.
    #[cfg(feature = "postgres")]
    async fn database(&self, target: &Target) -> Arc<Database> {
        if target.own_database {
            return Database::connect(target, self.max_connections, self.notices.clone());
        }
        let mut shared = self.shared.lock().await;
        shared
            .entry(target.database().to_owned())
            .or_insert_with(|| {
                Database::connect(target, self.max_connections, self.notices.clone())
            })
            .clone()
    }

    /// Closes the shared pools, listeners and SQLite file.
    pub(crate) async fn close(&self) {
        #[cfg(feature = "sqlite")]
        if let Some(store) = self.shared_file.lock().await.take() {
            store.close_store().await;
        }
        #[cfg(feature = "postgres")]
        {
            let shared: Vec<Arc<Database>> =
                self.shared.lock().await.drain().map(|(_, db)| db).collect();
            for database in shared {
                database.close().await;
            }
        }
    }
}

/// Notes the workspaces `names` of a shared store in `recorded`, the set of those that need no
/// insert when they open: a server that finds thousands at start must not write a row for
/// each again.
fn note_known(recorded: &std::sync::Mutex<HashSet<WorkspaceName>>, names: &[String]) {
    let mut recorded = recorded.lock().expect("recorded workspaces");
    recorded.extend(
        names
            .iter()
            .filter_map(|name| WorkspaceName::new(name).ok()),
    );
}
