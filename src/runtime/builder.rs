//! [`StokerBuilder`]: job types, application data, limits and storage, then `build`.

use std::sync::Arc;
use std::time::Duration;

use actix::Arbiter;

use super::events::Events;
use super::keeper::Keeper;
use super::settings::{OptionsFor, ResolvedOptions, Settings, WorkspaceOptions, server_id};
use super::slots::Slots;
use super::stoker::Stoker;
use crate::bounds;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::job::{AppData, Job, Registry};
use crate::storage::{DEFAULT_READ_TIMEOUT, Databases, StorageConfig};

/// Jobs running at once on a server, all workspaces together, unless the builder says
/// otherwise or its worker count is more.
const DEFAULT_MAX_RUNNING: usize = 100;

/// Configures a [`Stoker`] runtime.
pub struct StokerBuilder {
    registry: Registry,
    data: AppData,
    /// `None` until set, where no SQLite default is built in.
    storage: Option<StorageConfig>,
    workers: usize,
    queues: Vec<String>,
    heartbeat: Duration,
    lease: Duration,
    server_timeout: Duration,
    poll_interval: Duration,
    retention: Duration,
    failed_retention: Duration,
    shutdown_timeout: Duration,
    /// `None`: 100, or the default worker count if that is more.
    max_running: Option<usize>,
    max_connections: u32,
    read_timeout: Duration,
    idle_timeout: Duration,
    max_open: usize,
    options: OptionsFor,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for StokerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StokerBuilder")
            .field("registry", &self.registry)
            .field("storage", &self.storage)
            .field("workers", &self.workers)
            .field("queues", &self.queues)
            .finish_non_exhaustive()
    }
}

impl Default for StokerBuilder {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        StokerBuilder {
            registry: Registry::default(),
            data: AppData::default(),
            storage: default_storage(),
            // Hangfire's default: five per core, at most twenty.
            workers: (cores * 5).min(20),
            queues: vec![crate::DEFAULT_QUEUE.to_owned()],
            heartbeat: Duration::from_secs(30),
            lease: Duration::from_secs(90),
            server_timeout: Duration::from_secs(300),
            poll_interval: Duration::from_secs(5),
            retention: Duration::from_secs(24 * 3600),
            failed_retention: Duration::from_secs(7 * 24 * 3600),
            shutdown_timeout: Duration::from_secs(15),
            max_running: None,
            max_connections: 10,
            read_timeout: DEFAULT_READ_TIMEOUT,
            idle_timeout: Duration::from_secs(30),
            max_open: 100,
            options: Box::new(|_| WorkspaceOptions::default()),
            clock: Arc::new(SystemClock),
        }
    }
}

/// SQLite files in `./stoker-data`, where SQLite is built in.
fn default_storage() -> Option<StorageConfig> {
    #[cfg(feature = "sqlite")]
    return Some(StorageConfig::default());
    #[cfg(not(feature = "sqlite"))]
    None
}

impl StokerBuilder {
    /// Registers the job type `J`.
    pub fn register<J: Job>(mut self) -> Self {
        self.registry.register::<J>();
        self
    }

    /// Shares `value` with every job ([`crate::JobContext::data`]).
    pub fn data<T: std::any::Any + Send + Sync>(self, value: T) -> Self {
        self.shared_data(Arc::new(value))
    }

    /// Shares a value the application keeps too (its `Arc`), as `JobContext::data::<T>()`.
    pub fn shared_data<T: std::any::Any + Send + Sync>(mut self, value: Arc<T>) -> Self {
        self.data.insert(value);
        self
    }

    /// Where workspaces keep their jobs (default: SQLite files in `./stoker-data`; a build
    /// without the `sqlite` feature has no default and must say).
    pub fn storage(mut self, storage: StorageConfig) -> Self {
        self.storage = Some(storage);
        self
    }

    /// How many jobs each workspace runs at once, unless its options say otherwise (default:
    /// 5 per core, at most 20).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The queues to work, in priority order, unless a workspace's options say otherwise
    /// (default: `default`).
    pub fn queues<S: Into<String>>(mut self, queues: impl IntoIterator<Item = S>) -> Self {
        self.queues = queues.into_iter().map(Into::into).collect();
        self
    }

    /// How often a server says it is alive and renews its jobs' leases (default 30 s).
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// How long a claim holds without a heartbeat before the job is recovered (default 90 s).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a server may miss heartbeats before it is dropped from the server list
    /// (default 5 min; at least two heartbeats). Its jobs come back when their leases run out.
    pub fn server_timeout(mut self, timeout: Duration) -> Self {
        self.server_timeout = timeout;
        self
    }

    /// On storage shared with other servers (PostgreSQL), how often the scheduler looks for
    /// delayed and recurring jobs other servers stored (default 5 s). Queues need no polling:
    /// the database's listener tells them of enqueued jobs, and after it reconnects every
    /// queue looks once. Storage of one process only is never polled.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// How long `succeeded` and `deleted` jobs are kept, unless a workspace's options say
    /// otherwise (default 1 day).
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// How long `failed` jobs are kept (to be looked at and requeued), unless a workspace's
    /// options say otherwise (default 7 days).
    pub fn failed_retention(mut self, retention: Duration) -> Self {
        self.failed_retention = retention;
        self
    }

