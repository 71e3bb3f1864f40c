//! On PostgreSQL, the statements that create and move jobs append their history rows
//! themselves (see `storage::history` in stoker), so the row trigger that did goes. It cost a
//! PL/pgSQL call and an `INSERT` per job written; one `INSERT` per statement for all of them is
//! cheaper. The trigger's function stays, for `down`. SQLite keeps its row triggers, which run
//! inside the statement and cost little.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// Runs `sql` on PostgreSQL only.
async fn on_postgres(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, "DROP TRIGGER jobs_history ON jobs").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let create = "CREATE TRIGGER jobs_history AFTER INSERT OR UPDATE OF state_at ON jobs \
                      FOR EACH ROW EXECUTE FUNCTION jobs_append_history()";
        on_postgres(manager, create).await
    }
}
