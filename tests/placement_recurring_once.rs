//! Three `stoker` servers on one store, in the run's PostgreSQL placement (shared tables, a
//! schema or a database per workspace): a recurring job every second in each of two
//! workspaces fires exactly once per occurrence, none missed, each in its own workspace.
//! Several processes share a store on PostgreSQL only (a SQLite store belongs to one process,
//! which its lock file enforces), so this runs in the PostgreSQL passes of scripts/test.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::server::Server;
use common::{PATIENCE, backend, wait_for};
use serde_json::{Value, json};

/// How many ticks each workspace's recurring job is watched for.
const TICKS: u64 = 8;
/// Each workspace's ticks sleep their own number of milliseconds, which tells them apart.
const WORKSPACES: [(&str, u64); 2] = [("east", 1), ("west", 2)];

/// The occurrences the ticks of workspace `ws` ran for, in the order they were created, after
/// checking that each tick is that workspace's.
async fn occurrences(server: &Server, ws: &str, ms: u64) -> Vec<DateTime<Utc>> {
    let listed = server
        .get(&format!("/api/workspaces/{ws}/jobs?type=sleep&limit=500"))
        .await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let mut ticks: Vec<Value> = Vec::new();
    for summary in listed.body["jobs"].as_array().unwrap().iter().rev() {
        let id = summary["id"].as_str().unwrap();
        let job = server.get(&format!("/api/workspaces/{ws}/jobs/{id}")).await;
        ticks.push(job.body);
    }
    ticks
        .iter()
        .map(|job| {
            assert_eq!(
                job["args"]["ms"], ms,
                "a tick of another workspace in {ws}: {job}"
            );
            assert_eq!(job["state"], "succeeded", "{job}");
            let created = job["history"].as_array().unwrap().last().unwrap();
            assert_eq!(created["data"]["recurring"], "tick", "{job}");
            created["data"]["occurrence"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

#[actix_rt::test]
#[ignore = "several servers share a store on PostgreSQL only"]
async fn three_servers_fire_each_occurrence_once_in_its_own_workspace() {
    backend::required_postgres_url();
    let dir = tempfile::tempdir().unwrap();
    let storage = backend::storage(dir.path());
    let mut args = vec!["--heartbeat-seconds", "1", "--lease-seconds", "3"];
    for (ws, _) in WORKSPACES {
        args.extend(["--workspace", ws]);
    }
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(Server::start_on(&storage, &args).await);
    }
    for (n, (ws, ms)) in WORKSPACES.into_iter().enumerate() {
        let tick = json!({"type": "sleep", "args": {"ms": ms}, "cron": "* * * * * *",
            "misfire": "strict"});
        let put = servers[n]
            .put(&format!("/api/workspaces/{ws}/recurring/tick"), tick)
            .await;
        assert_eq!(put.status, 200, "{:?}", put.body);
    }
    for (ws, _) in WORKSPACES {
        let stats = format!("/api/workspaces/{ws}/stats");
        let what = format!("{TICKS} ticks of {ws} to succeed");
        wait_for(&what, PATIENCE + Duration::from_secs(TICKS), || async {
            let stats = servers[0].get(&stats).await.body;
            (stats["succeeded"].as_u64().unwrap() >= TICKS).then_some(())
        })
        .await;
    }
    for (n, (ws, _)) in WORKSPACES.into_iter().enumerate() {
        let removed = servers[2 - n]
            .delete(&format!("/api/workspaces/{ws}/recurring/tick"))
            .await;
        assert_eq!(removed.status, 204, "{removed:?}");
    }
    for (ws, _) in WORKSPACES {
        let stats = format!("/api/workspaces/{ws}/stats");
        wait_for("the last ticks to finish", PATIENCE, || async {
            let stats = servers[0].get(&stats).await.body;
            let waiting = ["enqueued", "scheduled", "processing"];
            waiting.iter().all(|state| stats[state] == 0).then_some(())
        })
        .await;
    }

    for (ws, ms) in WORKSPACES {
        let fired = occurrences(&servers[1], ws, ms).await;
        let distinct: BTreeSet<_> = fired.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            fired.len(),
            "{ws}: an occurrence fired twice: {fired:?}"
        );
        assert!(distinct.len() >= TICKS as usize, "{ws}: {fired:?}");
        let first = *distinct.first().unwrap();
        let expected: BTreeSet<_> = (0..distinct.len() as i64)
            .map(|n| first + chrono::Duration::seconds(n))
            .collect();
        assert_eq!(distinct, expected, "{ws}: one tick per second, none missed");
    }
}
