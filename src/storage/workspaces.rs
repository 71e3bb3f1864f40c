//! The `workspaces` table of a store that workspaces share: one row per workspace, written when
//! the workspace is first opened. A store of one workspace's own leaves it empty (the file,
//! schema or database is the workspace).

use entities::workspace;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder, QuerySelect};

use super::{Storage, StorageResult};
use crate::name::WorkspaceName;

impl Storage {
    /// Records workspace `name` in this shared store at `now`, unless it is there already:
    /// creating a workspace is one statement.
    pub(super) async fn register(&self, name: &WorkspaceName, now: i64) -> StorageResult<()> {
        let row = workspace::ActiveModel {
            name: Set(name.to_string()),
            created_at: Set(now),
        };
        let insert = workspace::Entity::insert(row).on_conflict(
            OnConflict::column(workspace::Column::Name)
                .do_nothing()
                .to_owned(),
        );
        self.writing(async |db| insert.exec_without_returning(db).await)
            .await?;
        Ok(())
    }

    /// Whether this shared store holds workspace `name`.
    pub(super) async fn holds(&self, name: &WorkspaceName) -> StorageResult<bool> {
        let find = workspace::Entity::find_by_id(name.to_string());
        Ok(self.reading(async |db| find.one(db).await).await?.is_some())
    }

    /// The names of the workspaces this shared store holds.
    pub(super) async fn held(&self) -> StorageResult<Vec<String>> {
        let find = workspace::Entity::find()
            .select_only()
            .column(workspace::Column::Name)
            .order_by_asc(workspace::Column::Name)
            .into_tuple();
        self.reading(async |db| find.all(db).await).await
    }
}
