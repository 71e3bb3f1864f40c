//! When work falls due, in one workspace or across a shared store (see [`Scope`]): the
//! Scheduler's question (the next scheduled job and the next occurrence), promotion of due
//! scheduled jobs, and the instant a released workspace of its own store must be open again.

use std::collections::BTreeSet;

use entities::{job, recurring_job};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement, UnionType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
};

use super::history;
use super::moves::Move;
use super::recurring::{self, Fired, Planner};
use super::{Scope, Storage, StorageResult, states};
use crate::state::JobState;

/// When the Scheduler has something to do (Unix ms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Due {
    /// The earliest `scheduled` job (retries included) falls due.
    pub(crate) jobs: Option<i64>,
    /// The earliest unpaused recurring job fires.
    pub(crate) occurrences: Option<i64>,
}

/// What one round of the Scheduler did.
#[derive(Debug, Default)]
pub(crate) struct CaughtUp {
    /// The keys of the workspaces whose jobs became enqueued.
    pub(crate) woken: BTreeSet<String>,
    /// The jobs recurring jobs created.
    pub(crate) fired: Vec<Fired>,
    /// What is due next.
    pub(crate) next: Due,
}

impl Due {
    /// The earlier of the two.
    pub(crate) fn earliest(self) -> Option<i64> {
        self.jobs.into_iter().chain(self.occurrences).min()
    }
}

impl Due {
    /// Whether scheduled jobs are due at `now`.
    fn jobs_due(self, now: i64) -> bool {
        self.jobs.is_some_and(|at| at <= now)
    }

    /// Whether recurring jobs fire at `now`.
    fn occurrences_due(self, now: i64) -> bool {
        self.occurrences.is_some_and(|at| at <= now)
    }

    /// Whether anything is due at `now`.
    pub(crate) fn any_due(self, now: i64) -> bool {
        self.jobs_due(now) || self.occurrences_due(now)
    }
}

impl Storage {
    /// What the Scheduler has to do next among the rows of [`Storage::scope`], in one
    /// statement.
    pub(crate) async fn due(&self) -> StorageResult<Due> {
        self.reading_on_writer(async |db| due(db, self.scope()).await)
            .await
    }

    /// Does what `due` says is due at `now` — promotes due scheduled jobs, fires due recurring
    /// jobs as `plan` says — and tells what is due next, in one transaction.
    pub(crate) async fn catch_up(
        &self,
        due_before: Due,
        now: i64,
        plan: Planner<'_>,
    ) -> StorageResult<CaughtUp> {
        let (txn, scope) = (self.write().await?, self.scope());
        let mut done = CaughtUp::default();
        if due_before.jobs_due(now) {
            done.woken.extend(promote(&txn, scope, now).await?);
        }
        if due_before.occurrences_due(now) {
            let retention_of = |key: &str| self.retention_for(key);
            done.fired = recurring::fire_due(&txn, scope, now, plan, &retention_of).await?;
            done.woken
                .extend(done.fired.iter().map(|fired| fired.key.clone()));
        }
        done.next = due(&txn, scope).await?;
        txn.commit().await?;
        Ok(done)
    }

    /// Whether the workspace has work at `now`: a recurring job due to fire, or a job enqueued,
    /// running, or scheduled and due. The jobs are read in one statement (a job on its way
    /// between two of those states is seen in one), after the recurring jobs: a firing creates
    /// its job in the transaction that moves the occurrence on, so one that fires between the
    /// two reads is seen in the second.
    pub(crate) async fn has_work_at(&self, now: i64) -> StorageResult<bool> {
        let firing = recurring_job::Entity::find()
            .select_only()
            .column(recurring_job::Column::Id)
            .filter(recurring_job::Column::Workspace.eq(self.key()))
            .filter(states::unpaused())
            .filter(recurring_job::Column::NextExecution.lte(now))
            .into_tuple::<String>();
        if self
            .reading(async |db| firing.one(db).await)
            .await?
            .is_some()
        {
            return Ok(true);
        }
        let due = states::is(JobState::Scheduled).and(Expr::col(job::Column::RunAt).lte(now));
        let working = states::is(JobState::Enqueued)
            .or(states::is(JobState::Processing))
            .or(due);
        let find = job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .filter(job::Column::Workspace.eq(self.key()))
            .filter(working)
            .into_tuple::<i64>();
        Ok(self.reading(async |db| find.one(db).await).await?.is_some())
    }

    /// When the workspace next has something to do by itself (see [`wake_at`]).
    pub(crate) async fn wake_at(&self, queues: &[String], now: i64) -> StorageResult<Option<i64>> {
        let (key, exclusive) = (self.key(), self.is_exclusive());
        self.reading_on_writer(async |db| wake_at(db, key, queues, now, exclusive).await)
            .await
    }
}

