//! Recurring jobs: their definitions, reads for people, and firing. Firing is a compare-and-swap
//! on the stored next execution, in the transaction that creates the occurrence's jobs: each
//! occurrence fires once, whatever the number of schedulers, restarts or servers.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entities::{job, recurring_job};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use serde::{Deserialize, Serialize};

use super::enqueue::{self, NewJobRow};
use super::{Retention, Scope, Storage, StorageResult, states, text};
use crate::clock::from_millis as time;
use crate::job::{JobId, Unique};
use crate::schedule::Misfire;
use crate::state::JobState;

/// A checked recurring job definition, ready to be stored.
#[derive(Clone, Debug)]
pub(crate) struct RecurringRow {
    pub(crate) id: String,
    pub(crate) job_type: String,
    pub(crate) args: String,
    pub(crate) queue: String,
    pub(crate) cron: String,
    pub(crate) time_zone: String,
    pub(crate) misfire: Misfire,
    pub(crate) options: JobOptions,
}

/// What a recurring job's jobs are created with besides their type, arguments and queue;
/// stored as JSON, absent fields left to the job type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) priority: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) unique: Option<Unique>,
}

impl JobOptions {
    /// The stored text: none when no option is set.
    fn stored(&self) -> Option<String> {
        (*self != JobOptions::default())
            .then(|| serde_json::to_string(self).expect("options serialize"))
    }

    /// Options as stored. Text stoker did not write reads as no options: an occurrence still
    /// fires, where refusing the row would stop the job for good.
    fn of_stored(text: Option<&str>) -> Self {
        text.and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }
}

/// A recurring job as people see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct RecurringJob {
    /// Its id.
    pub id: String,
    /// The job type of the jobs it creates.
    #[serde(rename = "type")]
    pub job_type: String,
    /// Their arguments.
    #[cfg_attr(feature = "web", schema(value_type = Object))]
    pub args: serde_json::Value,
    /// The cron expression.
    pub cron: String,
    /// The zone the expression runs in.
    pub time_zone: String,
    /// The queue of the jobs it creates.
    pub queue: String,
    /// What happens to missed occurrences.
    pub misfire: Misfire,
    /// The priority of the jobs it creates, when it sets one.
    pub priority: Option<u8>,
    /// The unique key of the jobs it creates, when they are unique.
    pub unique: Option<Unique>,
    /// Whether it is paused.
    pub paused: bool,
    /// Its next occurrence.
    pub next_execution: Option<DateTime<Utc>>,
    /// When it last created a job.
    pub last_execution: Option<DateTime<Utc>>,
    /// The last job it created.
    pub last_job_id: Option<JobId>,
    /// That job's state, while it exists.
    pub last_job_state: Option<JobState>,
    /// Why its last occurrence created no job.
    pub error: Option<String>,
    /// When it was first added.
    pub created_at: DateTime<Utc>,
}

/// What one firing of a recurring job does, as the runtime planned it.
#[derive(Debug, Default)]
pub(crate) struct Firing {
    /// The jobs to create (none when the occurrence is skipped or broken).
    pub(crate) jobs: Vec<NewJobRow>,
    /// The next occurrence to store.
    pub(crate) next: Option<i64>,
    /// Why no job could be created.
    pub(crate) error: Option<String>,
}

/// A stored recurring job whose occurrence is being planned: its definition and the next
/// execution it has stored (none once its expression stopped producing occurrences).
#[derive(Clone, Debug)]
pub(crate) struct StoredRecurring {
    pub(crate) definition: RecurringRow,
    pub(crate) next_execution: Option<i64>,
}

impl From<recurring_job::Model> for StoredRecurring {
    /// The row as planned. A misfire mode stoker did not write plans as the default one: an
    /// occurrence still fires, where refusing the row would stop the job for good.
    fn from(row: recurring_job::Model) -> Self {
        StoredRecurring {
            definition: RecurringRow {
                misfire: row.misfire.parse().unwrap_or_default(),
                options: JobOptions::of_stored(row.options.as_deref()),
                id: row.id,
                job_type: row.job_type,
                args: row.args,
                queue: row.queue,
                cron: row.cron,
                time_zone: row.time_zone,
            },
            next_execution: row.next_execution,
        }
    }
}

/// Plans a firing of a stored recurring job.
pub(crate) type Planner<'a> = &'a (dyn Fn(&StoredRecurring) -> Firing + Sync);

