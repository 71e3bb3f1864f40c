//! Finished jobs expire after the retention; the totals that count them survive.

mod common;

use std::time::Duration;

use common::{FailTimes, PATIENCE, Record, Runs, builder, wait_for, wait_for_state};
use stoker::{Clock, Error, JobState, ManualClock, NewJob, RetryPolicy};

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

/// Failed jobs wait for a person to look at them, but not for ever: they expire after their
/// own retention (a week by default), longer than that of succeeded jobs.
#[actix_rt::test]
async fn failed_jobs_are_removed_after_the_failed_retention() {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(ManualClock::new(chrono::Utc::now()));
    let stoker = builder(dir.path(), &Runs::default())
        .failed_retention(Duration::from_secs(7 * 24 * 3600))
        .heartbeat(Duration::from_millis(50))
        .clock(clock.clone())
        .build()
        .unwrap();
    let workspace = stoker.workspace("tidy").await.unwrap();
    let never = NewJob::of(&FailTimes { times: 100 }).retry(RetryPolicy::attempts(0));
    let left = workspace.enqueue_job(never).await.unwrap().id;
    wait_for_state(&workspace, left, JobState::Failed).await;

    clock.advance(chrono::Duration::days(6));
    // The round that writes this heartbeat expired what was due first.
    let advanced = clock.now().timestamp_millis();
    wait_for("an upkeep round after six days", PATIENCE, || async {
        let servers = workspace.servers().await.unwrap();
        let beat_after = |s: &stoker::ServerInfo| s.heartbeat_at.timestamp_millis() >= advanced;
        servers.iter().any(beat_after).then_some(())
    })
    .await;
    let kept = workspace.job(left).await.unwrap();
    assert_eq!(kept.summary.state, JobState::Failed, "kept within the week");
    clock.advance(chrono::Duration::days(2));
    wait_for("the failed job to expire", PATIENCE, || async {
        matches!(workspace.job(left).await, Err(Error::JobNotFound(_))).then_some(())
    })
    .await;
    stoker.shutdown().await;
}
