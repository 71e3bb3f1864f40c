//! [`Transaction`]: enqueueing inside the application's own database transaction, where
//! stoker's tables live in the application's database. The jobs exist if and only if the
//! transaction commits; the workspace hears of them after the commit, not before.

use std::ops::Deref;
use std::sync::Mutex;

use sea_orm::DatabaseTransaction;

use super::workspace::{Enqueued, Workspace, earliest_due, enqueued, enqueued_events};
use crate::error::Result;
use crate::job::{Job, JobId, NewJob};
use crate::storage::{Created, StorageError};

/// A transaction on the application's database, begun by [`Workspace::transaction`], in which
/// the application writes its own rows (through SeaORM, on `&*txn`) and enqueues jobs. Commit
/// it with [`Transaction::commit`]: the jobs are stored with the application's rows, and the
/// workspace is woken to run them. Dropped or rolled back, neither the rows nor the jobs
/// exist.
///
/// Events are told after the commit. On PostgreSQL every server hears of the jobs from the
/// database as the commit lands, so a job's `Started` may be told before the `Enqueued` that
/// `commit` tells once the database has answered.
///
/// The ids a rolled-back transaction handed out name no job; on SQLite a later job may be
/// given one of them.
///
/// Enqueues here take the application's turn to write: on SQLite, begin with a write (or
/// keep the transaction short), as for any writer sharing the file; on PostgreSQL every
/// server of the workspace hears of the jobs when the commit lands.
pub struct Transaction {
    txn: DatabaseTransaction,
    workspace: Workspace,
    stored: Mutex<Stored>,
}

/// What the transaction enqueued, told to the workspace once it commits.
#[derive(Default)]
struct Stored {
    created: Vec<Created>,
    earliest_due: Option<i64>,
}

impl Transaction {
    pub(super) fn new(workspace: Workspace, txn: DatabaseTransaction) -> Self {
        Transaction {
            txn,
            workspace,
            stored: Mutex::default(),
        }
    }

    /// Enqueues a typed job in this transaction; returns its id.
    pub async fn enqueue<J: Job>(&self, job: J) -> Result<JobId> {
        Ok(self.enqueue_job(NewJob::of(&job)).await?.id)
    }

    /// Enqueues one job with its options in this transaction.
    pub async fn enqueue_job(&self, job: NewJob) -> Result<Enqueued> {
        let mut created = self.enqueue_many([job]).await?;
        Ok(created.remove(0))
    }

    /// Enqueues jobs in this transaction: all of them, or none when one is refused (then,
    /// on PostgreSQL, a refusal by the database leaves the transaction to be rolled back).
    pub async fn enqueue_many(
        &self,
        jobs: impl IntoIterator<Item = NewJob>,
    ) -> Result<Vec<Enqueued>> {
        let (rows, now) = self.workspace.prepared(jobs)?;
        let due = earliest_due(&rows);
        let (storage, _) = self.workspace.parts();
        let created = storage.insert_jobs_in(&self.txn, rows, now).await?;
        let mut stored = self.stored.lock().expect("transaction's jobs");
        stored.created.extend_from_slice(&created);
        stored.earliest_due = stored.earliest_due.into_iter().chain(due).min();
        Ok(enqueued(created))
    }

    /// Commits the transaction, then wakes the workspace for the jobs it enqueued and tells
    /// [`Stoker::events`](crate::Stoker::events) of them.
    pub async fn commit(self) -> Result<()> {
        let Transaction {
            txn,
            workspace,
            stored,
        } = self;
        let stored = stored.into_inner().expect("transaction's jobs");
        let committed = txn.commit().await;
        // A commit whose answer was lost may have landed: waking finds out, and costs a claim.
        workspace.wake_for(&stored.created, stored.earliest_due);
        committed.map_err(StorageError::from)?;
        let (_, settings) = workspace.parts();
        settings
            .events
            .emit(workspace.name(), enqueued_events(&stored.created));
        Ok(())
    }

    /// Rolls the transaction back: neither the application's rows nor the jobs exist.
    pub async fn rollback(self) -> Result<()> {
        Ok(self.txn.rollback().await.map_err(StorageError::from)?)
    }
}

impl Deref for Transaction {
    type Target = DatabaseTransaction;

    /// The application's transaction, for its own statements.
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("workspace", &self.workspace.name())
            .finish_non_exhaustive()
    }
}
