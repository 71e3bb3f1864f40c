//! `jobs.trace_parent`: the W3C `traceparent` of the span that enqueued a job, so that its runs
//! continue that trace. Nullable without a default, so adding it rewrites no row on either
//! backend.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    TraceParent,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let add = Table::alter()
            .table(Jobs::Table)
            .add_column(ColumnDef::new(Jobs::TraceParent).text().null())
            .to_owned();
        manager.alter_table(add).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drop = Table::alter()
            .table(Jobs::Table)
            .drop_column(Jobs::TraceParent)
            .to_owned();
        manager.alter_table(drop).await
    }
}
