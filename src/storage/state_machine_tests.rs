//! A property test of the job state machine as storage enforces it: random sequences of
//! enqueues, claims by two servers, completions (also late ones, from a server that crashed or
//! whose job a person deleted), crashes with lease recovery, promotions and a person's moves.
//! After every step each job is where a simple model says, and its history holds only moves
//! the design allows: no sequence loses a job or moves it along a forbidden edge.
//!
//! Runs on SQLite, or on PostgreSQL when `STOKER_TEST_DATABASE_URL` names one (the suite's
//! second pass). `PROPTEST_CASES` sets the number of sequences.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{
    Action, ClaimFloors, Completion, Databases, NewJobRow, ServerRow, Storage, StorageConfig,
    complete::AfterFailed, due, upkeep,
};
use crate::name::WorkspaceName;
use crate::state::JobState;

const SERVERS: usize = 2;
const LEASE: i64 = 1_000;
/// Delayed jobs and retries fall due this long after they are stored.
const DUE_AFTER: i64 = 10;

/// One thing that can happen to the jobs of a sequence.
#[derive(Clone, Debug)]
enum Step {
    Enqueue {
        delayed: bool,
        retries: i32,
    },
    Claim {
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
    Promote,
    Person {
        pick: usize,
        action: Action,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let server = 0..SERVERS;
    let action = prop_oneof![
        Just(Action::Requeue),
        Just(Action::Delete),
        Just(Action::EnqueueNow)
    ];
    prop_oneof![
        3 => (any::<bool>(), 0..3i32).prop_map(|(delayed, retries)| Step::Enqueue { delayed, retries }),
        3 => (server.clone(), 1..4usize).prop_map(|(server, limit)| Step::Claim { server, limit }),
        4 => (server.clone(), 0..4usize, any::<bool>())
            .prop_map(|(server, pick, ok)| Step::Finish { server, pick, ok }),
        1 => server.prop_map(|server| Step::Crash { server }),
        1 => Just(Step::Promote),
        2 => (0..12usize, action).prop_map(|(pick, action)| Step::Person { pick, action }),
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

/// A server as the model sees it: its current id (a new one after each crash) and the jobs
/// it believes it runs, which may have been taken from it since.
struct Server {
    case: usize,
    index: usize,
    generation: u32,
    held: Vec<(i64, String)>,
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
    storage: &'a Storage,
    queue: String,
    now: i64,
    jobs: BTreeMap<i64, Expected>,
    servers: Vec<Server>,
}

impl Sequence<'_> {
    async fn run(&mut self, step: &Step) {
        self.now += 1;
        match *step {
            Step::Enqueue { delayed, retries } => self.enqueue(delayed, retries).await,
            Step::Claim { server, limit } => self.claim(server, limit).await,
            Step::Finish { server, pick, ok } => self.finish(server, pick, ok).await,
            Step::Crash { server } => self.crash(server).await,
            Step::Promote => self.promote().await,
            Step::Person { pick, action } => self.person(pick, action).await,
        }
    }

    async fn enqueue(&mut self, delayed: bool, retries: i32) {
        let run_at = delayed.then_some(self.now + DUE_AFTER);
        let row = NewJobRow {
            job_type: "model".into(),
            queue: self.queue.clone(),
            args: "{}".into(),
            max_retries: retries,
            retry_delays: None,
            on_exhausted: JobState::Failed,
            run_at,
            parent: None,
            reason: None,
            data: None,
        };
        let created = self.storage.insert_jobs(vec![row], self.now).await.unwrap();
        let state = if delayed {
            JobState::Scheduled
        } else {
            JobState::Enqueued
        };
        assert_eq!(created[0].1, state);
        let expected = Expected {
            state,
            attempt: 0,
            retries,
            owner: None,
            run_at,
        };
        self.jobs.insert(created[0].0, expected);
    }

    async fn claim(&mut self, server: usize, limit: usize) {
        let owner = self.servers[server].id();
        let queues = [self.queue.clone()];
        let lease_until = self.now + LEASE;
        // From the start of the queue every time, as the model's oldest-first expects.
        let fresh = ClaimFloors::default();
        let claimed = self
            .storage
            .claim(&queues, limit, &fresh, &owner, self.now, lease_until)
            .await
            .unwrap();
        let ids: Vec<i64> = claimed.iter().map(|job| job.id).collect();
        let oldest: Vec<i64> = self
            .jobs
            .iter()
            .filter(|(_, job)| job.state == JobState::Enqueued)
            .map(|(id, _)| *id)
            .take(limit)
            .collect();
        assert_eq!(ids, oldest, "a claim takes the oldest enqueued jobs");
        for job in claimed {
            let expected = self.jobs.get_mut(&job.id).unwrap();
            expected.state = JobState::Processing;
            expected.attempt += 1;
            expected.owner = Some(owner.clone());
            assert_eq!(job.attempt as u32, expected.attempt);
            self.servers[server].held.push((job.id, owner.clone()));
        }
    }

    async fn finish(&mut self, server: usize, pick: usize, ok: bool) {
        let held = &mut self.servers[server].held;
        if held.is_empty() {
            return;
        }
        let (id, owner) = held.remove(pick % held.len());
        let expected = self.jobs.get_mut(&id).unwrap();
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
        self.storage
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
            let txn = self.storage.write().await.unwrap();
            upkeep::heartbeat(&txn, &row, self.now, lease_until)
                .await
                .unwrap();
            txn.commit().await.unwrap();
        }
        self.storage
            .recover_abandoned(self.now, self.now)
            .await
            .unwrap();
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

    async fn promote(&mut self) {
        self.now += DUE_AFTER;
        let txn = self.storage.write().await.unwrap();
        due::promote(&txn, self.now).await.unwrap();
        txn.commit().await.unwrap();
        for job in self.jobs.values_mut() {
            if job.state == JobState::Scheduled && job.run_at <= Some(self.now) {
                job.state = JobState::Enqueued;
            }
        }
    }

    async fn person(&mut self, pick: usize, action: Action) {
        let count = self.jobs.len().max(1);
        let Some((&id, expected)) = self.jobs.iter_mut().nth(pick % count) else {
            return;
        };
        self.storage.apply(id, action, self.now).await.unwrap();
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
        for (&id, expected) in &self.jobs {
            let job = self.storage.job(id).await.unwrap();
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

/// The storage the property runs on: SQLite in `dir`, or the suite's PostgreSQL.
fn storage_config(dir: &std::path::Path) -> StorageConfig {
    match std::env::var("STOKER_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => StorageConfig::postgres(url),
        _ => StorageConfig::sqlite(dir),
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
    let name = WorkspaceName::new(&format!("state_machine_{}", std::process::id())).unwrap();
    let storage = runtime.block_on(databases.open(&name)).unwrap();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(32);
    let cases_run = std::cell::Cell::new(0);
    proptest!(ProptestConfig::with_cases(cases), |(steps in proptest::collection::vec(step(), 1..40))| {
        // Cases share the workspace: each has its own queue, server ids and span of time.
        let case = cases_run.get() + 1;
        cases_run.set(case);
        let servers = (0..SERVERS).map(|index| Server { case, index, generation: 0, held: Vec::new() });
        let mut sequence = Sequence {
            storage: &storage,
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
