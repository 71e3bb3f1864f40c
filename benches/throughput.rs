//! End-to-end throughput: N no-op jobs queued, then timed from the moment a runtime starts
//! working them until every one is stored as succeeded; and 100,000 jobs enqueued in batches
//! of 1,000 by the same process while its runtime works them, timed from the first enqueue
//! until the last is stored as succeeded. Run with
//! `cargo bench --bench throughput` (SQLite) or `scripts/bench-postgres` (PostgreSQL, with
//! commits per job). Claims take as many jobs as there are idle workers, so the worker count
//! is the batch size: it runs with 20, 100 and 300 workers, or with the count in
//! `STOKER_BENCH_WORKERS`. Last, ten workspaces with 10,000 queued each are drained at once.
//! `STOKER_BENCH_PLACEMENT` picks the placement (see `common/backend.rs`).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::backend::Backend;
use common::{Noop, Tally, memory_mib};
use stoker::{NewJob, Stoker, StorageConfig, Workspace};

const BACKLOGS: [usize; 3] = [1_000, 10_000, 100_000];

/// Jobs enqueued while the runtime works them.
const STEADY: usize = 100_000;

/// Workspaces drained at once, each with its own backlog, by one runtime (each with its
/// workers): their total rate against one workspace's.
const BUSY_WORKSPACES: usize = 10;
const BUSY_BACKLOG: usize = 10_000;

fn worker_counts() -> Vec<usize> {
    match std::env::var("STOKER_BENCH_WORKERS")
        .ok()
        .and_then(|text| text.parse().ok())
    {
        Some(workers) => vec![workers],
        None => vec![20, 100, 300],
    }
}

/// Fills each of `workspaces` with `count` queued jobs while nobody works their queues.
async fn fill(storage: &StorageConfig, workspaces: &[String], count: usize) {
    let stoker = Stoker::builder()
        .register::<Noop>()
        .storage(storage.clone())
        .queues(["nobody"])
        .build()
        .unwrap();
    for name in workspaces {
        let workspace = stoker.workspace(name).await.unwrap();
        enqueue_in_batches(&workspace, count, 10_000).await;
    }
    stoker.shutdown().await;
}

/// The names of `count` workspaces: `bench` alone, or `bench0`, `bench1`, ….
fn names(count: usize) -> Vec<String> {
    match count {
        1 => vec!["bench".to_owned()],
        _ => (0..count).map(|n| format!("bench{n}")).collect(),
    }
}

/// Enqueues `count` no-op jobs, `batch` at a time.
async fn enqueue_in_batches(workspace: &Workspace, count: usize, batch: usize) {
    for chunk in (0..count).collect::<Vec<_>>().chunks(batch) {
        let jobs = chunk.iter().map(|_| NewJob::of(&Noop {}));
        workspace.enqueue_many(jobs).await.unwrap();
    }
}

/// A runtime with `workers` that counts its no-op runs in `tally`.
fn counting_runtime(storage: &StorageConfig, workers: usize, tally: &Arc<Tally>) -> Stoker {
    Stoker::builder()
        .register::<Noop>()
        .data(tally.clone())
        .workers(workers)
        .storage(storage.clone())
        .build()
        .unwrap()
}

/// Waits until `count` jobs are stored as succeeded; returns how many times the statistics
/// were read to find that out (each read is a transaction).
async fn stored_as_succeeded(workspace: &Workspace, count: usize) -> i64 {
    let mut reads = 1;
    while workspace.stats().await.unwrap().succeeded < count as u64 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        reads += 1;
    }
    reads
}

/// Works the backlogs of `workspaces`, `count` jobs each, all at once; returns the time until
/// all of them are stored as succeeded, and how many times the statistics were read to find
/// that out.
async fn drain(
    storage: &StorageConfig,
    workspaces: &[String],
    count: usize,
    workers: usize,
) -> (Duration, i64) {
    let tally = Arc::new(Tally::default());
    tally.expect(count * workspaces.len());
    let started = Instant::now();
    let stoker = counting_runtime(storage, workers, &tally);
    let mut opened = Vec::new();
    for name in workspaces {
        opened.push(stoker.workspace(name).await.unwrap());
    }
    tally.reached().await;
    let mut reads = 0;
    for workspace in &opened {
        reads += stored_as_succeeded(workspace, count).await;
    }
    let elapsed = started.elapsed();
    stoker.shutdown().await;
    (elapsed, reads)
}

