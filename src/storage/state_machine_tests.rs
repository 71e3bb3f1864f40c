//! A property test of the job state machine as storage enforces it: random sequences of
//! enqueues, claims by two servers, completions (also late ones, from a server that crashed or
//! whose job a person deleted), crashes with lease recovery, promotions and a person's moves.
//! After every step each job is where a simple model says, and its history holds only moves
//! the design allows: no sequence loses a job or moves it along a forbidden edge.
//!
//! Two workspaces share one store, and every step picks one: a job is seen, claimed and
//! moved only in its own workspace (the same id in the other is not found), and one
//! workspace's claims, crashes and promotions leave the other's jobs alone.
//!
//! Runs on a SQLite file shared by both, or on PostgreSQL's shared tables when
//! `STOKER_TEST_DATABASE_URL` names a server (the suite's second pass). `PROPTEST_CASES` sets
//! the number of sequences.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{
    Action, ClaimFloors, Completion, Databases, NewJobRow, ServerRow, Storage, StorageConfig,
    Transition, complete::AfterFailed, due, upkeep,
};
use crate::name::WorkspaceName;
use crate::state::JobState;

const SERVERS: usize = 2;
/// Workspaces sharing the store.
const WORKSPACES: usize = 2;
const LEASE: i64 = 1_000;
/// Delayed jobs and retries fall due this long after they are stored.
const DUE_AFTER: i64 = 10;

/// One thing that can happen to the jobs of a sequence.
#[derive(Clone, Debug)]
enum Step {
    Enqueue {
        workspace: usize,
        delayed: bool,
        retries: i32,
    },
    Claim {
        workspace: usize,
        server: usize,
        limit: usize,
    },
    /// Server `server` reports the outcome of the `pick`-th job it holds.
    Finish {
        server: usize,
        pick: usize,
        ok: bool,
    },
    /// Server `server` dies; the others renew their leases; its jobs are recovered.
    Crash {
        server: usize,
    },
    Promote {
        workspace: usize,
    },
    /// A person asks for `action` on the `pick`-th job, in its workspace or (`foreign`) in
    /// the other one, which must not find it.
    Person {
        pick: usize,
        action: Action,
        foreign: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let (server, workspace) = (0..SERVERS, 0..WORKSPACES);
    let action = prop_oneof![
        Just(Action::Requeue),
        Just(Action::Delete),
        Just(Action::EnqueueNow)
    ];
    prop_oneof![
        3 => (workspace.clone(), any::<bool>(), 0..3i32)
            .prop_map(|(workspace, delayed, retries)| Step::Enqueue { workspace, delayed, retries }),
        3 => (workspace.clone(), server.clone(), 1..4usize)
            .prop_map(|(workspace, server, limit)| Step::Claim { workspace, server, limit }),
        4 => (server.clone(), 0..4usize, any::<bool>())
            .prop_map(|(server, pick, ok)| Step::Finish { server, pick, ok }),
        1 => server.prop_map(|server| Step::Crash { server }),
        1 => workspace.prop_map(|workspace| Step::Promote { workspace }),
        2 => (0..12usize, action, proptest::bool::weighted(0.2))
            .prop_map(|(pick, action, foreign)| Step::Person { pick, action, foreign }),
    ]
}

/// What the model knows of a job.
#[derive(Clone, Debug)]
struct Expected {
    state: JobState,
    attempt: u32,
    retries: i32,
    /// The server whose lease it holds, while `processing`.
    owner: Option<String>,
    run_at: Option<i64>,
}

/// A job as the model knows it: its workspace and its id.
type JobKey = (usize, i64);

/// A server as the model sees it: its current id (a new one after each crash) and the jobs
/// it believes it runs (in either workspace), which may have been taken from it since.
struct Server {
    case: usize,
    index: usize,
    generation: u32,
    held: Vec<(JobKey, String)>,
}

impl Server {
    fn id(&self) -> String {
        let Server {
            case,
            index,
            generation,
            ..
        } = self;
        format!("case{case}-server{index}-{generation}")
    }
}

struct Sequence<'a> {
    /// The workspaces' storages, in one store.
    storages: [&'a Storage; WORKSPACES],
    queue: String,
    now: i64,
    jobs: BTreeMap<JobKey, Expected>,
    servers: Vec<Server>,
}

impl Sequence<'_> {
    async fn run(&mut self, step: &Step) {
        self.now += 1;
        match *step {
            Step::Enqueue {
                workspace,
                delayed,
                retries,
            } => self.enqueue(workspace, delayed, retries).await,
            Step::Claim {
                workspace,
                server,
                limit,
            } => self.claim(workspace, server, limit).await,
            Step::Finish { server, pick, ok } => self.finish(server, pick, ok).await,
            Step::Crash { server } => self.crash(server).await,
            Step::Promote { workspace } => self.promote(workspace).await,
            Step::Person {
                pick,
                action,
                foreign,
            } => self.person(pick, action, foreign).await,
        }
    }

