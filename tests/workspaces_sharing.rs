//! Workspaces share one server: a server-wide cap on running jobs that a busy workspace
//! cannot keep to itself, each workspace's own options, and on PostgreSQL a few connections
//! for any number of workspaces.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Log, Nap, PATIENCE, Runs, Starts, backend, builder, wait_for, wait_for_state};
use serde::{Deserialize, Serialize};
use stoker::{Job, JobContext, JobError, JobState, NewJob, WorkspaceOptions};

/// How many jobs of this kind run right now, and the most that ever ran at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// Counts itself in the [`Gauge`] while it runs for a moment.
#[derive(Serialize, Deserialize)]
struct Busy {}

impl Job for Busy {
    const NAME: &'static str = "busy";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let gauge = ctx.data::<Gauge>().expect("Gauge registered");
        let now = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
        gauge.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        gauge.now.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

#[actix_rt::test]
async fn a_job_of_another_workspace_starts_within_500_ms_while_one_works_through_100_000() {
    let dir = tempfile::tempdir().unwrap();
    let (runs, starts) = (Runs::default(), Starts::default());
    let stoker = builder(dir.path(), &runs)
        .data(starts.clone())
        .workers(8)
        .max_running(8)
        .build()
        .unwrap();
    let busy = stoker.workspace("busy").await.unwrap();
    let backlog = (0..100_000).map(|n| {
        NewJob::of(&Nap {
            key: format!("a{}", n % 100),
            ms: 5,
        })
    });
    busy.enqueue_many(backlog).await.unwrap();
    wait_for(
        "the busy workspace to take every slot",
        PATIENCE,
        async || {
            let stats = busy.stats().await.unwrap();
            // Finished jobs count as processing until their batch is written: at least 8.
            (stats.processing >= 8 && stats.succeeded > 100).then_some(())
        },
    )
    .await;

    let quiet = stoker.workspace("quiet").await.unwrap();
    let enqueued_at = chrono::Utc::now();
    let id = quiet.enqueue(Log {}).await.unwrap();
    wait_for_state(&quiet, id, JobState::Succeeded).await;
    let started_at = starts.all()[0].1;
    let waited = started_at - enqueued_at;
    assert!(
        waited < chrono::Duration::milliseconds(500),
        "waited {waited} behind the busy workspace"
    );
    assert!(
        busy.stats().await.unwrap().enqueued > 10_000,
        "the backlog was still there"
    );
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn the_server_wide_cap_holds_across_workspaces_and_each_keeps_its_own_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (gauge, small_gauge) = (Arc::new(Gauge::default()), Arc::new(Gauge::default()));
    let stoker = builder(dir.path(), &Runs::default())
        .register::<Busy>()
        .shared_data(gauge.clone())
        .workers(5)
        .max_running(6)
        .workspace_options(|name| match name {
            "small" => WorkspaceOptions::default().workers(1).queues(["only"]),
            _ => WorkspaceOptions::default(),
        })
        .build()
        .unwrap();
    let mut jobs = Vec::new();
    for name in ["one", "two", "three"] {
        let workspace = stoker.workspace(name).await.unwrap();
        let ids = workspace
            .enqueue_many((0..20).map(|_| NewJob::of(&Busy {})))
            .await
            .unwrap();
        jobs.push((workspace, ids));
    }
    for (workspace, ids) in &jobs {
        for enqueued in ids {
            wait_for_state(workspace, enqueued.id, JobState::Succeeded).await;
        }
    }
    let peak = gauge.peak.load(Ordering::SeqCst);
    assert!(
        (2..=6).contains(&peak),
        "at most 6 at once, and more than one: {peak}"
    );

    // "small" runs one job at a time, from its own queue only (in a runtime of its own, on
    // storage of its own: one process holds a SQLite file that workspaces share).
    let small_dir = tempfile::tempdir().unwrap();
    let small_stoker = builder(small_dir.path(), &Runs::default())
        .register::<Busy>()
        .shared_data(small_gauge.clone())
        .workspace_options(|_| WorkspaceOptions::default().workers(1).queues(["only"]))
        .build()
        .unwrap();
    let small = small_stoker.workspace("small").await.unwrap();
    let mine = small
        .enqueue_many((0..5).map(|_| NewJob::of(&Busy {}).queue("only")))
        .await
        .unwrap();
    let other = small.enqueue_job(NewJob::of(&Busy {})).await.unwrap();
    for enqueued in &mine {
        wait_for_state(&small, enqueued.id, JobState::Succeeded).await;
    }
    assert_eq!(small_gauge.peak.load(Ordering::SeqCst), 1);
    let left = small.job(other.id).await.unwrap();
    assert_eq!(
        left.summary.state,
        JobState::Enqueued,
        "queue `default` is not worked"
    );
    small_stoker.shutdown().await;
    stoker.shutdown().await;
}

/// Jobs that wait inside until the test opens the gate.
struct Gate {
    inside: AtomicUsize,
    open: tokio::sync::watch::Sender<bool>,
}

/// Counts itself in at the [`Gate`] and waits there until it opens.
#[derive(Serialize, Deserialize)]
struct Held {}

impl Job for Held {
    const NAME: &'static str = "held";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let gate = ctx.data::<Gate>().expect("Gate registered");
        let mut open = gate.open.subscribe();
        gate.inside.fetch_add(1, Ordering::SeqCst);
        tokio::time::timeout(PATIENCE, open.wait_for(|open| *open))
            .await
            .map_err(|_| JobError::fatal("the gate never opened"))?
            .map_err(|_| JobError::fatal("the gate is gone"))?;
        Ok(())
    }
}

