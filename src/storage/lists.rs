//! Lists for people and programs: jobs filtered and paged (newest first), servers, and the
//! succeeded/failed history by hour or day.

use chrono::{DateTime, Duration, DurationRound, Utc};
use entities::{counter, job, server};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

use super::counters::{day_key, hour_key};
use super::read::JobSummary;
use super::scope::STORE_KEY;
use super::{Storage, StorageResult, states, text};
use crate::clock::from_millis as time;
use crate::job::JobId;
use crate::state::JobState;

/// Which jobs to list: every job, newest first, 50 to a page unless its builder says otherwise.
///
/// ```
/// use stoker::{JobFilter, JobState};
///
/// let failed_invoices = JobFilter::new()
///     .state(JobState::Failed)
///     .job_type("send_invoice")
///     .limit(100);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in this state.
    pub(crate) state: Option<JobState>,
    /// Only jobs of this queue.
    pub(crate) queue: Option<String>,
    /// Only jobs of this type.
    pub(crate) job_type: Option<String>,
    /// Only jobs whose id is this, or whose type or arguments contain it.
    pub(crate) search: Option<String>,
    /// Only retries: scheduled jobs whose earlier run failed.
    pub(crate) retries: bool,
    /// Where a page starts without skipping rows (found through the index, however deep).
    pub(crate) from: Option<PageStart>,
    /// At most this many.
    pub(crate) limit: u64,
    /// Skipping this many.
    pub(crate) offset: u64,
}

/// Jobs to a page unless a filter says otherwise (as the API's `limit`).
pub(crate) const DEFAULT_LIMIT: u64 = 50;

impl Default for JobFilter {
    fn default() -> Self {
        JobFilter {
            state: None,
            queue: None,
            job_type: None,
            search: None,
            retries: false,
            from: None,
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

impl JobFilter {
    /// Every job, newest first, 50 to a page.
    pub fn new() -> Self {
        JobFilter::default()
    }

    /// Only jobs in `state`.
    pub fn state(mut self, state: JobState) -> Self {
        self.state = Some(state);
        self
    }

    /// Only jobs of `queue`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Only jobs of type `job_type`.
    pub fn job_type(mut self, job_type: impl Into<String>) -> Self {
        self.job_type = Some(job_type.into());
        self
    }

    /// Only the job whose id is `text`, and the jobs whose type or arguments contain it.
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// Only retries: scheduled jobs whose earlier run failed.
    pub fn retries_only(mut self) -> Self {
        self.retries = true;
        self
    }

    /// The page next to a job seen on another page, found through the index however deep.
    pub fn page(mut self, start: PageStart) -> Self {
        self.from = Some(start);
        self
    }

    /// At most `limit` jobs (1 to 1,000,000).
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = limit;
        self
    }

    /// Skipping the first `offset` jobs.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }
}

/// A page that starts next to a job seen on another page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageStart {
    /// The jobs older than this one: the next page.
    Before(JobId),
    /// The jobs newer than this one: the previous page.
    After(JobId),
}

/// A page of jobs and how many match in all.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct JobPage {
    /// The jobs, newest first.
    pub jobs: Vec<JobSummary>,
    /// How many jobs match the filter.
    pub total: u64,
}

/// A server working the workspace, as it last announced itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct ServerInfo {
    /// Its id.
    pub id: String,
    /// How many jobs it runs at once.
    pub workers: u32,
    /// The queues it works, in priority order.
    pub queues: Vec<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat_at: DateTime<Utc>,
}

/// How finely history is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    /// The last 24 hours, hour by hour.
    Hour,
    /// The last 30 days, day by day.
    Day,
}

/// Jobs that succeeded and failed in one hour or day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct HistoryPoint {
    /// The start of the hour or day.
    pub at: DateTime<Utc>,
    /// How many succeeded then.
    pub succeeded: u64,
    /// How many failed then (for good: retries are not counted).
    pub failed: u64,
}

/// The counter key of a state's count in the bucket that starts at an instant.
type BucketKey = fn(JobState, DateTime<Utc>) -> String;

