//! Unique keys in storage. The database decides, never a read followed by a write:
//! - `queued` and `active`: the unique index `jobs_unique` over the jobs that hold their key
//!   ([`HOLDS_KEY`]). An enqueue inserts with `ON CONFLICT DO NOTHING` on that index; a row it turned
//!   away is a duplicate, and a read then names the job that holds the key. A move out of the
//!   scope's states clears the job's `unique_scope` ([`released_by`]), so a job that waits
//!   again later (a retry, a requeue) never collides with a newer one.
//! - `period`: a row of `unique_periods` per key, taken by an upsert that succeeds only where
//!   the row is absent or expired; the job it lets in is written into it.
//!
//! On PostgreSQL a concurrent enqueue of the same key waits for the first transaction and
//! then sees its row, so any number of servers create one job; SQLite has one writer.

use std::collections::HashMap;

use entities::{job, unique_period};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query, SelectStatement, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, StatementBuilder};

use super::{StorageError, StorageResult, StoredUnique};
use crate::job::UniqueScope;
use crate::state::JobState;

/// Which jobs hold their unique key, as the migration wrote the predicate of `jobs_unique`:
/// SQLite uses a partial index only for a query that names its predicate as written.
const HOLDS_KEY: &str = "(unique_scope = 'queued' \
     AND state IN ('scheduled', 'enqueued', 'awaiting')) \
     OR (unique_scope = 'active' \
     AND state IN ('scheduled', 'enqueued', 'awaiting', 'processing'))";

/// A new job's unique key and the scope it is held in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UniqueRow {
    pub(crate) key: String,
    pub(crate) scope: UniqueScope,
}

impl UniqueRow {
    /// Whether `jobs_unique` decides (rather than `unique_periods`).
    pub(super) fn by_index(&self) -> bool {
        !matches!(self.scope, UniqueScope::Period(_))
    }

    /// The scope and key that name the holder.
    fn name(&self) -> (&'static str, &str) {
        (self.scope.as_str(), &self.key)
    }
}

/// The scopes whose keys a job holds while it is in `state` (`period` aside, which holds by
/// time).
fn scopes_held_in(state: JobState) -> &'static [&'static str] {
    match state {
        JobState::Scheduled | JobState::Enqueued | JobState::Awaiting => &["queued", "active"],
        JobState::Processing => &["active"],
        _ => &[],
    }
}

/// `unique_scope` cleared where it is one of `scopes`, kept otherwise.
fn cleared(scopes: &[&'static str]) -> SimpleExpr {
    let scope = Expr::col(job::Column::UniqueScope);
    let kept = scope.clone().is_not_in(scopes.iter().copied());
    Expr::case(kept, scope).finally(Expr::null()).into()
}

/// What a move into `state` sets `unique_scope` to: cleared for good where the job leaves the
/// scope's states and would otherwise come back to them later (a `queued` key when its job
/// starts, since a retry or a recovery waits again; every key when it succeeds or is deleted).
pub(super) fn released_by(state: JobState) -> Option<SimpleExpr> {
    match state {
        JobState::Processing => Some(cleared(&["queued"])),
        state if state.is_final() => Some(released()),
        _ => None,
    }
}

/// `unique_scope` with the `queued` and `active` keys released: for a job that waits again
/// after it ended (a requeue), which a newer job may have taken the key from.
pub(super) fn released() -> SimpleExpr {
    cleared(&["queued", "active"])
}

/// Takes the `period` keys of `rows` for the jobs about to be created at `now`: for each row,
/// whether it may be created (every row of another scope may).
pub(super) async fn take_periods<'a>(
    db: &impl ConnectionTrait,
    workspace: &str,
    rows: impl Iterator<Item = Option<&'a UniqueRow>>,
    now: i64,
) -> StorageResult<Vec<bool>> {
    let mut taken = Vec::new();
    for row in rows {
        taken.push(match row.map(|row| (&row.key, row.scope)) {
            Some((key, UniqueScope::Period(period))) => {
                let until = now.saturating_add(period.as_millis().min(i64::MAX as u128) as i64);
                take_period(db, workspace, key, now, until).await?
            }
            _ => true,
        });
    }
    Ok(taken)
}

/// Takes `key` until `until` if no job holds it at `now`.
async fn take_period(
    db: &impl ConnectionTrait,
    workspace: &str,
    key: &str,
    now: i64,
    until: i64,
) -> StorageResult<bool> {
    let expires_at = Expr::col((unique_period::Entity, unique_period::Column::ExpiresAt));
    let take = Query::insert()
        .into_table(unique_period::Entity)
        .columns([
            unique_period::Column::Workspace,
            unique_period::Column::Key,
            unique_period::Column::ExpiresAt,
        ])
        .values_panic([workspace.into(), key.into(), until.into()])
        .on_conflict(
            OnConflict::columns([unique_period::Column::Workspace, unique_period::Column::Key])
                .values([
                    (unique_period::Column::JobId, Expr::null()),
                    (unique_period::Column::ExpiresAt, until.into()),
                ])
                .action_and_where(expires_at.lte(now))
                .to_owned(),
        )
        .returning_col(unique_period::Column::Key)
        .to_owned();
    let statement = StatementBuilder::build(&take, &db.get_database_backend());
    Ok(db.query_one_raw(statement).await?.is_some())
}

