//! Recurring jobs: each occurrence fires once (across a restart too), missed occurrences are
//! treated as the misfire mode says, and people can trigger, pause, resume and remove them.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::{Log, PATIENCE, Runs, Starts, backend, builder, builder_on, wait_for};
use stoker::{
    Error, JobId, ManualClock, Misfire, NewJob, RecurringOptions, Stoker, StorageConfig, Workspace,
};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// The occurrence a recurring job's run was created for, from its first history row.
async fn occurrence(workspace: &Workspace, id: JobId) -> DateTime<Utc> {
    let job = workspace.job(id).await.unwrap();
    let created = job.history.last().unwrap();
    let data = created
        .data
        .as_ref()
        .expect("a recurring job's first row names its occurrence");
    data["occurrence"].as_str().unwrap().parse().unwrap()
}

#[actix_rt::test]
async fn an_every_second_job_fires_once_per_occurrence_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let starts = Starts::default();
    let start = |dir: &std::path::Path| {
        builder(dir, &Runs::default())
            .data(starts.clone())
            .build()
            .unwrap()
    };
    let stoker = start(dir.path());
    let workspace = stoker.workspace("ticker").await.unwrap();
    let options = RecurringOptions::default().misfire(Misfire::Strict);
    workspace
        .add_or_update_recurring("tick", NewJob::of(&Log {}), "*/1 * * * * *", options)
        .await
        .unwrap();
    wait_for("2 ticks", PATIENCE, || async {
        (starts.len() >= 2).then_some(())
    })
    .await;
    stoker.shutdown().await;

    let stoker = start(dir.path());
    let workspace = stoker.workspace("ticker").await.unwrap();
    wait_for("5 ticks", PATIENCE, || async {
        (starts.len() >= 5).then_some(())
    })
    .await;
    stoker.shutdown().await;

    let stoker = start(dir.path());
    let workspace_after = stoker.workspace("ticker").await.unwrap();
    drop(workspace);
    let mut occurrences = Vec::new();
    for (id, _) in starts.all() {
        occurrences.push(occurrence(&workspace_after, id).await);
    }
    stoker.shutdown().await;
    let distinct: BTreeSet<_> = occurrences.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        occurrences.len(),
        "an occurrence fired twice: {occurrences:?}"
    );
    let first = *distinct.first().unwrap();
    let expected: BTreeSet<_> = (0..distinct.len() as i64)
        .map(|n| first + Duration::seconds(n))
        .collect();
    assert_eq!(
        distinct, expected,
        "one run per second, none missed across the restart"
    );
}

