//! How the dashboard writes values for people: times in UTC with how long ago they were,
//! arguments as indented JSON.

use chrono::{DateTime, Utc};

/// `at` as `2026-11-22 10:00:00 UTC`.
pub(super) fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// How far `at` is from `now`, in the largest unit that fits: `5 min ago`, `in 2 h`.
pub(super) fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds();
    let span = match seconds.unsigned_abs() {
        s if s < 60 => format!("{s} s"),
        s if s < 3_600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3_600),
        s => format!("{} d", s / 86_400),
    };
    match seconds >= 0 {
        true => format!("{span} ago"),
        false => format!("in {span}"),
    }
}

/// `value` as indented JSON.
pub(super) fn json(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::relative;

    #[test]
    fn relative_times_use_the_largest_unit_that_fits() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        assert_eq!(relative(now - Duration::seconds(5), now), "5 s ago");
        assert_eq!(relative(now - Duration::minutes(90), now), "1 h ago");
        assert_eq!(relative(now + Duration::minutes(5), now), "in 5 min");
        assert_eq!(relative(now - Duration::days(3), now), "3 d ago");
    }
}
