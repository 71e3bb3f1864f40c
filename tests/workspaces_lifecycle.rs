//! Workspaces open when they are needed and are released when idle: a released workspace
//! keeps its data, opens again when used, and its scheduled and recurring jobs still run on
//! time, in turn under the cap on open workspaces when many fall due together. Workspaces in
//! storage that this process never opened are found when it starts.

mod common;

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use common::{
    Log, PATIENCE, Record, Runs, Starts, at, builder, released, wait_for, wait_for_state,
};
use stoker::{JobState, ManualClock, NewJob, RecurringOptions};

/// Idle workspaces are released after this long in these tests.
const IDLE: Duration = Duration::from_millis(200);

#[actix_rt::test]
async fn an_idle_workspace_is_released_and_opens_again_with_its_jobs_when_used() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default())
        .idle_timeout(IDLE)
        .build()
        .unwrap();
    let workspace = stoker.workspace("quiet").await.unwrap();
    let id = workspace
        .enqueue(Record { key: "one".into() })
        .await
        .unwrap();
    wait_for_state(&workspace, id, JobState::Succeeded).await;

    // A held handle keeps the workspace open, however idle: another one, opened later and
    // not held, is released while it stays.
    drop(stoker.workspace("other").await.unwrap());
    released(&stoker, "other").await;
    assert_eq!(stoker.open_workspaces(), ["quiet"]);
    drop(workspace);
    released(&stoker, "quiet").await;
    assert_eq!(stoker.workspace_names(), ["other", "quiet"], "still listed");

    let again = stoker.workspace("quiet").await.unwrap();
    assert_eq!(
        again.job(id).await.unwrap().summary.state,
        JobState::Succeeded
    );
    let next = again.enqueue(Record { key: "two".into() }).await.unwrap();
    wait_for_state(&again, next, JobState::Succeeded).await;
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_released_workspace_runs_its_scheduled_and_recurring_jobs_when_they_fall_due() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-22T10:30:30Z")));
    let starts = Starts::default();
    let stoker = builder(dir.path(), &Runs::default())
        .data(starts.clone())
        .clock(clock.clone())
        .idle_timeout(IDLE)
        .build()
        .unwrap();
    let workspace = stoker.workspace("sleepy").await.unwrap();
    let delayed = workspace
        .schedule_at(Log {}, at("2026-11-22T11:00:00Z"))
        .await
        .unwrap();
    let hourly = RecurringOptions::default();
    workspace
        .add_or_update_recurring("hourly", NewJob::of(&Log {}), "30 * * * *", hourly)
        .await
        .unwrap();
    drop(workspace);
    released(&stoker, "sleepy").await;
    assert!(starts.all().is_empty());

    clock.set(at("2026-11-22T11:00:00Z"));
    wait_for("the delayed job to run", PATIENCE, async || {
        starts
            .all()
            .iter()
            .any(|(id, _)| *id == delayed)
            .then_some(())
    })
    .await;
    released(&stoker, "sleepy").await;

    clock.set(at("2026-11-22T11:30:00Z"));
    wait_for("the recurring job to fire", PATIENCE, async || {
        (starts.len() == 2).then_some(())
    })
    .await;
    let workspace = stoker.workspace("sleepy").await.unwrap();
    let recurring = workspace.recurring("hourly").await.unwrap();
    assert_eq!(recurring.last_execution, Some(at("2026-11-22T11:30:00Z")));
    let last = recurring.last_job_id.unwrap();
    wait_for_state(&workspace, last, JobState::Succeeded).await;
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn workspaces_in_storage_are_found_at_start_and_run_when_due_without_being_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-22T10:00:00Z")));
    let starts = Starts::default();
    let start = || {
        builder(dir.path(), &Runs::default())
            .data(starts.clone())
            .clock(clock.clone())
            .idle_timeout(IDLE)
            .build()
            .unwrap()
    };
    let first = start();
    let mut due = Vec::new();
    for name in ["north", "south"] {
        let workspace = first.workspace(name).await.unwrap();
        let at = at("2026-11-22T10:05:00Z");
        due.push(workspace.schedule_at(Log {}, at).await.unwrap());
    }
    first.shutdown().await;

    let second = start();
    wait_for("the stored workspaces to be found", PATIENCE, async || {
        (second.workspace_names() == ["north", "south"]).then_some(())
    })
    .await;
    assert!(second.open_workspaces().is_empty());
    clock.set(at("2026-11-22T10:05:00Z"));
    wait_for("both delayed jobs to run", PATIENCE, async || {
        (starts.len() == 2).then_some(())
    })
    .await;
    for (name, id) in ["north", "south"].into_iter().zip(due) {
        let workspace = second.workspace(name).await.unwrap();
        wait_for_state(&workspace, id, JobState::Succeeded).await;
    }
    second.shutdown().await;
}

#[actix_rt::test]
async fn workspaces_falling_due_together_open_in_turn_under_the_cap() {
    const CAP: usize = 3;
    const WORKSPACES: usize = 12;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-22T10:00:00Z")));
    let starts = Starts::default();
    let stoker = builder(dir.path(), &Runs::default())
        .data(starts.clone())
        .clock(clock.clone())
        .idle_timeout(IDLE)
        .max_open_workspaces(CAP)
        .build()
        .unwrap();
    for n in 0..WORKSPACES {
        let workspace = stoker.workspace(&format!("tenant{n}")).await.unwrap();
        workspace
            .schedule_at(Log {}, at("2026-11-22T10:05:00Z"))
            .await
            .unwrap();
    }
    wait_for("every workspace to be released", PATIENCE, async || {
        stoker.open_workspaces().is_empty().then_some(())
    })
    .await;

    // All fall due at the same instant: each runs its job, none opens beyond the cap.
    clock.set(at("2026-11-22T10:05:00Z"));
    let most_open = Cell::new(0);
    wait_for("every delayed job to run", PATIENCE, async || {
        most_open.set(most_open.get().max(stoker.open_workspaces().len()));
        (starts.len() == WORKSPACES).then_some(())
    })
    .await;
    let most_open = most_open.get();
    assert!(
        most_open <= CAP,
        "{most_open} workspaces open under a cap of {CAP}"
    );
    stoker.shutdown().await;
}
