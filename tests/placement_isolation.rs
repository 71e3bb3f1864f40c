//! Two workspaces in one runtime (in one server) stay apart in every placement, whether they
//! share tables (`file`, `shared`) or each has a store of its own (`files`, `schemas`,
//! `databases`): a job id of one is not found under the other through the Rust handle, the
//! HTTP API or the dashboard, and the refused calls leave the job as it was; recurring jobs and
//! locks of one name are two independent things; stats, history and their counters are each
//! workspace's own; and other workspaces opening make an idle one run nothing.
//!
//! Workspace `alpha` gets its jobs first and `bravo` none until the foreign-id checks are done,
//! since in a store of its own `bravo`'s first ids are `alpha`'s too.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::pages::Pages;
use common::server::{Answer, Server};
use common::{FailTimes, PATIENCE, Record, Runs, at, builder, wait_for, wait_for_state};
use serde_json::{Value, json};
use stoker::{
    ContinueOn, Error, Granularity, HistoryPoint, JobDetails, JobFilter, JobId, JobState,
    ManualClock, NewJob, PageStart, RecurringOptions, RetryPolicy, Stats, Workspace,
};

const ALPHA: &str = "alpha";
const BRAVO: &str = "bravo";
/// In the arguments of `alpha`'s `record` jobs, and of no job of `bravo` (and the other way
/// round).
const ALPHA_MARK: &str = "alpha-only";
const BRAVO_MARK: &str = "bravo-only";

fn record(mark: &str, what: &str) -> Record {
    Record {
        key: format!("{mark}:{what}"),
    }
}

/// Jobs of `alpha` in every state a foreign call could change: succeeded, failed, scheduled
/// and awaiting (a continuation of the scheduled one); returns their ids.
async fn alpha_jobs(alpha: &Workspace) -> Vec<JobId> {
    let succeeded = alpha.enqueue(record(ALPHA_MARK, "done")).await.unwrap();
    let failing = NewJob::of(&FailTimes { times: 100 }).retry(RetryPolicy::attempts(0));
    let failed = alpha.enqueue_job(failing).await.unwrap().id;
    let later = record(ALPHA_MARK, "later");
    let scheduled = alpha
        .schedule(later, Duration::from_secs(3600))
        .await
        .unwrap();
    let then = NewJob::of(&record(ALPHA_MARK, "then"));
    let awaiting = alpha
        .continue_with(scheduled, then, ContinueOn::Succeeded)
        .await
        .unwrap()
        .id;
    wait_for_state(alpha, succeeded, JobState::Succeeded).await;
    wait_for_state(alpha, failed, JobState::Failed).await;
    vec![succeeded, failed, scheduled, awaiting]
}

