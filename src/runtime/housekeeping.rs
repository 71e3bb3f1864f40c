//! The housekeeping of a store that workspaces share: one [`Janitor`] and one [`Scheduler`]
//! for all of its workspaces, open or released, started when the store is first used and
//! stopped last at shutdown. An idle server so sends the same few statements per interval
//! whether the store holds ten workspaces or ten thousand. A store of one workspace's own is
//! housekept by a Janitor and a Scheduler of the workspace's Supervisor instead.
//!
//! Both say which workspaces got jobs through [`Wakes`]: a workspace's own housekeepers tell
//! its Queue; a shared SQLite file's tell the Keeper, which wakes those open and opens those
//! released; PostgreSQL's notifications tell the Keeper by themselves.

use std::collections::BTreeSet;
use std::sync::Arc;

use actix::prelude::*;

use super::janitor::Janitor;
use super::queue::Wake;
use super::scheduler::{DueAt, Scheduler};
use super::settings::{SharedSettings, WorkspaceSettings};
use super::supervisor::Stop;
use crate::error::Result;
use crate::storage::{RetentionOf, Storage};

/// Jobs of these workspaces (by key) became enqueued.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Woken(pub(crate) BTreeSet<String>);

/// Who hears that housekeeping enqueued jobs.
pub(crate) enum Wakes {
    /// The Queue of the one workspace housekept, and its name.
    Queue(Recipient<Wake>, Arc<str>),
    /// The Keeper, for the workspaces of a shared store.
    Keeper(Recipient<Woken>),
    /// Nobody: the database notifies the Keeper of every enqueued job.
    Notified,
}

impl Wakes {
    /// The name of the workspace whose rows carry `key`: the one housekept, in a store of its
    /// own (whose rows carry `''`); otherwise the key itself.
    pub(crate) fn workspace_of<'a>(&'a self, key: &'a str) -> &'a str {
        match self {
            Wakes::Queue(_, workspace) => workspace,
            Wakes::Keeper(_) | Wakes::Notified => key,
        }
    }

    /// Tells that jobs of the workspaces `keys` became enqueued.
    pub(crate) fn tell(&self, keys: BTreeSet<String>) {
        if keys.is_empty() {
            return;
        }
        match self {
            Wakes::Queue(queue, _) => queue.do_send(Wake),
            Wakes::Keeper(keeper) => keeper.do_send(Woken(keys)),
            Wakes::Notified => {}
        }
    }
}

/// The Janitor and the Scheduler of one store.
pub(crate) struct Housekeepers {
    pub(crate) janitor: Addr<Janitor>,
    pub(crate) scheduler: Addr<Scheduler>,
}

impl Housekeepers {
    /// Starts the housekeepers of `storage` on the control arbiter; each tells `wakes()`.
    pub(crate) fn start(
        storage: &Storage,
        settings: &SharedSettings,
        wakes: impl Fn() -> Wakes,
    ) -> Self {
        let (store, settings, janitor_wakes) = (storage.clone(), settings.clone(), wakes());
        let control = settings.control.clone();
        let (janitor_store, janitor_settings) = (store.clone(), settings.clone());
        let janitor = Janitor::start_in_arbiter(&control, move |_| {
            Janitor::new(janitor_store, janitor_settings, janitor_wakes)
        });
        let scheduler_wakes = wakes();
        let scheduler = Scheduler::start_in_arbiter(&control, move |_| {
            Scheduler::new(store, settings, scheduler_wakes)
        });
        Housekeepers { janitor, scheduler }
    }

    /// Stops both, waiting for each to take the message.
    pub(crate) async fn stop(&self) {
        let _ = self.janitor.send(Stop).await;
        let _ = self.scheduler.send(Stop).await;
    }
}

/// A shared store's housekeepers.
pub(crate) struct StoreHousekeeping {
    store: Storage,
    settings: SharedSettings,
    housekeepers: Housekeepers,
}

impl StoreHousekeeping {
    /// Opens the store every workspace shares, if the placement has one, and starts its
    /// housekeepers on the control arbiter. Where this process is the store's only server
    /// (a SQLite file), whatever is still `processing` was left by a process that died, and is
    /// recovered first, before any workspace of the store runs a job.
    pub(crate) async fn start(
        settings: SharedSettings,
        keeper: Recipient<Woken>,
    ) -> Result<Option<Self>> {
        let Some(store) = settings.databases.shared_store().await? else {
            return Ok(None);
        };
        let store = store.whole_store(retention_of(&settings));
        if store.is_exclusive() {
            let recovered = store.recover_abandoned(i64::MAX, settings.now_ms()).await?;
            if !recovered.is_empty() {
                tracing::warn!(
                    recovered = recovered.len(),
                    "recovered jobs of a stopped process"
                );
            }
        }
        let wakes = || match store.notifies_enqueued() {
            true => Wakes::Notified,
            false => Wakes::Keeper(keeper.clone()),
        };
        let housekeepers = Housekeepers::start(&store, &settings, wakes);
        Ok(Some(StoreHousekeeping {
            store,
            settings,
            housekeepers,
        }))
    }

    /// Where the store's workspaces say that something falls due.
    pub(crate) fn due(&self) -> Recipient<DueAt> {
        self.housekeepers.scheduler.clone().recipient()
    }

    /// The workspaces of the store with jobs waiting in a queue, by key.
    pub(crate) async fn waiting(&self) -> Result<Vec<String>> {
        Ok(self.store.waiting_workspaces().await?)
    }

    /// Stops the housekeepers, then takes this server out of the store; once every workspace
    /// has left.
    pub(crate) async fn stop(&self) {
        // Stopped first: an upkeep round locks the upkeep lease and then the server's row,
        // which leaving locks the other way round.
        self.housekeepers.stop().await;
        if let Err(error) = self.store.leave_store(&self.settings.server_id).await {
            tracing::warn!(%error, "leaving the shared store failed: this server's row stays until it counts as silent");
        }
    }
}

/// The settings of a store's housekeepers: the server's, with the workspaces' defaults.
pub(crate) fn store_settings(server: &Arc<super::settings::Settings>) -> SharedSettings {
    Arc::new(WorkspaceSettings {
        server: server.clone(),
        options: server.defaults.clone(),
    })
}

/// How long each workspace of the store keeps its jobs, as its options say.
fn retention_of(settings: &SharedSettings) -> RetentionOf {
    let (server, defaults) = (settings.server.clone(), settings.retention());
    Arc::new(move |key: &str| {
        server
            .for_workspace(key)
            .map_or(defaults, |workspace| workspace.retention())
    })
}
