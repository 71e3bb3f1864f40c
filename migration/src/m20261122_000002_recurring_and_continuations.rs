//! Recurring jobs (their own table) and continuations (a job waiting for its parent).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum RecurringJobs {
    Table,
    Id,
    JobType,
    Args,
    Queue,
    Cron,
    TimeZone,
    Misfire,
    Paused,
    NextExecution,
    LastExecution,
    LastJobId,
    Error,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    State,
    ParentId,
    ContinueOn,
}

fn recurring_jobs_table() -> TableCreateStatement {
    Table::create()
        .table(RecurringJobs::Table)
        .col(
            ColumnDef::new(RecurringJobs::Id)
                .string()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(RecurringJobs::JobType).string().not_null())
        .col(ColumnDef::new(RecurringJobs::Args).text().not_null())
        .col(ColumnDef::new(RecurringJobs::Queue).string().not_null())
        .col(ColumnDef::new(RecurringJobs::Cron).string().not_null())
        .col(ColumnDef::new(RecurringJobs::TimeZone).string().not_null())
        .col(ColumnDef::new(RecurringJobs::Misfire).string().not_null())
        .col(
            ColumnDef::new(RecurringJobs::Paused)
                .boolean()
                .not_null()
                .default(false),
        )
        .col(
            ColumnDef::new(RecurringJobs::NextExecution)
                .big_integer()
                .null(),
        )
        .col(
            ColumnDef::new(RecurringJobs::LastExecution)
                .big_integer()
                .null(),
        )
        .col(
            ColumnDef::new(RecurringJobs::LastJobId)
                .big_integer()
                .null(),
        )
        .col(ColumnDef::new(RecurringJobs::Error).text().null())
        .col(
            ColumnDef::new(RecurringJobs::CreatedAt)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(RecurringJobs::UpdatedAt)
                .big_integer()
                .not_null(),
        )
        .to_owned()
}

fn add_job_column(column: ColumnDef) -> TableAlterStatement {
    Table::alter()
        .table(Jobs::Table)
        .add_column(column)
        .to_owned()
}

fn drop_job_column(column: Jobs) -> TableAlterStatement {
    Table::alter()
        .table(Jobs::Table)
        .drop_column(column)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(recurring_jobs_table()).await?;
        manager
            .create_index(
                Index::create()
                    .name("recurring_jobs_due")
                    .table(RecurringJobs::Table)
                    .col(RecurringJobs::NextExecution)
                    .and_where(Expr::col(RecurringJobs::Paused).eq(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(add_job_column(
                ColumnDef::new(Jobs::ParentId)
                    .big_integer()
                    .null()
                    .to_owned(),
            ))
            .await?;
        manager
            .alter_table(add_job_column(
                ColumnDef::new(Jobs::ContinueOn).string().null().to_owned(),
            ))
            .await?;
        // Releasing the continuations of a job that finished.
        manager
            .create_index(
                Index::create()
                    .name("jobs_awaiting_parent")
                    .table(Jobs::Table)
                    .col(Jobs::ParentId)
                    .and_where(Expr::col(Jobs::State).eq("awaiting"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("jobs_awaiting_parent")
                    .table(Jobs::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(drop_job_column(Jobs::ContinueOn))
            .await?;
        manager.alter_table(drop_job_column(Jobs::ParentId)).await?;
        manager
            .drop_table(Table::drop().table(RecurringJobs::Table).to_owned())
            .await
    }
}
