//! Jobs under `/api/workspaces/{ws}`: enqueue one or a batch, list, read, requeue, enqueue now,
//! delete.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::access::Caller;
use super::error::{ApiError, ErrorBody};
use super::{empty_object, open_workspace};
use crate::bounds;
use crate::{
    ContinueOn, Enqueued, Error, JobDetails, JobFilter, JobId, JobPage, JobState, NewJob,
    RetryPolicy, Stoker, Unique, Workspace,
};

/// The most jobs one batch may hold.
pub const MAX_BATCH: usize = 1000;

/// A job as `POST /jobs` takes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct JobRequest {
    /// A registered job type.
    #[serde(rename = "type")]
    job_type: String,
    /// The job's arguments (default `{}`).
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    args: serde_json::Value,
    queue: Option<String>,
    delay_seconds: Option<f64>,
    run_at: Option<DateTime<Utc>>,
    after: Option<AfterRequest>,
    retry: Option<RetryRequest>,
    /// 0 (first, the default) to 9 (last) within its queue.
    priority: Option<i64>,
    /// At most one job per key in a scope.
    unique: Option<Unique>,
}

/// The parent a continuation waits for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AfterRequest {
    job: JobId,
    #[serde(default)]
    on: ContinueOn,
}

/// A retry policy for this job instead of its type's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RetryRequest {
    attempts: u32,
    #[serde(default)]
    delays_seconds: Vec<u64>,
}

impl JobRequest {
    /// The job to enqueue, or why the request cannot be one.
    pub(super) fn into_new_job(self) -> Result<NewJob, ApiError> {
        if !self.args.is_object() {
            return Err(ApiError::bad_request("`args` must be a JSON object"));
        }
        let mut job = with_flow(
            NewJob::new(self.job_type, self.args),
            self.priority,
            self.unique,
        )?;
        if let Some(queue) = self.queue {
            job = job.queue(queue);
        }
        match (self.delay_seconds, self.run_at) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "give `delay_seconds` or `run_at`, not both",
                ));
            }
            (Some(delay), None) => {
                job = job.delay(bounds::seconds("delay_seconds", delay).map_err(Error::from)?);
            }
            (None, Some(at)) => job = job.run_at(at),
            (None, None) => {}
        }
        if let Some(after) = self.after {
            job = job.after(after.job, after.on);
        }
        if let Some(retry) = self.retry {
            let delays = retry.delays_seconds.into_iter().map(Duration::from_secs);
            job = job.retry(RetryPolicy::attempts(retry.attempts).with_delays(delays));
        }
        Ok(job)
    }
}

/// `job` with a request's priority and unique key, where it gives them.
pub(super) fn with_flow(
    mut job: NewJob,
    priority: Option<i64>,
    unique: Option<Unique>,
) -> Result<NewJob, ApiError> {
    if let Some(priority) = priority {
        let priority = u8::try_from(priority).map_err(|_| {
            ApiError::bad_request(format!("`priority` must be 0 to 9, not {priority}"))
        })?;
        job = job.priority(priority);
    }
    if let Some(unique) = unique {
        job = job.unique(unique);
    }
    Ok(job)
}

/// Jobs stored together, all or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchRequest {
    jobs: Vec<JobRequest>,
}

/// Enqueues a job.
#[utoipa::path(post, operation_id = "enqueue_job", path = "/api/workspaces/{ws}/jobs", params(("ws" = String, Path)),
    request_body = JobRequest,
    responses((status = 201, body = Enqueued, description = "the new job's id and the state it starts in"),
        (status = 200, body = Enqueued, description = "a duplicate: the job that holds its unique key"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn enqueue(
    stoker: web::Data<Stoker>,
    caller: Caller,
    ws: web::Path<String>,
    body: web::Json<JobRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.may_write(&ws)?;
    let job = body.into_inner().into_new_job()?;
    let workspace = open_workspace(&stoker, &ws).await?;
    let created = workspace.enqueue_job(job).await?;
    let mut answer = match created.duplicate {
        true => HttpResponse::Ok(),
        false => HttpResponse::Created(),
    };
    Ok(answer.json(created))
}

/// Enqueues jobs together: all or none.
#[utoipa::path(post, operation_id = "enqueue_batch", path = "/api/workspaces/{ws}/jobs/batch", params(("ws" = String, Path)),
    request_body = BatchRequest,
    responses((status = 201, body = Object, description = "`{\"jobs\": [{\"id\", \"state\", \"duplicate\"}, ...]}`, in order"),
        (status = 400, body = ErrorBody)))]
