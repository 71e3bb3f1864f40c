//! The index of jobs by state leaves the main path. `jobs_state_id` took an entry from every
//! row version of every job: three for a job that goes from `enqueued` through `processing` to
//! `succeeded`. It gives way to two partial indexes:
//!
//! - `jobs_running`: the running jobs by id, for the heartbeat's renewal, recovery and release
//!   (which look among the running jobs, never more than the workers of all servers), for a
//!   completion (whose ids it holds, where a walk over the state would also step over the
//!   entries of every job finished since the last vacuum), and for the list of running jobs.
//! - `jobs_waiting_or_ended`: `scheduled`, `awaiting`, `failed` and `deleted` jobs by state and
//!   id, for their lists, newest first.
//!
//! A job on the main path now enters one index for its state (`jobs_running`) where it entered
//! three. Lists of `enqueued` and `succeeded` jobs walk the primary key from the newest job
//! down, which finds a page at once where those states are common, and the claim's index
//! still serves the queue of a list of enqueued jobs. The predicate is a chain of `OR`s, not
//! `IN`: SQLite uses a partial index when a term of the query's `WHERE` is one of the terms of
//! the index's, and PostgreSQL proves it either way.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const RUNNING: &str = "CREATE INDEX jobs_running ON jobs (id) WHERE state = 'processing'";
const WAITING_OR_ENDED: &str = "CREATE INDEX jobs_waiting_or_ended ON jobs (state, id) \
     WHERE state = 'scheduled' OR state = 'awaiting' OR state = 'failed' OR state = 'deleted'";
const BY_STATE: &str = "CREATE INDEX jobs_state_id ON jobs (state, id)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(RUNNING).await?;
        db.execute_unprepared(WAITING_OR_ENDED).await?;
        db.execute_unprepared("DROP INDEX jobs_state_id").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(BY_STATE).await?;
        db.execute_unprepared("DROP INDEX jobs_waiting_or_ended")
            .await?;
        db.execute_unprepared("DROP INDEX jobs_running").await?;
        Ok(())
    }
}
