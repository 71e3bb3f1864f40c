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
            .service(resource(
                "/api/openapi.json",
                vec![(Method::GET, web::to(openapi::document))],
            ))
            .configure(documented_routes)
            .default_service(web::to(not_found));
    }
}

/// The routes of every operation the OpenAPI document describes, each path with its methods
/// (see [`openapi::operations`]).
fn documented_routes(config: &mut web::ServiceConfig) {
    let operations = openapi::operations();
    for same_path in operations.chunk_by(|a, b| a.0 == b.0) {
        let routes = same_path
            .iter()
            .map(|(_, method, id)| (method.clone(), handler(id)))
            .collect();
        config.service(resource(&same_path[0].0, routes));
    }
}

/// The handler of the operation `operation_id` names.
fn handler(operation_id: &str) -> Route {
    match operation_id {
        "health" => web::to(monitoring::health),
        "cron_next" => web::to(monitoring::cron_next),
        "list_workspaces" => web::to(workspaces::list),
        "create_workspace" => web::to(workspaces::create),
        "enqueue_job" => web::to(jobs::enqueue),
        "enqueue_batch" => web::to(jobs::enqueue_batch),
        "list_jobs" => web::to(jobs::list),
        "get_job" => web::to(jobs::details),
        "requeue_job" => web::to(jobs::requeue),
        "enqueue_job_now" => web::to(jobs::enqueue_now),
        "delete_job" => web::to(jobs::delete),
        "list_recurring" => web::to(recurring::list),
        "put_recurring" => web::to(recurring::put),
        "get_recurring" => web::to(recurring::get),
        "remove_recurring" => web::to(recurring::remove),
        "trigger_recurring" => web::to(recurring::trigger),
        "pause_recurring" => web::to(recurring::pause),
        "resume_recurring" => web::to(recurring::resume),
        "stats" => web::to(monitoring::stats),
        "history" => web::to(monitoring::history),
        "servers" => web::to(monitoring::servers),
        other => unreachable!("the documented operation `{other}` has no handler"),
    }
}

/// `path` served by `routes`, each for its method; any other method gets 405
/// `method_not_allowed` with the methods served in `Allow`.
fn resource(path: &str, routes: Vec<(Method, Route)>) -> Resource {
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

#[cfg(test)]
mod tests {
    #[test]
    fn every_documented_operation_has_a_handler_and_static_paths_are_routed_first() {
        let operations = super::openapi::operations();
        for (_, _, operation_id) in &operations {
            super::handler(operation_id);
        }
        let position = |path: &str| operations.iter().position(|(p, ..)| p == path).unwrap();
        let batch = position("/api/workspaces/{ws}/jobs/batch");
        assert!(batch < position("/api/workspaces/{ws}/jobs/{id}"));
    }
}
