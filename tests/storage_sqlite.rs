//! The SQLite storage: WAL really on, and one process at a time per workspace.

mod common;

use common::{Runs, builder_on};
use stoker::StorageConfig;

/// A builder on SQLite in `dir`, whichever backend the other tests use.
fn builder(dir: &std::path::Path, runs: &Runs) -> stoker::StokerBuilder {
    builder_on(StorageConfig::sqlite(dir), runs)
}

#[actix_rt::test]
async fn a_workspace_database_runs_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("wal").await.unwrap();
    assert_eq!(
        stoker::testing::journal_mode(&workspace).await.unwrap(),
        "wal"
    );
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