/// Everything `workspace` tells of jobs `ids`.
async fn details(workspace: &Workspace, ids: &[JobId]) -> Vec<JobDetails> {
    let mut all = Vec::new();
    for &id in ids {
        all.push(workspace.job(id).await.unwrap());
    }
    all
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(what: &str, id: JobId, result: stoker::Result<T>) {
    assert!(
        matches!(&result, Err(Error::JobNotFound(missing)) if *missing == id),
        "{what} of job {id} under {BRAVO}: {result:?}"
    );
}

/// The jobs `workspace` lists for `filter` with each way a page can start: at the top, before
/// and after `id`.
async fn pages_around(workspace: &Workspace, id: JobId, filter: JobFilter) -> Vec<JobId> {
    let mut listed = Vec::new();
    let starts = [
        None,
        Some(PageStart::Before(JobId(id.0 + 1))),
        Some(PageStart::After(JobId(id.0 - 1))),
    ];
    for from in starts {
        let filter = filter.clone().limit(500);
        let filter = match from {
            Some(start) => filter.page(start),
            None => filter,
        };
        let page = workspace.jobs(&filter).await.unwrap();
        listed.extend(page.jobs.iter().map(|job| job.id));
    }
    listed
}

/// A workspace's job counts: enqueued, scheduled, processing, succeeded, failed, deleted and
/// awaiting.
fn job_counts(s: &Stats) -> [u64; 7] {
    [
        s.enqueued,
        s.scheduled,
        s.processing,
        s.succeeded,
        s.failed,
        s.deleted,
        s.awaiting,
    ]
}

/// Succeeded and failed jobs over all the points of a history.
fn totals(points: &[HistoryPoint]) -> (u64, u64) {
    points
        .iter()
        .fold((0, 0), |(s, f), p| (s + p.succeeded, f + p.failed))
}

#[actix_rt::test]
async fn a_job_id_of_one_workspace_is_not_found_through_the_handle_of_another() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let alpha = stoker.workspace(ALPHA).await.unwrap();
    let bravo = stoker.workspace(BRAVO).await.unwrap();
    let ids = alpha_jobs(&alpha).await;
    let before = details(&alpha, &ids).await;

    for &id in &ids {
        assert_not_found("details", id, bravo.job(id).await);
        assert_not_found("requeue", id, bravo.requeue(id).await);
        assert_not_found("enqueue now", id, bravo.enqueue_now(id).await);
        assert_not_found("delete", id, bravo.delete(id).await);
        let orphan = NewJob::of(&record(BRAVO_MARK, "orphan"));
        let continued = bravo.continue_with(id, orphan, ContinueOn::Finished).await;
        assert_not_found("a continuation", id, continued);
        for filter in [
            JobFilter::default(),
            JobFilter::new().search(id.to_string()),
        ] {
            let listed = pages_around(&bravo, id, filter.clone()).await;
            assert!(listed.is_empty(), "{BRAVO} lists {listed:?} for {filter:?}");
        }
    }
    assert_eq!(
        details(&alpha, &ids).await,
        before,
        "the refused calls changed nothing"
    );
    let stats = bravo.stats().await.unwrap();
    assert_eq!(job_counts(&stats), [0; 7], "no continuation was stored");

    // Now bravo has jobs of its own, under ids that in a store of its own are alpha's too.
    let mut own = Vec::new();
    for n in 0..ids.len() {
        own.push(
            bravo
                .enqueue(record(BRAVO_MARK, &n.to_string()))
                .await
                .unwrap(),
        );
    }
    for &id in &own {
        wait_for_state(&bravo, id, JobState::Succeeded).await;
    }
    for &id in &own {
        let args = bravo.job(id).await.unwrap().args;
        assert!(
            args["key"].as_str().unwrap().starts_with(BRAVO_MARK),
            "{args}"
        );
    }
    for (workspace, ids) in [(&alpha, &ids), (&bravo, &own)] {
        let newest = *ids.iter().max().unwrap();
        let mut listed = pages_around(workspace, newest, JobFilter::default()).await;
        listed.sort();
        listed.dedup();
        let mut expected = ids.clone();
        expected.sort();
        assert_eq!(
            listed,
            expected,
            "{} lists its own jobs only",
            workspace.name()
        );
    }
    let search = |mark: &str| JobFilter::new().search(mark).limit(500);
    assert_eq!(bravo.jobs(&search(ALPHA_MARK)).await.unwrap().total, 0);
    assert_eq!(alpha.jobs(&search(BRAVO_MARK)).await.unwrap().total, 0);
    assert_eq!(details(&alpha, &ids).await, before);
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn stats_history_and_their_counters_are_each_workspaces_own() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let alpha = stoker.workspace(ALPHA).await.unwrap();
    let bravo = stoker.workspace(BRAVO).await.unwrap();
    alpha_jobs(&alpha).await;
    let two = [record(BRAVO_MARK, "1"), record(BRAVO_MARK, "2")];
    let mut own = Vec::new();
    for job in two {
        own.push(bravo.enqueue(job).await.unwrap());
    }
    for &id in &own {
        wait_for_state(&bravo, id, JobState::Succeeded).await;
    }
    let doomed = bravo
        .schedule(record(BRAVO_MARK, "doomed"), Duration::from_secs(3600))
        .await
        .unwrap();
    bravo.delete(doomed).await.unwrap();

    let (a, b) = (alpha.stats().await.unwrap(), bravo.stats().await.unwrap());
    assert_eq!(job_counts(&a), [0, 1, 0, 1, 1, 0, 1], "{ALPHA}: {a:?}");
    assert_eq!(job_counts(&b), [0, 0, 0, 2, 0, 1, 0], "{BRAVO}: {b:?}");
    for granularity in [Granularity::Hour, Granularity::Day] {
        let a = alpha.history(granularity).await.unwrap();
        let b = bravo.history(granularity).await.unwrap();
        assert_eq!(totals(&a), (1, 1), "{ALPHA} by {granularity:?}");
        assert_eq!(totals(&b), (2, 0), "{BRAVO} by {granularity:?}");
    }
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn recurring_jobs_and_locks_of_one_name_in_two_workspaces_are_independent() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-22T02:59:00Z")));
    let runs = Runs::default();
    let stoker = builder(dir.path(), &runs)
        .clock(clock.clone())
        .build()
        .unwrap();
    let alpha = stoker.workspace(ALPHA).await.unwrap();
    let bravo = stoker.workspace(BRAVO).await.unwrap();
    // One name, a different hour each.
    for (workspace, mark, cron) in [
        (&alpha, ALPHA_MARK, "0 3 * * *"),
        (&bravo, BRAVO_MARK, "0 4 * * *"),
    ] {
        let job = NewJob::of(&record(mark, "report"));
        let options = RecurringOptions::default();
        workspace
            .add_or_update_recurring("report", job, cron, options)
            .await
            .unwrap();
    }
    let report = |workspace: &Workspace| {
        let workspace = workspace.clone();
        async move { workspace.recurring("report").await.unwrap() }
    };
    assert_eq!(report(&alpha).await.cron, "0 3 * * *");
    assert_eq!(report(&bravo).await.cron, "0 4 * * *");

    clock.set(at("2026-11-22T03:00:00Z"));
    let alpha_run = (ALPHA.to_owned(), format!("{ALPHA_MARK}:report"));
    let bravo_run = (BRAVO.to_owned(), format!("{BRAVO_MARK}:report"));
    wait_for("alpha's report to run", PATIENCE, || async {
        (runs.all().get(&alpha_run) == Some(&1)).then_some(())
    })
    .await;
    clock.set(at("2026-11-22T04:00:00Z"));
    wait_for("bravo's report to run", PATIENCE, || async {
        (runs.all().get(&bravo_run) == Some(&1)).then_some(())
    })
    .await;
    let (a, b) = (report(&alpha).await, report(&bravo).await);
    assert_eq!(a.last_execution, Some(at("2026-11-22T03:00:00Z")));
    assert_eq!(b.last_execution, Some(at("2026-11-22T04:00:00Z")));
    for (workspace, fired) in [(&alpha, &a), (&bravo, &b)] {
        let job = fired.last_job_id.unwrap();
        wait_for_state(workspace, job, JobState::Succeeded).await;
    }
    let ran = runs.all();
    assert_eq!(
        ran.len(),
        2,
        "each report ran once, in its workspace: {ran:?}"
    );

    // Pausing, triggering and removing one leaves the other as it was.
    let b_before = report(&bravo).await;
    assert!(alpha.pause("report").await.unwrap().paused);
    assert_eq!(report(&bravo).await, b_before);
    let triggered = bravo.trigger("report").await.unwrap();
    wait_for_state(&bravo, triggered, JobState::Succeeded).await;
    assert!(report(&alpha).await.paused);
    assert_eq!(runs.count(BRAVO, &bravo_run.1), 2);
    assert_eq!(runs.count(ALPHA, &alpha_run.1), 1);
    bravo.remove_recurring("report").await.unwrap();
    assert!(matches!(
        bravo.recurring("report").await,
        Err(Error::RecurringNotFound(_))
    ));
    assert_eq!(report(&alpha).await.cron, "0 3 * * *");
    assert_eq!(alpha.recurring_jobs().await.unwrap().len(), 1);
    assert!(bravo.recurring_jobs().await.unwrap().is_empty());

    // A lock of one name: one holder per workspace.
    let ttl = Duration::from_secs(60);
    let held = alpha
        .try_lock("nightly", ttl)
        .await
        .unwrap()
        .expect("free in alpha");
    let other = bravo
        .try_lock("nightly", ttl)
        .await
        .unwrap()
        .expect("alpha's holder does not hold bravo's lock");
    assert!(
        alpha.try_lock("nightly", ttl).await.unwrap().is_none(),
        "held in alpha"
    );
    assert!(held.release().await.unwrap());
    assert!(
        other.renew().await.unwrap(),
        "releasing alpha's left bravo's held"
    );
    assert!(
        bravo.try_lock("nightly", ttl).await.unwrap().is_none(),
        "held in bravo"
    );
    assert!(
        alpha.try_lock("nightly", ttl).await.unwrap().is_some(),
        "free again in alpha"
    );
    stoker.shutdown().await;
}

