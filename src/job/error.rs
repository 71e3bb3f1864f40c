//! [`JobError`]: how a run says it failed, and whether another attempt could help.

use std::fmt;

/// A failed run. Any error converts into one with `?` and is retried per the retry policy;
/// [`JobError::fatal`] fails the job at once, whatever retries are left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    message: String,
    retryable: bool,
}

impl JobError {
    /// A failure that another attempt may fix (the default for `?`).
    pub fn retry(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure no retry can fix: the job goes straight to its exhausted state.
    pub fn fatal(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: false,
        }
    }

    /// What went wrong, as stored in the job's history.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the retry policy applies.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// `JobError` deliberately does not implement `std::error::Error`, so that every error type
/// converts into it with `?`, as `anyhow::Error` does.
impl<E: std::error::Error> From<E> for JobError {
    fn from(error: E) -> Self {
        JobError::retry(error.to_string())
    }
}
