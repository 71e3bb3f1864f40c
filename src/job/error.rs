//! [`JobError`]: how a run says it failed, and what should happen next: another attempt per the
//! retry policy, none at all, or a later try that spends no attempt.

use std::error::Error;
use std::fmt;
use std::time::Duration;

/// A run that did not succeed. Any error converts into one with `?` (a `std::error::Error`,
/// `anyhow::Error`, `Box<dyn Error + Send + Sync>`, a `String`) and is retried per the retry
/// policy; its message keeps the error's chain of sources (`loading invoice 7: connection
/// refused`). [`JobError::fatal`] fails the job at once, whatever retries are left;
/// [`JobError::snooze`] runs it again later without spending an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    message: String,
    next: Next,
}

/// What a failed run asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Retry,
    Fatal,
    Snooze(Duration),
}

impl JobError {
    /// A failure that another attempt may fix (the default for `?`).
    pub fn retry(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            next: Next::Retry,
        }
    }

    /// A failure no retry can fix: the job goes straight to its exhausted state.
    pub fn fatal(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            next: Next::Fatal,
        }
    }

    /// Not now: the job waits `delay` as `scheduled` and runs again, and this run does not
    /// count as an attempt (a rate-limited API, a resource not ready yet).
    pub fn snooze(delay: Duration) -> Self {
        JobError {
            message: format!("snoozed for {}", readable(delay)),
            next: Next::Snooze(delay),
        }
    }

    /// This failure, made one no retry can fix: `Err(JobError::from(error).into_fatal())`
    /// keeps `error`'s chain in the message.
    pub fn into_fatal(self) -> Self {
        JobError {
            next: Next::Fatal,
            ..self
        }
    }

    /// What went wrong, as stored in the job's history.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the retry policy applies.
    pub fn is_retryable(&self) -> bool {
        self.next == Next::Retry
    }

    /// How long the job asked to wait, if it snoozed.
    pub fn snoozed_for(&self) -> Option<Duration> {
        match self.next {
            Next::Snooze(delay) => Some(delay),
            Next::Retry | Next::Fatal => None,
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// `JobError` deliberately does not implement `std::error::Error`, so that everything that
/// converts into a boxed error converts into it with `?`, as into `anyhow::Error`.
impl<E: Into<Box<dyn Error + Send + Sync + 'static>>> From<E> for JobError {
    fn from(error: E) -> Self {
        JobError::retry(chain(&*error.into()))
    }
}

/// `error`'s text followed by each of its sources' that it does not already say.
fn chain(error: &(dyn Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// A delay as people write it: whole seconds when it is some, milliseconds below one.
fn readable(delay: Duration) -> String {
    match delay.as_secs() {
        0 => format!("{} ms", delay.as_millis()),
        secs => format!("{secs} s"),
    }
}

#[cfg(test)]
mod tests {
    use anyhow::Context as _;

    use super::*;

    fn missing_file() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")
    }

    #[test]
    fn anyhow_errors_convert_with_question_mark_and_keep_their_context_chain() {
        fn run() -> Result<(), JobError> {
            Err(missing_file()).context("loading invoice 7")?;
            Ok(())
        }
        let error = run().unwrap_err();
        assert_eq!(error.message(), "loading invoice 7: no such file");
        assert!(error.is_retryable());
    }

    #[test]
    fn boxed_errors_strings_and_std_errors_convert_too() {
        let boxed: Box<dyn Error + Send + Sync> = Box::new(missing_file());
        assert_eq!(JobError::from(boxed).message(), "no such file");
        assert_eq!(JobError::from("plain text").message(), "plain text");
        assert_eq!(JobError::from(missing_file()).message(), "no such file");
    }

    #[test]
    fn a_source_the_outer_error_already_says_is_not_repeated() {
        #[derive(Debug)]
        struct Loading(std::io::Error);
        impl fmt::Display for Loading {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "loading: {}", self.0)
            }
        }
        impl Error for Loading {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        assert_eq!(
            JobError::from(Loading(missing_file())).message(),
            "loading: no such file"
        );
    }

    #[test]
    fn fatal_and_snooze_say_what_comes_next() {
        let fatal = JobError::from(missing_file()).into_fatal();
        assert!(!fatal.is_retryable());
        assert_eq!(fatal.message(), "no such file");
        let snoozed = JobError::snooze(Duration::from_secs(90));
        assert_eq!(snoozed.snoozed_for(), Some(Duration::from_secs(90)));
        assert!(!snoozed.is_retryable());
        assert_eq!(snoozed.message(), "snoozed for 90 s");
        assert_eq!(JobError::retry("x").snoozed_for(), None);
    }
}
