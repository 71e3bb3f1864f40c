//! Workspace statistics: jobs per state and queue now, and the all-time totals that survive
//! expiry (`succeeded`, `deleted`).

use std::collections::BTreeMap;

use entities::{counter, job, recurring_job, server};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;

use super::{Storage, StorageResult, counters};
use crate::state::JobState;

/// Jobs of one queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    /// The queue.
    pub name: String,
    /// Jobs waiting in it.
    pub enqueued: u64,
    /// Jobs of it running.
    pub processing: u64,
}

/// A workspace at a glance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
        let snapshot = self.snapshot().await?;
        let groups: Vec<(String, String, i64)> = job::Entity::find()
            .select_only()
            .column(job::Column::State)
            .column(job::Column::Queue)
            .column_as(Expr::col(job::Column::Id).count(), "count")
            .group_by(job::Column::State)
            .group_by(job::Column::Queue)
            .into_tuple()
            .all(&snapshot)
            .await?;
        let mut stats = Stats::default();
        let mut queues: BTreeMap<String, QueueStats> = BTreeMap::new();
        for (state, queue, count) in groups {
            let count = u64::try_from(count).unwrap_or(0);
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
            .filter(job::Column::State.eq(JobState::Scheduled.as_str()))
            .filter(job::Column::Attempt.gt(0))
            .count(&snapshot)
            .await?;
        stats.succeeded = total(&snapshot, JobState::Succeeded).await?;
        stats.deleted = total(&snapshot, JobState::Deleted).await?;
        stats.servers = server::Entity::find().count(&snapshot).await?;
        stats.recurring = recurring_job::Entity::find().count(&snapshot).await?;
        snapshot.commit().await?;
        Ok(stats)
    }
}

async fn total(db: &impl ConnectionTrait, state: JobState) -> StorageResult<u64> {
    let value = counter::Entity::find_by_id(counters::total_key(state))
        .one(db)
        .await?
        .map_or(0, |row| u64::try_from(row.value).unwrap_or(0));
    Ok(value)
}
