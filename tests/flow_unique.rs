//! Unique jobs: one key enqueued at once from every server creates one job, in every scope and
//! in a batch that holds it twice; each scope frees its key when it says; a job that waits
//! again after its key was taken by a newer one (a retry, a requeue) does not collide with it.
//!
//! On PostgreSQL "every server" is three runtimes on the store; on SQLite, whose store belongs
//! to one process, it is one runtime with as many concurrent callers.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::{FailTimes, Log, Runs, Starts, backend, builder_on, wait_for_state};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use stoker::{
    Enqueued, Job, JobContext, JobError, JobFilter, JobState, ManualClock, NewJob, Stoker, Unique,
    UniqueScope, Workspace,
};
use tokio::sync::watch;

/// A queue no runtime of these tests works: its jobs wait as long as a test needs.
const PARKED: &str = "parked";

/// Opened by the test; [`Gated`] jobs run until it is.
#[derive(Clone)]
struct Gate(Arc<watch::Sender<bool>>);

impl Gate {
    fn new() -> Self {
        Gate(Arc::new(watch::channel(false).0))
    }

    fn open(&self) {
        self.0.send_replace(true);
    }
}

/// Runs until the test opens the gate; then fails its first attempt if asked to.
#[derive(Serialize, Deserialize)]
struct Gated {
    fail_first: bool,
}

impl Job for Gated {
    const NAME: &'static str = "gated";

    fn retry_policy() -> stoker::RetryPolicy {
        stoker::RetryPolicy::attempts(3).with_delays([Duration::ZERO])
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let mut open = ctx.data::<Gate>().expect("Gate registered").0.subscribe();
        let _ = open.wait_for(|open| *open).await;
        match self.fail_first && ctx.attempt() == 1 {
            true => Err(JobError::retry("first attempt")),
            false => Ok(()),
        }
    }
}

/// One report per customer waiting or running, by the type's own word.
#[derive(Serialize, Deserialize)]
struct Report {
    customer: u32,
}

impl Job for Report {
    const NAME: &'static str = "report";

    fn unique(&self) -> Option<Unique> {
        Some(Unique::by_key(format!("report-{}", self.customer)))
    }

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

/// The runtimes of one store (three on PostgreSQL, one on SQLite), working the default queue.
fn servers(dir: &std::path::Path, gate: &Gate) -> Vec<Stoker> {
    let count = if backend::on_postgres() { 3 } else { 1 };
    let storage = backend::storage(dir);
    (0..count)
        .map(|_| {
            builder_on(storage.clone(), &Runs::default())
                .register::<Gated>()
                .register::<Report>()
                .data(gate.clone())
                .data(Starts::default())
                .build()
                .unwrap()
        })
        .collect()
}

async fn open_all(servers: &[Stoker], name: &str) -> Vec<Workspace> {
    let mut workspaces = Vec::new();
    for server in servers {
        workspaces.push(server.workspace(name).await.unwrap());
    }
    workspaces
}

async fn shut_down(servers: Vec<Stoker>) {
    for server in servers {
        server.shutdown().await;
    }
}

fn parked(unique: Unique) -> NewJob {
    NewJob::of(&Log {}).queue(PARKED).unique(unique)
}

/// How many jobs the workspace holds.
async fn job_count(workspace: &Workspace) -> u64 {
    workspace.jobs(&JobFilter::new()).await.unwrap().total
}

/// Enqueues `job` 20 times at once on each of `workspaces` (one per server); checks that one
/// call created a job and every other answered with it, and returns that job's answer.
async fn enqueue_everywhere_at_once(workspaces: &[Workspace], job: &NewJob) -> Enqueued {
    let calls = workspaces
        .iter()
        .flat_map(|workspace| (0..20).map(move |_| workspace.enqueue_job(job.clone())));
    let answers: Vec<Enqueued> = join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let created: Vec<&Enqueued> = answers.iter().filter(|a| !a.duplicate).collect();
    assert_eq!(created.len(), 1, "one call creates the job: {answers:?}");
    let created = *created[0];
    assert!(
        answers.iter().all(|answer| answer.id == created.id),
        "every duplicate names the job: {answers:?}"
    );
    created
}

#[actix_rt::test]
async fn one_key_enqueued_at_once_on_every_server_creates_one_job_in_every_scope() {
    let dir = tempfile::tempdir().unwrap();
    let servers = servers(dir.path(), &Gate::new());
    let workspaces = open_all(&servers, "unique").await;
    let scopes = [
        UniqueScope::Queued,
        UniqueScope::Active,
        UniqueScope::Period(Duration::from_secs(3600)),
    ];
    for (n, scope) in scopes.into_iter().enumerate() {
        let job = parked(Unique::by_key("nightly").scope(scope));
        let created = enqueue_everywhere_at_once(&workspaces, &job).await;
        assert_eq!(created.state, JobState::Enqueued);
        assert_eq!(job_count(&workspaces[0]).await, n as u64 + 1, "{scope:?}");
        let stored = workspaces[0].job(created.id).await.unwrap();
        let unique = stored.unique.expect("the job keeps its key");
        assert_eq!(unique.key, "nightly");
        assert_eq!(unique.scope.as_deref(), Some(scope_name(scope)));
        assert!(unique.held, "{scope:?}");
    }
    let by_args = parked(Unique::by_args());
    enqueue_everywhere_at_once(&workspaces, &by_args).await;
    shut_down(servers).await;
}

fn scope_name(scope: UniqueScope) -> &'static str {
    match scope {
        UniqueScope::Queued => "queued",
        UniqueScope::Active => "active",
        _ => "period",
    }
}

