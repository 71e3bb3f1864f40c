//! [`Cron`]: expressions for common schedules, after Hangfire's `Cron` class. Rust has no
//! overloads, so each helper has a plain form (midnight, minute 0, Monday, the 1st, January)
//! and an `_at`/`_on` form that takes the details.

use chrono::Weekday;

/// Builds cron expressions; every helper returns a 5-field expression.
#[derive(Debug, Clone, Copy)]
pub struct Cron;

impl Cron {
    /// Every minute.
    pub fn minutely() -> String {
        "* * * * *".to_owned()
    }

    /// Every hour at minute 0.
    pub fn hourly() -> String {
        Cron::hourly_at(0)
    }

    /// Every hour at `minute`.
    pub fn hourly_at(minute: u32) -> String {
        format!("{minute} * * * *")
    }

    /// Every day at midnight.
    pub fn daily() -> String {
        Cron::daily_at(0, 0)
    }

    /// Every day at `hour:minute`.
    pub fn daily_at(hour: u32, minute: u32) -> String {
        format!("{minute} {hour} * * *")
    }

    /// Every Monday at midnight.
    pub fn weekly() -> String {
        Cron::weekly_on(Weekday::Mon, 0, 0)
    }

    /// Every `weekday` at `hour:minute`.
    pub fn weekly_on(weekday: Weekday, hour: u32, minute: u32) -> String {
        format!("{minute} {hour} * * {}", weekday.num_days_from_sunday())
    }

    /// On the 1st of every month at midnight.
    pub fn monthly() -> String {
        Cron::monthly_on(1, 0, 0)
    }

    /// On `day` of every month at `hour:minute`.
    pub fn monthly_on(day: u32, hour: u32, minute: u32) -> String {
        format!("{minute} {hour} {day} * *")
    }

    /// On January 1st at midnight.
    pub fn yearly() -> String {
        Cron::yearly_on(1, 1, 0, 0)
    }

    /// On `month`/`day` every year at `hour:minute`.
    pub fn yearly_on(month: u32, day: u32, hour: u32, minute: u32) -> String {
        format!("{minute} {hour} {day} {month} *")
    }

    /// Never (February 31st): a recurring job that only runs when triggered.
    pub fn never() -> String {
        "0 0 31 2 *".to_owned()
    }

    /// Every `n` minutes.
    pub fn minute_interval(n: u32) -> String {
        format!("*/{n} * * * *")
    }

    /// Every `n` hours, on the hour.
    pub fn hour_interval(n: u32) -> String {
        format!("0 */{n} * * *")
    }

    /// Every `n` days, at midnight.
    pub fn day_interval(n: u32) -> String {
        format!("0 0 */{n} * *")
    }

    /// Every `n` months, on the 1st at midnight.
    pub fn month_interval(n: u32) -> String {
        format!("0 0 1 */{n} *")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::next_occurrences;

    fn first_two(expression: &str) -> Vec<String> {
        next_occurrences(
            expression,
            "UTC",
            "2026-11-22T10:17:00Z".parse().unwrap(),
            2,
        )
        .unwrap()
        .iter()
        .map(|time| time.to_rfc3339())
        .collect()
    }

    #[test]
    fn helpers_build_the_schedules_they_name() {
        assert_eq!(
            first_two(&Cron::minutely()),
            ["2026-11-22T10:18:00+00:00", "2026-11-22T10:19:00+00:00"]
        );
        assert_eq!(
            first_two(&Cron::hourly_at(5)),
            ["2026-11-22T11:05:00+00:00", "2026-11-22T12:05:00+00:00"]
        );
        assert_eq!(
            first_two(&Cron::daily_at(2, 30)),
            ["2026-11-23T02:30:00+00:00", "2026-11-24T02:30:00+00:00"]
        );
        // 2026-11-22 is a Sunday.
        assert_eq!(
            first_two(&Cron::weekly()),
            ["2026-11-23T00:00:00+00:00", "2026-11-30T00:00:00+00:00"]
        );
        assert_eq!(
            first_two(&Cron::weekly_on(Weekday::Sun, 12, 0)),
            ["2026-11-22T12:00:00+00:00", "2026-11-29T12:00:00+00:00"]
        );
        assert_eq!(
            first_two(&Cron::monthly_on(26, 2, 0)),
            ["2026-11-26T02:00:00+00:00", "2026-12-26T02:00:00+00:00"]
        );
        assert_eq!(
            first_two(&Cron::yearly()),
            ["2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"]
        );
        assert_eq!(
            first_two(&Cron::minute_interval(15)),
            ["2026-11-22T10:30:00+00:00", "2026-11-22T10:45:00+00:00"]
        );
        assert_eq!(
            first_two(&Cron::hour_interval(6)),
            ["2026-11-22T12:00:00+00:00", "2026-11-22T18:00:00+00:00"]
        );
        assert_eq!(
            first_two(&Cron::month_interval(3)),
            ["2027-01-01T00:00:00+00:00", "2027-04-01T00:00:00+00:00"]
        );
        assert!(first_two(&Cron::never()).is_empty());
    }
}
