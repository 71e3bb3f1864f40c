//! The Scheduler actor: moves `scheduled` jobs (delayed jobs and retries) to their queue when
//! they are due. It sleeps until the earliest due instant it knows of, and is told of earlier
//! ones as they are stored; it never polls.

use std::time::Duration;

use actix::prelude::*;

use super::queue::Wake;
use super::settings::now_ms;
use crate::storage::Storage;

/// Wait before trying again after a storage error.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A scheduled job is due at this instant (Unix ms).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct DueAt(pub(crate) i64);

pub(crate) struct Scheduler {
    storage: Storage,
    queue: Recipient<Wake>,
    /// The earliest due instant known.
    next_due: Option<i64>,
    timer: Option<SpawnHandle>,
    promoting: bool,
}

impl Scheduler {
    pub(crate) fn new(storage: Storage, queue: Recipient<Wake>) -> Self {
        Scheduler {
            storage,
            queue,
            next_due: None,
            timer: None,
            promoting: false,
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

    /// Sets the timer for the earliest due instant (none when nothing is scheduled).
    fn arm(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        if self.promoting {
            return;
        }
        if let Some(due) = self.next_due {
            let wait = Duration::from_millis((due - now_ms()).max(0) as u64);
            self.timer = Some(ctx.run_later(wait, |scheduler, ctx| {
                scheduler.timer = None;
                scheduler.promote(ctx);
            }));
        }
    }

    /// Promotes every due job, then looks up the next due instant.
    fn promote(&mut self, ctx: &mut Context<Self>) {
        self.promoting = true;
        self.next_due = None;
        let storage = self.storage.clone();
        let work = async move {
            let promoted = storage.promote_due(now_ms()).await?;
            Ok::<_, crate::storage::StorageError>((promoted, storage.next_due().await?))
        };
        ctx.spawn(work.into_actor(self).map(|result, scheduler, ctx| {
            scheduler.promoting = false;
            match result {
                Ok((promoted, next)) => {
                    if promoted > 0 {
                        scheduler.queue.do_send(Wake);
                    }
                    scheduler.expect(next, ctx);
                }
                Err(error) => {
                    tracing::error!(%error, "promoting due jobs failed; will retry");
                    scheduler.expect(Some(now_ms() + RETRY_AFTER.as_millis() as i64), ctx);
                }
            }
        }));
    }
}

impl Actor for Scheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The first promotion also finds what became due while the workspace was closed.
        self.promote(ctx);
    }
}

impl Handler<DueAt> for Scheduler {
    type Result = ();

    fn handle(&mut self, DueAt(at): DueAt, ctx: &mut Context<Self>) {
        self.expect(Some(at), ctx);
    }
}
