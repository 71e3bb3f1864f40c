//! Enqueue speed on SQLite: `enqueue_many` of 10,000 jobs (jobs/s), and one-at-a-time
//! `enqueue` latency. Nobody works the queue, so only enqueueing is measured.
//! Run with `cargo bench --bench enqueue`.

mod common;

use std::time::{Duration, Instant};

use common::{Noop, percentile};
use stoker::{NewJob, Stoker, StorageConfig};

const BATCH: usize = 10_000;
const BATCHES: usize = 5;
const SINGLES: usize = 2_000;

fn main() {
    actix_rt::System::new().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let stoker = Stoker::builder()
            .register::<Noop>()
            .storage(StorageConfig::sqlite(dir.path()))
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
            "enqueue_many of {BATCH} (SQLite): median {:.0} jobs/s, best {:.0}, worst {:.0}",
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
            "enqueue one at a time (SQLite): {rate:.0} jobs/s, p50 {:?}, p99 {:?}",
            percentile(&mut latencies, 50),
            percentile(&mut latencies, 99)
        );
        stoker.shutdown().await;
    });
}
