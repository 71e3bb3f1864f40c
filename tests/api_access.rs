//! Access over HTTP: tokens scoped to a workspace or all, 401 against 403, read-only servers,
//! and loopback-only serving when no token is configured. Tokens are long enough to resist
//! guessing, and base64 ones ending in `=` work.

mod common;

use actix_web::{App, test};
use common::server::Server;
use common::{Runs, builder};
use serde_json::json;
use stoker::web::{Access, api};

const ALPHA: &str = "alpha-0123456789abcdef";
const ROOT: &str = "root-0123456789abcdef";

#[actix_rt::test]
async fn tokens_reach_their_workspace_and_no_other() {
    let server = Server::start(&[
        "--workspace",
        "a",
        "--workspace",
        "b",
        "--token",
        &format!("a={ALPHA}"),
        "--token",
        ROOT,
    ])
    .await;
    let stats = "/api/workspaces/a/stats";

    let none = server.get(stats).await;
    assert_eq!((none.status, none.code()), (401, "unauthorized"));
    let wrong = server
        .get_with(stats, &[("authorization", "Bearer nope")])
        .await;
    assert_eq!((wrong.status, wrong.code()), (401, "unauthorized"));

    let alpha_header = format!("Bearer {ALPHA}");
    let alpha = [("authorization", alpha_header.as_str())];
    assert_eq!(server.get_with(stats, &alpha).await.status, 200);
    let other = server.get_with("/api/workspaces/b/stats", &alpha).await;
    assert_eq!((other.status, other.code()), (403, "forbidden"));
    let write_other = server
        .send_with(
            "POST",
            "/api/workspaces/b/jobs",
            &json!({"type": "noop"}),
            &alpha,
        )
        .await;
    assert_eq!((write_other.status, write_other.code()), (403, "forbidden"));
    let listed = server.get_with("/api/workspaces", &alpha).await;
    assert_eq!(
        listed.body,
        json!({"workspaces": [{"name": "a"}]}),
        "only what the token reaches"
    );

    let root_header = format!("Bearer {ROOT}");
    let root = [("authorization", root_header.as_str())];
    let all = server.get_with("/api/workspaces", &root).await;
    assert_eq!(all.body["workspaces"].as_array().unwrap().len(), 2);
    let created = server
        .send_with(
            "POST",
            "/api/workspaces/b/jobs",
            &json!({"type": "noop"}),
            &root,
        )
        .await;
    assert_eq!(created.status, 201);
}

#[actix_rt::test]
async fn a_read_only_server_answers_reads_and_refuses_writes() {
    let server = Server::start(&["--read-only"]).await;
    assert_eq!(
        server.get("/api/workspaces/default/stats").await.status,
        200
    );
    let writes = [
        (
            "POST",
            "/api/workspaces/default/jobs",
            json!({"type": "noop"}),
        ),
        ("POST", "/api/workspaces", json!({"name": "new"})),
        (
            "PUT",
            "/api/workspaces/default/recurring/r",
            json!({"type": "noop", "cron": "@daily"}),
        ),
        ("POST", "/api/workspaces/default/jobs/1/delete", json!({})),
    ];
    for (method, path, body) in writes {
        let answer = server.send_with(method, path, &body, &[]).await;
        assert_eq!(
            (answer.status, answer.code()),
            (403, "forbidden"),
            "{method} {path}"
        );
    }
    assert_eq!(
        server.get("/api/workspaces/default/jobs").await.body["total"],
        0
    );
}

#[actix_rt::test]
async fn without_tokens_only_loopback_clients_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    stoker.workspace("default").await.unwrap();
    let app =
        test::init_service(App::new().configure(api(stoker.clone(), Access::loopback()))).await;

    let remote = test::TestRequest::get()
        .uri("/api/workspaces")
        .peer_addr("192.0.2.7:40000".parse().unwrap())
        .to_request();
    let answer = test::call_service(&app, remote).await;
    assert_eq!(answer.status(), 403);
    let body: serde_json::Value = test::read_body_json(answer).await;
    assert_eq!(body["error"]["code"], "forbidden");

    let local = test::TestRequest::get()
        .uri("/api/workspaces")
        .peer_addr("127.0.0.1:40000".parse().unwrap())
        .to_request();
    assert_eq!(test::call_service(&app, local).await.status(), 200);
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn requests_during_shutdown_are_answered_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    stoker.workspace("default").await.unwrap();
    let app =
        test::init_service(App::new().configure(api(stoker.clone(), Access::loopback()))).await;
    stoker.shutdown().await;

    let late = test::TestRequest::post()
        .uri("/api/workspaces/default/jobs")
        .peer_addr("127.0.0.1:40000".parse().unwrap())
        .set_json(json!({"type": "record", "args": {"key": "late"}}))
        .to_request();
    let answer = test::call_service(&app, late).await;
    assert_eq!(answer.status(), 503);
    let body: serde_json::Value = test::read_body_json(answer).await;
    assert_eq!(body["error"]["code"], "unavailable");
}

#[actix_rt::test]
async fn a_token_under_16_characters_stops_the_server_with_a_clear_error() {
    let short = Server::refuses_to_start(&["--token", "fifteen-chars!!"]);
    assert!(short.contains("at least 16"), "{short}");
    assert!(
        !short.contains("fifteen-chars!!"),
        "the secret is not repeated"
    );
    let scoped = Server::refuses_to_start(&["--token", &format!("{ROOT},a=alpha")]);
    assert!(
        scoped.contains("entry 2") && scoped.contains("workspace `a`"),
        "{scoped}"
    );
}

#[actix_rt::test]
async fn a_base64_token_ending_in_equals_reaches_every_workspace() {
    let token = "abcdefghijklmnop==";
    let server = Server::start(&["--workspace", "a", "--workspace", "b", "--token", token]).await;
    let bearer = format!("Bearer {token}");
    for ws in ["a", "b"] {
        let path = format!("/api/workspaces/{ws}/stats");
        let stats = server.get_with(&path, &[("authorization", &bearer)]).await;
        assert_eq!(stats.status, 200, "{ws}: {:?}", stats.body);
    }
    let secret_only = server
        .get_with("/api/workspaces/a/stats", &[("authorization", "Bearer =")])
        .await;
    assert_eq!(secret_only.status, 401);
}
