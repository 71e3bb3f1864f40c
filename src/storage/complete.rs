//! Completions: the outcomes of finished runs, written many at a time in one transaction.
//!
//! Every move checks that the job is still `processing` under this server's lease: a job that
//! was deleted while it ran, or recovered by another server after its lease ran out, is left
//! as it is.

use entities::job;
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::json;

use super::history::{self, Entry, ROWS_PER_STATEMENT};
use super::{Storage, StorageResult, counters};
use crate::state::JobState;

/// The outcome of one run, to be stored.
#[derive(Clone, Debug)]
pub(crate) enum Completion {
    /// The run succeeded.
    Succeeded { id: i64 },
    /// The run failed; `next` says where the job goes.
    Failed {
        id: i64,
        attempt: i32,
        error: String,
        next: AfterFailed,
    },
    /// The run was stopped by shutdown: back to its queue, the attempt not counted.
    Interrupted { id: i64, reason: String },
}

/// Where a failed job goes.
#[derive(Clone, Debug)]
pub(crate) enum AfterFailed {
    /// Waits as `scheduled` for retry `retry` of `retries`, due at `at`.
    Retry { retry: u32, retries: u32, at: i64 },
    /// No retry: `failed` or `deleted`.
    Exhausted(JobState),
}

/// What the completion batch changed that other actors care about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CompletionReport {
    /// The earliest retry scheduled by the batch.
    pub(crate) earliest_retry: Option<i64>,
    /// Whether jobs went back to `enqueued`.
    pub(crate) requeued: bool,
}

/// A column and the value a move gives it.
type Assignment = (job::Column, SimpleExpr);

impl Storage {
    /// Stores a batch of outcomes of runs leased to `server`.
    pub(crate) async fn complete(
        &self,
        outcomes: Vec<Completion>,
        server: &str,
        now: i64,
        retention_ms: i64,
    ) -> StorageResult<CompletionReport> {
        let txn = self.writer.begin().await?;
        let mut report = CompletionReport::default();
        let mut entries = Vec::new();
        let mut succeeded = Vec::new();
        let (mut failed, mut deleted) = (0, 0);
        for outcome in outcomes {
            match outcome {
                Completion::Succeeded { id } => succeeded.push(id),
                Completion::Failed {
                    id,
                    attempt,
                    error,
                    next,
                } => {
                    let (state, extra, reason) = after_failure(&next, &error, now, retention_ms);
                    let values = state_values(state, now, Some(reason.clone()), extra);
                    if move_owned(&txn, &[id], server, values).await?.is_empty() {
                        continue;
                    }
                    let data = json!({ "error": error, "attempt": attempt });
                    entries.push(Entry::new(id, JobState::Failed, error).with_data(data));
                    if state != JobState::Failed {
                        entries.push(Entry::new(id, state, reason));
                    }
                    match next {
                        AfterFailed::Retry { at, .. } => {
                            report.earliest_retry =
                                Some(report.earliest_retry.map_or(at, |t| std::cmp::min(t, at)));
                        }
                        AfterFailed::Exhausted(JobState::Deleted) => deleted += 1,
                        AfterFailed::Exhausted(_) => failed += 1,
                    }
                }
                Completion::Interrupted { id, reason } => {
                    let uncount = (job::Column::Attempt, Expr::col(job::Column::Attempt).sub(1));
                    let values =
                        state_values(JobState::Enqueued, now, Some(reason.clone()), vec![uncount]);
                    if !move_owned(&txn, &[id], server, values).await?.is_empty() {
                        entries.push(Entry::new(id, JobState::Enqueued, reason));
                        report.requeued = true;
                    }
                }
            }
        }
        let mut moved = Vec::with_capacity(succeeded.len());
        for chunk in succeeded.chunks(ROWS_PER_STATEMENT) {
            let expiry = (job::Column::ExpireAt, Expr::val(now + retention_ms));
            let values = state_values(JobState::Succeeded, now, None, vec![expiry]);
            moved.extend(move_owned(&txn, chunk, server, values).await?);
        }
        entries.extend(
            moved
                .iter()
                .map(|&id| Entry::new(id, JobState::Succeeded, None)),
        );
        history::append(&txn, entries, now).await?;
        counters::add(&txn, JobState::Succeeded, moved.len() as i64, now).await?;
        counters::add(&txn, JobState::Failed, failed, now).await?;
        counters::add(&txn, JobState::Deleted, deleted, now).await?;
        txn.commit().await?;
        Ok(report)
    }
}

/// The state after a failure, the columns it sets besides the state's, and its reason.
fn after_failure(
    next: &AfterFailed,
    error: &str,
    now: i64,
    retention_ms: i64,
) -> (JobState, Vec<Assignment>, String) {
    match *next {
        AfterFailed::Retry { retry, retries, at } => (
            JobState::Scheduled,
            vec![(job::Column::RunAt, Expr::val(at))],
            format!("retry {retry} of {retries} after: {error}"),
        ),
        AfterFailed::Exhausted(JobState::Deleted) => (
            JobState::Deleted,
            vec![(job::Column::ExpireAt, Expr::val(now + retention_ms))],
            format!("retries exhausted: {error}"),
        ),
        AfterFailed::Exhausted(state) => (state, Vec::new(), error.to_owned()),
    }
}

/// The columns every move into `state` sets, plus `extra`.
pub(super) fn state_values(
    state: JobState,
    now: i64,
    reason: Option<String>,
    mut extra: Vec<Assignment>,
) -> Vec<Assignment> {
    extra.extend([
        (job::Column::State, Expr::val(state.as_str())),
        (job::Column::StateAt, Expr::val(now)),
        (job::Column::Reason, Expr::val(reason)),
        (job::Column::LeaseOwner, Expr::val(Option::<String>::None)),
        (job::Column::LeaseUntil, Expr::val(Option::<i64>::None)),
    ]);
    extra
}

/// Moves those of `ids` that are still `processing` under `server`'s lease; returns their ids.
async fn move_owned(
    db: &impl ConnectionTrait,
    ids: &[i64],
    server: &str,
    values: Vec<Assignment>,
) -> StorageResult<Vec<i64>> {
    let update = Query::update()
        .table(job::Entity)
        .values(values)
        .and_where(Expr::col(job::Column::Id).is_in(ids.iter().copied()))
        .and_where(Expr::col(job::Column::State).eq(JobState::Processing.as_str()))
        .and_where(Expr::col(job::Column::LeaseOwner).eq(server))
        .returning_col(job::Column::Id)
        .to_owned();
    let rows = db.query_all(&update).await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get_by_index::<i64>(0))
        .collect::<Result<_, _>>()?)
}
