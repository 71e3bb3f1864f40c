//! The Completer actor: gathers the outcomes of finished runs and stores them in batches, one
//! transaction per batch. While a batch is being written the next one gathers, so the batch
//! size follows the load. No outcome is dropped, and none holds back another:
//! - A batch that fails because storage is out of reach is kept and tried again (were the
//!   process to die first, the jobs' leases bring them back).
//! - A batch the database refuses (a value it cannot store, a trigger's error) is split in
//!   halves, and each half tried on its own, until the outcome it refuses stands alone; the
//!   rest are stored. That one is stored instead as a failed attempt whose reason says the
//!   database refused its outcome (see [`Completion::without_foreign_text`]). Were even that
//!   refused, it is tried alone again every [`RETRY_AFTER`], out of the way of the others.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::events::EventKind;
use super::queue::Wake;
use super::scheduler::DueAt;
use super::settings::SharedSettings;
use crate::storage::complete::AfterFailed;
use crate::storage::{Completion, CompletionReport, Storage, StorageError};

/// Wait before storing a batch again after a storage error.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The outcome of a run, to be stored.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Completed(pub(crate) Completion);

/// Answers once every outcome received so far is stored (or, refused by the database even in
/// its fallback form, set aside): true when all of them are stored, false while any is set
/// aside (its job still stands `processing`).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Flush(pub(crate) oneshot::Sender<bool>);

/// Outcomes to store in one transaction.
struct Batch {
    outcomes: Vec<Completion>,
    /// Whether these are fallback forms of outcomes the database refused.
    fallback: bool,
}

pub(crate) struct Completer {
    storage: Storage,
    workspace: Arc<str>,
    settings: SharedSettings,
    queue: Recipient<Wake>,
    scheduler: Recipient<DueAt>,
    /// Outcomes received and not yet in a batch.
    pending: Vec<Completion>,
    /// Parts of refused batches, to be tried before anything new (the last first).
    parts: Vec<Batch>,
    /// Fallback outcomes the database refused too, tried again alone now and then.
    refused: Vec<Batch>,
    /// Whether a timer will try `refused` again.
    retry_armed: bool,
    writing: bool,
    flushed: Vec<oneshot::Sender<bool>>,
}

impl Completer {
    pub(crate) fn new(
        storage: Storage,
        workspace: Arc<str>,
        settings: SharedSettings,
        queue: Recipient<Wake>,
        scheduler: Recipient<DueAt>,
    ) -> Self {
        Completer {
            storage,
            workspace,
            settings,
            queue,
            scheduler,
            pending: Vec::new(),
            parts: Vec::new(),
            refused: Vec::new(),
            retry_armed: false,
            writing: false,
            flushed: Vec::new(),
        }
    }

    /// Starts writing the next batch, unless a write is under way.
    fn write(&mut self, ctx: &mut Context<Self>) {
        if self.writing {
            return;
        }
        let batch = self.parts.pop().unwrap_or_else(|| Batch {
            outcomes: std::mem::take(&mut self.pending),
            fallback: false,
        });
        if batch.outcomes.is_empty() {
            let all_stored = self.refused.is_empty();
            for done in self.flushed.drain(..) {
                let _ = done.send(all_stored);
            }
            return;
        }
        self.writing = true;
        let storage = self.storage.clone();
        let server = self.settings.server_id.clone();
        let outcomes = batch.outcomes.clone();
        let now = self.settings.now_ms();
        let store = async move { storage.complete(outcomes, &server, now).await };
        ctx.spawn(store.into_actor(self).map(move |stored, completer, ctx| {
            completer.writing = false;
            match stored {
                Ok(report) => {
                    completer.tell(&batch.outcomes, &report.stored);
                    completer.announce(report);
                }
                Err(error) if error.is_refusal() => completer.refused(batch, &error, ctx),
                Err(error) => {
                    let jobs = batch.outcomes.len();
                    tracing::error!(%error, jobs, "storing outcomes failed; will retry");
                    completer.parts.push(batch);
                    ctx.run_later(RETRY_AFTER, |completer, ctx| completer.write(ctx));
                    return;
                }
            }
            completer.write(ctx);
        }));
    }

    /// Deals with a batch the database refused: splits it, or replaces its one outcome with
    /// the fallback form, or sets a refused fallback aside to be tried again later.
    fn refused(&mut self, batch: Batch, error: &StorageError, ctx: &mut Context<Self>) {
        let Batch { outcomes, fallback } = batch;
        if outcomes.len() > 1 {
            let mut first = outcomes;
            let second = first.split_off(first.len() / 2);
            self.parts.push(Batch {
                outcomes: second,
                fallback,
            });
            self.parts.push(Batch {
                outcomes: first,
                fallback,
            });
            return;
        }
        let fallback_form = match fallback {
            false => outcomes[0].without_foreign_text(&error.to_string()),
            true => None,
        };
        match fallback_form {
            Some(outcome) => {
                tracing::warn!(%error, "the database refused a run's outcome; storing it as a failed attempt");
                self.parts.push(Batch {
                    outcomes: vec![outcome],
                    fallback: true,
                });
            }
            None => {
                tracing::error!(%error, outcome = ?outcomes[0], "the database refused a run's outcome; will retry it alone");
                self.refused.push(Batch { outcomes, fallback });
                self.retry_refused_later(ctx);
            }
        }
    }

    /// Moves the refused outcomes back in line after a while, with one timer for all of them.
    fn retry_refused_later(&mut self, ctx: &mut Context<Self>) {
        if std::mem::replace(&mut self.retry_armed, true) {
            return;
        }
        ctx.run_later(RETRY_AFTER, |completer, ctx| {
            completer.retry_armed = false;
            completer.parts.append(&mut completer.refused);
            completer.write(ctx);
        });
    }

    /// Tells subscribers of the `outcomes` that were `stored` (see `Stoker::events`).
    fn tell(&self, outcomes: &[Completion], stored: &[i64]) {
        let happened = outcomes
            .iter()
            .filter_map(event_of)
            .filter(|(id, _)| stored.binary_search(id).is_ok());
        self.settings.events.emit(&self.workspace, happened);
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

/// The event a stored `outcome` tells of, if any (an interrupted run's job is only back in
/// its queue).
fn event_of(outcome: &Completion) -> Option<(i64, EventKind)> {
    let kind = match outcome {
        Completion::Succeeded { .. } => EventKind::Succeeded,
        Completion::Failed { next, .. } => EventKind::Failed {
            will_retry: matches!(next, AfterFailed::Retry { .. }),
        },
        Completion::Snoozed { .. } => EventKind::Snoozed,
        Completion::Interrupted { .. } => return None,
    };
    Some((outcome.id(), kind))
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
