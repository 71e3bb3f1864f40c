//! [`Activity`]: what tells an idle workspace from a busy one — how many of its jobs run, and
//! when it last did anything (ran a job, answered a call). The runtime releases a workspace
//! whose activity stopped long enough ago.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A workspace's activity, updated by its queue and its handle.
#[derive(Debug)]
pub(crate) struct Activity {
    running: AtomicUsize,
    /// Milliseconds since the process's first look at the time (monotonic).
    last: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            running: AtomicUsize::new(0),
            last: AtomicU64::new(elapsed_ms()),
        }
    }
}

impl Activity {
    /// Something happened now.
    pub(crate) fn touch(&self) {
        self.last.store(elapsed_ms(), Ordering::Relaxed);
    }

    /// `running` jobs run now.
    pub(crate) fn set_running(&self, running: usize) {
        self.running.store(running, Ordering::Relaxed);
        self.touch();
    }

    /// When something last happened, in milliseconds since the process first looked.
    pub(crate) fn last(&self) -> u64 {
        self.last.load(Ordering::Relaxed)
    }

    /// Whether no job runs and nothing happened for `quiet`.
    pub(crate) fn idle_for(&self, quiet: Duration) -> bool {
        let since = elapsed_ms().saturating_sub(self.last.load(Ordering::Relaxed));
        self.running.load(Ordering::Relaxed) == 0 && since >= quiet.as_millis() as u64
    }
}

fn elapsed_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}