/// `text` as a LIKE pattern that matches it anywhere, its wildcards escaped.
fn contains(text: &str) -> LikeExpr {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

impl Storage {
    /// The jobs matching `filter`, newest first.
    pub(crate) async fn list_jobs(&self, filter: &JobFilter) -> StorageResult<JobPage> {
        let mut query = job::Entity::find().filter(job::Column::Workspace.eq(self.key()));
        if let Some(state) = filter.state {
            query = query.filter(states::is(state));
        }
        if filter.retries {
            query = query
                .filter(states::is(JobState::Scheduled))
                .filter(job::Column::Attempt.gt(0));
        }
        // Filter texts come from outside: in the form text is stored in (PostgreSQL refuses a
        // NUL in a parameter as it does in a row), so they match what was stored.
        if let Some(queue) = &filter.queue {
            query = query.filter(job::Column::Queue.eq(text::storable(queue).as_ref()));
        }
        if let Some(job_type) = &filter.job_type {
            query = query.filter(job::Column::JobType.eq(text::storable(job_type).as_ref()));
        }
        if let Some(search) = filter.search.as_deref().filter(|search| !search.is_empty()) {
            let search = text::storable(search);
            let mut any = Condition::any()
                .add(Expr::col(job::Column::JobType).like(contains(&search)))
                .add(Expr::col(job::Column::Args).like(contains(&search)));
            if let Ok(id) = search.parse::<i64>() {
                any = any.add(job::Column::Id.eq(id));
            }
            query = query.filter(any);
        }
        let total = match (
            filter.state,
            &filter.job_type,
            &filter.search,
            filter.retries,
        ) {
            (Some(state), None, None, false) => {
                self.count_in(state, filter.queue.as_deref()).await?
            }
            _ => {
                let count = query.clone();
                self.reading(async |db| count.count(db).await).await?
            }
        };
        let paged = match filter.from {
            None => query.order_by_desc(job::Column::Id).offset(filter.offset),
            Some(PageStart::Before(id)) => query
                .filter(job::Column::Id.lt(id.0))
                .order_by_desc(job::Column::Id),
            Some(PageStart::After(id)) => query
                .filter(job::Column::Id.gt(id.0))
                .order_by_asc(job::Column::Id),
        };
        let paged = paged.limit(filter.limit);
        let mut rows = self.reading(async |db| paged.all(db).await).await?;
        if matches!(filter.from, Some(PageStart::After(_))) {
            rows.reverse();
        }
        let jobs = rows
            .iter()
            .map(JobSummary::from_row)
            .collect::<StorageResult<_>>()?;
        Ok(JobPage { jobs, total })
    }

    /// The servers that announced themselves in the workspace's store, by id (in a shared
    /// store every server works every workspace).
    pub(crate) async fn servers(&self) -> StorageResult<Vec<ServerInfo>> {
        let find = server::Entity::find()
            .filter(server::Column::Workspace.eq(STORE_KEY))
            .order_by_asc(server::Column::Id);
        let rows = self.reading(async |db| find.all(db).await).await?;
        Ok(rows
            .into_iter()
            .map(|row| ServerInfo {
                queues: row
                    .queues
                    .split(',')
                    .filter(|q| !q.is_empty())
                    .map(str::to_owned)
                    .collect(),
                workers: u32::try_from(row.workers).unwrap_or(0),
                started_at: time(row.started_at),
                heartbeat_at: time(row.heartbeat_at),
                id: row.id,
            })
            .collect())
    }

    /// Succeeded and failed counts per hour (last 24) or day (last 30), oldest first.
    pub(crate) async fn history(
        &self,
        granularity: Granularity,
        now: i64,
    ) -> StorageResult<Vec<HistoryPoint>> {
        let (step, count, key): (Duration, i64, BucketKey) = match granularity {
            Granularity::Hour => (Duration::hours(1), 24, hour_key),
            Granularity::Day => (Duration::days(1), 30, day_key),
        };
        let latest = time(now).duration_trunc(step).unwrap_or_default();
        let starts: Vec<DateTime<Utc>> =
            (0..count).rev().map(|n| latest - step * n as i32).collect();
        let keys: Vec<String> = starts
            .iter()
            .flat_map(|&at| [key(JobState::Succeeded, at), key(JobState::Failed, at)])
            .collect();
        let find = counter::Entity::find()
            .filter(counter::Column::Workspace.eq(self.key()))
            .filter(counter::Column::Key.is_in(keys));
        let values: std::collections::HashMap<String, i64> = self
            .reading(async |db| find.all(db).await)
            .await?
            .into_iter()
            .map(|row| (row.key, row.value))
            .collect();
        let value = |key: String| {
            values
                .get(&key)
                .map_or(0, |&v| u64::try_from(v).unwrap_or(0))
        };
        Ok(starts
            .into_iter()
            .map(|at| HistoryPoint {
                at,
                succeeded: value(key(JobState::Succeeded, at)),
                failed: value(key(JobState::Failed, at)),
            })
            .collect())
    }
}