impl Storage {
    /// Creates recurring job `row.id`, or updates its definition (it keeps its pause, history
    /// and creation time); `next` is its next occurrence.
    pub(crate) async fn upsert_recurring(
        &self,
        row: RecurringRow,
        next: Option<i64>,
        now: i64,
    ) -> StorageResult<()> {
        let model = recurring_job::ActiveModel {
            workspace: Set(self.key().to_owned()),
            id: Set(row.id),
            job_type: Set(row.job_type),
            args: Set(row.args),
            queue: Set(row.queue),
            cron: Set(row.cron),
            time_zone: Set(row.time_zone),
            misfire: Set(row.misfire.as_str().to_owned()),
            options: Set(row.options.stored()),
            paused: Set(false),
            next_execution: Set(next),
            last_execution: Set(None),
            last_job_id: Set(None),
            error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
        use recurring_job::Column as C;
        let changed = [
            C::JobType,
            C::Args,
            C::Queue,
            C::Cron,
            C::TimeZone,
            C::Misfire,
            C::Options,
            C::NextExecution,
            C::Error,
            C::UpdatedAt,
        ];
        let upsert = recurring_job::Entity::insert(model);
        let upsert = upsert.on_conflict(
            OnConflict::columns([C::Workspace, C::Id])
                .update_columns(changed)
                .to_owned(),
        );
        self.writing(async |db| upsert.exec_without_returning(db).await)
            .await?;
        Ok(())
    }

    /// Recurring job `id` as people see it.
    pub(crate) async fn recurring(&self, id: &str) -> StorageResult<Option<RecurringJob>> {
        let db = self.snapshot().await?;
        let Some(row) = recurring_job::Entity::find_by_id(self.row_id(id))
            .one(&db)
            .await?
        else {
            return Ok(None);
        };
        let presented = present(&db, self.key(), vec![row]).await?.pop();
        db.commit().await?;
        Ok(presented)
    }

    /// Every recurring job, by id.
    pub(crate) async fn recurring_jobs(&self) -> StorageResult<Vec<RecurringJob>> {
        let db = self.snapshot().await?;
        let rows = recurring_job::Entity::find()
            .filter(recurring_job::Column::Workspace.eq(self.key()))
            .order_by_asc(recurring_job::Column::Id)
            .all(&db)
            .await?;
        let presented = present(&db, self.key(), rows).await?;
        db.commit().await?;
        Ok(presented)
    }

    /// Removes recurring job `id`; false when there was none.
    pub(crate) async fn remove_recurring(&self, id: &str) -> StorageResult<bool> {
        let delete = recurring_job::Entity::delete_by_id(self.row_id(id));
        let deleted = self.writing(async |db| delete.exec(db).await).await?;
        Ok(deleted.rows_affected > 0)
    }

    /// Pauses recurring job `id`, or resumes it with `next` as its next occurrence; false when
    /// there is none.
    pub(crate) async fn set_paused(
        &self,
        id: &str,
        paused: bool,
        next: Option<i64>,
        now: i64,
    ) -> StorageResult<bool> {
        let mut update = Query::update();
        update
            .table(recurring_job::Entity)
            .value(recurring_job::Column::Paused, paused)
            .value(recurring_job::Column::UpdatedAt, now)
            .and_where(Expr::col(recurring_job::Column::Workspace).eq(self.key()))
            .and_where(Expr::col(recurring_job::Column::Id).eq(id));
        if !paused {
            update.value(recurring_job::Column::NextExecution, next);
        }
        let updated = self.writing(async |db| db.execute(&update).await).await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Creates the job `plan` makes of recurring job `id` now, outside its schedule; `None`
    /// when there is no such recurring job. The plan's error, if any, is returned as is. The
    /// job is answered as created, so it is stored durably (see [`Storage::durably`]).
    pub(crate) async fn trigger_recurring(
        &self,
        id: &str,
        plan: Planner<'_>,
        now: i64,
    ) -> StorageResult<Option<Result<i64, String>>> {
        let (key, retention) = (self.key(), self.retention);
        self.durably(async |txn| {
            let Some(row) = recurring_job::Entity::find_by_id(self.row_id(id))
                .one(txn)
                .await?
            else {
                return Ok(None);
            };
            let firing = plan(&row.into());
            if let Some(error) = firing.error {
                return Ok(Some(Err(error)));
            }
            let ids = record_jobs(txn, key, id, firing.jobs, now, retention).await?;
            Ok(ids.last().map(|&id| Ok(id)))
        })
        .await
    }

    /// The primary key of the workspace's recurring job `id`.
    fn row_id(&self, id: &str) -> (String, String) {
        (self.key().to_owned(), id.to_owned())
    }
}

/// A job recurring job `recurring` of the workspace whose rows carry `key` created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fired {
    pub(crate) key: String,
    pub(crate) recurring: String,
    pub(crate) job: i64,
}

/// Fires every unpaused recurring job of `scope` that is due at `now`, as `plan` says, in
/// `db`'s transaction, its jobs kept as `retention_of` its workspace says; returns the jobs
/// created.
pub(super) async fn fire_due(
    db: &impl ConnectionTrait,
    scope: Scope<'_>,
    now: i64,
    plan: Planner<'_>,
    retention_of: &(dyn Fn(&str) -> Retention + Sync),
) -> StorageResult<Vec<Fired>> {
    let due = recurring_job::Entity::find()
        .apply_if(scope.key(), |find, key| {
            find.filter(recurring_job::Column::Workspace.eq(key))
        })
        .filter(states::unpaused())
        .filter(recurring_job::Column::NextExecution.lte(now))
        .all(db)
        .await?;
    let mut created = Vec::new();
    for mut row in due {
        let key = std::mem::take(&mut row.workspace);
        let row = StoredRecurring::from(row);
        let (id, firing) = (row.definition.id.as_str(), plan(&row));
        let swap = Query::update()
            .table(recurring_job::Entity)
            .value(recurring_job::Column::NextExecution, firing.next)
            .value(
                recurring_job::Column::Error,
                firing
                    .error
                    .as_deref()
                    .map(|error| text::storable(error).into_owned()),
            )
            .and_where(Expr::col(recurring_job::Column::Workspace).eq(key.as_str()))
            .and_where(Expr::col(recurring_job::Column::Id).eq(id))
            .and_where(Expr::col(recurring_job::Column::NextExecution).eq(row.next_execution))
            .to_owned();
        if db.execute(&swap).await?.rows_affected() == 1 {
            let jobs = record_jobs(db, &key, id, firing.jobs, now, retention_of(&key)).await?;
            created.extend(jobs.into_iter().map(|job| Fired {
                key: key.clone(),
                recurring: id.to_owned(),
                job,
            }));
        }
    }
    Ok(created)
}

/// Creates `jobs` for recurring job `id` of the workspace whose rows carry `key` and records
/// the last of them on it.
async fn record_jobs(
    txn: &impl ConnectionTrait,
    key: &str,
    id: &str,
    jobs: Vec<NewJobRow>,
    now: i64,
    retention: Retention,
) -> StorageResult<Vec<i64>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = enqueue::insert(txn, key, jobs, now, retention)
        .await?
        .into_iter()
        .map(|job| job.id)
        .collect();
    let record = Query::update()
        .table(recurring_job::Entity)
        .value(recurring_job::Column::LastExecution, now)
        .value(recurring_job::Column::LastJobId, ids.last().copied())
        .and_where(Expr::col(recurring_job::Column::Workspace).eq(key))
        .and_where(Expr::col(recurring_job::Column::Id).eq(id))
        .to_owned();
    txn.execute(&record).await?;
    Ok(ids)
}

