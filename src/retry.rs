//! The retry policy: how many times a failed job runs again, after which delays, and where it
//! goes when its retries run out.
//!
//! The default is Hangfire's: 10 retries, retry `n` after `(n-1)^4 + 15 + rand(0..30) * n`
//! seconds (about 15 s for the first, 1.8 hours for the tenth).

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::bounds::MAX_DURATION;
use crate::state::JobState;

/// Retries of a job type, or of one job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// How many retries may follow the first failed run (0: none).
    pub attempts: u32,
    /// The delays before retry 1, 2, ...; the last one repeats. Empty: Hangfire's backoff.
    /// Each is at most [`MAX_DURATION`] (10 years): a job with a longer one is refused when it
    /// is enqueued.
    pub delays: Vec<Duration>,
    /// Where a job goes when it fails with no retries left.
    pub on_exhausted: Exhausted,
}

/// The state of a job whose retries ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exhausted {
    /// `failed`: kept for a person to look at and requeue.
    Fail,
    /// `deleted`: dropped, and expired like a finished job.
    Delete,
}

impl Exhausted {
    /// The job state this means.
    pub fn state(self) -> JobState {
        match self {
            Exhausted::Fail => JobState::Failed,
            Exhausted::Delete => JobState::Deleted,
        }
    }
}

/// The most retries a policy may ask for.
pub(crate) const MAX_ATTEMPTS: u32 = 100;

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 10,
            delays: Vec::new(),
            on_exhausted: Exhausted::Fail,
        }
    }
}

impl RetryPolicy {
    /// No retries: the first failure is final.
    pub fn none() -> Self {
        RetryPolicy::attempts(0)
    }

    /// `attempts` retries with the default backoff.
    pub fn attempts(attempts: u32) -> Self {
        RetryPolicy {
            attempts,
            ..RetryPolicy::default()
        }
    }

    /// Waits these delays between retries (the last repeats).
    pub fn with_delays(mut self, delays: impl IntoIterator<Item = Duration>) -> Self {
        self.delays = delays.into_iter().collect();
        self
    }

    /// Where the job goes when retries run out.
    pub fn on_exhausted(mut self, exhausted: Exhausted) -> Self {
        self.on_exhausted = exhausted;
        self
    }

    /// The wait before retry `retry` (1 for the first retry), at most [`MAX_DURATION`]: a
    /// longer delay, or the backoff of a retry that far down, waits that long instead.
    pub fn delay_before(&self, retry: u32) -> Duration {
        let delay = match self.delays.len() {
            0 => hangfire_backoff(retry, rand::rng().random_range(0..30)),
            len => self.delays[(retry as usize).saturating_sub(1).min(len - 1)],
        };
        delay.min(MAX_DURATION)
    }

    /// What follows a failed run number `attempt` (1 for the first run).
    pub(crate) fn after_failure(&self, attempt: u32, retryable: bool) -> AfterFailure {
        if retryable && attempt <= self.attempts {
            AfterFailure::Retry {
                retry: attempt,
                delay: self.delay_before(attempt),
            }
        } else {
            AfterFailure::Exhausted(self.on_exhausted.state())
        }
    }
}

/// The decision after a failed run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// Run again after `delay`; this is retry number `retry`.
    Retry {
        /// 1 for the first retry.
        retry: u32,
        /// How long to wait.
        delay: Duration,
    },
    /// No retry: the job takes this final-ish state (`failed` or `deleted`).
    Exhausted(JobState),
}

/// Hangfire's delay before retry `retry`, with the random part `jitter` in `0..30`.
fn hangfire_backoff(retry: u32, jitter: u32) -> Duration {
    let n = u64::from(retry.max(1));
    let seconds = (n - 1)
        .saturating_pow(4)
        .saturating_add(15 + u64::from(jitter) * n);
    Duration::from_secs(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_backoff_follows_hangfire() {
        assert_eq!(hangfire_backoff(1, 0), Duration::from_secs(15));
        assert_eq!(hangfire_backoff(2, 29), Duration::from_secs(1 + 15 + 58));
        assert_eq!(hangfire_backoff(10, 0), Duration::from_secs(6561 + 15));
        let first = RetryPolicy::default().delay_before(1);
        assert!((15..45).contains(&first.as_secs()), "{first:?}");
    }

    #[test]
    fn fixed_delays_repeat_the_last() {
        let policy = RetryPolicy::attempts(5).with_delays([1, 7].map(Duration::from_secs));
        let delays: Vec<_> = (1..=4).map(|n| policy.delay_before(n).as_secs()).collect();
        assert_eq!(delays, [1, 7, 7, 7]);
    }

    #[test]
    fn no_delay_is_longer_than_ten_years_however_far_the_retry() {
        let fixed = RetryPolicy::attempts(3).with_delays([Duration::MAX]);
        assert_eq!(fixed.delay_before(1), MAX_DURATION);
        assert_eq!(RetryPolicy::default().delay_before(u32::MAX), MAX_DURATION);
    }

    #[test]
    fn retries_run_out_after_the_allowed_number() {
        let policy = RetryPolicy::attempts(2).with_delays([Duration::ZERO]);
        assert!(matches!(
            policy.after_failure(1, true),
            AfterFailure::Retry { retry: 1, .. }
        ));
        assert!(matches!(
            policy.after_failure(2, true),
            AfterFailure::Retry { retry: 2, .. }
        ));
        assert_eq!(
            policy.after_failure(3, true),
            AfterFailure::Exhausted(JobState::Failed)
        );
    }

    #[test]
    fn a_fatal_error_skips_retries_and_exhaustion_can_delete() {
        let policy = RetryPolicy::default().on_exhausted(Exhausted::Delete);
        assert_eq!(
            policy.after_failure(1, false),
            AfterFailure::Exhausted(JobState::Deleted)
        );
    }
}
