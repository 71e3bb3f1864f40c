//! [`Stoker`]: the runtime handle. It opens workspaces when they are first needed, releases
//! the idle ones and opens them again when they are due, and shuts them all down.
//!
//! A workspace is open (its actors run, its storage is connected) while it is used: a handle
//! to it is held, a job of it runs, or it did something recently. One left alone for the
//! idle timeout is released, and its next due instant (a scheduled job, a recurring
//! occurrence, an expiry) goes into the [`Keeper`]'s index, which opens it again by then.
//! Workspaces that have storage but were never opened by this process are found in storage
//! when the runtime starts and enter the same index.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use actix::{Addr, Arbiter};
use dashmap::DashMap;
use futures::StreamExt;

use super::activity::Activity;
use super::builder::StokerBuilder;
use super::events::EventStream;
use super::housekeeping::{StoreHousekeeping, store_settings};
use super::keeper::{Crowded, Dormant, Keeper, Released};
use super::settings::Settings;
use super::supervisor::Supervisor;
use super::workspace::Workspace;
use crate::error::{Error, Result};
use crate::name::WorkspaceName;
use crate::storage::{Databases, StorageConfig};

/// How many workspaces open at once (each opening holds files or connections).
pub(super) const OPENING_AT_ONCE: usize = 8;
/// With as many workspaces open as the cap, how long one must have been quiet to make room.
pub(super) const CROWDED_QUIET: Duration = Duration::from_millis(250);
/// How long a due workspace waits for room under the cap before it opens over it (so that
/// workspaces an application holds open cannot keep the others from running).
pub(super) const ROOM_WAIT: Duration = Duration::from_secs(10);
/// How often a due workspace waiting for room looks again.
const ROOM_RETRY: Duration = Duration::from_millis(20);

/// The runtime: cheap to clone, shared by everything that enqueues or runs jobs.
#[derive(Clone)]
pub struct Stoker {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) settings: Arc<Settings>,
    /// The open workspaces.
    pub(super) workspaces: DashMap<WorkspaceName, Workspace>,
    /// One turn per workspace name: opening, releasing and looking into a workspace's storage
    /// take turns, so a workspace is never open twice.
    turns: DashMap<WorkspaceName, Arc<tokio::sync::Mutex<()>>>,
    opening: tokio::sync::Semaphore,
    /// Room under the cap taken by due workspaces that are opening (see [`Stoker::room`]).
    reserved: AtomicUsize,
    /// When each workspace that is not open is due.
    pub(super) dormant: std::sync::Mutex<Dormant>,
    pub(super) keeper: std::sync::OnceLock<Addr<Keeper>>,
    /// The housekeeping of the store every workspace shares, once started (`None` where each
    /// has a store of its own).
    store: tokio::sync::OnceCell<Option<StoreHousekeeping>>,
    pub(super) arbiters: std::sync::Mutex<Vec<Arbiter>>,
    /// Set by `shutdown`: no workspace opens any more.
    closed: AtomicBool,
}

/// Room under the cap for one opening workspace, held until it drops.
pub(super) struct Room<'a>(&'a AtomicUsize);

impl Drop for Room<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for Stoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stoker")
            .field("server", &self.inner.settings.server_id)
            .field("open", &self.open_workspaces())
            .finish()
    }
}

impl Stoker {
    /// Configures a runtime.
    pub fn builder() -> StokerBuilder {
        StokerBuilder::default()
    }

