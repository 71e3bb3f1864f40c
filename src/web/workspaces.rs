//! `/api/workspaces`: the workspaces a caller may see, and creating one.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::access::Caller;
use super::error::{ApiError, ErrorBody};
use crate::Stoker;

/// The workspaces the caller may see.
#[utoipa::path(get, operation_id = "list_workspaces", path = "/api/workspaces",
    responses((status = 200, body = Object, description = "`{\"workspaces\": [{\"name\"}, ...]}`")))]
pub(super) async fn list(stoker: web::Data<Stoker>, caller: Caller) -> HttpResponse {
    let names: Vec<_> = stoker
        .workspace_names()
        .into_iter()
        .filter(|name| caller.reaches(name))
        .map(|name| json!({ "name": name }))
        .collect();
    HttpResponse::Ok().json(json!({ "workspaces": names }))
}

/// A workspace to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateRequest {
    /// `^[a-z0-9][a-z0-9_-]{0,62}$`
    name: String,
}

/// Creates a workspace and starts it.
#[utoipa::path(post, operation_id = "create_workspace", path = "/api/workspaces", request_body = CreateRequest,
    responses((status = 201, body = Object, description = "`{\"name\"}`"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn create(
    stoker: web::Data<Stoker>,
    caller: Caller,
    body: web::Json<CreateRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.may_write(&body.name)?;
    let workspace = stoker.create_workspace(&body.name).await?;
    Ok(HttpResponse::Created().json(json!({ "name": workspace.name() })))
}
