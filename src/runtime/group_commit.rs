//! Group commit of enqueues: concurrent enqueue calls share one transaction. A call queues its
//! rows; if no write is under way it starts one, which takes everything queued by then, stores
//! it in one transaction and hands each call its own ids; calls that arrive meanwhile go in the
//! next round. The write runs as its own task, so a caller that goes away (a client that hung
//! up) cannot strand the others. If a shared transaction fails because of one call's rows (a
//! continuation whose parent is missing), each call is tried alone, so one call's bad batch
//! never fails another's; if storage itself failed, every call gets that answer at once rather
//! than waiting out the outage once per call.

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::settings::SharedSettings;
use super::workspace::enqueued_events;
use crate::error::{Error, Result};
use crate::storage::{Created, NewJobRow, Storage, StorageError, StorageResult};

type Answer = StorageResult<Vec<Created>>;

struct Call {
    rows: Vec<NewJobRow>,
    done: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Queue {
    calls: Vec<Call>,
    writing: bool,
}

/// The enqueue path of one workspace.
#[derive(Clone)]
pub(super) struct GroupCommit {
    queue: Arc<Mutex<Queue>>,
    storage: Storage,
    settings: SharedSettings,
    workspace: Arc<str>,
}

impl GroupCommit {
    pub(super) fn new(storage: Storage, settings: SharedSettings, workspace: &str) -> Self {
        GroupCommit {
            queue: Arc::default(),
            storage,
            settings,
            workspace: workspace.into(),
        }
    }

    /// Stores `rows` (all or none), sharing the transaction with concurrent calls. A writer
    /// dropped before it answered (its async runtime ended mid-write) is
    /// [`Error::ShuttingDown`]: the rows may or may not have been stored.
    pub(super) async fn insert(&self, rows: Vec<NewJobRow>) -> Result<Vec<Created>> {
        let (done, created) = oneshot::channel();
        let start = {
            let mut queue = self.queue.lock().expect("enqueue queue lock");
            queue.calls.push(Call { rows, done });
            !std::mem::replace(&mut queue.writing, true)
        };
        if start {
            let writer = self.clone();
            tokio::spawn(async move { writer.write_rounds().await });
        }
        let answer = created.await.map_err(|_| Error::ShuttingDown)?;
        Ok(answer?)
    }

    /// Writes rounds until nothing is queued.
    async fn write_rounds(self) {
        loop {
            let calls = {
                let mut queue = self.queue.lock().expect("enqueue queue lock");
                if queue.calls.is_empty() {
                    queue.writing = false;
                    return;
                }
                std::mem::take(&mut queue.calls)
            };
            self.write(calls).await;
        }
    }

    /// Stores `rows` in one transaction and tells subscribers of them before any caller hears,
    /// so that a job's `Enqueued` comes before its `Started` (see `Stoker::events`). A duplicate
    /// is no news.
    async fn stored(&self, rows: Vec<NewJobRow>, now: i64) -> Answer {
        let created = self.storage.insert_jobs(rows, now).await?;
        self.settings
            .events
            .emit(&self.workspace, enqueued_events(&created));
        Ok(created)
    }

    async fn write(&self, calls: Vec<Call>) {
        let now = self.settings.now_ms();
        if calls.len() == 1 {
            let call = calls.into_iter().next().expect("one call");
            let _ = call.done.send(self.stored(call.rows, now).await);
            return;
        }
        let sizes: Vec<usize> = calls.iter().map(|call| call.rows.len()).collect();
        let rows: Vec<NewJobRow> = calls
            .iter()
            .flat_map(|call| call.rows.iter().cloned())
            .collect();
        match self.stored(rows, now).await {
            Ok(created) => {
                let mut created = created.into_iter();
                for (call, size) in calls.into_iter().zip(sizes) {
                    let _ = call.done.send(Ok(created.by_ref().take(size).collect()));
                }
            }
            Err(StorageError::MissingParent(_)) => {
                for call in calls {
                    let _ = call.done.send(self.stored(call.rows, now).await);
                }
            }
            Err(error) => {
                let shared = Arc::new(error);
                for call in calls {
                    let _ = call.done.send(Err(StorageError::Shared(shared.clone())));
                }
            }
        }
    }
}
