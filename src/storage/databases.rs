//! [`Databases`]: the storage a server's workspaces share, and the door through which each
//! workspace's [`Storage`] is opened.
//!
//! On PostgreSQL every workspace of a database goes through one pool and one listener, so a
//! thousand workspaces cost no more connections than one. A database of its own per workspace
//! (`{workspace}` in the URL) has its pool and listener for as long as its workspace is open.
//! On SQLite there is nothing to share: each workspace is a file with its own connections.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};

use super::postgres::{self, Database, Target};
use super::{Storage, StorageConfig, StorageResult, sqlite};
use crate::name::WorkspaceName;

/// How long a read a caller can make slow may run on PostgreSQL unless the runtime says.
pub(crate) const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What a PostgreSQL listener heard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Notice {
    /// Jobs of workspace `0` became `enqueued` (on this server or another).
    Enqueued(String),
    /// The listener (re)connected: notifications may have been missed before.
    Reconnected,
}

/// The databases one server uses, opened once each.
pub(crate) struct Databases {
    config: StorageConfig,
    max_connections: u32,
    shared: tokio::sync::Mutex<HashMap<String, Arc<Database>>>,
    notices: UnboundedSender<Notice>,
    /// How long a read a caller can make slow may run on PostgreSQL (see [`Storage::read`]).
    read_timeout: Duration,
    /// SQLite workspaces this process brought to the current schema already.
    migrated: std::sync::Mutex<HashSet<WorkspaceName>>,
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
            shared: tokio::sync::Mutex::new(HashMap::new()),
            notices,
            read_timeout: DEFAULT_READ_TIMEOUT,
            migrated: std::sync::Mutex::new(HashSet::new()),
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
            StorageConfig::Sqlite { dir } => {
                let migrate = !self.migrated.lock().expect("migrated").contains(workspace);
                let storage = sqlite::open(dir, workspace, migrate).await?;
                self.migrated
                    .lock()
                    .expect("migrated")
                    .insert(workspace.clone());
                Ok(storage)
            }
            StorageConfig::Postgres { url } => {
                let target = Target::new(url, workspace)?;
                let database = self.database(&target).await;
                database.open(&target, self.read_timeout).await
            }
        }
    }

    /// Whether workspace `name` has storage already (it was created before).
    pub(crate) async fn exists(&self, workspace: &WorkspaceName) -> StorageResult<bool> {
        match &self.config {
            StorageConfig::Sqlite { dir } => Ok(sqlite::exists(dir, workspace)),
            StorageConfig::Postgres { url } => {
                let target = Target::new(url, workspace)?;
                if target.own_database {
                    return postgres::own_database_exists(&target).await;
                }
                self.database(&target).await.has_schema(&target).await
            }
        }
    }

    /// Every workspace with storage, by name (names that are not valid workspace names, such
    /// as unrelated files or databases, are skipped).
    pub(crate) async fn workspaces(&self) -> StorageResult<Vec<WorkspaceName>> {
        let names = match &self.config {
            StorageConfig::Sqlite { dir } => sqlite::workspaces(dir)?,
            StorageConfig::Postgres { url } if url.contains("{workspace}") => {
                postgres::own_databases(url).await?
            }
            StorageConfig::Postgres { url } => {
                // Any valid name finds the shared database.
                let target = Target::new(url, &WorkspaceName::new("default")?)?;
                self.database(&target).await.schemas().await?
            }
        };
        let mut names: Vec<WorkspaceName> = names
            .iter()
            .filter_map(|name| WorkspaceName::new(name).ok())
            .collect();
        names.sort_unstable();
        Ok(names)
    }

    /// The database `target` lives in: the shared one (connected on first use), or a new one
    /// of the workspace's own that its storage closes.
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

    /// Closes the shared pools and listeners.
    pub(crate) async fn close(&self) {
        let shared: Vec<Arc<Database>> =
            self.shared.lock().await.drain().map(|(_, db)| db).collect();
        for database in shared {
            database.close().await;
        }
    }
}
