//! Every statement a workspace runs names its workspace: a lifecycle of every storage call
//! of one workspace in a SQLite file shared with another, with each statement recorded. A
//! statement on stoker's tables without `workspace` would read or change the other
//! workspace's rows.

use std::sync::{Arc, Mutex};

use super::{
    Action, ClaimFloors, Completion, Databases, Firing, Granularity, JobFilter, NewJobRow,
    RecurringRow, Round, ServerRow, Storage, StorageConfig,
};
use crate::name::WorkspaceName;
use crate::schedule::Misfire;

/// The tables whose rows belong to a workspace.
const TABLES: [&str; 7] = [
    "\"jobs\"",
    "\"job_history\"",
    "\"job_counts\"",
    "\"counters\"",
    "\"recurring_jobs\"",
    "\"servers\"",
    "\"locks\"",
];

/// `storage`, recording the text of each statement it runs.
fn recording(storage: &Storage) -> (Storage, Arc<Mutex<Vec<String>>>) {
    let statements = Arc::new(Mutex::new(Vec::new()));
    let mut recorded = storage.clone();
    for db in [&mut recorded.writer, &mut recorded.reader] {
        let statements = statements.clone();
        db.set_metric_callback(move |info| {
            let sql = info.statement.sql.clone();
            statements.lock().unwrap().push(sql);
        });
    }
    (recorded, statements)
}

/// Runs every storage call a workspace makes, once.
async fn lifecycle(storage: &Storage) {
    let (queues, floors, server) = (["default".to_owned()], ClaimFloors::default(), "s1");
    let rows = vec![
        NewJobRow::plain("default", 1),
        NewJobRow::plain("default", 0),
    ];
    let created = storage.insert_jobs(rows, 1).await.unwrap();
    let continuation = NewJobRow {
        parent: Some((created[0].id, crate::state::ContinueOn::Succeeded)),
        ..NewJobRow::plain("default", 0)
    };
    storage.insert_jobs(vec![continuation], 1).await.unwrap();
    let claimed = storage
        .claim(&queues, 1, &floors, server, 2, 100)
        .await
        .unwrap();
    let done = Completion::Succeeded {
        id: claimed[0].id,
        attempt: 1,
    };
    storage.complete(vec![done], server, 3).await.unwrap();
    storage
        .apply(created[1].id, Action::Delete, 4)
        .await
        .unwrap();
    storage
        .apply(created[1].id, Action::Requeue, 5)
        .await
        .unwrap();
    storage.job(created[0].id, 0).await.unwrap();
    let filter = JobFilter {
        search: Some("test".into()),
        limit: 10,
        ..JobFilter::default()
    };
    storage.list_jobs(&filter).await.unwrap();
    storage.stats().await.unwrap();
    storage.servers().await.unwrap();
    storage.history(Granularity::Hour, 6).await.unwrap();

    let recurring = RecurringRow {
        id: "nightly".into(),
        job_type: "test".into(),
        args: "{}".into(),
        queue: "default".into(),
        cron: "0 0 * * *".into(),
        time_zone: "UTC".into(),
        misfire: Misfire::default(),
        options: Default::default(),
    };
    storage
        .upsert_recurring(recurring, Some(7), 6)
        .await
        .unwrap();
    storage.recurring("nightly").await.unwrap();
    storage.recurring_jobs().await.unwrap();
    storage.set_paused("nightly", true, None, 7).await.unwrap();
    storage
        .set_paused("nightly", false, Some(8), 8)
        .await
        .unwrap();
    let plan = |_: &super::StoredRecurring| Firing {
        jobs: vec![NewJobRow::plain("default", 0)],
        next: Some(1_000),
        error: None,
    };
    storage
        .trigger_recurring("nightly", &plan, 9)
        .await
        .unwrap();
    let due = storage.due().await.unwrap();
    storage.catch_up(due, 10, &plan).await.unwrap();
    storage.wake_at(&queues, 11).await.unwrap();

    storage
        .acquire_lease("report", server, 11, 50)
        .await
        .unwrap();
    storage.release_lease("report", server).await.unwrap();
    let row = ServerRow {
        id: server.into(),
        workers: 1,
        queues: queues.to_vec(),
        started_at: 0,
    };
    let round = Round {
        server: &row,
        now: 12,
        lease_until: 100,
        silent_before: 0,
    };
    storage.upkeep(&round).await.unwrap();
    storage.expire(1_000_000_000).await.unwrap();
    storage.recover_abandoned(1_000, 13).await.unwrap();
    storage.remove_recurring("nightly").await.unwrap();
    storage.leave(server, &queues, 14).await.unwrap();
}

#[actix_rt::test]
async fn every_statement_of_a_workspace_in_a_shared_store_names_its_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig::sqlite_file(dir.path().join("shared.db"));
    let (databases, _notices) = Databases::new(config, 4);
    let open = async |name| databases.open(&WorkspaceName::new(name).unwrap()).await;
    let (acme, other) = (open("acme").await.unwrap(), open("other").await.unwrap());
    lifecycle(&other).await;
    let before = other.stats().await.unwrap();

    let (recorded, statements) = recording(&acme);
    lifecycle(&recorded).await;
    let statements = statements.lock().unwrap().clone();
    let on_tables: Vec<&String> = statements
        .iter()
        .filter(|sql| TABLES.iter().any(|table| sql.contains(table)))
        .collect();
    assert!(on_tables.len() > 40, "{} statements", on_tables.len());
    for sql in on_tables {
        assert!(sql.contains("\"workspace\""), "no workspace in: {sql}");
    }
    assert_eq!(
        other.stats().await.unwrap(),
        before,
        "the other workspace is as it was"
    );
    databases.close().await;
}
