//! Jobs: the list of one state (filtered, searched, paged, with bulk actions), the retries
//! waiting for their next attempt, and one job in full with its actions.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::csrf::{Form, checked_form};
use super::format;
use super::page::{self, Frame, PageError};
use super::viewer::Viewer;
use crate::bounds::{self, OutOfRange};
use crate::web::ApiError;
use crate::web::jobs::JobAction;
use crate::{JobDetails, JobFilter, JobId, JobState, JobSummary, PageStart, Stoker, Workspace};

/// Rows per page.
const PAGE_SIZE: u64 = 50;

/// The deepest page a page number reaches.
const MAX_PAGE: u64 = bounds::MAX_OFFSET / PAGE_SIZE + 1;

/// The list's query string, as links and the filter form write it (empty fields are unset).
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    state: Option<String>,
    queue: Option<String>,
    #[serde(rename = "type")]
    job_type: Option<String>,
    search: Option<String>,
    page: Option<u64>,
    /// The pager's links: the page older than this job, or newer than this one.
    before: Option<i64>,
    after: Option<i64>,
}

/// Which page of a list is shown, how many there are, and the links to its neighbours.
/// Page numbers in a link skip rows (`OFFSET`); the pager's links start next to the first or
/// last job shown instead, which the index finds at once however deep the page.
struct Paging {
    page: u64,
    pages: u64,
    newer: Option<String>,
    older: Option<String>,
}

impl Paging {
    /// The page a query asks for (the first when it names none), and where it starts. A page
    /// number that would skip more than [`bounds::MAX_OFFSET`] rows is refused; the pager's
    /// links go deeper.
    fn requested(query: &ListQuery) -> Result<(u64, u64, Option<PageStart>), OutOfRange> {
        let page = query.page.unwrap_or(1).max(1);
        let from = match (query.before, query.after) {
            (Some(id), _) => Some(PageStart::Before(JobId(id))),
            (None, Some(id)) => Some(PageStart::After(JobId(id))),
            (None, None) => None,
        };
        let offset = match from {
            Some(_) => 0,
            None => (bounds::at_most("page", page, MAX_PAGE)? - 1) * PAGE_SIZE,
        };
        Ok((page, offset, from))
    }

    /// The pager of page `page` of `total` rows showing `rows`; `link` is the list's path
    /// and query without paging, ending in `?` or `&`.
    fn new(page: u64, total: u64, rows: &[Row], link: &str) -> Paging {
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        let newer = match (page, rows.first()) {
            (1, _) => None,
            (2, _) | (_, None) => Some(format!("{link}page={}", page - 1)),
            (_, Some(first)) => Some(format!("{link}after={}&page={}", first.id, page - 1)),
        };
        let older = rows
            .last()
            .filter(|_| page < pages)
            .map(|last| format!("{link}before={}&page={}", last.id, page + 1));
        Paging {
            page,
            pages,
            newer,
            older,
        }
    }
}

