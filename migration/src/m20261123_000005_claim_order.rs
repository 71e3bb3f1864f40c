//! On PostgreSQL, the claim's index orders queued jobs by `id + 0` instead of `id`: an order
//! the primary key cannot give. With `id`, PostgreSQL could also walk the primary key and
//! filter, and did whenever its statistics were older than a burst: taken while every job was
//! still queued, they made the walk look as cheap as the index, and each claim then stepped
//! over every job finished since (60,000 rows, 55 ms per claim), until autovacuum analysed
//! the table again. SQLite keeps `jobs_enqueued`: it has no statistics unless asked for them,
//! and plans the claim the same way every time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const FIFO_INDEX: &str =
    "CREATE INDEX jobs_enqueued_fifo ON jobs (queue, (id + 0)) WHERE state = 'enqueued'";
const ID_INDEX: &str = "CREATE INDEX jobs_enqueued ON jobs (queue, id) WHERE state = 'enqueued'";

/// Creates `create`, then drops the index named `drop`, on PostgreSQL only.
async fn swap_index(manager: &SchemaManager<'_>, create: &str, drop: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    db.execute_unprepared(create).await?;
    db.execute_unprepared(&format!("DROP INDEX {drop}")).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        swap_index(manager, FIFO_INDEX, "jobs_enqueued").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        swap_index(manager, ID_INDEX, "jobs_enqueued_fifo").await
    }
}
