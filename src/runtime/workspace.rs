//! [`Workspace`]: the handle of one tenant — enqueue jobs, read them, requeue or delete them.
//! Every input is checked here before storage sees it; a refused call writes nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix::Addr;
use serde::Serialize;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};

use super::activity::Activity;
use super::events::EventKind;
use super::group_commit::GroupCommit;
use super::lock::DistributedLock;
use super::prepare::prepare;
use super::queue::{CancelJob, Wake};
use super::recurring::{self, Cause, RecurringOptions};
use super::scheduler::DueAt;
use super::settings::SharedSettings;
use super::supervisor::{Shutdown, Supervisor, WorkspaceActors};
use super::transaction::Transaction;
use crate::bounds;
use crate::error::{Error, Result};
use crate::job::{Job, JobId, NewJob};
use crate::name::{WorkspaceName, check_recurring_id};
use crate::state::{ContinueOn, JobState};
use crate::storage::{
    Action, Created, Granularity, HistoryPoint, JobDetails, JobFilter, JobPage, NewJobRow,
    RecurringJob, ServerInfo, Stats, Storage, StorageError, StoredRecurring, Transition,
};

/// A job as it was stored by an enqueue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct Enqueued {
    /// Its id.
    pub id: JobId,
    /// `enqueued`, `scheduled` when it waits for its time, `awaiting` when it waits for its
    /// parent; for a duplicate, the state of the job that holds the key.
    pub state: JobState,
    /// Whether no job was created because one with the same unique key is held (see
    /// [`Unique`](crate::Unique)): `id` and `state` are that job's.
    pub duplicate: bool,
}

/// The jobs just stored, as enqueue calls answer them.
pub(super) fn enqueued(created: Vec<Created>) -> Vec<Enqueued> {
    created
        .into_iter()
        .map(|job| Enqueued {
            id: JobId(job.id),
            state: job.state,
            duplicate: job.duplicate,
        })
        .collect()
}

/// The `Enqueued` events of the jobs `created` (duplicates are no news).
pub(super) fn enqueued_events(created: &[Created]) -> impl Iterator<Item = (i64, EventKind)> {
    created
        .iter()
        .filter(|job| !job.duplicate)
        .map(|job| (job.id, EventKind::Enqueued { state: job.state }))
}

/// The earliest time one of `rows` waits for, if any waits.
pub(super) fn earliest_due(rows: &[NewJobRow]) -> Option<i64> {
    rows.iter().filter_map(|row| row.run_at).min()
}

/// One workspace (tenant): its own storage, actors and queues. Cheap to clone.
#[derive(Clone)]
pub struct Workspace {
    inner: Arc<Inner>,
}

