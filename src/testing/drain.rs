//! [`drain`]: wait until a workspace has run what is due now, as Oban's `drain_queue` does;
//! with a [`ManualClock`](crate::ManualClock), what is due is what the test made due.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::Result;
use crate::runtime::Workspace;

/// How long a drain waits for the runs before it gives up.
const PATIENCE: Duration = Duration::from_secs(30);
/// How long a drain waits for an event before it looks again anyway (a job recovered by the
/// janitor, say, is told by none).
const LOOK_AGAIN: Duration = Duration::from_millis(100);

/// Waits until `workspace` has no recurring job due to fire, no job enqueued or running and no
/// scheduled job due by the runtime's clock: what was due has run, with the retries that fell
/// due and the jobs the runs enqueued. Panics after 30 s of it, naming the workspace.
pub async fn drain(workspace: &Workspace) -> Result<()> {
    let mut events = workspace.events();
    let deadline = Instant::now() + PATIENCE;
    while workspace.has_work_due().await? {
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
