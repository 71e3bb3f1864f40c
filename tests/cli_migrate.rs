//! `stoker migrate`: prepares a workspace's storage ahead of the servers, on the backend under
//! test, and refuses what it cannot do with a message that says why.

mod common;

use std::process::{Command, Output};

use common::backend;
use stoker::{Error, Stoker};

/// Runs `stoker migrate` with `args`, with no storage taken from the environment.
fn migrate(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stoker"))
        .arg("migrate")
        .args(args)
        .env_remove("STOKER_DATA_DIR")
        .env_remove("STOKER_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[actix_rt::test]
async fn migrate_prepares_the_workspace_that_servers_then_find() {
    let dir = tempfile::tempdir().unwrap();
    let storage = backend::storage(dir.path());
    let mut args = backend::cli_flags(&storage);
    args.extend(["--workspace".into(), "acme".into()]);

    let first = migrate(&args);
    assert!(first.status.success(), "{}", stderr(&first));
    let again = migrate(&args);
    assert!(
        again.status.success(),
        "migrating twice: {}",
        stderr(&again)
    );

    let stoker = Stoker::builder().storage(storage).build().unwrap();
    let acme = stoker.existing_workspace("acme").await.unwrap();
    assert_eq!(acme.stats().await.unwrap().enqueued, 0);
    let other = stoker.existing_workspace("other").await.unwrap_err();
    assert!(matches!(other, Error::WorkspaceNotFound(_)), "{other:?}");
    stoker.shutdown().await;
}

#[test]
fn migrate_without_storage_says_which_flag_is_missing() {
    let output = migrate(&["--workspace".into(), "acme".into()]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--data-dir"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn migrate_refuses_a_url_of_another_database_kind() {
    let args = [
        "--database-url",
        "mysql://localhost/jobs",
        "--workspace",
        "acme",
    ];
    let output = migrate(&args.map(String::from));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("mysql"), "{}", stderr(&output));
}

#[test]
fn migrate_refuses_a_bad_workspace_name_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--data-dir".into(),
        dir.path().display().to_string(),
        "--workspace".into(),
        "../escape".into(),
    ];
    let output = migrate(&args);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("../escape"), "{}", stderr(&output));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(!dir.path().parent().unwrap().join("escape.db").exists());
}
