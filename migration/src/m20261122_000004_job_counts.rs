//! Job counts by state and queue, kept by the database itself as jobs are created, move and
//! expire, so that statistics and list totals read a few rows instead of counting the jobs.
//!
//! A count is the sum of its slots. On PostgreSQL each connection adds its changes to the slot
//! of its backend process (`pg_backend_pid() % 16`), so that servers moving jobs at the same
//! time do not wait for each other's counter rows; a slot alone may go negative. SQLite has one
//! writer and one slot. PostgreSQL counts once per statement (transition tables), SQLite once
//! per row; both leave untouched the rows whose state and queue did not change.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum JobCounts {
    Table,
    State,
    Queue,
    Slot,
    N,
}

fn job_counts_table() -> TableCreateStatement {
    Table::create()
        .table(JobCounts::Table)
        .col(ColumnDef::new(JobCounts::State).string().not_null())
        .col(ColumnDef::new(JobCounts::Queue).string().not_null())
        .col(ColumnDef::new(JobCounts::Slot).integer().not_null())
        .col(ColumnDef::new(JobCounts::N).big_integer().not_null())
        .primary_key(
            Index::create()
                .col(JobCounts::State)
                .col(JobCounts::Queue)
                .col(JobCounts::Slot),
        )
        .to_owned()
}

/// The jobs there are now, counted once.
const FILL: &str = "INSERT INTO job_counts (state, queue, slot, n) \
     SELECT state, queue, 0, COUNT(*) FROM jobs GROUP BY state, queue";

/// Adds `n` to the count of (`state`, `queue`) in SQLite's single slot.
fn sqlite_add(state: &str, queue: &str, n: i32) -> String {
    format!(
        "INSERT INTO job_counts (state, queue, slot, n) VALUES ({state}, {queue}, 0, {n}) \
         ON CONFLICT (state, queue, slot) DO UPDATE SET n = n + {n};"
    )
}

fn sqlite_triggers() -> Vec<String> {
    vec![
        format!(
            "CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN {} END",
            sqlite_add("NEW.state", "NEW.queue", 1)
        ),
        format!(
            "CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN {} END",
            sqlite_add("OLD.state", "OLD.queue", -1)
        ),
        format!(
            "CREATE TRIGGER jobs_count_update AFTER UPDATE OF state, queue ON jobs \
             WHEN OLD.state <> NEW.state OR OLD.queue <> NEW.queue BEGIN {} {} END",
            sqlite_add("OLD.state", "OLD.queue", -1),
            sqlite_add("NEW.state", "NEW.queue", 1)
        ),
    ]
}

/// A PostgreSQL trigger function adding the signed counts of `changes` (a query yielding
/// `state, queue, delta` rows) to the connection's slot, in key order (two transactions
/// sharing a slot then lock its rows in the same order and cannot deadlock).
fn postgres_function(name: &str, changes: &str) -> String {
    format!(
        "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         INSERT INTO job_counts (state, queue, slot, n) \
         SELECT state, queue, pg_backend_pid() % 16, SUM(delta) FROM ({changes}) AS changes \
         GROUP BY state, queue HAVING SUM(delta) <> 0 ORDER BY state, queue \
         ON CONFLICT (state, queue, slot) DO UPDATE SET n = job_counts.n + EXCLUDED.n; \
         RETURN NULL; END $$"
    )
}

const ADDED: &str = "SELECT state, queue, 1 AS delta FROM new_rows";
const REMOVED: &str = "SELECT state, queue, -1 AS delta FROM old_rows";

fn postgres_triggers() -> Vec<String> {
    let moved = format!("{ADDED} UNION ALL {REMOVED}");
    vec![
        postgres_function("jobs_count_insert", ADDED),
        postgres_function("jobs_count_delete", REMOVED),
        postgres_function("jobs_count_update", &moved),
        "CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs \
         REFERENCING NEW TABLE AS new_rows \
         FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_insert()"
            .to_owned(),
        "CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs \
         REFERENCING OLD TABLE AS old_rows \
         FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_delete()"
            .to_owned(),
        "CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs \
         REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows \
         FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_update()"
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(job_counts_table()).await?;
        let db = manager.get_connection();
        db.execute_unprepared(FILL).await?;
        let triggers = match manager.get_database_backend() {
            DbBackend::Sqlite => sqlite_triggers(),
            _ => postgres_triggers(),
        };
        for trigger in triggers {
            db.execute_unprepared(&trigger).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        for name in [
            "jobs_count_insert",
            "jobs_count_delete",
            "jobs_count_update",
        ] {
            let on_table = if postgres { " ON jobs" } else { "" };
            db.execute_unprepared(&format!("DROP TRIGGER {name}{on_table}"))
                .await?;
            if postgres {
                db.execute_unprepared(&format!("DROP FUNCTION {name}()"))
                    .await?;
            }
        }
        manager
            .drop_table(Table::drop().table(JobCounts::Table).to_owned())
            .await
    }
}
