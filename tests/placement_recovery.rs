//! A process killed with SIGKILL in the middle of a job, with two workspaces in the store: the
//! next process, told of neither workspace, recovers the job of the workspace that was running
//! it, and the other workspace's jobs and recurring job stay exactly as they were, in every
//! placement (in a shared one, recovery passes over rows that carry another workspace; in
//! stores of their own the two workspaces' ids are the same numbers).

mod common;

use std::path::Path;
use std::time::Duration;

use common::crash::{self, WORKSPACE};
use common::{FailTimes, PATIENCE, Record, Runs, backend, wait_for, wait_for_state};
use serde_json::{Value, json};
use stoker::{
    ContinueOn, JobId, JobState, NewJob, RecurringOptions, RetryPolicy, Stoker, Workspace,
};

/// The workspace with nothing running when the child is killed.
const RESTING: &str = "resting";
/// What the child saw of `resting` just before it started the job it was killed in.
const RESTING_FILE: &str = "resting.json";

/// Everything people see of `resting`: its jobs' details, its recurring job and its counts.
async fn resting_view(resting: &Workspace, ids: &[JobId]) -> Value {
    let mut jobs = Vec::new();
    for &id in ids {
        jobs.push(serde_json::to_value(resting.job(id).await.unwrap()).unwrap());
    }
    let recurring = resting.recurring_jobs().await.unwrap();
    let mut stats = serde_json::to_value(resting.stats().await.unwrap()).unwrap();
    // The next process is a server of the workspace too.
    stats.as_object_mut().unwrap().remove("servers");
    json!({"jobs": jobs, "recurring": recurring, "stats": stats})
}

/// `resting` gets a job in every state that stays put — succeeded, failed, scheduled, awaiting
/// — and a recurring job not due for months, all stored before the job that hangs; the child
/// writes what it sees of them to [`RESTING_FILE`].
async fn prepare_resting(stoker: &Stoker, dir: &Path) {
    let resting = stoker.workspace(RESTING).await.unwrap();
    let done = resting
        .enqueue(Record { key: "done".into() })
        .await
        .unwrap();
    let never = NewJob::of(&FailTimes { times: 100 }).retry(RetryPolicy::attempts(0));
    let failed = resting.enqueue_job(never).await.unwrap().id;
    let later = Record {
        key: "later".into(),
    };
    let scheduled = resting
        .schedule(later, Duration::from_secs(3600))
        .await
        .unwrap();
    let then = NewJob::of(&Record { key: "then".into() });
    let awaiting = resting
        .continue_with(scheduled, then, ContinueOn::Succeeded)
        .await
        .unwrap()
        .id;
    let yearly = NewJob::of(&Record {
        key: "yearly".into(),
    });
    resting
        .add_or_update_recurring("yearly", yearly, "0 3 1 1 *", RecurringOptions::default())
        .await
        .unwrap();
    wait_for_state(&resting, done, JobState::Succeeded).await;
    wait_for_state(&resting, failed, JobState::Failed).await;
    let ids = vec![done, failed, scheduled, awaiting];
    let view = resting_view(&resting, &ids).await;
    let saved = json!({"ids": ids.iter().map(|id| id.0).collect::<Vec<_>>(), "view": view});
    std::fs::write(dir.join(RESTING_FILE), saved.to_string()).unwrap();
}

/// The child process's part: fill `resting`, then hang inside a job of `crash` until killed.
#[test]
#[ignore = "run by the_job_a_killed_process_was_running_is_recovered_and_the_other_workspace_is_untouched as its child"]
fn doomed_child_process() {
    crash::doomed_child(prepare_resting);
}

#[actix_rt::test]
async fn the_job_a_killed_process_was_running_is_recovered_and_the_other_workspace_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let storage = backend::storage(dir.path());
    let id = crash::kill_a_child_mid_job(dir.path()).await;
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(RESTING_FILE)).unwrap())
            .unwrap();
    let ids: Vec<JobId> = saved["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| JobId(id.as_i64().unwrap()))
        .collect();

    let runs = Runs::default();
    let stoker = crash::next_process(storage, &runs);
    wait_for("the killed job to run again", PATIENCE, || async {
        (runs.count(WORKSPACE, "finished") > 0).then_some(())
    })
    .await;
    let crashed = stoker.workspace(WORKSPACE).await.unwrap();
    crash::assert_recovered(&crashed, id, &runs).await;
    let resting = stoker.workspace(RESTING).await.unwrap();
    assert_eq!(
        resting_view(&resting, &ids).await,
        saved["view"],
        "the recovery touched {RESTING}"
    );
    let ran = runs.all();
    assert_eq!(ran.len(), 1, "only the killed job ran again: {ran:?}");
    let crashed_stats = crashed.stats().await.unwrap();
    assert_eq!(
        (crashed_stats.succeeded, crashed_stats.processing),
        (1, 0),
        "{crashed_stats:?}"
    );
    stoker.shutdown().await;
}
