//! The Queue actor: claims due jobs in batches of at most as many as the workspace may still
//! start and the server has slots for (see `slots`), and hands each to a worker, starting
//! workers as they are first needed. It claims when told there is work ([`Wake`]: an enqueue, a
//! promotion, a recovery) and when workers free up after a full batch; an idle queue makes no
//! query. Where other servers share the storage, it also claims when they notify that they
//! enqueued: the runtime forwards what the database's listener hears as a [`Wake`], and wakes
//! every queue after the listener reconnects (notifications are lost only while it is away),
//! so the queue does not poll. It also knows which worker runs which job, to cancel one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;

use super::activity::Activity;
use super::completer::Completed;
use super::settings::SharedSettings;
use super::slots::Grant;
use super::supervisor::Stop;
use super::worker::{Cancel, Run, StopReason, Worker, WorkerIdle};
use crate::storage::{ClaimFloors, ClaimedJob, Storage};

/// A worker that frees up within this time of the last dispatch, or while a claim runs,
/// waits (at most this long after the dispatch) for the others of its batch, so that short
/// jobs are claimed in full batches, not one by one or in big and small claims by turns.
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

/// Stop claiming; answer when no job runs any more, with [`Drained`].
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Drain(pub(crate) oneshot::Sender<Drained>);

/// The answer to [`Drain`]: no job runs any more, and whether every job this queue claimed
/// is known to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Drained {
    /// Every claim answered: the jobs it ran are all the jobs it took.
    Known,
    /// A claim failed since the queue started. It may have committed before its answer was
    /// lost (or an earlier queue's part of it did), so jobs the queue never saw may still
    /// stand `processing` under this server's lease.
    MayHaveLost,
}

/// Ask every running job to stop (shutdown ran out of patience).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct CancelRunning;

pub(crate) struct Queue {
    storage: Storage,
    settings: SharedSettings,
    /// Starts a worker when every started one is busy and the workspace may run more.
    hire: WorkerFactory,
    workers: Vec<Addr<Worker>>,
    idle: Vec<usize>,
    running: HashMap<i64, usize>,
    /// Server-wide slots granted and not yet used by a claim.
    spare: usize,
    /// A request for slots is waiting its turn.
    asking: bool,
    activity: Arc<Activity>,
    /// Where the claims of each worked queue start looking.
    floors: ClaimFloors,
    claiming: bool,
    claim_pending: bool,
    last_dispatch: Instant,
    /// Work may be waiting: claim when a worker is free.
    wanted: bool,
    draining: bool,
    drained: Vec<oneshot::Sender<Drained>>,
    /// A claim failed since the queue started (see [`Drained::MayHaveLost`]).
    claim_failed: bool,
}

/// What a queue needs to start its workers.
pub(crate) struct WorkerFactory {
    pub(crate) workspace: Arc<str>,
    pub(crate) completer: Recipient<Completed>,
}

impl Queue {
    pub(crate) fn new(
        storage: Storage,
        settings: SharedSettings,
        hire: WorkerFactory,
        activity: Arc<Activity>,
    ) -> Self {
        Queue {
            storage,
            settings,
            hire,
            workers: Vec::new(),
            idle: Vec::new(),
            running: HashMap::new(),
            spare: 0,
            asking: false,
            activity,
            floors: ClaimFloors::default(),
            claiming: false,
            claim_pending: false,
            last_dispatch: Instant::now(),
            wanted: true,
            draining: false,
            drained: Vec::new(),
            claim_failed: false,
        }
    }

    /// Claims as many jobs as the workspace may start and the server has slots for.
    fn claim(&mut self, ctx: &mut Context<Self>) {
        if self.draining {
            self.give_back_spare();
        }
        if self.claiming || self.draining || !self.wanted {
            return;
        }
        let capacity = self.settings.workers().saturating_sub(self.running.len());
        if capacity == 0 {
            return;
        }
        if self.spare == 0 {
            self.ask_for_slots(capacity, ctx);
            return;
        }
        self.claiming = true;
        self.wanted = false;
        let limit = capacity.min(self.spare);
        let storage = self.storage.clone();
        let settings = self.settings.clone();
        let floors = self.floors.clone();
        let claim = async move {
            let now = settings.now_ms();
            let server = &settings.server_id;
            storage
                .claim(
                    settings.queues(),
                    limit,
                    &floors,
                    server,
                    now,
                    now + settings.lease_ms(),
                )
                .await
        };
        ctx.spawn(claim.into_actor(self).map(move |claimed, queue, ctx| {
            queue.claiming = false;
            let jobs = match claimed {
                Ok(jobs) => jobs,
                Err(error) => {
                    tracing::error!(%error, "claiming jobs failed; will retry");
                    queue.claim_failed = true;
                    queue.wanted = true;
                    queue.give_back_spare();
                    queue.answer_drained();
                    ctx.run_later(RETRY_AFTER, |queue, ctx| queue.claim(ctx));
                    return;
                }
            };
            // A full batch suggests more is waiting.
            queue.wanted |= jobs.len() == limit;
            let dispatched = !jobs.is_empty();
            queue.dispatch(jobs, ctx);
            queue.give_back_spare();
            queue.answer_drained();
            if dispatched {
                // Workers freed while this claim ran wait for those of the batch just
                // dispatched, rather than going in a small claim of their own.
                queue.claim_after_window(ctx);
            } else {
                queue.claim(ctx);
            }
        }));
    }

