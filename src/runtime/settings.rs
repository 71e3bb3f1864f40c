//! [`Settings`]: what every actor of a runtime shares — job types, application data, limits,
//! timings, the server's identity and the arbiters the actors live on.

use std::sync::Arc;
use std::time::Duration;

use actix::ArbiterHandle;

use crate::clock::Clock;
use crate::job::{AppData, Registry};
use crate::storage::StorageConfig;

/// The runtime's shared configuration, fixed when it starts.
pub(crate) struct Settings {
    pub(crate) registry: Registry,
    pub(crate) data: AppData,
    pub(crate) storage: StorageConfig,
    /// Jobs each workspace runs at once.
    pub(crate) workers: usize,
    /// The queues worked, in priority order.
    pub(crate) queues: Vec<String>,
    pub(crate) heartbeat: Duration,
    pub(crate) lease: Duration,
    /// Silence after which a server is dropped from the server list.
    pub(crate) server_timeout: Duration,
    /// How often shared storage is polled for work nobody announced.
    pub(crate) poll_interval: Duration,
    pub(crate) retention: Duration,
    pub(crate) shutdown_timeout: Duration,
    /// This process's identity in `servers` and in job leases.
    pub(crate) server_id: String,
    pub(crate) started_at: i64,
    pub(crate) clock: Arc<dyn Clock>,
    /// Where supervisors, queues, completers, schedulers and janitors live.
    pub(crate) control: ArbiterHandle,
    /// Where workers live, one arbiter per core.
    pub(crate) worker_arbiters: Vec<ArbiterHandle>,
}

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

    pub(crate) fn retention_ms(&self) -> i64 {
        millis(self.retention)
    }
}

pub(crate) type SharedSettings = Arc<Settings>;

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
