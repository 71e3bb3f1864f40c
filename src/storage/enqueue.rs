//! Creating jobs: many rows per statement, all of a batch in one transaction; the database
//! appends their first history rows.

use entities::job;
use sea_orm::{ActiveValue::Set, EntityTrait, NotSet, TransactionTrait};

use super::{Storage, StorageResult};

/// Rows per `INSERT`, well under SQLite's and PostgreSQL's bound-parameter limits.
const ROWS_PER_STATEMENT: usize = 1000;
use crate::state::JobState;

/// A checked job, ready to be stored.
#[derive(Clone, Debug)]
pub(crate) struct NewJobRow {
    pub(crate) job_type: String,
    pub(crate) queue: String,
    pub(crate) args: String,
    pub(crate) max_retries: i32,
    pub(crate) retry_delays: Option<String>,
    pub(crate) on_exhausted: JobState,
    /// `Some` for a job that waits until then (`scheduled`).
    pub(crate) run_at: Option<i64>,
}

impl NewJobRow {
    fn state(&self) -> JobState {
        match self.run_at {
            Some(_) => JobState::Scheduled,
            None => JobState::Enqueued,
        }
    }

    fn into_active_model(self, now: i64) -> job::ActiveModel {
        job::ActiveModel {
            id: NotSet,
            state: Set(self.state().as_str().to_owned()),
            job_type: Set(self.job_type),
            queue: Set(self.queue),
            args: Set(self.args),
            attempt: Set(0),
            max_retries: Set(self.max_retries),
            retry_delays: Set(self.retry_delays),
            on_exhausted: Set(self.on_exhausted.as_str().to_owned()),
            run_at: Set(self.run_at),
            created_at: Set(now),
            state_at: Set(now),
            reason: Set(None),
            data: Set(None),
            lease_owner: Set(None),
            lease_until: Set(None),
            expire_at: Set(None),
        }
    }
}

impl Storage {
    /// Stores `jobs` in one transaction and returns their ids and states, in order.
    pub(crate) async fn insert_jobs(
        &self,
        jobs: Vec<NewJobRow>,
        now: i64,
    ) -> StorageResult<Vec<(i64, JobState)>> {
        let txn = self.writer.begin().await?;
        let mut created = Vec::with_capacity(jobs.len());
        let mut jobs = jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            let chunk: Vec<NewJobRow> = jobs.by_ref().take(ROWS_PER_STATEMENT).collect();
            let states: Vec<JobState> = chunk.iter().map(NewJobRow::state).collect();
            let models = chunk.into_iter().map(|row| row.into_active_model(now));
            let mut ids: Vec<i64> = job::Entity::insert_many(models)
                .exec_with_returning_keys(&txn)
                .await?;
            // One statement assigns ascending ids in the order of its rows.
            ids.sort_unstable();
            created.extend(ids.into_iter().zip(states));
        }
        txn.commit().await?;
        Ok(created)
    }
}
