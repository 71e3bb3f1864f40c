//! `stoker serve --retention-hours H --failed-retention-days D`: how long finished jobs are
//! kept, succeeded and deleted ones apart from failed ones; values past ten years are refused.

mod common;

use std::process::Command;

use common::server::Server;
use common::{PATIENCE, wait_for};
use serde_json::json;

async fn expired(server: &Server, id: &str) {
    wait_for("the job to expire", PATIENCE, || async {
        let answer = server
            .get(&format!("/api/workspaces/default/jobs/{id}"))
            .await;
        (answer.status == 404).then_some(())
    })
    .await;
}

async fn enqueue(server: &Server, job: serde_json::Value) -> String {
    let answer = server.post("/api/workspaces/default/jobs", job).await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    answer.body["id"].as_str().unwrap().to_owned()
}

/// A server with `flag` 0 and a job of each kind: the `expiring` one (index 0 succeeded, 1
/// failed) goes, the other stays, since it has a retention of its own.
async fn only_one_kind_expires(flag: &str, expiring: usize, kept_for: &str) {
    let server = Server::start(&[flag, "0", "--heartbeat-seconds", "1"]).await;
    let succeeded = enqueue(&server, json!({"type": "noop"})).await;
    let failed = enqueue(&server, json!({"type": "fail", "retry": {"attempts": 0}})).await;
    let jobs = [(succeeded, "succeeded"), (failed, "failed")];
    let (gone, (kept, kept_state)) = (&jobs[expiring].0, &jobs[1 - expiring]);
    server.wait_for_job("default", kept, kept_state).await;

    expired(&server, gone).await;
    let answer = server
        .get(&format!("/api/workspaces/default/jobs/{kept}"))
        .await;
    assert_eq!(answer.status, 200, "{kept_state} jobs are kept {kept_for}");
}

#[actix_rt::test]
async fn failed_jobs_are_kept_by_their_own_retention() {
    only_one_kind_expires("--failed-retention-days", 1, "a day").await;
}

#[actix_rt::test]
async fn succeeded_jobs_are_kept_by_the_retention_in_hours() {
    only_one_kind_expires("--retention-hours", 0, "a week").await;
}

#[test]
fn a_retention_past_ten_years_stops_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_stoker"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--retention-hours",
            "99999999",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--retention-hours"), "{stderr}");
}
