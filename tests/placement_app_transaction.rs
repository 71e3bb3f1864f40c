//! Enqueueing inside the application's own transaction (`Workspace::transaction`), in every
//! placement the run stores in: the application connects to the database that holds the
//! workspace's rows as it connects to its own (with its own search path on PostgreSQL), keeps
//! a table of its own there, and writes it and a job in one transaction. The job exists if and
//! only if the transaction commits, and runs after the commit.

mod common;

use common::backend::{self, application_database};
use common::{Record, Runs, builder_on, events_of, next_event};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use stoker::{ContinueOn, Error, EventKind, JobFilter, JobId, JobState, NewJob, Stoker, Workspace};

const WORKSPACE: &str = "shop";

/// A runtime on this run's placement, the open workspace, and the application's connection
/// to the database that holds its rows, with the application's `orders` table in it.
async fn shop(dir: &std::path::Path, runs: &Runs) -> (Stoker, Workspace, DatabaseConnection) {
    let storage = backend::storage(dir);
    let stoker = builder_on(storage.clone(), runs).build().unwrap();
    let workspace = stoker.workspace(WORKSPACE).await.unwrap();
    let app = application_database(&storage, WORKSPACE).await;
    app.execute_unprepared("CREATE TABLE IF NOT EXISTS orders (item TEXT NOT NULL)")
        .await
        .unwrap();
    app.execute_unprepared("DELETE FROM orders").await.unwrap();
    (stoker, workspace, app)
}

/// How many orders the application's table holds.
async fn orders(app: &DatabaseConnection) -> i64 {
    let statement = sea_orm::Statement::from_string(
        app.get_database_backend(),
        "SELECT count(*) AS n FROM orders",
    );
    let row = app.query_one_raw(statement).await.unwrap().unwrap();
    row.try_get("", "n").unwrap()
}

fn order(key: &str) -> Record {
    Record { key: key.into() }
}

