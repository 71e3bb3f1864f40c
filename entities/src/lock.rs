//! `locks`: named leases, each held by one owner until it expires or is released.

use sea_orm::entity::prelude::*;

/// A lease on a name: whoever holds an unexpired one may do the work it guards.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "locks")]
pub struct Model {
    /// The workspace the row belongs to: its name in a store that all workspaces share, `''`
    /// in a store of its own (a file, schema or database per workspace).
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace: String,
    /// What the lease guards.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Who holds it (a server id, or whatever the caller names itself).
    pub owner: String,
    /// When it lapses unless renewed.
    pub expires_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
