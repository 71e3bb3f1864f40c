//! Completions: the outcomes of finished runs, written many at a time in one transaction.
//!
//! Every move checks that the job is still `processing` under this server's lease: a job that
//! was deleted while it ran, or recovered by another server after its lease ran out, is left
//! as it is. A failed run always passes through `failed` (with the error and attempt as the
//! history row's data) before it goes on to `scheduled` for a retry or `deleted`.

use entities::job;
use sea_orm::sea_query::{Expr, ExprTrait};
use serde_json::json;

use super::moves::{self, Jobs, Move};
use super::{Storage, StorageResult, counters, text};
use crate::state::JobState;

/// Ids per statement, well under SQLite's and PostgreSQL's bound-parameter limits.
const IDS_PER_STATEMENT: usize = 1000;

/// The outcome of one run, to be stored.
#[derive(Clone, Debug)]
pub(crate) enum Completion {
    /// Attempt `attempt` succeeded.
    Succeeded { id: i64, attempt: i32 },
    /// The run failed; `next` says where the job goes.
    Failed {
        id: i64,
        attempt: i32,
        error: String,
        next: AfterFailed,
    },
    /// The run was stopped by shutdown: back to its queue, the attempt not counted.
    Interrupted { id: i64, reason: String },
    /// The run asked to try again `delay_ms` from now: `scheduled`, the attempt not counted.
    Snoozed {
        id: i64,
        delay_ms: i64,
        reason: String,
    },
}

impl Completion {
    /// The job whose run this is the outcome of.
    pub(crate) fn id(&self) -> i64 {
        match self {
            Completion::Succeeded { id, .. }
            | Completion::Failed { id, .. }
            | Completion::Interrupted { id, .. }
            | Completion::Snoozed { id, .. } => *id,
        }
    }

    /// What to store instead when the database refused to store this outcome (`refusal` says
    /// why): a failed attempt whose reason says so and carries none of the run's own text.
    /// A failed run keeps its way onward (a retry, say); a run that succeeded ends `failed`,
    /// for a person to look at, since running it again might do its work twice. `None` for an
    /// interrupted or snoozed run: its reason is stoker's own, and the job's lease brings it
    /// back.
    pub(crate) fn without_foreign_text(&self, refusal: &str) -> Option<Completion> {
        let (id, attempt, error, next) = match self {
            Completion::Failed {
                id, attempt, next, ..
            } => (*id, *attempt, "the run failed", next.clone()),
            Completion::Succeeded { id, attempt } => (
                *id,
                *attempt,
                "the run succeeded",
                AfterFailed::Exhausted(JobState::Failed),
            ),
            Completion::Interrupted { .. } | Completion::Snoozed { .. } => return None,
        };
        let error = format!("{error}, but the database refused to store its outcome: {refusal}");
        Some(Completion::Failed {
            id,
            attempt,
            error,
            next,
        })
    }
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
    /// The jobs whose outcome was stored, ascending (the others had left `processing` under
    /// this server's lease: deleted, or recovered by another server).
    pub(crate) stored: Vec<i64>,
}

impl CompletionReport {
    /// Notes a job scheduled to run again at `at`.
    fn note_retry(&mut self, at: i64) {
        self.earliest_retry = Some(self.earliest_retry.map_or(at, |t| std::cmp::min(t, at)));
    }
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
    ) -> StorageResult<CompletionReport> {
        let (key, retention) = (self.key(), self.retention);
        let txn = self.write().await?;
        let mut report = CompletionReport::default();
        let mut tally = Tally::default();
        let mut succeeded = Vec::new();
        for outcome in outcomes {
            match outcome {
                Completion::Succeeded { id, .. } => succeeded.push(id),
                Completion::Failed {
                    id,
                    attempt,
                    error,
                    next,
                } => {
                    let error = text::storable(&error).into_owned();
                    let failed = Move::to(JobState::Failed)
                        .reason(error.clone())
                        .data(json!({ "error": error, "attempt": attempt }));
                    let running = Jobs::run_by(key, std::slice::from_ref(&id), server);
                    if moves::apply(&txn, running, failed, now, retention)
                        .await?
                        .ids
                        .is_empty()
                    {
                        continue;
                    }
                    report.stored.push(id);
                    let onward = match next {
                        AfterFailed::Retry {
                            retry,
                            retries,
                            delay_ms,
                        } => {
                            let at = now.saturating_add(delay_ms);
                            report.note_retry(at);
                            Move::to(JobState::Scheduled)
                                .reason(format!("retry {retry} of {retries}"))
                                .set(job::Column::RunAt, at)
                        }
                        AfterFailed::Exhausted(JobState::Deleted) => {
                            tally.deleted += 1;
                            Move::to(JobState::Deleted)
                                .reason(format!("retries exhausted: {error}"))
                        }
                        AfterFailed::Exhausted(_) => {
                            tally.failed += 1;
                            continue;
                        }
                    };
                    let failed = Jobs::of(key, std::slice::from_ref(&id), JobState::Failed);
                    let moved = moves::apply(&txn, failed, onward, now, retention).await?;
                    report.requeued |= moved.released > 0;
                }
                Completion::Interrupted { id, reason } => {
                    let back = Move::to(JobState::Enqueued)
                        .reason(reason)
                        .set(job::Column::Attempt, Expr::col(job::Column::Attempt).sub(1));
                    let running = Jobs::run_by(key, std::slice::from_ref(&id), server);
                    let moved = moves::apply(&txn, running, back, now, retention).await?;
                    report.requeued |= !moved.ids.is_empty();
                }
                Completion::Snoozed {
                    id,
                    delay_ms,
                    reason,
                } => {
                    let at = now.saturating_add(delay_ms);
                    let later = Move::to(JobState::Scheduled)
                        .reason(reason)
                        .set(job::Column::RunAt, at)
                        .set(job::Column::Attempt, Expr::col(job::Column::Attempt).sub(1));
                    let running = Jobs::run_by(key, std::slice::from_ref(&id), server);
                    let moved = moves::apply(&txn, running, later, now, retention).await?;
                    if !moved.ids.is_empty() {
                        report.note_retry(at);
                        report.stored.push(id);
                    }
                }
            }
        }
        for chunk in succeeded.chunks(IDS_PER_STATEMENT) {
            let done = Move::to(JobState::Succeeded);
            let running = Jobs::run_by(key, chunk, server);
            let moved = moves::apply(&txn, running, done, now, retention).await?;
            tally.succeeded += moved.ids.len() as i64;
            report.requeued |= moved.released > 0;
            report.stored.extend(moved.ids);
        }
        report.stored.sort_unstable();
        counters::add(&txn, key, JobState::Succeeded, tally.succeeded, now).await?;
        counters::add(&txn, key, JobState::Failed, tally.failed, now).await?;
        counters::add(&txn, key, JobState::Deleted, tally.deleted, now).await?;
        txn.commit().await?;
        Ok(report)
    }
}
