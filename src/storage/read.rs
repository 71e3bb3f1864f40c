//! Reads for people and programs: a job with its history. Reads go through the read-only pool.

use chrono::{DateTime, Utc};
use entities::{job, job_history};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::{Storage, StorageError, StorageResult, states, unique};
use crate::clock::from_millis as time;
use crate::job::JobId;
use crate::state::{ContinueOn, JobState};

/// A job as lists show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct JobSummary {
    /// Its id.
    pub id: JobId,
    /// Its registered type.
    #[serde(rename = "type")]
    pub job_type: String,
    /// Its queue.
    pub queue: String,
    /// Where it is.
    pub state: JobState,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it entered its state.
    pub state_at: DateTime<Utc>,
    /// How many runs started.
    pub attempt: u32,
    /// Why it is in its state, when there is more to say.
    pub reason: Option<String>,
    /// When it is (or was) due, for a delayed job or a retry.
    pub run_at: Option<DateTime<Utc>>,
}

/// A job's retry settings as stored with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct StoredRetry {
    /// Retries after the first failed run.
    pub attempts: u32,
    /// Fixed delays in seconds; empty for the default backoff.
    pub delays_seconds: Vec<u64>,
    /// `failed` or `deleted`.
    pub on_exhausted: JobState,
}

/// A state a job entered.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct HistoryEntry {
    /// The state.
    pub state: JobState,
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: Option<String>,
    /// Details, such as `{"error", "attempt"}` for a failed run.
    #[cfg_attr(feature = "web", schema(value_type = Option<Object>))]
    pub data: Option<serde_json::Value>,
}

/// What a continuation waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct Continuation {
    /// The parent job.
    pub job: JobId,
    /// What the parent must do.
    pub on: ContinueOn,
}

/// A job's unique key as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct StoredUnique {
    /// The key: as given, or the job type and a digest of its arguments.
    pub key: String,
    /// The scope it was enqueued with (`queued`, `active`, `period`); none once the job left
    /// a `queued` or `active` scope for good (it started, ended, or was requeued after).
    pub scope: Option<String>,
    /// Whether the job holds the key now: a new job with it would be its duplicate.
    pub held: bool,
}

/// A job with everything known about it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct JobDetails {
    /// What lists show.
    #[serde(flatten)]
    pub summary: JobSummary,
    /// Its arguments.
    #[cfg_attr(feature = "web", schema(value_type = Object))]
    pub args: serde_json::Value,
    /// Its retry settings.
    pub retry: StoredRetry,
    /// For a continuation: its parent and what it waits for.
    pub after: Option<Continuation>,
    /// Within its queue, lower starts first (0..9).
    pub priority: u8,
    /// Its unique key, if it has one.
    pub unique: Option<StoredUnique>,
    /// Its states, newest first.
    pub history: Vec<HistoryEntry>,
    /// The continuations still waiting for it (at most 100), oldest first.
    pub continuations: Vec<JobId>,
}

/// The most waiting continuations a job's details list.
const CONTINUATIONS_SHOWN: u64 = 100;

fn parse_state(text: &str) -> StorageResult<JobState> {
    text.parse()
        .map_err(|error| StorageError::Corrupt(format!("{error}")))
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> StorageResult<T> {
    serde_json::from_str(text).map_err(|error| StorageError::Corrupt(format!("{what}: {error}")))
}

impl JobSummary {
    pub(super) fn from_row(row: &job::Model) -> StorageResult<Self> {
        Ok(JobSummary {
            id: JobId(row.id),
            job_type: row.job_type.clone(),
            queue: row.queue.clone(),
            state: parse_state(&row.state)?,
            created_at: time(row.created_at),
            state_at: time(row.state_at),
            attempt: row.attempt.max(0) as u32,
            reason: row.reason.clone(),
            run_at: row.run_at.map(time),
        })
    }
}

impl HistoryEntry {
    fn from_row(row: job_history::Model) -> StorageResult<Self> {
        Ok(HistoryEntry {
            state: parse_state(&row.state)?,
            at: time(row.at),
            reason: row.reason,
            data: row
                .data
                .as_deref()
                .map(|d| parse_json(d, "history data"))
                .transpose()?,
        })
    }
}

impl Storage {
    /// Job `id` with its history, if it exists, as of `now`.
    pub(crate) async fn job(&self, id: i64, now: i64) -> StorageResult<Option<JobDetails>> {
        let (db, key) = (self.snapshot().await?, self.key());
        let Some(row) = job::Entity::find_by_id((key.to_owned(), id))
            .one(&db)
            .await?
        else {
            return Ok(None);
        };
        let history = job_history::Entity::find()
            .filter(job_history::Column::Workspace.eq(key))
            .filter(job_history::Column::JobId.eq(id))
            .order_by_desc(job_history::Column::Id)
            .all(&db)
            .await?
            .into_iter()
            .map(HistoryEntry::from_row)
            .collect::<StorageResult<_>>()?;
        let delays: Vec<u64> = match &row.retry_delays {
            Some(text) => parse_json(text, "retry delays")?,
            None => Vec::new(),
        };
        let continuations = waiting_continuations(&db, key, id).await?;
        let unique = unique::of_job(&db, key, &row, now).await?;
        db.commit().await?;
        Ok(Some(JobDetails {
            summary: JobSummary::from_row(&row)?,
            args: parse_json(&row.args, "args")?,
            retry: StoredRetry {
                attempts: row.max_retries.max(0) as u32,
                delays_seconds: delays,
                on_exhausted: parse_state(&row.on_exhausted)?,
            },
            after: row.parent_id.map(|parent| Continuation {
                job: JobId(parent),
                on: row
                    .continue_on
                    .as_deref()
                    .and_then(|on| on.parse().ok())
                    .unwrap_or_default(),
            }),
            priority: row.priority.clamp(0, u8::MAX.into()) as u8,
            unique,
            history,
            continuations,
        }))
    }
}

/// The ids of the jobs waiting for job `id` of the workspace whose rows carry `key` to finish.
async fn waiting_continuations(
    db: &impl ConnectionTrait,
    key: &str,
    id: i64,
) -> StorageResult<Vec<JobId>> {
    let ids: Vec<i64> = job::Entity::find()
        .select_only()
        .column(job::Column::Id)
        .filter(job::Column::Workspace.eq(key))
        .filter(states::is(JobState::Awaiting))
        .filter(job::Column::ParentId.eq(id))
        .order_by_asc(job::Column::Id)
        .limit(CONTINUATIONS_SHOWN)
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().map(JobId).collect())
}
