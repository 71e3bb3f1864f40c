//! `counters`: totals that outlive the jobs they count, all-time and per hour or day.

use sea_orm::entity::prelude::*;

/// A named count, such as `succeeded` or `succeeded:hour:2026-11-22T10`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "counters")]
pub struct Model {
    /// The workspace the row belongs to: its name in a store that all workspaces share, `''`
    /// in a store of its own (a file, schema or database per workspace).
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace: String,
    /// What is counted, and for which period.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// The count.
    pub value: i64,
    /// When a per-period count is dropped; null for all-time totals.
    pub expire_at: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
