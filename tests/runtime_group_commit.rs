//! Concurrent enqueues share transactions, yet each call stays all-or-nothing on its own: a
//! call that fails does not take the calls it was grouped with down with it.

mod common;

use std::collections::BTreeSet;

use common::{Record, Runs, builder};
use stoker::{ContinueOn, Error, JobId, NewJob};

#[actix_rt::test]
async fn concurrent_enqueues_each_get_their_own_ids_and_their_own_failures() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default())
        .queues(["elsewhere"])
        .build()
        .unwrap();
    let workspace = stoker.workspace("group").await.unwrap();
    let calls = (0..40).map(|n| {
        let workspace = workspace.clone();
        async move {
            let record = |i: usize| {
                NewJob::of(&Record {
                    key: format!("{n}-{i}"),
                })
            };
            let mut jobs: Vec<NewJob> = (0..3).map(record).collect();
            if n == 17 {
                // This call's last job waits for a parent that does not exist.
                jobs.push(record(3).after(JobId(999_999), ContinueOn::Succeeded));
            }
            workspace.enqueue_many(jobs).await
        }
    });
    let results = futures::future::join_all(calls).await;

    let mut ids = BTreeSet::new();
    for (n, result) in results.into_iter().enumerate() {
        match result {
            Ok(created) => {
                assert_ne!(n, 17);
                assert_eq!(created.len(), 3);
                for job in created {
                    assert!(ids.insert(job.id), "id {} handed out twice", job.id);
                    let args = workspace.job(job.id).await.unwrap().args;
                    assert!(
                        args["key"].as_str().unwrap().starts_with(&format!("{n}-")),
                        "call {n} got {args}"
                    );
                }
            }
            Err(error) => {
                assert_eq!(n, 17, "call {n} failed: {error}");
                assert!(matches!(error, Error::JobNotFound(JobId(999_999))));
            }
        }
    }
    assert_eq!(ids.len(), 39 * 3);
    assert_eq!(
        workspace.stats().await.unwrap().enqueued,
        39 * 3,
        "nothing of the failed call"
    );
    stoker.shutdown().await;
}
