//! Delayed jobs: they wait as `scheduled`, start on time without polling, can be run at once,
//! and an idle workspace does nothing while they wait.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::{Log, PATIENCE, Runs, Starts, builder, wait_for, wait_for_state};
use stoker::{Cron, JobState, ManualClock, NewJob, RecurringOptions};

/// A runtime whose `Log` jobs record when they start.
fn logging_runtime(dir: &std::path::Path) -> (stoker::Stoker, Starts) {
    let starts = Starts::default();
    let stoker = builder(dir, &Runs::default())
        .data(starts.clone())
        .build()
        .unwrap();
    (stoker, starts)
}

#[actix_rt::test]
async fn a_delayed_job_starts_within_100_ms_of_its_due_time_on_an_idle_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let (stoker, starts) = logging_runtime(dir.path());
    let workspace = stoker.workspace("punctual").await.unwrap();

    let due = Utc::now() + chrono::Duration::milliseconds(700);
    let id = workspace.schedule_at(Log {}, due).await.unwrap();
    assert_eq!(
        workspace.job(id).await.unwrap().summary.state,
        JobState::Scheduled
    );
    wait_for("the job to start", PATIENCE, || async {
        (starts.len() == 1).then_some(())
    })
    .await;

    let (ran, started) = starts.all()[0];
    assert_eq!(ran, id);
    let late = started - due;
    assert!(
        started >= due,
        "started {} ms early",
        -late.num_milliseconds()
    );
    assert!(
        late.num_milliseconds() < 100,
        "started {} ms late",
        late.num_milliseconds()
    );
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_thousand_jobs_due_at_the_same_instant_all_run() {
    let dir = tempfile::tempdir().unwrap();
    let (stoker, starts) = logging_runtime(dir.path());
    let workspace = stoker.workspace("crowd").await.unwrap();

    let due = Utc::now() + chrono::Duration::milliseconds(500);
    let jobs = (0..1000).map(|_| NewJob::of(&Log {}).run_at(due));
    let created = workspace.enqueue_many(jobs).await.unwrap();
    assert!(created.iter().all(|job| job.state == JobState::Scheduled));
    wait_for("all 1000 to run", PATIENCE, || async {
        (starts.len() == 1000).then_some(())
    })
    .await;
    assert!(starts.all().iter().all(|(_, started)| *started >= due));
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_scheduled_job_can_be_enqueued_now() {
    let dir = tempfile::tempdir().unwrap();
    let (stoker, _) = logging_runtime(dir.path());
    let workspace = stoker.workspace("eager").await.unwrap();

    let id = workspace
        .schedule(Log {}, Duration::from_secs(3600))
        .await
        .unwrap();
    workspace.enqueue_now(id).await.unwrap();
    wait_for_state(&workspace, id, JobState::Succeeded).await;
    let states: Vec<_> = workspace
        .job(id)
        .await
        .unwrap()
        .history
        .iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(
        states,
        [
            JobState::Succeeded,
            JobState::Processing,
            JobState::Enqueued,
            JobState::Scheduled
        ]
    );
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn an_idle_workspace_with_work_due_in_an_hour_runs_no_statement() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new("2026-11-22T10:00:00Z".parse().unwrap()));
    // Storage shared with other servers (PostgreSQL) is polled in case of lost notifications;
    // that poll is not what this test watches, so it is put out of the window.
    let stoker = builder(dir.path(), &Runs::default())
        .data(Starts::default())
        .clock(clock.clone())
        .poll_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let workspace = stoker.workspace("idle").await.unwrap();
    let in_an_hour = clock.now_plus(chrono::Duration::hours(1));
    let jobs = (0..1000).map(|_| NewJob::of(&Log {}).run_at(in_an_hour));
    workspace.enqueue_many(jobs).await.unwrap();
    for n in 0..100 {
        let job = NewJob::of(&Log {});
        let cron = Cron::daily_at(12, n % 60);
        workspace
            .add_or_update_recurring(&format!("r{n}"), job, &cron, RecurringOptions::default())
            .await
            .unwrap();
    }
    // Let the scheduler take in what was added, then watch: nothing is due for an hour.
    let settled = wait_for("the scheduler to settle", PATIENCE, || async {
        let before = stoker::testing::statements_executed(&workspace);
        tokio::time::sleep(Duration::from_millis(200)).await;
        (stoker::testing::statements_executed(&workspace) == before).then_some(before)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stoker::testing::statements_executed(&workspace),
        settled,
        "statements ran while idle"
    );

    // When the clock reaches the hour, the jobs become due and run.
    clock.advance(chrono::Duration::hours(1));
    wait_for("the due jobs to run", PATIENCE, || async {
        (workspace.stats().await.unwrap().succeeded == 1000).then_some(())
    })
    .await;
    stoker.shutdown().await;
}
