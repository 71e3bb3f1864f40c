//! Rounds of SIGKILL at random moments. Each round starts a `stoker serve` on the same
//! storage, enqueues jobs while earlier rounds' jobs are still waiting, and kills the server
//! once a random number of further jobs succeeded. A last server finishes: every accepted job
//! ends `succeeded`, and every extra attempt of a job is a recovery from a killed server (the
//! job was in flight there: running, or finished with its outcome not yet stored).
//!
//! `STOKER_FAULT_ROUNDS` sets the number of rounds (default 5); `scripts/fault-rounds` runs
//! many more.

mod common;

use common::backend;
use common::server::Server;
use common::{PATIENCE, wait_for};
use rand::Rng;
use serde_json::{Value, json};

const WS: &str = "default";
const JOBS_PER_ROUND: u64 = 100;
/// Short, so that on PostgreSQL the next server takes back a killed one's jobs soon.
const SERVER_ARGS: [&str; 6] = [
    "--workers",
    "8",
    "--heartbeat-seconds",
    "1",
    "--lease-seconds",
    "2",
];

fn rounds() -> u64 {
    std::env::var("STOKER_FAULT_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(5)
}

/// Jobs succeeded so far in the workspace (all-time).
async fn succeeded(server: &Server) -> u64 {
    let stats = server.get(&format!("/api/workspaces/{WS}/stats")).await;
    stats.body["succeeded"].as_u64().unwrap_or(0)
}

/// Enqueues a round's jobs, each sleeping a random few milliseconds.
async fn accept_round(server: &Server, rng: &mut impl Rng) {
    let jobs: Vec<Value> = (0..JOBS_PER_ROUND)
        .map(|_| json!({"type": "sleep", "args": {"ms": rng.random_range(0..30)}}))
        .collect();
    server.enqueue_batch(WS, jobs).await;
}

/// A job that ran more than once: its id, attempts, and the reasons it went back to its queue.
struct Rerun {
    id: String,
    attempts: u64,
    reasons: Vec<String>,
}

/// Every job of the workspace that ran more than once.
async fn rerun_jobs(server: &Server, count: u64) -> Vec<Rerun> {
    let mut reruns = Vec::new();
    for offset in (0..count).step_by(500) {
        let page = server
            .get(&format!(
                "/api/workspaces/{WS}/jobs?limit=500&offset={offset}"
            ))
            .await;
        for job in page.body["jobs"].as_array().unwrap() {
            let attempts = job["attempt"].as_u64().unwrap();
            if attempts > 1 {
                let id = job["id"].as_str().unwrap().to_owned();
                let details = server.get(&format!("/api/workspaces/{WS}/jobs/{id}")).await;
                let reasons = details.body["history"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|entry| entry["state"] == "enqueued")
                    .filter_map(|entry| entry["reason"].as_str().map(str::to_owned))
                    .collect();
                reruns.push(Rerun {
                    id,
                    attempts,
                    reasons,
                });
            }
        }
    }
    reruns
}

#[actix_rt::test]
async fn every_accepted_job_survives_rounds_of_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let storage = backend::storage(dir.path());
    let mut rng = rand::rng();
    let rounds = rounds();
    let mut killed = Vec::new();
    for _ in 0..rounds {
        let mut server = Server::start_on(&storage, &SERVER_ARGS).await;
        let before = succeeded(&server).await;
        accept_round(&server, &mut rng).await;
        let moment = before + rng.random_range(1..JOBS_PER_ROUND);
        wait_for("the moment to kill", PATIENCE, || async {
            (succeeded(&server).await >= moment).then_some(())
        })
        .await;
        killed.push(format!(":{}:", server.pid()));
        server.kill();
    }

    let accepted = rounds * JOBS_PER_ROUND;
    let server = Server::start_on(&storage, &SERVER_ARGS).await;
    server.wait_for_all_succeeded(WS, accepted).await;

    for rerun in rerun_jobs(&server, accepted).await {
        let recovered_from_a_kill = |reason: &String| {
            reason.contains("stopped during attempt")
                && killed.iter().any(|server| reason.contains(server.as_str()))
        };
        assert!(
            rerun.reasons.len() as u64 == rerun.attempts - 1
                && rerun.reasons.iter().all(recovered_from_a_kill),
            "job {}: an attempt that no kill explains: {:?}",
            rerun.id,
            rerun.reasons
        );
    }
}
