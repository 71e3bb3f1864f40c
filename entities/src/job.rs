//! `jobs`: one row per job, holding its current state and what is needed to run and retry it.

use sea_orm::entity::prelude::*;

/// A job as stored.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    /// The workspace the row belongs to: its name in a store that all workspaces share, `''`
    /// in a store of its own (a file, schema or database per workspace).
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace: String,
    /// Assigned by the database, never reused within a store (SQLite `AUTOINCREMENT`,
    /// PostgreSQL identity); the API knows a job by its workspace and this id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// The registered job type name.
    pub job_type: String,
    /// The queue the job waits in.
    pub queue: String,
    /// The state name (`enqueued`, `scheduled`, `processing`, ...).
    pub state: String,
    /// The arguments, as JSON text.
    pub args: String,
    /// How many runs have started (a run lost with its process counts).
    pub attempt: i32,
    /// How many retries follow a first failed run.
    pub max_retries: i32,
    /// Fixed retry delays in seconds as a JSON array; null means the default backoff.
    pub retry_delays: Option<String>,
    /// The state a job takes when its retries run out: `failed` or `deleted`.
    pub on_exhausted: String,
    /// When a `scheduled` job becomes due.
    pub run_at: Option<i64>,
    /// When the job was created.
    pub created_at: i64,
    /// When the job entered its current state.
    pub state_at: i64,
    /// Why the job is in its current state, for people.
    pub reason: Option<String>,
    /// Details of the current state as JSON text, such as a failed run's error; copied into
    /// the state's history row.
    pub data: Option<String>,
    /// The server running the job while it is `processing`.
    pub lease_owner: Option<String>,
    /// Until when the running server's claim holds; after it the job is recovered.
    pub lease_until: Option<i64>,
    /// When a finished job is removed.
    pub expire_at: Option<i64>,
    /// For a continuation: the job it waits for.
    pub parent_id: Option<i64>,
    /// For a continuation: the parent's state it waits for (`succeeded`, `finished`, `deleted`).
    pub continue_on: Option<String>,
    /// The W3C `traceparent` of the span that enqueued the job, when the `opentelemetry`
    /// feature saw one: each run's span is its child.
    pub trace_parent: Option<String>,
    /// Within its queue, lower starts first (0..9); equal priorities in id order.
    pub priority: i16,
    /// The unique key it was enqueued with, if any.
    pub unique_key: Option<String>,
    /// The scope its unique key is held in (`queued`, `active`, `period`); cleared when the job
    /// leaves the scope's states, which releases the key.
    pub unique_scope: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
