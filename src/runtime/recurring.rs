//! Recurring jobs in the runtime: checking a definition before it is stored, and planning what
//! a firing creates — one job per occurrence that should run, per the misfire mode — using the
//! job types this server knows.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::prepare::prepare;
use super::settings::Settings;
use crate::clock::from_millis as at;
use crate::error::{Error, Result};
use crate::job::NewJob;
use crate::name::check_recurring_id;
use crate::schedule::{CronSchedule, Misfire, occurrences_between, time_zone};
use crate::storage::{Firing, JobOptions, NewJobRow, RecurringRow, StoredRecurring};

/// How a recurring job runs, besides its job and its cron expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecurringOptions {
    /// The IANA zone the expression runs in (default `UTC`).
    pub time_zone: String,
    /// What happens to occurrences missed while no server ran (default `relaxed`).
    pub misfire: Misfire,
}

impl Default for RecurringOptions {
    fn default() -> Self {
        RecurringOptions {
            time_zone: "UTC".to_owned(),
            misfire: Misfire::Relaxed,
        }
    }
}

impl RecurringOptions {
    /// Runs the expression in `zone`.
    pub fn time_zone(mut self, zone: impl Into<String>) -> Self {
        self.time_zone = zone.into();
        self
    }

    /// Treats missed occurrences as `misfire` says.
    pub fn misfire(mut self, misfire: Misfire) -> Self {
        self.misfire = misfire;
        self
    }
}

/// Checks a recurring job definition; returns the row to store and its next occurrence.
pub(super) fn definition(
    settings: &Settings,
    id: &str,
    job: NewJob,
    cron: &str,
    options: RecurringOptions,
    now: i64,
) -> Result<(RecurringRow, Option<i64>)> {
    check_recurring_id(id)?;
    let schedule = CronSchedule::parse(cron)?;
    let zone = time_zone(&options.time_zone)?;
    if job.after.is_some() || job.retry.is_some() {
        return Err(Error::InvalidOptions(
            "a recurring job takes its job type's retry policy and cannot be a continuation".into(),
        ));
    }
    let job_type = job.job_type.clone();
    let job_options = JobOptions {
        priority: job.priority,
        unique: job.unique.clone(),
    };
    let row = prepare(settings, job, now)?;
    let next = schedule
        .next_after(at(now), zone)
        .map(|next| next.timestamp_millis());
    let row = RecurringRow {
        id: id.to_owned(),
        job_type,
        args: row.args,
        queue: row.queue,
        cron: cron.to_owned(),
        time_zone: options.time_zone,
        misfire: options.misfire,
        options: job_options,
    };
    Ok((row, next))
}

/// Why a recurring job runs now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cause {
    /// Its stored next execution is due.
    Schedule,
    /// Someone triggered it.
    Trigger,
}

/// Plans what firing `row` at `now` creates.
pub(super) fn plan(settings: &Settings, row: &StoredRecurring, now: i64, cause: Cause) -> Firing {
    let definition = &row.definition;
    let parsed = CronSchedule::parse(&definition.cron)
        .map_err(|error| error.to_string())
        .and_then(|schedule| {
            Ok((
                schedule,
                time_zone(&definition.time_zone).map_err(|e| e.to_string())?,
            ))
        });
    let (schedule, zone) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            return Firing {
                error: Some(error),
                ..Firing::default()
            };
        }
    };
    let next = schedule
        .next_after(at(now), zone)
        .map(|next| next.timestamp_millis());
    let occurrences = match cause {
        Cause::Trigger => vec![at(now)],
        Cause::Schedule => missed(row, &schedule, zone, now),
    };
    let jobs = occurrences
        .into_iter()
        .map(|occurrence| job_of(settings, definition, occurrence, cause, now))
        .collect::<Result<Vec<_>>>();
    match jobs {
        Ok(jobs) => Firing {
            jobs,
            next,
            error: None,
        },
        Err(error) => Firing {
            jobs: Vec::new(),
            next,
            error: Some(error.to_string()),
        },
    }
}

/// The occurrences from the stored next execution up to `now` that should run.
fn missed(
    row: &StoredRecurring,
    schedule: &CronSchedule,
    zone: chrono_tz::Tz,
    now: i64,
) -> Vec<DateTime<Utc>> {
    let Some(due) = row.next_execution.map(at) else {
        return Vec::new();
    };
    match row.definition.misfire {
        Misfire::Relaxed => vec![due],
        Misfire::Strict => occurrences_between(schedule, zone, due, at(now), Misfire::STRICT_LIMIT),
        Misfire::Ignorable if at(now) - due <= Misfire::TOLERANCE => vec![due],
        Misfire::Ignorable => Vec::new(),
    }
}

/// The job recurring job `row` creates for `occurrence`.
fn job_of(
    settings: &Settings,
    row: &RecurringRow,
    occurrence: DateTime<Utc>,
    cause: Cause,
    now: i64,
) -> Result<NewJobRow> {
    let args = serde_json::from_str(&row.args).map_err(|error| Error::InvalidArgs {
        job_type: row.job_type.clone(),
        reason: error.to_string(),
    })?;
    let mut job = NewJob::new(row.job_type.clone(), args).queue(row.queue.clone());
    job.priority = row.options.priority;
    job.unique = row.options.unique.clone();
    let mut new = prepare(settings, job, now)?;
    new.reason = Some(match cause {
        Cause::Schedule => format!("recurring job {}", row.id),
        Cause::Trigger => format!("recurring job {} triggered", row.id),
    });
    new.data = Some(json!({ "recurring": row.id, "occurrence": occurrence }));
    Ok(new)
}

/// The first occurrence after `now`, as stored.
fn next_after(schedule: &CronSchedule, zone: chrono_tz::Tz, now: i64) -> Option<i64> {
    schedule
        .next_after(at(now), zone)
        .map(|next| next.timestamp_millis())
}

/// The next occurrence after `now` of a stored expression, for a resumed job (none if the
/// expression or zone no longer parses).
pub(super) fn next_occurrence(cron: &str, time_zone_name: &str, now: i64) -> Option<i64> {
    let schedule = CronSchedule::parse(cron).ok()?;
    next_after(&schedule, time_zone(time_zone_name).ok()?, now)
}
