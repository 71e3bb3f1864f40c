//! Recurring jobs under `/api/workspaces/{ws}/recurring`: create or update, list, read,
//! trigger, pause, resume, remove.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::access::Caller;
use super::error::{ApiError, ErrorBody};
use super::jobs::with_flow;
use super::{empty_object, open_workspace};
use crate::{Misfire, NewJob, RecurringJob, RecurringOptions, Stoker, Unique};

/// A recurring job as `PUT /recurring/{rid}` takes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RecurringRequest {
    /// A registered job type.
    #[serde(rename = "type")]
    job_type: String,
    /// The arguments of the jobs it creates (default `{}`).
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    args: serde_json::Value,
    cron: String,
    time_zone: Option<String>,
    queue: Option<String>,
    #[serde(default)]
    misfire: Misfire,
    /// The priority of the jobs it creates.
    priority: Option<i64>,
    /// The unique key of the jobs it creates.
    unique: Option<Unique>,
}

/// Creates or updates a recurring job.
#[utoipa::path(put, operation_id = "put_recurring", path = "/api/workspaces/{ws}/recurring/{rid}", params(("ws" = String, Path), ("rid" = String, Path)),
    request_body = RecurringRequest,
    responses((status = 200, body = RecurringJob, description = "the recurring job, created or updated"), (status = 400, body = ErrorBody)))]
pub(super) async fn put(
    stoker: web::Data<Stoker>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<RecurringRequest>,
) -> Result<HttpResponse, ApiError> {
    let (ws, rid) = path.into_inner();
    caller.may_write(&ws)?;
    let request = body.into_inner();
    if !request.args.is_object() {
        return Err(ApiError::bad_request("`args` must be a JSON object"));
    }
    let mut job = with_flow(
        NewJob::new(request.job_type, request.args),
        request.priority,
        request.unique,
    )?;
    if let Some(queue) = request.queue {
        job = job.queue(queue);
    }
    let mut options = RecurringOptions::default().misfire(request.misfire);
    if let Some(zone) = request.time_zone {
        options = options.time_zone(zone);
    }
    let workspace = open_workspace(&stoker, &ws).await?;
    let recurring = workspace
        .add_or_update_recurring(&rid, job, &request.cron, options)
        .await?;
    Ok(HttpResponse::Ok().json(recurring))
}

/// Lists the recurring jobs.
#[utoipa::path(get, operation_id = "list_recurring", path = "/api/workspaces/{ws}/recurring", params(("ws" = String, Path)),
    responses((status = 200, body = Object, description = "`{\"recurring\": [RecurringJob, ...]}`")))]
pub(super) async fn list(
    stoker: web::Data<Stoker>,
    caller: Caller,
    ws: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.may_read(&ws)?;
    let workspace = open_workspace(&stoker, &ws).await?;
    let recurring = workspace.recurring_jobs().await?;
    Ok(HttpResponse::Ok().json(json!({ "recurring": recurring })))
}

/// A recurring job.
#[utoipa::path(get, operation_id = "get_recurring", path = "/api/workspaces/{ws}/recurring/{rid}", params(("ws" = String, Path), ("rid" = String, Path)),
    responses((status = 200, body = RecurringJob, description = "the recurring job"), (status = 404, body = ErrorBody)))]
pub(super) async fn get(
    stoker: web::Data<Stoker>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ws, rid) = path.into_inner();
    caller.may_read(&ws)?;
    let workspace = open_workspace(&stoker, &ws).await?;
    Ok(HttpResponse::Ok().json(workspace.recurring(&rid).await?))
}

/// What a person can do to a recurring job over HTTP.
#[derive(Clone, Copy, Debug)]
enum RecurringAction {
    Trigger,
    Pause,
    Resume,
    Remove,
}

/// Creates the recurring job's job now.
#[utoipa::path(post, operation_id = "trigger_recurring", path = "/api/workspaces/{ws}/recurring/{rid}/trigger", params(("ws" = String, Path), ("rid" = String, Path)),
    responses((status = 202, body = Object, description = "`{\"id\": \"<new job id>\"}`"), (status = 404, body = ErrorBody)))]
pub(super) async fn trigger(
    stoker: web::Data<Stoker>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    act(stoker, caller, path, RecurringAction::Trigger).await
}

/// Pauses a recurring job.
#[utoipa::path(post, operation_id = "pause_recurring", path = "/api/workspaces/{ws}/recurring/{rid}/pause", params(("ws" = String, Path), ("rid" = String, Path)),
    responses((status = 200, body = RecurringJob, description = "the recurring job, paused"), (status = 404, body = ErrorBody)))]
pub(super) async fn pause(
    stoker: web::Data<Stoker>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    act(stoker, caller, path, RecurringAction::Pause).await
}

/// Resumes a recurring job from its next occurrence.
#[utoipa::path(post, operation_id = "resume_recurring", path = "/api/workspaces/{ws}/recurring/{rid}/resume", params(("ws" = String, Path), ("rid" = String, Path)),
    responses((status = 200, body = RecurringJob, description = "the recurring job, resumed"), (status = 404, body = ErrorBody)))]
pub(super) async fn resume(
    stoker: web::Data<Stoker>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    act(stoker, caller, path, RecurringAction::Resume).await
}

/// Removes a recurring job.
#[utoipa::path(delete, operation_id = "remove_recurring", path = "/api/workspaces/{ws}/recurring/{rid}", params(("ws" = String, Path), ("rid" = String, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)))]
pub(super) async fn remove(
    stoker: web::Data<Stoker>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    act(stoker, caller, path, RecurringAction::Remove).await
}

async fn act(
    stoker: web::Data<Stoker>,
    caller: Caller,
    path: web::Path<(String, String)>,
    action: RecurringAction,
) -> Result<HttpResponse, ApiError> {
    let (ws, rid) = path.into_inner();
    caller.may_write(&ws)?;
    let workspace = open_workspace(&stoker, &ws).await?;
    Ok(match action {
        RecurringAction::Trigger => {
            let id = workspace.trigger(&rid).await?;
            HttpResponse::Accepted().json(json!({ "id": id }))
        }
        RecurringAction::Pause => HttpResponse::Ok().json(workspace.pause(&rid).await?),
        RecurringAction::Resume => HttpResponse::Ok().json(workspace.resume(&rid).await?),
        RecurringAction::Remove => {
            workspace.remove_recurring(&rid).await?;
            HttpResponse::NoContent().finish()
        }
    })
}
