//! The Worker actor: runs one job at a time. It decodes the arguments, runs the job with a
//! cancellation token inside a `job` span (workspace, id, type, queue, attempt), turns panics
//! into failed attempts, enforces the job type's timeout, decides between retry and exhaustion,
//! logs how the run ended, and reports the outcome to the Completer and its freedom to the
//! Queue.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::completer::Completed;
use super::events::EventKind;
use super::panics::{self, Caught, Panic};
use super::settings::{SharedSettings, millis};
use super::trace_context;
use crate::job::{JobContext, JobError, JobId};
use crate::retry::{AfterFailure, Exhausted, RetryPolicy};
use crate::state::JobState;
use crate::storage::{ClaimedJob, Completion, complete::AfterFailed};

/// Runs `job`; the worker is busy until it reports [`WorkerIdle`].
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Run(pub(crate) ClaimedJob);

/// Why a running job is asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// The server is shutting down: an unfinished run goes back to its queue.
    Shutdown,
    /// A person deleted the job.
    Deleted,
}

/// Fires the running job's cancellation token.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Cancel(pub(crate) StopReason);

/// A worker finished job `job` and is free again.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct WorkerIdle {
    pub(crate) worker: usize,
    pub(crate) job: i64,
}

pub(crate) struct Worker {
    pub(crate) index: usize,
    pub(crate) workspace: Arc<str>,
    pub(crate) settings: SharedSettings,
    pub(crate) completer: Recipient<Completed>,
    pub(crate) queue: Recipient<WorkerIdle>,
    /// The running job's token and why it was cancelled, if it was.
    running: Option<(CancellationToken, Option<StopReason>)>,
}

impl Worker {
    pub(crate) fn new(
        index: usize,
        workspace: Arc<str>,
        settings: SharedSettings,
        completer: Recipient<Completed>,
        queue: Recipient<WorkerIdle>,
    ) -> Self {
        Worker {
            index,
            workspace,
            settings,
            completer,
            queue,
            running: None,
        }
    }
}

impl Actor for Worker {
    type Context = Context<Self>;
}

/// How one run ended, before the retry policy is applied.
enum RunEnd {
    Ok,
    Err(JobError),
    /// The job panicked (`location` is where, if known); `error` is the failed attempt.
    Panicked {
        error: JobError,
        location: Option<String>,
    },
}

impl Handler<Run> for Worker {
    type Result = ();

    fn handle(&mut self, Run(job): Run, ctx: &mut Context<Self>) {
        let token = CancellationToken::new();
        self.running = Some((token.clone(), None));
        let span = tracing::info_span!(
            "job",
            workspace = %self.workspace,
            id = job.id,
            r#type = %job.job_type,
            queue = %job.queue,
            attempt = job.attempt,
        );
        trace_context::adopt(&span, job.trace_parent.as_deref());
        let started = [(
            job.id,
            EventKind::Started {
                attempt: job.attempt.max(1) as u32,
            },
        )];
        self.settings.events.emit(&self.workspace, started);
        let run = self.run(&job, token.clone()).instrument(span.clone());
        ctx.spawn(run.into_actor(self).map(move |end, worker, _| {
            let stop = worker.running.take().and_then(|(_, reason)| reason);
            let completion = completion(&job, &end, stop);
            span.in_scope(|| log_end(&end, &completion, stop));
            worker.completer.do_send(Completed(completion));
            worker.queue.do_send(WorkerIdle {
                worker: worker.index,
                job: job.id,
            });
        }));
    }
}

impl Handler<Cancel> for Worker {
    type Result = ();

    fn handle(&mut self, Cancel(reason): Cancel, _: &mut Context<Self>) {
        if let Some((token, stop)) = &mut self.running {
            stop.get_or_insert(reason);
            token.cancel();
        }
    }
}

