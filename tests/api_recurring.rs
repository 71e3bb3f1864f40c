//! Recurring jobs, the cron preview, workspaces, statistics and servers over HTTP.

mod common;

use common::server::Server;
use serde_json::json;

const RECURRING: &str = "/api/workspaces/default/recurring";

#[actix_rt::test]
async fn recurring_jobs_are_put_listed_triggered_paused_resumed_and_deleted() {
    let server = Server::start(&[]).await;
    let definition = json!({"type": "noop", "cron": "0 2 26 * *", "time_zone": "Europe/Berlin", "misfire": "strict"});
    let put = server
        .put(&format!("{RECURRING}/monthly-rent"), definition)
        .await;
    assert_eq!(put.status, 200, "{put:?}");
    for field in [
        "id",
        "type",
        "args",
        "cron",
        "time_zone",
        "queue",
        "misfire",
        "paused",
        "next_execution",
        "last_execution",
        "last_job_id",
        "last_job_state",
        "error",
        "created_at",
    ] {
        assert!(
            put.body.get(field).is_some(),
            "missing {field}: {}",
            put.body
        );
    }
    assert_eq!(put.body["misfire"], "strict");
    assert_eq!(put.body["queue"], "default");
    assert_eq!(put.body["last_job_id"], serde_json::Value::Null);

    let list = server.get(RECURRING).await;
    assert_eq!(list.body["recurring"].as_array().unwrap().len(), 1);

    let trigger = server
        .post(&format!("{RECURRING}/monthly-rent/trigger"), json!({}))
        .await;
    assert_eq!(trigger.status, 202);
    let job = trigger.body["id"].as_str().unwrap().to_owned();
    server.wait_for_job("default", &job, "succeeded").await;
    let read = server.get(&format!("{RECURRING}/monthly-rent")).await;
    assert_eq!(read.body["last_job_id"], job.as_str());
    assert_eq!(read.body["last_job_state"], "succeeded");

    let paused = server
        .post(&format!("{RECURRING}/monthly-rent/pause"), json!({}))
        .await;
    assert_eq!(
        (paused.status, paused.body["paused"].as_bool()),
        (200, Some(true))
    );
    let resumed = server
        .post(&format!("{RECURRING}/monthly-rent/resume"), json!({}))
        .await;
    assert_eq!(
        (resumed.status, resumed.body["paused"].as_bool()),
        (200, Some(false))
    );

    let stats = server.get("/api/workspaces/default/stats").await;
    assert_eq!(
        (
            stats.body["recurring"].as_u64(),
            stats.body["succeeded"].as_u64()
        ),
        (Some(1), Some(1))
    );

    let deleted = server.delete(&format!("{RECURRING}/monthly-rent")).await;
    assert_eq!(deleted.status, 204);
    let gone = server.get(&format!("{RECURRING}/monthly-rent")).await;
    assert_eq!((gone.status, gone.code()), (404, "not_found"));
    let again = server.delete(&format!("{RECURRING}/monthly-rent")).await;
    assert_eq!((again.status, again.code()), (404, "not_found"));
}

#[actix_rt::test]
async fn bad_recurring_definitions_get_their_codes() {
    let server = Server::start(&[]).await;
    let cases = [
        (
            "r",
            json!({"type": "noop", "cron": "61 * * * *"}),
            "invalid_cron",
        ),
        (
            "r",
            json!({"type": "noop", "cron": "* * * * *", "time_zone": "Mars/Base"}),
            "unknown_time_zone",
        ),
        (
            "r",
            json!({"type": "nope", "cron": "* * * * *"}),
            "unknown_job_type",
        ),
        (
            "r",
            json!({"type": "sleep", "cron": "* * * * *"}),
            "invalid_args",
        ),
        (
            "r",
            json!({"type": "noop", "cron": "* * * * *", "misfire": "sometimes"}),
            "bad_request",
        ),
        (
            "bad%20id",
            json!({"type": "noop", "cron": "* * * * *"}),
            "bad_request",
        ),
    ];
    for (id, body, code) in cases {
        let answer = server.put(&format!("{RECURRING}/{id}"), body.clone()).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, code),
            "{body}: {answer:?}"
        );
    }
    let message = server
        .put(
            &format!("{RECURRING}/r"),
            json!({"type": "noop", "cron": "61 * * * *"}),
        )
        .await;
    let text = message.body["error"]["message"].as_str().unwrap();
    assert!(
        text.contains("minute field"),
        "the message names the bad part: {text}"
    );
    assert_eq!(server.get(RECURRING).await.body["recurring"], json!([]));
}

