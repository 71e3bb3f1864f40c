//! Poison jobs end in a clear state with a clear reason and never take the runtime down: args
//! that no longer decode after their job type changed, a type no longer registered, a job that
//! hangs past its time limit, and one that allocates without end until its time limit stops
//! it. After them, the same runtime still runs an ordinary job.

mod common;

use std::time::Duration;

use common::{Record, Runs, builder, wait_for_state};
use serde::{Deserialize, Serialize};
use stoker::{Job, JobContext, JobError, JobId, JobState, RetryPolicy, Stoker, Workspace};

/// Version 1 of a job type: a numeric invoice id.
#[derive(Serialize, Deserialize)]
struct InvoiceV1 {
    invoice: u64,
}

impl Job for InvoiceV1 {
    const NAME: &'static str = "invoice";

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

/// Version 2 of the same type renamed its field: version 1's stored jobs no longer decode.
#[derive(Serialize, Deserialize)]
struct InvoiceV2 {
    invoice_number: String,
}

impl Job for InvoiceV2 {
    const NAME: &'static str = "invoice";

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

/// A job type a later release dropped.
#[derive(Serialize, Deserialize)]
struct Retired {}

impl Job for Retired {
    const NAME: &'static str = "retired";

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

/// Never ends on its own; its type allows 200 ms and one retry.
#[derive(Serialize, Deserialize)]
struct Hang {}

impl Job for Hang {
    const NAME: &'static str = "hang";

    fn timeout() -> Option<Duration> {
        Some(Duration::from_millis(200))
    }

    fn retry_policy() -> RetryPolicy {
        RetryPolicy::attempts(1).with_delays([Duration::ZERO])
    }

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        std::future::pending().await
    }
}

/// Holds on to 256 KiB more every millisecond, without end; its type allows 300 ms and no
/// retry.
#[derive(Serialize, Deserialize)]
struct Hoard {}

impl Job for Hoard {
    const NAME: &'static str = "hoard";

    fn timeout() -> Option<Duration> {
        Some(Duration::from_millis(300))
    }

    fn retry_policy() -> RetryPolicy {
        RetryPolicy::attempts(0)
    }

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        let mut held = Vec::new();
        loop {
            held.push(vec![1u8; 256 * 1024]);
            // The job's own pace (it yields, as async jobs do), not a wait of the test's.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Waits until job `id` failed for good; its attempts and the reason of each failed one.
async fn failed_attempts(workspace: &Workspace, id: JobId) -> (u32, Vec<String>) {
    wait_for_state(workspace, id, JobState::Failed).await;
    let job = workspace.job(id).await.unwrap();
    let reasons = job
        .history
        .iter()
        .filter(|entry| entry.state == JobState::Failed)
        .filter_map(|entry| entry.reason.clone())
        .collect();
    (job.summary.attempt, reasons)
}

#[actix_rt::test]
async fn poison_jobs_fail_with_their_reason_and_the_runtime_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();

    // An earlier release stores jobs it never gets to run (nobody works their queue).
    let earlier = builder(dir.path(), &runs)
        .register::<InvoiceV1>()
        .register::<Retired>()
        .queues(["nobody"])
        .build()
        .unwrap();
    let workspace = earlier.workspace("poison").await.unwrap();
    let invoice = workspace.enqueue(InvoiceV1 { invoice: 7 }).await.unwrap();
    let retired = workspace.enqueue(Retired {}).await.unwrap();
    earlier.shutdown().await;

    let later: Stoker = builder(dir.path(), &runs)
        .register::<InvoiceV2>()
        .register::<Hang>()
        .register::<Hoard>()
        .build()
        .unwrap();
    let workspace = later.workspace("poison").await.unwrap();

    let (attempts, reasons) = failed_attempts(&workspace, invoice).await;
    assert_eq!(attempts, 1, "a job that cannot decode is not retried");
    assert!(
        reasons[0].contains("arguments do not decode") && reasons[0].contains("invoice_number"),
        "{reasons:?}"
    );

    let (attempts, reasons) = failed_attempts(&workspace, retired).await;
    assert_eq!(attempts, 1, "a job nobody can run is not retried");
    assert!(
        reasons[0].contains("job type `retired` is not registered"),
        "{reasons:?}"
    );

    let hang = workspace.enqueue(Hang {}).await.unwrap();
    let (attempts, reasons) = failed_attempts(&workspace, hang).await;
    assert_eq!(attempts, 2, "its one retry ran");
    assert!(
        reasons
            .iter()
            .all(|reason| reason.contains("timed out after 200ms")),
        "{reasons:?}"
    );

    let hoard = workspace.enqueue(Hoard {}).await.unwrap();
    let (_, reasons) = failed_attempts(&workspace, hoard).await;
    assert!(reasons[0].contains("timed out after 300ms"), "{reasons:?}");

    let ordinary = workspace
        .enqueue(Record {
            key: "after the poison".into(),
        })
        .await
        .unwrap();
    wait_for_state(&workspace, ordinary, JobState::Succeeded).await;
    assert_eq!(runs.count("poison", "after the poison"), 1);
    later.shutdown().await;
}
