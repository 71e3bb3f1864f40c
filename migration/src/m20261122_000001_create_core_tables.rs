//! The core tables: jobs, their state history, counters and servers, with the indexes the hot
//! paths need. Partial indexes keep each path's index as small as the rows it looks for.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    JobType,
    Queue,
    State,
    Args,
    Attempt,
    MaxRetries,
    RetryDelays,
    OnExhausted,
    RunAt,
    CreatedAt,
    StateAt,
    Reason,
    Data,
    LeaseOwner,
    LeaseUntil,
    ExpireAt,
}

#[derive(DeriveIden)]
enum JobHistory {
    Table,
    Id,
    JobId,
    State,
    Reason,
    Data,
    At,
}

#[derive(DeriveIden)]
enum Counters {
    Table,
    Key,
    Value,
    ExpireAt,
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    Id,
    Workers,
    Queues,
    StartedAt,
    HeartbeatAt,
}

fn id_column<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn jobs_table() -> TableCreateStatement {
    Table::create()
        .table(Jobs::Table)
        .col(id_column(Jobs::Id))
        .col(ColumnDef::new(Jobs::JobType).string().not_null())
        .col(ColumnDef::new(Jobs::Queue).string().not_null())
        .col(ColumnDef::new(Jobs::State).string().not_null())
        .col(ColumnDef::new(Jobs::Args).text().not_null())
        .col(
            ColumnDef::new(Jobs::Attempt)
                .integer()
                .not_null()
                .default(0),
        )
        .col(ColumnDef::new(Jobs::MaxRetries).integer().not_null())
        .col(ColumnDef::new(Jobs::RetryDelays).text().null())
        .col(ColumnDef::new(Jobs::OnExhausted).string().not_null())
        .col(ColumnDef::new(Jobs::RunAt).big_integer().null())
        .col(ColumnDef::new(Jobs::CreatedAt).big_integer().not_null())
        .col(ColumnDef::new(Jobs::StateAt).big_integer().not_null())
        .col(ColumnDef::new(Jobs::Reason).text().null())
        .col(ColumnDef::new(Jobs::Data).text().null())
        .col(ColumnDef::new(Jobs::LeaseOwner).string().null())
        .col(ColumnDef::new(Jobs::LeaseUntil).big_integer().null())
        .col(ColumnDef::new(Jobs::ExpireAt).big_integer().null())
        .to_owned()
}

fn job_history_table() -> TableCreateStatement {
    Table::create()
        .table(JobHistory::Table)
        .col(id_column(JobHistory::Id))
        .col(ColumnDef::new(JobHistory::JobId).big_integer().not_null())
        .col(ColumnDef::new(JobHistory::State).string().not_null())
        .col(ColumnDef::new(JobHistory::Reason).text().null())
        .col(ColumnDef::new(JobHistory::Data).text().null())
        .col(ColumnDef::new(JobHistory::At).big_integer().not_null())
        .to_owned()
}

fn counters_table() -> TableCreateStatement {
    Table::create()
        .table(Counters::Table)
        .col(
            ColumnDef::new(Counters::Key)
                .string()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(Counters::Value).big_integer().not_null())
        .col(ColumnDef::new(Counters::ExpireAt).big_integer().null())
        .to_owned()
}

fn servers_table() -> TableCreateStatement {
    Table::create()
        .table(Servers::Table)
        .col(
            ColumnDef::new(Servers::Id)
                .string()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(Servers::Workers).integer().not_null())
        .col(ColumnDef::new(Servers::Queues).text().not_null())
        .col(ColumnDef::new(Servers::StartedAt).big_integer().not_null())
        .col(
            ColumnDef::new(Servers::HeartbeatAt)
                .big_integer()
                .not_null(),
        )
        .to_owned()
}

/// A partial index on `jobs` covering only the rows in `state`.
fn jobs_index_in_state<const N: usize>(
    name: &str,
    state: &str,
    columns: [Jobs; N],
) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .name(name)
        .table(Jobs::Table)
        .and_where(Expr::col(Jobs::State).eq(state));
    for column in columns {
        index.col(column);
    }
    index.to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        // The claim: the oldest enqueued jobs of the worked queues.
        jobs_index_in_state("jobs_enqueued", "enqueued", [Jobs::Queue, Jobs::Id]),
        // Promotion of delayed jobs and retries.
        jobs_index_in_state("jobs_scheduled", "scheduled", [Jobs::RunAt]),
        // Recovery of jobs whose lease ran out.
        jobs_index_in_state("jobs_processing", "processing", [Jobs::LeaseUntil]),
        // Lists by state, newest first.
        Index::create()
            .name("jobs_state_id")
            .table(Jobs::Table)
            .col(Jobs::State)
            .col(Jobs::Id)
            .to_owned(),
        // Expiry of finished jobs.
        Index::create()
            .name("jobs_expire_at")
            .table(Jobs::Table)
            .col(Jobs::ExpireAt)
            .and_where(Expr::col(Jobs::ExpireAt).is_not_null())
            .to_owned(),
        Index::create()
            .name("job_history_job_id")
            .table(JobHistory::Table)
            .col(JobHistory::JobId)
            .col(JobHistory::Id)
            .to_owned(),
    ]
}

/// History is appended by the database itself: a row for every job created and for every
/// update that sets `state_at`, which every state change does (and nothing else does).
/// This keeps "every transition appends a history row" true whatever code moves a job, and
/// costs no extra statement on the hot path.
fn history_triggers(backend: DbBackend) -> Vec<&'static str> {
    match backend {
        DbBackend::Sqlite => vec![
            "CREATE TRIGGER jobs_history_on_insert AFTER INSERT ON jobs BEGIN \
             INSERT INTO job_history (job_id, state, reason, data, at) \
             VALUES (NEW.id, NEW.state, NEW.reason, NEW.data, NEW.state_at); END",
            "CREATE TRIGGER jobs_history_on_update AFTER UPDATE OF state_at ON jobs BEGIN \
             INSERT INTO job_history (job_id, state, reason, data, at) \
             VALUES (NEW.id, NEW.state, NEW.reason, NEW.data, NEW.state_at); END",
        ],
        _ => vec![
            "CREATE FUNCTION jobs_append_history() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN INSERT INTO job_history (job_id, state, reason, data, at) \
             VALUES (NEW.id, NEW.state, NEW.reason, NEW.data, NEW.state_at); RETURN NULL; END $$",
            "CREATE TRIGGER jobs_history AFTER INSERT OR UPDATE OF state_at ON jobs \
             FOR EACH ROW EXECUTE FUNCTION jobs_append_history()",
        ],
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            jobs_table(),
            job_history_table(),
            counters_table(),
            servers_table(),
        ] {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        let db = manager.get_connection();
        for trigger in history_triggers(manager.get_database_backend()) {
            db.execute_unprepared(trigger).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Servers::Table.into_iden(),
            Counters::Table.into_iden(),
            JobHistory::Table.into_iden(),
            Jobs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            let drop = "DROP FUNCTION jobs_append_history()";
            manager.get_connection().execute_unprepared(drop).await?;
        }
        Ok(())
    }
}