    /// Takes up to `want` server-wide slots, now or when it is this workspace's turn.
    fn ask_for_slots(&mut self, want: usize, ctx: &mut Context<Self>) {
        if self.asking {
            return;
        }
        match self.settings.slots.take(want) {
            Grant::Now(granted) => {
                self.spare += granted;
                self.claim(ctx);
            }
            Grant::Later(granted) => {
                self.asking = true;
                ctx.spawn(granted.into_actor(self).map(|granted, queue, ctx| {
                    queue.asking = false;
                    queue.spare += granted.unwrap_or(0);
                    queue.claim(ctx);
                }));
            }
        }
    }

    fn give_back_spare(&mut self) {
        self.settings
            .slots
            .give_back(std::mem::take(&mut self.spare));
    }

    /// Claims once the batch window after the last dispatch has passed: the jobs started
    /// moments ago are likely finishing too, and are claimed for all at once rather than one
    /// at a time.
    fn claim_after_window(&mut self, ctx: &mut Context<Self>) {
        let since_dispatch = self.last_dispatch.elapsed();
        if since_dispatch >= BATCH_WINDOW {
            self.claim(ctx);
        } else if !self.claim_pending {
            self.claim_pending = true;
            ctx.run_later(BATCH_WINDOW - since_dispatch, |queue, ctx| {
                queue.claim_pending = false;
                queue.claim(ctx);
            });
        }
    }

    /// There may be work: claim as soon as a worker is free.
    fn wake(&mut self, ctx: &mut Context<Self>) {
        self.wanted = true;
        self.claim(ctx);
    }

    fn dispatch(&mut self, jobs: Vec<ClaimedJob>, ctx: &mut Context<Self>) {
        self.last_dispatch = Instant::now();
        self.spare -= jobs.len();
        for job in jobs {
            let worker = match self.idle.pop() {
                Some(worker) => worker,
                None => self.hire_worker(ctx),
            };
            self.running.insert(job.id, worker);
            self.workers[worker].do_send(Run(job));
        }
        self.activity.set_running(self.running.len());
    }

    /// Starts one more worker, on the worker arbiters in turn; returns its index.
    fn hire_worker(&mut self, ctx: &mut Context<Self>) -> usize {
        let index = self.workers.len();
        let arbiters = &self.settings.worker_arbiters;
        let arbiter = &arbiters[index % arbiters.len()];
        let (completer, queue) = (self.hire.completer.clone(), ctx.address().recipient());
        let (workspace, settings) = (self.hire.workspace.clone(), self.settings.clone());
        let worker = Worker::start_in_arbiter(arbiter, move |_| {
            Worker::new(index, workspace, settings, completer, queue)
        });
        self.workers.push(worker);
        index
    }

    fn answer_drained(&mut self) {
        if self.draining && self.running.is_empty() && !self.claiming {
            let drained = match self.claim_failed {
                false => Drained::Known,
                true => Drained::MayHaveLost,
            };
            for done in self.drained.drain(..) {
                let _ = done.send(drained);
            }
        }
    }
}

impl Actor for Queue {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.claim(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.give_back_spare();
        self.settings.slots.give_back(self.running.len());
    }
}

impl Handler<Wake> for Queue {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Context<Self>) {
        self.wake(ctx);
    }
}

impl Handler<WorkerIdle> for Queue {
    type Result = ();

    fn handle(&mut self, idle: WorkerIdle, ctx: &mut Context<Self>) {
        if self.running.remove(&idle.job).is_some() {
            self.settings.slots.give_back(1);
        }
        self.idle.push(idle.worker);
        self.activity.set_running(self.running.len());
        self.answer_drained();
        if self.running.is_empty() {
            self.claim(ctx);
        } else {
            self.claim_after_window(ctx);
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
