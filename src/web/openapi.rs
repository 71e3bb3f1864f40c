//! The OpenAPI 3 description of the API, generated from the handlers and types (utoipa), served
//! at `/api/openapi.json` so that clients can be generated and the API fuzzed.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::OpenApi;

use super::{jobs, monitoring, recurring, workspaces};

/// Every documented operation.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "stoker",
        description = "Persistent background jobs, per workspace."
    ),
    paths(
        monitoring::health,
        monitoring::cron_next,
        workspaces::list,
        workspaces::create,
        jobs::enqueue,
        jobs::enqueue_batch,
        jobs::list,
        jobs::details,
        jobs::requeue,
        jobs::enqueue_now,
        jobs::delete,
        recurring::list,
        recurring::put,
        recurring::get,
        recurring::remove,
        recurring::trigger,
        recurring::pause,
        recurring::resume,
        monitoring::stats,
        monitoring::history,
        monitoring::servers,
    )
)]
struct ApiDoc;

/// The description, as JSON text (built once).
pub fn document_json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the description serializes")
    })
}

/// `GET /api/openapi.json`
pub(super) async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document_json())
}