struct Inner {
    name: WorkspaceName,
    storage: Storage,
    enqueues: GroupCommit,
    settings: SharedSettings,
    actors: WorkspaceActors,
    activity: Arc<Activity>,
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
        activity: Arc<Activity>,
    ) -> Self {
        Workspace {
            inner: Arc::new(Inner {
                enqueues: GroupCommit::new(storage.clone(), settings.clone(), name.as_str()),
                name,
                storage,
                settings,
                actors,
                activity,
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// The workspace's name.
    pub fn name(&self) -> &str {
        self.inner.name.as_str()
    }

    /// What happens to jobs from now on (see [`Stoker::events`](crate::Stoker::events)).
    pub(crate) fn events(&self) -> super::EventStream {
        self.inner.settings.events.subscribe()
    }

    /// Whether the workspace has a recurring job due to fire, or a job enqueued, running, or
    /// scheduled and due, by the runtime's clock.
    pub(crate) async fn has_work_due(&self) -> Result<bool> {
        let now = self.inner.settings.now_ms();
        Ok(self.inner.storage.has_work_at(now).await?)
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

    /// Enqueues jobs in one transaction: all of them, or none when one is refused. Concurrent
    /// calls share transactions (group commit).
    pub async fn enqueue_many(
        &self,
        jobs: impl IntoIterator<Item = NewJob>,
    ) -> Result<Vec<Enqueued>> {
        let (rows, _) = self.prepared(jobs)?;
        let earliest_due = earliest_due(&rows);
        let created = self.inner.enqueues.insert(rows).await?;
        self.wake_for(&created, earliest_due);
        Ok(enqueued(created))
    }

    /// Begins a transaction on the application's database `db`, which must hold this
    /// workspace's rows, in which the application writes its own rows and enqueues jobs: they
    /// exist if and only if it commits (see [`Transaction`]).
    pub async fn transaction(&self, db: &DatabaseConnection) -> Result<Transaction> {
        self.check_open()?;
        let txn = db.begin().await.map_err(StorageError::from)?;
        self.inner.storage.check_reaches(&txn).await?;
        Ok(Transaction::new(self.clone(), txn))
    }

    /// `jobs` checked and ready to store (all of them, or the first refusal), and the time
    /// they were checked at.
    pub(super) fn prepared(
        &self,
        jobs: impl IntoIterator<Item = NewJob>,
    ) -> Result<(Vec<NewJobRow>, i64)> {
        self.check_open()?;
        let now = self.inner.settings.now_ms();
        let rows = jobs
            .into_iter()
            .map(|job| prepare(&self.inner.settings, job, now))
            .collect::<Result<Vec<_>>>()?;
        Ok((rows, now))
    }

    /// Wakes the queue for the jobs `created` as `enqueued`, and the scheduler for the
    /// earliest due of those that wait.
    pub(super) fn wake_for(&self, created: &[Created], earliest_due: Option<i64>) {
        if created
            .iter()
            .any(|job| job.state == JobState::Enqueued && !job.duplicate)
        {
            self.inner.actors.queue.do_send(Wake);
        }
        if let Some(due) = earliest_due {
            self.inner.actors.due.do_send(DueAt(due));
        }
    }

    /// The storage and settings a [`Transaction`] enqueues with.
    pub(super) fn parts(&self) -> (&Storage, &SharedSettings) {
        (&self.inner.storage, &self.inner.settings)
    }

    /// Enqueues a typed job to run no sooner than `delay` from now (state `scheduled`).
    pub async fn schedule<J: Job>(&self, job: J, delay: Duration) -> Result<JobId> {
        Ok(self.enqueue_job(NewJob::of(&job).delay(delay)).await?.id)
    }

    /// Enqueues a typed job to run no sooner than `at` (state `scheduled`).
    pub async fn schedule_at<J: Job>(&self, job: J, at: DateTime<Utc>) -> Result<JobId> {
        Ok(self.enqueue_job(NewJob::of(&job).run_at(at)).await?.id)
    }

    /// Enqueues `job` as a continuation of `parent` (state `awaiting`): it is enqueued when the
    /// parent meets `on`, at once if it already has, and deleted if it no longer can.
    pub async fn continue_with(
        &self,
        parent: JobId,
        job: NewJob,
        on: ContinueOn,
    ) -> Result<Enqueued> {
        self.enqueue_job(job.after(parent, on)).await
    }

    /// Creates recurring job `id`, or updates its job, schedule and options (a paused job stays
    /// paused). It creates a job at every occurrence of `cron` in the options' time zone.
    pub async fn add_or_update_recurring(
        &self,
        id: &str,
        job: NewJob,
        cron: &str,
        options: RecurringOptions,
    ) -> Result<RecurringJob> {
        self.check_open()?;
        let now = self.inner.settings.now_ms();
        let (row, next) = recurring::definition(&self.inner.settings, id, job, cron, options, now)?;
        self.inner.storage.upsert_recurring(row, next, now).await?;
        if let Some(next) = next {
            self.inner.actors.due.do_send(DueAt(next));
        }
        self.recurring(id).await
    }

    /// Recurring job `id`.
    pub async fn recurring(&self, id: &str) -> Result<RecurringJob> {
        check_recurring_id(id)?;
        self.inner
            .storage
            .recurring(id)
            .await?
            .ok_or_else(|| Error::RecurringNotFound(id.to_owned()))
    }

    /// Every recurring job, by id.
    pub async fn recurring_jobs(&self) -> Result<Vec<RecurringJob>> {
        Ok(self.inner.storage.recurring_jobs().await?)
    }

    /// Creates recurring job `id`'s job now, outside its schedule (paused or not).
    pub async fn trigger(&self, id: &str) -> Result<JobId> {
        self.check_open()?;
        check_recurring_id(id)?;
        let (settings, now) = (&self.inner.settings, self.inner.settings.now_ms());
        let planner = |row: &StoredRecurring| recurring::plan(settings, row, now, Cause::Trigger);
        match self
            .inner
            .storage
            .trigger_recurring(id, &planner, now)
            .await?
        {
            None => Err(Error::RecurringNotFound(id.to_owned())),
            Some(Err(reason)) => Err(Error::InvalidOptions(format!(
                "recurring job `{id}` cannot run: {reason}"
            ))),
            Some(Ok(job)) => {
                self.inner.actors.queue.do_send(Wake);
                let recurring = id.to_owned();
                let fired = [(job, EventKind::RecurringFired { recurring })];
                self.inner.settings.events.emit(self.name(), fired);
                Ok(JobId(job))
            }
        }
    }

    /// Stops recurring job `id` from creating jobs until it is resumed.
    pub async fn pause(&self, id: &str) -> Result<RecurringJob> {
        self.set_paused(id, true).await
    }

    /// Lets recurring job `id` create jobs again, from its next occurrence after now (the
    /// occurrences it missed while paused do not run).
    pub async fn resume(&self, id: &str) -> Result<RecurringJob> {
        self.set_paused(id, false).await
    }

    async fn set_paused(&self, id: &str, paused: bool) -> Result<RecurringJob> {
        self.check_open()?;
        let current = self.recurring(id).await?;
        let now = self.inner.settings.now_ms();
        let next = match paused {
            true => None,
            false => recurring::next_occurrence(&current.cron, &current.time_zone, now),
        };
        if !self.inner.storage.set_paused(id, paused, next, now).await? {
            return Err(Error::RecurringNotFound(id.to_owned()));
        }
        if let Some(next) = next {
            self.inner.actors.due.do_send(DueAt(next));
        }
        self.recurring(id).await
    }

    /// Removes recurring job `id` (the jobs it created stay).
    pub async fn remove_recurring(&self, id: &str) -> Result<()> {
        self.check_open()?;
        check_recurring_id(id)?;
        match self.inner.storage.remove_recurring(id).await? {
            true => Ok(()),
            false => Err(Error::RecurringNotFound(id.to_owned())),
        }
    }

    /// Job `id` with its arguments and history.
    pub async fn job(&self, id: JobId) -> Result<JobDetails> {
        let now = self.inner.settings.now_ms();
        self.inner
            .storage
            .job(id.0, now)
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
        let deleted = [(id.0, EventKind::Deleted)];
        self.inner.settings.events.emit(self.name(), deleted);
        Ok(())
    }

    async fn act(&self, id: JobId, action: Action, done: &'static str) -> Result<JobState> {
        self.check_open()?;
        match self
            .inner
            .storage
            .apply(id.0, action, self.inner.settings.now_ms())
            .await?
        {
            Transition::Moved { from, released } => {
                if released > 0 {
                    self.inner.actors.queue.do_send(Wake);
                }
                Ok(from)
            }
            Transition::NotFound => Err(Error::JobNotFound(id)),
            Transition::Refused(state) => Err(Error::Conflict {
                id,
                state,
                action: done,
            }),
        }
    }

    /// The jobs matching `filter`, newest first, and how many match in all. An `offset` or a
    /// `limit` over [`MAX_OFFSET`](crate::bounds::MAX_OFFSET) (1,000,000) is refused.
    pub async fn jobs(&self, filter: &JobFilter) -> Result<JobPage> {
        bounds::at_most("offset", filter.offset, bounds::MAX_OFFSET)?;
        bounds::at_most("limit", filter.limit, bounds::MAX_OFFSET)?;
        Ok(self.inner.storage.list_jobs(filter).await?)
    }

    /// The servers working this workspace.
    pub async fn servers(&self) -> Result<Vec<ServerInfo>> {
        Ok(self.inner.storage.servers().await?)
    }

    /// Succeeded and failed jobs per hour (last day) or per day (last month), oldest first.
    pub async fn history(&self, granularity: Granularity) -> Result<Vec<HistoryPoint>> {
        let now = self.inner.settings.now_ms();
        Ok(self.inner.storage.history(granularity, now).await?)
    }

    /// Jobs per state and queue now, and all-time totals.
    pub async fn stats(&self) -> Result<Stats> {
        Ok(self.inner.storage.stats().await?)
    }

    /// How many SQL statements the workspace's storage has run since it opened: a diagnostic
    /// (an idle workspace runs none between heartbeats).
    pub(crate) fn statements_executed(&self) -> u64 {
        self.inner.storage.statements()
    }

    /// What SQLite reports as the journal mode of this workspace's database (`wal`); an
    /// invalid-configuration error on PostgreSQL, which has none.
    pub(crate) async fn journal_mode(&self) -> Result<String> {
        Ok(self.inner.storage.sqlite_journal_mode().await?)
    }

    /// Takes the workspace-wide lock `name` (`^[A-Za-z0-9_.:-]{1,100}$`) for `ttl`: every
    /// server sharing the workspace's storage respects it. `None` while another holder has it.
    /// A holder that dies without releasing it loses it when the `ttl` runs out.
    pub async fn try_lock(&self, name: &str, ttl: Duration) -> Result<Option<DistributedLock>> {
        let (storage, settings) = (self.inner.storage.clone(), self.inner.settings.clone());
        DistributedLock::try_acquire(storage, settings, name, ttl).await
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(Error::ShuttingDown)
        } else {
            Ok(())
        }
    }

    /// Shuts the workspace's actors down gracefully; returns when it next has something to do
    /// by itself (see `Storage::wake_at`).
    pub(super) async fn shutdown(&self) -> Option<i64> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return None;
        }
        let supervisor: &Addr<Supervisor> = &self.inner.actors.supervisor;
        match supervisor.send(Shutdown).await {
            Ok(wake_at) => wake_at,
            Err(_) => {
                tracing::warn!(workspace = %self.inner.name, "workspace supervisor was already gone");
                None
            }
        }
    }

    /// Whether the runtime may release the workspace: nobody else holds this handle, no job
    /// runs and nothing happened for `quiet`.
    pub(super) fn releasable(&self, quiet: Duration) -> bool {
        Arc::strong_count(&self.inner) == 1 && self.inner.activity.idle_for(quiet)
    }

    /// When the workspace last did something (milliseconds on a monotonic clock).
    pub(super) fn last_active(&self) -> u64 {
        self.inner.activity.last()
    }

    /// Marks the workspace as in use now.
    pub(super) fn touch(&self) {
        self.inner.activity.touch();
    }

    /// Tells the queue there may be jobs to claim.
    pub(super) fn wake(&self) {
        self.inner.actors.queue.do_send(Wake);
    }
}
