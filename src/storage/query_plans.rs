//! For tests: the plan SQLite makes for a statement on a fresh store, step by step, so that a
//! test can check that a statement reads the index it was written for. SQLite plans a statement
//! before its parameters are bound, so the plan is the one every binding runs.

use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{SelectStatement, SqliteQueryBuilder};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

/// The steps (`detail`) of SQLite's query plan for `select` on an empty, migrated store, and the
/// statement's text for messages.
pub(crate) async fn sqlite_plan(select: &SelectStatement) -> (String, Vec<String>) {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let (sql, _) = select.build(SqliteQueryBuilder);
    let explain = Statement::from_string(DbBackend::Sqlite, format!("EXPLAIN QUERY PLAN {sql}"));
    let plan = db.query_all_raw(explain).await.unwrap();
    let steps = plan
        .iter()
        .map(|row| row.try_get::<String>("", "detail").unwrap())
        .collect();
    (sql, steps)
}
