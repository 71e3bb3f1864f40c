//! [`Workspace`]: the handle of one tenant — enqueue jobs, read them, requeue or delete them.
//! Every input is checked here before storage sees it; a refused call writes nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix::Addr;
use serde::Serialize;

use super::queue::{CancelJob, Wake};
use super::scheduler::DueAt;
use super::settings::{SharedSettings, millis, now_ms};
use super::supervisor::{Shutdown, Supervisor, WorkspaceActors};
use crate::error::{Error, Result};
use crate::job::{Args, Job, JobId, NewJob, Start};
use crate::name::{WorkspaceName, check_queue};
use crate::retry::MAX_ATTEMPTS;
use crate::state::JobState;
use crate::storage::{Action, JobDetails, NewJobRow, Stats, Storage, Transition};

/// A job as it was stored by an enqueue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    /// Its id.
    pub id: JobId,
    /// `enqueued`, or `scheduled` when it waits for its time.
    pub state: JobState,
}

/// One workspace (tenant): its own storage, actors and queues. Cheap to clone.
#[derive(Clone)]
pub struct Workspace {
    inner: Arc<Inner>,
}

struct Inner {
    name: WorkspaceName,
    storage: Storage,
    settings: SharedSettings,
    actors: WorkspaceActors,
    closed: AtomicBool,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("name", &self.inner.name)
            .finish()
    }
}

impl Workspace {
    pub(super) fn new(
        name: WorkspaceName,
        storage: Storage,
        settings: SharedSettings,
        actors: WorkspaceActors,
    ) -> Self {
        Workspace {
            inner: Arc::new(Inner {
                name,
                storage,
                settings,
                actors,
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// The workspace's name.
    pub fn name(&self) -> &str {
        self.inner.name.as_str()
    }

    /// Enqueues a typed job; returns its id.
    pub async fn enqueue<J: Job>(&self, job: J) -> Result<JobId> {
        Ok(self.enqueue_job(NewJob::of(&job)).await?.id)
    }

    /// Enqueues one job with its options.
    pub async fn enqueue_job(&self, job: NewJob) -> Result<Enqueued> {
        let mut created = self.enqueue_many([job]).await?;
        Ok(created.remove(0))
    }

    /// Enqueues jobs in one transaction: all of them, or none when one is refused.
    pub async fn enqueue_many(
        &self,
        jobs: impl IntoIterator<Item = NewJob>,
    ) -> Result<Vec<Enqueued>> {
        self.check_open()?;
        let now = now_ms();
        let rows = jobs
            .into_iter()
            .map(|job| self.prepare(job, now))
            .collect::<Result<Vec<_>>>()?;
        let earliest_due = rows.iter().filter_map(|row| row.run_at).min();
        let created = self.inner.storage.insert_jobs(rows, now).await?;
        if created
            .iter()
            .any(|&(_, state)| state == JobState::Enqueued)
        {
            self.inner.actors.queue.do_send(Wake);
        }
        if let Some(due) = earliest_due {
            self.inner.actors.scheduler.do_send(DueAt(due));
        }
        Ok(created
            .into_iter()
            .map(|(id, state)| Enqueued {
                id: JobId(id),
                state,
            })
            .collect())
    }

    /// Checks `job` against the registry and the naming rules, and resolves its defaults.
    fn prepare(&self, job: NewJob, now: i64) -> Result<NewJobRow> {
        let job_type = self
            .inner
            .settings
            .registry
            .get(&job.job_type)
            .ok_or_else(|| Error::UnknownJobType(job.job_type.clone()))?;
        let invalid_args = |reason| Error::InvalidArgs {
            job_type: job.job_type.clone(),
            reason,
        };
        let args = match job.args {
            Args::Typed(json) => json,
            Args::Json(value) => {
                job_type.check(&value).map_err(invalid_args)?;
                value.to_string()
            }
            Args::Unserializable(reason) => return Err(invalid_args(reason)),
        };
        let queue = job
            .queue
            .clone()
            .unwrap_or_else(|| job_type.queue.to_owned());
        check_queue(&queue)?;
        let retry = job
            .retry
            .clone()
            .unwrap_or_else(|| job_type.retry_policy.clone());
        if retry.attempts > MAX_ATTEMPTS {
            return Err(Error::InvalidRetry(format!(
                "attempts must be at most {MAX_ATTEMPTS}, not {}",
                retry.attempts
            )));
        }
        let delays: Vec<u64> = retry.delays.iter().map(|delay| delay.as_secs()).collect();
        let run_at = match job.start {
            Start::Now => None,
            Start::After(delay) => Some(now + millis(delay)),
            Start::At(at) => Some(at.timestamp_millis()),
        }
        .filter(|&at| at > now);
        Ok(NewJobRow {
            job_type: job.job_type,
            queue,
            args,
            max_retries: retry.attempts as i32,
            retry_delays: (!delays.is_empty()).then(|| serde_json::json!(delays).to_string()),
            on_exhausted: retry.on_exhausted.state(),
            run_at,
        })
    }

    /// Job `id` with its arguments and history.
    pub async fn job(&self, id: JobId) -> Result<JobDetails> {
        self.inner
            .storage
            .job(id.0)
            .await?
            .ok_or(Error::JobNotFound(id))
    }

    /// Puts job `id` back in its queue with its retries reset (not while it runs or waits there).
    pub async fn requeue(&self, id: JobId) -> Result<()> {
        self.act(id, Action::Requeue, "requeued").await?;
        self.inner.actors.queue.do_send(Wake);
        Ok(())
    }

    /// Runs a `scheduled` or `awaiting` job now.
    pub async fn enqueue_now(&self, id: JobId) -> Result<()> {
        self.act(id, Action::EnqueueNow, "enqueued now").await?;
        self.inner.actors.queue.do_send(Wake);
        Ok(())
    }

    /// Deletes job `id`; a running job is asked to stop through its cancellation token.
    pub async fn delete(&self, id: JobId) -> Result<()> {
        let from = self.act(id, Action::Delete, "deleted").await?;
        if from == JobState::Processing {
            self.inner.actors.queue.do_send(CancelJob(id.0));
        }
        Ok(())
    }

    async fn act(&self, id: JobId, action: Action, done: &'static str) -> Result<JobState> {
        self.check_open()?;
        let retention = self.inner.settings.retention_ms();
        match self
            .inner
            .storage
            .apply(id.0, action, now_ms(), retention)
            .await?
        {
            Transition::Moved { from } => Ok(from),
            Transition::NotFound => Err(Error::JobNotFound(id)),
            Transition::Refused(state) => Err(Error::Conflict {
                id,
                state,
                action: done,
            }),
        }
    }

    /// Jobs per state and queue now, and all-time totals.
    pub async fn stats(&self) -> Result<Stats> {
        Ok(self.inner.storage.stats().await?)
    }

    /// What SQLite reports as the journal mode of this workspace's database (`wal`).
    pub async fn journal_mode(&self) -> Result<String> {
        Ok(self.inner.storage.sqlite_journal_mode().await?)
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(Error::ShuttingDown)
        } else {
            Ok(())
        }
    }

    /// Shuts the workspace's actors down gracefully.
    pub(super) async fn shutdown(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let supervisor: &Addr<Supervisor> = &self.inner.actors.supervisor;
        if supervisor.send(Shutdown).await.is_err() {
            tracing::warn!(workspace = %self.inner.name, "workspace supervisor was already gone");
        }
    }
}
