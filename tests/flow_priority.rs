//! Priorities within a queue: lower numbers start first, equal ones in enqueue order, a job
//! type's priority unless the enqueuer says otherwise; a priority over 9 is refused.

mod common;

use common::{Log, PATIENCE, Runs, Starts, builder, wait_for};
use serde::{Deserialize, Serialize};
use stoker::{Error, Job, JobContext, JobError, JobFilter, JobId, NewJob};

/// Starts at priority 2 unless told otherwise, recording its start as [`Log`] does.
#[derive(Serialize, Deserialize)]
struct Urgent {}

impl Job for Urgent {
    const NAME: &'static str = "urgent";

    fn priority() -> u8 {
        2
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        Log {}.run(ctx).await
    }
}

#[actix_rt::test]
async fn a_queue_starts_its_jobs_by_priority_then_in_enqueue_order() {
    let dir = tempfile::tempdir().unwrap();
    let filling = builder(dir.path(), &Runs::default())
        .register::<Urgent>()
        .queues(["nobody"])
        .build()
        .unwrap();
    let workspace = filling.workspace("ordered").await.unwrap();
    let mut enqueued: Vec<(u8, JobId)> = Vec::new();
    for priority in [5, 0, 9, 0, 5, 3, 9, 0] {
        let job = NewJob::of(&Log {}).priority(priority);
        enqueued.push((priority, workspace.enqueue_job(job).await.unwrap().id));
    }
    let typed = workspace.enqueue(Urgent {}).await.unwrap();
    enqueued.push((2, typed));
    let overridden = NewJob::of(&Urgent {}).priority(9);
    enqueued.push((9, workspace.enqueue_job(overridden).await.unwrap().id));
    assert_eq!(workspace.job(typed).await.unwrap().priority, 2);
    drop(workspace);
    filling.shutdown().await;

    let starts = Starts::default();
    let stoker = builder(dir.path(), &Runs::default())
        .register::<Urgent>()
        .data(starts.clone())
        .workers(1)
        .build()
        .unwrap();
    let _workspace = stoker.workspace("ordered").await.unwrap();
    wait_for("every job to start", PATIENCE, async || {
        (starts.len() == enqueued.len()).then_some(())
    })
    .await;
    let started: Vec<JobId> = starts.all().iter().map(|(id, _)| *id).collect();
    enqueued.sort_by_key(|&(priority, id)| (priority, id));
    let expected: Vec<JobId> = enqueued.iter().map(|(_, id)| *id).collect();
    assert_eq!(started, expected, "by priority, then oldest first");
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_priority_over_9_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("bounds").await.unwrap();
    let jobs = [NewJob::of(&Log {}), NewJob::of(&Log {}).priority(10)];
    let refused = workspace.enqueue_many(jobs).await;
    match refused {
        Err(Error::InvalidOptions(message)) => assert!(message.contains("0 to 9"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(workspace.jobs(&JobFilter::new()).await.unwrap().total, 0);
    stoker.shutdown().await;
}
