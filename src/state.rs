//! The job state machine: the states a job can be in and the moves between them.
//!
//! ```text
//!              ┌──────────── requeue ─────────────┐
//!              v                                  │
//! enqueue ─> enqueued ──claim──> processing ──> succeeded ──expiry──> (removed)
//!              ^                  │   │
//!              │  retry due       │   └── failed, retries left ──> scheduled ──┐
//!              └──────────────────┼───────────────────────────────────────────┘
//!                                 └── failed, none left ──> failed | deleted
//! ```
//!
//! Any state but `deleted` can be deleted; `awaiting` and `scheduled` can be enqueued at once.
//! Storage checks the state it expects in every transition, so a job moves once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting in its queue for a worker.
    Enqueued,
    /// Waiting for its time: delayed, or a failed job waiting for its retry.
    Scheduled,
    /// Claimed by a server and running.
    Processing,
    /// Ran to the end. Final.
    Succeeded,
    /// Failed with no retries left; stays until requeued or deleted.
    Failed,
    /// Deleted by a person or by its retry policy. Final.
    Deleted,
    /// A continuation waiting for its parent.
    Awaiting,
}

impl JobState {
    /// Every state, in the order people read them.
    pub const ALL: [JobState; 7] = [
        JobState::Enqueued,
        JobState::Scheduled,
        JobState::Processing,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Deleted,
        JobState::Awaiting,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Enqueued => "enqueued",
            JobState::Scheduled => "scheduled",
            JobState::Processing => "processing",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Deleted => "deleted",
            JobState::Awaiting => "awaiting",
        }
    }

    /// Final states expire and never move again on their own.
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Deleted)
    }

    /// Whether a person may put a job in this state back in its queue.
    pub fn can_requeue(self) -> bool {
        !matches!(self, JobState::Enqueued | JobState::Processing)
    }

    /// Whether a person may delete a job in this state.
    pub fn can_delete(self) -> bool {
        self != JobState::Deleted
    }

    /// Whether "enqueue now" applies: the job is waiting for a time or a parent.
    pub fn can_enqueue_now(self) -> bool {
        matches!(self, JobState::Scheduled | JobState::Awaiting)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a continuation waits for its parent to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ContinueOn {
    /// The parent succeeded.
    #[default]
    Succeeded,
    /// The parent reached any final state (succeeded or deleted).
    Finished,
    /// The parent was deleted.
    Deleted,
}

impl ContinueOn {
    /// Every condition.
    pub const ALL: [ContinueOn; 3] = [
        ContinueOn::Succeeded,
        ContinueOn::Finished,
        ContinueOn::Deleted,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ContinueOn::Succeeded => "succeeded",
            ContinueOn::Finished => "finished",
            ContinueOn::Deleted => "deleted",
        }
    }

    /// The conditions a parent entering final state `state` meets.
    pub fn met_by(state: JobState) -> &'static [ContinueOn] {
        match state {
            JobState::Succeeded => &[ContinueOn::Succeeded, ContinueOn::Finished],
            JobState::Deleted => &[ContinueOn::Deleted, ContinueOn::Finished],
            _ => &[],
        }
    }
}

impl FromStr for ContinueOn {
    type Err = UnknownState;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ContinueOn::ALL
            .into_iter()
            .find(|on| on.as_str() == name)
            .ok_or_else(|| UnknownState(name.to_owned()))
    }
}

/// A state name that is not one of [`JobState::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job state `{0}`")]
pub struct UnknownState(pub String);

impl FromStr for JobState {
    type Err = UnknownState;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
            .ok_or_else(|| UnknownState(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(state));
        }
        assert!("running".parse::<JobState>().is_err());
    }

    #[test]
    fn a_final_parent_meets_the_conditions_that_name_it() {
        assert_eq!(
            ContinueOn::met_by(JobState::Succeeded),
            [ContinueOn::Succeeded, ContinueOn::Finished]
        );
        assert_eq!(
            ContinueOn::met_by(JobState::Deleted),
            [ContinueOn::Deleted, ContinueOn::Finished]
        );
        assert!(ContinueOn::met_by(JobState::Failed).is_empty());
    }

    #[test]
    fn only_succeeded_and_deleted_are_final() {
        let finals: Vec<_> = JobState::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [JobState::Succeeded, JobState::Deleted]);
    }

    #[test]
    fn a_running_job_cannot_be_requeued_but_can_be_deleted() {
        assert!(!JobState::Processing.can_requeue());
        assert!(JobState::Processing.can_delete());
        assert!(JobState::Failed.can_requeue());
        assert!(!JobState::Deleted.can_delete());
    }
}
