//! `job_counts`: how many jobs are in each state of each queue, kept by the database's
//! triggers as jobs are created, move and expire. A count is the sum of its slots.

use sea_orm::entity::prelude::*;

/// One slot of the count of jobs in one state of one queue.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_counts")]
pub struct Model {
    /// The workspace the row belongs to: its name in a store that all workspaces share, `''`
    /// in a store of its own (a file, schema or database per workspace).
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace: String,
    /// The state counted.
    #[sea_orm(primary_key, auto_increment = false)]
    pub state: String,
    /// The queue counted.
    #[sea_orm(primary_key, auto_increment = false)]
    pub queue: String,
    /// Which slot (PostgreSQL spreads concurrent writers over slots; SQLite uses 0).
    #[sea_orm(primary_key, auto_increment = false)]
    pub slot: i32,
    /// This slot's part of the count (may be negative; the sum is not).
    pub n: i64,
}

impl ActiveModelBehavior for ActiveModel {}
