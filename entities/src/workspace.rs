//! `workspaces`: the workspaces of a store that all of them share, one row each. A store of one
//! workspace's own (a file, schema or database) leaves it empty: the store is the workspace.

use sea_orm::entity::prelude::*;

/// A workspace in shared tables.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workspaces")]
pub struct Model {
    /// The workspace's name (see `stoker::WorkspaceName`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// When it was created.
    pub created_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