/// Rows of the workspace whose rows carry `key` as people see them, with their last jobs'
/// states (one query for all).
async fn present(
    db: &impl ConnectionTrait,
    key: &str,
    rows: Vec<recurring_job::Model>,
) -> StorageResult<Vec<RecurringJob>> {
    let last_jobs: Vec<i64> = rows.iter().filter_map(|row| row.last_job_id).collect();
    let states: HashMap<i64, String> = job::Entity::find()
        .select_only()
        .columns([job::Column::Id, job::Column::State])
        .filter(job::Column::Workspace.eq(key))
        .filter(job::Column::Id.is_in(last_jobs))
        .into_tuple::<(i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    // A row stoker did not write is shown as it fires, never refused: one foreign row must
    // not hide the workspace's other recurring jobs. Arguments that are not JSON show as
    // their stored text (a firing creates no job of them and says why in `error`); a misfire
    // mode stoker does not know fires, and shows, as the default one.
    let shown = rows
        .into_iter()
        .map(|row| {
            let args = serde_json::from_str(&row.args)
                .unwrap_or_else(|_| serde_json::Value::String(row.args.clone()));
            let options = JobOptions::of_stored(row.options.as_deref());
            RecurringJob {
                args,
                priority: options.priority,
                unique: options.unique,
                misfire: row.misfire.parse().unwrap_or_default(),
                last_job_state: row.last_job_id.and_then(|id| states.get(&id)?.parse().ok()),
                next_execution: row.next_execution.map(time),
                last_execution: row.last_execution.map(time),
                last_job_id: row.last_job_id.map(JobId),
                created_at: time(row.created_at),
                id: row.id,
                job_type: row.job_type,
                cron: row.cron,
                time_zone: row.time_zone,
                queue: row.queue,
                paused: row.paused,
                error: row.error,
            }
        })
        .collect();
    Ok(shown)
}