/// Jobs of `alpha` created over HTTP, as in [`alpha_jobs`]: succeeded, failed, scheduled and
/// awaiting; returns their ids.
async fn alpha_jobs_over_http(server: &Server) -> Vec<String> {
    let jobs = format!("/api/workspaces/{ALPHA}/jobs");
    let create = async |body: Value| {
        let answer = server.post(&jobs, body).await;
        assert_eq!(answer.status, 201, "{answer:?}");
        answer.body["id"].as_str().unwrap().to_owned()
    };
    let succeeded = create(json!({"type": "noop"})).await;
    let failed = create(json!({"type": "fail", "args": {"message": ALPHA_MARK},
        "retry": {"attempts": 0}}))
    .await;
    let scheduled = create(json!({"type": "noop", "delay_seconds": 3600})).await;
    let awaiting = create(json!({"type": "noop", "after": {"job": scheduled}})).await;
    server.wait_for_job(ALPHA, &succeeded, "succeeded").await;
    server.wait_for_job(ALPHA, &failed, "failed").await;
    vec![succeeded, failed, scheduled, awaiting]
}

#[track_caller]
fn assert_not_found_answer(what: &str, answer: &Answer) {
    assert_eq!(
        (answer.status, answer.code()),
        (404, "not_found"),
        "{what}: {answer:?}"
    );
}

