//! Dashboard pages with 1,000,000 jobs in the workspace: how long each page takes, from the
//! request to the last byte of HTML, served in process (routing, access, storage reads and
//! rendering; no network). Run with `cargo bench --bench dashboard_pages` (SQLite) or with
//! `STOKER_BENCH_DATABASE_URL` set (PostgreSQL). `STOKER_BENCH_JOBS` changes the job count.
//!
//! The workspace holds the given number of succeeded jobs (run by the runtime), 10,000 jobs
//! waiting in a queue nobody works and 1,000 failed jobs.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, test, web};
use common::backend::Backend;
use common::{Noop, Tally, percentile};
use serde::{Deserialize, Serialize};
use stoker::web::{Access, ApiError, Authorize, Scope, dashboard};
use stoker::{
    Job, JobContext, JobError, JobFilter, JobId, JobState, NewJob, RetryPolicy, Stoker,
    StorageConfig, Workspace,
};

/// Requests per page.
const SAMPLES: usize = 30;

/// Fails every run.
#[derive(Serialize, Deserialize)]
struct Broken {
    customer: String,
}

impl Job for Broken {
    const NAME: &'static str = "broken";

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        Err(JobError::retry(format!(
            "customer {} is gone",
            self.customer
        )))
    }
}

/// Lets every request see everything (the benchmark measures pages, not access).
struct Everyone;

impl Authorize for Everyone {
    fn authorize(&self, _: &HttpRequest) -> Result<Scope, ApiError> {
        Ok(Scope::All)
    }
}

fn job_count() -> usize {
    std::env::var("STOKER_BENCH_JOBS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000)
}

async fn enqueue_in_chunks(workspace: &Workspace, count: usize, job: impl Fn(usize) -> NewJob) {
    for start in (0..count).step_by(10_000) {
        let jobs = (start..count.min(start + 10_000)).map(&job);
        workspace.enqueue_many(jobs).await.unwrap();
    }
}

/// Fills the workspace and leaves a runtime serving it.
async fn fill(storage: &StorageConfig, succeeded: usize) -> Stoker {
    let tally = Arc::new(Tally::default());
    tally.expect(succeeded);
    let stoker = Stoker::builder()
        .register::<Noop>()
        .register::<Broken>()
        .data(tally.clone())
        .workers(300)
        .storage(storage.clone())
        .build()
        .unwrap();
    let workspace = stoker.workspace("bench").await.unwrap();
    let started = Instant::now();
    enqueue_in_chunks(&workspace, succeeded, |_| NewJob::of(&Noop {})).await;
    tally.reached().await;
    enqueue_in_chunks(&workspace, 10_000, |_| NewJob::of(&Noop {}).queue("nobody")).await;
    enqueue_in_chunks(&workspace, 1_000, |n| {
        let customer = format!("customer-{n}");
        NewJob::of(&Broken { customer }).retry(RetryPolicy::none())
    })
    .await;
    while workspace.stats().await.unwrap().failed < 1_000 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "filled with {succeeded} succeeded, 10,000 enqueued and 1,000 failed jobs in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    stoker
}

/// The id of the job `skip` rows down the list of `state`.
async fn first_id(workspace: &Workspace, state: JobState, skip: u64) -> JobId {
    let filter = JobFilter::new().state(state).limit(1).offset(skip);
    workspace.jobs(&filter).await.unwrap().jobs[0].id
}

fn main() {
    actix_rt::System::new().block_on(async move {
        let backend = Backend::fresh().await;
        let count = job_count();
        let stoker = fill(&backend.storage, count).await;
        let access = Access::loopback().authorize_with(Arc::new(Everyone));
        let app = test::init_service(
            App::new()
                .service(web::scope("/dashboard").configure(dashboard(stoker.clone(), access))),
        )
        .await;
        let workspace = stoker.workspace("bench").await.unwrap();
        let failed = first_id(&workspace, JobState::Failed, 0).await;
        let deep = first_id(&workspace, JobState::Succeeded, 50_000 - 1).await;
        let pages = [
            ("overview", "/dashboard/bench".to_owned()),
            (
                "succeeded, page 1",
                "/dashboard/bench/jobs?state=succeeded".to_owned(),
            ),
            (
                "succeeded, page 1000",
                "/dashboard/bench/jobs?state=succeeded&page=1000".to_owned(),
            ),
            (
                "succeeded, pager to 1001",
                format!("/dashboard/bench/jobs?state=succeeded&before={deep}&page=1001"),
            ),
            (
                "enqueued, queue filter",
                "/dashboard/bench/jobs?state=enqueued&queue=nobody".to_owned(),
            ),
            (
                "failed, search in args",
                "/dashboard/bench/jobs?state=failed&search=customer-77".to_owned(),
            ),
            ("a job", format!("/dashboard/bench/jobs/{failed}")),
            ("retries", "/dashboard/bench/retries".to_owned()),
            ("recurring", "/dashboard/bench/recurring".to_owned()),
            ("servers", "/dashboard/bench/servers".to_owned()),
        ];
        println!(
            "dashboard pages ({}, {count} succeeded jobs), {SAMPLES} requests each",
            backend.label()
        );
        println!("{:<26} {:>9} {:>9}", "page", "p50 ms", "p95 ms");
        for (name, path) in pages {
            let mut samples = Vec::with_capacity(SAMPLES);
            for _ in 0..SAMPLES {
                let started = Instant::now();
                let response =
                    test::call_service(&app, test::TestRequest::get().uri(&path).to_request())
                        .await;
                assert!(
                    response.status().is_success(),
                    "{path}: {}",
                    response.status()
                );
                let body = test::read_body(response).await;
                assert!(!body.is_empty());
                samples.push(started.elapsed());
            }
            let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
            let p50 = ms(percentile(&mut samples, 50));
            let p95 = ms(percentile(&mut samples, 95));
            println!("{name:<26} {p50:>9.1} {p95:>9.1}");
        }
        stoker.shutdown().await;
    });
}
