//! The Completer actor: gathers the outcomes of finished runs and stores them in batches, one
//! transaction per batch. While a batch is being written the next one gathers, so the batch
//! size follows the load. A batch that fails to store is kept and tried again: no outcome is
//! dropped (and were the process to die first, the jobs' leases bring them back).

use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::queue::Wake;
use super::scheduler::DueAt;
use super::settings::SharedSettings;
use crate::storage::{Completion, CompletionReport, Storage};

/// Wait before storing a batch again after a storage error.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The outcome of a run, to be stored.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Completed(pub(crate) Completion);

/// Answers once every outcome received so far is stored.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Flush(pub(crate) oneshot::Sender<()>);

pub(crate) struct Completer {
    storage: Storage,
    settings: SharedSettings,
    queue: Recipient<Wake>,
    scheduler: Recipient<DueAt>,
    pending: Vec<Completion>,
    writing: bool,
    flushed: Vec<oneshot::Sender<()>>,
}

impl Completer {
    pub(crate) fn new(
        storage: Storage,
        settings: SharedSettings,
        queue: Recipient<Wake>,
        scheduler: Recipient<DueAt>,
    ) -> Self {
        Completer {
            storage,
            settings,
            queue,
            scheduler,
            pending: Vec::new(),
            writing: false,
            flushed: Vec::new(),
        }
    }

    /// Starts writing what is pending, unless a write is under way.
    fn write(&mut self, ctx: &mut Context<Self>) {
        if self.writing {
            return;
        }
        if self.pending.is_empty() {
            for done in self.flushed.drain(..) {
                let _ = done.send(());
            }
            return;
        }
        self.writing = true;
        let batch = std::mem::take(&mut self.pending);
        let storage = self.storage.clone();
        let (server, retention) = (
            self.settings.server_id.clone(),
            self.settings.retention_ms(),
        );
        let kept = batch.clone();
        let now = self.settings.now_ms();
        let store = async move { storage.complete(batch, &server, now, retention).await };
        ctx.spawn(store.into_actor(self).map(move |stored, completer, ctx| {
            completer.writing = false;
            match stored {
                Ok(report) => {
                    completer.announce(report);
                    completer.write(ctx);
                }
                Err(error) => {
                    tracing::error!(%error, jobs = kept.len(), "storing outcomes failed; will retry");
                    completer.pending.splice(0..0, kept);
                    ctx.run_later(RETRY_AFTER, |completer, ctx| completer.write(ctx));
                }
            }
        }));
    }

    fn announce(&self, report: CompletionReport) {
        if let Some(at) = report.earliest_retry {
            self.scheduler.do_send(DueAt(at));
        }
        if report.requeued {
            self.queue.do_send(Wake);
        }
    }
}

impl Actor for Completer {
    type Context = Context<Self>;
}

impl Handler<Completed> for Completer {
    type Result = ();

    fn handle(&mut self, Completed(outcome): Completed, ctx: &mut Context<Self>) {
        self.pending.push(outcome);
        self.write(ctx);
    }
}

impl Handler<Flush> for Completer {
    type Result = ();

    fn handle(&mut self, Flush(done): Flush, ctx: &mut Context<Self>) {
        self.flushed.push(done);
        self.write(ctx);
    }
}
