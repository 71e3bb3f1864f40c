//! Enqueue speed: `enqueue_many` of 10,000 jobs (jobs/s), one-at-a-time `enqueue` latency
//! with nobody working the queue, and enqueue-to-start latency on an idle server. Run with
//! `cargo bench --bench enqueue` (SQLite) or `scripts/bench-postgres` (PostgreSQL).

mod common;

use std::time::{Duration, Instant};

use common::backend::Backend;
use common::{Noop, Ping, Starts, percentile};
use stoker::{NewJob, Stoker};

const BATCH: usize = 10_000;
const BATCHES: usize = 5;
const SINGLES: usize = 2_000;
const PINGS: usize = 200;

/// Enqueues one job at a time into `submit` and waits until a worker of `worker` starts it;
/// returns the latency percentiles p50 and p99.
async fn enqueue_to_start(
    submit: &stoker::Workspace,
    starts: &mut tokio::sync::mpsc::UnboundedReceiver<Instant>,
) -> (Duration, Duration) {
    let mut latencies = Vec::with_capacity(PINGS);
    for _ in 0..PINGS {
        let sent = Instant::now();
        submit.enqueue(Ping {}).await.unwrap();
        let started = starts.recv().await.unwrap();
        latencies.push(started - sent);
    }
    (
        percentile(&mut latencies, 50),
        percentile(&mut latencies, 99),
    )
}

fn main() {
    actix_rt::System::new().block_on(async {
        let backend = Backend::fresh().await;
        let label = backend.label();
        let stoker = Stoker::builder()
            .register::<Noop>()
            .storage(backend.storage.clone())
            .queues(["nobody"])
            .build()
            .unwrap();
        let workspace = stoker.workspace("bench").await.unwrap();

        let mut rates = Vec::new();
        for _ in 0..BATCHES {
            let jobs: Vec<NewJob> = (0..BATCH).map(|_| NewJob::of(&Noop {})).collect();
            let started = Instant::now();
            workspace.enqueue_many(jobs).await.unwrap();
            rates.push(BATCH as f64 / started.elapsed().as_secs_f64());
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "enqueue_many of {BATCH} ({label}): median {:.0} jobs/s, best {:.0}, worst {:.0}",
            rates[BATCHES / 2],
            rates[BATCHES - 1],
            rates[0]
        );

        let mut latencies: Vec<Duration> = Vec::with_capacity(SINGLES);
        let started = Instant::now();
        for _ in 0..SINGLES {
            let one = Instant::now();
            workspace.enqueue(Noop {}).await.unwrap();
            latencies.push(one.elapsed());
        }
        let rate = SINGLES as f64 / started.elapsed().as_secs_f64();
        println!(
            "enqueue one at a time ({label}): {rate:.0} jobs/s, p50 {:?}, p99 {:?}",
            percentile(&mut latencies, 50),
            percentile(&mut latencies, 99)
        );
        stoker.shutdown().await;

        // A database of its own: a server finds every workspace in its storage at start,
        // and would otherwise work (and fail) the 52,000 jobs above while being measured.
        let backend = Backend::fresh().await;
        let (sender, mut starts) = tokio::sync::mpsc::unbounded_channel::<Instant>();
        let worker = Stoker::builder()
            .register::<Ping>()
            .data::<Starts>(sender)
            .storage(backend.storage.clone())
            .build()
            .unwrap();
        let workspace = worker.workspace("latency").await.unwrap();
        let (p50, p99) = enqueue_to_start(&workspace, &mut starts).await;
        println!("enqueue to start, idle server, same process ({label}): p50 {p50:?}, p99 {p99:?}");
        if label == "PostgreSQL" {
            // Another server enqueues: only a notification tells this one.
            let client = Stoker::builder()
                .register::<Ping>()
                .storage(backend.storage.clone())
                .queues(["nobody"])
                .build()
                .unwrap();
            let submit = client.workspace("latency").await.unwrap();
            let (p50, p99) = enqueue_to_start(&submit, &mut starts).await;
            println!("enqueue to start, idle server, another server enqueues (PostgreSQL): p50 {p50:?}, p99 {p99:?}");
            client.shutdown().await;
        }
        worker.shutdown().await;
    });
}