#[actix_rt::test]
async fn a_job_id_of_one_workspace_is_not_found_over_http_or_on_the_dashboard_of_another() {
    let server = Server::start(&["--workspace", ALPHA, "--workspace", BRAVO]).await;
    let ids = alpha_jobs_over_http(&server).await;
    let recurring = json!({"type": "noop", "cron": "0 3 * * *"});
    let put = server
        .put(
            &format!("/api/workspaces/{ALPHA}/recurring/report"),
            recurring,
        )
        .await;
    assert_eq!(put.status, 200, "{put:?}");
    // Paused, so that nothing but a foreign call could change it while the test runs.
    let pause = format!("/api/workspaces/{ALPHA}/recurring/report/pause");
    let paused = server.post(&pause, json!({})).await;
    assert_eq!(paused.body["paused"], true, "{paused:?}");
    let alpha_now = async || {
        let mut seen = Vec::new();
        for id in &ids {
            seen.push(
                server
                    .get(&format!("/api/workspaces/{ALPHA}/jobs/{id}"))
                    .await
                    .body,
            );
        }
        seen.push(
            server
                .get(&format!("/api/workspaces/{ALPHA}/recurring/report"))
                .await
                .body,
        );
        seen
    };
    let before = alpha_now().await;

    let bravo = format!("/api/workspaces/{BRAVO}");
    for id in &ids {
        let job = format!("{bravo}/jobs/{id}");
        assert_not_found_answer("GET", &server.get(&job).await);
        for action in ["requeue", "enqueue", "delete"] {
            let answer = server.post(&format!("{job}/{action}"), json!({})).await;
            assert_not_found_answer(action, &answer);
        }
        let orphan = json!({"type": "noop", "after": {"job": id, "on": "finished"}});
        let answer = server.post(&format!("{bravo}/jobs"), orphan.clone()).await;
        assert_not_found_answer("a continuation", &answer);
        let batch = json!({"jobs": [{"type": "noop"}, orphan]});
        let answer = server.post(&format!("{bravo}/jobs/batch"), batch).await;
        assert_not_found_answer("a batch with a continuation", &answer);
        let listed = server.get(&format!("{bravo}/jobs?search={id}")).await;
        assert_eq!(listed.body["total"], 0, "{listed:?}");
    }
    let report = format!("{bravo}/recurring/report");
    assert_not_found_answer("GET recurring", &server.get(&report).await);
    for action in ["trigger", "pause", "resume"] {
        let answer = server.post(&format!("{report}/{action}"), json!({})).await;
        assert_not_found_answer(action, &answer);
    }
    assert_not_found_answer("DELETE recurring", &server.delete(&report).await);

    // The dashboard: no page for the job, no action on it, and no link to it in any list
    // where alpha's own dashboard shows one.
    let pages = Pages::new(&server.base);
    let front = pages.get(&format!("/dashboard/{BRAVO}")).await;
    assert_eq!(front.status, 200, "{}", front.html);
    let states = ["succeeded", "failed", "scheduled", "awaiting"];
    for (id, state) in ids.iter().zip(states) {
        let path = format!("/dashboard/{BRAVO}/jobs/{id}");
        let page = pages.get(&path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.html);
        for action in ["requeue", "enqueue", "delete"] {
            let done = pages.submit(&path, &[("action", action)]).await;
            assert_eq!(done.status, 303, "{action} {path}: {}", done.html);
            let notice = pages.get(done.location.as_deref().unwrap()).await;
            let refusal = format!("job {id} not found");
            assert!(
                notice.html.contains(&refusal),
                "{action} {path}: {}",
                notice.html
            );
        }
        let bulk = format!("/dashboard/{BRAVO}/jobs");
        let done = pages
            .submit(&bulk, &[("action", "delete"), ("id", id)])
            .await;
        assert_eq!(done.status, 303, "{}", done.html);
        let link = format!("/jobs/{id}\"");
        let next = id.parse::<i64>().unwrap() + 1;
        for query in [
            format!("search={id}"),
            format!("before={next}"),
            "after=0".into(),
        ] {
            let list = |ws: &str| format!("/dashboard/{ws}/jobs?state={state}&{query}");
            let own = pages.get(&list(ALPHA)).await;
            assert!(own.html.contains(&link), "{}: {}", list(ALPHA), own.html);
            let other = pages.get(&list(BRAVO)).await;
            assert_eq!(other.status, 200, "{}", other.html);
            assert!(
                !other.html.contains(&link),
                "{}: {}",
                list(BRAVO),
                other.html
            );
        }
    }

    assert_eq!(
        alpha_now().await,
        before,
        "the refused calls changed nothing"
    );
    let stats = server.get(&format!("{bravo}/stats")).await.body;
    for state in [
        "enqueued",
        "scheduled",
        "succeeded",
        "failed",
        "deleted",
        "awaiting",
    ] {
        assert_eq!(stats[state], 0, "{BRAVO} {state}: {stats}");
    }
    assert_eq!(stats["recurring"], 0, "{stats}");
}

