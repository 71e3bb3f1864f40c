//! # stoker — persistent background jobs for Rust, on actix
//!
//! Define a [`Job`], build a [`Stoker`] runtime with the job types registered, open a
//! [`Workspace`] (a tenant: its own database, actors and queues) and enqueue. Jobs survive
//! restarts, are retried with backoff when they fail, and run at least once even when a process
//! dies mid-run.
//!
//! Modules depend one way: `bounds`, `state`, `retry` and `schedule` (plain rules) ← `job` (the
//! job model) ← `storage` (the database) ← `runtime` (the actors and the public handles) ← `web`
//! (the HTTP API, on the handles only). `outgoing` (where stoker's own calls may go) stands alone.

pub mod bounds;
pub mod clock;
pub mod job;
pub mod outgoing;
pub mod retry;
pub mod runtime;
pub mod schedule;
pub mod state;
pub mod web;

mod error;
mod name;
mod storage;

pub use bounds::OutOfRange;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, Result};
pub use job::{AppData, Job, JobContext, JobError, JobId, NewJob, Registry};
pub use name::{InvalidName, WorkspaceName};
pub use retry::{Exhausted, RetryPolicy};
pub use runtime::{
    DistributedLock, Enqueued, RecurringOptions, Stoker, StokerBuilder, Workspace, WorkspaceOptions,
};
pub use schedule::{Cron, CronError, CronSchedule, Misfire};
pub use state::{ContinueOn, JobState};
pub use storage::{
    Continuation, Granularity, HistoryEntry, HistoryPoint, JobDetails, JobFilter, JobPage,
    JobSummary, PageStart, QueueStats, RecurringJob, ServerInfo, Stats, StorageConfig,
    StorageError, StoredRetry,
};

/// The queue jobs go to unless their type or their enqueuer says otherwise.
pub const DEFAULT_QUEUE: &str = "default";
