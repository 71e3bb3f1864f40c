//! What a job hands back is stored whatever bytes it holds, and never holds back another job's
//! outcome: an error with a NUL character (which PostgreSQL refuses in text) is stored with
//! U+FFFD in its place, an endless error is cut at 8 KiB, and an outcome the database refuses
//! outright is stored as a failed attempt that says so while the outcomes batched with it are
//! stored as they are. A recurring job's row that stoker did not write is listed as it fires,
//! beside the others, never in their way.

mod common;

use common::{Record, Runs, backend, builder, wait_for_state};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde::{Deserialize, Serialize};
use stoker::{
    Error, Job, JobContext, JobError, JobFilter, JobId, JobState, Misfire, NewJob,
    RecurringOptions, RetryPolicy, Stoker, Workspace,
};

/// Fails for good with `message` as its error.
#[derive(Serialize, Deserialize)]
struct FailWith {
    message: String,
}

impl Job for FailWith {
    const NAME: &'static str = "fail_with";

    fn retry_policy() -> RetryPolicy {
        RetryPolicy::attempts(0)
    }

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        Err(JobError::retry(self.message))
    }
}

/// Succeeds, but a trigger the test plants refuses to store its success.
#[derive(Serialize, Deserialize)]
struct Refused {}

impl Job for Refused {
    const NAME: &'static str = "refused";

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

async fn start(dir: &std::path::Path) -> (Stoker, Workspace) {
    let stoker = builder(dir, &Runs::default())
        .register::<FailWith>()
        .register::<Refused>()
        .workers(4)
        .build()
        .unwrap();
    let workspace = stoker.workspace("texts").await.unwrap();
    (stoker, workspace)
}

/// The error stored for job `id`'s failed attempt: the job's reason and its history's data.
async fn stored_error(workspace: &Workspace, id: JobId) -> (String, String) {
    let job = workspace.job(id).await.unwrap();
    let failed = job
        .history
        .iter()
        .find(|entry| entry.state == JobState::Failed)
        .expect("a failed attempt in the history");
    let data = failed.data.as_ref().expect("the attempt's data");
    (
        job.summary.reason.expect("a reason"),
        data["error"].as_str().expect("the error").to_owned(),
    )
}

#[actix_rt::test]
async fn an_error_with_a_nul_byte_is_stored_with_a_replacement_and_holds_back_no_other_job() {
    let dir = tempfile::tempdir().unwrap();
    let (stoker, workspace) = start(dir.path()).await;
    let bad = workspace
        .enqueue(FailWith {
            message: "bad\u{0}byte".into(),
        })
        .await
        .unwrap();
    let ordinary = workspace
        .enqueue(Record {
            key: "after".into(),
        })
        .await
        .unwrap();

    wait_for_state(&workspace, ordinary, JobState::Succeeded).await;
    wait_for_state(&workspace, bad, JobState::Failed).await;
    let (reason, error) = stored_error(&workspace, bad).await;
    assert_eq!(reason, "bad\u{FFFD}byte");
    assert_eq!(error, "bad\u{FFFD}byte");
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn an_endless_error_is_stored_cut_to_eight_kib() {
    let dir = tempfile::tempdir().unwrap();
    let (stoker, workspace) = start(dir.path()).await;
    let id = workspace
        .enqueue(FailWith {
            message: "é".repeat(100_000),
        })
        .await
        .unwrap();

    wait_for_state(&workspace, id, JobState::Failed).await;
    let (reason, error) = stored_error(&workspace, id).await;
    for text in [reason, error] {
        assert!(text.len() <= 8 * 1024, "{} bytes stored", text.len());
        assert!(text.ends_with("… (cut)"), "{}", &text[text.len() - 20..]);
        assert!(text.starts_with("éé"));
    }
    stoker.shutdown().await;
}

/// Makes the database refuse to store a `refused` job as succeeded, as a database refuses a
/// value it cannot store.
async fn refuse_successes_of_refused_jobs(dir: &std::path::Path) {
    let db = backend::connect(&backend::storage(dir), "texts").await;
    let statements: &[&str] = match db.get_database_backend() {
        DbBackend::Postgres => &[
            "CREATE FUNCTION refuse_success() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'this success cannot be stored'; END $$",
            "CREATE TRIGGER refuse_success BEFORE UPDATE ON jobs FOR EACH ROW \
             WHEN (NEW.job_type = 'refused' AND NEW.state = 'succeeded') \
             EXECUTE FUNCTION refuse_success()",
        ],
        _ => &["CREATE TRIGGER refuse_success BEFORE UPDATE ON jobs \
              WHEN NEW.job_type = 'refused' AND NEW.state = 'succeeded' \
              BEGIN SELECT RAISE(ABORT, 'this success cannot be stored'); END"],
    };
    for statement in statements {
        let statement = Statement::from_string(db.get_database_backend(), *statement);
        db.execute_raw(statement).await.unwrap();
    }
    db.close().await.unwrap();
}

#[actix_rt::test]
async fn an_outcome_the_database_refuses_is_stored_as_a_failed_attempt_and_the_rest_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let (stoker, workspace) = start(dir.path()).await;
    refuse_successes_of_refused_jobs(dir.path()).await;
    // One batch: the refused job among ordinary ones, so that their outcomes are stored
    // together if the completer can.
    let mut jobs: Vec<NewJob> = (0..20)
        .map(|n| {
            NewJob::of(&Record {
                key: format!("job {n}"),
            })
        })
        .collect();
    jobs.insert(10, NewJob::of(&Refused {}));
    let ids: Vec<JobId> = workspace
        .enqueue_many(jobs)
        .await
        .unwrap()
        .iter()
        .map(|enqueued| enqueued.id)
        .collect();
    let refused = ids[10];

    for (n, id) in ids.iter().enumerate().filter(|(n, _)| *n != 10) {
        wait_for_state(&workspace, *id, JobState::Succeeded).await;
        assert_eq!(
            workspace.job(*id).await.unwrap().summary.attempt,
            1,
            "job {n}"
        );
    }
    wait_for_state(&workspace, refused, JobState::Failed).await;
    let (reason, _) = stored_error(&workspace, refused).await;
    assert!(
        reason.starts_with("the run succeeded, but the database refused to store its outcome"),
        "{reason}"
    );
    assert!(reason.contains("this success cannot be stored"), "{reason}");
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_search_or_type_filter_with_a_nul_byte_answers_like_any_other() {
    let dir = tempfile::tempdir().unwrap();
    let (stoker, workspace) = start(dir.path()).await;
    workspace.enqueue(Record { key: "a".into() }).await.unwrap();
    for filter in [
        JobFilter::new().search("rec\u{0}ord"),
        JobFilter::new().job_type("rec\u{0}ord"),
    ] {
        let page = workspace.jobs(&filter).await.unwrap();
        assert_eq!(page.total, 0, "{filter:?}");
    }
    stoker.shutdown().await;
}

/// A recurring row holding arguments that are not JSON and a misfire mode stoker does not
/// know (written by hand, or by a later version) is listed as it fires, the workspace's other
/// recurring jobs beside it; firing it creates no job and says why.
#[actix_rt::test]
async fn a_foreign_recurring_row_is_listed_as_it_fires_and_hides_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let (stoker, workspace) = start(dir.path()).await;
    for id in ["foreign", "plain"] {
        let job = NewJob::of(&Record { key: id.into() });
        let yearly = RecurringOptions::default();
        workspace
            .add_or_update_recurring(id, job, "0 0 1 1 *", yearly)
            .await
            .unwrap();
    }
    let db = backend::connect(&backend::storage(dir.path()), "texts").await;
    let foreign = "UPDATE recurring_jobs SET args = 'not json {', misfire = 'sometimes' \
                   WHERE id = 'foreign'";
    let foreign = Statement::from_string(db.get_database_backend(), foreign);
    assert_eq!(db.execute_raw(foreign).await.unwrap().rows_affected(), 1);
    db.close().await.unwrap();

    let listed = workspace.recurring_jobs().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|row| row.id.as_str()).collect();
    assert_eq!(ids, ["foreign", "plain"]);
    assert_eq!(listed[0].args, serde_json::json!("not json {"));
    assert_eq!(listed[0].misfire, Misfire::default());
    assert_eq!(listed[1].args, serde_json::json!({ "key": "plain" }));
    assert_eq!(workspace.recurring("foreign").await.unwrap(), listed[0]);
    match workspace.trigger("foreign").await {
        Err(Error::InvalidOptions(reason)) => assert!(reason.contains("cannot run"), "{reason}"),
        other => panic!("a trigger of arguments that are not JSON answered {other:?}"),
    }
    stoker.shutdown().await;
}