#[actix_rt::test]
async fn a_type_that_makes_its_jobs_unique_enqueues_one_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let servers = servers(dir.path(), &Gate::new());
    let workspace = servers[0].workspace("typed").await.unwrap();
    let report = |customer| NewJob::of(&Report { customer }).queue(PARKED);
    let first = workspace.enqueue_job(report(42)).await.unwrap();
    let again = workspace.enqueue_job(report(42)).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.id, first.id);
    let other = workspace.enqueue_job(report(7)).await.unwrap();
    assert!(!other.duplicate, "another customer is another key");
    let named = NewJob::new("report", serde_json::json!({"customer": 42})).queue(PARKED);
    let named = workspace.enqueue_job(named).await.unwrap();
    assert!(
        named.duplicate,
        "a job named at run time is unique as its type says"
    );
    assert_eq!(named.id, first.id);
    let own = Unique::by_key("report-42-again");
    let own = workspace.enqueue_job(report(42).unique(own)).await.unwrap();
    assert!(!own.duplicate, "the enqueuer's key comes before the type's");
    let key = workspace.job(first.id).await.unwrap().unique.unwrap().key;
    assert_eq!(key, "report-42");
    shut_down(servers).await;
}

#[actix_rt::test]
async fn a_batch_that_holds_a_key_twice_creates_one_job_and_answers_both_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let servers = servers(dir.path(), &Gate::new());
    let workspaces = open_all(&servers, "batches").await;
    for scope in [
        UniqueScope::Active,
        UniqueScope::Period(Duration::from_secs(60)),
    ] {
        let key = format!("twice-{}", scope_name(scope));
        let job = parked(Unique::by_key(&key).scope(scope));
        let batch = || {
            vec![
                NewJob::of(&Log {}).queue(PARKED),
                job.clone(),
                job.clone(),
                NewJob::of(&Log {}).queue(PARKED),
            ]
        };
        let calls = workspaces.iter().map(|ws| ws.enqueue_many(batch()));
        let answers: Vec<Vec<Enqueued>> = join_all(calls)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let holders: Vec<&Enqueued> = answers
            .iter()
            .flat_map(|batch| &batch[1..3])
            .filter(|answer| !answer.duplicate)
            .collect();
        assert_eq!(holders.len(), 1, "{answers:?}");
        for batch in &answers {
            assert!(!batch[0].duplicate && !batch[3].duplicate, "{batch:?}");
            assert_eq!(batch[1].id, holders[0].id, "{batch:?}");
            assert_eq!(batch[2].id, holders[0].id, "{batch:?}");
        }
    }
    let plain = 2 * workspaces.len() as u64;
    assert_eq!(job_count(&workspaces[0]).await, 2 * (plain + 1));
    shut_down(servers).await;
}

#[actix_rt::test]
async fn a_queued_key_is_free_once_its_job_starts_and_an_active_key_once_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Gate::new();
    let servers = servers(dir.path(), &gate);
    let workspace = servers[0].workspace("scopes").await.unwrap();
    let gated =
        |scope| NewJob::of(&Gated { fail_first: false }).unique(Unique::by_args().scope(scope));

    let queued = workspace
        .enqueue_job(gated(UniqueScope::Queued))
        .await
        .unwrap();
    wait_for_state(&workspace, queued.id, JobState::Processing).await;
    let next = workspace
        .enqueue_job(gated(UniqueScope::Queued))
        .await
        .unwrap();
    assert!(!next.duplicate, "a running job does not hold a queued key");
    let released = workspace.job(queued.id).await.unwrap().unique.unwrap();
    assert!(!released.held, "the running job released its key");

    let active = workspace
        .enqueue_job(gated(UniqueScope::Active))
        .await
        .unwrap();
    wait_for_state(&workspace, active.id, JobState::Processing).await;
    let again = workspace
        .enqueue_job(gated(UniqueScope::Active))
        .await
        .unwrap();
    assert!(again.duplicate, "a running job holds an active key");
    assert_eq!((again.id, again.state), (active.id, JobState::Processing));

    gate.open();
    wait_for_state(&workspace, active.id, JobState::Succeeded).await;
    let after = workspace
        .enqueue_job(gated(UniqueScope::Active))
        .await
        .unwrap();
    assert!(!after.duplicate, "a job that ended holds no active key");
    wait_for_state(&workspace, after.id, JobState::Succeeded).await;
    shut_down(servers).await;
}

