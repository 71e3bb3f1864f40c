//! Finished jobs expire after the retention; the totals that count them survive.

mod common;

use std::time::Duration;

use common::{PATIENCE, Record, Runs, builder, wait_for, wait_for_state};
use stoker::{Error, JobState};

#[actix_rt::test]
async fn succeeded_jobs_are_removed_after_the_retention_and_their_total_survives() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default())
        .retention(Duration::from_millis(200))
        .heartbeat(Duration::from_millis(50))
        .build()
        .unwrap();
    let workspace = stoker.workspace("tidy").await.unwrap();
    let kept = workspace.enqueue(Record { key: "a".into() }).await.unwrap();
    wait_for_state(&workspace, kept, JobState::Succeeded).await;
    assert_eq!(workspace.stats().await.unwrap().succeeded, 1);

    wait_for("the job to expire", PATIENCE, || async {
        matches!(workspace.job(kept).await, Err(Error::JobNotFound(_))).then_some(())
    })
    .await;
    let stats = workspace.stats().await.unwrap();
    assert_eq!(stats.succeeded, 1, "the total outlives the job");
    assert_eq!(stats.servers, 1, "the heartbeat registered this server");
    stoker.shutdown().await;
}
