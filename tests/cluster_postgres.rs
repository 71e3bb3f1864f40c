//! Three `stoker` processes on one PostgreSQL database: they share 20,000 jobs while one of
//! them is killed with SIGKILL, and a recurring job every second fires once per occurrence
//! across them for 30 seconds. Skipped (with a note) when no PostgreSQL is configured.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::server::Server;
use common::{backend, wait_for};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::json;
use stoker::StorageConfig;

const JOBS: usize = 20_000;
const BATCH: usize = 1_000;
const WORKERS: &str = "20";
/// How long the recurring job is watched.
const TICKING: Duration = Duration::from_secs(30);
const WS: &str = "cluster";
const UNFINISHED: &str = "SELECT count(*) FROM jobs WHERE state <> 'succeeded'";

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    rows(db, sql).await[0].try_get_by_index(0).unwrap()
}

#[actix_rt::test]
#[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
async fn three_servers_share_the_work_survive_a_kill_and_fire_each_tick_once() {
    let url = backend::required_postgres_url();
    let url = backend::fresh_database(&url);
    let args = [
        "--workspace",
        WS,
        "--workers",
        WORKERS,
        "--heartbeat-seconds",
        "1",
        "--lease-seconds",
        "3",
    ];
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(Server::start_on_postgres(&url, &args).await);
    }
    let jobs = format!("/api/workspaces/{WS}/jobs/batch");
    let tick = json!({"type": "noop", "args": {}, "cron": "* * * * * *", "misfire": "strict"});
    let put = servers[0]
        .put(&format!("/api/workspaces/{WS}/recurring/tick"), tick)
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let ticking_since = Instant::now();

    for batch in 0..JOBS / BATCH {
        let job = json!({"type": "sleep", "args": {"ms": 5}});
        let body = json!({ "jobs": vec![job; BATCH] });
        let answer = servers[batch % 3].post(&jobs, body).await;
        assert_eq!(answer.status, 201, "{:?}", answer.body);
    }
    let db = backend::connect(&StorageConfig::postgres(&url), WS).await;
    let succeeded = "SELECT count(*) FROM jobs WHERE state = 'succeeded' AND job_type = 'sleep'";
    wait_for(
        "a quarter of the jobs to succeed",
        common::PATIENCE,
        || async { (count(&db, succeeded).await >= (JOBS / 4) as i64).then_some(()) },
    )
    .await;
    let victim = servers[1].pid();
    servers[1].kill();

    let patience = TICKING + Duration::from_secs(60);
    wait_for("every job to succeed", patience, || async {
        let unfinished = count(&db, UNFINISHED).await;
        let done = count(&db, succeeded).await == JOBS as i64;
        (done && unfinished == 0 && ticking_since.elapsed() >= TICKING).then_some(())
    })
    .await;
    let removed = servers[0]
        .delete(&format!("/api/workspaces/{WS}/recurring/tick"))
        .await;
    assert_eq!(removed.status, 204);
    wait_for("the last ticks to succeed", common::PATIENCE, || async {
        let unfinished = count(&db, UNFINISHED).await;
        (unfinished == 0).then_some(())
    })
    .await;

    // At least once: only jobs the killed server had in flight ran twice. In flight means
    // claimed and not yet stored as finished: running, or run with the outcome still in the
    // completer's batch.
    let reruns = rows(
        &db,
        "SELECT h.job_id, bool_or(h.state = 'enqueued' AND h.reason LIKE 'abandoned: server %') \
         FROM job_history h GROUP BY h.job_id \
         HAVING count(*) FILTER (WHERE h.state = 'processing') > 1",
    )
    .await;
    for row in &reruns {
        let (job, abandoned): (i64, bool) = (
            row.try_get_by_index(0).unwrap(),
            row.try_get_by_index(1).unwrap(),
        );
        assert!(
            abandoned,
            "job {job} ran twice though no server died running it"
        );
    }
    let killed = format!(
        "SELECT count(*) FROM job_history WHERE reason LIKE 'abandoned: server %:{victim}:%'"
    );
    assert_eq!(
        count(&db, &killed).await,
        reruns.len() as i64,
        "the reruns were the killed server's"
    );

    // Exactly once per occurrence, none missed, for the whole 30 seconds.
    let occurrences: Vec<DateTime<Utc>> = rows(
        &db,
        "SELECT data FROM job_history WHERE data LIKE '%\"occurrence\"%' ORDER BY id",
    )
    .await
    .iter()
    .map(|row| {
        let data: String = row.try_get_by_index(0).unwrap();
        let data: serde_json::Value = serde_json::from_str(&data).unwrap();
        data["occurrence"].as_str().unwrap().parse().unwrap()
    })
    .collect();
    let distinct: BTreeSet<_> = occurrences.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        occurrences.len(),
        "an occurrence fired twice"
    );
    assert!(
        distinct.len() >= TICKING.as_secs() as usize - 1,
        "{} ticks",
        distinct.len()
    );
    let first = *distinct.first().unwrap();
    let expected: BTreeSet<_> = (0..distinct.len() as i64)
        .map(|n| first + chrono::Duration::seconds(n))
        .collect();
    assert_eq!(distinct, expected, "one tick per second, none missed");
}
