//! History rows: every statement that creates or moves jobs appends one per job it wrote, with
//! the job's state, reason, data and time. [`placement::recorded`] turns such a statement into
//! one that does. On SQLite the migration's row triggers append them, inside the statement and
//! at little cost. On PostgreSQL the statement appends them itself, in a data-modifying
//! `WITH` (built here): one `INSERT` for all its jobs, where a row trigger ran a PL/pgSQL call
//! and an `INSERT` per job.

use entities::job;
use sea_orm::sea_query::{
    InsertStatement, Query, QueryStatementWriter, ReturningClause, UpdateStatement,
};
use sea_orm::{ConnectionTrait, IdenStatic, StatementBuilder};

use super::{StorageResult, placement};

/// The columns of a written job its history row is made of.
const HISTORY: [job::Column; 6] = [
    job::Column::Workspace,
    job::Column::Id,
    job::Column::State,
    job::Column::Reason,
    job::Column::Data,
    job::Column::StateAt,
];

/// A statement that creates or moves jobs and can return columns of the jobs it wrote.
pub(super) trait JobsWrite: QueryStatementWriter + StatementBuilder + Clone {
    fn return_columns(&mut self, clause: ReturningClause);
}

impl JobsWrite for UpdateStatement {
    fn return_columns(&mut self, clause: ReturningClause) {
        self.returning(clause);
    }
}

impl JobsWrite for InsertStatement {
    fn return_columns(&mut self, clause: ReturningClause) {
        self.returning(clause);
    }
}

/// Runs `write` as [`placement::recorded`]; returns the ids of the jobs it wrote.
pub(super) async fn run_recorded(
    db: &impl ConnectionTrait,
    write: &impl JobsWrite,
) -> StorageResult<Vec<i64>> {
    run_recorded_returning(db, write, job::Column::Id).await
}

/// Runs `write` as [`placement::recorded`]; returns `column` of each job it wrote.
pub(super) async fn run_recorded_returning<T: sea_orm::TryGetable>(
    db: &impl ConnectionTrait,
    write: &impl JobsWrite,
    column: job::Column,
) -> StorageResult<Vec<T>> {
    let rows = run_recorded_rows(db, write, &[column]).await?;
    let values = rows
        .iter()
        .map(|row| row.try_get_by_index::<T>(0))
        .collect::<Result<_, _>>()?;
    Ok(values)
}

/// Runs `write` as [`placement::recorded`]; returns `columns` of each job it wrote.
pub(super) async fn run_recorded_rows(
    db: &impl ConnectionTrait,
    write: &impl JobsWrite,
    columns: &[job::Column],
) -> StorageResult<Vec<sea_orm::QueryResult>> {
    let statement = placement::recorded(write, columns, db.get_database_backend());
    Ok(db.query_all_raw(statement).await?)
}

/// [`placement::recorded`] on PostgreSQL with its values written into the text, for a
/// statement sent as a simple query.
#[cfg(feature = "postgres")]
pub(super) fn recorded_text(write: &impl JobsWrite, columns: &[job::Column]) -> String {
    let mut write = write.clone();
    write.return_columns(returning_history(columns));
    with_history(
        &write.to_string(sea_orm::sea_query::PostgresQueryBuilder),
        columns,
    )
}

/// What the history rows and the caller need, each column once.
pub(super) fn returning_history(columns: &[job::Column]) -> ReturningClause {
    let listed = |column: &job::Column| HISTORY.iter().any(|h| h.as_str() == column.as_str());
    let mut returned = HISTORY.to_vec();
    returned.extend(columns.iter().filter(|column| !listed(column)));
    Query::returning().columns(returned)
}

/// `write_sql`, which returns [`HISTORY`] and `columns`, as the writing part of a statement
/// that also appends the history rows and returns `columns`.
pub(super) fn with_history(write_sql: &str, columns: &[job::Column]) -> String {
    let returned: Vec<String> = columns
        .iter()
        .map(|column| format!("\"{}\"", column.as_str()))
        .collect();
    format!(
        "WITH written AS ({write_sql}), \
         history AS (INSERT INTO job_history (workspace, job_id, state, reason, data, at) \
         SELECT workspace, id, state, reason, data, state_at FROM written) \
         SELECT {} FROM written",
        returned.join(", ")
    )
}
