//! Failed runs: retries per type and per job, Hangfire's default backoff, panics as failed
//! attempts, and what happens when retries run out.

mod common;

use std::time::Duration;

use common::{Explode, FailTimes, PATIENCE, Record, Runs, builder, wait_for, wait_for_state};
use stoker::{Exhausted, JobState, NewJob, RetryPolicy};

#[actix_rt::test]
async fn a_job_that_fails_twice_succeeds_on_its_third_attempt_with_two_failures_in_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("retries").await.unwrap();

    let id = workspace.enqueue(FailTimes { times: 2 }).await.unwrap();
    wait_for_state(&workspace, id, JobState::Succeeded).await;

    let job = workspace.job(id).await.unwrap();
    assert_eq!(job.summary.attempt, 3);
    let failures: Vec<_> = job
        .history
        .iter()
        .filter(|entry| entry.state == JobState::Failed)
        .collect();
    assert_eq!(failures.len(), 2, "history: {:#?}", job.history);
    // Newest first: the second failure, then the first.
    for (failure, attempt) in failures.iter().zip([2, 1]) {
        let data = failure.data.as_ref().expect("a failure carries data");
        assert_eq!(data["attempt"], attempt);
        assert_eq!(data["error"], format!("failure {attempt} of 2"));
    }
    assert_eq!(job.history.first().unwrap().state, JobState::Succeeded);
    assert_eq!(job.history.last().unwrap().state, JobState::Enqueued);
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_panicking_job_fails_after_its_attempts_and_the_runtime_keeps_running_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let stoker = builder(dir.path(), &runs).build().unwrap();
    let workspace = stoker.workspace("panics").await.unwrap();

    let id = workspace.enqueue(Explode {}).await.unwrap();
    wait_for_state(&workspace, id, JobState::Failed).await;
    let job = workspace.job(id).await.unwrap();
    assert_eq!(job.summary.attempt, 3, "one run and its two retries");
    let panics = job
        .history
        .iter()
        .filter(|entry| entry.state == JobState::Failed)
        .filter(|entry| entry.reason.as_deref() == Some("panicked: the boiler burst"))
        .count();
    assert_eq!(panics, 3, "history: {:#?}", job.history);
    assert_eq!(
        job.summary.reason.as_deref(),
        Some("panicked: the boiler burst")
    );

    for n in 0..20 {
        workspace
            .enqueue(Record {
                key: format!("after-{n}"),
            })
            .await
            .unwrap();
    }
    wait_for("jobs after the panics to run", PATIENCE, || async {
        (runs.total() == 20).then_some(())
    })
    .await;
    assert_eq!(workspace.stats().await.unwrap().failed, 1);
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_job_can_override_its_types_policy_and_be_deleted_when_retries_run_out() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("override").await.unwrap();

    let policy = RetryPolicy::attempts(1)
        .with_delays([Duration::ZERO])
        .on_exhausted(Exhausted::Delete);
    let job = NewJob::of(&FailTimes { times: 10 }).retry(policy);
    let id = workspace.enqueue_job(job).await.unwrap().id;
    wait_for_state(&workspace, id, JobState::Deleted).await;

    let job = workspace.job(id).await.unwrap();
    assert_eq!(job.summary.attempt, 2);
    assert_eq!(job.retry.attempts, 1);
    assert_eq!(job.retry.on_exhausted, JobState::Deleted);
    let reason = job.summary.reason.unwrap();
    assert!(reason.starts_with("retries exhausted"), "{reason}");
    assert_eq!(workspace.stats().await.unwrap().deleted, 1);
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn by_default_a_failed_job_waits_for_hangfires_backoff_as_a_scheduled_retry() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("backoff").await.unwrap();

    let job = NewJob::of(&FailTimes { times: 1 }).retry(RetryPolicy::default());
    let id = workspace.enqueue_job(job).await.unwrap().id;
    wait_for_state(&workspace, id, JobState::Scheduled).await;

    let job = workspace.job(id).await.unwrap();
    let wait = job.summary.run_at.unwrap() - job.summary.state_at;
    assert!(
        (15..=45).contains(&wait.num_seconds()),
        "first retry after {wait} (Hangfire: 15 s + 0..30 s)"
    );
    assert_eq!(job.retry.attempts, 10);
    let stats = workspace.stats().await.unwrap();
    assert_eq!((stats.scheduled, stats.retries), (1, 1));
    stoker.shutdown().await;
}