    async fn enqueue(&mut self, workspace: usize, delayed: bool, retries: i32) {
        let run_at = delayed.then_some(self.now + DUE_AFTER);
        let row = NewJobRow {
            job_type: "model".into(),
            run_at,
            ..NewJobRow::plain(&self.queue, retries)
        };
        let storage = self.storages[workspace];
        let created = storage.insert_jobs(vec![row], self.now).await.unwrap();
        let state = if delayed {
            JobState::Scheduled
        } else {
            JobState::Enqueued
        };
        assert_eq!(created[0].state, state);
        let expected = Expected {
            state,
            attempt: 0,
            retries,
            owner: None,
            run_at,
        };
        self.jobs.insert((workspace, created[0].id), expected);
    }

    async fn claim(&mut self, workspace: usize, server: usize, limit: usize) {
        let owner = self.servers[server].id();
        let queues = [self.queue.clone()];
        let lease_until = self.now + LEASE;
        // From the start of the queue every time, as the model's oldest-first expects.
        let fresh = ClaimFloors::default();
        let claimed = self.storages[workspace]
            .claim(&queues, limit, &fresh, &owner, self.now, lease_until)
            .await
            .unwrap();
        let ids: Vec<i64> = claimed.iter().map(|job| job.id).collect();
        let oldest: Vec<i64> = self
            .jobs
            .iter()
            .filter(|((of, _), job)| *of == workspace && job.state == JobState::Enqueued)
            .map(|((_, id), _)| *id)
            .take(limit)
            .collect();
        assert_eq!(
            ids, oldest,
            "a claim takes its workspace's oldest enqueued jobs"
        );
        for job in claimed {
            let key = (workspace, job.id);
            let expected = self.jobs.get_mut(&key).unwrap();
            expected.state = JobState::Processing;
            expected.attempt += 1;
            expected.owner = Some(owner.clone());
            assert_eq!(job.attempt as u32, expected.attempt);
            self.servers[server].held.push((key, owner.clone()));
        }
    }

    async fn finish(&mut self, server: usize, pick: usize, ok: bool) {
        let held = &mut self.servers[server].held;
        if held.is_empty() {
            return;
        }
        let (key, owner) = held.remove(pick % held.len());
        let ((workspace, id), expected) = (key, self.jobs.get_mut(&key).unwrap());
        let attempt = expected.attempt;
        let outcome = if ok {
            Completion::Succeeded {
                id,
                attempt: attempt as i32,
            }
        } else {
            let retry = attempt as i32 <= expected.retries;
            let next = if retry {
                AfterFailed::Retry {
                    retry: attempt,
                    retries: expected.retries as u32,
                    delay_ms: DUE_AFTER,
                }
            } else {
                AfterFailed::Exhausted(JobState::Failed)
            };
            Completion::Failed {
                id,
                attempt: attempt as i32,
                error: "model failure".into(),
                next,
            }
        };
        self.storages[workspace]
            .complete(vec![outcome], &owner, self.now)
            .await
            .unwrap();
        // Only the lease holder's report moves the job; a late one changes nothing.
        if expected.owner.as_deref() != Some(&owner) {
            return;
        }
        expected.owner = None;
        expected.state = match (ok, attempt as i32 <= expected.retries) {
            (true, _) => JobState::Succeeded,
            (false, true) => {
                expected.run_at = Some(self.now + DUE_AFTER);
                JobState::Scheduled
            }
            (false, false) => JobState::Failed,
        };
    }

    async fn crash(&mut self, server: usize) {
        let dead = self.servers[server].id();
        self.servers[server].generation += 1;
        self.now += LEASE + 1;
        for alive in self.servers.iter().filter(|alive| alive.index != server) {
            let row = ServerRow {
                id: alive.id(),
                workers: 4,
                queues: vec![self.queue.clone()],
                started_at: 0,
            };
            let lease_until = self.now + LEASE;
            for storage in self.storages {
                let txn = storage.write().await.unwrap();
                upkeep::heartbeat(&txn, storage.scope(), &row, self.now, lease_until)
                    .await
                    .unwrap();
                txn.commit().await.unwrap();
            }
        }
        for storage in self.storages {
            storage.recover_abandoned(self.now, self.now).await.unwrap();
        }
        for job in self.jobs.values_mut() {
            if job.owner.as_deref() == Some(&dead) {
                job.owner = None;
                job.state = if job.attempt as i32 <= job.retries {
                    JobState::Enqueued
                } else {
                    JobState::Failed
                };
            }
        }
    }