#[actix_rt::test]
async fn more_workers_than_the_default_cap_of_100_all_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Arc::new(Gate {
        inside: AtomicUsize::new(0),
        open: tokio::sync::watch::channel(false).0,
    });
    let stoker = builder(dir.path(), &Runs::default())
        .register::<Held>()
        .shared_data(gate.clone())
        .workers(150)
        .build()
        .unwrap();
    let workspace = stoker.workspace("wide").await.unwrap();
    let held = workspace
        .enqueue_many((0..150).map(|_| NewJob::of(&Held {})))
        .await
        .unwrap();
    wait_for("150 jobs inside at once", PATIENCE, async || {
        (gate.inside.load(Ordering::SeqCst) == 150).then_some(())
    })
    .await;
    gate.open.send_replace(true);
    for enqueued in &held {
        wait_for_state(&workspace, enqueued.id, JobState::Succeeded).await;
    }
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn queues_are_worked_in_the_order_they_are_listed_whatever_was_enqueued_first() {
    let dir = tempfile::tempdir().unwrap();
    let filling = builder(dir.path(), &Runs::default())
        .queues(["nobody"])
        .build()
        .unwrap();
    let workspace = filling.workspace("ordered").await.unwrap();
    let mut critical = Vec::new();
    for queue in [
        "default", "critical", "default", "critical", "default", "critical",
    ] {
        let enqueued = workspace
            .enqueue_job(NewJob::of(&Log {}).queue(queue))
            .await
            .unwrap();
        if queue == "critical" {
            critical.push(enqueued.id);
        }
    }
    drop(workspace);
    filling.shutdown().await;

    let starts = Starts::default();
    let stoker = builder(dir.path(), &Runs::default())
        .data(starts.clone())
        .queues(["critical", "default"])
        .workers(1)
        .build()
        .unwrap();
    let _workspace = stoker.workspace("ordered").await.unwrap();
    wait_for("all six jobs to start", PATIENCE, async || {
        (starts.len() == 6).then_some(())
    })
    .await;
    let first: Vec<_> = starts.all().iter().take(3).map(|(id, _)| *id).collect();
    assert_eq!(first, critical, "the critical queue's jobs, oldest first");
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn bad_workspace_options_are_refused_when_the_workspace_opens() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default())
        .workspace_options(|name| match name {
            "broken" => WorkspaceOptions::default().queues(Vec::<String>::new()),
            _ => WorkspaceOptions::default().queues(["bad queue"]),
        })
        .build()
        .unwrap();
    for name in ["broken", "spaced"] {
        let refused = stoker.workspace(name).await;
        assert!(
            matches!(
                refused,
                Err(stoker::Error::InvalidConfig(_) | stoker::Error::InvalidName(_))
            ),
            "{name}: {refused:?}"
        );
    }
    assert!(stoker.workspace_names().is_empty());
    assert!(!dir.path().join("broken.db").exists(), "nothing was stored");
    stoker.shutdown().await;
}

#[actix_rt::test]
#[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
async fn a_hundred_workspaces_on_postgresql_share_a_few_connections() {
    let url = backend::required_postgres_url();
    let dir = tempfile::tempdir().unwrap();
    let starts = Starts::default();
    let stoker = builder(dir.path(), &Runs::default())
        .data(starts.clone())
        .max_connections(4)
        .build()
        .unwrap();
    let mut jobs = Vec::new();
    for n in 0..100 {
        let workspace = stoker.workspace(&format!("tenant{n}")).await.unwrap();
        let id = workspace.enqueue(Log {}).await.unwrap();
        jobs.push((workspace, id));
    }
    for (workspace, id) in &jobs {
        wait_for_state(workspace, *id, JobState::Succeeded).await;
    }
    let database = match backend::storage(dir.path()) {
        stoker::StorageConfig::Postgres { url } => url,
        other => panic!("{other:?}"),
    };
    let name = database.rsplit('/').next().unwrap().to_owned();
    let connections = backend::count_connections(&url, &name).await;
    assert!(
        connections <= 5,
        "{connections} connections: at most 4 pooled and 1 listening"
    );
    assert_eq!(starts.len(), 100);
    stoker.shutdown().await;
}
