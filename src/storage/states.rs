//! A job's state in a statement's `WHERE`: written as a literal, never bound as a parameter.
//!
//! Every index on `jobs` but the key is partial on `state` (`WHERE state = 'enqueued'`, …), and
//! a planner uses a partial index only where it proves the index's condition from the query's.
//! A parameter proves nothing until it is bound:
//! - SQLite proves it from the bound value and marks the statement to be prepared again
//!   whenever that parameter is bound, so each execution parses the statement and compiles the
//!   table's triggers anew (a tenth of a woken job's CPU, in the workspaces benchmark);
//! - PostgreSQL's generic plan of a cached statement knows no value, and so no partial index.
//!
//! States are the runtime's own words ([`JobState::as_str`]), so the literal is no injection.

use entities::job;
use sea_orm::sea_query::{Expr, ExprTrait};

use crate::state::JobState;

/// `state = '<state>'`.
pub(super) fn is(state: JobState) -> Expr {
    Expr::col(job::Column::State).eq(Expr::Constant(state.as_str().into()))
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
}