/// Runs a recurring job every minute, stops for ten minutes, and returns what the restart
/// created and the stored next execution.
async fn after_an_outage(misfire: Misfire) -> (u64, Option<DateTime<Utc>>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-22T10:00:30Z")));
    let start = || {
        builder(dir.path(), &Runs::default())
            .data(Starts::default())
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let stoker = start();
    let workspace = stoker.workspace("outage").await.unwrap();
    let options = RecurringOptions::default().misfire(misfire);
    let job = workspace
        .add_or_update_recurring("minutely", NewJob::of(&Log {}), "* * * * *", options)
        .await
        .unwrap();
    assert_eq!(job.next_execution, Some(at("2026-11-22T10:01:00Z")));
    stoker.shutdown().await;

    clock.advance(Duration::minutes(10)); // 10:10:30: ten occurrences missed
    let stoker = start();
    let workspace = stoker.workspace("outage").await.unwrap();
    let next = wait_for("the missed occurrences to be handled", PATIENCE, || async {
        let job = workspace.recurring("minutely").await.unwrap();
        (job.next_execution == Some(at("2026-11-22T10:11:00Z"))).then_some(job.next_execution)
    })
    .await;
    let stats = workspace.stats().await.unwrap();
    let created = stats.enqueued + stats.processing + stats.succeeded;
    stoker.shutdown().await;
    (created, next)
}

#[actix_rt::test]
async fn relaxed_runs_once_for_all_missed_occurrences() {
    assert_eq!(after_an_outage(Misfire::Relaxed).await.0, 1);
}

#[actix_rt::test]
async fn strict_runs_every_missed_occurrence() {
    assert_eq!(after_an_outage(Misfire::Strict).await.0, 10);
}

#[actix_rt::test]
async fn ignorable_skips_missed_occurrences() {
    assert_eq!(after_an_outage(Misfire::Ignorable).await.0, 0);
}

async fn started(clock: Arc<ManualClock>, dir: &std::path::Path) -> (Stoker, Workspace, Starts) {
    started_on(backend::storage(dir), clock).await
}

async fn started_on(
    storage: StorageConfig,
    clock: Arc<ManualClock>,
) -> (Stoker, Workspace, Starts) {
    let starts = Starts::default();
    let stoker = builder_on(storage, &Runs::default())
        .data(starts.clone())
        .clock(clock)
        .build()
        .unwrap();
    let workspace = stoker.workspace("steer").await.unwrap();
    (stoker, workspace, starts)
}

#[actix_rt::test]
async fn recurring_jobs_can_be_triggered_paused_resumed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-22T10:00:30Z")));
    let (stoker, workspace, starts) = started(clock.clone(), dir.path()).await;
    let options = RecurringOptions::default().time_zone("Europe/Berlin");
    let job = workspace
        .add_or_update_recurring("report", NewJob::of(&Log {}), "0 12 * * *", options)
        .await
        .unwrap();
    assert_eq!(
        job.next_execution,
        Some(at("2026-11-22T11:00:00Z")),
        "noon in Berlin"
    );
    assert_eq!(
        (job.cron.as_str(), job.time_zone.as_str()),
        ("0 12 * * *", "Europe/Berlin")
    );

    let triggered = workspace.trigger("report").await.unwrap();
    wait_for("the triggered run", PATIENCE, || async {
        (starts.len() == 1).then_some(())
    })
    .await;
    let job = workspace.recurring("report").await.unwrap();
    assert_eq!(job.last_job_id, Some(triggered));
    assert_eq!(
        job.next_execution,
        Some(at("2026-11-22T11:00:00Z")),
        "a trigger keeps the schedule"
    );

    assert!(workspace.pause("report").await.unwrap().paused);
    clock.set(at("2026-11-22T11:00:05Z"));
    clock.set(at("2026-11-22T13:00:00Z"));
    let resumed = workspace.resume("report").await.unwrap();
    assert!(!resumed.paused);
    assert_eq!(
        resumed.next_execution,
        Some(at("2026-11-23T11:00:00Z")),
        "missed while paused"
    );
    assert_eq!(starts.len(), 1, "a paused job does not run");

    clock.set(at("2026-11-23T11:00:00Z"));
    wait_for("the scheduled run", PATIENCE, || async {
        (starts.len() == 2).then_some(())
    })
    .await;

    workspace.remove_recurring("report").await.unwrap();
    assert!(matches!(
        workspace.recurring("report").await,
        Err(Error::RecurringNotFound(_))
    ));
    assert!(matches!(
        workspace.trigger("report").await,
        Err(Error::RecurringNotFound(_))
    ));
    assert!(workspace.recurring_jobs().await.unwrap().is_empty());
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn bad_definitions_are_refused_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-22T10:00:30Z")));
    let (stoker, workspace, _) = started(clock, dir.path()).await;
    let job = || NewJob::of(&Log {});
    let utc = RecurringOptions::default;

    let cron = workspace
        .add_or_update_recurring("r", job(), "0 25 * * *", utc())
        .await;
    let Err(Error::InvalidCron(error)) = cron else {
        panic!("{cron:?}")
    };
    assert!(error.to_string().contains("hour field `25`"), "{error}");

    let zone = workspace
        .add_or_update_recurring("r", job(), "0 2 * * *", utc().time_zone("Moon/Base"))
        .await;
    assert!(matches!(zone, Err(Error::UnknownTimeZone(_))), "{zone:?}");

    let unknown = workspace
        .add_or_update_recurring(
            "r",
            NewJob::new("nope", serde_json::json!({})),
            "0 2 * * *",
            utc(),
        )
        .await;
    assert!(
        matches!(unknown, Err(Error::UnknownJobType(_))),
        "{unknown:?}"
    );

    let id = workspace
        .add_or_update_recurring("bad id!", job(), "0 2 * * *", utc())
        .await;
    assert!(matches!(id, Err(Error::InvalidName(_))), "{id:?}");

    assert!(workspace.recurring_jobs().await.unwrap().is_empty());
    assert_eq!(workspace.stats().await.unwrap().recurring, 0);
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn an_occurrence_whose_job_type_is_gone_records_an_error_instead_of_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-22T10:00:30Z")));
    let storage = backend::storage(dir.path());
    let (stoker, workspace, _) = started_on(storage.clone(), clock.clone()).await;
    workspace
        .add_or_update_recurring(
            "old",
            NewJob::of(&Log {}),
            "* * * * *",
            RecurringOptions::default(),
        )
        .await
        .unwrap();
    stoker.shutdown().await;

    // The next version of the application no longer has the job type.
    let stoker = Stoker::builder()
        .storage(storage)
        .clock(clock.clone())
        .build()
        .unwrap();
    let workspace = stoker.workspace("steer").await.unwrap();
    clock.set(at("2026-11-22T10:01:00Z"));
    let job = wait_for("the occurrence to be handled", PATIENCE, || async {
        let job = workspace.recurring("old").await.unwrap();
        job.error.is_some().then_some(job)
    })
    .await;
    assert_eq!(job.error.as_deref(), Some("unknown job type `log`"));
    assert_eq!(job.next_execution, Some(at("2026-11-22T10:02:00Z")));
    assert_eq!(job.last_job_id, None);
    stoker.shutdown().await;
}
