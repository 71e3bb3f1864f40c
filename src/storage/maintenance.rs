//! Upkeep: server heartbeats and lease renewal, recovery of jobs whose server died, release of
//! running jobs at shutdown, promotion of due scheduled jobs, and expiry of finished jobs.

use entities::{counter, job, job_history, lock, recurring_job, server};
use sea_orm::sea_query::{
    Expr, ExprTrait, LockBehavior, LockType, OnConflict, Query, SelectStatement, UnionType,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait,
};

use super::moves::{self, Move};
use super::{Storage, StorageResult, counters};
use crate::state::JobState;

/// How a server announces itself.
#[derive(Clone, Debug)]
pub(crate) struct ServerRow {
    pub(crate) id: String,
    pub(crate) workers: i32,
    pub(crate) queues: Vec<String>,
    pub(crate) started_at: i64,
}

/// When the Scheduler has something to do (Unix ms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Due {
    /// The earliest `scheduled` job (retries included) falls due.
    pub(crate) jobs: Option<i64>,
    /// The earliest unpaused recurring job fires.
    pub(crate) occurrences: Option<i64>,
}

impl Due {
    /// The earlier of the two.
    pub(crate) fn earliest(self) -> Option<i64> {
        self.jobs.into_iter().chain(self.occurrences).min()
    }
}

/// A job found `processing` with nobody left to finish it.
struct Abandoned {
    id: i64,
    attempt: i32,
    max_retries: i32,
    on_exhausted: String,
    owner: Option<String>,
}

impl Abandoned {
    /// The lost run counts as an attempt: with none left the job is exhausted.
    fn next_state(&self) -> JobState {
        if self.attempt > self.max_retries {
            self.on_exhausted.parse().unwrap_or(JobState::Failed)
        } else {
            JobState::Enqueued
        }
    }
}

