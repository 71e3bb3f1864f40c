//! The SQLite storage: WAL really on, and the migrations going up, down and up again.

mod common;

use common::{Runs, builder};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

#[actix_rt::test]
async fn a_workspace_database_runs_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("wal").await.unwrap();
    assert_eq!(workspace.journal_mode().await.unwrap(), "wal");
    assert!(dir.path().join("wal.db").exists());
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_second_runtime_cannot_open_a_workspace_another_holds() {
    let dir = tempfile::tempdir().unwrap();
    let first = builder(dir.path(), &Runs::default()).build().unwrap();
    first.workspace("taken").await.unwrap();
    let second = builder(dir.path(), &Runs::default()).build().unwrap();
    let refused = second.workspace("taken").await.unwrap_err();
    assert!(
        refused.to_string().contains("open in another process"),
        "{refused}"
    );
    first.shutdown().await;
    second.workspace("taken").await.unwrap();
    second.shutdown().await;
}

async fn tables(db: &impl ConnectionTrait) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name != 'seaql_migrations' ORDER BY name",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index(0).unwrap())
        .collect()
}

async fn job_columns(db: &impl ConnectionTrait) -> Vec<String> {
    let sql = "SELECT name FROM pragma_table_info('jobs') ORDER BY name";
    let rows = db
        .query_all_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index(0).unwrap())
        .collect()
}

#[actix_rt::test]
async fn migrations_go_up_down_and_up_again() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    let db = Database::connect(url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let all = [
        "counters",
        "job_history",
        "jobs",
        "recurring_jobs",
        "servers",
    ];
    assert_eq!(tables(&db).await, all);
    assert!(job_columns(&db).await.contains(&"parent_id".to_owned()));

    // One step down undoes the second migration only.
    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(
        tables(&db).await,
        ["counters", "job_history", "jobs", "servers"]
    );
    assert!(!job_columns(&db).await.contains(&"parent_id".to_owned()));

    Migrator::down(&db, None).await.unwrap();
    assert!(tables(&db).await.is_empty());
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(tables(&db).await, all);
}