/// The unique key of job `row` of the workspace whose rows carry `workspace`, as of `now`.
pub(super) async fn of_job(
    db: &impl ConnectionTrait,
    workspace: &str,
    row: &job::Model,
    now: i64,
) -> StorageResult<Option<StoredUnique>> {
    let Some(key) = row.unique_key.clone() else {
        return Ok(None);
    };
    let scope = row.unique_scope.clone();
    let held = match scope.as_deref() {
        Some("period") => {
            let period = (workspace.to_owned(), key.clone());
            unique_period::Entity::find_by_id(period)
                .filter(unique_period::Column::JobId.eq(row.id))
                .filter(unique_period::Column::ExpiresAt.gt(now))
                .one(db)
                .await?
                .is_some()
        }
        Some(scope) => row
            .state
            .parse()
            .is_ok_and(|state| scopes_held_in(state).contains(&scope)),
        None => false,
    };
    Ok(Some(StoredUnique { key, scope, held }))
}

/// Writes into `unique_periods` the jobs that took their `period` keys.
pub(super) async fn record_period_holders(
    db: &impl ConnectionTrait,
    workspace: &str,
    holders: impl Iterator<Item = (&UniqueRow, i64)>,
) -> StorageResult<()> {
    for (row, id) in holders.filter(|(row, _)| !row.by_index()) {
        let record = Query::update()
            .table(unique_period::Entity)
            .value(unique_period::Column::JobId, id)
            .and_where(Expr::col(unique_period::Column::Workspace).eq(workspace))
            .and_where(Expr::col(unique_period::Column::Key).eq(row.key.as_str()))
            .to_owned();
        db.execute(&record).await?;
    }
    Ok(())
}

/// The jobs that hold the keys of `rows` now, by scope and key; a key whose holder left its
/// scope since the insert saw it is absent.
pub(super) async fn holders(
    db: &impl ConnectionTrait,
    workspace: &str,
    rows: &[&UniqueRow],
) -> StorageResult<HashMap<(&'static str, String), i64>> {
    let mut holders = HashMap::new();
    for scope in ["queued", "active"] {
        let keys: Vec<&str> = keys_in(rows, scope);
        if keys.is_empty() {
            continue;
        }
        for row in db
            .query_all(&holders_by_index(workspace, scope, keys))
            .await?
        {
            holders.insert(
                (scope, row.try_get("", "unique_key")?),
                row.try_get("", "id")?,
            );
        }
    }
    let keys = keys_in(rows, "period");
    if !keys.is_empty() {
        let select = Query::select()
            .columns([unique_period::Column::Key, unique_period::Column::JobId])
            .from(unique_period::Entity)
            .and_where(Expr::col(unique_period::Column::Workspace).eq(workspace))
            .and_where(Expr::col(unique_period::Column::Key).is_in(keys))
            .to_owned();
        for row in db.query_all(&select).await? {
            let key: String = row.try_get("", "key")?;
            let id: Option<i64> = row.try_get("", "job_id")?;
            let id = id.ok_or_else(|| {
                StorageError::Corrupt(format!("unique key `{key}` is held by no job"))
            })?;
            holders.insert(("period", key), id);
        }
    }
    Ok(holders)
}

/// `ON CONFLICT … DO NOTHING` with `jobs_unique` as its only arbiter: a row it turns away is a
/// duplicate, and no other index is checked before each row goes in.
pub(super) fn turned_away_by_index() -> OnConflict {
    OnConflict::columns([
        job::Column::Workspace,
        job::Column::UniqueScope,
        job::Column::UniqueKey,
    ])
    .target_and_where(Expr::cust(HOLDS_KEY))
    .do_nothing()
    .to_owned()
}

/// The jobs that hold `keys` in `scope` (`queued` or `active`), read through `jobs_unique`.
fn holders_by_index(workspace: &str, scope: &str, keys: Vec<&str>) -> SelectStatement {
    Query::select()
        .columns([job::Column::Id, job::Column::UniqueKey])
        .from(job::Entity)
        .and_where(Expr::col(job::Column::Workspace).eq(workspace))
        .and_where(Expr::col(job::Column::UniqueScope).eq(scope))
        .and_where(Expr::col(job::Column::UniqueKey).is_in(keys))
        .and_where(Expr::cust(HOLDS_KEY))
        .to_owned()
}

