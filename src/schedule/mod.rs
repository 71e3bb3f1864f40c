//! Schedules: cron expressions in a time zone, and the instants they fire at.
//!
//! Expressions have 5 fields (`minute hour day-of-month month day-of-week`), or 6 with seconds
//! first, or are one of the macros `@yearly @annually @monthly @weekly @daily @midnight @hourly
//! @every_minute @every_second`. Names (`JAN`, `MON`), ranges, steps and lists work in every
//! field; day-of-week counts 0-7 from Sunday (0 and 7 both Sunday), as Unix cron and Hangfire do.
//! The `cron` crate parses; this module supplies the 5-field form, the macros, the weekday
//! numbering and the time zones.
//!
//! Daylight saving time follows Hangfire's Cronos: an occurrence that falls in a skipped hour
//! fires at the instant of the jump; in a repeated hour, a fixed-time expression fires once
//! (in the first copy of the hour) and an interval expression (a step or `*` in the second,
//! minute or hour field) fires in both copies.

#[cfg(feature = "web")]
mod describe;
mod expression;
mod helpers;
mod occurrences;

#[cfg(feature = "web")]
pub(crate) use describe::describe;
pub use expression::{CronError, CronSchedule};
pub use helpers::Cron;
pub(crate) use occurrences::occurrences_between;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::bounds::{self, OutOfRange};

/// What a recurring job does with the occurrences it missed while no server ran it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// One catch-up run for all of them.
    #[default]
    Relaxed,
    /// One run per missed occurrence (at most [`Misfire::STRICT_LIMIT`]).
    Strict,
    /// Skip them: an occurrence more than [`Misfire::TOLERANCE`] late does not run.
    Ignorable,
}

impl Misfire {
    /// Every mode.
    pub const ALL: [Misfire; 3] = [Misfire::Relaxed, Misfire::Strict, Misfire::Ignorable];
    /// How late an occurrence may fire and still count as on time (`ignorable`).
    pub const TOLERANCE: chrono::Duration = chrono::Duration::seconds(60);
    /// The most runs one `strict` catch-up creates.
    pub const STRICT_LIMIT: usize = 1000;

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Misfire::Relaxed => "relaxed",
            Misfire::Strict => "strict",
            Misfire::Ignorable => "ignorable",
        }
    }
}

impl std::str::FromStr for Misfire {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Misfire::ALL
            .into_iter()
            .find(|mode| mode.as_str() == name)
            .ok_or_else(|| {
                format!("unknown misfire mode `{name}`: use relaxed, strict or ignorable")
            })
    }
}

/// A time zone name that is not in the IANA database.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone `{0}`: use an IANA name such as `Europe/Berlin` or `UTC`")]
pub struct UnknownTimeZone(pub String);

/// Looks up an IANA time zone by name.
pub(crate) fn time_zone(name: &str) -> Result<Tz, UnknownTimeZone> {
    name.parse().map_err(|_| UnknownTimeZone(name.to_owned()))
}

/// Why a cron preview could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PreviewError {
    /// The expression is wrong.
    #[error(transparent)]
    Cron(#[from] CronError),
    /// The zone is unknown.
    #[error(transparent)]
    TimeZone(#[from] UnknownTimeZone),
    /// `after` is outside the years 1970-9999.
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
}

/// The next `count` occurrences of `expression` in zone `time_zone_name`, strictly after
/// `after` (within the years 1970-9999), as `GET /api/cron/next` answers them.
pub fn next_occurrences(
    expression: &str,
    time_zone_name: &str,
    after: DateTime<Utc>,
    count: usize,
) -> Result<Vec<DateTime<Utc>>, PreviewError> {
    let zone = time_zone(time_zone_name)?;
    let schedule = CronSchedule::parse(expression)?;
    let after = bounds::time("after", after)?;
    let mut occurrences = Vec::with_capacity(count);
    let mut cursor = after;
    while occurrences.len() < count {
        let Some(next) = schedule.next_after(cursor, zone) else {
            break;
        };
        occurrences.push(next);
        cursor = next;
    }
    Ok(occurrences)
}
