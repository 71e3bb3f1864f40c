//! The Queue actor: claims due jobs in batches of at most as many as it has idle workers, and
//! hands each to a worker. It claims when told there is work ([`Wake`]: an enqueue, a
//! promotion, a recovery) and when workers free up after a full batch; an idle queue makes no
//! query. Where other servers share the storage, it also claims when they notify that they
//! enqueued, and every poll interval in case a notification was lost. It also knows which
//! worker runs which job, to cancel one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;

use super::settings::SharedSettings;
use super::supervisor::Stop;
use super::worker::{Cancel, Run, StopReason, Worker, WorkerIdle};
use crate::storage::{ClaimedJob, Storage};

/// A worker that frees up within this time of the last dispatch waits (at most this long) for
/// the others of its batch, so that short jobs are claimed in full batches, not one by one.
const BATCH_WINDOW: Duration = Duration::from_millis(2);

/// Wait before claiming again after a storage error.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// There may be jobs to claim.
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub(crate) struct Wake;

/// Job `0` was deleted: stop it if it runs here.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct CancelJob(pub(crate) i64);

/// Stop claiming; answer when no job runs any more.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Drain(pub(crate) oneshot::Sender<()>);

/// Ask every running job to stop (shutdown ran out of patience).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct CancelRunning;

pub(crate) struct Queue {
    storage: Storage,
    settings: SharedSettings,
    workers: Vec<Addr<Worker>>,
    idle: Vec<usize>,
    running: HashMap<i64, usize>,
    claiming: bool,
    claim_pending: bool,
    last_dispatch: Instant,
    /// Work may be waiting: claim when a worker is free.
    wanted: bool,
    draining: bool,
    drained: Vec<oneshot::Sender<()>>,
}

impl Queue {
    pub(crate) fn new(
        storage: Storage,
        settings: SharedSettings,
        workers: Vec<Addr<Worker>>,
    ) -> Self {
        Queue {
            storage,
            settings,
            idle: (0..workers.len()).rev().collect(),
            workers,
            running: HashMap::new(),
            claiming: false,
            claim_pending: false,
            last_dispatch: Instant::now(),
            wanted: true,
            draining: false,
            drained: Vec::new(),
        }
    }

    fn claim(&mut self, ctx: &mut Context<Self>) {
        if self.claiming || self.draining || !self.wanted || self.idle.is_empty() {
            return;
        }
        self.claiming = true;
        self.wanted = false;
        let limit = self.idle.len();
        let storage = self.storage.clone();
        let settings = self.settings.clone();
        let claim = async move {
            let now = settings.now_ms();
            let server = &settings.server_id;
            storage
                .claim(
                    &settings.queues,
                    limit,
                    server,
                    now,
                    now + settings.lease_ms(),
                )
                .await
        };
        ctx.spawn(claim.into_actor(self).map(move |claimed, queue, ctx| {
            queue.claiming = false;
            match claimed {
                Ok(jobs) => {
                    // A full batch suggests more is waiting.
                    queue.wanted |= jobs.len() == limit;
                    queue.dispatch(jobs);
                }
                Err(error) => {
                    tracing::error!(%error, "claiming jobs failed; will retry");
                    queue.wanted = true;
                    ctx.run_later(RETRY_AFTER, |queue, ctx| queue.claim(ctx));
                    return;
                }
            }
            queue.answer_drained();
            queue.claim(ctx);
        }));
    }

    /// There may be work: claim as soon as a worker is free.
    fn wake(&mut self, ctx: &mut Context<Self>) {
        self.wanted = true;
        self.claim(ctx);
    }

    fn dispatch(&mut self, jobs: Vec<ClaimedJob>) {
        self.last_dispatch = Instant::now();
        for job in jobs {
            let worker = self
                .idle
                .pop()
                .expect("never more jobs claimed than idle workers");
            self.running.insert(job.id, worker);
            self.workers[worker].do_send(Run(job));
        }
    }

    fn answer_drained(&mut self) {
        if self.draining && self.running.is_empty() && !self.claiming {
            for done in self.drained.drain(..) {
                let _ = done.send(());
            }
        }
    }
}

impl Actor for Queue {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(wakeups) = self.storage.wakeups() {
            ctx.add_stream(wakeups);
        }
        if !self.storage.is_exclusive() {
            ctx.run_interval(self.settings.poll_interval, Queue::wake);
        }
        self.claim(ctx);
    }
}

impl Handler<Wake> for Queue {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Context<Self>) {
        self.wake(ctx);
    }
}

/// Another server enqueued (or the listener reconnected and may have missed that).
impl StreamHandler<()> for Queue {
    fn handle(&mut self, (): (), ctx: &mut Context<Self>) {
        self.wake(ctx);
    }

    fn finished(&mut self, _: &mut Context<Self>) {}
}

impl Handler<WorkerIdle> for Queue {
    type Result = ();

    fn handle(&mut self, idle: WorkerIdle, ctx: &mut Context<Self>) {
        self.running.remove(&idle.job);
        self.idle.push(idle.worker);
        self.answer_drained();
        let since_dispatch = self.last_dispatch.elapsed();
        if self.running.is_empty() || since_dispatch >= BATCH_WINDOW {
            self.claim(ctx);
        } else if !self.claim_pending {
            // The running jobs started moments ago and are likely finishing too: claim for
            // all of them at once rather than one at a time.
            self.claim_pending = true;
            ctx.run_later(BATCH_WINDOW - since_dispatch, |queue, ctx| {
                queue.claim_pending = false;
                queue.claim(ctx);
            });
        }
    }
}

impl Handler<CancelJob> for Queue {
    type Result = ();

    fn handle(&mut self, CancelJob(job): CancelJob, _: &mut Context<Self>) {
        if let Some(&worker) = self.running.get(&job) {
            self.workers[worker].do_send(Cancel(StopReason::Deleted));
        }
    }
}

impl Handler<Drain> for Queue {
    type Result = ();

    fn handle(&mut self, Drain(done): Drain, _: &mut Context<Self>) {
        self.draining = true;
        self.drained.push(done);
        self.answer_drained();
    }
}

impl Handler<CancelRunning> for Queue {
    type Result = ();

    fn handle(&mut self, _: CancelRunning, _: &mut Context<Self>) {
        for &worker in self.running.values() {
            self.workers[worker].do_send(Cancel(StopReason::Shutdown));
        }
    }
}

impl Handler<Stop> for Queue {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        self.workers.iter().for_each(|worker| worker.do_send(Stop));
        ctx.stop();
    }
}
