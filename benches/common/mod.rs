//! Helpers shared by the benchmarks: a no-op job that counts its runs, memory readings, and
//! percentiles.

#![allow(dead_code, missing_docs, unreachable_pub)]

pub mod backend;
pub mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stoker::{Job, JobContext, JobError};
use tokio::sync::Notify;

/// Counts runs and wakes a waiter when a target is reached.
#[derive(Default)]
pub struct Tally {
    runs: AtomicUsize,
    target: AtomicUsize,
    reached: Notify,
}

impl Tally {
    pub fn expect(&self, target: usize) {
        self.runs.store(0, Ordering::SeqCst);
        self.target.store(target, Ordering::SeqCst);
    }

    pub async fn reached(&self) {
        loop {
            let notified = self.reached.notified();
            if self.runs.load(Ordering::SeqCst) >= self.target.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    /// Runs counted so far.
    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    fn record(&self) {
        if self.runs.fetch_add(1, Ordering::SeqCst) + 1 >= self.target.load(Ordering::SeqCst) {
            self.reached.notify_waiters();
        }
    }
}

/// Does nothing but count.
#[derive(Serialize, Deserialize)]
pub struct Noop {}

impl Job for Noop {
    const NAME: &'static str = "noop";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        ctx.data::<Arc<Tally>>().expect("tally").record();
        Ok(())
    }
}

/// Resident memory now and at its peak, in MiB (from /proc/self/status).
pub fn memory_mib() -> (f64, f64) {
    process_memory_mib("self")
}

/// Resident memory of process `pid` (or `self`) now and at its peak, in MiB.
pub fn process_memory_mib(pid: &str) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU seconds used so far by process `pid` and its children that ended (user and system),
/// from `/proc/PID/stat` (a PostgreSQL server's connections come and go).
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |index: usize| fields.get(index).and_then(|v| v.parse::<f64>().ok());
    // utime, stime, cutime and cstime are fields 14 to 17 of the line: 11 to 14 after the name.
    (11..=14)
        .map(|field| ticks(field).unwrap_or(0.0))
        .sum::<f64>()
        / 100.0
}

/// The `p`th percentile (0..=100) of `samples`, sorted in place.
pub fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort_unstable();
    let index = (samples.len().saturating_sub(1) * p) / 100;
    samples.get(index).copied().unwrap_or_default()
}

/// Where [`Ping`] jobs report the moment they start.
pub type Starts = tokio::sync::mpsc::UnboundedSender<std::time::Instant>;

/// Reports when it starts, to measure enqueue-to-start latency.
#[derive(Serialize, Deserialize)]
pub struct Ping {}

impl Job for Ping {
    const NAME: &'static str = "ping";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let _ = ctx
            .data::<Starts>()
            .expect("starts")
            .send(std::time::Instant::now());
        Ok(())
    }
}
