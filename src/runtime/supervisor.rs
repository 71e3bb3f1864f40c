//! The workspace Supervisor actor: starts the workspace's Queue (which starts its Workers as
//! it needs them), Completer, and — in a store of its own — Scheduler and Janitor (a shared
//! store has one of each for all its workspaces: see `housekeeping`), wires them to each
//! other, and takes them down in order at shutdown so that no job is lost: stop claiming, let
//! running jobs finish (up to the timeout), cancel the rest (and wait as long again), store
//! every outcome, then give back what still runs and leave the server registry. In a shared
//! store the last step is skipped when the others proved nothing is left (see `settle`): the
//! registry is the store's.
//!
//! The children do not crash: storage errors are logged and retried with a backoff, and panics
//! in jobs are caught by the worker that runs them.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::activity::Activity;
use super::completer::{Completer, Flush};
use super::housekeeping::{Housekeepers, Wakes};
use super::janitor::Janitor;
use super::queue::{CancelRunning, Drain, Drained, Queue, Wake, WorkerFactory};
use super::scheduler::{DueAt, Scheduler};
use super::settings::SharedSettings;
use super::worker::Worker;
use crate::storage::{Storage, StorageResult};

/// Stops an actor.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Stop;

/// Shuts the workspace down gracefully; answers when it is done, with the instant at which
/// the workspace next has something to do by itself (see `Storage::wake_at`).
#[derive(Message)]
#[rtype(result = "Option<i64>")]
pub(crate) struct Shutdown;

/// The addresses the workspace handle talks to.
#[derive(Clone)]
pub(crate) struct WorkspaceActors {
    pub(crate) supervisor: Addr<Supervisor>,
    pub(crate) queue: Addr<Queue>,
    /// The Scheduler of the workspace's store.
    pub(crate) due: Recipient<DueAt>,
}

pub(crate) struct Supervisor {
    storage: Storage,
    settings: SharedSettings,
    workspace: Arc<str>,
    queue: Addr<Queue>,
    completer: Addr<Completer>,
    /// The workspace's own store's; `None` in a shared store, whose housekeepers are the store's.
    housekeepers: Option<Housekeepers>,
}

impl Actor for Supervisor {
    type Context = Context<Self>;
}

impl Supervisor {
    /// Starts a workspace's actors; must run on the control arbiter. `store_due` is the
    /// Scheduler of the shared store the workspace is in; without it, the workspace gets a
    /// Scheduler and a Janitor of its own.
    pub(crate) fn start_workspace(
        storage: Storage,
        settings: SharedSettings,
        workspace: Arc<str>,
        activity: Arc<Activity>,
        store_due: Option<Recipient<DueAt>>,
    ) -> WorkspaceActors {
        let queue_ctx = Context::<Queue>::new();
        let completer_ctx = Context::<Completer>::new();
        let (queue, completer) = (queue_ctx.address(), completer_ctx.address());
        let wake: Recipient<Wake> = queue.clone().recipient();
        let (due, housekeepers) = match store_due {
            Some(due) => (due, None),
            None => {
                let own = Housekeepers::start(&storage, &settings, || {
                    Wakes::Queue(wake.clone(), workspace.clone())
                });
                (own.scheduler.clone().recipient(), Some(own))
            }
        };
        completer_ctx.run(Completer::new(
            storage.clone(),
            workspace.clone(),
            settings.clone(),
            wake,
            due.clone(),
        ));
        let hire = WorkerFactory {
            workspace: workspace.clone(),
            completer: completer.clone().recipient(),
        };
        queue_ctx.run(Queue::new(
            storage.clone(),
            settings.clone(),
            hire,
            activity,
        ));
        let supervisor = Supervisor {
            storage,
            settings,
            workspace,
            queue: queue.clone(),
            completer,
            housekeepers,
        }
        .start();
        WorkspaceActors {
            supervisor,
            queue,
            due,
        }
    }
}

