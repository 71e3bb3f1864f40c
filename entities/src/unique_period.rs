//! `unique_periods`: the unique keys of the `period` scope, each held until it expires.

use sea_orm::entity::prelude::*;

/// A unique key taken by a job for a period: another job with the key is a duplicate of it
/// until `expires_at`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unique_periods")]
pub struct Model {
    /// The workspace the row belongs to: its name in a store that all workspaces share, `''`
    /// in a store of its own (a file, schema or database per workspace).
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace: String,
    /// The unique key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// The job that took it; null only inside the transaction that creates that job.
    pub job_id: Option<i64>,
    /// When the period ends and the key may be taken again.
    pub expires_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
