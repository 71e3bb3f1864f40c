//! Moves a person asks for: requeue, delete, enqueue now. Each reads the job's state, checks
//! the move is allowed from it, and moves the job only if the state is still the one read.

use entities::job;
use sea_orm::EntityTrait;

use super::moves::{self, Move};
use super::{Storage, StorageError, StorageResult, counters};
use crate::state::JobState;

/// What became of a requested move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transition {
    /// The job moved; it was in `from`. Moving it released `released` continuations.
    Moved { from: JobState, released: usize },
    /// No such job.
    NotFound,
    /// The job's state does not allow the move.
    Refused(JobState),
}

/// A move a person can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Requeue,
    Delete,
    EnqueueNow,
}

impl Action {
    pub(super) fn allowed_from(self, state: JobState) -> bool {
        match self {
            Action::Requeue => state.can_requeue(),
            Action::Delete => state.can_delete(),
            Action::EnqueueNow => state.can_enqueue_now(),
        }
    }

    pub(super) fn target(self) -> JobState {
        match self {
            Action::Requeue | Action::EnqueueNow => JobState::Enqueued,
            Action::Delete => JobState::Deleted,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Action::Requeue => "requeued",
            Action::Delete => "deleted",
            Action::EnqueueNow => "enqueued now",
        }
    }
}

impl Storage {
    /// Applies `action` to job `id`, trying again if the job moved between read and write.
    pub(crate) async fn apply(
        &self,
        id: i64,
        action: Action,
        now: i64,
    ) -> StorageResult<Transition> {
        loop {
            if let Some(transition) = self.try_apply(id, action, now).await? {
                return Ok(transition);
            }
        }
    }

    /// One try of [`Storage::apply`]; `None` when the job's state changed under it.
    async fn try_apply(
        &self,
        id: i64,
        action: Action,
        now: i64,
    ) -> StorageResult<Option<Transition>> {
        let (txn, key) = (self.write().await?, self.key());
        let Some(row) = job::Entity::find_by_id((key.to_owned(), id))
            .one(&txn)
            .await?
        else {
            return Ok(Some(Transition::NotFound));
        };
        let from: JobState = row
            .state
            .parse()
            .map_err(|error| StorageError::Corrupt(format!("job {id}: {error}")))?;
        if !action.allowed_from(from) {
            return Ok(Some(Transition::Refused(from)));
        }
        let to = action.target();
        let change = Move::to(to).reason(action.reason());
        let change = match action {
            // A requeued job gets its whole retry budget again.
            Action::Requeue => {
                let change = change
                    .set(job::Column::Attempt, 0)
                    .set(job::Column::RunAt, Option::<i64>::None);
                // Back from its end, it takes no unique key with it: a newer job may hold it.
                match from {
                    JobState::Failed | JobState::Succeeded | JobState::Deleted => {
                        change.release_unique()
                    }
                    _ => change,
                }
            }
            Action::EnqueueNow => change.set(job::Column::RunAt, Option::<i64>::None),
            Action::Delete => change,
        };
        let jobs = moves::Jobs::of(key, std::slice::from_ref(&id), from);
        let moved = moves::apply(&txn, jobs, change, now, self.retention).await?;
        if moved.ids.is_empty() {
            return Ok(None);
        }
        if to == JobState::Deleted {
            counters::add(&txn, key, JobState::Deleted, 1, now).await?;
        }
        txn.commit().await?;
        Ok(Some(Transition::Moved {
            from,
            released: moved.released,
        }))
    }
}
