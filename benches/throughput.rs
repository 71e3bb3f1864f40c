//! End-to-end throughput: N no-op jobs queued, then timed from the moment a runtime starts
//! working them until every one is stored as succeeded. Run with
//! `cargo bench --bench throughput` (SQLite) or `scripts/bench-postgres` (PostgreSQL, with
//! commits per job). Claims take as many jobs as there are idle workers, so the worker count
//! is the batch size: it runs with 20, 100 and 300 workers, or with the count in
//! `STOKER_BENCH_WORKERS`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::backend::Backend;
use common::{Noop, Tally, memory_mib};
use stoker::{NewJob, Stoker, StorageConfig};

const BACKLOGS: [usize; 3] = [1_000, 10_000, 100_000];

fn worker_counts() -> Vec<usize> {
    match std::env::var("STOKER_BENCH_WORKERS")
        .ok()
        .and_then(|text| text.parse().ok())
    {
        Some(workers) => vec![workers],
        None => vec![20, 100, 300],
    }
}

/// Fills the workspace with `count` queued jobs while nobody works its queue.
async fn fill(storage: &StorageConfig, count: usize) {
    let stoker = Stoker::builder()
        .register::<Noop>()
        .storage(storage.clone())
        .queues(["nobody"])
        .build()
        .unwrap();
    let workspace = stoker.workspace("bench").await.unwrap();
    for chunk in (0..count).collect::<Vec<_>>().chunks(10_000) {
        let jobs = chunk.iter().map(|_| NewJob::of(&Noop {}));
        workspace.enqueue_many(jobs).await.unwrap();
    }
    stoker.shutdown().await;
}

/// Works the backlog; returns the time until all of it is stored as succeeded, and how many
/// times the statistics were read to find that out (each read is a transaction).
async fn drain(storage: &StorageConfig, count: usize, workers: usize) -> (Duration, i64) {
    let tally = Arc::new(Tally::default());
    tally.expect(count);
    let started = Instant::now();
    let stoker = Stoker::builder()
        .register::<Noop>()
        .data(tally.clone())
        .workers(workers)
        .storage(storage.clone())
        .build()
        .unwrap();
    let workspace = stoker.workspace("bench").await.unwrap();
    tally.reached().await;
    let mut reads = 1;
    while workspace.stats().await.unwrap().succeeded < count as u64 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        reads += 1;
    }
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
    for count in BACKLOGS {
        let backend = Backend::fresh().await;
        fill(&backend.storage, count).await;
        let before = backend.commits().await;
        let (elapsed, reads) = drain(&backend.storage, count, workers).await;
        let commits = match (before, backend.commits().await) {
            (Some(before), Some(after)) => {
                format!("{:.4}", (after - before - reads) as f64 / count as f64)
            }
            _ => "-".to_owned(),
        };
        let rate = count as f64 / elapsed.as_secs_f64();
        let (rss, peak) = memory_mib();
        println!(
            "{count:>9} {:>10.3} {rate:>10.0} {commits:>12} {rss:>12.1} {peak:>12.1}",
            elapsed.as_secs_f64()
        );
        rates.push(rate);
    }
    let ratio = rates[0] / rates[rates.len() - 1];
    println!("jobs/s with 1,000 queued / with 100,000 queued: {ratio:.2}\n");
}
