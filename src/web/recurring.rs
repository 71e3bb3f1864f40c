//! Recurring jobs under `/api/workspaces/{ws}/recurring`: create or update, list, read,
//! trigger, pause, resume, remove.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::access::Caller;
use super::error::ApiError;
use super::open_workspace;
use crate::{Misfire, NewJob, RecurringOptions, Stoker};

/// A recurring job as `PUT /recurring/{rid}` takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RecurringRequest {
    #[serde(rename = "type")]
    job_type: String,
    #[serde(default = "empty_object")]
    args: serde_json::Value,
    cron: String,
    time_zone: Option<String>,
    queue: Option<String>,
    #[serde(default)]
    misfire: Misfire,
}

fn empty_object() -> serde_json::Value {
    json!({})
}

/// `PUT /recurring/{rid}`
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
    let mut job = NewJob::new(request.job_type, request.args);
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

/// `GET /recurring`
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

/// `GET /recurring/{rid}`
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
pub(super) enum RecurringAction {
    Trigger,
    Pause,
    Resume,
    Remove,
}

/// `POST /recurring/{rid}/trigger`, `/pause`, `/resume`; `DELETE /recurring/{rid}`
pub(super) async fn act(
    stoker: web::Data<Stoker>,
    caller: Caller,
    path: web::Path<(String, String)>,
    action: web::Data<RecurringAction>,
) -> Result<HttpResponse, ApiError> {
    let (ws, rid) = path.into_inner();
    caller.may_write(&ws)?;
    let workspace = open_workspace(&stoker, &ws).await?;
    Ok(match action.get_ref() {
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