impl Storage {
    /// Records `server`'s heartbeat and extends the leases of the jobs it runs.
    pub(crate) async fn heartbeat(
        &self,
        server: &ServerRow,
        now: i64,
        lease_until: i64,
    ) -> StorageResult<()> {
        let txn = self.write().await?;
        let row = server::ActiveModel {
            id: Set(server.id.clone()),
            workers: Set(server.workers),
            queues: Set(server.queues.join(",")),
            started_at: Set(server.started_at),
            heartbeat_at: Set(now),
        };
        server::Entity::insert(row)
            .on_conflict(
                OnConflict::column(server::Column::Id)
                    .update_column(server::Column::HeartbeatAt)
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        // Rows locked meanwhile are being finished (by this server's completer): skipping
        // them, rather than waiting, keeps the two from deadlocking on PostgreSQL.
        let running = Query::select()
            .column(job::Column::Id)
            .from(job::Entity)
            .and_where(Expr::col(job::Column::State).eq(JobState::Processing.as_str()))
            .and_where(Expr::col(job::Column::LeaseOwner).eq(server.id.as_str()))
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let renew = Query::update()
            .table(job::Entity)
            .value(job::Column::LeaseUntil, lease_until)
            .and_where(Expr::col(job::Column::Id).in_subquery(running))
            .to_owned();
        txn.execute(&renew).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Forgets `server` (it stopped): its row, and the leases it holds, so another server
    /// takes them over at once.
    pub(crate) async fn remove_server(&self, server: &str) -> StorageResult<()> {
        let txn = self.write().await?;
        server::Entity::delete_by_id(server.to_owned())
            .exec(&txn)
            .await?;
        lock::Entity::delete_many()
            .filter(lock::Column::Owner.eq(server))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Drops the servers silent since before `cutoff` from the list; returns their ids.
    pub(crate) async fn prune_servers(&self, cutoff: i64) -> StorageResult<Vec<String>> {
        let prune = Query::delete()
            .from_table(server::Entity)
            .and_where(Expr::col(server::Column::HeartbeatAt).lt(cutoff))
            .returning_col(server::Column::Id)
            .to_owned();
        let rows = self.writing(async |db| db.query_all(&prune).await).await?;
        Ok(rows
            .iter()
            .map(|row| row.try_get_by_index::<String>(0))
            .collect::<Result<_, _>>()?)
    }

    /// Recovers `processing` jobs whose lease ends before `cutoff`: back to `enqueued`, or to
    /// their exhausted state when the lost run was their last. Returns how many.
    pub(crate) async fn recover_abandoned(&self, cutoff: i64, now: i64) -> StorageResult<usize> {
        let txn = self.write().await?;
        let abandoned: Vec<Abandoned> = job::Entity::find()
            .select_only()
            .columns([
                job::Column::Id,
                job::Column::Attempt,
                job::Column::MaxRetries,
                job::Column::OnExhausted,
                job::Column::LeaseOwner,
            ])
            .filter(job::Column::State.eq(JobState::Processing.as_str()))
            .filter(job::Column::LeaseUntil.lt(cutoff))
            .into_tuple::<(i64, i32, i32, String, Option<String>)>()
            .all(&txn)
            .await?
            .into_iter()
            .map(
                |(id, attempt, max_retries, on_exhausted, owner)| Abandoned {
                    id,
                    attempt,
                    max_retries,
                    on_exhausted,
                    owner,
                },
            )
            .collect();
        let (mut recovered, mut failed) = (0, 0);
        for job in &abandoned {
            let state = job.next_state();
            let owner = job.owner.as_deref().unwrap_or("unknown");
            let reason = format!(
                "abandoned: server {owner} stopped during attempt {}",
                job.attempt
            );
            let change = Move::to(state).reason(reason);
            let running = JobState::Processing;
            if !moves::apply(&txn, &[job.id], running, job.owner.as_deref(), change, now)
                .await?
                .ids
                .is_empty()
            {
                recovered += 1;
                failed += i64::from(state == JobState::Failed);
            }
        }
        counters::add(&txn, JobState::Failed, failed, now).await?;
        txn.commit().await?;
        Ok(recovered)
    }

    /// Puts the jobs `server` still runs back in their queues, their attempt not counted: the
    /// server is shutting down and gave them up.
    pub(crate) async fn release_owned(&self, server: &str, now: i64) -> StorageResult<usize> {
        let release = Move::to(JobState::Enqueued)
            .reason("server shut down before the job finished")
            .set(job::Column::Attempt, Expr::col(job::Column::Attempt).sub(1));
        let release = Query::update()
            .table(job::Entity)
            .values(release.assignments(now))
            .and_where(Expr::col(job::Column::State).eq(JobState::Processing.as_str()))
            .and_where(Expr::col(job::Column::LeaseOwner).eq(server))
            .to_owned();
        let released = self.writing(async |db| db.execute(&release).await).await?;
        Ok(released.rows_affected() as usize)
    }

    /// Moves `scheduled` jobs due at `now` to `enqueued`; returns how many.
    pub(crate) async fn promote_due(&self, now: i64) -> StorageResult<usize> {
        let promote = Query::update()
            .table(job::Entity)
            .values(Move::to(JobState::Enqueued).reason("due").assignments(now))
            .and_where(Expr::col(job::Column::State).eq(JobState::Scheduled.as_str()))
            .and_where(Expr::col(job::Column::RunAt).lte(now))
            .to_owned();
        let promoted = self.writing(async |db| db.execute(&promote).await).await?;
        Ok(promoted.rows_affected() as usize)
    }

    /// Removes up to `limit` jobs whose expiry passed, with their history, and expired
    /// counters. Returns how many jobs went.
    pub(crate) async fn expire(&self, now: i64, limit: u64) -> StorageResult<usize> {
        let txn = self.write().await?;
        let ids: Vec<i64> = job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .filter(job::Column::ExpireAt.lte(now))
            .limit(limit)
            .into_tuple()
            .all(&txn)
            .await?;
        if !ids.is_empty() {
            job_history::Entity::delete_many()
                .filter(job_history::Column::JobId.is_in(ids.iter().copied()))
                .exec(&txn)
                .await?;
            job::Entity::delete_many()
                .filter(job::Column::Id.is_in(ids.iter().copied()))
                .exec(&txn)
                .await?;
        }
        counter::Entity::delete_many()
            .filter(counter::Column::ExpireAt.lte(now))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(ids.len())
    }
}

impl Storage {
    /// What the Scheduler has to do next, in one statement.
    pub(crate) async fn due(&self) -> StorageResult<Due> {
        let scalar = |select: SelectStatement| Expr::SubQuery(None, Box::new(select.into()));
        let due = Query::select()
            .expr_as(scalar(earliest_scheduled()), "jobs")
            .expr_as(scalar(earliest_occurrence()), "occurrences")
            .to_owned();
        let row = self
            .reading_on_writer(async |db| db.query_one(&due).await)
            .await?;
        let Some(row) = row else {
            return Ok(Due::default());
        };
        Ok(Due {
            jobs: row.try_get("", "jobs")?,
            occurrences: row.try_get("", "occurrences")?,
        })
    }

    /// The earliest instant at which this workspace has something to do by itself: `now` if
    /// jobs wait in `queues`, else when a scheduled job (retries included) falls due, a
    /// recurring job fires or a finished job expires. A workspace released while idle must
    /// be open again by then.
    pub(crate) async fn wake_at(&self, queues: &[String], now: i64) -> StorageResult<Option<i64>> {
        // Now, if jobs wait; then the earliest of the rest.
        let mut candidates = Query::select()
            .expr_as(Expr::val(now), "at")
            .and_where(Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(job::Entity)
                    .and_where(job::Column::State.eq(JobState::Enqueued.as_str()))
                    .and_where(job::Column::Queue.is_in(queues.iter().map(String::as_str)))
                    .to_owned(),
            ))
            .to_owned();
        let expiring = job::Entity::find()
            .select_only()
            .column_as(job::Column::ExpireAt.min(), "at");
        candidates
            .union(UnionType::All, earliest_scheduled())
            .union(UnionType::All, expiring.into_query())
            .union(UnionType::All, earliest_occurrence());
        self.earliest_of(candidates).await
    }

    /// The smallest `at` of `candidates`, in one statement.
    async fn earliest_of(&self, candidates: SelectStatement) -> StorageResult<Option<i64>> {
        let earliest = Query::select()
            .expr_as(Expr::col("at").min(), "at")
            .from_subquery(candidates, "due")
            .to_owned();
        let row = self
            .reading_on_writer(async |db| db.query_one(&earliest).await)
            .await?;
        let at = row
            .map(|row| row.try_get::<Option<i64>>("", "at"))
            .transpose()?;
        Ok(at.flatten())
    }
}

/// When the earliest `scheduled` job is due, as `at`.
fn earliest_scheduled() -> SelectStatement {
    job::Entity::find()
        .select_only()
        .column_as(job::Column::RunAt.min(), "at")
        .filter(job::Column::State.eq(JobState::Scheduled.as_str()))
        .into_query()
}

/// When the earliest unpaused recurring job fires next, as `at`.
fn earliest_occurrence() -> SelectStatement {
    recurring_job::Entity::find()
        .select_only()
        .column_as(recurring_job::Column::NextExecution.min(), "at")
        .filter(recurring_job::Column::Paused.eq(false))
        .into_query()
}