    /// How long shutdown waits for running jobs before cancelling them (default 15 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Each workspace's own options (workers, queues, retention), chosen by its name when it
    /// opens; what they leave unset comes from this builder.
    pub fn workspace_options(
        mut self,
        options: impl Fn(&str) -> WorkspaceOptions + Send + Sync + 'static,
    ) -> Self {
        self.options = Box::new(options);
        self
    }

    /// How many jobs run at once on this server, all workspaces together (default 100, or
    /// [`workers`](Self::workers) if that is more, so that the cap never cuts a workspace's
    /// worker count short unless asked to). When workspaces want more, they take turns: each
    /// freed slot goes to the workspace that has waited longest.
    pub fn max_running(mut self, jobs: usize) -> Self {
        self.max_running = Some(jobs.max(1));
        self
    }

    /// On PostgreSQL, how many connections the server opens to a database, shared by all its
    /// workspaces (default 10; the listener has one more).
    pub fn max_connections(mut self, connections: u32) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// On PostgreSQL, how long a read that a caller can make slow (a list, a search, counts)
    /// may run before it is cancelled and fails as storage unavailable (503 over HTTP), so
    /// that one tenant's slow search does not hold the connections every workspace shares
    /// (default 10 s, at least 1 ms, at most PostgreSQL's bound of about 24 days). The
    /// runtime's own work has no such limit.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        let longest = Duration::from_millis(i32::MAX as u64);
        self.read_timeout = timeout.clamp(Duration::from_millis(1), longest);
        self
    }

    /// How long a workspace stays open with no job running, nothing to do and no handle held
    /// (default 30 s). A released workspace opens again when it is used or due.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How many workspaces may be open at once (default 100). Past it, workspaces that have
    /// been quiet for a second are released, longest idle first, without waiting for the idle
    /// timeout; a workspace in use is never released, so the cap can be exceeded for a while.
    /// On SQLite each open workspace holds a connection and its files.
    pub fn max_open_workspaces(mut self, workspaces: usize) -> Self {
        self.max_open = workspaces.max(1);
        self
    }

    /// Reads the time from `clock` instead of the system clock (for tests that move time).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Refuses a timing over [`bounds::MAX_DURATION`], which no clock arithmetic could hold.
    fn check_timings(&self) -> Result<()> {
        for (what, timing) in [
            ("heartbeat", self.heartbeat),
            ("lease", self.lease),
            ("server_timeout", self.server_timeout),
            ("poll_interval", self.poll_interval),
            ("shutdown_timeout", self.shutdown_timeout),
            ("idle_timeout", self.idle_timeout),
        ] {
            bounds::duration(what, timing)?;
        }
        Ok(())
    }

    /// Starts the runtime's arbiters. Call it inside an actix system (`#[actix::main]`,
    /// `#[actix_web::main]`); workspaces open with [`Stoker::workspace`]. Refuses a timing or a
    /// retention over 10 years ([`Error::OutOfRange`](crate::Error::OutOfRange)), an empty or
    /// badly named queue list, and a call outside an actix system
    /// ([`Error::InvalidConfig`](crate::Error::InvalidConfig)).
    pub fn build(self) -> Result<Stoker> {
        if actix::System::try_current().is_none() {
            return Err(Error::InvalidConfig(
                "build() needs an actix system: call it inside #[actix::main] or \
                 #[actix_web::main], or System::new().block_on"
                    .into(),
            ));
        }
        self.check_timings()?;
        if let Some(unmet) = self.registry.unmet_need(&self.data) {
            return Err(Error::InvalidConfig(unmet));
        }
        let storage = self.storage.ok_or_else(|| {
            Error::InvalidConfig("no storage: without the `sqlite` feature, say where".into())
        })?;
        let max_running = self
            .max_running
            .unwrap_or(DEFAULT_MAX_RUNNING.max(self.workers));
        let defaults = ResolvedOptions {
            workers: self.workers,
            queues: self.queues,
            retention: self.retention,
            failed_retention: self.failed_retention,
        };
        defaults.check()?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let worker_arbiters: Vec<Arbiter> = (0..cores).map(|_| Arbiter::new()).collect();
        let control = Arbiter::new();
        let (databases, notices) = Databases::new(storage, self.max_connections);
        let databases = databases.with_read_timeout(self.read_timeout);
        let settings = Settings {
            registry: self.registry,
            data: self.data,
            databases,
            defaults,
            options: self.options,
            slots: Slots::new(max_running),
            idle_timeout: self.idle_timeout,
            max_open: self.max_open,
            heartbeat: self.heartbeat,
            lease: self.lease.max(self.heartbeat * 2),
            server_timeout: self.server_timeout.max(self.heartbeat * 2),
            poll_interval: self.poll_interval.max(Duration::from_millis(10)),
            shutdown_timeout: self.shutdown_timeout,
            server_id: server_id(),
            started_at: self.clock.now().timestamp_millis(),
            clock: self.clock,
            control: control.handle(),
            worker_arbiters: worker_arbiters.iter().map(Arbiter::handle).collect(),
            events: Events::default(),
        };
        let arbiters = worker_arbiters.into_iter().chain([control]).collect();
        let stoker = Stoker::new(Arc::new(settings), arbiters);
        Keeper::start_for(&stoker, notices);
        Ok(stoker)
    }
}
