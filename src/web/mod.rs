//! The HTTP API of API.md on actix-web: an application mounts it where it likes,
//! the standalone server at `/`.
//!
//! ```no_run
//! # async fn run(stoker: stoker::Stoker) -> std::io::Result<()> {
//! use actix_web::{App, HttpServer, web};
//! use stoker::web::{Access, api};
//!
//! HttpServer::new(move || {
//!     App::new().service(web::scope("/jobs").configure(api(stoker.clone(), Access::loopback())))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```
//!
//! Handlers talk to the runtime's handles only. Every input is checked before storage sees
//! it; every error answer is `{"error": {"code", "message"}}` with API.md's status and code.

mod access;
mod browser;
mod dashboard;
mod error;
mod jobs;
mod monitoring;
mod openapi;
mod recurring;
mod workspaces;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, Resource, ResponseError, Route, web};

pub use access::{Access, Authorize, Caller, Scope, Token};
pub use dashboard::dashboard;
pub use error::ApiError;
pub use jobs::MAX_BATCH;
pub use openapi::document_json as openapi_json;

use crate::{Stoker, Workspace};

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;

/// The largest body accepted (API.md: 1 MiB).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The API's routes, for `App::configure` or `Scope::configure`.
pub fn api(stoker: Stoker, access: Access) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(stoker))
            .app_data(web::Data::new(access))
            .app_data(
                web::JsonConfig::default()
                    .limit(BODY_LIMIT)
                    .error_handler(json_error),
            )
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .service(resource("/healthz", [(GET, web::to(monitoring::health))]))
            .service(resource(
                "/api/cron/next",
                [(GET, web::to(monitoring::cron_next))],
            ))
            .service(resource(
                "/api/openapi.json",
                [(GET, web::to(openapi::document))],
            ))
            .service(resource(
                "/api/workspaces",
                [
                    (GET, web::to(workspaces::list)),
                    (POST, web::to(workspaces::create)),
                ],
            ))
            .service(web::scope("/api/workspaces/{ws}").configure(workspace_routes))
            .default_service(web::to(not_found));
    }
}

fn workspace_routes(config: &mut web::ServiceConfig) {
    config
        .service(resource(
            "/jobs",
            [(POST, web::to(jobs::enqueue)), (GET, web::to(jobs::list))],
        ))
        .service(resource(
            "/jobs/batch",
            [(POST, web::to(jobs::enqueue_batch))],
        ))
        .service(resource("/jobs/{id}", [(GET, web::to(jobs::details))]))
        .service(resource(
            "/jobs/{id}/requeue",
            [(POST, web::to(jobs::requeue))],
        ))
        .service(resource(
            "/jobs/{id}/enqueue",
            [(POST, web::to(jobs::enqueue_now))],
        ))
        .service(resource(
            "/jobs/{id}/delete",
            [(POST, web::to(jobs::delete))],
        ))
        .service(resource("/recurring", [(GET, web::to(recurring::list))]))
        .service(resource(
            "/recurring/{rid}",
            [
                (PUT, web::to(recurring::put)),
                (GET, web::to(recurring::get)),
                (DELETE, web::to(recurring::remove)),
            ],
        ))
        .service(resource(
            "/recurring/{rid}/trigger",
            [(POST, web::to(recurring::trigger))],
        ))
        .service(resource(
            "/recurring/{rid}/pause",
            [(POST, web::to(recurring::pause))],
        ))
        .service(resource(
            "/recurring/{rid}/resume",
            [(POST, web::to(recurring::resume))],
        ))
        .service(resource("/stats", [(GET, web::to(monitoring::stats))]))
        .service(resource("/history", [(GET, web::to(monitoring::history))]))
        .service(resource("/servers", [(GET, web::to(monitoring::servers))]));
}

/// `path` served by `routes`, each for its method; any other method gets 405
/// `method_not_allowed` with the methods served in `Allow`.
fn resource<const N: usize>(path: &str, routes: [(Method, Route); N]) -> Resource {
    let allow = routes
        .iter()
        .map(|(method, _)| method.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut resource = web::resource(path);
    for (method, route) in routes {
        resource = resource.route(route.method(method));
    }
    resource.default_service(web::to(move |request: HttpRequest| {
        let mut answer = ApiError::method_not_allowed(&request, &allow).error_response();
        let methods = HeaderValue::from_str(&allow).expect("method names are header-safe");
        answer.headers_mut().insert(header::ALLOW, methods);
        std::future::ready(answer)
    }))
}

/// The workspace named in a path: open, or with storage from before; never created here.
async fn open_workspace(stoker: &Stoker, name: &str) -> Result<Workspace, ApiError> {
    Ok(stoker.existing_workspace(name).await?)
}

/// Arguments left out of a request: `{}`.
fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

async fn not_found(request: HttpRequest) -> actix_web::HttpResponse {
    let message = format!("no such resource: {} {}", request.method(), request.path());
    actix_web::ResponseError::error_response(&ApiError::not_found(message))
}

fn json_error(error: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    match error {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::payload_too_large(BODY_LIMIT).into()
        }
        JsonPayloadError::ContentType => {
            ApiError::bad_request("the body must be JSON (Content-Type: application/json)").into()
        }
        other => ApiError::bad_request(format!("malformed body: {other}")).into(),
    }
}

fn query_error(error: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(format!("malformed query: {error}")).into()
}

fn path_error(error: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(format!("malformed path: {error}")).into()
}
