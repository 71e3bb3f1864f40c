//! A process killed with SIGKILL in the middle of a job loses nothing: the next process to
//! open the workspace finds the job still `processing`, counts the lost run as an attempt,
//! and runs it again — at once on SQLite (whose lock says the old process is gone), when the
//! job's lease runs out on PostgreSQL (where other servers could still be working it).

mod common;

use common::crash::{self, WORKSPACE};
use common::{Runs, backend, wait_for};

/// The child process's part: enqueue a job and hang inside it until killed.
#[test]
#[ignore = "run by a_job_whose_process_was_killed_mid_run_runs_again_on_restart as its child"]
fn doomed_child_process() {
    crash::doomed_child(async |_, _| {});
}

#[actix_rt::test]
async fn a_job_whose_process_was_killed_mid_run_runs_again_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let storage = backend::storage(dir.path());
    let id = crash::kill_a_child_mid_job(dir.path()).await;

    let runs = Runs::default();
    let stoker = crash::next_process(storage, &runs);
    let workspace = stoker.workspace(WORKSPACE).await.unwrap();
    crash::assert_recovered(&workspace, id, &runs).await;
    stoker.shutdown().await;
}

/// Nothing opens the workspace by name, nothing in it is due: only the job left running tells
/// the next server that the workspace needs it.
#[actix_rt::test]
async fn a_job_left_running_by_a_killed_process_is_recovered_by_a_server_that_never_opens_its_workspace()
 {
    let dir = tempfile::tempdir().unwrap();
    let storage = backend::storage(dir.path());
    let id = crash::kill_a_child_mid_job(dir.path()).await;

    let runs = Runs::default();
    let stoker = crash::next_process(storage, &runs);
    wait_for("the job to run again", common::PATIENCE, || async {
        (runs.count(WORKSPACE, "finished") > 0).then_some(())
    })
    .await;
    let workspace = stoker.workspace(WORKSPACE).await.unwrap();
    crash::assert_recovered(&workspace, id, &runs).await;
    stoker.shutdown().await;
}