#[actix_rt::test]
async fn the_cron_preview_lists_occurrences_as_utc_times() {
    let server = Server::start(&[]).await;
    let berlin = server
        .get("/api/cron/next?expression=0%202%20*%20*%20*&time_zone=Europe/Berlin&after=2026-03-28T12:00:00Z&count=2")
        .await;
    assert_eq!(
        berlin.body,
        json!({"occurrences": ["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"]})
    );
    let default_count = server.get("/api/cron/next?expression=@hourly").await;
    assert_eq!(
        default_count.body["occurrences"].as_array().unwrap().len(),
        5
    );
    let bad = server.get("/api/cron/next?expression=bad").await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_cron"));
    let zone = server
        .get("/api/cron/next?expression=@daily&time_zone=Nowhere")
        .await;
    assert_eq!((zone.status, zone.code()), (400, "unknown_time_zone"));
    let count = server
        .get("/api/cron/next?expression=@daily&count=101")
        .await;
    assert_eq!((count.status, count.code()), (400, "bad_request"));
}

#[actix_rt::test]
async fn workspaces_are_created_once_and_report_stats_history_and_servers() {
    let server = Server::start(&["--workspace", "acme"]).await;
    let created = server
        .post("/api/workspaces", json!({"name": "globex"}))
        .await;
    assert_eq!(
        (created.status, created.body.clone()),
        (201, json!({"name": "globex"}))
    );
    let twice = server
        .post("/api/workspaces", json!({"name": "globex"}))
        .await;
    assert_eq!((twice.status, twice.code()), (409, "conflict"));
    let bad = server
        .post("/api/workspaces", json!({"name": "../x"}))
        .await;
    assert_eq!((bad.status, bad.code()), (400, "bad_request"));
    let list = server.get("/api/workspaces").await;
    assert_eq!(
        list.body,
        json!({"workspaces": [{"name": "acme"}, {"name": "globex"}]})
    );
    let missing = server.get("/api/workspaces/initech/stats").await;
    assert_eq!((missing.status, missing.code()), (404, "not_found"));

    let job = server
        .post("/api/workspaces/globex/jobs", json!({"type": "noop"}))
        .await;
    server
        .wait_for_job("globex", job.body["id"].as_str().unwrap(), "succeeded")
        .await;
    let stats = server.get("/api/workspaces/globex/stats").await;
    assert_eq!(stats.body["succeeded"], 1);
    assert_eq!(
        stats.body["queues"],
        json!([{"name": "default", "enqueued": 0, "processing": 0}])
    );
    let hours = server
        .get("/api/workspaces/globex/history?granularity=hour")
        .await;
    let points = hours.body["points"].as_array().unwrap();
    assert_eq!(points.len(), 24);
    assert_eq!(points.last().unwrap()["succeeded"], 1, "this hour");
    let days = server
        .get("/api/workspaces/globex/history?granularity=day")
        .await;
    assert_eq!(days.body["points"].as_array().unwrap().len(), 30);
    let bad_granularity = server
        .get("/api/workspaces/globex/history?granularity=week")
        .await;
    assert_eq!(bad_granularity.status, 400);
    let servers = server.get("/api/workspaces/globex/servers").await;
    let listed = servers.body["servers"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["queues"], json!(["default"]));
}
