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
mod dashboard;
mod error;
mod jobs;
mod monitoring;
mod openapi;
mod recurring;
mod workspaces;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, web};

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
            .route("/healthz", web::get().to(monitoring::health))
            .route("/api/cron/next", web::get().to(monitoring::cron_next))
            .route("/api/openapi.json", web::get().to(openapi::document))
            .route("/api/workspaces", web::get().to(workspaces::list))
            .route("/api/workspaces", web::post().to(workspaces::create))
            .service(web::scope("/api/workspaces/{ws}").configure(workspace_routes))
            .default_service(web::to(not_found));
    }
}

fn workspace_routes(config: &mut web::ServiceConfig) {
    config
        .route("/jobs", web::post().to(jobs::enqueue))
        .route("/jobs", web::get().to(jobs::list))
        .route("/jobs/batch", web::post().to(jobs::enqueue_batch))
        .route("/jobs/{id}", web::get().to(jobs::details))
        .route("/jobs/{id}/requeue", web::post().to(jobs::requeue))
        .route("/jobs/{id}/enqueue", web::post().to(jobs::enqueue_now))
        .route("/jobs/{id}/delete", web::post().to(jobs::delete))
        .route("/recurring", web::get().to(recurring::list))
        .route("/recurring/{rid}", web::put().to(recurring::put))
        .route("/recurring/{rid}", web::get().to(recurring::get))
        .route("/recurring/{rid}", web::delete().to(recurring::remove))
        .route(
            "/recurring/{rid}/trigger",
            web::post().to(recurring::trigger),
        )
        .route("/recurring/{rid}/pause", web::post().to(recurring::pause))
        .route("/recurring/{rid}/resume", web::post().to(recurring::resume))
        .route("/stats", web::get().to(monitoring::stats))
        .route("/history", web::get().to(monitoring::history))
        .route("/servers", web::get().to(monitoring::servers));
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
