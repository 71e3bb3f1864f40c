//! The Scheduler actor, of a workspace's own store or of a store that workspaces share (see
//! `housekeeping`): moves `scheduled` jobs (delayed jobs and retries) to their queue when
//! they are due, and fires recurring jobs at their occurrences. It sleeps until the earliest
//! due instant it knows of and is told of earlier ones as they are stored. Where other servers
//! share the storage (and may store earlier ones), it also looks every poll interval. With a
//! clock moved by hand (tests), it looks again whenever the clock moves.

use std::time::Duration;

use actix::prelude::*;

use super::events::EventKind;
use super::housekeeping::Wakes;
use super::recurring::{Cause, plan};
use super::settings::SharedSettings;
use crate::storage::{CaughtUp, Fired, Storage, StorageResult, StoredRecurring};

/// Wait before trying again after a storage error.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Something is due at this instant (Unix ms): a scheduled job or a recurring occurrence.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct DueAt(pub(crate) i64);

pub(crate) struct Scheduler {
    storage: Storage,
    settings: SharedSettings,
    wakes: Wakes,
    /// The earliest due instant known.
    next_due: Option<i64>,
    timer: Option<SpawnHandle>,
    running: bool,
}

impl Scheduler {
    pub(crate) fn new(storage: Storage, settings: SharedSettings, wakes: Wakes) -> Self {
        Scheduler {
            storage,
            settings,
            wakes,
            next_due: None,
            timer: None,
            running: false,
        }
    }

    /// Learns of a due instant; keeps the earliest.
    fn expect(&mut self, at: Option<i64>, ctx: &mut Context<Self>) {
        let earliest = match (self.next_due, at) {
            (Some(known), Some(at)) => Some(known.min(at)),
            (known, at) => known.or(at),
        };
        if earliest != self.next_due || self.timer.is_none() {
            self.next_due = earliest;
            self.arm(ctx);
        }
    }

    /// Sets the timer for the earliest due instant (none when nothing is due).
    fn arm(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        if self.running {
            return;
        }
        let until_due = self
            .next_due
            .map(|due| Duration::from_millis((due - self.settings.now_ms()).max(0) as u64));
        let poll = (!self.storage.is_exclusive()).then_some(self.settings.poll_interval);
        let wait = match (until_due, poll) {
            (Some(due), Some(poll)) => Some(due.min(poll)),
            (due, poll) => due.or(poll),
        };
        if let Some(wait) = wait {
            self.timer = Some(ctx.run_later(wait, |scheduler, ctx| {
                scheduler.timer = None;
                scheduler.run(ctx);
            }));
        }
    }

    /// Tells subscribers of the jobs recurring jobs created (see `Stoker::events`).
    fn tell_fired(&self, fired: Vec<Fired>) {
        for Fired {
            key,
            recurring,
            job,
        } in fired
        {
            let kind = EventKind::RecurringFired { recurring };
            let workspace = self.wakes.workspace_of(&key);
            self.settings.events.emit(workspace, [(job, kind)]);
        }
    }

    /// Promotes due jobs and fires due recurring jobs, then looks up the next due instant.
    fn run(&mut self, ctx: &mut Context<Self>) {
        self.running = true;
        self.next_due = None;
        let (storage, settings) = (self.storage.clone(), self.settings.clone());
        ctx.spawn(
            due_work(storage, settings)
                .into_actor(self)
                .map(|result, scheduler, ctx| {
                    scheduler.running = false;
                    match result {
                        Ok(done) => {
                            scheduler.tell_fired(done.fired);
                            scheduler.wakes.tell(done.woken);
                            scheduler.expect(done.next.earliest(), ctx);
                        }
                        Err(error) => {
                            tracing::error!(%error, "scheduling due jobs failed; will retry");
                            let retry =
                                scheduler.settings.now_ms() + RETRY_AFTER.as_millis() as i64;
                            scheduler.expect(Some(retry), ctx);
                        }
                    }
                }),
        );
    }
}

/// One round: find what is due; if anything is, promote due jobs, fire due recurring jobs
/// and find the next due instant, in one transaction. A round that finds nothing due (a poll
/// of an idle store) is its first statement alone.
async fn due_work(storage: Storage, settings: SharedSettings) -> StorageResult<CaughtUp> {
    let due = storage.due().await?;
    let now = settings.now_ms();
    if !due.any_due(now) {
        return Ok(CaughtUp {
            next: due,
            ..CaughtUp::default()
        });
    }
    let planner = |row: &StoredRecurring| plan(&settings, row, now, Cause::Schedule);
    storage.catch_up(due, now, &planner).await
}

impl Actor for Scheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(moves) = crate::clock::moves(self.settings.clock.as_ref()) {
            ctx.add_stream(moves);
        }
        // The first round also finds what fell due while the store was closed.
        self.run(ctx);
    }
}

/// The clock was moved by hand: what is due may have changed.
impl StreamHandler<()> for Scheduler {
    fn handle(&mut self, (): (), ctx: &mut Context<Self>) {
        self.arm(ctx);
    }

    fn finished(&mut self, _: &mut Context<Self>) {}
}

impl Handler<DueAt> for Scheduler {
    type Result = ();

    fn handle(&mut self, DueAt(at): DueAt, ctx: &mut Context<Self>) {
        self.expect(Some(at), ctx);
    }
}
