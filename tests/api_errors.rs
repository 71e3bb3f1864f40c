//! Bad input over HTTP never yields a 500: malformed JSON, wrong types, huge bodies, unknown
//! routes all get API.md's error body with a stable code.

mod common;

use common::server::{Answer, Server};
use serde_json::{Value, json};

const JOBS: &str = "/api/workspaces/default/jobs";

/// The longest delay API.md allows (10 years), in seconds.
const TEN_YEARS: u64 = 3653 * 24 * 3600;

/// Asserts that `answer` is 400 `bad_request` with a message that names `field`.
fn assert_refused(answer: &Answer, field: &str, input: &str) {
    assert_eq!(
        (answer.status, answer.code()),
        (400, "bad_request"),
        "{input}: {}",
        answer.body
    );
    let message = answer.body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains(field), "{input}: {message}");
}

/// A `noop` job with `options` besides its type.
fn noop_with(options: Value) -> Value {
    let mut job = json!({"type": "noop"});
    job.as_object_mut()
        .unwrap()
        .extend(options.as_object().unwrap().clone());
    job
}

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
    assert!(message.ends_with("use GET, POST"), "{message}");
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

#[actix_rt::test]
async fn delays_and_start_times_outside_the_bounds_are_refused_and_nothing_is_stored() {
    let server = Server::start(&[]).await;
    let retry_delay = |seconds: u64| json!({"retry": {"attempts": 1, "delays_seconds": [seconds]}});
    let refused = [
        ("delay_seconds", json!({"delay_seconds": 1e17})),
        ("delay_seconds", json!({"delay_seconds": TEN_YEARS + 1})),
        ("delay_seconds", json!({"delay_seconds": -1})),
        ("run_at", json!({"run_at": "+10000-01-01T00:00:00Z"})),
        ("run_at", json!({"run_at": "+262142-01-01T00:00:00Z"})),
        ("run_at", json!({"run_at": "1969-12-31T23:59:59Z"})),
        ("retry delay", retry_delay(u64::MAX)),
        ("retry delay", retry_delay(TEN_YEARS + 1)),
    ];
    for (field, options) in refused {
        let job = noop_with(options);
        let alone = server.post(JOBS, job.clone()).await;
        assert_refused(&alone, field, &job.to_string());
        let batch = json!({"jobs": [{"type": "noop"}, job]});
        let together = server.post(&format!("{JOBS}/batch"), batch.clone()).await;
        assert_refused(&together, field, &batch.to_string());
    }
    assert_eq!(
        server.get(JOBS).await.body["total"],
        0,
        "nothing was stored"
    );

    for options in [
        json!({"delay_seconds": TEN_YEARS}),
        json!({"run_at": "9999-12-31T23:59:59.999Z"}),
        retry_delay(TEN_YEARS),
    ] {
        let job = noop_with(options);
        let created = server.post(JOBS, job.clone()).await;
        assert_eq!(created.status, 201, "{job}: {}", created.body);
    }
}

#[actix_rt::test]
async fn an_offset_over_a_million_is_refused() {
    let server = Server::start(&[]).await;
    for offset in ["1000001", "9223372036854775808", "18446744073709551615"] {
        let answer = server.get(&format!("{JOBS}?offset={offset}")).await;
        assert_refused(&answer, "offset", offset);
    }
    let beyond_any_integer = server
        .get(&format!("{JOBS}?offset=1{}", "0".repeat(30)))
        .await;
    assert_eq!(
        (beyond_any_integer.status, beyond_any_integer.code()),
        (400, "bad_request")
    );
    let deepest = server.get(&format!("{JOBS}?offset=1000000")).await;
    assert_eq!(deepest.status, 200, "{}", deepest.body);
}

#[actix_rt::test]
async fn a_cron_preview_after_a_time_outside_1970_to_9999_is_refused() {
    let server = Server::start(&[]).await;
    let preview = |after: &str| {
        let after = after.replace('+', "%2B");
        format!("/api/cron/next?expression=0%20*%20*%20*%20*&after={after}")
    };
    for after in [
        "+262142-01-01T00:00:00Z",
        "+10000-01-01T00:00:00Z",
        "1969-12-31T23:00:00Z",
    ] {
        assert_refused(&server.get(&preview(after)).await, "after", after);
    }
    let last = server.get(&preview("9999-12-31T22:30:00Z")).await;
    assert_eq!(last.status, 200, "the last accepted time: {}", last.body);
    let first = server.get(&preview("1970-01-01T00:00:00Z")).await;
    assert_eq!(first.body["occurrences"][0], "1970-01-01T01:00:00Z");
}
