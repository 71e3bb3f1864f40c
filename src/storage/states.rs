//! A job's state, and whether a recurring job is paused, in a statement's `WHERE`: written as
//! literals, never bound as parameters.
//!
//! Every index on `jobs` but the key is partial on `state` (`WHERE state = 'enqueued'`, …), the
//! index of due recurring jobs on `paused` (`WHERE paused = FALSE`), and a planner uses a
//! partial index only where it proves the index's condition from the query's.
//! A parameter proves nothing until it is bound:
//! - SQLite proves it from the bound value and marks the statement to be prepared again
//!   whenever that parameter is bound, so each execution parses the statement and compiles the
//!   table's triggers anew (a tenth of a woken job's CPU, in the workspaces benchmark);
//! - PostgreSQL's generic plan of a cached statement knows no value, and so no partial index.
//!
//! States are the runtime's own words ([`JobState::as_str`]), so the literal is no injection.

use entities::{job, recurring_job};
use sea_orm::sea_query::{Expr, ExprTrait};

use crate::state::JobState;

/// `state = '<state>'`.
pub(super) fn is(state: JobState) -> Expr {
    Expr::col(job::Column::State).eq(Expr::Constant(state.as_str().into()))
}

/// `paused = FALSE`, spelled as the index of due recurring jobs spells it.
pub(super) fn unpaused() -> Expr {
    Expr::col(recurring_job::Column::Paused).eq(Expr::Constant(false.into()))
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{Query, SqliteQueryBuilder};

    use super::*;

    #[test]
    fn the_state_is_written_into_the_statement_not_bound() {
        let (sql, values) = Query::select()
            .column(job::Column::Id)
            .from(job::Entity)
            .and_where(is(JobState::Enqueued))
            .build(SqliteQueryBuilder);
        assert!(sql.ends_with(r#"WHERE "state" = 'enqueued'"#), "{sql}");
        assert!(values.0.is_empty(), "{values:?}");
    }

    #[test]
    fn unpaused_is_written_as_the_due_index_condition_spells_it() {
        let (sql, values) = Query::select()
            .column(recurring_job::Column::Id)
            .from(recurring_job::Entity)
            .and_where(unpaused())
            .build(SqliteQueryBuilder);
        assert!(sql.ends_with(r#"WHERE "paused" = FALSE"#), "{sql}");
        assert!(values.0.is_empty(), "{values:?}");
    }
}
