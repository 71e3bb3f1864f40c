//! The job model: what a job is ([`Job`]), what it sees while it runs ([`JobContext`]), how it
//! says it failed ([`JobError`]), and the [`Registry`] that turns a stored type name and JSON
//! arguments back into a running job.

mod context;
mod error;
mod needs;
mod new_job;
mod registry;
mod unique;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use context::{AppData, JobContext};
pub use error::JobError;
pub use needs::Needs;
pub use new_job::NewJob;
pub(crate) use new_job::{Args, Start};
pub use registry::Registry;
pub(crate) use unique::key_of_args;
pub use unique::{MAX_UNIQUE_KEY_CHARS, Unique, UniqueScope};

use crate::retry::RetryPolicy;

/// A kind of background job: its arguments are the value itself, stored as JSON.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use stoker::{Job, JobContext, JobError};
///
/// #[derive(Serialize, Deserialize)]
/// struct SendInvoice {
///     invoice_id: u64,
/// }
///
/// impl Job for SendInvoice {
///     const NAME: &'static str = "send_invoice";
///
///     async fn run(self, ctx: JobContext) -> Result<(), JobError> {
///         println!("invoice {} (attempt {})", self.invoice_id, ctx.attempt());
///         Ok(())
///     }
/// }
/// ```
///
/// The future need not be `Send`: a job runs to its end on the worker thread that started it.
pub trait Job: Serialize + DeserializeOwned + 'static {
    /// The stable name stored with each job; renaming it orphans stored jobs of the old name.
    const NAME: &'static str;

    /// The queue jobs of this type go to unless the enqueuer says otherwise.
    fn queue() -> &'static str {
        crate::DEFAULT_QUEUE
    }

    /// Where jobs of this type start within their queue unless the enqueuer says otherwise:
    /// 0 (first, the default) to 9 (last).
    fn priority() -> u8 {
        0
    }

    /// Whether a new job of this value is a duplicate of one that holds the same key (see
    /// [`Unique`]); `None`, the default, enqueues every job. It applies to jobs of the type
    /// named at run time too (over HTTP, by recurring jobs), unless the enqueuer gives a
    /// [`Unique`] of its own.
    fn unique(&self) -> Option<Unique> {
        None
    }

    /// What happens when a run fails; Hangfire's default unless overridden.
    fn retry_policy() -> RetryPolicy {
        RetryPolicy::default()
    }

    /// How long one run may take before it is cancelled and counted as a failed attempt.
    fn timeout() -> Option<Duration> {
        None
    }

    /// The application data its runs look up ([`JobContext::needed`]): a runtime built without
    /// one of them is refused ([`Error::InvalidConfig`](crate::Error::InvalidConfig)). See
    /// [`Needs`] for an example.
    fn needs(_needs: &mut Needs) {}

    /// Does the work. `Err` is a failed attempt; see [`JobError`] for retrying or not.
    fn run(self, ctx: JobContext) -> impl Future<Output = Result<(), JobError>>;
}

/// A job's identity within its workspace: assigned at enqueue, never reused.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(into = "String", try_from = "String")]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.to_string()
    }
}

impl TryFrom<String> for JobId {
    type Error = std::num::ParseIntError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse().map(JobId)
    }
}

impl std::str::FromStr for JobId {
    type Err = std::num::ParseIntError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse().map(JobId)
    }
}
