//! Continuations: a job waits (`awaiting`) for its parent, runs when the parent meets its
//! condition, and is deleted with a reason when the parent ends in a way that cannot meet it.

mod common;

use common::{FailTimes, Record, Runs, builder, wait_for_state};
use stoker::{ContinueOn, Error, Exhausted, JobId, JobState, NewJob, RetryPolicy, Workspace};

fn child(key: &str) -> NewJob {
    NewJob::of(&Record { key: key.into() })
}

async fn continuation(workspace: &Workspace, parent: JobId, key: &str, on: ContinueOn) -> JobId {
    let created = workspace
        .continue_with(parent, child(key), on)
        .await
        .unwrap();
    created.id
}

async fn reason(workspace: &Workspace, id: JobId) -> String {
    workspace
        .job(id)
        .await
        .unwrap()
        .summary
        .reason
        .unwrap_or_default()
}

#[actix_rt::test]
async fn continuations_follow_a_parent_that_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("chain").await.unwrap();
    // The parent waits an hour, so that its children are all added before it runs.
    let parent = workspace
        .enqueue_job(
            NewJob::of(&Record {
                key: "parent".into(),
            })
            .delay(std::time::Duration::from_secs(3600)),
        )
        .await
        .unwrap()
        .id;
    let on_success = continuation(&workspace, parent, "a", ContinueOn::Succeeded).await;
    let on_finish = continuation(&workspace, parent, "b", ContinueOn::Finished).await;
    let on_delete = continuation(&workspace, parent, "c", ContinueOn::Deleted).await;
    let grandchild = continuation(&workspace, on_delete, "d", ContinueOn::Deleted).await;
    for id in [on_success, on_finish, on_delete, grandchild] {
        assert_eq!(
            workspace.job(id).await.unwrap().summary.state,
            JobState::Awaiting
        );
    }

    workspace.enqueue_now(parent).await.unwrap();
    wait_for_state(&workspace, on_success, JobState::Succeeded).await;
    wait_for_state(&workspace, on_finish, JobState::Succeeded).await;
    assert_eq!(
        workspace.job(on_delete).await.unwrap().summary.state,
        JobState::Deleted
    );
    assert!(
        reason(&workspace, on_delete)
            .await
            .contains("parent succeeded")
    );
    // The deleted continuation's own continuation waited for exactly that.
    wait_for_state(&workspace, grandchild, JobState::Succeeded).await;
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn continuations_follow_a_parent_that_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("cut").await.unwrap();
    let parent = workspace
        .enqueue_job(
            NewJob::of(&Record { key: "p".into() }).delay(std::time::Duration::from_secs(3600)),
        )
        .await
        .unwrap()
        .id;
    let on_success = continuation(&workspace, parent, "a", ContinueOn::Succeeded).await;
    let on_finish = continuation(&workspace, parent, "b", ContinueOn::Finished).await;
    let on_delete = continuation(&workspace, parent, "c", ContinueOn::Deleted).await;

    workspace.delete(parent).await.unwrap();
    wait_for_state(&workspace, on_finish, JobState::Succeeded).await;
    wait_for_state(&workspace, on_delete, JobState::Succeeded).await;
    assert_eq!(
        workspace.job(on_success).await.unwrap().summary.state,
        JobState::Deleted
    );
    let why = reason(&workspace, on_success).await;
    assert_eq!(why, "parent deleted: the condition can no longer be met");
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_parent_exhausted_into_deleted_releases_its_continuations() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("doomed").await.unwrap();
    let policy = RetryPolicy::none().on_exhausted(Exhausted::Delete);
    let failing = NewJob::of(&FailTimes { times: 1 })
        .retry(policy)
        .delay(std::time::Duration::from_secs(3600));
    let parent = workspace.enqueue_job(failing).await.unwrap().id;
    let on_delete = continuation(&workspace, parent, "c", ContinueOn::Deleted).await;
    workspace.enqueue_now(parent).await.unwrap();
    wait_for_state(&workspace, parent, JobState::Deleted).await;
    wait_for_state(&workspace, on_delete, JobState::Succeeded).await;
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_continuation_of_a_parent_already_final_is_decided_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("late").await.unwrap();
    let parent = workspace.enqueue(Record { key: "p".into() }).await.unwrap();
    wait_for_state(&workspace, parent, JobState::Succeeded).await;

    let runs = workspace
        .continue_with(parent, child("a"), ContinueOn::Succeeded)
        .await
        .unwrap();
    assert_eq!(
        runs.state,
        JobState::Enqueued,
        "the parent already succeeded"
    );
    let never = workspace
        .continue_with(parent, child("b"), ContinueOn::Deleted)
        .await
        .unwrap();
    assert_eq!(
        never.state,
        JobState::Deleted,
        "the parent succeeded: it will not be deleted"
    );
    wait_for_state(&workspace, runs.id, JobState::Succeeded).await;

    let missing = workspace
        .continue_with(JobId(999), child("c"), ContinueOn::Succeeded)
        .await;
    assert!(
        matches!(missing, Err(Error::JobNotFound(JobId(999)))),
        "{missing:?}"
    );
    let delayed = child("d")
        .delay(std::time::Duration::from_secs(5))
        .after(parent, ContinueOn::Succeeded);
    assert!(matches!(
        workspace.enqueue_job(delayed).await,
        Err(Error::InvalidOptions(_))
    ));
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_continuation_waiting_over_a_year_expires() {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(stoker::ManualClock::new(
        "2026-11-22T10:00:00Z".parse().unwrap(),
    ));
    let stoker = builder(dir.path(), &Runs::default())
        .clock(clock.clone())
        .heartbeat(std::time::Duration::from_millis(50))
        .build()
        .unwrap();
    let workspace = stoker.workspace("patient").await.unwrap();
    // Nobody works the parent's queue: it never finishes.
    let parent = workspace
        .enqueue_job(child("p").queue("parked"))
        .await
        .unwrap()
        .id;
    let waiting = continuation(&workspace, parent, "c", ContinueOn::Succeeded).await;

    clock.advance(chrono::Duration::days(364));
    assert_eq!(
        workspace.job(waiting).await.unwrap().summary.state,
        JobState::Awaiting
    );
    clock.advance(chrono::Duration::days(2));
    common::wait_for("the continuation to expire", common::PATIENCE, || async {
        matches!(workspace.job(waiting).await, Err(Error::JobNotFound(_))).then_some(())
    })
    .await;
    assert!(
        workspace.job(parent).await.is_ok(),
        "the parent does not expire"
    );
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_continuation_added_while_its_parent_finishes_is_never_left_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("race").await.unwrap();
    let mut children = Vec::new();
    for n in 0..200 {
        let parent = workspace
            .enqueue(Record {
                key: format!("parent {n}"),
            })
            .await
            .unwrap();
        // The parent is claimed and finished by the workers while its child is added.
        children.push(continuation(&workspace, parent, "child", ContinueOn::Succeeded).await);
    }
    for child in children {
        wait_for_state(&workspace, child, JobState::Succeeded).await;
    }
    stoker.shutdown().await;
}
