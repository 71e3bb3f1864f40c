//! A thousand workspaces on one server: each gets a recurring job every minute and 10 jobs
//! scheduled hours ahead, then the server is left alone while the recurring jobs keep firing.
//! Over the idle window it reports resident memory, CPU time per minute (this process, and
//! the PostgreSQL server's processes when it runs here), database connections and open files
//! (sampled every second, the largest seen), how many workspaces were open, and on
//! PostgreSQL the transactions committed per minute.
//!
//! `cargo bench --bench workspaces` (SQLite) or `scripts/bench-postgres` (PostgreSQL).
//! `STOKER_BENCH_WORKSPACES` (default 1000) and `STOKER_BENCH_IDLE_SECONDS` (default 120)
//! change the size and the window; `STOKER_BENCH_MAX_OPEN` (default 100) and
//! `STOKER_BENCH_IDLE_TIMEOUT` (seconds, default 30) the runtime's settings.
//! `STOKER_BENCH_PAUSED=1` pauses every recurring job once it is added: what is left is the
//! housekeeping share of the cost, which should not grow with the number of workspaces.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::backend::Backend;
use common::{Noop, Tally, cpu_seconds, memory_mib};
use stoker::{NewJob, RecurringOptions, Stoker};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

/// The CPU seconds used by every `postgres` process on this machine.
fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(|entry| {
            let pid = entry.ok()?.file_name().into_string().ok()?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (comm.trim() == "postgres").then(|| cpu_seconds(&pid))
        })
        .sum()
}

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// Creates `count` workspaces, each with a recurring job every minute (`paused`, if so) and 10
/// scheduled jobs.
async fn populate(stoker: &Stoker, count: u64, paused: bool) {
    for n in 0..count {
        let workspace = stoker.workspace(&format!("tenant{n:04}")).await.unwrap();
        let every_minute = RecurringOptions::default();
        workspace
            .add_or_update_recurring("tick", NewJob::of(&Noop {}), "* * * * *", every_minute)
            .await
            .unwrap();
        if paused {
            workspace.pause("tick").await.unwrap();
        }
        let later =
            (1..=10).map(|hours| NewJob::of(&Noop {}).delay(Duration::from_secs(3600 * hours)));
        workspace.enqueue_many(later).await.unwrap();
    }
}

#[actix_rt::main]
async fn main() {
    // `RUST_LOG=stoker=debug` shows each workspace opening and being released.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let count = setting("STOKER_BENCH_WORKSPACES", 1000);
    let window = Duration::from_secs(setting("STOKER_BENCH_IDLE_SECONDS", 120));
    let backend = Backend::fresh().await;
    let tally = Arc::new(Tally::default());
    tally.expect(usize::MAX);
    let max_open = setting("STOKER_BENCH_MAX_OPEN", 100) as usize;
    let idle_timeout = Duration::from_secs(setting("STOKER_BENCH_IDLE_TIMEOUT", 30));
    let stoker = Stoker::builder()
        .register::<Noop>()
        .data(tally.clone())
        .storage(backend.storage.clone())
        .max_open_workspaces(max_open)
        .idle_timeout(idle_timeout)
        .build()
        .unwrap();
    let setup = Instant::now();
    let paused = setting("STOKER_BENCH_PAUSED", 0) == 1;
    populate(&stoker, count, paused).await;
    let setup = setup.elapsed();

    // Settle: the workspaces opened to set them up are released.
    let settling = Instant::now();
    while stoker.open_workspaces().len() > max_open && settling.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (cpu, pg_cpu) = (cpu_seconds("self"), postgres_cpu_seconds());
    let commits = backend.commits().await;
    let (mut connections, mut files, mut open) = (0, 0, 0);
    let started = Instant::now();
    let runs_before = tally.runs();
    while started.elapsed() < window {
        tokio::time::sleep(Duration::from_secs(1)).await;
        connections = connections.max(backend.connections().await.unwrap_or(0));
        files = files.max(open_files());
        open = open.max(stoker.open_workspaces().len());
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let per_minute = |seconds: f64| seconds / minutes;
    let used = per_minute(cpu_seconds("self") - cpu);
    let (rss, peak) = memory_mib();
    println!(
        "{} workspaces{} on {} (at most {max_open} open, idle timeout {idle_timeout:?}): set up in {:.1} s; idle {:.0} s: {} jobs run, at most {} open ({} at the end)",
        count,
        if paused {
            ", recurring jobs paused,"
        } else {
            ""
        },
        backend.label(),
        setup.as_secs_f64(),
        window.as_secs_f64(),
        tally.runs() - runs_before,
        open,
        stoker.open_workspaces().len(),
    );
    println!(
        "  resident {rss:.0} MiB (peak {peak:.0} MiB); CPU {:.2} s per minute ({:.1}% of a core)",
        used,
        used / 60.0 * 100.0,
    );
    if backend.is_postgres() {
        let server = per_minute(postgres_cpu_seconds() - pg_cpu);
        // Counted from the backends' reports, which lag by about a second: near enough over
        // a window of minutes.
        let committed = backend
            .commits()
            .await
            .zip(commits)
            .map(|(end, start)| end - start);
        println!(
            "  PostgreSQL server CPU {:.2} s per minute ({:.1}% of a core); {:.0} transactions per minute; connections at most {connections}",
            server,
            server / 60.0 * 100.0,
            per_minute(committed.unwrap_or(0) as f64),
        );
    }
    println!("  open files at most {files}");
    stoker.shutdown().await;
}
