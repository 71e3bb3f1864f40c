//! [`TestContext`]: a [`JobContext`] for a unit test, and [`run_inline`], one run of a job.

use std::any::Any;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SystemClock};
use crate::job::{AppData, Job, JobContext, JobError, JobId};

/// Builds the context a job sees, outside any runtime: job 1 of workspace `test`, its first
/// attempt, no data, the system clock, not cancelled, unless said otherwise.
#[derive(Clone)]
pub struct TestContext {
    id: JobId,
    attempt: u32,
    workspace: String,
    data: AppData,
    clock: Arc<dyn Clock>,
    cancelled: bool,
}

impl std::fmt::Debug for TestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestContext")
            .field("id", &self.id)
            .field("attempt", &self.attempt)
            .field("workspace", &self.workspace)
            .field("cancelled", &self.cancelled)
            .finish_non_exhaustive()
    }
}

impl Default for TestContext {
    fn default() -> Self {
        TestContext {
            id: JobId(1),
            attempt: 1,
            workspace: "test".to_owned(),
            data: AppData::default(),
            clock: Arc::new(SystemClock),
            cancelled: false,
        }
    }
}

impl TestContext {
    /// Job 1 of workspace `test`, its first attempt.
    pub fn new() -> Self {
        TestContext::default()
    }

    /// The job's id.
    pub fn id(mut self, id: JobId) -> Self {
        self.id = id;
        self
    }

    /// Which run it is: 1 for the first.
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// The workspace it belongs to.
    pub fn workspace(mut self, name: impl Into<String>) -> Self {
        self.workspace = name.into();
        self
    }

    /// Shares `value` with the job, as [`StokerBuilder::data`](crate::StokerBuilder::data).
    pub fn data<T: Any + Send + Sync>(mut self, value: T) -> Self {
        self.data.insert(Arc::new(value));
        self
    }

    /// The job's clock: a [`ManualClock`](crate::ManualClock) sets "now".
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The runtime has asked the job to stop (a shutdown, a deletion, a timeout).
    pub fn cancelled(mut self) -> Self {
        self.cancelled = true;
        self
    }

    /// The context.
    pub fn build(self) -> JobContext {
        let cancellation = CancellationToken::new();
        if self.cancelled {
            cancellation.cancel();
        }
        JobContext {
            id: self.id,
            attempt: self.attempt,
            workspace: self.workspace.into(),
            cancellation,
            data: self.data,
            clock: self.clock,
        }
    }
}

/// Runs `job` once with `ctx`, its arguments first written as JSON and read back, as the
/// runtime stores them: arguments that do not read back fail it for good, as they would.
pub async fn run_inline<J: Job>(job: J, ctx: JobContext) -> Result<(), JobError> {
    let stored = serde_json::to_string(&job)
        .map_err(|error| JobError::fatal(format!("arguments do not encode: {error}")))?;
    let job: J = serde_json::from_str(&stored)
        .map_err(|error| JobError::fatal(format!("arguments do not decode: {error}")))?;
    job.run(ctx).await
}
