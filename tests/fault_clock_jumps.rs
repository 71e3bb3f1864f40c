//! The wall clock jumping forward and back under a running server (a VM resumed, an NTP
//! correction), on a clock the test controls. Forward: what fell due runs at once, a recurring
//! job catches up as its misfire mode says (relaxed: once). Back: nothing already fired fires
//! again, nothing runs before its time comes round again, and everything runs when it does.

mod common;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Log, PATIENCE, Record, Runs, Starts, builder, wait_for, wait_for_state};
use stoker::{JobId, JobState, ManualClock, NewJob, RecurringOptions, Workspace};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Moves the clock forward to `now` and waits until the scheduler has done all it does at
/// that instant: a sentinel due then ran, and so did one due a millisecond later (passes run
/// one after another, and a pass promotes before it fires recurring jobs).
async fn move_clock_to(workspace: &Workspace, clock: &ManualClock, now: &str) {
    let now = at(now);
    for instant in [now, now + TimeDelta::milliseconds(1)] {
        let key = format!("sentinel {instant}");
        let sentinel = NewJob::of(&Record { key }).run_at(instant);
        let sentinel = workspace.enqueue_job(sentinel).await.unwrap();
        clock.set(instant);
        wait_for_state(workspace, sentinel.id, JobState::Succeeded).await;
    }
}

/// The job the recurring job `id` created last.
async fn last_fired(workspace: &Workspace, id: &str) -> Option<JobId> {
    workspace.recurring(id).await.unwrap().last_job_id
}

async fn state(workspace: &Workspace, id: JobId) -> JobState {
    workspace.job(id).await.unwrap().summary.state
}

#[actix_rt::test]
async fn clock_jumps_neither_repeat_nor_lose_scheduled_and_recurring_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-22T10:00:30Z")));
    let starts = Starts::default();
    let runs = Runs::default();
    let stoker = builder(dir.path(), &runs)
        .data(starts.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    let workspace = stoker.workspace("jumps").await.unwrap();
    let every_minute = RecurringOptions::default();
    workspace
        .add_or_update_recurring("minutely", NewJob::of(&Log {}), "* * * * *", every_minute)
        .await
        .unwrap();
    let report = NewJob::of(&Record {
        key: "report".into(),
    })
    .run_at(at("2026-11-22T10:10:00Z"));
    let report = workspace.enqueue_job(report).await.unwrap().id;

    // Forward five minutes: the missed occurrences run once (relaxed), the report waits.
    move_clock_to(&workspace, &clock, "2026-11-22T10:05:30Z").await;
    wait_for("the catch-up run", PATIENCE, || async {
        (starts.len() == 1).then_some(())
    })
    .await;
    let next = workspace
        .recurring("minutely")
        .await
        .unwrap()
        .next_execution;
    assert_eq!(next, Some(at("2026-11-22T10:06:00Z")));
    assert_eq!(state(&workspace, report).await, JobState::Scheduled);
    let caught_up = last_fired(&workspace, "minutely").await;

    // Back an hour, then forward to just before the next occurrence: nothing fired again,
    // nothing ran early.
    clock.set(at("2026-11-22T09:05:30Z"));
    move_clock_to(&workspace, &clock, "2026-11-22T10:05:59Z").await;
    assert_eq!(last_fired(&workspace, "minutely").await, caught_up);
    assert_eq!(starts.len(), 1, "no occurrence fired twice");
    assert_eq!(state(&workspace, report).await, JobState::Scheduled);
    let next = workspace
        .recurring("minutely")
        .await
        .unwrap()
        .next_execution;
    assert_eq!(next, Some(at("2026-11-22T10:06:00Z")), "the schedule kept");

    // Time comes round again: the next occurrence fires once, the report runs.
    move_clock_to(&workspace, &clock, "2026-11-22T10:06:00Z").await;
    wait_for("the next occurrence", PATIENCE, || async {
        (starts.len() == 2).then_some(())
    })
    .await;
    move_clock_to(&workspace, &clock, "2026-11-22T10:10:00Z").await;
    wait_for_state(&workspace, report, JobState::Succeeded).await;
    assert_eq!(runs.count("jumps", "report"), 1);
    wait_for("the 10:10 occurrence", PATIENCE, || async {
        (starts.len() == 3).then_some(())
    })
    .await;
    let occurrences = workspace.recurring("minutely").await.unwrap();
    assert_eq!(occurrences.next_execution, Some(at("2026-11-22T10:11:00Z")));
    stoker.shutdown().await;
}
