//! `job_history`: one row per state transition of a job, never updated. SQLite's triggers on
//! `jobs` append them; on PostgreSQL the statements that write jobs do (`storage::history`).

use sea_orm::entity::prelude::*;

/// A state a job entered.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_history")]
pub struct Model {
    /// The workspace the row belongs to: its name in a store that all workspaces share, `''`
    /// in a store of its own (a file, schema or database per workspace).
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace: String,
    /// Insertion order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// The job that moved.
    pub job_id: i64,
    /// The state it entered.
    pub state: String,
    /// Why, for people.
    pub reason: Option<String>,
    /// Details as JSON text, such as a failed attempt's error.
    pub data: Option<String>,
    /// When.
    pub at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
