//! Named leases (`locks`): a name held by one owner until a moment it may push back. They
//! guard work only one server may do at a time, and free themselves when their holder dies.

use entities::lock;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::{Storage, StorageResult};

impl Storage {
    /// Takes the lease on `name` for `owner` until `until`, or extends it when `owner` holds
    /// it already. False when someone else holds it and it has not lapsed at `now`.
    pub(crate) async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> StorageResult<bool> {
        self.writing(async |db| take(db, self.key(), name, owner, now, until).await)
            .await
    }

    /// Gives up `owner`'s lease on `name`; false when `owner` did not hold it.
    pub(crate) async fn release_lease(&self, name: &str, owner: &str) -> StorageResult<bool> {
        let delete = lock::Entity::delete_many()
            .filter(lock::Column::Workspace.eq(self.key()))
            .filter(lock::Column::Name.eq(name))
            .filter(lock::Column::Owner.eq(owner));
        let released = self.writing(async |db| delete.exec(db).await).await?;
        Ok(released.rows_affected == 1)
    }
}

/// [`Storage::acquire_lease`] in `db`'s transaction, for the workspace whose rows carry `key`.
pub(super) async fn take(
    db: &impl ConnectionTrait,
    key: &str,
    name: &str,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<bool, DbErr> {
    let row = lock::ActiveModel {
        workspace: Set(key.to_owned()),
        name: Set(name.to_owned()),
        owner: Set(owner.to_owned()),
        expires_at: Set(until),
    };
    let held = Expr::col((lock::Entity, lock::Column::Owner))
        .eq(owner)
        .or(Expr::col((lock::Entity, lock::Column::ExpiresAt)).lte(now));
    let insert = lock::Entity::insert(row).on_conflict(
        OnConflict::columns([lock::Column::Workspace, lock::Column::Name])
            .update_columns([lock::Column::Owner, lock::Column::ExpiresAt])
            .action_and_where(held)
            .to_owned(),
    );
    Ok(insert.exec_without_returning(db).await? == 1)
}
