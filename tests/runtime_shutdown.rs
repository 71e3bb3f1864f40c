//! Graceful shutdown loses nothing: running jobs finish within the timeout, or are cancelled
//! and go back to their queue, or, if they ignore cancellation, are given back anyway.

mod common;

use std::time::Duration;

use common::{Nap, PATIENCE, Runs, builder, wait_for};
use serde::{Deserialize, Serialize};
use stoker::{Job, JobContext, JobError, JobId, JobState, Stoker, Workspace};

/// Ignores cancellation and sleeps for a minute.
#[derive(Serialize, Deserialize)]
struct Stubborn {}

impl Job for Stubborn {
    const NAME: &'static str = "stubborn";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        ctx.data::<Runs>()
            .unwrap()
            .record(ctx.workspace(), "started:stubborn");
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(())
    }
}

async fn started(runs: &Runs, key: &str) {
    let key = format!("started:{key}");
    wait_for(&key, PATIENCE, || async {
        (runs.count("halt", &key) > 0).then_some(())
    })
    .await;
}

/// Opens the workspace again in a runtime that works no queue of its jobs, to look at them.
async fn reopen(dir: &std::path::Path) -> (Stoker, Workspace) {
    let stoker = builder(dir, &Runs::default())
        .register::<Stubborn>()
        .queues(["nothing-here"])
        .build()
        .unwrap();
    let workspace = stoker.workspace("halt").await.unwrap();
    (stoker, workspace)
}

async fn state_after_restart(dir: &std::path::Path, id: JobId) -> stoker::JobDetails {
    let (stoker, workspace) = reopen(dir).await;
    let job = workspace.job(id).await.unwrap();
    stoker.shutdown().await;
    job
}

#[actix_rt::test]
async fn running_jobs_finish_when_they_end_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let stoker = builder(dir.path(), &runs).build().unwrap();
    let workspace = stoker.workspace("halt").await.unwrap();
    let id = workspace
        .enqueue(Nap {
            key: "short".into(),
            ms: 300,
        })
        .await
        .unwrap();
    started(&runs, "short").await;

    stoker.shutdown().await;
    assert_eq!(runs.count("halt", "finished:short"), 1);
    let job = state_after_restart(dir.path(), id).await;
    assert_eq!(job.summary.state, JobState::Succeeded);
}

#[actix_rt::test]
async fn jobs_past_the_timeout_are_cancelled_and_go_back_to_their_queue_uncounted() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let stoker = builder(dir.path(), &runs)
        .shutdown_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let workspace = stoker.workspace("halt").await.unwrap();
    let id = workspace
        .enqueue(Nap {
            key: "long".into(),
            ms: 60_000,
        })
        .await
        .unwrap();
    started(&runs, "long").await;

    stoker.shutdown().await;
    assert!(matches!(
        workspace
            .enqueue(Nap {
                key: "late".into(),
                ms: 1
            })
            .await,
        Err(stoker::Error::ShuttingDown)
    ));
    let job = state_after_restart(dir.path(), id).await;
    assert_eq!(job.summary.state, JobState::Enqueued);
    assert_eq!(
        job.summary.attempt, 0,
        "an interrupted run is not a failed attempt"
    );
    let reason = job.summary.reason.unwrap();
    assert!(reason.starts_with("interrupted by shutdown"), "{reason}");
}

#[actix_rt::test]
async fn jobs_that_ignore_cancellation_are_given_back_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let stoker = builder(dir.path(), &runs)
        .register::<Stubborn>()
        .shutdown_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let workspace = stoker.workspace("halt").await.unwrap();
    let id = workspace.enqueue(Stubborn {}).await.unwrap();
    started(&runs, "stubborn").await;

    stoker.shutdown().await;
    let job = state_after_restart(dir.path(), id).await;
    assert_eq!(job.summary.state, JobState::Enqueued);
    assert_eq!(
        job.summary.reason.as_deref(),
        Some("server shut down before the job finished")
    );
}
