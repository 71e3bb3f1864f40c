//! Bad input over HTTP never yields a 500: malformed JSON, wrong types, huge bodies, unknown
//! routes all get API.md's error body with a stable code.

mod common;

use common::server::Server;
use serde_json::json;

const JOBS: &str = "/api/workspaces/default/jobs";

#[actix_rt::test]
async fn malformed_oversized_and_misrouted_requests_get_clear_errors() {
    let server = Server::start(&[]).await;
    let malformed = server
        .post_raw(JOBS, b"{\"type\": ".to_vec(), "application/json")
        .await;
    assert_eq!((malformed.status, malformed.code()), (400, "bad_request"));
    let not_json = server
        .post_raw(
            JOBS,
            b"type=noop".to_vec(),
            "application/x-www-form-urlencoded",
        )
        .await;
    assert_eq!((not_json.status, not_json.code()), (400, "bad_request"));

    let huge = json!({"type": "noop", "args": {"blob": "x".repeat(2 * 1024 * 1024)}}).to_string();
    let too_large = server
        .post_raw(JOBS, huge.into_bytes(), "application/json")
        .await;
    assert_eq!(
        (too_large.status, too_large.code()),
        (413, "payload_too_large")
    );

    let unknown = server.get("/api/nothing/here").await;
    assert_eq!((unknown.status, unknown.code()), (404, "not_found"));
    let wrong_method = server.send_with("PATCH", JOBS, &json!({}), &[]).await;
    assert_eq!(
        (wrong_method.status, wrong_method.code()),
        (405, "method_not_allowed")
    );
    let message = wrong_method.body["error"]["message"].as_str().unwrap();
    assert!(message.ends_with("use POST, GET"), "{message}");
    let bad_filter = server.get(&format!("{JOBS}?queue=Not%20A%20Queue")).await;
    assert_eq!((bad_filter.status, bad_filter.code()), (400, "bad_request"));
    let bad_workspace = server
        .post("/api/workspaces/Bad..Name/jobs", json!({"type": "noop"}))
        .await;
    assert_eq!(
        (bad_workspace.status, bad_workspace.code()),
        (400, "bad_request")
    );
    let missing_workspace = server
        .post("/api/workspaces/ghost/jobs", json!({"type": "noop"}))
        .await;
    assert_eq!(
        (missing_workspace.status, missing_workspace.code()),
        (404, "not_found")
    );

    let long = "w".repeat(5000);
    for path in [
        "/api/workspaces/../jobs".to_owned(),
        "/api/workspaces/%2E%2E/jobs".to_owned(),
        "/api/workspaces/a%00b/jobs".to_owned(),
        "/api/workspaces/default/jobs/%00".to_owned(),
        "/api/workspaces/default/recurring/%00".to_owned(),
        format!("/api/workspaces/{long}/jobs"),
        format!("/api/workspaces/default/jobs/{long}"),
        format!("/api/workspaces/default/recurring/{long}"),
    ] {
        let answer = server.get(&path).await;
        assert!(
            matches!(answer.status, 400 | 404),
            "{path}: {} {}",
            answer.status,
            answer.body
        );
        assert!(!answer.code().is_empty(), "{path}: an error body");
    }

    assert_eq!(server.get("/healthz").await.body, json!({"status": "ok"}));
    assert_eq!(
        server.get(JOBS).await.body["total"],
        0,
        "nothing was stored"
    );
}

#[actix_rt::test]
async fn the_openapi_description_covers_every_endpoint() {
    let server = Server::start(&[]).await;
    let document = server.get("/api/openapi.json").await;
    assert_eq!(document.status, 200);
    assert!(document.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document.body["paths"].as_object().unwrap();
    let expected = [
        ("/healthz", "get"),
        ("/api/cron/next", "get"),
        ("/api/workspaces", "get"),
        ("/api/workspaces", "post"),
        ("/api/workspaces/{ws}/jobs", "post"),
        ("/api/workspaces/{ws}/jobs", "get"),
        ("/api/workspaces/{ws}/jobs/batch", "post"),
        ("/api/workspaces/{ws}/jobs/{id}", "get"),
        ("/api/workspaces/{ws}/jobs/{id}/requeue", "post"),
        ("/api/workspaces/{ws}/jobs/{id}/enqueue", "post"),
        ("/api/workspaces/{ws}/jobs/{id}/delete", "post"),
        ("/api/workspaces/{ws}/recurring", "get"),
        ("/api/workspaces/{ws}/recurring/{rid}", "put"),
        ("/api/workspaces/{ws}/recurring/{rid}", "get"),
        ("/api/workspaces/{ws}/recurring/{rid}", "delete"),
        ("/api/workspaces/{ws}/recurring/{rid}/trigger", "post"),
        ("/api/workspaces/{ws}/recurring/{rid}/pause", "post"),
        ("/api/workspaces/{ws}/recurring/{rid}/resume", "post"),
        ("/api/workspaces/{ws}/stats", "get"),
        ("/api/workspaces/{ws}/history", "get"),
        ("/api/workspaces/{ws}/servers", "get"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not described"
        );
    }
    let schemas = document.body["components"]["schemas"].as_object().unwrap();
    for schema in [
        "JobRequest",
        "JobDetails",
        "RecurringJob",
        "Stats",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(schema), "no schema {schema}");
    }
}
