//! Flow control over HTTP, against the `stoker` binary: `priority` and `unique` on `POST
//! /jobs`, in a batch and on recurring jobs; a duplicate answers 200 with the job that holds
//! the key; bad values are refused with 400 and store nothing; the job's page shows both.

mod common;

use common::pages::Pages;
use common::server::Server;
use serde_json::{Value, json};

/// A job of type `sleep` in a queue the server does not work, so that it waits.
fn parked(extra: Value) -> Value {
    let mut job = json!({"type": "sleep", "args": {"ms": 1}, "queue": "parked"});
    job.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    job
}

async fn job_total(server: &Server) -> u64 {
    let listed = server.get("/api/workspaces/default/jobs").await;
    listed.body["total"].as_u64().unwrap()
}

#[actix_rt::test]
async fn a_duplicate_answers_200_with_the_job_that_holds_the_key() {
    let server = Server::start(&[]).await;
    let jobs = "/api/workspaces/default/jobs";
    let job = parked(json!({"priority": 3, "unique": {"key": "<b>report</b>", "scope": "queued"}}));
    let created = server.post(jobs, job.clone()).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["duplicate"], false);
    let id = created.body["id"].as_str().unwrap().to_owned();

    let again = server.post(jobs, job.clone()).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(
        again.body,
        json!({"id": id, "state": "enqueued", "duplicate": true})
    );

    let batch = server
        .post(
            &format!("{jobs}/batch"),
            json!({"jobs": [job, parked(json!({}))]}),
        )
        .await;
    assert_eq!(batch.status, 201, "{:?}", batch.body);
    assert_eq!(batch.body["jobs"][0]["id"], id.as_str());
    assert_eq!(batch.body["jobs"][0]["duplicate"], true);
    assert_eq!(batch.body["jobs"][1]["duplicate"], false);
    assert_eq!(job_total(&server).await, 2);

    let details = server.get(&format!("{jobs}/{id}")).await;
    assert_eq!(details.body["priority"], 3);
    assert_eq!(
        details.body["unique"],
        json!({"key": "<b>report</b>", "scope": "queued", "held": true})
    );
    let page = Pages::new(&server.base)
        .get(&format!("/dashboard/default/jobs/{id}"))
        .await;
    assert!(
        page.html.contains("<dt>Priority</dt><dd>3</dd>"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("&#60;b&#62;report&#60;/b&#62;"),
        "{}",
        page.html
    );
    assert!(page.html.contains("held (scope queued)"), "{}", page.html);
}

#[actix_rt::test]
async fn bad_priorities_and_unique_options_are_refused_and_store_nothing() {
    let server = Server::start(&[]).await;
    let jobs = "/api/workspaces/default/jobs";
    let long_key = "k".repeat(201);
    let refused = [
        (json!({"priority": 10}), "0 to 9"),
        (json!({"priority": -1}), "0 to 9"),
        (json!({"unique": {"scope": "period"}}), "period_seconds"),
        (
            json!({"unique": {"period_seconds": 60}}),
            "scope `period` only",
        ),
        (
            json!({"unique": {"scope": "period", "period_seconds": 0}}),
            "at least a second",
        ),
        (json!({"unique": {"key": ""}}), "1 to 200"),
        (json!({"unique": {"key": long_key}}), "1 to 200"),
        (json!({"unique": {"key": "a\u{0}b"}}), "NUL"),
        (json!({"unique": {"scope": "forever"}}), "forever"),
        (json!({"unique": {"keys": "x"}}), "keys"),
    ];
    for (extra, says) in refused {
        let answer = server.post(jobs, parked(extra.clone())).await;
        assert_eq!(answer.status, 400, "{extra}: {:?}", answer.body);
        assert_eq!(answer.body["error"]["code"], "bad_request", "{extra}");
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{extra}: {message}");
        let batch = json!({"jobs": [parked(json!({})), parked(extra.clone())]});
        let answer = server.post(&format!("{jobs}/batch"), batch).await;
        assert_eq!(answer.status, 400, "{extra} in a batch: {:?}", answer.body);
    }
    assert_eq!(job_total(&server).await, 0);
}

#[actix_rt::test]
async fn a_recurring_job_creates_its_jobs_with_its_priority_and_unique_key() {
    let server = Server::start(&[]).await;
    let recurring = "/api/workspaces/default/recurring/digest";
    let definition = json!({"type": "sleep", "args": {"ms": 1}, "cron": "0 0 1 1 *",
        "queue": "parked", "priority": 7, "unique": {"scope": "queued"}});
    let put = server.put(recurring, definition).await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["priority"], 7);
    assert_eq!(put.body["unique"], json!({"scope": "queued"}));

    let first = server
        .post(&format!("{recurring}/trigger"), json!({}))
        .await;
    assert_eq!(first.status, 202, "{:?}", first.body);
    let second = server
        .post(&format!("{recurring}/trigger"), json!({}))
        .await;
    assert_eq!(second.body["id"], first.body["id"], "the first still waits");
    assert_eq!(job_total(&server).await, 1);
    let id = first.body["id"].as_str().unwrap();
    let job = server
        .get(&format!("/api/workspaces/default/jobs/{id}"))
        .await;
    assert_eq!(job.body["priority"], 7);
    assert_eq!(job.body["unique"]["scope"], "queued");
    assert!(
        job.body["unique"]["key"]
            .as_str()
            .unwrap()
            .starts_with("sleep:")
    );

    let bad = json!({"type": "sleep", "cron": "* * * * *", "priority": 12});
    let refused = server.put(recurring, bad).await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    let kept = server.get(recurring).await;
    assert_eq!(kept.body["priority"], 7, "a refused update changes nothing");
}
