//! `recurring_jobs`: jobs created on a cron schedule, one row per recurring job id.

use sea_orm::entity::prelude::*;

/// A recurring job as stored.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recurring_jobs")]
pub struct Model {
    /// The workspace the row belongs to: its name in a store that all workspaces share, `''`
    /// in a store of its own (a file, schema or database per workspace).
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace: String,
    /// Chosen by the application (`^[A-Za-z0-9_.:-]{1,100}$`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The job type of the jobs it creates.
    pub job_type: String,
    /// Their arguments, as JSON text.
    pub args: String,
    /// Their queue.
    pub queue: String,
    /// The cron expression.
    pub cron: String,
    /// The IANA time zone the expression runs in.
    pub time_zone: String,
    /// What happens to occurrences missed while no server ran: `relaxed`, `strict`, `ignorable`.
    pub misfire: String,
    /// Paused recurring jobs create no jobs (trigger still works).
    pub paused: bool,
    /// The next occurrence; null when there is none (or while paused).
    pub next_execution: Option<i64>,
    /// The last occurrence that created a job.
    pub last_execution: Option<i64>,
    /// The last job it created.
    pub last_job_id: Option<i64>,
    /// Why the last occurrence created no job (an unknown job type, undecodable arguments).
    pub error: Option<String>,
    /// When it was first added.
    pub created_at: i64,
    /// When it was last changed.
    pub updated_at: i64,
    /// The options of the jobs it creates besides their queue (priority, unique key), as JSON;
    /// null for none.
    pub options: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
