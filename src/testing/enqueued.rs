//! [`enqueued`] and [`assert_enqueued`]: what an application enqueued, as its job values.

use std::fmt::Debug;

use crate::error::{Error, Result};
use crate::job::{Job, JobId};
use crate::runtime::Workspace;
use crate::state::JobState;
use crate::storage::JobFilter;

/// Jobs looked at per state: more than a test enqueues.
const AT_MOST: u64 = 10_000;

/// The jobs of type `J` in `workspace` that wait to run (`enqueued`, `scheduled` or
/// `awaiting`), oldest first, with their ids. A stored job whose arguments no longer read back
/// as `J` is an error.
pub async fn enqueued<J: Job>(workspace: &Workspace) -> Result<Vec<(JobId, J)>> {
    let mut waiting = Vec::new();
    for state in [JobState::Enqueued, JobState::Scheduled, JobState::Awaiting] {
        let filter = JobFilter::new()
            .state(state)
            .job_type(J::NAME)
            .limit(AT_MOST);
        for summary in workspace.jobs(&filter).await?.jobs {
            let details = workspace.job(summary.id).await?;
            let job = serde_json::from_value(details.args).map_err(|error| Error::InvalidArgs {
                job_type: J::NAME.to_owned(),
                reason: format!("job {}: {error}", summary.id),
            })?;
            waiting.push((summary.id, job));
        }
    }
    waiting.sort_unstable_by_key(|(id, _)| *id);
    Ok(waiting)
}

/// Panics unless `workspace` has a job of type `J` equal to `expected` waiting to run, naming
/// those it has instead.
pub async fn assert_enqueued<J: Job + PartialEq + Debug>(workspace: &Workspace, expected: &J) {
    let waiting = enqueued::<J>(workspace)
        .await
        .unwrap_or_else(|error| panic!("listing the `{}` jobs: {error}", J::NAME));
    let jobs: Vec<&J> = waiting.iter().map(|(_, job)| job).collect();
    assert!(
        jobs.contains(&expected),
        "no `{}` job {expected:?} waits in workspace `{}`; these do: {jobs:?}",
        J::NAME,
        workspace.name()
    );
}
