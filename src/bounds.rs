//! The ranges stoker accepts for the numbers and times it is given (API.md, "Stored text and
//! input bounds"): times within the years 1970-9999, durations of at most 10 years, list offsets
//! of at most 1,000,000. Each rule is checked here once, for the HTTP API, the dashboard and the
//! Rust API alike, before anything is stored or added to a clock reading, so that no input can
//! overflow the arithmetic on stored times (Unix milliseconds in an `i64`).

use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};

/// The longest delay, retry delay or other duration accepted: 10 years, counted with three leap
/// days (3,653 days).
pub const MAX_DURATION: Duration = Duration::from_secs(MAX_DURATION_SECONDS);

/// [`MAX_DURATION`] in whole seconds, as the HTTP API states its limits.
pub const MAX_DURATION_SECONDS: u64 = 3653 * 24 * 3600;

/// The most rows a list may skip (`offset`), or show at once.
pub const MAX_OFFSET: u64 = 1_000_000;

/// The first and the last year a time may fall in.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// A number or a time outside the range stoker accepts; nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{what}` must be {rule}")]
pub struct OutOfRange {
    /// What was given: a field, parameter or option name.
    pub what: String,
    /// The range it must be in, for a person.
    pub rule: String,
}

impl OutOfRange {
    fn new(what: &str, rule: impl Into<String>) -> Self {
        OutOfRange {
            what: what.to_owned(),
            rule: rule.into(),
        }
    }
}

/// `at`, if it falls within [`YEARS`]; `what` names it in the error.
pub(crate) fn time(what: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, OutOfRange> {
    if YEARS.contains(&at.year()) {
        Ok(at)
    } else {
        Err(OutOfRange::new(
            what,
            format!("within the years {}-{}", YEARS.start(), YEARS.end()),
        ))
    }
}

/// `duration`, if it is at most [`MAX_DURATION`].
pub(crate) fn duration(what: &str, duration: Duration) -> Result<Duration, OutOfRange> {
    if duration <= MAX_DURATION {
        Ok(duration)
    } else {
        Err(OutOfRange::new(what, seconds_rule()))
    }
}

/// The duration of `seconds` (fractions allowed), if it is a number from 0 to
/// [`MAX_DURATION_SECONDS`]: not negative, NaN or infinite.
#[cfg(feature = "web")]
pub(crate) fn seconds(what: &str, seconds: f64) -> Result<Duration, OutOfRange> {
    if (0.0..=MAX_DURATION_SECONDS as f64).contains(&seconds) {
        Ok(Duration::from_secs_f64(seconds))
    } else {
        Err(OutOfRange::new(what, seconds_rule()))
    }
}

fn seconds_rule() -> String {
    format!("a number of seconds from 0 to {MAX_DURATION_SECONDS} (10 years)")
}

/// `value`, if it is at most `max`.
pub(crate) fn at_most(what: &str, value: u64, max: u64) -> Result<u64, OutOfRange> {
    if value <= max {
        Ok(value)
    } else {
        Err(OutOfRange::new(what, format!("at most {max}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn times_from_1970_to_the_end_of_9999_are_accepted() {
        for ok in ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z"] {
            assert_eq!(time("run_at", utc(ok)), Ok(utc(ok)));
        }
        for out in ["1969-12-31T23:59:59Z", "+10000-01-01T00:00:00Z"] {
            let error = time("run_at", utc(out)).unwrap_err();
            assert_eq!(
                error.to_string(),
                "`run_at` must be within the years 1970-9999"
            );
        }
    }

    #[test]
    fn seconds_must_be_a_number_from_zero_to_ten_years() {
        assert_eq!(
            seconds("delay_seconds", 1.5),
            Ok(Duration::from_millis(1500))
        );
        let ten_years = MAX_DURATION_SECONDS as f64;
        assert_eq!(seconds("delay_seconds", ten_years), Ok(MAX_DURATION));
        for out in [-1.0, ten_years + 1.0, f64::NAN, f64::INFINITY, 1e300] {
            assert!(seconds("delay_seconds", out).is_err(), "{out}");
        }
    }

    #[test]
    fn durations_and_offsets_have_a_ceiling() {
        assert!(duration("delay", MAX_DURATION).is_ok());
        assert!(duration("delay", Duration::MAX).is_err());
        assert_eq!(at_most("offset", MAX_OFFSET, MAX_OFFSET), Ok(MAX_OFFSET));
        assert_eq!(
            at_most("offset", u64::MAX, MAX_OFFSET)
                .unwrap_err()
                .to_string(),
            "`offset` must be at most 1000000"
        );
    }
}
