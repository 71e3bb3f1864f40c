//! Priorities and unique jobs.
//!
//! - `jobs.priority` (0..9, lower first): the claim's index gains it between the queue and the
//!   id, so that a claim with priorities in use is still a walk of the index in its order.
//! - `jobs.unique_key` and `jobs.unique_scope`: the unique index `jobs_unique` allows one job
//!   per key and scope among the jobs the scope holds (`queued`: waiting; `active`: waiting or
//!   running). A move out of the scope clears `unique_scope`, so that a job that comes back
//!   later (a retry of a `queued` job, a requeue) never collides with a newer one.
//! - `unique_periods`: the `period` scope, a key per row held until `expires_at`; a unique
//!   index cannot say "created in the last n seconds", a primary key taken with an upsert can.
//! - `recurring_jobs.options`: the priority and unique key its jobs are created with (JSON).
//!
//! The new columns are nullable or have a constant default: adding them rewrites no row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// Which jobs hold their unique key: those whose scope still holds them, in its states.
const HOLDS_KEY: &str = "(unique_scope = 'queued' \
     AND state IN ('scheduled', 'enqueued', 'awaiting')) \
     OR (unique_scope = 'active' \
     AND state IN ('scheduled', 'enqueued', 'awaiting', 'processing'))";

/// The statements of one backend, in the order `up` runs them.
struct Statements {
    add_columns: [&'static str; 4],
    claim_index_before: &'static str,
    claim_index_after: &'static str,
    claim_index: &'static str,
    unique_periods: &'static str,
}

const POSTGRES: Statements = Statements {
    add_columns: [
        "ALTER TABLE jobs ADD COLUMN priority smallint NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN unique_key text",
        "ALTER TABLE jobs ADD COLUMN unique_scope text",
        "ALTER TABLE recurring_jobs ADD COLUMN options text",
    ],
    claim_index: "jobs_enqueued_fifo",
    claim_index_before: "CREATE INDEX jobs_enqueued_fifo ON jobs (workspace, queue, (id + 0)) \
         WHERE state = 'enqueued'",
    claim_index_after: "CREATE INDEX jobs_enqueued_fifo \
         ON jobs (workspace, queue, priority, (id + 0)) WHERE state = 'enqueued'",
    unique_periods: "CREATE TABLE unique_periods (workspace text COLLATE \"C\" NOT NULL, \
         key text NOT NULL, job_id bigint, expires_at bigint NOT NULL, \
         PRIMARY KEY (workspace, key))",
};

const SQLITE: Statements = Statements {
    add_columns: [
        "ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN unique_key TEXT",
        "ALTER TABLE jobs ADD COLUMN unique_scope TEXT",
        "ALTER TABLE recurring_jobs ADD COLUMN options TEXT",
    ],
    claim_index: "jobs_enqueued",
    claim_index_before: "CREATE INDEX jobs_enqueued ON jobs (workspace, queue, id) \
         WHERE state = 'enqueued'",
    claim_index_after: "CREATE INDEX jobs_enqueued ON jobs (workspace, queue, priority, id) \
         WHERE state = 'enqueued'",
    unique_periods: "CREATE TABLE unique_periods (workspace TEXT NOT NULL, key TEXT NOT NULL, \
         job_id INTEGER, expires_at INTEGER NOT NULL, PRIMARY KEY (workspace, key))",
};

impl Statements {
    fn up(&self) -> Vec<String> {
        let mut up: Vec<String> = self.add_columns.iter().map(|&s| s.to_owned()).collect();
        up.push(format!("DROP INDEX {}", self.claim_index));
        up.push(self.claim_index_after.to_owned());
        up.push(format!(
            "CREATE UNIQUE INDEX jobs_unique ON jobs (workspace, unique_scope, unique_key) \
             WHERE {HOLDS_KEY}"
        ));
        up.push(self.unique_periods.to_owned());
        up.push("CREATE INDEX unique_periods_expires_at ON unique_periods (expires_at)".into());
        up
    }

    fn down(&self) -> Vec<String> {
        let mut down = vec![
            "DROP TABLE unique_periods".to_owned(),
            "DROP INDEX jobs_unique".to_owned(),
            format!("DROP INDEX {}", self.claim_index),
            self.claim_index_before.to_owned(),
        ];
        down.extend(self.add_columns.iter().rev().map(|add| {
            let (table, column) = added_column(add);
            format!("ALTER TABLE {table} DROP COLUMN {column}")
        }));
        down
    }
}

/// The table and column of an `ALTER TABLE t ADD COLUMN c …` statement.
fn added_column(statement: &str) -> (&str, &str) {
    let words: Vec<&str> = statement.split_whitespace().collect();
    (words[2], words[5])
}

fn statements(backend: DbBackend) -> &'static Statements {
    match backend {
        DbBackend::Sqlite => &SQLITE,
        _ => &POSTGRES,
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, statements(manager.get_database_backend()).up()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, statements(manager.get_database_backend()).down()).await
    }

    /// All or nothing on SQLite too: a claim index dropped and not yet made again would leave
    /// every claim a scan.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