pub(super) async fn enqueue_batch(
    stoker: web::Data<Stoker>,
    caller: Caller,
    ws: web::Path<String>,
    body: web::Json<BatchRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.may_write(&ws)?;
    let requests = body.into_inner().jobs;
    if requests.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "a batch holds at most {MAX_BATCH} jobs"
        )));
    }
    let jobs = requests
        .into_iter()
        .map(JobRequest::into_new_job)
        .collect::<Result<Vec<_>, _>>()?;
    let workspace = open_workspace(&stoker, &ws).await?;
    let created = workspace.enqueue_many(jobs).await?;
    Ok(HttpResponse::Created().json(json!({ "jobs": created })))
}

/// Which jobs to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    state: Option<String>,
    queue: Option<String>,
    #[serde(rename = "type")]
    job_type: Option<String>,
    search: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
}

impl ListQuery {
    fn into_filter(self) -> Result<JobFilter, ApiError> {
        let state = self
            .state
            .map(|state| state.parse::<JobState>())
            .transpose()
            .map_err(|error| ApiError::bad_request(error.to_string()))?;
        if let Some(queue) = &self.queue {
            crate::name::check_queue(queue)
                .map_err(|error| ApiError::bad_request(error.to_string()))?;
        }
        let limit = self.limit.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::bad_request("`limit` must be between 1 and 500"));
        }
        Ok(JobFilter {
            state,
            queue: self.queue,
            job_type: self.job_type,
            search: self.search,
            retries: false,
            from: None,
            limit,
            offset: self.offset.unwrap_or(0),
        })
    }
}

/// Lists jobs, newest first.
#[utoipa::path(get, operation_id = "list_jobs", path = "/api/workspaces/{ws}/jobs", params(("ws" = String, Path), ListQuery),
    responses((status = 200, body = JobPage, description = "a page of jobs, newest first, and how many match"), (status = 400, body = ErrorBody)))]
pub(super) async fn list(
    stoker: web::Data<Stoker>,
    caller: Caller,
    ws: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.may_read(&ws)?;
    let filter = query.into_inner().into_filter()?;
    let workspace = open_workspace(&stoker, &ws).await?;
    Ok(HttpResponse::Ok().json(workspace.jobs(&filter).await?))
}

fn job_id(text: &str) -> Result<JobId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::not_found(format!("job {text} not found")))
}

/// A job with its arguments, retry policy and history.
#[utoipa::path(get, operation_id = "get_job", path = "/api/workspaces/{ws}/jobs/{id}", params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = JobDetails, description = "the job with its arguments, retry policy and history"), (status = 404, body = ErrorBody)))]
pub(super) async fn details(
    stoker: web::Data<Stoker>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = path.into_inner();
    caller.may_read(&ws)?;
    let id = job_id(&id)?;
    let workspace = open_workspace(&stoker, &ws).await?;
    Ok(HttpResponse::Ok().json(workspace.job(id).await?))
}

/// What a person can do to a job over HTTP (the API's routes and the dashboard's forms).
#[derive(Clone, Copy, Debug)]
pub(super) enum JobAction {
    Requeue,
    EnqueueNow,
    Delete,
}

impl JobAction {
    /// Does it to job `id`; answers the state the job is in afterwards.
    pub(super) async fn apply(self, workspace: &Workspace, id: JobId) -> crate::Result<JobState> {
        match self {
            JobAction::Requeue => workspace.requeue(id).await.map(|()| JobState::Enqueued),
            JobAction::EnqueueNow => workspace.enqueue_now(id).await.map(|()| JobState::Enqueued),
            JobAction::Delete => workspace.delete(id).await.map(|()| JobState::Deleted),
        }
    }
}

/// Puts a job back in its queue.
#[utoipa::path(post, operation_id = "requeue_job", path = "/api/workspaces/{ws}/jobs/{id}/requeue", params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Enqueued, description = "the job, now `enqueued`"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn requeue(
    stoker: web::Data<Stoker>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    act(stoker, caller, path, JobAction::Requeue).await
}

/// Enqueues a scheduled or awaiting job now.
#[utoipa::path(post, operation_id = "enqueue_job_now", path = "/api/workspaces/{ws}/jobs/{id}/enqueue", params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Enqueued, description = "the job, now `enqueued`"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn enqueue_now(
    stoker: web::Data<Stoker>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    act(stoker, caller, path, JobAction::EnqueueNow).await
}

/// Deletes a job; a running job is asked to stop.
#[utoipa::path(post, operation_id = "delete_job", path = "/api/workspaces/{ws}/jobs/{id}/delete", params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Enqueued, description = "the job, now `deleted`"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn delete(
    stoker: web::Data<Stoker>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    act(stoker, caller, path, JobAction::Delete).await
}

async fn act(
    stoker: web::Data<Stoker>,
    caller: Caller,
    path: web::Path<(String, String)>,
    action: JobAction,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = path.into_inner();
    caller.may_write(&ws)?;
    let id = job_id(&id)?;
    let workspace = open_workspace(&stoker, &ws).await?;
    let state = action.apply(&workspace, id).await?;
    Ok(HttpResponse::Ok().json(Enqueued {
        id,
        state,
        duplicate: false,
    }))
}
