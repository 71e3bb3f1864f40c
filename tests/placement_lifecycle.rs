//! Workspaces come and go the same way in every placement: two hundred are created and each
//! runs a job; idle ones are released and woken again by their own delayed or recurring job
//! when it falls due (and not by another workspace's); finished jobs expire after their own
//! workspace's retention, the totals that count them surviving; a shared store is housekept
//! once for all its workspaces, and a workspace that settled leaves it without a statement.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{FailTimes, PATIENCE, Record, Runs, at, builder, released, wait_for, wait_for_state};
use stoker::{
    Clock, Error, JobId, JobState, ManualClock, NewJob, RecurringOptions, RetryPolicy, Workspace,
    WorkspaceOptions,
};

/// Idle workspaces are released after this long in these tests.
const IDLE: Duration = Duration::from_millis(200);

fn tenant(n: usize) -> String {
    format!("tenant{n:03}")
}

/// Waits until no workspace is open.
async fn all_released(stoker: &stoker::Stoker) {
    wait_for("every workspace to be released", PATIENCE, async || {
        stoker.open_workspaces().is_empty().then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn two_hundred_workspaces_each_run_a_job_and_are_released_when_idle() {
    const MANY: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    // Fewer open at once than there are workspaces: the first ones are released to make room.
    let stoker = builder(dir.path(), &runs)
        .idle_timeout(IDLE)
        .max_open_workspaces(MANY / 4)
        .build()
        .unwrap();
    let started = Instant::now();
    let mut jobs = Vec::new();
    for n in 0..MANY {
        let workspace = stoker.workspace(&tenant(n)).await.unwrap();
        let key = format!("hello from {}", tenant(n));
        jobs.push(workspace.enqueue(Record { key }).await.unwrap());
    }
    wait_for("every workspace's job to run", PATIENCE * 4, async || {
        (runs.total() >= MANY).then_some(())
    })
    .await;
    eprintln!(
        "{MANY} workspaces created, each ran its job, in {:?}",
        started.elapsed()
    );
    for n in 0..MANY {
        let key = format!("hello from {}", tenant(n));
        assert_eq!(runs.count(&tenant(n), &key), 1, "{}", tenant(n));
    }
    assert_eq!(
        runs.total(),
        MANY,
        "no job ran in another workspace, or twice"
    );

    all_released(&stoker).await;
    let names: Vec<String> = (0..MANY).map(tenant).collect();
    assert_eq!(stoker.workspace_names(), names, "released, still listed");
    let started = Instant::now();
    for (n, id) in jobs.into_iter().enumerate() {
        let open = stoker.open_workspaces().len();
        let workspace = stoker.workspace(&tenant(n)).await.unwrap_or_else(|error| {
            panic!("opening {} again, with {open} open: {error}", tenant(n))
        });
        let job = workspace.job(id).await.unwrap();
        assert_eq!(job.summary.state, JobState::Succeeded, "{}", tenant(n));
        assert_eq!(job.args["key"], format!("hello from {}", tenant(n)));
    }
    eprintln!(
        "{MANY} released workspaces opened again in {:?}",
        started.elapsed()
    );
    stoker.shutdown().await;
}

/// When job `id` of `workspace` started running: the instant of its `processing` row.
async fn started_at(workspace: &Workspace, id: JobId) -> DateTime<Utc> {
    let job = workspace.job(id).await.unwrap();
    let run = job
        .history
        .iter()
        .find(|entry| entry.state == JobState::Processing);
    run.unwrap_or_else(|| panic!("job {id} never ran: {job:?}"))
        .at
}

#[actix_rt::test]
async fn released_workspaces_are_woken_by_their_own_delayed_and_recurring_jobs_when_due() {
    const DUE: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-22T10:00:00Z")));
    let runs = Runs::default();
    let stoker = builder(dir.path(), &runs)
        .clock(clock.clone())
        .idle_timeout(IDLE)
        .build()
        .unwrap();
    // Even tenants wait for a delayed job, odd ones for a daily recurring job, all at 10:05;
    // `late` for a delayed job at 11:00.
    let mut delayed = Vec::new();
    for n in 0..DUE {
        let workspace = stoker.workspace(&tenant(n)).await.unwrap();
        let job = Record {
            key: format!("due:{}", tenant(n)),
        };
        match n % 2 {
            0 => {
                let id = workspace
                    .schedule_at(job, at("2026-11-22T10:05:00Z"))
                    .await
                    .unwrap();
                delayed.push((n, id));
            }
            _ => {
                let options = RecurringOptions::default();
                workspace
                    .add_or_update_recurring("daily", NewJob::of(&job), "5 10 * * *", options)
                    .await
                    .unwrap();
            }
        }
    }
    let late = stoker.workspace("late").await.unwrap();
    let late_job = Record { key: "late".into() };
    let late_id = late
        .schedule_at(late_job, at("2026-11-22T11:00:00Z"))
        .await
        .unwrap();
    drop(late);
    all_released(&stoker).await;
    assert_eq!(runs.total(), 0);

    clock.set(at("2026-11-22T10:05:00Z"));
    wait_for("every job due at 10:05 to run", PATIENCE, async || {
        (runs.total() >= DUE).then_some(())
    })
    .await;
    for n in 0..DUE {
        let key = format!("due:{}", tenant(n));
        assert_eq!(runs.count(&tenant(n), &key), 1, "{}", tenant(n));
    }
    for n in (1..DUE).step_by(2) {
        let workspace = stoker.workspace(&tenant(n)).await.unwrap();
        let daily = workspace.recurring("daily").await.unwrap();
        assert_eq!(daily.last_execution, Some(at("2026-11-22T10:05:00Z")));
        let fired = daily.last_job_id.unwrap();
        wait_for_state(&workspace, fired, JobState::Succeeded).await;
        assert!(started_at(&workspace, fired).await >= at("2026-11-22T10:05:00Z"));
    }
    for (n, id) in delayed {
        let workspace = stoker.workspace(&tenant(n)).await.unwrap();
        wait_for_state(&workspace, id, JobState::Succeeded).await;
    }
    released(&stoker, "late").await;

    clock.set(at("2026-11-22T11:00:00Z"));
    wait_for("the late job to run", PATIENCE, async || {
        (runs.count("late", "late") == 1).then_some(())
    })
    .await;
    let late = stoker.workspace("late").await.unwrap();
    wait_for_state(&late, late_id, JobState::Succeeded).await;
    assert!(
        started_at(&late, late_id).await >= at("2026-11-22T11:00:00Z"),
        "the others' due work woke `late` early"
    );
    assert_eq!(
        runs.total(),
        DUE + 1,
        "each due job ran once: {:?}",
        runs.all()
    );
    stoker.shutdown().await;
}

/// How often the housekeeping runs in the tests that count statements.
const ROUND: Duration = Duration::from_millis(50);

/// A runtime whose heartbeat and due pass run every [`ROUND`].
fn brisk(dir: &std::path::Path) -> stoker::Stoker {
    builder(dir, &Runs::default())
        .heartbeat(ROUND)
        .poll_interval(ROUND)
        .build()
        .unwrap()
}

/// Waits until `stoker`'s housekeeping has run a few more rounds, as the heartbeats in
/// `observer`'s store show.
async fn a_few_rounds_later(stoker: &stoker::Stoker, observer: &Workspace) {
    let since = stoker.now() + chrono::Duration::milliseconds(4 * ROUND.as_millis() as i64);
    upkeep_after(observer, since).await;
}

/// A shared store is housekept once for all its workspaces: one heartbeat renewing every
/// lease, one recovery and expiry pass, one due query. A workspace open there and idle so
/// runs no statement of its own, however many heartbeats and polls go by; a store of one
/// workspace's own is housekept through that workspace.
#[actix_rt::test]
async fn housekeeping_runs_once_per_store_not_once_per_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = brisk(dir.path());
    let observer = stoker.workspace("observer").await.unwrap();
    let mut idle = Vec::new();
    for n in 0..3 {
        let workspace = stoker.workspace(&tenant(n)).await.unwrap();
        let later = NewJob::of(&Record {
            key: "later".into(),
        })
        .delay(Duration::from_secs(3600));
        workspace.enqueue_job(later).await.unwrap();
        idle.push(workspace);
    }
    let before: Vec<u64> = idle
        .iter()
        .map(stoker::testing::statements_executed)
        .collect();
    a_few_rounds_later(&stoker, &observer).await;
    let ran: Vec<u64> = idle
        .iter()
        .zip(&before)
        .map(|(workspace, before)| stoker::testing::statements_executed(workspace) - before)
        .collect();
    match common::backend::placement().as_str() {
        "file" | "shared" => assert_eq!(ran, [0, 0, 0], "statements of idle workspaces"),
        _ => assert!(
            ran.iter().all(|&ran| ran > 0),
            "each store of its own is housekept on its own: {ran:?}"
        ),
    }
    stoker.shutdown().await;
}

/// A workspace whose jobs all finished and were stored holds nothing of the server's in a
/// store that workspaces share (its server row and leases are the store's), so leaving it,
/// as a release or a shutdown does, runs no statement of its own. In a store of its own it
/// still takes the server out of the registry.
#[actix_rt::test]
async fn a_settled_workspace_leaves_a_shared_store_without_a_statement() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = brisk(dir.path());
    let observer = stoker.workspace("observer").await.unwrap();
    let workspace = stoker.workspace("settled").await.unwrap();
    let id = workspace
        .enqueue(Record { key: "ran".into() })
        .await
        .unwrap();
    wait_for_state(&workspace, id, JobState::Succeeded).await;
    // Wake-ups the job's enqueue sent (a notification, on PostgreSQL) have been handled by
    // then.
    a_few_rounds_later(&stoker, &observer).await;
    let before = stoker::testing::statements_executed(&workspace);
    stoker.shutdown().await;
    let leaving = stoker::testing::statements_executed(&workspace) - before;
    match common::backend::placement().as_str() {
        "file" | "shared" => assert_eq!(leaving, 0, "statements run to leave a shared store"),
        _ => assert!(
            leaving > 0,
            "a store of its own forgets the server as it is left"
        ),
    }
}

/// Waits until `workspace`'s server has written a heartbeat at or after `since` on the manual
/// clock: the upkeep round that wrote it expired what was due before.
async fn upkeep_after(workspace: &Workspace, since: DateTime<Utc>) {
    let what = format!("an upkeep round of {} after {since}", workspace.name());
    wait_for(&what, PATIENCE, || async {
        let servers = workspace.servers().await.unwrap();
        servers
            .iter()
            .any(|s| s.heartbeat_at >= since)
            .then_some(())
    })
    .await;
}

async fn is_gone(workspace: &Workspace, id: JobId) -> bool {
    matches!(workspace.job(id).await, Err(Error::JobNotFound(_)))
}

/// A succeeded and a failed job of `workspace`, both finished.
async fn finished_jobs(workspace: &Workspace) -> (JobId, JobId) {
    let done = workspace
        .enqueue(Record { key: "done".into() })
        .await
        .unwrap();
    let never = NewJob::of(&FailTimes { times: 100 }).retry(RetryPolicy::attempts(0));
    let failed = workspace.enqueue_job(never).await.unwrap().id;
    wait_for_state(workspace, done, JobState::Succeeded).await;
    wait_for_state(workspace, failed, JobState::Failed).await;
    (done, failed)
}

#[actix_rt::test]
async fn finished_jobs_expire_after_their_own_workspaces_retention() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-22T10:00:00Z")));
    // `brief` keeps succeeded jobs an hour and failed ones two; `kept` the builder's day and week.
    let stoker = builder(dir.path(), &Runs::default())
        .clock(clock.clone())
        .heartbeat(Duration::from_millis(50))
        .workspace_options(|name| match name {
            "brief" => WorkspaceOptions::default()
                .retention(Duration::from_secs(3600))
                .failed_retention(Duration::from_secs(2 * 3600)),
            _ => WorkspaceOptions::default(),
        })
        .build()
        .unwrap();
    let brief = stoker.workspace("brief").await.unwrap();
    let kept = stoker.workspace("kept").await.unwrap();
    let (brief_done, brief_failed) = finished_jobs(&brief).await;
    let (kept_done, kept_failed) = finished_jobs(&kept).await;

    clock.advance(chrono::Duration::minutes(90));
    wait_for("brief's succeeded job to expire", PATIENCE, || async {
        is_gone(&brief, brief_done).await.then_some(())
    })
    .await;
    upkeep_after(&kept, clock.now()).await;
    assert!(
        !is_gone(&brief, brief_failed).await,
        "failed jobs are kept longer"
    );
    for id in [kept_done, kept_failed] {
        assert!(
            !is_gone(&kept, id).await,
            "kept's job {id} went with brief's"
        );
    }

    clock.advance(chrono::Duration::minutes(60));
    wait_for("brief's failed job to expire", PATIENCE, || async {
        is_gone(&brief, brief_failed).await.then_some(())
    })
    .await;
    upkeep_after(&kept, clock.now()).await;
    assert!(!is_gone(&kept, kept_failed).await);
    assert!(!is_gone(&kept, kept_done).await);

    clock.advance(chrono::Duration::days(1));
    wait_for("kept's succeeded job to expire", PATIENCE, || async {
        is_gone(&kept, kept_done).await.then_some(())
    })
    .await;
    upkeep_after(&kept, clock.now()).await;
    assert!(
        !is_gone(&kept, kept_failed).await,
        "a failed job is kept a week"
    );
    for workspace in [&brief, &kept] {
        let stats = workspace.stats().await.unwrap();
        assert_eq!(
            stats.succeeded,
            1,
            "{}: the total outlives the job",
            workspace.name()
        );
    }
    stoker.shutdown().await;
}
