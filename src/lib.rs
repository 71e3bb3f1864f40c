//! # stoker — persistent background jobs for Rust, on actix
//!
//! Define a [`Job`], build a [`Stoker`] runtime with the job types registered, open a
//! [`Workspace`] (a tenant: its own database, actors and queues) and enqueue. Jobs survive
//! restarts, are retried with backoff when they fail, and run at least once even when a process
//! dies mid-run.
//!
//! ## Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `sqlite` | SQLite stores: a file per workspace (the default placement), or one file for all |
//! | `postgres` | PostgreSQL stores: shared tables, a schema or a database per workspace |
//! | `web` | `stoker::web`: the JSON API, the dashboard and the OpenAPI document, for actix-web |
//! | `server` | the `stoker` binary and the built-in job types (`http` calls through rustls) |
//! | `opentelemetry` | runs continue the OpenTelemetry trace of the span that enqueued them (tracing-opentelemetry 0.34) |
//!
//! All but `opentelemetry` are on by default. An application that only runs jobs takes
//! `default-features = false, features = ["sqlite"]` (or `"postgres"`, or both) and compiles no
//! HTTP server, templates or other database driver. At least one backend is needed.
//!
//! Modules depend one way: `bounds`, `state`, `retry` and `schedule` (plain rules) ← `job` (the
//! job model) ← `storage` (the database) ← `runtime` (the actors and the public handles) ← `web`
//! (the HTTP API, on the handles only). `outgoing` (where stoker's own calls may go) stands alone.

pub mod bounds;
mod clock;
mod job;
/// The binary's: where the built-in `http` job type may call. Not the library's API.
#[cfg(feature = "server")]
#[doc(hidden)]
pub mod outgoing;
mod retry;
mod runtime;
mod schedule;
mod state;
pub mod testing;
#[cfg(feature = "web")]
pub mod web;

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!(
    "stoker needs a backend: enable the `sqlite` feature, the `postgres` feature, or both"
);

mod error;
mod name;
mod storage;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, Result, StorageFailure};
pub use job::{
    AppData, Job, JobContext, JobError, JobId, MAX_UNIQUE_KEY_CHARS, Needs, NewJob, Registry,
    Unique, UniqueScope,
};
pub use name::{InvalidName, WorkspaceName};
pub use retry::{Exhausted, RetryPolicy};
pub use runtime::{
    DistributedLock, Enqueued, Event, EventKind, EventStream, RecurringOptions, Stoker,
    StokerBuilder, Transaction, Workspace, WorkspaceOptions,
};
pub use schedule::{
    Cron, CronError, CronSchedule, Misfire, PreviewError, UnknownTimeZone, next_occurrences,
};
pub use state::{ContinueOn, JobState, UnknownState};
pub use storage::{
    Continuation, Granularity, HistoryEntry, HistoryPoint, JobDetails, JobFilter, JobPage,
    JobSummary, PageStart, QueueStats, RecurringJob, ServerInfo, Stats, StorageConfig, StoredRetry,
    StoredUnique,
};

/// The queue jobs go to unless their type or their enqueuer says otherwise.
pub const DEFAULT_QUEUE: &str = "default";

/// The README's Rust snippets, compiled (and run, unless marked `no_run`) by `cargo test --doc`.
#[cfg(all(doctest, feature = "sqlite", feature = "web"))]
#[doc = include_str!("../README.md")]
struct ReadmeSnippets;
