//! [`Settings`]: what every actor of a runtime shares — job types, application data, limits,
//! timings, the server's identity and the arbiters the actors live on; and
//! [`WorkspaceSettings`]: those plus what one workspace sets for itself ([`WorkspaceOptions`]).

use super::events::Events;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use actix::ArbiterHandle;

use super::slots::Slots;
use crate::bounds;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::job::{AppData, Registry};
use crate::name::check_queue;
use crate::storage::{Databases, Retention};

/// The runtime's shared configuration, fixed when it starts.
pub(crate) struct Settings {
    pub(crate) registry: Registry,
    pub(crate) data: AppData,
    pub(crate) databases: Databases,
    /// What a workspace gets unless [`Settings::options`] says otherwise.
    pub(crate) defaults: ResolvedOptions,
    /// Each workspace's own options.
    pub(crate) options: OptionsFor,
    /// The server-wide cap on running jobs, shared fairly between workspaces.
    pub(crate) slots: Slots,
    /// How long a workspace stays open with nothing to do and nobody holding it.
    pub(crate) idle_timeout: Duration,
    /// How many workspaces may be open at once before the idle ones are released early.
    pub(crate) max_open: usize,
    pub(crate) heartbeat: Duration,
    pub(crate) lease: Duration,
    /// Silence after which a server is dropped from the server list.
    pub(crate) server_timeout: Duration,
    /// How often schedulers of shared storage look for schedules other servers stored.
    pub(crate) poll_interval: Duration,
    pub(crate) shutdown_timeout: Duration,
    /// This process's identity in `servers` and in job leases.
    pub(crate) server_id: String,
    pub(crate) started_at: i64,
    pub(crate) clock: Arc<dyn Clock>,
    /// Where supervisors, queues, completers, schedulers and janitors live.
    pub(crate) control: ArbiterHandle,
    /// Where workers live, one arbiter per core.
    pub(crate) worker_arbiters: Vec<ArbiterHandle>,
    /// Where actors tell what happened to jobs (see [`crate::Stoker::events`]).
    pub(crate) events: Events,
}

/// Chooses a workspace's options from its name.
pub(crate) type OptionsFor = Box<dyn Fn(&str) -> WorkspaceOptions + Send + Sync>;

impl Settings {
    /// The current time as stored: Unix milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    pub(crate) fn lease_ms(&self) -> i64 {
        millis(self.lease)
    }

    pub(crate) fn server_timeout_ms(&self) -> i64 {
        millis(self.server_timeout)
    }

    /// The settings of workspace `name`: the server's, with its own options over the defaults.
    pub(crate) fn for_workspace(self: &Arc<Self>, name: &str) -> Result<WorkspaceSettings> {
        let own = (self.options)(name);
        let resolved = ResolvedOptions {
            workers: own.workers.unwrap_or(self.defaults.workers).max(1),
            queues: own.queues.unwrap_or_else(|| self.defaults.queues.clone()),
            retention: own.retention.unwrap_or(self.defaults.retention),
            failed_retention: own
                .failed_retention
                .unwrap_or(self.defaults.failed_retention),
        };
        resolved.check()?;
        Ok(WorkspaceSettings {
            server: self.clone(),
            options: resolved,
        })
    }
}

/// What one workspace may set for itself; unset options take the runtime's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkspaceOptions {
    workers: Option<usize>,
    queues: Option<Vec<String>>,
    retention: Option<Duration>,
    failed_retention: Option<Duration>,
}

impl WorkspaceOptions {
    /// How many of the workspace's jobs may run at once (within the server-wide cap).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// The workspace's queues, in priority order.
    pub fn queues<S: Into<String>>(mut self, queues: impl IntoIterator<Item = S>) -> Self {
        self.queues = Some(queues.into_iter().map(Into::into).collect());
        self
    }

    /// How long the workspace keeps `succeeded` and `deleted` jobs.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// How long the workspace keeps `failed` jobs.
    pub fn failed_retention(mut self, retention: Duration) -> Self {
        self.failed_retention = Some(retention);
        self
    }
}

/// A workspace's options with nothing left unset.
#[derive(Clone, Debug)]
pub(crate) struct ResolvedOptions {
    /// Jobs the workspace runs at once.
    pub(crate) workers: usize,
    /// The queues worked, in priority order.
    pub(crate) queues: Vec<String>,
    /// How long `succeeded` and `deleted` jobs are kept.
    pub(crate) retention: Duration,
    /// How long `failed` jobs are kept.
    pub(crate) failed_retention: Duration,
}

impl ResolvedOptions {
    /// Refuses options no workspace can work with.
    pub(crate) fn check(&self) -> Result<()> {
        if self.queues.is_empty() {
            return Err(Error::InvalidConfig(
                "at least one queue must be worked".into(),
            ));
        }
        for queue in &self.queues {
            check_queue(queue)?;
        }
        bounds::duration("retention", self.retention)?;
        bounds::duration("failed retention", self.failed_retention)?;
        Ok(())
    }
}

/// The server's settings and one workspace's options: what that workspace's actors read.
pub(crate) struct WorkspaceSettings {
    pub(crate) server: Arc<Settings>,
    pub(crate) options: ResolvedOptions,
}

impl WorkspaceSettings {
    /// Jobs the workspace runs at once.
    pub(crate) fn workers(&self) -> usize {
        self.options.workers
    }

    /// The queues worked, in priority order.
    pub(crate) fn queues(&self) -> &[String] {
        &self.options.queues
    }

    /// How long the workspace's jobs are kept once they end.
    pub(crate) fn retention(&self) -> Retention {
        Retention {
            finished_ms: millis(self.options.retention),
            failed_ms: millis(self.options.failed_retention),
        }
    }
}

impl Deref for WorkspaceSettings {
    type Target = Settings;

    fn deref(&self) -> &Settings {
        &self.server
    }
}

pub(crate) type SharedSettings = Arc<WorkspaceSettings>;

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A server id unique per process start: host, process id and a random suffix.
pub(crate) fn server_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}
