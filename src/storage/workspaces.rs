//! The `workspaces` table of a store that workspaces share: one row per workspace, written when
//! the workspace is first opened. A store of one workspace's own leaves it empty (the file,
//! schema or database is the workspace).

use entities::{job, workspace};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use super::{Storage, StorageResult, states};
use crate::name::WorkspaceName;
use crate::state::JobState;

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
    #[cfg(feature = "sqlite")]
    pub(super) async fn holds(&self, name: &WorkspaceName) -> StorageResult<bool> {
        let find = workspace::Entity::find_by_id(name.to_string());
        Ok(self.reading(async |db| find.one(db).await).await?.is_some())
    }

    /// The names of the workspaces this shared store holds.
    #[cfg(feature = "sqlite")]
    pub(super) async fn held(&self) -> StorageResult<Vec<String>> {
        use sea_orm::{QueryOrder, QuerySelect};
        let find = workspace::Entity::find()
            .select_only()
            .column(workspace::Column::Name)
            .order_by_asc(workspace::Column::Name)
            .into_tuple();
        self.reading(async |db| find.all(db).await).await
    }

    /// The workspaces of this shared store with jobs waiting in a queue: one probe of the
    /// queue index per workspace, for a server that has just started or reconnected and may
    /// have missed the news of them.
    pub(crate) async fn waiting_workspaces(&self) -> StorageResult<Vec<String>> {
        let name = (workspace::Entity, workspace::Column::Name);
        let queued = Query::select()
            .expr(Expr::val(1))
            .from(job::Entity)
            .and_where(Expr::col((job::Entity, job::Column::Workspace)).equals(name))
            .and_where(states::is(JobState::Enqueued))
            .to_owned();
        let waiting = Query::select()
            .column(name)
            .from(workspace::Entity)
            .and_where(Expr::exists(queued))
            .to_owned();
        let rows = self
            .reading(async |db| db.query_all(&waiting).await)
            .await?;
        Ok(rows
            .iter()
            .map(|row| row.try_get_by_index::<String>(0))
            .collect::<Result<_, _>>()?)
    }
}
