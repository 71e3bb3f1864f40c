//! Access over HTTP: tokens scoped to a workspace or all, 401 against 403, read-only servers,
//! and loopback-only serving when no token is configured. Browsers are kept out of what they
//! were not sent to in every mode: a page of another site cannot steer the server, a
//! DNS-rebinding name is refused without tokens, and so is a request through a proxy.
//! Tokens are long enough to resist guessing, and base64 ones ending in `=` work.

mod common;

use std::sync::Arc;

use actix_web::{App, HttpRequest, test};
use common::server::{Answer, Server};
use common::{Runs, builder};
use serde_json::json;
use stoker::web::{Access, ApiError, Authorize, Scope, api};

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

/// A job of `default` that waits an hour, created with `auth`.
async fn scheduled_job(server: &Server, auth: &[(&str, &str)]) -> String {
    let body = json!({"type": "noop", "delay_seconds": 3600});
    let created = server
        .send_with("POST", "/api/workspaces/default/jobs", &body, auth)
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

/// Job `id`'s state, read with `auth`.
async fn state(server: &Server, id: &str, auth: &[(&str, &str)]) -> String {
    let path = format!("/api/workspaces/default/jobs/{id}");
    let job = server.get_with(&path, auth).await;
    job.body["state"].as_str().unwrap().to_owned()
}

/// Requeues a scheduled job as pages of other sites would, then as the server's own origin
/// would, each time with `auth`: only the last is served.
async fn only_the_servers_own_origin_requeues(server: &Server, auth: &[(&str, &str)]) {
    let id = scheduled_job(server, auth).await;
    let requeue = format!("/api/workspaces/default/jobs/{id}/requeue");
    let port = server.base.rsplit(':').next().unwrap();
    let same_machine = format!("http://localhost:{port}");
    for origin in ["http://evil.example", "null", same_machine.as_str()] {
        let mut headers = auth.to_vec();
        headers.push(("origin", origin));
        let answer = server.post_bare(&requeue, &headers).await;
        assert_eq!(
            (answer.status, answer.code()),
            (403, "forbidden"),
            "{origin}"
        );
        assert_eq!(state(server, &id, auth).await, "scheduled", "{origin}");
    }
    let mut own = auth.to_vec();
    own.push(("origin", &server.base));
    let answer = server.post_bare(&requeue, &own).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["state"], "enqueued");
}

#[actix_rt::test]
async fn a_page_of_another_site_cannot_steer_a_loopback_server() {
    let server = Server::start(&[]).await;
    only_the_servers_own_origin_requeues(&server, &[]).await;
}

#[actix_rt::test]
async fn a_page_of_another_site_cannot_steer_a_server_with_tokens() {
    let server = Server::start(&["--token", ROOT]).await;
    let root = format!("Bearer {ROOT}");
    let auth = [("authorization", root.as_str())];
    only_the_servers_own_origin_requeues(&server, &auth).await;

    let named = [auth[0], ("host", "stoker.example.com")];
    let answer = server.get_with("/api/workspaces", &named).await;
    assert_eq!(answer.status, 200, "with tokens any host name is served");
}

#[actix_rt::test]
async fn without_tokens_the_host_must_name_localhost_or_a_loopback_address() {
    let server = Server::start(&[]).await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    for path in ["/api/workspaces/default/jobs", "/api/openapi.json"] {
        let rebound = server
            .get_with(path, &[("host", "attacker.example:8080")])
            .await;
        assert_eq!(
            (rebound.status, rebound.code()),
            (403, "forbidden"),
            "{path}"
        );
        assert!(
            rebound.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("DNS-rebinding"),
            "{:?}",
            rebound.body
        );
    }
    for host in [
        "localhost:8080".to_owned(),
        "127.0.0.1".to_owned(),
        format!("[::1]:{port}"),
    ] {
        let local = server
            .get_with("/api/workspaces/default/jobs", &[("host", &host)])
            .await;
        assert_eq!(local.status, 200, "{host}: {:?}", local.body);
    }
    let health = server
        .get_with("/healthz", &[("host", "attacker.example")])
        .await;
    assert_eq!(health.status, 200, "/healthz stays open");
}

#[actix_rt::test]
async fn without_tokens_a_request_through_a_proxy_is_refused_and_told_to_configure_tokens() {
    let server = Server::start(&[]).await;
    for header in [
        ("x-forwarded-for", "203.0.113.9"),
        ("forwarded", "for=203.0.113.9"),
        ("x-forwarded-port", "443"),
        ("x-real-ip", "203.0.113.9"),
        ("via", "1.1 proxy"),
    ] {
        let proxied: Answer = server.get_with("/api/workspaces", &[header]).await;
        assert_eq!((proxied.status, proxied.code()), (403, "forbidden"));
        let message = proxied.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("configure tokens"), "{message}");
    }
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

/// An application's hook that lets in whoever presents its session cookie.
struct SessionCookie;

impl Authorize for SessionCookie {
    fn authorize(&self, request: &HttpRequest) -> Result<Scope, ApiError> {
        match request.cookie("session") {
            Some(_) => Ok(Scope::All),
            None => Err(ApiError::unauthorized()),
        }
    }
}

#[actix_rt::test]
async fn an_applications_session_cookie_does_not_let_other_sites_in_unless_it_opts_out() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    stoker.workspace("default").await.unwrap();
    let hooked = Access::loopback().authorize_with(Arc::new(SessionCookie));
    let request = |origin: &str| {
        test::TestRequest::post()
            .uri("/api/workspaces/default/jobs")
            .cookie(actix_web::cookie::Cookie::new("session", "s1"))
            .insert_header(("origin", origin))
            .set_json(json!({"type": "record", "args": {"key": "k"}, "delay_seconds": 3600}))
            .to_request()
    };

    let app = test::init_service(App::new().configure(api(stoker.clone(), hooked.clone()))).await;
    let foreign = test::call_service(&app, request("http://evil.example")).await;
    assert_eq!(foreign.status(), 403);
    let own = test::call_service(&app, request("http://localhost:8080")).await;
    assert_eq!(own.status(), 201, "the test server's own origin");

    let open = hooked.allow_cross_origin();
    let app = test::init_service(App::new().configure(api(stoker.clone(), open))).await;
    let foreign = test::call_service(&app, request("http://evil.example")).await;
    assert_eq!(foreign.status(), 201, "opted out");
    let jobs = stoker
        .workspace("default")
        .await
        .unwrap()
        .stats()
        .await
        .unwrap();
    assert_eq!(jobs.scheduled, 2);
    stoker.shutdown().await;
}
