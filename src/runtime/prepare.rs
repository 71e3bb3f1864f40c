//! Turning a [`NewJob`] into a row to store: the job type must be registered, JSON arguments
//! must decode into it, names must follow their rules, times and delays must be within
//! [`bounds`]; the type's queue and retry policy fill what the job leaves open. Nothing is
//! stored when a check fails.

use crate::bounds;
use crate::error::{Error, Result};
use crate::job::{Args, MAX_UNIQUE_KEY_CHARS, NewJob, Start, Unique, UniqueScope, key_of_args};
use crate::name::check_queue;
use crate::retry::MAX_ATTEMPTS;
use crate::storage::{NewJobRow, UniqueRow};

use super::settings::{Settings, millis};

/// The highest (last) priority; 0 is the first.
const MAX_PRIORITY: u8 = 9;

/// Checks `job` and resolves its defaults, as of `now`.
pub(super) fn prepare(settings: &Settings, job: NewJob, now: i64) -> Result<NewJobRow> {
    let job_type = settings
        .registry
        .get(&job.job_type)
        .ok_or_else(|| Error::UnknownJobType(job.job_type.clone()))?;
    let invalid_args = |reason| Error::InvalidArgs {
        job_type: job.job_type.clone(),
        reason,
    };
    // Jobs named at run time are unique as their type says unless the enqueuer says otherwise;
    // a typed job's value said so when it became a `NewJob`.
    let (args, type_unique) = match job.args {
        Args::Typed(json) => (json, None),
        Args::Json(value) => {
            let unique = job_type.check(&value).map_err(invalid_args)?;
            (value.to_string(), unique)
        }
        Args::Unserializable(reason) => return Err(invalid_args(reason)),
    };
    let priority = job.priority.unwrap_or(job_type.priority);
    if priority > MAX_PRIORITY {
        return Err(Error::InvalidOptions(format!(
            "priority must be 0 to {MAX_PRIORITY}, not {priority}"
        )));
    }
    let unique = job
        .unique
        .or(type_unique)
        .map(|unique| unique_row(&unique, &job.job_type, &args))
        .transpose()?;
    let queue = job.queue.unwrap_or_else(|| job_type.queue.to_owned());
    check_queue(&queue)?;
    let retry = job.retry.unwrap_or_else(|| job_type.retry_policy.clone());
    if retry.attempts > MAX_ATTEMPTS {
        return Err(Error::InvalidRetry(format!(
            "attempts must be at most {MAX_ATTEMPTS}, not {}",
            retry.attempts
        )));
    }
    if job.after.is_some() && job.start != Start::Now {
        return Err(Error::InvalidOptions(
            "a continuation starts when its parent finishes, not at a time".into(),
        ));
    }
    let delays = retry
        .delays
        .iter()
        .map(|&delay| bounds::duration("retry delay", delay).map(|delay| delay.as_secs()))
        .collect::<Result<Vec<u64>, _>>()?;
    let run_at = match job.start {
        Start::Now => None,
        Start::After(delay) => Some(now + millis(bounds::duration("delay", delay)?)),
        Start::At(at) => Some(bounds::time("run_at", at)?.timestamp_millis()),
    }
    .filter(|&at| at > now);
    Ok(NewJobRow {
        job_type: job.job_type,
        queue,
        args,
        max_retries: retry.attempts as i32,
        retry_delays: (!delays.is_empty()).then(|| serde_json::json!(delays).to_string()),
        on_exhausted: retry.on_exhausted.state(),
        run_at,
        parent: job.after.map(|(parent, on)| (parent.0, on)),
        reason: None,
        data: None,
        trace_parent: super::trace_context::current(),
        priority: priority.into(),
        unique,
    })
}

/// The stored form of `unique` for a job of `job_type` with arguments `args` (JSON text).
fn unique_row(unique: &Unique, job_type: &str, args: &str) -> Result<UniqueRow> {
    if let UniqueScope::Period(period) = unique.scope
        && bounds::duration("unique period", period)? < std::time::Duration::from_secs(1)
    {
        return Err(Error::InvalidOptions(
            "a unique period must be at least a second".into(),
        ));
    }
    let key = match &unique.key {
        Some(key) => {
            let chars = key.chars().count();
            if !(1..=MAX_UNIQUE_KEY_CHARS).contains(&chars) {
                return Err(Error::InvalidOptions(format!(
                    "a unique key has 1 to {MAX_UNIQUE_KEY_CHARS} characters, not {chars}"
                )));
            }
            if key.contains('\0') {
                return Err(Error::InvalidOptions(
                    "a unique key cannot contain NUL".into(),
                ));
            }
            key.clone()
        }
        None => {
            let args: serde_json::Value = serde_json::from_str(args).map_err(|error| {
                Error::InvalidOptions(format!("arguments are not JSON: {error}"))
            })?;
            key_of_args(job_type, &args)
        }
    };
    Ok(UniqueRow {
        key,
        scope: unique.scope,
    })
}