impl Worker {
    /// The run of `job` as a future that never panics and never outlives its timeout.
    fn run(
        &self,
        job: &ClaimedJob,
        token: CancellationToken,
    ) -> impl Future<Output = RunEnd> + 'static {
        let ctx = JobContext {
            id: JobId(job.id),
            attempt: job.attempt.max(1) as u32,
            workspace: self.workspace.clone(),
            cancellation: token.clone(),
            data: self.settings.data.clone(),
            clock: self.settings.clock.clone(),
        };
        let job_type = self.settings.registry.get(&job.job_type).cloned();
        let (name, args) = (job.job_type.clone(), job.args.clone());
        async move {
            let Some(job_type) = job_type else {
                return RunEnd::Err(JobError::fatal(format!(
                    "job type `{name}` is not registered"
                )));
            };
            let run = match panics::catch(|| job_type.start(&args, ctx)) {
                Ok(Ok(run)) => run,
                Ok(Err(reason)) => {
                    return RunEnd::Err(JobError::fatal(format!(
                        "arguments do not decode: {reason}"
                    )));
                }
                Err(panic) => return panicked(panic),
            };
            let guarded = Caught(run);
            let result = match job_type.timeout {
                Some(limit) => match tokio::time::timeout(limit, guarded).await {
                    Ok(result) => result,
                    Err(_) => {
                        token.cancel();
                        return RunEnd::Err(JobError::retry(format!("timed out after {limit:?}")));
                    }
                },
                None => guarded.await,
            };
            match result {
                Ok(Ok(())) => RunEnd::Ok,
                Ok(Err(error)) => RunEnd::Err(error),
                Err(panic) => panicked(panic),
            }
        }
    }
}

/// The end of a run that panicked: a failed attempt with the panic's message.
fn panicked(panic: Panic) -> RunEnd {
    RunEnd::Panicked {
        error: JobError::retry(format!("panicked: {}", panic.message)),
        location: panic.location,
    }
}

/// The stored retry policy of a claimed job.
fn retry_policy(job: &ClaimedJob) -> RetryPolicy {
    let delays: Vec<u64> = job
        .retry_delays
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    let exhausted = match job.on_exhausted.parse() {
        Ok(JobState::Deleted) => Exhausted::Delete,
        _ => Exhausted::Fail,
    };
    RetryPolicy::attempts(job.max_retries.max(0) as u32)
        .with_delays(delays.into_iter().map(Duration::from_secs))
        .on_exhausted(exhausted)
}

/// What to store for a run of `job` that ended with `end`.
fn completion(job: &ClaimedJob, end: &RunEnd, stop: Option<StopReason>) -> Completion {
    let error = match end {
        RunEnd::Ok => {
            return Completion::Succeeded {
                id: job.id,
                attempt: job.attempt,
            };
        }
        RunEnd::Err(error) | RunEnd::Panicked { error, .. } => error,
    };
    if let Some(delay) = error.snoozed_for() {
        return Completion::Snoozed {
            id: job.id,
            delay_ms: millis(delay),
            reason: error.message().to_owned(),
        };
    }
    if stop == Some(StopReason::Shutdown) {
        return Completion::Interrupted {
            id: job.id,
            reason: format!("interrupted by shutdown: {error}"),
        };
    }
    let policy = retry_policy(job);
    let attempt = job.attempt.max(1);
    let next = match policy.after_failure(attempt as u32, error.is_retryable()) {
        AfterFailure::Retry { retry, delay } => AfterFailed::Retry {
            retry,
            retries: policy.attempts,
            delay_ms: millis(delay),
        },
        AfterFailure::Exhausted(state) => AfterFailed::Exhausted(state),
    };
    Completion::Failed {
        id: job.id,
        attempt,
        error: error.message().to_owned(),
        next,
    }
}

/// Logs how a run ended, inside its `job` span: a failure at `warn` while retries are left,
/// at `error` when none are or the job panicked; a success, a snooze and a stop at lower levels.
fn log_end(end: &RunEnd, completion: &Completion, stop: Option<StopReason>) {
    if stop == Some(StopReason::Deleted) {
        tracing::info!("job stopped: it was deleted while it ran");
        return;
    }
    match completion {
        Completion::Succeeded { .. } => tracing::debug!("job succeeded"),
        Completion::Snoozed { delay_ms, .. } => tracing::debug!(delay_ms, "job snoozed"),
        Completion::Interrupted { reason, .. } => {
            tracing::info!(reason, "job interrupted by shutdown: back to its queue");
        }
        Completion::Failed { error, next, .. } => match (end, next) {
            (RunEnd::Panicked { location, .. }, _) => {
                tracing::error!(error, location, next = ?next, "job panicked");
            }
            (
                _,
                AfterFailed::Retry {
                    retry, delay_ms, ..
                },
            ) => {
                tracing::warn!(error, retry, delay_ms, "job failed: it will be retried");
            }
            (_, AfterFailed::Exhausted(state)) => {
                tracing::error!(error, state = %state, "job failed: no retry left");
            }
        },
    }
}
