//! Leases for work only one server may do at a time (`locks`), and, on PostgreSQL, a trigger
//! that wakes the other servers' queues when a job becomes `enqueued`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Locks {
    Table,
    Name,
    Owner,
    ExpiresAt,
}

fn locks_table() -> TableCreateStatement {
    Table::create()
        .table(Locks::Table)
        .col(
            ColumnDef::new(Locks::Name)
                .string()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(Locks::Owner).string().not_null())
        .col(ColumnDef::new(Locks::ExpiresAt).big_integer().not_null())
        .to_owned()
}

/// Every row that becomes `enqueued` notifies channel `stoker_enqueued` with the schema's
/// name. PostgreSQL folds identical notifications of one transaction into one, so a batch of
/// enqueues (or a promotion of many due jobs) wakes each listening server once, at commit.
const NOTIFY_FUNCTION: &str = "CREATE FUNCTION jobs_notify_enqueued() RETURNS trigger \
     LANGUAGE plpgsql AS $$ BEGIN \
     PERFORM pg_notify('stoker_enqueued', TG_TABLE_SCHEMA); RETURN NULL; END $$";
const NOTIFY_TRIGGER: &str = "CREATE TRIGGER jobs_notify_enqueued \
     AFTER INSERT OR UPDATE OF state ON jobs FOR EACH ROW \
     WHEN (NEW.state = 'enqueued') EXECUTE FUNCTION jobs_notify_enqueued()";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(locks_table()).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared(NOTIFY_FUNCTION).await?;
            db.execute_unprepared(NOTIFY_TRIGGER).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared("DROP TRIGGER jobs_notify_enqueued ON jobs")
                .await?;
            db.execute_unprepared("DROP FUNCTION jobs_notify_enqueued()")
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Locks::Table).to_owned())
            .await
    }
}
