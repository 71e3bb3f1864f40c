//! Counters that outlive the jobs they count: all-time totals plus per-hour and per-day
//! buckets for the history graphs (hours kept a day and a bit, days a month and a bit).

use chrono::{DateTime, Utc};
use entities::counter;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr};

use crate::clock::from_millis;
use crate::state::JobState;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The key of the all-time total of jobs that entered `state`.
pub(crate) fn total_key(state: JobState) -> String {
    state.as_str().to_owned()
}

/// The key of the count for the hour that contains `at`.
pub(crate) fn hour_key(state: JobState, at: DateTime<Utc>) -> String {
    format!("{state}:hour:{}", at.format("%Y-%m-%dT%H"))
}

/// The key of the count for the day that contains `at`.
pub(crate) fn day_key(state: JobState, at: DateTime<Utc>) -> String {
    format!("{state}:day:{}", at.format("%Y-%m-%d"))
}

/// Adds `count` jobs of the workspace whose rows carry `key` that entered `state` at `now` to
/// its total and its hour and day.
pub(super) async fn add(
    db: &impl ConnectionTrait,
    key: &str,
    state: JobState,
    count: i64,
    now: i64,
) -> Result<(), DbErr> {
    if count == 0 {
        return Ok(());
    }
    let at = from_millis(now);
    let rows = [
        (total_key(state), None),
        (hour_key(state, at), Some(now + DAY_MS + HOUR_MS)),
        (day_key(state, at), Some(now + 32 * DAY_MS)),
    ];
    let mut insert = Query::insert();
    insert.into_table(counter::Entity).columns([
        counter::Column::Workspace,
        counter::Column::Key,
        counter::Column::Value,
        counter::Column::ExpireAt,
    ]);
    for (counter, expire_at) in rows {
        insert.values_panic([key.into(), counter.into(), count.into(), expire_at.into()]);
    }
    insert.on_conflict(
        OnConflict::columns([counter::Column::Workspace, counter::Column::Key])
            .value(
                counter::Column::Value,
                Expr::col((counter::Entity, counter::Column::Value))
                    .add(Expr::col(("excluded", counter::Column::Value))),
            )
            .to_owned(),
    );
    db.execute(&insert).await?;
    Ok(())
}
