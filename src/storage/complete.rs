//! Completions: the outcomes of finished runs, written many at a time in one transaction.
//!
//! Every move checks that the job is still `processing` under this server's lease: a job that
//! was deleted while it ran, or recovered by another server after its lease ran out, is left
//! as it is. A failed run always passes through `failed` (with the error and attempt as the
//! history row's data) before it goes on to `scheduled` for a retry or `deleted`.

use entities::job;
use sea_orm::sea_query::{Expr, ExprTrait};
use serde_json::json;

use super::moves::{self, Move};
use super::{Storage, StorageResult, counters};
use crate::state::JobState;

/// Ids per statement, well under SQLite's and PostgreSQL's bound-parameter limits.
const IDS_PER_STATEMENT: usize = 1000;

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
    /// Waits as `scheduled` for retry `retry` of `retries`, due `delay_ms` after the failure
    /// is stored (so the wait a person sees between the two is the policy's delay).
    Retry {
        retry: u32,
        retries: u32,
        delay_ms: i64,
    },
    /// No retry: `failed` or `deleted`.
    Exhausted(JobState),
}

/// What the completion batch changed that other actors care about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CompletionReport {
    /// The earliest retry scheduled by the batch.
    pub(crate) earliest_retry: Option<i64>,
    /// Whether jobs went (back) to `enqueued`: interrupted runs, released continuations.
    pub(crate) requeued: bool,
}

/// Counts of jobs that entered a counted state.
#[derive(Default)]
struct Tally {
    succeeded: i64,
    failed: i64,
    deleted: i64,
}

impl Storage {
    /// Stores a batch of outcomes of runs leased to `server`.
    pub(crate) async fn complete(
        &self,
        outcomes: Vec<Completion>,
        server: &str,
        now: i64,
        retention_ms: i64,
    ) -> StorageResult<CompletionReport> {
        let txn = self.write().await?;
        let mut report = CompletionReport::default();
        let mut tally = Tally::default();
        let mut succeeded = Vec::new();
        for outcome in outcomes {
            match outcome {
                Completion::Succeeded { id } => succeeded.push(id),
                Completion::Failed {
                    id,
                    attempt,
                    error,
                    next,
                } => {
                    let failed = Move::to(JobState::Failed)
                        .reason(error.clone())
                        .data(json!({ "error": error, "attempt": attempt }));
                    let running = JobState::Processing;
                    if moves::apply(&txn, &[id], running, Some(server), failed, now)
                        .await?
                        .ids
                        .is_empty()
                    {
                        continue;
                    }
                    let onward = match next {
                        AfterFailed::Retry {
                            retry,
                            retries,
                            delay_ms,
                        } => {
                            let at = now + delay_ms;
                            report.earliest_retry =
                                Some(report.earliest_retry.map_or(at, |t| std::cmp::min(t, at)));
                            Move::to(JobState::Scheduled)
                                .reason(format!("retry {retry} of {retries}"))
                                .set(job::Column::RunAt, at)
                        }
                        AfterFailed::Exhausted(JobState::Deleted) => {
                            tally.deleted += 1;
                            Move::to(JobState::Deleted)
                                .reason(format!("retries exhausted: {error}"))
                                .set(job::Column::ExpireAt, now + retention_ms)
                        }
                        AfterFailed::Exhausted(_) => {
                            tally.failed += 1;
                            continue;
                        }
                    };
                    let moved =
                        moves::apply(&txn, &[id], JobState::Failed, None, onward, now).await?;
                    report.requeued |= moved.released > 0;
                }
                Completion::Interrupted { id, reason } => {
                    let back = Move::to(JobState::Enqueued)
                        .reason(reason)
                        .set(job::Column::Attempt, Expr::col(job::Column::Attempt).sub(1));
                    let running = JobState::Processing;
                    let moved = moves::apply(&txn, &[id], running, Some(server), back, now).await?;
                    report.requeued |= !moved.ids.is_empty();
                }
            }
        }
        for chunk in succeeded.chunks(IDS_PER_STATEMENT) {
            let done = Move::to(JobState::Succeeded).set(job::Column::ExpireAt, now + retention_ms);
            let running = JobState::Processing;
            let moved = moves::apply(&txn, chunk, running, Some(server), done, now).await?;
            tally.succeeded += moved.ids.len() as i64;
            report.requeued |= moved.released > 0;
        }
        counters::add(&txn, JobState::Succeeded, tally.succeeded, now).await?;
        counters::add(&txn, JobState::Failed, tally.failed, now).await?;
        counters::add(&txn, JobState::Deleted, tally.deleted, now).await?;
        txn.commit().await?;
        Ok(report)
    }
}