/// The keys of `rows` held in `scope`.
fn keys_in<'a>(rows: &[&'a UniqueRow], scope: &str) -> Vec<&'a str> {
    rows.iter()
        .filter(|row| row.scope.as_str() == scope)
        .map(|row| row.key.as_str())
        .collect()
}

/// The holder among `holders` of `row`'s key.
pub(super) fn holder_of(
    holders: &HashMap<(&'static str, String), i64>,
    row: &UniqueRow,
) -> Option<i64> {
    let (scope, key) = row.name();
    holders.get(&(scope, key.to_owned())).copied()
}

/// Which of the rows an `INSERT … ON CONFLICT DO NOTHING` was sent (their keys, in order)
/// it wrote: the ids, or none for a row the index turned away. `written` holds the scope and
/// key of each row it returned, in id order, which is the order of the rows sent.
pub(super) fn match_written(
    sent: &[Option<(&str, &str)>],
    written: &[(i64, Option<String>, Option<String>)],
) -> Vec<Option<i64>> {
    let mut written = written.iter().peekable();
    sent.iter()
        .map(|name| {
            let (id, scope, key) = written.peek()?;
            let same = match name {
                Some((s, k)) => scope.as_deref() == Some(s) && key.as_deref() == Some(k),
                None => scope.is_none() && key.is_none(),
            };
            same.then(|| {
                written.next();
                *id
            })
        })
        .collect()
}

/// Of rows with the unique keys `keys`, in order: those to send (every row without a key, and
/// the first of each key), and each later row of a key with the first of it.
pub(super) fn first_of_each_key<'a>(
    keys: impl Iterator<Item = Option<&'a UniqueRow>>,
) -> (Vec<usize>, Vec<(usize, usize)>) {
    let mut firsts: HashMap<(&str, &str), usize> = HashMap::new();
    let (mut sent, mut later) = (Vec::new(), Vec::new());
    for (i, key) in keys.enumerate() {
        match key.map(UniqueRow::name) {
            Some(name) => match firsts.get(&name) {
                Some(&first) => later.push((i, first)),
                None => {
                    firsts.insert(name, i);
                    sent.push(i);
                }
            },
            None => sent.push(i),
        }
    }
    (sent, later)
}

/// The scope and key of a row as sent, for [`match_written`].
pub(super) fn sent_name(row: Option<&UniqueRow>) -> Option<(&'static str, &str)> {
    row.map(UniqueRow::name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The read that names a duplicate's holder goes through the unique index: SQLite uses a
    /// partial index only when the query names its predicate as the migration wrote it.
    #[tokio::test]
    async fn the_holder_of_a_key_is_read_through_the_unique_index() {
        let select = holders_by_index("", "active", vec!["a", "b"]);
        let (sql, steps) = crate::storage::query_plans::sqlite_plan(&select).await;
        assert!(
            steps
                .iter()
                .any(|step| step.contains("USING INDEX jobs_unique")),
            "{sql}: {steps:?}"
        );
    }

    fn written(rows: &[(i64, Option<&str>)]) -> Vec<(i64, Option<String>, Option<String>)> {
        rows.iter()
            .map(|(id, key)| {
                let scope = key.map(|_| "active".to_owned());
                (*id, scope, key.map(str::to_owned))
            })
            .collect()
    }

    #[test]
    fn rows_the_index_turned_away_are_told_apart_from_those_it_wrote() {
        let sent = [
            None,
            Some(("active", "a")),
            Some(("active", "a")),
            Some(("active", "b")),
            None,
        ];
        let matched = match_written(&sent, &written(&[(7, None), (8, Some("a")), (9, None)]));
        assert_eq!(matched, [Some(7), Some(8), None, None, Some(9)]);
    }

    #[test]
    fn only_the_first_row_of_each_key_is_sent_and_the_later_ones_wait_for_it() {
        let row = |key: &str, scope| UniqueRow {
            key: key.into(),
            scope,
        };
        let a = row("a", UniqueScope::Active);
        let a_queued = row("a", UniqueScope::Queued);
        let b = row("b", UniqueScope::Active);
        let keys = [
            Some(&a),
            None,
            Some(&a),
            Some(&a_queued),
            Some(&b),
            Some(&a),
            None,
        ];
        let (sent, later) = first_of_each_key(keys.into_iter());
        assert_eq!(sent, [0, 1, 3, 4, 6]);
        assert_eq!(later, [(2, 0), (5, 0)]);
    }

    #[test]
    fn a_key_in_another_scope_is_another_key() {
        let sent = [Some(("queued", "a"))];
        assert_eq!(match_written(&sent, &written(&[(1, Some("a"))])), [None]);
    }
}