/// Opening a workspace is that workspace's business: an idle one, held open, runs no
/// statement while twenty others open (its heartbeat and polling are set past the test).
#[actix_rt::test]
async fn an_idle_workspace_runs_no_statement_while_other_workspaces_open() {
    let dir = tempfile::tempdir().unwrap();
    let hour = Duration::from_secs(3600);
    let stoker = builder(dir.path(), &Runs::default())
        .heartbeat(hour)
        .lease(hour * 3)
        .server_timeout(hour * 3)
        .poll_interval(hour)
        .idle_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let idle = stoker.workspace(ALPHA).await.unwrap();
    let others: Vec<String> = (0..20).map(|n| format!("other{n:02}")).collect();
    // Created, then released: what the idle workspace saw of its own opening is over.
    for name in &others {
        drop(stoker.workspace(name).await.unwrap());
    }
    for name in &others {
        common::released(&stoker, name).await;
    }
    let before = stoker::testing::statements_executed(&idle);
    for name in &others {
        drop(stoker.workspace(name).await.unwrap());
    }
    let ran = stoker::testing::statements_executed(&idle) - before;
    assert_eq!(
        ran,
        0,
        "{ALPHA} ran {ran} statements while {} others opened",
        others.len()
    );
    stoker.shutdown().await;
}