/// Moves the `scheduled` jobs of `scope` that are due at `now` to `enqueued`; returns the key
/// of each one's workspace.
pub(crate) async fn promote(
    db: &impl ConnectionTrait,
    scope: Scope<'_>,
    now: i64,
) -> StorageResult<Vec<String>> {
    let promote = Query::update()
        .table(job::Entity)
        .values(Move::to(JobState::Enqueued).reason("due").assignments(now))
        .and_where_option(scope.only(job::Column::Workspace))
        .and_where(states::is(JobState::Scheduled))
        .and_where(Expr::col(job::Column::RunAt).lte(now))
        .to_owned();
    history::run_recorded_returning(db, &promote, job::Column::Workspace).await
}

/// When the next scheduled job and next occurrence of `scope` are due, in one statement.
async fn due(db: &impl ConnectionTrait, scope: Scope<'_>) -> Result<Due, DbErr> {
    let scalar = |select: SelectStatement| Expr::SubQuery(None, Box::new(select.into()));
    let due = Query::select()
        .expr_as(scalar(earliest_scheduled(scope)), "jobs")
        .expr_as(scalar(earliest_occurrence(scope)), "occurrences")
        .to_owned();
    let Some(row) = db.query_one(&due).await? else {
        return Ok(Due::default());
    };
    Ok(Due {
        jobs: row.try_get("", "jobs")?,
        occurrences: row.try_get("", "occurrences")?,
    })
}

/// The earliest instant at which the workspace whose rows carry `key` has something to do by
/// itself: `now` if jobs
/// wait in `queues`, else when a scheduled job (retries included) falls due, a recurring job
/// fires, a finished job expires, or a running job falls to recovery: at once where this
/// process is the storage's only server (`exclusive`: whoever ran it is gone), else when its
/// lease runs out (its server may be dead; while a live one renews it, the workspace is looked
/// into once a lease period, and released again). A workspace released while idle must be
/// open again by then; one that nothing opens would otherwise keep a dead process's jobs
/// `processing` for ever. One statement.
pub(crate) async fn wake_at(
    db: &impl ConnectionTrait,
    key: &str,
    queues: &[String],
    now: i64,
    exclusive: bool,
) -> Result<Option<i64>, DbErr> {
    // Now, if jobs wait; then the earliest of the rest.
    let mut candidates = Query::select()
        .expr_as(Expr::val(now), "at")
        .and_where(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(job::Entity)
                .and_where(job::Column::Workspace.eq(key))
                .and_where(states::is(JobState::Enqueued))
                .and_where(job::Column::Queue.is_in(queues.iter().map(String::as_str)))
                .to_owned(),
        ))
        .to_owned();
    let expiring = job::Entity::find()
        .select_only()
        .column_as(job::Column::ExpireAt.min(), "at")
        .filter(job::Column::Workspace.eq(key));
    let running = job::Entity::find()
        .select_only()
        .filter(job::Column::Workspace.eq(key))
        .filter(states::is(JobState::Processing));
    let lapsing = match exclusive {
        true => running.column_as(Expr::val(now).max(), "at"),
        false => running.column_as(job::Column::LeaseUntil.min(), "at"),
    };
    candidates
        .union(UnionType::All, lapsing.into_query())
        .union(UnionType::All, earliest_scheduled(Scope::Workspace(key)))
        .union(UnionType::All, expiring.into_query())
        .union(UnionType::All, earliest_occurrence(Scope::Workspace(key)));
    let earliest = Query::select()
        .expr_as(Expr::col("at").min(), "at")
        .from_subquery(candidates, "due")
        .to_owned();
    let at = db
        .query_one(&earliest)
        .await?
        .map(|row| row.try_get::<Option<i64>>("", "at"))
        .transpose()?;
    Ok(at.flatten())
}

/// When the earliest `scheduled` job of `scope` is due, as `at`.
fn earliest_scheduled(scope: Scope<'_>) -> SelectStatement {
    job::Entity::find()
        .select_only()
        .column_as(job::Column::RunAt.min(), "at")
        .apply_if(scope.key(), |find, key| {
            find.filter(job::Column::Workspace.eq(key))
        })
        .filter(states::is(JobState::Scheduled))
        .into_query()
}

/// When the earliest unpaused recurring job of `scope` fires next, as `at`.
fn earliest_occurrence(scope: Scope<'_>) -> SelectStatement {
    recurring_job::Entity::find()
        .select_only()
        .column_as(recurring_job::Column::NextExecution.min(), "at")
        .apply_if(scope.key(), |find, key| {
            find.filter(recurring_job::Column::Workspace.eq(key))
        })
        .filter(states::unpaused())
        .into_query()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite plans a statement before its parameters are bound. A shared store's due pass
    /// finds the next occurrence of all its workspaces in the index of unpaused recurring jobs
    /// from the statement's text alone, so binding its values neither changes the plan nor
    /// prepares the statement again.
    #[tokio::test]
    async fn the_next_occurrence_is_found_in_the_due_index_before_anything_is_bound() {
        let select = earliest_occurrence(Scope::Store);
        let (sql, steps) = crate::storage::query_plans::sqlite_plan(&select).await;
        assert!(
            steps.iter().any(|step| step.contains("recurring_jobs_due")),
            "{sql}: {steps:?}"
        );
    }
}