#[actix_rt::test]
async fn a_job_enqueued_in_a_committed_transaction_runs_and_the_applications_row_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let (stoker, workspace, app) = shop(dir.path(), &runs).await;
    let mut events = stoker.events();

    let txn = workspace.transaction(&app).await.unwrap();
    let id = txn.enqueue(order("paid")).await.unwrap();
    // The application's next statement finds its own table: its search path is its own again.
    txn.execute_unprepared("INSERT INTO orders (item) VALUES ('paid')")
        .await
        .unwrap();
    assert!(
        matches!(workspace.job(id).await, Err(Error::JobNotFound(missing)) if missing == id),
        "nobody else sees the job before the commit"
    );
    txn.commit().await.unwrap();

    // Both are told; on PostgreSQL the run may be told first, as the servers hear the commit
    // from the database before `commit` returns (see `Transaction`).
    let stored = EventKind::Enqueued {
        state: JobState::Enqueued,
    };
    let mut told = Vec::new();
    while !(told.contains(&stored) && told.contains(&EventKind::Succeeded)) {
        let event = next_event(&mut events).await;
        if event.job == id {
            told.push(event.kind);
        }
    }
    assert_eq!(runs.count(WORKSPACE, "paid"), 1);
    assert_eq!(orders(&app).await, 1);
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_rolled_back_or_dropped_transaction_leaves_neither_the_job_nor_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let (stoker, workspace, app) = shop(dir.path(), &runs).await;
    let mut events = stoker.events();

    let rolled_back = workspace.transaction(&app).await.unwrap();
    rolled_back
        .execute_unprepared("INSERT INTO orders (item) VALUES ('cancelled')")
        .await
        .unwrap();
    rolled_back.enqueue(order("cancelled")).await.unwrap();
    rolled_back.rollback().await.unwrap();
    let dropped = workspace.transaction(&app).await.unwrap();
    let jobs = [NewJob::of(&order("abandoned")), NewJob::of(&order("too"))];
    dropped.enqueue_many(jobs).await.unwrap();
    drop(dropped);

    // A job enqueued after them runs: by then the queue had its chances at the others.
    let later = workspace.enqueue(order("later")).await.unwrap();
    events_of(&mut events, later, &EventKind::Succeeded).await;
    // The list tells, not the ids: SQLite hands a rolled-back id to the next job.
    let listed = workspace.jobs(&JobFilter::new()).await.unwrap();
    let ids: Vec<JobId> = listed.jobs.iter().map(|job| job.id).collect();
    assert_eq!(ids, [later], "only the later job exists");
    let ran: Vec<String> = runs.all().into_keys().map(|(_, key)| key).collect();
    assert_eq!(ran, ["later"]);
    assert_eq!(orders(&app).await, 0);
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_scheduled_job_and_a_continuation_wait_in_the_transaction_like_any_other() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let (stoker, workspace, app) = shop(dir.path(), &runs).await;
    let mut events = stoker.events();

    let txn = workspace.transaction(&app).await.unwrap();
    let parent = txn.enqueue(order("parent")).await.unwrap();
    let follow_up = NewJob::of(&order("follow-up")).after(parent, ContinueOn::Succeeded);
    let child = txn.enqueue_job(follow_up).await.unwrap();
    let soon = NewJob::of(&order("soon")).delay(std::time::Duration::from_millis(1));
    let scheduled = txn.enqueue_job(soon).await.unwrap();
    assert_eq!(child.state, JobState::Awaiting);
    assert_eq!(scheduled.state, JobState::Scheduled);
    txn.commit().await.unwrap();

    events_of(&mut events, child.id, &EventKind::Succeeded).await;
    common::wait_for_state(&workspace, scheduled.id, JobState::Succeeded).await;
    assert_eq!(runs.total(), 3);
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_transaction_on_a_database_without_the_workspace_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let (stoker, workspace, _) = shop(dir.path(), &runs).await;
    let elsewhere = match backend::postgres_url() {
        Some(url) => backend::fresh_database(&url),
        None => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("other.db").display()
        ),
    };
    let other = sea_orm::Database::connect(elsewhere).await.unwrap();

    let refused = workspace.transaction(&other).await.unwrap_err();
    assert!(
        matches!(&refused, Error::InvalidConfig(reason) if reason.contains("the workspace's rows")),
        "{refused}"
    );
    let listed = workspace.jobs(&JobFilter::new()).await.unwrap();
    assert!(listed.jobs.is_empty());
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_refused_enqueue_writes_nothing_and_the_transaction_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let (stoker, workspace, app) = shop(dir.path(), &runs).await;
    let mut events = stoker.events();

    let txn = workspace.transaction(&app).await.unwrap();
    let unknown = NewJob::new("no_such_type", serde_json::json!({}));
    let orphan = NewJob::of(&order("orphan")).after(JobId(999_999), ContinueOn::Succeeded);
    let refused = txn
        .enqueue_many([NewJob::of(&order("first")), unknown])
        .await;
    assert!(
        matches!(refused, Err(Error::UnknownJobType(_))),
        "{refused:?}"
    );
    let refused = txn.enqueue_job(orphan).await;
    assert!(matches!(refused, Err(Error::JobNotFound(_))), "{refused:?}");
    txn.execute_unprepared("INSERT INTO orders (item) VALUES ('kept')")
        .await
        .unwrap();
    let kept = txn.enqueue(order("kept")).await.unwrap();
    txn.commit().await.unwrap();

    events_of(&mut events, kept, &EventKind::Succeeded).await;
    let listed = workspace.jobs(&JobFilter::new()).await.unwrap();
    assert_eq!(listed.total, 1);
    let ran: Vec<String> = runs.all().into_keys().map(|(_, key)| key).collect();
    assert_eq!(ran, ["kept"]);
    assert_eq!(orders(&app).await, 1);
    stoker.shutdown().await;
}
