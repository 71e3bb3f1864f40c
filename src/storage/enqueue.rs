//! Creating jobs: many rows per statement, all of a batch in one transaction; the database
//! appends their first history rows. Only the columns that vary are bound; the rest take
//! their defaults (no attempt yet, no lease, no reason).

use entities::job;
use sea_orm::sea_query::{Query, SimpleExpr};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{Storage, StorageResult};
use crate::state::JobState;

/// Rows per `INSERT`, well under SQLite's and PostgreSQL's bound-parameter limits.
const ROWS_PER_STATEMENT: usize = 1000;

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

/// The columns an enqueue sets, in the order of [`NewJobRow::values`].
const COLUMNS: [job::Column; 10] = [
    job::Column::JobType,
    job::Column::Queue,
    job::Column::State,
    job::Column::Args,
    job::Column::MaxRetries,
    job::Column::RetryDelays,
    job::Column::OnExhausted,
    job::Column::RunAt,
    job::Column::CreatedAt,
    job::Column::StateAt,
];

impl NewJobRow {
    fn state(&self) -> JobState {
        match self.run_at {
            Some(_) => JobState::Scheduled,
            None => JobState::Enqueued,
        }
    }

    fn values(self, now: i64) -> [SimpleExpr; 10] {
        let state = self.state().as_str();
        [
            self.job_type.into(),
            self.queue.into(),
            state.into(),
            self.args.into(),
            self.max_retries.into(),
            self.retry_delays.into(),
            self.on_exhausted.as_str().into(),
            self.run_at.into(),
            now.into(),
            now.into(),
        ]
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
            let mut insert = Query::insert();
            insert.into_table(job::Entity).columns(COLUMNS);
            for row in chunk {
                insert.values_panic(row.values(now));
            }
            insert.returning_col(job::Column::Id);
            let rows = txn.query_all(&insert).await?;
            let mut ids = rows
                .iter()
                .map(|row| row.try_get_by_index::<i64>(0))
                .collect::<Result<Vec<_>, _>>()?;
            // One statement assigns ascending ids in the order of its rows.
            ids.sort_unstable();
            created.extend(ids.into_iter().zip(states));
        }
        txn.commit().await?;
        Ok(created)
    }
}
