//! `Stoker::events()`: what happens to jobs, told as it is stored — enqueues, runs and their
//! ends, deletions, recurring jobs firing.

mod common;

use std::time::Duration;

use common::{FailTimes, Record, Runs, builder, events_of, next_event};
use stoker::{EventKind, JobState, NewJob};

#[actix_rt::test]
async fn a_job_that_fails_once_is_told_enqueued_started_failed_started_succeeded() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let mut events = stoker.events();
    let workspace = stoker.workspace("told").await.unwrap();

    let id = workspace.enqueue(FailTimes { times: 1 }).await.unwrap();
    let told = events_of(&mut events, id, &EventKind::Succeeded).await;
    assert_eq!(
        told,
        [
            EventKind::Enqueued {
                state: JobState::Enqueued
            },
            EventKind::Started { attempt: 1 },
            EventKind::Failed { will_retry: true },
            EventKind::Started { attempt: 2 },
            EventKind::Succeeded,
        ]
    );
    assert_eq!(events.missed(), 0);
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_scheduled_job_is_told_stored_then_deleted_with_its_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let mut events = stoker.events();
    let workspace = stoker.workspace("deletions").await.unwrap();

    let job = Record {
        key: "later".into(),
    };
    let id = workspace
        .schedule(job, Duration::from_secs(3600))
        .await
        .unwrap();
    workspace.delete(id).await.unwrap();
    let stored = next_event(&mut events).await;
    assert_eq!(stored.workspace, "deletions");
    assert_eq!(
        stored.kind,
        EventKind::Enqueued {
            state: JobState::Scheduled
        }
    );
    let deleted = next_event(&mut events).await;
    assert_eq!((deleted.job, deleted.kind), (id, EventKind::Deleted));
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_recurring_job_is_told_firing_at_its_occurrence_and_when_triggered() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let mut events = stoker.events();
    let workspace = stoker.workspace("recurring").await.unwrap();
    let fired = EventKind::RecurringFired {
        recurring: "tick".into(),
    };

    let job = NewJob::of(&Record { key: "tick".into() });
    workspace
        .add_or_update_recurring("tick", job, "* * * * * *", Default::default())
        .await
        .unwrap();
    let at_occurrence = loop {
        let event = next_event(&mut events).await;
        if event.kind == fired {
            break event;
        }
    };
    assert_eq!(at_occurrence.workspace, "recurring");
    let created = workspace.job(at_occurrence.job).await.unwrap();
    assert_eq!(created.summary.job_type, "record");

    workspace.pause("tick").await.unwrap();
    let triggered = workspace.trigger("tick").await.unwrap();
    let told = loop {
        let event = next_event(&mut events).await;
        if event.job == triggered {
            break event;
        }
    };
    assert_eq!(told.kind, fired);
    stoker.shutdown().await;
}
