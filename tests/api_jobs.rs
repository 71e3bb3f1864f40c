//! The jobs API of API.md against the real `stoker` binary over HTTP.

mod common;

use common::server::Server;
use serde_json::json;

const JOBS: &str = "/api/workspaces/default/jobs";

#[actix_rt::test]
async fn a_job_that_fails_twice_with_three_retries_succeeds_with_two_failed_attempts() {
    let server = Server::start(&[]).await;
    let created = server
        .post(JOBS, json!({"type": "fail", "args": {"times": 2}, "retry": {"attempts": 3, "delays_seconds": [0]}}))
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["state"], "enqueued");
    let id = created.body["id"]
        .as_str()
        .expect("ids are strings")
        .to_owned();

    let job = server.wait_for_job("default", &id, "succeeded").await;
    assert_eq!(job["attempt"], 3);
    assert_eq!(job["type"], "fail");
    assert_eq!(job["retry"]["attempts"], 3);
    let failures: Vec<_> = job["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["state"] == "failed")
        .collect();
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0]["data"]["attempt"], 2, "newest first");
    assert_eq!(failures[1]["data"]["error"], "failed on purpose");
}

#[actix_rt::test]
async fn jobs_are_listed_filtered_searched_and_paged_newest_first() {
    let server = Server::start(&["--queues", "default"]).await;
    for _ in 0..3 {
        let answer = server
            .post(
                JOBS,
                json!({"type": "sleep", "args": {"ms": 1}, "queue": "default"}),
            )
            .await;
        assert_eq!(answer.status, 201, "{answer:?}");
    }
    let parked = server
        .post(JOBS, json!({"type": "noop", "queue": "parked"}))
        .await;
    let parked_id = parked.body["id"].as_str().unwrap().to_owned();
    let delayed = server
        .post(
            JOBS,
            json!({"type": "sleep", "args": {"ms": 424242}, "delay_seconds": 3600}),
        )
        .await;
    assert_eq!(delayed.body["state"], "scheduled");

    let all = server.get(&format!("{JOBS}?limit=2")).await;
    assert_eq!(all.body["total"], 5);
    let page = all.body["jobs"].as_array().unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["id"], delayed.body["id"], "newest first");
    let second = server.get(&format!("{JOBS}?limit=2&offset=4")).await;
    assert_eq!(second.body["jobs"].as_array().unwrap().len(), 1);

    let by_queue = server.get(&format!("{JOBS}?queue=parked")).await;
    assert_eq!(by_queue.body["total"], 1);
    assert_eq!(by_queue.body["jobs"][0]["id"], parked_id.as_str());
    assert_eq!(
        by_queue.body["jobs"][0]["state"], "enqueued",
        "nobody works `parked`"
    );
    let by_state = server.get(&format!("{JOBS}?state=scheduled")).await;
    assert_eq!(by_state.body["total"], 1);
    let by_type = server.get(&format!("{JOBS}?type=noop")).await;
    assert_eq!(by_type.body["total"], 1);
    let by_args = server.get(&format!("{JOBS}?search=424242")).await;
    assert_eq!(by_args.body["total"], 1, "search matches args text");
    assert_eq!(by_args.body["jobs"][0]["id"], delayed.body["id"]);
    let by_id = server.get(&format!("{JOBS}?search={parked_id}")).await;
    assert!(
        by_id.body["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|job| job["id"] == parked_id.as_str())
    );

    for bad in ["state=running", "limit=0", "limit=501", "nope=1"] {
        let answer = server.get(&format!("{JOBS}?{bad}")).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "bad_request"),
            "{bad}"
        );
    }
}

