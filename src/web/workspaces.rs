//! `/api/workspaces`: the workspaces a caller may see, and creating one.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::access::Caller;
use super::error::ApiError;
use crate::Stoker;

/// `GET /api/workspaces`
pub(super) async fn list(stoker: web::Data<Stoker>, caller: Caller) -> HttpResponse {
    let names: Vec<_> = stoker
        .workspace_names()
        .into_iter()
        .filter(|name| caller.reaches(name))
        .map(|name| json!({ "name": name }))
        .collect();
    HttpResponse::Ok().json(json!({ "workspaces": names }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateRequest {
    name: String,
}

/// `POST /api/workspaces`
pub(super) async fn create(
    stoker: web::Data<Stoker>,
    caller: Caller,
    body: web::Json<CreateRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.may_write(&body.name)?;
    let workspace = stoker.create_workspace(&body.name).await?;
    Ok(HttpResponse::Created().json(json!({ "name": workspace.name() })))
}
