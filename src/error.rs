//! [`Error`]: what the public API answers when it refuses or cannot do something.

use crate::bounds::OutOfRange;
use crate::job::JobId;
use crate::name::InvalidName;
use crate::schedule::{CronError, PreviewError, UnknownTimeZone};
use crate::state::JobState;
use crate::storage::StorageError;

/// Why a call to stoker did not do what was asked. Nothing was changed unless it says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No job type of this name is registered.
    #[error("unknown job type `{0}`")]
    UnknownJobType(String),
    /// The arguments do not decode into the job type's arguments.
    #[error("arguments for `{job_type}` do not decode: {reason}")]
    InvalidArgs {
        /// The job type.
        job_type: String,
        /// What serde said.
        reason: String,
    },
    /// A workspace or queue name breaks its rule.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    /// A retry policy asks for more than stoker allows.
    #[error("invalid retry policy: {0}")]
    InvalidRetry(String),
    /// A number or time outside the range stoker accepts (a delay over 10 years, a time
    /// after 9999, ...).
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
    /// Options that cannot go together (a continuation with a delay, say).
    #[error("invalid job options: {0}")]
    InvalidOptions(String),
    /// A cron expression is wrong; the message names the bad field.
    #[error(transparent)]
    InvalidCron(#[from] CronError),
    /// A time zone name is not an IANA name.
    #[error(transparent)]
    UnknownTimeZone(#[from] UnknownTimeZone),
    /// No such recurring job in the workspace.
    #[error("recurring job `{0}` not found")]
    RecurringNotFound(String),
    /// The runtime's configuration cannot work.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// No such job in the workspace.
    #[error("job {0} not found")]
    JobNotFound(JobId),
    /// The workspace is not open on this server.
    #[error("workspace `{0}` not found")]
    WorkspaceNotFound(String),
    /// A workspace of that name exists already.
    #[error("workspace `{0}` exists already")]
    WorkspaceExists(String),
    /// The job's state forbids the action.
    #[error("job {id} is {state}: it cannot be {action}")]
    Conflict {
        /// The job.
        id: JobId,
        /// Its state.
        state: JobState,
        /// What was asked, as a past participle ("requeued").
        action: &'static str,
    },
    /// The workspace's storage failed or cannot be reached; details are logged.
    #[error(transparent)]
    Storage(StorageFailure),
    /// The runtime is shutting down and takes no new work.
    #[error("stoker is shutting down")]
    ShuttingDown,
}

/// A preview's failure is the error of the input it names.
impl From<PreviewError> for Error {
    fn from(error: PreviewError) -> Self {
        match error {
            PreviewError::Cron(error) => Error::InvalidCron(error),
            PreviewError::TimeZone(error) => Error::UnknownTimeZone(error),
            PreviewError::OutOfRange(error) => Error::OutOfRange(error),
        }
    }
}

impl From<StorageError> for Error {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::MissingParent(id) => Error::JobNotFound(JobId(id)),
            StorageError::Name(invalid) => Error::InvalidName(invalid),
            StorageError::Config(reason) => Error::InvalidConfig(reason),
            error => Error::Storage(StorageFailure(error)),
        }
    }
}

/// Why the workspace's storage failed: its message, and through
/// [`source`](std::error::Error::source) the chain of causes (the database's own error among
/// them). Opaque, so that the database driver's types are no part of stoker's API.
#[derive(Debug)]
pub struct StorageFailure(StorageError);

impl std::fmt::Display for StorageFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StorageFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// `Result` with stoker's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
