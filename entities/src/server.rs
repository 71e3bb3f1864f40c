//! `servers`: the processes working a workspace, with their last heartbeat.

use sea_orm::entity::prelude::*;

/// A running stoker process, as it announced itself.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "servers")]
pub struct Model {
    /// The workspace the row belongs to: its name in a store that all workspaces share, `''`
    /// in a store of its own (a file, schema or database per workspace).
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace: String,
    /// Unique per process start: host, process id and a random suffix.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// How many jobs it runs at once.
    pub workers: i32,
    /// The queues it works, comma-separated, in priority order.
    pub queues: String,
    /// When it started.
    pub started_at: i64,
    /// Its last heartbeat.
    pub heartbeat_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
