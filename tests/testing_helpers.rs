//! `stoker::testing`: a job's context built by hand and one run inline, checks of what was
//! enqueued, and a drain of what is due.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{FailTimes, Record, Runs, at, builder};
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use stoker::testing::{TestContext, assert_enqueued, drain, enqueued, run_inline};
use stoker::{Job, JobContext, JobError, ManualClock, NewJob};

/// What a [`Look`] job saw.
type Seen = Arc<Mutex<Vec<String>>>;

/// Writes down what its context shows.
#[derive(Serialize, Deserialize)]
struct Look {}

impl Job for Look {
    const NAME: &'static str = "look";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let seen = ctx.data::<Seen>().ok_or("no Seen")?;
        let what = format!(
            "{} {} {} {} {}",
            ctx.id(),
            ctx.workspace(),
            ctx.attempt(),
            ctx.now().to_rfc3339(),
            ctx.is_cancelled()
        );
        seen.lock().unwrap().push(what);
        Ok(())
    }
}

/// A measurement, which JSON cannot carry when it is not a number.
#[derive(Serialize, Deserialize)]
struct Measure {
    value: f64,
}

impl Job for Measure {
    const NAME: &'static str = "measure";

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

/// An invoice to send, compared by value.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Invoice {
    number: u64,
}

impl Job for Invoice {
    const NAME: &'static str = "invoice";

    fn queue() -> &'static str {
        "held"
    }

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

#[actix_rt::test]
async fn a_test_context_gives_the_job_what_the_test_chose() {
    let seen = Seen::default();
    let clock = Arc::new(ManualClock::new(at("2026-01-01T09:00:00Z")));
    let ctx = TestContext::new()
        .id(stoker::JobId(7))
        .workspace("acme")
        .attempt(3)
        .clock(clock)
        .data(seen.clone())
        .cancelled()
        .build();

    run_inline(Look {}, ctx).await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        ["7 acme 3 2026-01-01T09:00:00+00:00 true"]
    );
    let without_data = run_inline(Look {}, TestContext::new().build()).await;
    assert_eq!(without_data.unwrap_err().message(), "no Seen");
}

#[actix_rt::test]
async fn a_job_run_inline_whose_arguments_do_not_read_back_fails_for_good() {
    let ran = run_inline(Measure { value: f64::NAN }, TestContext::new().build()).await;
    let error = ran.unwrap_err();
    assert!(!error.is_retryable());
    assert!(
        error.message().starts_with("arguments do not decode"),
        "{error}"
    );
    let fine = run_inline(Measure { value: 1.5 }, TestContext::new().build()).await;
    assert!(fine.is_ok());
}

#[actix_rt::test]
async fn enqueued_jobs_are_found_by_value_and_a_missing_one_names_those_there() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default())
        .register::<Invoice>()
        .build()
        .unwrap();
    let workspace = stoker.workspace("billing").await.unwrap();
    let first = workspace.enqueue(Invoice { number: 7 }).await.unwrap();
    let later = NewJob::of(&Invoice { number: 8 }).delay(Duration::from_secs(60));
    let second = workspace.enqueue_job(later).await.unwrap().id;

    let waiting = enqueued::<Invoice>(&workspace).await.unwrap();
    assert_eq!(
        waiting,
        [
            (first, Invoice { number: 7 }),
            (second, Invoice { number: 8 })
        ]
    );
    assert_enqueued(&workspace, &Invoice { number: 8 }).await;
    let missing = std::panic::AssertUnwindSafe(assert_enqueued(&workspace, &Invoice { number: 9 }))
        .catch_unwind()
        .await
        .unwrap_err();
    let message = missing.downcast_ref::<String>().unwrap();
    assert!(message.contains("Invoice { number: 7 }"), "{message}");
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn drain_runs_what_is_due_retries_included_and_what_the_clock_makes_due() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let clock = Arc::new(ManualClock::new(at("2026-03-01T12:00:00Z")));
    let stoker = builder(dir.path(), &runs)
        .clock(clock.clone())
        .build()
        .unwrap();
    let workspace = stoker.workspace("drained").await.unwrap();
    workspace.enqueue(FailTimes { times: 1 }).await.unwrap();
    for key in ["a", "b"] {
        workspace.enqueue(Record { key: key.into() }).await.unwrap();
    }
    let tomorrow = Record { key: "c".into() };
    let tomorrow = workspace
        .schedule(tomorrow, Duration::from_secs(24 * 3600))
        .await
        .unwrap();

    drain(&workspace).await.unwrap();
    let stats = workspace.stats().await.unwrap();
    assert_eq!((stats.succeeded, stats.scheduled), (3, 1), "{stats:?}");
    assert_eq!(runs.count("drained", "a") + runs.count("drained", "b"), 2);
    assert_eq!(runs.count("drained", "c"), 0);

    clock.advance(chrono::Duration::days(1));
    drain(&workspace).await.unwrap();
    assert_eq!(runs.count("drained", "c"), 1);
    let ran = workspace.job(tomorrow).await.unwrap();
    assert_eq!(ran.summary.state, stoker::JobState::Succeeded);
    stoker.shutdown().await;
}
