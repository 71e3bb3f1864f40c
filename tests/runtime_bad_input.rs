//! Bad input gets a clear error and writes nothing.

mod common;

use common::{Record, Runs, builder};
use std::time::Duration;

use serde_json::json;
use stoker::{Error, JobFilter, JobId, NewJob, RetryPolicy, bounds};

#[actix_rt::test]
async fn refused_jobs_leave_the_workspace_empty() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("careful").await.unwrap();

    let unknown = workspace
        .enqueue_job(NewJob::new("no_such_type", json!({})))
        .await;
    assert!(matches!(&unknown, Err(Error::UnknownJobType(name)) if name == "no_such_type"));
    assert_eq!(
        unknown.unwrap_err().to_string(),
        "unknown job type `no_such_type`"
    );

    let wrong_args = workspace
        .enqueue_job(NewJob::new("record", json!({"key": 5})))
        .await;
    let Err(Error::InvalidArgs { job_type, reason }) = wrong_args else {
        panic!("expected invalid args, got {wrong_args:?}");
    };
    assert_eq!(job_type, "record");
    assert!(reason.contains("invalid type"), "{reason}");

    let missing_args = workspace
        .enqueue_job(NewJob::new("record", json!({})))
        .await;
    assert!(matches!(missing_args, Err(Error::InvalidArgs { .. })));

    let bad_queue = NewJob::of(&Record { key: "q".into() }).queue("Not A Queue");
    assert!(matches!(
        workspace.enqueue_job(bad_queue).await,
        Err(Error::InvalidName(_))
    ));

    let too_many = NewJob::of(&Record { key: "r".into() }).retry(RetryPolicy::attempts(101));
    assert!(matches!(
        workspace.enqueue_job(too_many).await,
        Err(Error::InvalidRetry(_))
    ));

    let batch = vec![
        NewJob::of(&Record { key: "good".into() }),
        NewJob::new("record", json!({"nope": true})),
    ];
    assert!(matches!(
        workspace.enqueue_many(batch).await,
        Err(Error::InvalidArgs { .. })
    ));

    let stats = workspace.stats().await.unwrap();
    assert_eq!(
        (
            stats.enqueued,
            stats.processing,
            stats.succeeded,
            stats.failed
        ),
        (0, 0, 0, 0),
        "nothing was stored: {stats:?}"
    );
    assert!(matches!(
        workspace.job(JobId(1)).await,
        Err(Error::JobNotFound(_))
    ));
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn huge_delays_and_times_past_9999_are_refused_before_anything_overflows() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("careful").await.unwrap();
    let job = || NewJob::of(&Record { key: "late".into() });
    let year_10000 = "+10000-01-01T00:00:00Z".parse().unwrap();
    let forever = RetryPolicy::attempts(1).with_delays([Duration::MAX]);
    for (what, refused) in [
        ("delay", job().delay(Duration::MAX)),
        (
            "delay",
            job().delay(bounds::MAX_DURATION + Duration::from_secs(1)),
        ),
        ("run_at", job().run_at(year_10000)),
        ("retry delay", job().retry(forever)),
    ] {
        let answer = workspace.enqueue_job(refused).await;
        let Err(Error::OutOfRange(error)) = answer else {
            panic!("{what}: expected out of range, got {answer:?}");
        };
        assert_eq!(error.what, what);
    }
    let jobs = JobFilter::new().offset(u64::MAX).limit(10);
    assert!(matches!(
        workspace.jobs(&jobs).await,
        Err(Error::OutOfRange(_))
    ));
    assert_eq!(workspace.stats().await.unwrap().scheduled, 0);
    let ten_years = job().delay(bounds::MAX_DURATION);
    assert!(workspace.enqueue_job(ten_years).await.is_ok());
    stoker.shutdown().await;

    let slow_heart = builder(dir.path(), &Runs::default()).heartbeat(Duration::MAX);
    assert!(matches!(slow_heart.build(), Err(Error::OutOfRange(_))));
}

#[actix_rt::test]
async fn workspace_names_that_could_escape_the_data_directory_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let stoker = builder(&dir, &Runs::default()).build().unwrap();

    for name in ["../x", "x/../../y", "", "UPPER", ".hidden", "a b"] {
        let refused = stoker.workspace(name).await;
        assert!(
            matches!(refused, Err(Error::InvalidName(_))),
            "{name:?}: {refused:?}"
        );
    }
    assert!(!dir.exists(), "a refused name created the data directory");
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "files appeared"
    );
    assert!(stoker.workspace_names().is_empty());
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn moves_a_jobs_state_forbids_are_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default())
        .queues(["elsewhere"])
        .build()
        .unwrap();
    let workspace = stoker.workspace("moves").await.unwrap();
    // Nobody works the default queue here, so the job stays enqueued.
    let id = workspace.enqueue(Record { key: "k".into() }).await.unwrap();

    let requeue = workspace.requeue(id).await;
    assert!(
        matches!(
            requeue,
            Err(Error::Conflict {
                action: "requeued",
                ..
            })
        ),
        "{requeue:?}"
    );
    let now = workspace.enqueue_now(id).await;
    assert!(matches!(now, Err(Error::Conflict { .. })), "{now:?}");
    workspace.delete(id).await.unwrap();
    assert!(matches!(
        workspace.delete(id).await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        workspace.delete(JobId(999)).await,
        Err(Error::JobNotFound(_))
    ));
    workspace.requeue(id).await.unwrap();
    let job = workspace.job(id).await.unwrap();
    let states: Vec<_> = job
        .history
        .iter()
        .map(|entry| entry.state.as_str())
        .collect();
    assert_eq!(states, ["enqueued", "deleted", "enqueued"]);
    stoker.shutdown().await;
}

#[test]
fn building_a_runtime_outside_an_actix_system_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let built = builder(dir.path(), &Runs::default()).build();
    let Err(Error::InvalidConfig(reason)) = built else {
        panic!("built outside a system: {built:?}");
    };
    assert!(reason.contains("actix system"), "{reason}");
}