#[actix_rt::test]
async fn jobs_are_requeued_enqueued_now_and_deleted_or_refused_with_409() {
    let server = Server::start(&[]).await;
    let delayed = server
        .post(JOBS, json!({"type": "noop", "delay_seconds": 3600}))
        .await;
    let id = delayed.body["id"].as_str().unwrap().to_owned();
    let requeue = server
        .post(&format!("{JOBS}/{id}/requeue"), json!({}))
        .await;
    assert_eq!(
        (requeue.status, requeue.body["state"].as_str()),
        (200, Some("enqueued"))
    );
    server.wait_for_job("default", &id, "succeeded").await;

    let again = server
        .post(&format!("{JOBS}/{id}/enqueue"), json!({}))
        .await;
    assert_eq!(
        (again.status, again.code()),
        (409, "conflict"),
        "only scheduled or awaiting jobs"
    );
    let deleted = server.post(&format!("{JOBS}/{id}/delete"), json!({})).await;
    assert_eq!(
        (deleted.status, deleted.body["state"].as_str()),
        (200, Some("deleted"))
    );
    let twice = server.post(&format!("{JOBS}/{id}/delete"), json!({})).await;
    assert_eq!((twice.status, twice.code()), (409, "conflict"));

    let later = server
        .post(
            JOBS,
            json!({"type": "noop", "run_at": "2030-01-01T00:00:00Z"}),
        )
        .await;
    let later_id = later.body["id"].as_str().unwrap().to_owned();
    let now = server
        .post(&format!("{JOBS}/{later_id}/enqueue"), json!({}))
        .await;
    assert_eq!(now.status, 200);
    server.wait_for_job("default", &later_id, "succeeded").await;

    for missing in ["999", "abc"] {
        let answer = server.get(&format!("{JOBS}/{missing}")).await;
        assert_eq!((answer.status, answer.code()), (404, "not_found"));
        let act = server
            .post(&format!("{JOBS}/{missing}/requeue"), json!({}))
            .await;
        assert_eq!((act.status, act.code()), (404, "not_found"));
    }
}

#[actix_rt::test]
async fn a_batch_is_all_or_nothing_and_continuations_follow_their_parent() {
    let server = Server::start(&[]).await;
    let bad = server
        .post(
            &format!("{JOBS}/batch"),
            json!({"jobs": [{"type": "noop"}, {"type": "sleep", "args": {"ms": "long"}}]}),
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_args"));
    assert_eq!(
        server.get(JOBS).await.body["total"],
        0,
        "the good job was not stored either"
    );

    let parent = server
        .post(JOBS, json!({"type": "noop", "delay_seconds": 3600}))
        .await;
    let parent_id = parent.body["id"].as_str().unwrap().to_owned();
    let batch = server
        .post(
            &format!("{JOBS}/batch"),
            json!({"jobs": [
                {"type": "noop", "after": {"job": parent_id}},
                {"type": "noop", "after": {"job": parent_id, "on": "deleted"}}
            ]}),
        )
        .await;
    assert_eq!(batch.status, 201, "{batch:?}");
    let created = batch.body["jobs"].as_array().unwrap();
    assert!(created.iter().all(|job| job["state"] == "awaiting"));
    let child = created[0]["id"].as_str().unwrap();
    let details = server.get(&format!("{JOBS}/{child}")).await;
    assert_eq!(
        details.body["after"],
        json!({"job": parent_id, "on": "succeeded"})
    );

    server
        .post(&format!("{JOBS}/{parent_id}/enqueue"), json!({}))
        .await;
    server.wait_for_job("default", child, "succeeded").await;
    let never = created[1]["id"].as_str().unwrap();
    server.wait_for_job("default", never, "deleted").await;
}

#[actix_rt::test]
async fn bad_job_requests_get_their_codes_and_store_nothing() {
    let server = Server::start(&[]).await;
    let cases = [
        (json!({"type": "nope"}), "unknown_job_type"),
        (
            json!({"type": "sleep", "args": {"ms": "soon"}}),
            "invalid_args",
        ),
        (json!({"type": "sleep", "args": {}}), "invalid_args"),
        (json!({"type": "noop", "args": [1, 2]}), "bad_request"),
        (json!({"type": "noop", "queue": "Bad Queue"}), "bad_request"),
        (json!({"type": "noop", "delay_seconds": -1}), "bad_request"),
        (
            json!({"type": "noop", "delay_seconds": 5, "run_at": "2030-01-01T00:00:00Z"}),
            "bad_request",
        ),
        (
            json!({"type": "noop", "retry": {"attempts": 101}}),
            "bad_request",
        ),
        (json!({"type": "noop", "surprise": true}), "bad_request"),
        (json!({"type": 5}), "bad_request"),
        (json!({"args": {}}), "bad_request"),
        (json!({"type": "noop", "after": {"job": 42}}), "bad_request"),
    ];
    for (body, code) in cases {
        let answer = server.post(JOBS, body.clone()).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, code),
            "{body}: {answer:?}"
        );
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let orphan = server
        .post(JOBS, json!({"type": "noop", "after": {"job": "424242"}}))
        .await;
    assert_eq!((orphan.status, orphan.code()), (404, "not_found"));
    assert_eq!(server.get(JOBS).await.body["total"], 0);
}
