//! A process killed with SIGKILL in the middle of a job: the doomed child (a test binary's
//! ignored `doomed_child_process` test, run by its parent test with [`CHILD_DIR`] set), the
//! parent's part that starts and kills it, and the next process that recovers the job.
//!
//! The child stores in the parent's placement, found from the same directory. Its workspace
//! [`WORKSPACE`] runs one job of type `crash_job`, which hangs in the child and succeeds in the
//! next process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stoker::{Job, JobContext, JobError, JobId, JobState, Stoker, StorageConfig, Workspace};

use super::{PATIENCE, Runs, backend, builder_on, wait_for, wait_for_state};

/// The environment variable that hands the child the parent's directory.
pub const CHILD_DIR: &str = "STOKER_TEST_CRASH_CHILD_DIR";
/// The workspace whose job the child is killed in.
pub const WORKSPACE: &str = "crash";
/// Short, so that PostgreSQL recovers the job soon after the kill.
pub const HEARTBEAT: Duration = Duration::from_millis(250);
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

/// The child's part: `prepare` stores what the test needs besides the job (the child's
/// runtime has the common job types too), then the child enqueues the job into
/// [`WORKSPACE`] and hangs inside it until killed.
pub fn doomed_child(prepare: impl AsyncFnOnce(&Stoker, &Path)) {
    let dir = PathBuf::from(std::env::var(CHILD_DIR).expect("run by a crash test"));
    actix_rt::System::new().block_on(async move {
        let stoker = builder_on(backend::storage(&dir), &Runs::default())
            .register::<Hang>()
            .heartbeat(HEARTBEAT)
            .lease(HEARTBEAT * 2)
            .build()
            .unwrap();
        prepare(&stoker, &dir).await;
        let workspace = stoker.workspace(WORKSPACE).await.unwrap();
        let marker = dir.join(RUNNING_MARKER).display().to_string();
        workspace.enqueue(Hang { marker }).await.unwrap();
        std::future::pending::<()>().await;
    });
}

/// Starts the doomed child of this test binary on `dir` (and the storage that goes with it),
/// waits until it runs its job, and kills it with SIGKILL (no shutdown, no cleanup); returns
/// the job's id.
pub async fn kill_a_child_mid_job(dir: &Path) -> JobId {
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

/// A runtime that runs the job as the next process knows it (with the common job types).
pub fn next_process(storage: StorageConfig, runs: &Runs) -> Stoker {
    builder_on(storage, runs)
        .register::<Finish>()
        .heartbeat(HEARTBEAT)
        .build()
        .unwrap()
}

/// Checks that job `id` of [`WORKSPACE`] ran again once and that its history names the lost
/// attempt.
pub async fn assert_recovered(workspace: &Workspace, id: JobId, runs: &Runs) {
    wait_for_state(workspace, id, JobState::Succeeded).await;
    assert_eq!(runs.count(WORKSPACE, "finished"), 1);
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
