//! Two indexes fewer on the path every job takes: each row version a job writes enters every
//! index whose predicate it matches, and on PostgreSQL those insertions were the largest part
//! of the server's time at saturation.
//!
//! - `jobs_processing` (lease ends of running jobs) goes on both backends. Recovery finds the
//!   lapsed leases through `jobs_state_id` among the running jobs, which are never more than
//!   the workers of all servers; and a heartbeat's renewal of leases no longer touches an index
//!   at all.
//! - On PostgreSQL, `job_history`'s primary key becomes `(job_id, id)`, the order a job's
//!   history is read and deleted in, and the separate `job_history_job_id` index goes: one
//!   index per history row instead of two. SQLite's `id` is the table's rowid, not an index of
//!   its own, so it keeps its layout.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const PROCESSING_INDEX: &str =
    "CREATE INDEX jobs_processing ON jobs (lease_until) WHERE state = 'processing'";

const HISTORY_KEYED_BY_JOB: &str = "ALTER TABLE job_history DROP CONSTRAINT job_history_pkey, \
     ADD PRIMARY KEY (job_id, id)";
const HISTORY_KEYED_BY_ID: &str = "ALTER TABLE job_history DROP CONSTRAINT job_history_pkey, \
     ADD PRIMARY KEY (id)";
const HISTORY_JOB_INDEX: &str = "CREATE INDEX job_history_job_id ON job_history (job_id, id)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX jobs_processing").await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(HISTORY_KEYED_BY_JOB).await?;
            db.execute_unprepared("DROP INDEX job_history_job_id")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(HISTORY_JOB_INDEX).await?;
            db.execute_unprepared(HISTORY_KEYED_BY_ID).await?;
        }
        db.execute_unprepared(PROCESSING_INDEX).await?;
        Ok(())
    }
}
