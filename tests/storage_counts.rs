//! The counts the database keeps per state and queue (what statistics and list totals read)
//! agree with the jobs themselves after every kind of move: enqueues one by one and in
//! batches, claims, successes, failures and retries, continuations, delays, requeues,
//! deletions and expiry.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{FailTimes, PATIENCE, Record, Runs, backend, builder, wait_for, wait_for_state};
use sea_orm::{ConnectionTrait, Statement};
use stoker::{ContinueOn, JobFilter, JobState, NewJob, RetryPolicy, Workspace};

/// Jobs per state and queue, counted from the jobs table itself.
async fn counted(dir: &std::path::Path) -> BTreeMap<(String, String), u64> {
    let db = backend::connect(&backend::storage(dir), "counts").await;
    let sql = "SELECT state, queue, COUNT(*) AS n FROM jobs GROUP BY state, queue";
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            let state: String = row.try_get("", "state").unwrap();
            let queue: String = row.try_get("", "queue").unwrap();
            let n: i64 = row.try_get("", "n").unwrap();
            ((state, queue), n as u64)
        })
        .collect()
}

/// Jobs per state and queue, as the workspace's statistics and list totals report them.
/// Waits until the kept counts and the rows agree. The two are read on different
/// connections, and jobs still finish and expire meanwhile (retention is 300 ms here), so a
/// single pair of reads can straddle a move; counts that are wrong never agree.
async fn counts_agree(workspace: &Workspace, dir: &std::path::Path) {
    wait_for("kept counts to match the rows", PATIENCE, || async {
        let (kept, rows) = (reported(workspace).await, counted(dir).await);
        (kept == rows).then_some(())
    })
    .await;
}

async fn reported(workspace: &Workspace) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for state in JobState::ALL {
        for queue in ["default", "mail"] {
            let filter = JobFilter::new().state(state).queue(queue).limit(1);
            let total = workspace.jobs(&filter).await.unwrap().total;
            if total > 0 {
                counts.insert((state.as_str().to_owned(), queue.to_owned()), total);
            }
        }
    }
    counts
}

#[actix_rt::test]
async fn kept_counts_match_the_jobs_after_every_kind_of_move() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default())
        .queues(["default"])
        .retention(Duration::from_millis(300))
        .heartbeat(Duration::from_millis(50))
        .build()
        .unwrap();
    let workspace = stoker.workspace("counts").await.unwrap();

    let batch = (0..40).map(|n| {
        NewJob::of(&Record {
            key: format!("b{n}"),
        })
        .queue("mail")
    });
    workspace.enqueue_many(batch).await.unwrap();
    let parent = workspace
        .enqueue(Record {
            key: "parent".into(),
        })
        .await
        .unwrap();
    let child = NewJob::of(&Record {
        key: "child".into(),
    })
    .after(parent, ContinueOn::Succeeded);
    workspace.enqueue_job(child).await.unwrap();
    let retried = workspace.enqueue(FailTimes { times: 2 }).await.unwrap();
    let gives_up = NewJob::of(&FailTimes { times: 9 }).retry(RetryPolicy::none());
    let failed = workspace.enqueue_job(gives_up).await.unwrap().id;
    let mut delayed = Vec::new();
    for _ in 0..4 {
        let job = Record {
            key: "later".into(),
        };
        delayed.push(
            workspace
                .schedule(job, Duration::from_secs(3600))
                .await
                .unwrap(),
        );
    }
    wait_for_state(&workspace, retried, JobState::Succeeded).await;
    wait_for_state(&workspace, failed, JobState::Failed).await;
    workspace.delete(delayed[0]).await.unwrap();
    workspace.enqueue_now(delayed[1]).await.unwrap();
    workspace.requeue(failed).await.unwrap();
    wait_for_state(&workspace, failed, JobState::Failed).await;

    let stats = workspace.stats().await.unwrap();
    assert_eq!((stats.failed, stats.scheduled), (1, 2), "{stats:?}");
    counts_agree(&workspace, dir.path()).await;

    wait_for("finished jobs to expire", PATIENCE, || async {
        let left = counted(dir.path()).await;
        let finished = ["succeeded", "deleted"];
        left.keys()
            .all(|(state, _)| !finished.contains(&state.as_str()))
            .then_some(())
    })
    .await;
    counts_agree(&workspace, dir.path()).await;
    let stats = workspace.stats().await.unwrap();
    assert_eq!(
        stats.succeeded, 4,
        "all-time totals outlive expiry: {stats:?}"
    );
    assert_eq!(stats.enqueued, 40, "nobody works queue mail here");
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn the_default_filter_lists_the_newest_fifty_of_all_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("listed").await.unwrap();
    let jobs = (0..60).map(|n| {
        let job = Record {
            key: format!("r{n}"),
        };
        NewJob::of(&job).delay(Duration::from_secs(3600))
    });
    let stored = workspace.enqueue_many(jobs).await.unwrap();

    let page = workspace.jobs(&JobFilter::new()).await.unwrap();
    assert_eq!(page.total, 60);
    let listed: Vec<_> = page.jobs.iter().map(|job| job.id).collect();
    let newest: Vec<_> = stored.iter().rev().take(50).map(|job| job.id).collect();
    assert_eq!(listed, newest);
    stoker.shutdown().await;
}
