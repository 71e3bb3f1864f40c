//! Workspace statistics: jobs per state and queue now (from the counts the database keeps in
//! `job_counts`, so reading them costs the same with a million jobs as with ten), and the
//! all-time totals that survive expiry (`succeeded`, `deleted`).

use std::collections::BTreeMap;

use entities::{counter, job, job_count, recurring_job, server};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;

use super::scope::STORE_KEY;
use super::{Storage, StorageResult, counters, states};
use crate::state::JobState;

/// Jobs of one queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct QueueStats {
    /// The queue.
    pub name: String,
    /// Jobs waiting in it.
    pub enqueued: u64,
    /// Jobs of it running.
    pub processing: u64,
}

/// A workspace at a glance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct Stats {
    /// Jobs waiting in their queues.
    pub enqueued: u64,
    /// Jobs waiting for their time (delayed jobs and retries).
    pub scheduled: u64,
    /// Jobs running.
    pub processing: u64,
    /// Jobs that ever succeeded (survives expiry).
    pub succeeded: u64,
    /// Jobs failed now.
    pub failed: u64,
    /// Jobs ever deleted (survives expiry).
    pub deleted: u64,
    /// Continuations waiting for their parent.
    pub awaiting: u64,
    /// Scheduled jobs that are retries of failed runs.
    pub retries: u64,
    /// Recurring jobs.
    pub recurring: u64,
    /// Servers that announced themselves.
    pub servers: u64,
    /// Per queue.
    pub queues: Vec<QueueStats>,
}

impl Storage {
    /// The workspace's statistics, read in one transaction so that they agree with each other
    /// (a job finishing between two reads would otherwise be counted twice).
    pub(crate) async fn stats(&self) -> StorageResult<Stats> {
        let (snapshot, key) = (self.snapshot().await?, self.key());
        let groups = job_counts(&snapshot, key, Condition::all()).await?;
        let mut stats = Stats::default();
        let mut queues: BTreeMap<String, QueueStats> = BTreeMap::new();
        for (state, queue, count) in groups {
            let entry = queues.entry(queue.clone()).or_insert_with(|| QueueStats {
                name: queue,
                ..QueueStats::default()
            });
            match state.parse() {
                Ok(JobState::Enqueued) => {
                    stats.enqueued += count;
                    entry.enqueued += count;
                }
                Ok(JobState::Processing) => {
                    stats.processing += count;
                    entry.processing += count;
                }
                Ok(JobState::Scheduled) => stats.scheduled += count,
                Ok(JobState::Failed) => stats.failed += count,
                Ok(JobState::Awaiting) => stats.awaiting += count,
                Ok(JobState::Succeeded | JobState::Deleted) | Err(_) => {}
            }
        }
        stats.queues = queues.into_values().collect();
        stats.retries = job::Entity::find()
            .filter(job::Column::Workspace.eq(key))
            .filter(states::is(JobState::Scheduled))
            .filter(job::Column::Attempt.gt(0))
            .count(&snapshot)
            .await?;
        stats.succeeded = total(&snapshot, key, JobState::Succeeded).await?;
        stats.deleted = total(&snapshot, key, JobState::Deleted).await?;
        // The store's servers: in a shared store every server works every workspace.
        stats.servers = server::Entity::find()
            .filter(server::Column::Workspace.eq(STORE_KEY))
            .count(&snapshot)
            .await?;
        stats.recurring = recurring_job::Entity::find()
            .filter(recurring_job::Column::Workspace.eq(key))
            .count(&snapshot)
            .await?;
        snapshot.commit().await?;
        Ok(stats)
    }
}

/// The jobs per state and queue of the workspace whose rows carry `key` that `condition`
/// selects from the maintained counts (a count is the sum of its slots), without the empty
/// ones.
async fn job_counts(
    db: &impl ConnectionTrait,
    key: &str,
    condition: Condition,
) -> StorageResult<Vec<(String, String, u64)>> {
    let sums: Vec<(String, String, i64)> = job_count::Entity::find()
        .select_only()
        .column(job_count::Column::State)
        .column(job_count::Column::Queue)
        .column_as(Expr::col(job_count::Column::N).sum().cast_as("bigint"), "n")
        .filter(job_count::Column::Workspace.eq(key))
        .filter(condition)
        .group_by(job_count::Column::State)
        .group_by(job_count::Column::Queue)
        .into_tuple()
        .all(db)
        .await?;
    Ok(sums
        .into_iter()
        .filter_map(|(state, queue, n)| {
            Some((state, queue, u64::try_from(n).ok().filter(|n| *n > 0)?))
        })
        .collect())
}

impl Storage {
    /// How many jobs are in `state` (of `queue`, when given), from the maintained counts.
    pub(crate) async fn count_in(
        &self,
        state: JobState,
        queue: Option<&str>,
    ) -> StorageResult<u64> {
        let mut condition = Condition::all().add(job_count::Column::State.eq(state.as_str()));
        if let Some(queue) = queue {
            condition = condition.add(job_count::Column::Queue.eq(queue));
        }
        let db = self.read().await?;
        let counts = job_counts(&db, self.key(), condition).await?;
        db.commit().await?;
        Ok(counts.iter().map(|(_, _, n)| n).sum())
    }
}

async fn total(db: &impl ConnectionTrait, key: &str, state: JobState) -> StorageResult<u64> {
    let value = counter::Entity::find_by_id((key.to_owned(), counters::total_key(state)))
        .one(db)
        .await?
        .map_or(0, |row| u64::try_from(row.value).unwrap_or(0));
    Ok(value)
}