fn given(field: &Option<String>) -> Option<String> {
    field
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// A job as a row of a list.
struct Row {
    id: String,
    job_type: String,
    queue: String,
    attempt: u32,
    state_at: String,
    state_ago: String,
    run_at: Option<String>,
    run_in: Option<String>,
    reason: Option<String>,
}

impl Row {
    fn of(job: &JobSummary, now: chrono::DateTime<chrono::Utc>) -> Row {
        Row {
            id: job.id.to_string(),
            job_type: job.job_type.clone(),
            queue: job.queue.clone(),
            attempt: job.attempt,
            state_at: format::time(job.state_at),
            state_ago: format::relative(job.state_at, now),
            run_at: job.run_at.map(format::time),
            run_in: job.run_at.map(|at| format::relative(at, now)),
            reason: job.reason.clone(),
        }
    }
}

/// A state's tab: its name, its count, and whether it is the one shown.
struct Tab {
    state: &'static str,
    count: Option<u64>,
    current: bool,
}

/// A bulk action offered for the jobs of a state.
struct Action {
    name: &'static str,
    label: &'static str,
}

fn actions_for(state: JobState) -> Vec<Action> {
    let mut actions = Vec::new();
    if state.can_requeue() {
        actions.push(Action {
            name: "requeue",
            label: "Requeue",
        });
    }
    if state.can_enqueue_now() {
        actions.push(Action {
            name: "enqueue",
            label: "Enqueue now",
        });
    }
    if state.can_delete() {
        actions.push(Action {
            name: "delete",
            label: "Delete",
        });
    }
    actions
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct ListPage {
    frame: Frame,
    state: &'static str,
    tabs: Vec<Tab>,
    queues: Vec<String>,
    queue: String,
    job_type: String,
    search: String,
    table: JobTable,
    actions: Vec<Action>,
}

/// A page of jobs as both lists show it.
struct JobTable {
    rows: Vec<Row>,
    total: u64,
    paging: Paging,
    /// This page's path and query, for the forms to come back to.
    here: String,
    /// Whether rows show when they are due (instead of when they entered their state).
    due_column: bool,
}

impl JobTable {
    /// The page of the jobs `filter` selects that `query` asks for; `link` is the list's path
    /// and query without paging, ending in `?` or `&`.
    async fn read(
        workspace: &Workspace,
        mut filter: JobFilter,
        query: &ListQuery,
        link: &str,
        request: &HttpRequest,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::Result<JobTable> {
        let (page, offset, from) = Paging::requested(query)?;
        filter.from = from;
        filter.limit = PAGE_SIZE;
        filter.offset = offset;
        let listed = workspace.jobs(&filter).await?;
        let rows: Vec<Row> = listed.jobs.iter().map(|job| Row::of(job, now)).collect();
        Ok(JobTable {
            paging: Paging::new(page, listed.total, &rows, link),
            rows,
            total: listed.total,
            here: here(request),
            due_column: filter.retries,
        })
    }
}

/// The jobs of one state, filtered and paged.
pub(super) async fn list(
    stoker: web::Data<Stoker>,
    viewer: Viewer,
    ws: web::Path<String>,
    query: web::Query<ListQuery>,
    request: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let state: JobState = given(&query.state)
        .unwrap_or_else(|| "enqueued".to_owned())
        .parse()
        .map_err(|error| viewer.error(ApiError::bad_request(format!("{error}"))))?;
    let workspace = viewer.readable(&stoker, &ws).await?;
    let filter = JobFilter {
        state: Some(state),
        queue: given(&query.queue),
        job_type: given(&query.job_type),
        search: given(&query.search),
        ..JobFilter::default()
    };
    let link = format!(
        "{}/{ws}/jobs?{}&",
        viewer.base,
        filter_query(state, &filter)
    );
    let (queue, job_type, search) = (
        filter.queue.clone().unwrap_or_default(),
        filter.job_type.clone().unwrap_or_default(),
        filter.search.clone().unwrap_or_default(),
    );
    let table = JobTable::read(&workspace, filter, &query, &link, &request, stoker.now())
        .await
        .map_err(|e| viewer.error(e))?;
    let stats = workspace.stats().await.map_err(|e| viewer.error(e))?;
    // Statistics count finished jobs all-time; the jobs still kept are counted for the shown
    // tab only (as its total).
    let count_of = |tab: JobState| match tab {
        JobState::Enqueued => Some(stats.enqueued),
        JobState::Scheduled => Some(stats.scheduled),
        JobState::Processing => Some(stats.processing),
        JobState::Failed => Some(stats.failed),
        JobState::Awaiting => Some(stats.awaiting),
        JobState::Succeeded | JobState::Deleted => (tab == state).then_some(table.total),
    };
    let tabs = JobState::ALL
        .iter()
        .map(|&tab| Tab {
            state: tab.as_str(),
            count: count_of(tab),
            current: tab == state,
        })
        .collect();
    viewer.page(&ListPage {
        frame: viewer.frame(Some(&ws), "jobs"),
        state: state.as_str(),
        tabs,
        queues: stats
            .queues
            .iter()
            .map(|queue| queue.name.clone())
            .collect(),
        queue,
        job_type,
        search,
        table,
        actions: actions_for(state),
    })
}

/// The query string of a list: its state and filters.
fn filter_query(state: JobState, filter: &JobFilter) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("state", state.as_str());
    for (name, value) in [
        ("queue", &filter.queue),
        ("type", &filter.job_type),
        ("search", &filter.search),
    ] {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    query.finish()
}

/// The path and query of `request`, for a form to come back to.
fn here(request: &HttpRequest) -> String {
    let uri = request.uri();
    uri.path_and_query()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| uri.path().to_owned())
}

#[derive(Template)]
#[template(path = "retries.html")]
struct RetriesPage {
    frame: Frame,
    table: JobTable,
}

/// Jobs waiting for their next attempt.
pub(super) async fn retries(
    stoker: web::Data<Stoker>,
    viewer: Viewer,
    ws: web::Path<String>,
    query: web::Query<ListQuery>,
    request: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let workspace = viewer.readable(&stoker, &ws).await?;
    let filter = JobFilter {
        retries: true,
        ..JobFilter::default()
    };
    let link = format!("{}/{ws}/retries?", viewer.base);
    let table = JobTable::read(&workspace, filter, &query, &link, &request, stoker.now())
        .await
        .map_err(|e| viewer.error(e))?;
    viewer.page(&RetriesPage {
        frame: viewer.frame(Some(&ws), "retries"),
        table,
    })
}

/// A state the job entered, as the detail page shows it.
struct Step {
    state: String,
    at: String,
    ago: String,
    reason: Option<String>,
    error: Option<String>,
    data: Option<String>,
}

#[derive(Template)]
#[template(path = "job.html")]
struct DetailPage {
    frame: Frame,
    job: JobDetails,
    row: Row,
    args: String,
    delays: String,
    steps: Vec<Step>,
    actions: Vec<Action>,
}

/// One job in full.
pub(super) async fn detail(
    stoker: web::Data<Stoker>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (ws, id) = path.into_inner();
    let workspace = viewer.readable(&stoker, &ws).await?;
    let id = job_id(&viewer, &id)?;
    let job = workspace.job(id).await.map_err(|e| viewer.error(e))?;
    let now = stoker.now();
    let steps = job.history.iter().map(|entry| step(entry, now)).collect();
    let delays = match job.retry.delays_seconds.as_slice() {
        [] => "the default backoff".to_owned(),
        delays => delays
            .iter()
            .map(|delay| format!("{delay} s"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    viewer.page(&DetailPage {
        frame: viewer.frame(Some(&ws), "jobs"),
        row: Row::of(&job.summary, now),
        args: format::json(&job.args),
        delays,
        steps,
        actions: actions_for(job.summary.state),
        job,
    })
}

fn step(entry: &crate::HistoryEntry, now: chrono::DateTime<chrono::Utc>) -> Step {
    let error = entry
        .data
        .as_ref()
        .and_then(|data| data.get("error"))
        .and_then(|error| error.as_str())
        .map(str::to_owned);
    let data = match (&entry.data, &error) {
        (Some(data), None) => Some(format::json(data)),
        _ => None,
    };
    Step {
        state: entry.state.as_str().to_owned(),
        at: format::time(entry.at),
        ago: format::relative(entry.at, now),
        reason: entry.reason.clone(),
        error,
        data,
    }
}

fn job_id(viewer: &Viewer, text: &str) -> Result<JobId, PageError> {
    text.parse::<i64>()
        .map(JobId)
        .map_err(|_| viewer.error(ApiError::not_found(format!("no job `{text}`"))))
}

/// The job action a form names in its `action` field.
fn requested_action(viewer: &Viewer, form: &Form) -> Result<JobAction, PageError> {
    match form.one("action").unwrap_or_default() {
        "requeue" => Ok(JobAction::Requeue),
        "enqueue" => Ok(JobAction::EnqueueNow),
        "delete" => Ok(JobAction::Delete),
        other => Err(viewer.error(ApiError::bad_request(format!(
            "there is no job action `{other}`"
        )))),
    }
}

/// What the notice says `action` did.
fn done(action: JobAction) -> &'static str {
    match action {
        JobAction::Requeue => "Requeued",
        JobAction::EnqueueNow => "Enqueued",
        JobAction::Delete => "Deleted",
    }
}

/// An action on one job, from its page.
pub(super) async fn act(
    stoker: web::Data<Stoker>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (ws, id) = path.into_inner();
    let form = checked_form(&request, &body).map_err(|e| viewer.error(e))?;
    let workspace = viewer.writable(&stoker, &ws).await?;
    let id = job_id(&viewer, &id)?;
    let action = requested_action(&viewer, &form)?;
    let notice = match action.apply(&workspace, id).await {
        Ok(_) => format!("{} job {id}.", done(action)),
        Err(why) => format!("Not done: {why}"),
    };
    let back = viewer.back_to(form.one("back"), format!("{}/{ws}/jobs/{id}", viewer.base));
    Ok(viewer.redirect(&back, &notice))
}

/// An action on the jobs ticked in a list.
pub(super) async fn bulk(
    stoker: web::Data<Stoker>,
    viewer: Viewer,
    ws: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = checked_form(&request, &body).map_err(|e| viewer.error(e))?;
    let workspace = viewer.writable(&stoker, &ws).await?;
    let action = requested_action(&viewer, &form)?;
    let mut count = 0;
    let mut failures = Vec::new();
    for text in form.all("id") {
        match text.parse::<i64>() {
            Ok(id) => match action.apply(&workspace, JobId(id)).await {
                Ok(_) => count += 1,
                Err(why) => failures.push(format!("job {id}: {why}")),
            },
            Err(_) => failures.push(format!("`{text}` is not a job id")),
        }
    }
    let notice = page::outcome(Some(format!("{} {count} job(s).", done(action))), &failures);
    let back = viewer.back_to(form.one("back"), format!("{}/{ws}/jobs", viewer.base));
    Ok(viewer.redirect(&back, &notice))
}
