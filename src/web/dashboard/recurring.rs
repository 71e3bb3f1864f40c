//! Recurring jobs: their schedules in words, their next and last runs, and the actions on them
//! (trigger now, pause, resume, delete), one at a time or on those ticked.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::csrf::{Form, checked_form};
use super::format;
use super::page::{self, Frame, PageError};
use super::viewer::Viewer;
use crate::web::ApiError;
use crate::{JobId, RecurringJob, Stoker, Workspace, schedule};

/// A recurring job as a row of the list.
struct Row {
    id: String,
    job_type: String,
    queue: String,
    cron: String,
    words: Option<String>,
    time_zone: String,
    paused: bool,
    next: Option<(String, String)>,
    last: Option<(String, String)>,
    last_job: Option<JobId>,
    last_state: Option<&'static str>,
    error: Option<String>,
}

impl Row {
    fn of(job: &RecurringJob, now: chrono::DateTime<chrono::Utc>) -> Row {
        let when = |at| (format::time(at), format::relative(at, now));
        Row {
            id: job.id.clone(),
            job_type: job.job_type.clone(),
            queue: job.queue.clone(),
            cron: job.cron.clone(),
            words: schedule::describe(&job.cron),
            time_zone: job.time_zone.clone(),
            paused: job.paused,
            next: job.next_execution.map(when),
            last: job.last_execution.map(when),
            last_job: job.last_job_id,
            last_state: job.last_job_state.map(|state| state.as_str()),
            error: job.error.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "recurring.html")]
struct RecurringPage {
    frame: Frame,
    rows: Vec<Row>,
}

/// The workspace's recurring jobs.
pub(super) async fn list(
    stoker: web::Data<Stoker>,
    viewer: Viewer,
    ws: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let workspace = viewer.readable(&stoker, &ws).await?;
    let jobs = workspace
        .recurring_jobs()
        .await
        .map_err(|error| viewer.error(error))?;
    let now = stoker.now();
    viewer.page(&RecurringPage {
        frame: viewer.frame(Some(&ws), "recurring"),
        rows: jobs.iter().map(|job| Row::of(job, now)).collect(),
    })
}

/// What an operator may do to a recurring job.
#[derive(Clone, Copy)]
enum RecurringAction {
    Trigger,
    Pause,
    Resume,
    Delete,
}

impl RecurringAction {
    fn named(name: &str) -> Result<RecurringAction, ApiError> {
        match name {
            "trigger" => Ok(RecurringAction::Trigger),
            "pause" => Ok(RecurringAction::Pause),
            "resume" => Ok(RecurringAction::Resume),
            "delete" => Ok(RecurringAction::Delete),
            other => Err(ApiError::bad_request(format!(
                "there is no recurring job action `{other}`"
            ))),
        }
    }

    fn done(self) -> &'static str {
        match self {
            RecurringAction::Trigger => "Triggered",
            RecurringAction::Pause => "Paused",
            RecurringAction::Resume => "Resumed",
            RecurringAction::Delete => "Deleted",
        }
    }

    /// Does it to recurring job `id`; the error says why it could not be done.
    async fn apply(self, workspace: &Workspace, id: &str) -> Result<(), String> {
        let done = match self {
            RecurringAction::Trigger => workspace.trigger(id).await.map(drop),
            RecurringAction::Pause => workspace.pause(id).await.map(drop),
            RecurringAction::Resume => workspace.resume(id).await.map(drop),
            RecurringAction::Delete => workspace.remove_recurring(id).await,
        };
        done.map_err(|error| error.to_string())
    }
}

/// The action a form asks for, and on which ids: a row's own button sends `act` as
/// `"action id"`; the buttons above the list send `action` and apply it to the ticked `id`s.
fn requested(form: &Form) -> Result<(RecurringAction, Vec<&str>), ApiError> {
    if let Some(act) = form.one("act") {
        let (action, id) = act
            .split_once(' ')
            .ok_or_else(|| ApiError::bad_request(format!("malformed action `{act}`")))?;
        return Ok((RecurringAction::named(action)?, vec![id]));
    }
    let action = RecurringAction::named(form.one("action").unwrap_or_default())?;
    Ok((action, form.all("id").collect()))
}

/// An action on one recurring job or on those ticked.
pub(super) async fn bulk(
    stoker: web::Data<Stoker>,
    viewer: Viewer,
    ws: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = checked_form(&request, &body).map_err(|e| viewer.error(e))?;
    let (action, ids) = requested(&form).map_err(|e| viewer.error(e))?;
    let workspace = viewer.writable(&stoker, &ws).await?;
    let mut done = Vec::new();
    let mut failures = Vec::new();
    for id in ids {
        match action.apply(&workspace, id).await {
            Ok(()) => done.push(id),
            Err(why) => failures.push(why),
        }
    }
    let done = (!done.is_empty()).then(|| format!("{} {}.", action.done(), done.join(", ")));
    let back = format!("{}/{ws}/recurring", viewer.base);
    Ok(viewer.redirect(&back, &page::outcome(done, &failures)))
}
