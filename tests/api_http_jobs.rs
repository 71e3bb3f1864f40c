//! The built-in `http` job type of the real `stoker` binary, as API.md describes it: it calls
//! its URL, public addresses only unless `--http-allow` names the destination, follows no
//! redirect, bounds its timeout, and `--no-http-jobs` leaves it out.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{HttpRequest, HttpResponse, web};
use common::listener::Listener;
use common::server::Server;
use serde_json::{Value, json};

const JOBS: &str = "/api/workspaces/default/jobs";

/// A listener whose every call is counted.
fn counting(calls: &Arc<AtomicUsize>) -> Listener {
    let counted = calls.clone();
    Listener::start(move |routes| {
        let counted = counted.clone();
        routes.default_service(web::to(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { HttpResponse::NoContent().finish() }
        }));
    })
}

/// Enqueues an `http` job to `url` that is not retried; its id.
async fn call(server: &Server, url: &str) -> String {
    let job = json!({"type": "http", "args": {"url": url}, "retry": {"attempts": 0}});
    let created = server.post(JOBS, job).await;
    assert_eq!(created.status, 201, "{created:?}");
    created.body["id"].as_str().unwrap().to_owned()
}

/// The failure reason of job `id` once it has failed.
async fn failure(server: &Server, id: &str) -> String {
    let job = server.wait_for_job("default", id, "failed").await;
    job["reason"].as_str().unwrap().to_owned()
}

#[actix_rt::test]
async fn the_http_job_calls_its_url_and_a_non_2xx_answer_fails_the_attempt() {
    type Calls = Arc<Mutex<Vec<(String, Value)>>>;
    let calls: Calls = Arc::default();
    let recorded = calls.clone();
    let receiver = Listener::start(move |routes| {
        routes
            .app_data(web::Data::new(recorded.clone()))
            .route(
                "/hook",
                web::put().to(
                    |calls: web::Data<Calls>, request: HttpRequest, body: web::Json<Value>| async move {
                        let token = request
                            .headers()
                            .get("x-token")
                            .map(|v| v.to_str().unwrap().to_owned());
                        calls
                            .lock()
                            .unwrap()
                            .push((token.unwrap_or_default(), body.into_inner()));
                        HttpResponse::NoContent().finish()
                    },
                ),
            )
            .route(
                "/broken",
                web::post().to(|| async { HttpResponse::InternalServerError().finish() }),
            );
    });

    let server = Server::start(&["--http-allow", "127.0.0.1"]).await;
    let hook = json!({"type": "http", "args": {
        "url": receiver.url("/hook"), "method": "PUT",
        "headers": {"x-token": "secret"}, "body": {"hello": "world"}, "timeout_ms": 5000
    }});
    let ok = server.post(JOBS, hook).await;
    assert_eq!(ok.status, 201, "{ok:?}");
    server
        .wait_for_job("default", ok.body["id"].as_str().unwrap(), "succeeded")
        .await;
    assert_eq!(
        *calls.lock().unwrap(),
        [("secret".to_owned(), json!({"hello": "world"}))]
    );

    let broken = call(&server, &receiver.url("/broken")).await;
    let reason = failure(&server, &broken).await;
    assert!(reason.ends_with("answered HTTP 500"), "{reason}");
    receiver.stop().await;
}

#[actix_rt::test]
async fn an_http_job_to_a_loopback_listener_is_refused_by_default_and_not_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let listener = counting(&calls);
    let server = Server::start(&[]).await;

    let job = json!({"type": "http", "args": {"url": listener.url("/")},
        "retry": {"attempts": 3, "delays_seconds": [0]}});
    let created = server.post(JOBS, job).await;
    let id = created.body["id"].as_str().unwrap();
    let job = server.wait_for_job("default", id, "failed").await;
    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.contains("refused 127.0.0.1, a loopback address")
            && reason.contains("unless --http-allow names the destination"),
        "{reason}"
    );
    assert_eq!(job["attempt"], 1, "a refused destination is not retried");

    let by_name = call(&server, &format!("http://localhost:{}/", listener.port)).await;
    let reason = failure(&server, &by_name).await;
    assert!(
        reason.contains("(an address of localhost), a loopback address"),
        "{reason}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "nothing reached the listener"
    );
    listener.stop().await;
}

#[actix_rt::test]
async fn an_http_job_to_a_loopback_listener_runs_when_http_allow_names_its_range() {
    let calls = Arc::new(AtomicUsize::new(0));
    let listener = counting(&calls);
    let server = Server::start(&["--http-allow", "10.0.0.0/8,127.0.0.0/8"]).await;

    let id = call(&server, &listener.url("/")).await;
    server.wait_for_job("default", &id, "succeeded").await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    listener.stop().await;
}

#[actix_rt::test]
async fn a_redirect_answer_fails_the_attempt_and_names_its_location() {
    let landed = Arc::new(AtomicUsize::new(0));
    let counted = landed.clone();
    let listener = Listener::start(move |routes| {
        let counted = counted.clone();
        routes
            .route(
                "/moved",
                web::post().to(|| async {
                    HttpResponse::Found()
                        .insert_header(("location", "/landing"))
                        .finish()
                }),
            )
            .route(
                "/landing",
                web::to(move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async { HttpResponse::NoContent().finish() }
                }),
            );
    });
    let server = Server::start(&["--http-allow", "127.0.0.1"]).await;

    let id = call(&server, &listener.url("/moved")).await;
    let reason = failure(&server, &id).await;
    assert!(
        reason.contains("answered HTTP 302") && reason.ends_with("Location: /landing"),
        "{reason}"
    );
    assert_eq!(
        landed.load(Ordering::SeqCst),
        0,
        "the redirect was not followed"
    );
    listener.stop().await;
}

#[actix_rt::test]
async fn a_timeout_over_five_minutes_is_refused_as_invalid_arguments() {
    let server = Server::start(&[]).await;
    let with_timeout = |ms: u64| {
        json!({"type": "http", "delay_seconds": 3600,
            "args": {"url": "https://example.com/", "timeout_ms": ms}})
    };

    let refused = server.post(JOBS, with_timeout(300_001)).await;
    assert_eq!((refused.status, refused.code()), (400, "invalid_args"));
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("timeout_ms must be from 1 to 300000, not 300001"),
        "{message}"
    );
    let zero = server.post(JOBS, with_timeout(0)).await;
    assert_eq!((zero.status, zero.code()), (400, "invalid_args"));
    let longest = server.post(JOBS, with_timeout(300_000)).await;
    assert_eq!(longest.status, 201, "{longest:?}");
    assert_eq!(server.get(JOBS).await.body["total"], 1);
}

#[actix_rt::test]
async fn with_no_http_jobs_the_http_type_is_unknown_and_the_others_remain() {
    let server = Server::start(&["--no-http-jobs"]).await;
    let http = json!({"type": "http", "args": {"url": "https://example.com/"}});
    let refused = server.post(JOBS, http).await;
    assert_eq!((refused.status, refused.code()), (400, "unknown_job_type"));
    let noop = server.post(JOBS, json!({"type": "noop"})).await;
    assert_eq!(noop.status, 201, "{noop:?}");
}
