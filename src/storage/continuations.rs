//! Continuations: when a job enters a final state, its `awaiting` children are released in the
//! same transaction. Those whose condition the parent met are enqueued; the others can never
//! run and are deleted with the reason, which in turn releases their own children. Finding no
//! children (the common case) costs one indexed read.

use entities::job;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::history;
use super::moves::{Move, Retention};
use super::{StorageResult, counters, states};
use crate::state::{ContinueOn, JobState};

/// Releases the continuations of `parents` (of the workspace whose rows carry `key`), which
/// just entered `state` (a final state); those deleted expire as `retention` says.
/// Returns how many continuations were enqueued, all generations counted.
pub(super) async fn release(
    db: &impl ConnectionTrait,
    key: &str,
    parents: Vec<i64>,
    state: JobState,
    now: i64,
    retention: Retention,
) -> StorageResult<usize> {
    let (mut parents, mut state, mut enqueued) = (parents, state, 0);
    while !parents.is_empty() {
        let (run, never) = waiting_children(db, key, &parents, state).await?;
        // An awaiting job expires if its parent never ends; once released it waits to run.
        let release = Move::to(JobState::Enqueued)
            .reason(format!("parent {state}"))
            .set(job::Column::ExpireAt, Option::<i64>::None);
        enqueued += move_awaiting(db, key, &run, release, now).await?;
        let drop = Move::to(JobState::Deleted)
            .reason(format!(
                "parent {state}: the condition can no longer be met"
            ))
            .set(
                job::Column::ExpireAt,
                retention.expire_at(JobState::Deleted, now),
            );
        let deleted = move_awaiting(db, key, &never, drop, now).await?;
        counters::add(db, key, JobState::Deleted, deleted as i64, now).await?;
        (parents, state) = (never, JobState::Deleted);
    }
    Ok(enqueued)
}

/// The awaiting children of `parents`: those whose condition a parent in `state` meets, and
/// the others.
async fn waiting_children(
    db: &impl ConnectionTrait,
    key: &str,
    parents: &[i64],
    state: JobState,
) -> StorageResult<(Vec<i64>, Vec<i64>)> {
    let children: Vec<(i64, Option<String>)> = job::Entity::find()
        .select_only()
        .columns([job::Column::Id, job::Column::ContinueOn])
        .filter(job::Column::Workspace.eq(key))
        .filter(job::Column::ParentId.is_in(parents.iter().copied()))
        .filter(states::is(JobState::Awaiting))
        .into_tuple()
        .all(db)
        .await?;
    let met = ContinueOn::met_by(state);
    let (run, never): (Vec<_>, Vec<_>) = children.into_iter().partition(|(_, on)| {
        on.as_deref()
            .and_then(|on| on.parse().ok())
            .is_some_and(|on| met.contains(&on))
    });
    let ids =
        |children: Vec<(i64, Option<String>)>| children.into_iter().map(|(id, _)| id).collect();
    Ok((ids(run), ids(never)))
}

/// Moves the jobs `ids` out of `awaiting`; returns how many moved.
async fn move_awaiting(
    db: &impl ConnectionTrait,
    key: &str,
    ids: &[i64],
    change: Move,
    now: i64,
) -> StorageResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let update = Query::update()
        .table(job::Entity)
        .values(change.assignments(now))
        .and_where(Expr::col(job::Column::Workspace).eq(key))
        .and_where(Expr::col(job::Column::Id).is_in(ids.iter().copied()))
        .and_where(states::is(JobState::Awaiting))
        .to_owned();
    Ok(history::run_recorded(db, &update).await?.len())
}
