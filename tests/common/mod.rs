//! Helpers shared by the integration tests: job types with observable effects, a runtime on a
//! temporary data directory, and waiting for a condition with a deadline.

#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod backend;
pub mod browser;
pub mod crash;
pub mod listener;
pub mod pages;
pub mod private_postgres;
pub mod server;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stoker::{
    Event, EventKind, EventStream, Job, JobContext, JobError, JobId, JobState, StokerBuilder,
    Workspace,
};

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `check` until it returns `Some`, failing the test after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The instant `text` (RFC 3339) names.
pub fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    text.parse().unwrap()
}

/// Waits until the runtime has released workspace `name` (it is no longer open).
pub async fn released(stoker: &stoker::Stoker, name: &str) {
    wait_for("the idle workspace to be released", PATIENCE, async || {
        (!stoker.open_workspaces().iter().any(|open| open == name)).then_some(())
    })
    .await;
}

/// Waits until job `id` is in `state`.
pub async fn wait_for_state(workspace: &Workspace, id: JobId, state: JobState) {
    let what = format!("job {id} to be {state}");
    wait_for(&what, PATIENCE, || async {
        let job = workspace.job(id).await.expect("job details");
        (job.summary.state == state).then_some(())
    })
    .await
}

/// The events of job `job` until one `last` says it ended, in order.
pub async fn events_of(events: &mut EventStream, job: JobId, last: &EventKind) -> Vec<EventKind> {
    let mut told = Vec::new();
    while told.last() != Some(last) {
        let event = next_event(events).await;
        if event.job == job {
            told.push(event.kind);
        }
    }
    told
}

/// The next event, failing the test after [`PATIENCE`].
pub async fn next_event(events: &mut EventStream) -> Event {
    tokio::time::timeout(PATIENCE, events.next())
        .await
        .expect("an event in time")
        .expect("the runtime is running")
}

/// Runs of jobs as the jobs themselves recorded them: (workspace, key) -> count.
#[derive(Clone, Default)]
pub struct Runs(Arc<Mutex<HashMap<(String, String), usize>>>);

impl Runs {
    pub fn record(&self, workspace: &str, key: &str) {
        *self
            .0
            .lock()
            .unwrap()
            .entry((workspace.to_owned(), key.to_owned()))
            .or_default() += 1;
    }

    pub fn count(&self, workspace: &str, key: &str) -> usize {
        let runs = self.0.lock().unwrap();
        runs.get(&(workspace.to_owned(), key.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.0.lock().unwrap().values().sum()
    }

    pub fn all(&self) -> HashMap<(String, String), usize> {
        self.0.lock().unwrap().clone()
    }
}

/// Records its run under its key, then succeeds.
#[derive(Serialize, Deserialize)]
pub struct Record {
    pub key: String,
}

impl Job for Record {
    const NAME: &'static str = "record";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let runs = ctx.data::<Runs>().expect("Runs registered");
        runs.record(ctx.workspace(), &self.key);
        Ok(())
    }
}

/// Fails its first `times` attempts, then succeeds.
#[derive(Serialize, Deserialize)]
pub struct FailTimes {
    pub times: u32,
}

impl Job for FailTimes {
    const NAME: &'static str = "fail_times";

    fn retry_policy() -> stoker::RetryPolicy {
        stoker::RetryPolicy::attempts(5).with_delays([Duration::ZERO])
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        if ctx.attempt() <= self.times {
            Err(JobError::retry(format!(
                "failure {} of {}",
                ctx.attempt(),
                self.times
            )))
        } else {
            Ok(())
        }
    }
}

/// Panics on every attempt.
#[derive(Serialize, Deserialize)]
pub struct Explode {}

impl Job for Explode {
    const NAME: &'static str = "explode";

    fn retry_policy() -> stoker::RetryPolicy {
        stoker::RetryPolicy::attempts(2).with_delays([Duration::ZERO])
    }

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        panic!("the boiler burst")
    }
}

/// Sleeps `ms` milliseconds unless cancelled; records "started:<key>" first and
/// "finished:<key>" when it ran to the end.
#[derive(Serialize, Deserialize)]
pub struct Nap {
    pub key: String,
    pub ms: u64,
}

impl Job for Nap {
    const NAME: &'static str = "nap";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let runs = ctx.data::<Runs>().expect("Runs registered");
        runs.record(ctx.workspace(), &format!("started:{}", self.key));
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(self.ms)) => {
                runs.record(ctx.workspace(), &format!("finished:{}", self.key));
                Ok(())
            }
            () = ctx.cancelled() => Err(JobError::retry("cancelled")),
        }
    }
}

/// A run of a [`Log`] job: which job, and when it started.
pub type Start = (JobId, chrono::DateTime<chrono::Utc>);

/// When each run of a [`Log`] job started.
#[derive(Clone, Default)]
pub struct Starts(Arc<Mutex<Vec<Start>>>);

impl Starts {
    pub fn all(&self) -> Vec<Start> {
        self.0.lock().unwrap().clone()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Records its id and the (system) time it started, then succeeds.
#[derive(Serialize, Deserialize)]
pub struct Log {}

impl Job for Log {
    const NAME: &'static str = "log";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let starts = ctx.data::<Starts>().expect("Starts registered");
        starts
            .0
            .lock()
            .unwrap()
            .push((ctx.id(), chrono::Utc::now()));
        Ok(())
    }
}

/// A runtime builder with the test job types, storing in `dir` (or in a fresh PostgreSQL
/// database, see [`backend`]).
pub fn builder(dir: &std::path::Path, runs: &Runs) -> StokerBuilder {
    builder_on(backend::storage(dir), runs)
}

/// A runtime builder with the test job types, storing in `storage`.
pub fn builder_on(storage: stoker::StorageConfig, runs: &Runs) -> StokerBuilder {
    stoker::Stoker::builder()
        .register::<Record>()
        .register::<FailTimes>()
        .register::<Explode>()
        .register::<Nap>()
        .register::<Log>()
        .data(runs.clone())
        .storage(storage)
}
