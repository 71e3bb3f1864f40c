//! A process killed with SIGKILL in the middle of a job loses nothing: the next process to
//! open the workspace finds the job still `processing`, counts the lost run as an attempt,
//! and runs it again — at once on SQLite (whose lock says the old process is gone), when the
//! job's lease runs out on PostgreSQL (where other servers could still be working it).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{PATIENCE, Runs, backend, wait_for, wait_for_state};
use serde::{Deserialize, Serialize};
use stoker::{Job, JobContext, JobError, JobId, JobState, Stoker, StorageConfig};

const CHILD_DIR: &str = "STOKER_TEST_CRASH_CHILD_DIR";
/// Short, so that PostgreSQL recovers the job soon after the kill.
const HEARTBEAT: Duration = Duration::from_millis(250);
const RUNNING_MARKER: &str = "running";

/// The job as the doomed process knows it: it says it started, then never ends.
#[derive(Serialize, Deserialize)]
struct Hang {
    marker: String,
}

impl Job for Hang {
    const NAME: &'static str = "crash_job";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        std::fs::write(&self.marker, ctx.id().to_string())?;
        std::future::pending().await
    }
}

/// The same job type as the next process knows it: it records its run and succeeds.
#[derive(Serialize, Deserialize)]
struct Finish {
    marker: String,
}

impl Job for Finish {
    const NAME: &'static str = "crash_job";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        ctx.data::<Runs>()
            .unwrap()
            .record(ctx.workspace(), "finished");
        Ok(())
    }
}

/// The child process's part: enqueue a job and hang inside it until killed.
#[test]
#[ignore = "run by a_job_whose_process_was_killed_mid_run_runs_again_on_restart as its child"]
fn doomed_child_process() {
    let dir = std::env::var(CHILD_DIR).expect("run by the crash test");
    actix_rt::System::new().block_on(async move {
        let stoker = Stoker::builder()
            .register::<Hang>()
            // The parent's storage: the test's placement, found from the same directory.
            .storage(backend::storage(Path::new(&dir)))
            .heartbeat(HEARTBEAT)
            .lease(HEARTBEAT * 2)
            .build()
            .unwrap();
        let workspace = stoker.workspace("crash").await.unwrap();
        let marker = Path::new(&dir).join(RUNNING_MARKER).display().to_string();
        workspace.enqueue(Hang { marker }).await.unwrap();
        std::future::pending::<()>().await;
    });
}

/// Starts the doomed child on `dir` (and the storage that goes with it), waits until it runs its job, and kills it
/// with SIGKILL (no shutdown, no cleanup); returns the job's id.
async fn kill_a_child_mid_job(dir: &Path) -> JobId {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "doomed_child_process",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DIR, dir)
        .spawn()
        .unwrap();
    let marker = dir.join(RUNNING_MARKER);
    let id: JobId = wait_for("the child to start the job", PATIENCE, || async {
        std::fs::read_to_string(&marker).ok()?.parse().ok()
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    id
}

/// A runtime that runs the job as the next process knows it.
fn next_process(storage: StorageConfig, runs: &Runs) -> Stoker {
    Stoker::builder()
        .register::<Finish>()
        .data(runs.clone())
        .storage(storage)
        .heartbeat(HEARTBEAT)
        .build()
        .unwrap()
}

/// Checks that job `id` ran again once and that its history names the lost attempt.
async fn assert_recovered(workspace: &stoker::Workspace, id: JobId, runs: &Runs) {
    wait_for_state(workspace, id, JobState::Succeeded).await;
    assert_eq!(runs.count("crash", "finished"), 1);
    let job = workspace.job(id).await.unwrap();
    assert_eq!(
        job.summary.attempt, 2,
        "the killed run counts as an attempt"
    );
    let abandoned = job
        .history
        .iter()
        .find(|entry| entry.state == JobState::Enqueued && entry.reason.is_some())
        .expect("a history row for the recovery");
    let reason = abandoned.reason.as_deref().unwrap();
    assert!(reason.contains("stopped during attempt 1"), "{reason}");
}

#[actix_rt::test]
async fn a_job_whose_process_was_killed_mid_run_runs_again_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let storage = backend::storage(dir.path());
    let id = kill_a_child_mid_job(dir.path()).await;

    let runs = Runs::default();
    let stoker = next_process(storage, &runs);
    let workspace = stoker.workspace("crash").await.unwrap();
    assert_recovered(&workspace, id, &runs).await;
    stoker.shutdown().await;
}

/// Nothing opens the workspace by name, nothing in it is due: only the job left running tells
/// the next server that the workspace needs it.
#[actix_rt::test]
async fn a_job_left_running_by_a_killed_process_is_recovered_by_a_server_that_never_opens_its_workspace()
 {
    let dir = tempfile::tempdir().unwrap();
    let storage = backend::storage(dir.path());
    let id = kill_a_child_mid_job(dir.path()).await;

    let runs = Runs::default();
    let stoker = next_process(storage, &runs);
    wait_for("the job to run again", PATIENCE, || async {
        (runs.count("crash", "finished") > 0).then_some(())
    })
    .await;
    let workspace = stoker.workspace("crash").await.unwrap();
    assert_recovered(&workspace, id, &runs).await;
    stoker.shutdown().await;
}
