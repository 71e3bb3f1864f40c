//! stoker's schema migrations: the [`Migrator`] lists them in order, one file each, append-only.
//!
//! A workspace's storage runs `Migrator::up` when it is opened, so a newer stoker brings an older
//! workspace up to date by itself. Never edit a migration that has shipped: add another.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_core_tables;
mod m20261122_000002_recurring_and_continuations;
mod m20261122_000003_locks_and_wakeups;
mod m20261122_000004_job_counts;
mod m20261123_000005_claim_order;
mod m20261123_000006_statements_append_history;
mod m20261123_000007_fewer_job_indexes;
mod m20261124_000008_state_index_off_the_main_path;
mod m20261201_000009_workspace_in_every_key;
mod m20261207_000010_trace_parent;
mod m20261207_000011_priority_and_unique_jobs;

/// Runs `statements` in order, for the migrations written as SQL text per backend.
async fn execute_all(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::ConnectionTrait;
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(&statement).await?;
    }
    Ok(())
}

/// Every migration of stoker's schema, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_core_tables::Migration),
            Box::new(m20261122_000002_recurring_and_continuations::Migration),
            Box::new(m20261122_000003_locks_and_wakeups::Migration),
            Box::new(m20261122_000004_job_counts::Migration),
            Box::new(m20261123_000005_claim_order::Migration),
            Box::new(m20261123_000006_statements_append_history::Migration),
            Box::new(m20261123_000007_fewer_job_indexes::Migration),
            Box::new(m20261124_000008_state_index_off_the_main_path::Migration),
            Box::new(m20261201_000009_workspace_in_every_key::Migration),
            Box::new(m20261207_000010_trace_parent::Migration),
            Box::new(m20261207_000011_priority_and_unique_jobs::Migration),
        ]
    }
}