#[actix_rt::test]
async fn a_period_key_holds_until_the_period_ends_whatever_became_of_its_job() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let stoker = builder_on(backend::storage(dir.path()), &Runs::default())
        .data(Starts::default())
        .clock(clock.clone())
        .build()
        .unwrap();
    let workspace = stoker.workspace("periods").await.unwrap();
    let hourly = || {
        let scope = UniqueScope::Period(Duration::from_secs(3600));
        NewJob::of(&Log {}).unique(Unique::by_key("digest").scope(scope))
    };
    let first = workspace.enqueue_job(hourly()).await.unwrap();
    wait_for_state(&workspace, first.id, JobState::Succeeded).await;
    let again = workspace.enqueue_job(hourly()).await.unwrap();
    assert!(again.duplicate);
    assert_eq!((again.id, again.state), (first.id, JobState::Succeeded));

    clock.advance(chrono::Duration::minutes(59));
    assert!(workspace.enqueue_job(hourly()).await.unwrap().duplicate);
    clock.advance(chrono::Duration::minutes(2));
    let next = workspace.enqueue_job(hourly()).await.unwrap();
    assert!(!next.duplicate, "the period ended");
    assert_ne!(next.id, first.id);
    assert!(!workspace.job(first.id).await.unwrap().unique.unwrap().held);
    assert!(workspace.job(next.id).await.unwrap().unique.unwrap().held);
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_job_that_waits_again_after_a_newer_one_took_its_key_does_not_collide_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Gate::new();
    let servers = servers(dir.path(), &gate);
    let workspace = servers[0].workspace("again").await.unwrap();

    // A queued key is free while its job runs: a newer job takes it and parks; the run then
    // fails, and its retry waits beside the newer job.
    let key = || Unique::by_key("retried").scope(UniqueScope::Queued);
    let first = NewJob::of(&Gated { fail_first: true }).unique(key());
    let first = workspace.enqueue_job(first).await.unwrap();
    wait_for_state(&workspace, first.id, JobState::Processing).await;
    let newer = parked(key());
    let newer = workspace.enqueue_job(newer).await.unwrap();
    assert!(!newer.duplicate);
    gate.open();
    wait_for_state(&workspace, first.id, JobState::Succeeded).await;
    let history = workspace.job(first.id).await.unwrap().history;
    assert!(history.iter().any(|entry| entry.state == JobState::Failed));
    let waiting = workspace.job(newer.id).await.unwrap();
    assert_eq!(waiting.summary.state, JobState::Enqueued);

    // A failed job requeued while a newer job holds its active key.
    let failed = NewJob::of(&FailTimes { times: 99 })
        .retry(stoker::RetryPolicy::attempts(0))
        .unique(Unique::by_key("requeued"));
    let old = workspace.enqueue_job(failed.clone()).await.unwrap();
    wait_for_state(&workspace, old.id, JobState::Failed).await;
    let newer = workspace.enqueue_job(failed.queue(PARKED)).await.unwrap();
    assert!(!newer.duplicate, "a failed job holds no active key");
    workspace.requeue(old.id).await.unwrap();
    wait_for_state(&workspace, old.id, JobState::Failed).await;
    let requeued = workspace.job(old.id).await.unwrap().unique.unwrap();
    assert_eq!((requeued.scope, requeued.held), (None, false));
    let waiting = workspace.job(newer.id).await.unwrap();
    assert_eq!(waiting.summary.state, JobState::Enqueued);
    assert!(waiting.unique.unwrap().held);

    // An active key stays with its job through a retry that waits an hour.
    let retried = NewJob::of(&FailTimes { times: 1 })
        .retry(stoker::RetryPolicy::attempts(1).with_delays([Duration::from_secs(3600)]))
        .unique(Unique::by_key("backing-off"));
    let first = workspace.enqueue_job(retried.clone()).await.unwrap();
    wait_for_state(&workspace, first.id, JobState::Scheduled).await;
    let again = workspace.enqueue_job(retried).await.unwrap();
    assert!(again.duplicate);
    assert_eq!((again.id, again.state), (first.id, JobState::Scheduled));
    shut_down(servers).await;
}