/// Enqueues `count` jobs in batches of 1,000 while the same process works them; returns the
/// time from the first enqueue until all are stored as succeeded, and the statistics reads.
async fn enqueue_and_work(
    storage: &StorageConfig,
    count: usize,
    workers: usize,
) -> (Duration, i64) {
    let tally = Arc::new(Tally::default());
    tally.expect(count);
    let stoker = counting_runtime(storage, workers, &tally);
    let workspace = stoker.workspace("bench").await.unwrap();
    let started = Instant::now();
    enqueue_in_batches(&workspace, count, 1_000).await;
    tally.reached().await;
    let reads = stored_as_succeeded(&workspace, count).await;
    let elapsed = started.elapsed();
    stoker.shutdown().await;
    (elapsed, reads)
}

fn main() {
    actix_rt::System::new().block_on(async move {
        for workers in worker_counts() {
            run(workers).await;
        }
    });
}

async fn run(workers: usize) {
    let label = Backend::fresh().await.label();
    println!("throughput ({label}, {workers} workers, no-op jobs, queued before start)");
    println!(
        "{:>9} {:>10} {:>10} {:>12} {:>12} {:>12}",
        "backlog", "seconds", "jobs/s", "commits/job", "rss MiB", "peak MiB"
    );
    let mut rates = Vec::new();
    let one = names(1);
    for count in BACKLOGS {
        let backend = Backend::fresh().await;
        fill(&backend.storage, &one, count).await;
        let before = backend.commits().await;
        let (elapsed, reads) = drain(&backend.storage, &one, count, workers).await;
        let commits = commits_per_job(before, backend.commits().await, reads, count);
        let rate = count as f64 / elapsed.as_secs_f64();
        let (rss, peak) = memory_mib();
        println!(
            "{count:>9} {:>10.3} {rate:>10.0} {commits:>12} {rss:>12.1} {peak:>12.1}",
            elapsed.as_secs_f64()
        );
        rates.push(rate);
    }
    let ratio = rates[0] / rates[rates.len() - 1];
    println!("jobs/s with 1,000 queued / with 100,000 queued: {ratio:.2}");

    let busy = names(BUSY_WORKSPACES);
    let backend = Backend::fresh().await;
    fill(&backend.storage, &busy, BUSY_BACKLOG).await;
    let (elapsed, _) = drain(&backend.storage, &busy, BUSY_BACKLOG, workers).await;
    let total = BUSY_WORKSPACES * BUSY_BACKLOG;
    println!(
        "{BUSY_WORKSPACES} workspaces busy at once, {BUSY_BACKLOG} queued each: {total} jobs in \
         {:.3} s, {:.0} jobs/s in total",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );

    let backend = Backend::fresh().await;
    let before = backend.commits().await;
    let (elapsed, reads) = enqueue_and_work(&backend.storage, STEADY, workers).await;
    let commits = commits_per_job(before, backend.commits().await, reads, STEADY);
    println!(
        "enqueued in batches of 1,000 while worked: {STEADY} jobs in {:.3} s, {:.0} jobs/s, \
         {commits} commits/job\n",
        elapsed.as_secs_f64(),
        STEADY as f64 / elapsed.as_secs_f64()
    );
}

/// Commits per job from the database's commit counts before and after, less the statistics
/// reads; `-` where the backend does not count commits.
fn commits_per_job(before: Option<i64>, after: Option<i64>, reads: i64, jobs: usize) -> String {
    match (before, after) {
        (Some(before), Some(after)) => {
            format!("{:.4}", (after - before - reads) as f64 / jobs as f64)
        }
        _ => "-".to_owned(),
    }
}