/// Sends a message carrying a reply channel and waits for the reply, at most `limit`.
async fn ask<A, M, R>(
    addr: &Addr<A>,
    message: impl FnOnce(oneshot::Sender<R>) -> M,
    limit: Duration,
) -> Option<R>
where
    A: Handler<M>,
    A::Context: actix::dev::ToEnvelope<A, M>,
    M: Message<Result = ()> + Send + 'static,
{
    let (done, answered) = oneshot::channel();
    addr.do_send(message(done));
    tokio::time::timeout(limit, answered).await.ok()?.ok()
}

impl Handler<Shutdown> for Supervisor {
    type Result = ResponseActFuture<Self, Option<i64>>;

    fn handle(&mut self, _: Shutdown, _: &mut Context<Self>) -> Self::Result {
        let (queue, completer) = (self.queue.clone(), self.completer.clone());
        let (storage, settings, workspace) = (
            self.storage.clone(),
            self.settings.clone(),
            self.workspace.clone(),
        );
        let housekeepers = self.housekeepers.take();
        let work = async move {
            let settled = settle(&queue, &completer, &settings, &workspace).await;
            // Nothing runs any more, so no lease needs renewing. An upkeep round would lock the
            // upkeep lease and then the server's row, which leaving locks the other way round:
            // on PostgreSQL the two deadlocked, and one of them failed.
            if let Some(housekeepers) = housekeepers {
                housekeepers.stop().await;
            }
            let now = settings.now_ms();
            let wake_at = match leave(&storage, &settings, settled, now).await {
                Ok((0, wake_at)) => wake_at,
                Ok((released, wake_at)) => {
                    tracing::warn!(%workspace, released, "gave back jobs that did not stop");
                    wake_at
                }
                Err(error) => {
                    tracing::error!(%workspace, %error, "leaving the workspace failed: the leases of jobs still running will run out, and it will be opened again soon");
                    Some(now)
                }
            };
            queue.do_send(Stop);
            completer.do_send(Stop);
            storage.close().await;
            wake_at
        };
        Box::pin(work.into_actor(self).map(|wake_at, _, ctx| {
            ctx.stop();
            wake_at
        }))
    }
}

/// Stops the workspace's jobs: lets them finish (up to the shutdown timeout), cancels the
/// rest (and waits as long again), and stores every outcome. True only when that proves the
/// workspace leaves nothing of this server's `processing`: every job the queue claimed is
/// known to it and stopped, and every outcome is stored (none set aside as refused).
async fn settle(
    queue: &Addr<Queue>,
    completer: &Addr<Completer>,
    settings: &SharedSettings,
    workspace: &str,
) -> bool {
    let mut drained = ask(queue, Drain, settings.shutdown_timeout).await;
    if drained.is_none() {
        tracing::warn!(%workspace, "jobs still running at the shutdown timeout; cancelling them");
        queue.do_send(CancelRunning);
        // Cancelled jobs get the same time again to stop before they are given up.
        drained = ask(queue, Drain, settings.shutdown_timeout).await;
    }
    let stored = ask(completer, Flush, settings.shutdown_timeout).await;
    if stored.is_none() {
        tracing::error!(%workspace, "outcomes could not be stored; their jobs will be recovered at the next start");
    }
    drained == Some(Drained::Known) && stored == Some(true)
}

/// Gives back what the workspace leaves running and, in a store of its own, takes the server
/// out of it and works out when the workspace is next due; answers how many jobs went back
/// and that instant. In a shared store a workspace that `settled` holds nothing of this
/// server's (its server row and leases are the store's, its due work the store's
/// housekeeping finds), so leaving writes nothing.
async fn leave(
    storage: &Storage,
    settings: &SharedSettings,
    settled: bool,
    now: i64,
) -> StorageResult<(usize, Option<i64>)> {
    if settled && storage.in_shared_store() {
        return Ok((0, None));
    }
    storage
        .leave(&settings.server_id, settings.queues(), now)
        .await
}

macro_rules! stoppable {
    ($($actor:ty),*) => {$(
        impl Handler<Stop> for $actor {
            type Result = ();

            fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
                ctx.stop();
            }
        }
    )*};
}

stoppable!(Worker, Completer, Scheduler, Janitor);