    async fn promote(&mut self, workspace: usize) {
        self.now += DUE_AFTER;
        let storage = self.storages[workspace];
        let txn = storage.write().await.unwrap();
        due::promote(&txn, storage.scope(), self.now).await.unwrap();
        txn.commit().await.unwrap();
        for ((of, _), job) in self.jobs.iter_mut() {
            let due = job.state == JobState::Scheduled && job.run_at <= Some(self.now);
            if *of == workspace && due {
                job.state = JobState::Enqueued;
            }
        }
    }

    async fn person(&mut self, pick: usize, action: Action, foreign: bool) {
        let count = self.jobs.len().max(1);
        let Some((&(workspace, id), expected)) = self.jobs.iter_mut().nth(pick % count) else {
            return;
        };
        if foreign {
            let other = self.storages[(workspace + 1) % WORKSPACES];
            let transition = other.apply(id, action, self.now).await.unwrap();
            assert_eq!(
                transition,
                Transition::NotFound,
                "job {id} found in the other workspace"
            );
            return;
        }
        self.storages[workspace]
            .apply(id, action, self.now)
            .await
            .unwrap();
        if action.allowed_from(expected.state) {
            expected.owner = None;
            expected.state = action.target();
            if action == Action::Requeue {
                expected.attempt = 0; // a fresh start, with all its retries
            }
        }
    }

    /// Every job is where the model says, with a history of allowed moves only.
    async fn check(&self, step: &Step) {
        for (&(workspace, id), expected) in &self.jobs {
            let other = self.storages[(workspace + 1) % WORKSPACES];
            let seen = other.job(id, 0).await.unwrap();
            assert_eq!(
                seen, None,
                "job {id} seen in the other workspace after {step:?}"
            );
            let job = self.storages[workspace].job(id, 0).await.unwrap();
            let job = job.unwrap_or_else(|| panic!("job {id} lost after {step:?}"));
            assert_eq!(
                (job.summary.state, job.summary.attempt),
                (expected.state, expected.attempt),
                "job {id} after {step:?}"
            );
            let states: Vec<JobState> = job.history.iter().rev().map(|e| e.state).collect();
            assert!(
                matches!(
                    states[0],
                    JobState::Enqueued | JobState::Scheduled | JobState::Awaiting
                ),
                "job {id} began {:?}",
                states[0]
            );
            for pair in states.windows(2) {
                assert!(
                    allowed(pair[0], pair[1]),
                    "job {id} moved {:?} -> {:?} (history {states:?}) after {step:?}",
                    pair[0],
                    pair[1]
                );
            }
            assert_eq!(states.last(), Some(&expected.state));
        }
    }
}

/// The moves the design allows (DESIGN.md, `crate::state`).
fn allowed(from: JobState, to: JobState) -> bool {
    use JobState::*;
    match from {
        Enqueued => matches!(to, Processing | Deleted),
        Scheduled | Awaiting => matches!(to, Enqueued | Deleted),
        Processing => matches!(to, Succeeded | Failed | Enqueued | Deleted),
        Failed => matches!(to, Scheduled | Enqueued | Deleted),
        Succeeded => matches!(to, Enqueued | Deleted),
        Deleted => to == Enqueued,
    }
}

/// The store the property runs on: a SQLite file in `dir`, or the suite's PostgreSQL (in
/// shared tables, both ways).
fn storage_config(dir: &std::path::Path) -> StorageConfig {
    match std::env::var("STOKER_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => StorageConfig::postgres(url),
        _ => StorageConfig::sqlite_file(dir.join("shared.db")),
    }
}

#[test]
fn no_sequence_of_steps_loses_a_job_or_moves_it_along_a_forbidden_edge() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (databases, _notices) = Databases::new(storage_config(dir.path()), 4);
    let open = |workspace| {
        let name = format!("state_machine_{workspace}_{}", std::process::id());
        let name = WorkspaceName::new(&name).unwrap();
        runtime.block_on(databases.open(&name)).unwrap()
    };
    let (first, second) = (open(0), open(1));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(32);
    let cases_run = std::cell::Cell::new(0);
    proptest!(ProptestConfig::with_cases(cases), |(steps in proptest::collection::vec(step(), 1..40))| {
        // Cases share the workspaces: each has its own queue, server ids and span of time.
        let case = cases_run.get() + 1;
        cases_run.set(case);
        let servers = (0..SERVERS).map(|index| Server { case, index, generation: 0, held: Vec::new() });
        let mut sequence = Sequence {
            storages: [&first, &second],
            queue: format!("case-{case}"),
            now: case as i64 * 10_000_000,
            jobs: BTreeMap::new(),
            servers: servers.collect(),
        };
        runtime.block_on(async {
            for step in &steps {
                sequence.run(step).await;
                sequence.check(step).await;
            }
        });
    });
    runtime.block_on(databases.close());
}