    pub(super) fn new(settings: Arc<Settings>, arbiters: Vec<Arbiter>) -> Self {
        Stoker {
            inner: Arc::new(Inner {
                settings,
                workspaces: DashMap::new(),
                turns: DashMap::new(),
                opening: tokio::sync::Semaphore::new(OPENING_AT_ONCE),
                reserved: AtomicUsize::new(0),
                dormant: std::sync::Mutex::new(Dormant::default()),
                keeper: std::sync::OnceLock::new(),
                store: tokio::sync::OnceCell::new(),
                arbiters: std::sync::Mutex::new(arbiters),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// The workspace `name`, opened (its storage created and migrated, its actors started) if
    /// it is not open. It stays open at least as long as the handle is held.
    pub async fn workspace(&self, name: &str) -> Result<Workspace> {
        let name = WorkspaceName::new(name)?;
        if let Some(workspace) = self.open_workspace(&name) {
            return Ok(workspace);
        }
        let _turn = self.turn(&name).await;
        if let Some(workspace) = self.open_workspace(&name) {
            return Ok(workspace);
        }
        self.open(name).await
    }

    /// Creates workspace `name` and opens it; a conflict if it exists already (open here, or
    /// with storage from before).
    pub async fn create_workspace(&self, name: &str) -> Result<Workspace> {
        let checked = WorkspaceName::new(name)?;
        let _turn = self.turn(&checked).await;
        if self.exists(&checked).await? {
            return Err(Error::WorkspaceExists(checked.to_string()));
        }
        self.open(checked).await
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

    /// Whether workspace `name` is open here, known to be due, or has storage from before.
    async fn exists(&self, name: &WorkspaceName) -> Result<bool> {
        Ok(self.inner.workspaces.contains_key(name)
            || self.dormant().released(name).is_some()
            || self.inner.settings.databases.exists(name).await?)
    }

    pub(super) fn open_workspace(&self, name: &WorkspaceName) -> Option<Workspace> {
        let workspace = self.inner.workspaces.get(name)?.clone();
        workspace.touch();
        Some(workspace)
    }

    /// Waits for workspace `name`'s turn.
    pub(super) async fn turn(&self, name: &WorkspaceName) -> tokio::sync::OwnedMutexGuard<()> {
        let turn = self.inner.turns.entry(name.clone()).or_default().clone();
        turn.lock_owned().await
    }

    /// Opens workspace `name`; the caller has its turn.
    async fn open(&self, name: WorkspaceName) -> Result<Workspace> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::ShuttingDown);
        }
        let settings = Arc::new(self.inner.settings.for_workspace(name.as_str())?);
        let store_due = self.store_housekeeping().await?.map(StoreHousekeeping::due);
        if self.inner.workspaces.len() >= self.inner.settings.max_open {
            self.make_room().await;
        }
        let _opening = self
            .inner
            .opening
            .acquire()
            .await
            .map_err(|_| Error::ShuttingDown)?;
        let (sent, started) = tokio::sync::oneshot::channel();
        let (label, actor_settings) = (Arc::<str>::from(name.as_str()), settings.clone());
        let (checked, activity) = (name.clone(), Arc::new(Activity::default()));
        // Released here, it was shut down cleanly; otherwise a process that died may have
        // left jobs running. A shared store recovers them all when its housekeeping starts.
        let recover = self.dormant().released(&name) != Some(Released::Here) && store_due.is_none();
        let actor_activity = activity.clone();
        // On the control arbiter: a database's listener, started by its first workspace,
        // lives there with the actors.
        settings.control.spawn(async move {
            let storage = match actor_settings.databases.open(&checked).await {
                Ok(storage) => storage.retaining(actor_settings.retention()),
                Err(error) => {
                    let _ = sent.send(Err(Error::from(error)));
                    return;
                }
            };
            // Alone with the workspace, whatever still runs belonged to a process that died.
            if recover && storage.is_exclusive() {
                match storage.recover_abandoned(i64::MAX, actor_settings.now_ms()).await {
                    Ok(recovered) if recovered.is_empty() => {}
                    Ok(recovered) => {
                        let recovered = recovered.len();
                        tracing::warn!(workspace = %checked, recovered, "recovered jobs of a stopped process")
                    }
                    Err(error) => {
                        storage.close().await;
                        let _ = sent.send(Err(Error::from(error)));
                        return;
                    }
                }
            }
            let actors = Supervisor::start_workspace(
                storage.clone(),
                actor_settings,
                label,
                actor_activity,
                store_due,
            );
            let _ = sent.send(Ok((storage, actors)));
        });
        let (storage, actors) = started.await.map_err(|_| Error::ShuttingDown)??;
        tracing::debug!(workspace = %name, server = %settings.server_id, "workspace open");
        let workspace = Workspace::new(name.clone(), storage, settings, actors, activity);
        self.inner
            .workspaces
            .insert(name.clone(), workspace.clone());
        self.dormant().remove(&name);
        if self.inner.workspaces.len() > self.inner.settings.max_open
            && let Some(keeper) = self.inner.keeper.get()
        {
            keeper.do_send(Crowded);
        }
        if self.is_closed() {
            // `shutdown` ran while this one opened: it did not see it.
            self.inner.workspaces.remove(&name);
            workspace.shutdown().await;
            return Err(Error::ShuttingDown);
        }
        Ok(workspace)
    }

    /// The housekeeping of the store every workspace shares, started on first use; `None`
    /// where each workspace has a store of its own.
    pub(super) async fn store_housekeeping(&self) -> Result<Option<&StoreHousekeeping>> {
        let settings = &self.inner.settings;
        let keeper = self.inner.keeper.get().ok_or(Error::ShuttingDown)?;
        let started = self.inner.store.get_or_try_init(|| {
            StoreHousekeeping::start(store_settings(settings), keeper.clone().recipient())
        });
        Ok(started.await?.as_ref())
    }

    /// Releases workspace `name` if it was `quiet` that long and nobody holds it: shuts it
    /// down and notes in the dormant index when it is due again. Says whether it did.
    pub(super) async fn release_if_idle(&self, name: &WorkspaceName, quiet: Duration) -> bool {
        let _turn = self.turn(name).await;
        let Some((_, workspace)) = self
            .inner
            .workspaces
            .remove_if(name, |_, workspace| workspace.releasable(quiet))
        else {
            return false;
        };
        // Listed all along: as dormant before it is down, due when it is.
        self.dormant().insert(name.clone(), None, Released::Here);
        let due = workspace.shutdown().await;
        tracing::debug!(workspace = %name, ?due, "released an idle workspace");
        self.dormant().insert(name.clone(), due, Released::Here);
        true
    }

    /// Releases the open workspace idle longest, if one was quiet for a moment and its turn
    /// is free (another opening, say, holds the others'). Says whether one was.
    async fn make_room(&self) -> bool {
        let quiet = CROWDED_QUIET.min(self.inner.settings.idle_timeout);
        let longest_idle = self
            .inner
            .workspaces
            .iter()
            .filter(|entry| entry.value().releasable(quiet))
            .min_by_key(|entry| entry.value().last_active())
            .map(|entry| entry.key().clone());
        match longest_idle {
            Some(name) => self.release_if_idle(&name, quiet).await,
            None => false,
        }
    }

    /// Waits, up to [`ROOM_WAIT`], for room under the cap, releasing the longest idle as they
    /// quiet down, and holds it until the returned [`Room`] drops. Due workspaces open in
    /// it, so that a burst of them (a thousand recurring jobs at the same minute) goes
    /// through the cap in turn rather than all at once, and so do workspaces another server
    /// enqueued jobs in. An application's call opens at once.
    pub(super) async fn room(&self) -> Room<'_> {
        let deadline = tokio::time::Instant::now() + ROOM_WAIT;
        loop {
            let held = self.inner.reserved.fetch_add(1, Ordering::AcqRel);
            let room = Room(&self.inner.reserved);
            if self.inner.workspaces.len() + held < self.inner.settings.max_open
                || self.is_closed()
                || tokio::time::Instant::now() >= deadline
            {
                return room;
            }
            drop(room);
            if !self.make_room().await {
                tokio::time::sleep(ROOM_RETRY).await;
            }
        }
    }

    /// Looks into the storage of workspace `name`, unless it is open here, and notes in the
    /// dormant index when it is due. Skips it when another process holds it.
    pub(super) async fn look_up_due(&self, name: &WorkspaceName) {
        let _turn = self.turn(name).await;
        if self.inner.workspaces.contains_key(name) {
            return;
        }
        let Ok(settings) = self.inner.settings.for_workspace(name.as_str()) else {
            return;
        };
        let Ok(_opening) = self.inner.opening.acquire().await else {
            return;
        };
        let storage = match settings.databases.open(name).await {
            Ok(storage) => storage,
            Err(error) => {
                tracing::debug!(workspace = %name, %error, "not looking into a workspace");
                return;
            }
        };
        let due = storage.wake_at(settings.queues(), settings.now_ms()).await;
        storage.close().await;
        match due {
            Ok(due) => self.dormant().insert(name.clone(), due, Released::Found),
            Err(error) => {
                tracing::warn!(workspace = %name, %error, "cannot tell when a workspace is due")
            }
        }
    }

    /// Tells workspace `name`'s queue that there are jobs, opening it (in its turn under
    /// the cap) if it is not open.
    pub(super) async fn wake(&self, name: &WorkspaceName) -> Result<()> {
        match self.open_workspace(name) {
            Some(workspace) => workspace.wake(),
            None => {
                let _room = self.room().await;
                drop(self.workspace(name.as_str()).await?);
            }
        }
        Ok(())
    }

    /// Wakes each of the workspaces `names` (see [`Stoker::wake`]), a few at a time.
    pub(super) async fn wake_each(&self, names: impl IntoIterator<Item = String>) {
        let names = names
            .into_iter()
            .filter_map(|name| WorkspaceName::new(&name).ok());
        let wake = |name: WorkspaceName| async move {
            if let Err(error) = self.wake(&name).await {
                tracing::warn!(workspace = %name, %error, "cannot open a workspace that got jobs");
            }
        };
        futures::stream::iter(names)
            .for_each_concurrent(OPENING_AT_ONCE, wake)
            .await;
    }

    /// Wakes the workspaces of the shared store that have jobs waiting, whose news this
    /// server may have missed (it has just started, or its listener reconnected).
    pub(super) async fn wake_waiting(&self) {
        let waiting = async {
            match self.store_housekeeping().await? {
                Some(store) => store.waiting().await,
                None => Ok(Vec::new()),
            }
        };
        match waiting.await {
            Ok(names) => self.wake_each(names).await,
            Err(error) => tracing::warn!(%error, "cannot tell which workspaces have jobs waiting"),
        }
    }

    /// Tells every open workspace's queue to look for jobs.
    pub(super) fn wake_all(&self) {
        for workspace in self.inner.workspaces.iter() {
            workspace.wake();
        }
    }

    /// Creates or updates the storage of workspace `name` to the current schema, without
    /// starting it (what `stoker migrate` does).
    pub async fn migrate(storage: &StorageConfig, name: &str) -> Result<()> {
        let name = WorkspaceName::new(name)?;
        let (databases, _) = Databases::new(storage.clone(), 1);
        databases.open(&name).await?.close().await;
        databases.close().await;
        Ok(())
    }

    /// The names of the workspaces this server knows, sorted: those open now, those released
    /// while idle, and those found in storage when it started.
    pub fn workspace_names(&self) -> Vec<String> {
        let mut names = self.open_workspaces();
        names.extend(self.dormant().names().map(ToString::to_string));
        names.sort_unstable();
        names.dedup();
        names
    }

    /// What happens to jobs from now on, as this process sees it (see [`Event`](crate::Event)): jobs it
    /// stores, runs and finishes, deletions, recurring jobs firing.
    pub fn events(&self) -> EventStream {
        self.inner.settings.events.subscribe()
    }

    /// The names of the workspaces open now, sorted (the others are released while idle).
    pub fn open_workspaces(&self) -> Vec<String> {
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
        let _turn = self.turn(&name).await;
        self.dormant().remove(&name);
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
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(keeper) = self.inner.keeper.get() {
            let _ = keeper.send(super::supervisor::Stop).await;
        }
        let workspaces: Vec<Workspace> = self
            .inner
            .workspaces
            .iter()
            .map(|entry| entry.value().clone())
            .collect();
        self.inner.workspaces.clear();
        futures::future::join_all(workspaces.iter().map(Workspace::shutdown)).await;
        if let Some(Some(store)) = self.inner.store.get() {
            store.stop().await;
        }
        self.inner.settings.databases.close().await;
        for arbiter in self.inner.arbiters.lock().expect("arbiters lock").drain(..) {
            arbiter.stop();
        }
    }

    /// Whether `shutdown` was called.
    pub(super) fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
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
