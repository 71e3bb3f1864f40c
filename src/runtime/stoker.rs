//! [`Stoker`]: the runtime handle. It opens workspaces on first use, keeps them by name, and
//! shuts them all down.

use std::sync::Arc;

use actix::Arbiter;
use dashmap::DashMap;

use super::builder::StokerBuilder;
use super::settings::SharedSettings;
use super::supervisor::Supervisor;
use super::workspace::Workspace;
use crate::error::{Error, Result};
use crate::name::WorkspaceName;
use crate::storage::{Storage, StorageConfig};

/// The runtime: cheap to clone, shared by everything that enqueues or runs jobs.
#[derive(Clone)]
pub struct Stoker {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) settings: SharedSettings,
    pub(super) workspaces: DashMap<WorkspaceName, Workspace>,
    /// Serializes opening, so a workspace is opened once.
    pub(super) opening: tokio::sync::Mutex<()>,
    pub(super) arbiters: std::sync::Mutex<Vec<Arbiter>>,
    /// Set by `shutdown`: no workspace opens any more.
    pub(super) closed: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Stoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stoker")
            .field("server", &self.inner.settings.server_id)
            .field("workspaces", &self.workspace_names())
            .finish()
    }
}

impl Stoker {
    /// Configures a runtime.
    pub fn builder() -> StokerBuilder {
        StokerBuilder::default()
    }

    /// The workspace `name`, opened (its storage created and migrated, its actors started) on
    /// first use.
    pub async fn workspace(&self, name: &str) -> Result<Workspace> {
        let name = WorkspaceName::new(name)?;
        if let Some(workspace) = self.inner.workspaces.get(&name) {
            return Ok(workspace.clone());
        }
        let _opening = self.inner.opening.lock().await;
        if let Some(workspace) = self.inner.workspaces.get(&name) {
            return Ok(workspace.clone());
        }
        let workspace = self.open(name.clone()).await?;
        self.inner.workspaces.insert(name, workspace.clone());
        Ok(workspace)
    }

    /// Creates workspace `name` and opens it; a conflict if it exists already (open here, or
    /// with storage from before).
    pub async fn create_workspace(&self, name: &str) -> Result<Workspace> {
        let checked = WorkspaceName::new(name)?;
        let _opening = self.inner.opening.lock().await;
        if self.exists(&checked).await? {
            return Err(Error::WorkspaceExists(checked.to_string()));
        }
        let workspace = self.open(checked.clone()).await?;
        self.inner.workspaces.insert(checked, workspace.clone());
        Ok(workspace)
    }

    /// Workspace `name` if it is open or has storage from before (then it is opened); unlike
    /// [`Stoker::workspace`], it never creates one.
    pub async fn existing_workspace(&self, name: &str) -> Result<Workspace> {
        let checked = WorkspaceName::new(name)?;
        if self.exists(&checked).await? {
            self.workspace(name).await
        } else {
            Err(Error::WorkspaceNotFound(name.to_owned()))
        }
    }

    /// Whether workspace `name` is open here or has storage from before.
    async fn exists(&self, name: &WorkspaceName) -> Result<bool> {
        Ok(self.inner.workspaces.contains_key(name)
            || self.inner.settings.storage.exists(name).await?)
    }

    async fn open(&self, name: WorkspaceName) -> Result<Workspace> {
        if self.inner.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::ShuttingDown);
        }
        let settings = self.inner.settings.clone();
        let storage = Storage::open(&settings.storage, &name).await?;
        // Alone with the workspace, whatever is still running belonged to a process that died.
        let recovered = if storage.is_exclusive() {
            storage
                .recover_abandoned(i64::MAX, settings.now_ms())
                .await?
        } else {
            0
        };
        if recovered > 0 {
            tracing::warn!(workspace = %name, recovered, "recovered jobs of a stopped process");
        }
        let (sent, started) = tokio::sync::oneshot::channel();
        let (label, actor_storage) = (Arc::<str>::from(name.as_str()), storage.clone());
        let actor_settings = settings.clone();
        settings.control.spawn_fn(move || {
            let _ = sent.send(Supervisor::start_workspace(
                actor_storage,
                actor_settings,
                label,
            ));
        });
        let actors = started.await.map_err(|_| Error::ShuttingDown)?;
        tracing::info!(workspace = %name, server = %settings.server_id, "workspace open");
        Ok(Workspace::new(name, storage, settings, actors))
    }

    /// Creates or updates the storage of workspace `name` to the current schema, without
    /// starting it (what `stoker migrate` does).
    pub async fn migrate(storage: &StorageConfig, name: &str) -> Result<()> {
        let name = WorkspaceName::new(name)?;
        Storage::open(storage, &name).await?.close().await;
        Ok(())
    }

    /// The names of the open workspaces, sorted.
    pub fn workspace_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .workspaces
            .iter()
            .map(|entry| entry.key().to_string())
            .collect();
        names.sort_unstable();
        names
    }

    /// Shuts workspace `name` down gracefully and forgets it; its data stays.
    pub async fn remove_workspace(&self, name: &str) -> Result<()> {
        let name = WorkspaceName::new(name)?;
        let (_, workspace) = self
            .inner
            .workspaces
            .remove(&name)
            .ok_or_else(|| Error::WorkspaceNotFound(name.to_string()))?;
        workspace.shutdown().await;
        Ok(())
    }

    /// Shuts every workspace down gracefully (running jobs finish or go back to their queue),
    /// then stops the runtime's threads.
    pub async fn shutdown(&self) {
        let _opening = self.inner.opening.lock().await;
        self.inner
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        let workspaces: Vec<Workspace> = self
            .inner
            .workspaces
            .iter()
            .map(|entry| entry.value().clone())
            .collect();
        self.inner.workspaces.clear();
        futures::future::join_all(workspaces.iter().map(Workspace::shutdown)).await;
        for arbiter in self.inner.arbiters.lock().expect("arbiters lock").drain(..) {
            arbiter.stop();
        }
    }

    /// This process's server id, as recorded in workspaces and job leases.
    pub fn server_id(&self) -> &str {
        &self.inner.settings.server_id
    }

    /// The time by this runtime's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.settings.clock.now()
    }

    /// How long a server may stay silent before it counts as gone.
    pub fn server_timeout(&self) -> std::time::Duration {
        self.inner.settings.server_timeout
    }
}
