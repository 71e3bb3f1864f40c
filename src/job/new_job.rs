//! [`NewJob`]: a job to enqueue, with its options, before it is checked and stored.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Job, JobId, Unique};
use crate::retry::RetryPolicy;
use crate::state::ContinueOn;

/// A job to enqueue: its type, arguments and options.
///
/// Typed jobs come from [`NewJob::of`]; jobs named at run time (over HTTP, say) from
/// [`NewJob::new`]. Everything is checked when it is enqueued, not here.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub(crate) job_type: String,
    pub(crate) args: Args,
    pub(crate) queue: Option<String>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) start: Start,
    pub(crate) after: Option<(JobId, ContinueOn)>,
    pub(crate) priority: Option<u8>,
    pub(crate) unique: Option<Unique>,
}

/// A new job's arguments.
#[derive(Clone, Debug)]
pub(crate) enum Args {
    /// Serialized from a value of the job type: valid by construction.
    Typed(String),
    /// Given as JSON: to be checked against the job type.
    Json(serde_json::Value),
    /// The typed value could not be serialized; says why.
    Unserializable(String),
}

/// When a new job may first run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    Now,
    After(Duration),
    At(DateTime<Utc>),
}

impl NewJob {
    /// A job of the type named `job_type` with JSON arguments.
    pub fn new(job_type: impl Into<String>, args: serde_json::Value) -> Self {
        NewJob {
            job_type: job_type.into(),
            args: Args::Json(args),
            queue: None,
            retry: None,
            start: Start::Now,
            after: None,
            priority: None,
            unique: None,
        }
    }

    /// A typed job.
    pub fn of<J: Job>(job: &J) -> Self {
        NewJob {
            args: match serde_json::to_string(job) {
                Ok(json) => Args::Typed(json),
                Err(error) => Args::Unserializable(error.to_string()),
            },
            unique: job.unique(),
            ..NewJob::new(J::NAME, serde_json::Value::Null)
        }
    }

    /// Puts the job in `queue` instead of its type's queue.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Uses `policy` instead of its type's retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Runs the job no sooner than `delay` from when it is enqueued (state `scheduled`). A delay
    /// over 10 years ([`MAX_DURATION`](crate::bounds::MAX_DURATION)) is refused when the job is
    /// enqueued ([`Error::OutOfRange`](crate::Error::OutOfRange)).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.start = Start::After(delay);
        self
    }

    /// Runs the job no sooner than `at` (state `scheduled` while `at` is ahead). A time outside
    /// the years 1970-9999 is refused when the job is enqueued
    /// ([`Error::OutOfRange`](crate::Error::OutOfRange)).
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.start = Start::At(at);
        self
    }

    /// Makes the job a continuation of `parent`: it waits (`awaiting`) until the parent meets
    /// `on`, and is deleted if the parent ends in a way that can no longer meet it.
    pub fn after(mut self, parent: JobId, on: ContinueOn) -> Self {
        self.after = Some((parent, on));
        self
    }

    /// Starts the job before those of its queue with a higher number: 0 (first) to 9 (last),
    /// instead of its type's priority. Equal priorities start in enqueue order. Over 9 is
    /// refused when the job is enqueued ([`Error::InvalidOptions`](crate::Error::InvalidOptions)).
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Makes the job unique (see [`Unique`]), instead of what its type says: a duplicate is not
    /// stored, and its enqueue answers with the job that holds the key.
    pub fn unique(mut self, unique: Unique) -> Self {
        self.unique = Some(unique);
        self
    }

    /// The job type's name.
    pub fn job_type(&self) -> &str {
        &self.job_type
    }
}

impl<J: Job> From<&J> for NewJob {
    fn from(job: &J) -> Self {
        NewJob::of(job)
    }
}
