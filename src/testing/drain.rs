//! [`drain`]: wait until a workspace has run what is due now, as Oban's `drain_queue` does;
//! with a [`ManualClock`](crate::ManualClock), what is due is what the test made due.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::Result;
use crate::runtime::Workspace;
use crate::state::JobState;
use crate::storage::JobFilter;

/// How long a drain waits for the runs before it gives up.
const PATIENCE: Duration = Duration::from_secs(30);
/// How long a drain waits for an event before it looks again anyway (a job recovered by the
/// janitor, say, is told by none).
const LOOK_AGAIN: Duration = Duration::from_millis(100);

/// Waits until `workspace` has no job enqueued or running and no scheduled job due by the
/// runtime's clock: what was due has run, with the retries that fell due and the jobs the runs
/// enqueued. Panics after 30 s of it, naming the workspace.
pub async fn drain(workspace: &Workspace) -> Result<()> {
    let mut events = workspace.events();
    let deadline = Instant::now() + PATIENCE;
    while !settled(workspace).await? {
        assert!(
            Instant::now() < deadline,
            "workspace `{}` still had jobs to run after {PATIENCE:?}",
            workspace.name()
        );
        let wait = LOOK_AGAIN.min(deadline - Instant::now());
        // An event or the wait's end: either way, look again.
        let _ = tokio::time::timeout(wait, events.next()).await;
    }
    Ok(())
}

/// Whether nothing of `workspace` waits to run now: none enqueued or processing, no scheduled
/// job due.
async fn settled(workspace: &Workspace) -> Result<bool> {
    let stats = workspace.stats().await?;
    if stats.enqueued + stats.processing > 0 {
        return Ok(false);
    }
    // Listed newest first, not by due time: look at every scheduled job.
    let scheduled = JobFilter::new()
        .state(JobState::Scheduled)
        .limit(stats.scheduled.max(1));
    let now = workspace.now();
    let page = workspace.jobs(&scheduled).await?;
    Ok(!page
        .jobs
        .iter()
        .any(|job| job.run_at.is_some_and(|at| at <= now)))
}
