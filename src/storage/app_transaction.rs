//! Enqueues inside the application's own transaction: where stoker's tables live in the
//! application's database, its jobs are written in the transaction the application commits or
//! rolls back, with the statements of every other enqueue, so that they exist if and only if
//! it commits. This module checks that the transaction reaches the workspace's store and
//! writes there; waking the workspace after the commit is the caller's part.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};

use super::enqueue::{self, Created, NewJobRow};
use super::{Storage, StorageError, StorageResult};

impl Storage {
    /// Refuses the application's transaction `txn` unless it reaches this workspace's store:
    /// the same backend, and the same SQLite file or PostgreSQL database.
    pub(crate) async fn check_reaches(&self, txn: &DatabaseTransaction) -> StorageResult<()> {
        let (ours, theirs) = (
            self.writer.get_database_backend(),
            txn.get_database_backend(),
        );
        if ours != theirs {
            return Err(StorageError::Config(format!(
                "the transaction is on {theirs:?}, the workspace's rows on {ours:?}"
            )));
        }
        let our_store = self
            .reading_on_writer(async |db| store_of(db, ours).await)
            .await?;
        let their_store = store_of(txn, theirs).await?;
        if our_store != their_store {
            return Err(StorageError::Config(format!(
                "the transaction is on {their_store:?}, the workspace's rows on {our_store:?}"
            )));
        }
        Ok(())
    }

    /// Stores `jobs` in the application's transaction `txn` (which [`Storage::check_reaches`]
    /// accepted) and answers each, in order. The application's statements
    /// after it see its own search path again.
    pub(crate) async fn insert_jobs_in(
        &self,
        txn: &DatabaseTransaction,
        jobs: Vec<NewJobRow>,
        now: i64,
    ) -> StorageResult<Vec<Created>> {
        let entered = self.enter_app_transaction(txn).await?;
        let created = enqueue::insert(txn, self.key(), jobs, now, self.retention).await;
        // After a failed statement PostgreSQL refuses every other until the rollback: the
        // failure is the answer, not the refusal of the search path that follows it.
        let left = self.leave_app_transaction(txn, entered).await;
        let created = created?;
        left?;
        Ok(created)
    }
}

/// Which store `db` reaches: SQLite's main file (as an absolute path), or PostgreSQL's
/// database.
async fn store_of(db: &impl ConnectionTrait, backend: DbBackend) -> Result<String, sea_orm::DbErr> {
    let sql = match backend {
        DbBackend::Postgres => "SELECT current_database() AS store",
        _ => "SELECT file AS store FROM pragma_database_list WHERE name = 'main'",
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?;
    let row = row.ok_or_else(|| sea_orm::DbErr::RecordNotFound("the store".into()))?;
    row.try_get("", "store")
}
