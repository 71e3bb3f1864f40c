//! Flow control's costs, each measured against the same work without it, the two alternated
//! round by round on one database (this machine's speed drifts within minutes):
//! - enqueue: `enqueue_many` of 10,000 jobs without a unique key, each with its own key, and
//!   all with one key (one job and 9,999 duplicates);
//! - throughput: 50,000 queued no-op jobs worked by 100 workers, all at priority 0 and spread
//!   over priorities 0..9.
//!
//! Run with `cargo bench --bench flow` (SQLite) or `STOKER_BENCH_DATABASE_URL=postgres://…
//! cargo bench --bench flow` (see `common/backend.rs`).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::backend::Backend;
use common::{Noop, Tally};
use stoker::{NewJob, Stoker, StorageConfig, Unique, Workspace};

const ENQUEUED: usize = 10_000;
const ROUNDS: usize = 4;
const BACKLOG: usize = 50_000;
const WORKERS: usize = 100;

/// How the jobs of a round are made unique.
#[derive(Clone, Copy)]
enum Keys {
    None,
    OneEach,
    Shared,
}

impl Keys {
    const ALL: [Keys; 3] = [Keys::None, Keys::OneEach, Keys::Shared];

    fn label(self) -> &'static str {
        match self {
            Keys::None => "no unique key",
            Keys::OneEach => "a key each",
            Keys::Shared => "one key for all",
        }
    }

    fn job(self, round: usize, n: usize) -> NewJob {
        let job = NewJob::of(&Noop {});
        match self {
            Keys::None => job,
            Keys::OneEach => job.unique(Unique::by_key(format!("r{round}-{n}"))),
            Keys::Shared => job.unique(Unique::by_key(format!("r{round}"))),
        }
    }
}

fn median(rates: &mut [f64]) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

async fn enqueue_rates(workspace: &Workspace, label: &str) {
    let mut rates = vec![Vec::new(); Keys::ALL.len()];
    for round in 0..ROUNDS {
        for (k, keys) in Keys::ALL.into_iter().enumerate() {
            let jobs: Vec<NewJob> = (0..ENQUEUED).map(|n| keys.job(round, n)).collect();
            let started = Instant::now();
            workspace.enqueue_many(jobs).await.unwrap();
            rates[k].push(ENQUEUED as f64 / started.elapsed().as_secs_f64());
        }
    }
    for (keys, rates) in Keys::ALL.into_iter().zip(&mut rates) {
        println!(
            "enqueue_many of {ENQUEUED} ({label}), {}: median {:.0} jobs/s of {ROUNDS}",
            keys.label(),
            median(rates)
        );
    }
}

/// Queues `BACKLOG` no-op jobs in workspace `name` while nobody works them, at the
/// priorities `priority_of` gives.
async fn fill(storage: &StorageConfig, name: &str, priority_of: impl Fn(usize) -> u8) {
    let stoker = Stoker::builder()
        .register::<Noop>()
        .storage(storage.clone())
        .queues(["nobody"])
        .build()
        .unwrap();
    let workspace = stoker.workspace(name).await.unwrap();
    for chunk in (0..BACKLOG).collect::<Vec<_>>().chunks(5_000) {
        let jobs = chunk
            .iter()
            .map(|&n| NewJob::of(&Noop {}).priority(priority_of(n)));
        workspace.enqueue_many(jobs).await.unwrap();
    }
    stoker.shutdown().await;
}

/// Works workspace `name`'s backlog; returns the time until every job ran.
async fn drain(storage: &StorageConfig, name: &str) -> Duration {
    let tally = Arc::new(Tally::default());
    tally.expect(BACKLOG);
    let started = Instant::now();
    let stoker = Stoker::builder()
        .register::<Noop>()
        .data(tally.clone())
        .workers(WORKERS)
        .storage(storage.clone())
        .build()
        .unwrap();
    let _workspace = stoker.workspace(name).await.unwrap();
    tally.reached().await;
    let elapsed = started.elapsed();
    stoker.shutdown().await;
    elapsed
}

async fn priority_rates(storage: &StorageConfig, label: &str) {
    let (mut flat, mut spread) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS / 2 {
        let name = format!("flat{round}");
        fill(storage, &name, |_| 0).await;
        flat.push(BACKLOG as f64 / drain(storage, &name).await.as_secs_f64());
        let name = format!("spread{round}");
        fill(storage, &name, |n| (n % 10) as u8).await;
        spread.push(BACKLOG as f64 / drain(storage, &name).await.as_secs_f64());
    }
    println!(
        "{BACKLOG} queued, {WORKERS} workers ({label}): priority 0 for all {:.0} jobs/s, \
         priorities 0..9 {:.0} jobs/s (medians of {})",
        median(&mut flat),
        median(&mut spread),
        ROUNDS / 2
    );
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
        let workspace = stoker.workspace("enqueue").await.unwrap();
        enqueue_rates(&workspace, &label).await;
        stoker.shutdown().await;

        let backend = Backend::fresh().await;
        priority_rates(&backend.storage, &label).await;
    });
}
