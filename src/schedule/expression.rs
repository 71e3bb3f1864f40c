//! Parsing cron expressions into a [`CronSchedule`]: the 5-field form, macros, and the
//! translation of day-of-week numbers for the `cron` crate (which counts 1-7 from Sunday).

use std::str::FromStr;

/// A parsed cron expression.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    pub(super) schedule: cron::Schedule,
    /// A step or `*` in the second, minute or hour field: fires in both copies of a repeated
    /// hour.
    pub(super) interval: bool,
    source: String,
}

/// A cron expression that does not parse; the message names the bad field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron expression `{expression}`: {problem}")]
pub struct CronError {
    expression: String,
    problem: String,
}

const FIELD_NAMES: [&str; 6] = [
    "second",
    "minute",
    "hour",
    "day-of-month",
    "month",
    "day-of-week",
];

fn macro_fields(name: &str) -> Option<&'static str> {
    Some(match name {
        "@yearly" | "@annually" => "0 0 0 1 1 *",
        "@monthly" => "0 0 0 1 * *",
        "@weekly" => "0 0 0 * * 0",
        "@daily" | "@midnight" => "0 0 0 * * *",
        "@hourly" => "0 0 * * * *",
        "@every_minute" => "0 * * * * *",
        "@every_second" => "* * * * * *",
        _ => return None,
    })
}

const WEEKDAYS: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

/// Rewrites a day-of-week field with numbers (0-7 from Sunday) as weekday names, which the
/// `cron` crate reads unambiguously. Names, `*` and `?` pass through.
fn weekday_names(field: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: usize = step.parse().map_err(|_| format!("bad step `{step}`"))?;
                if step == 0 {
                    return Err("a step must be at least 1".into());
                }
                (range, step)
            }
            None => (part, 1),
        };
        let bounds = |text: &str| -> Result<Option<usize>, String> {
            if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
                let day: usize = text.parse().map_err(|_| format!("bad day `{text}`"))?;
                if day > 7 {
                    return Err(format!("day {day} is out of range 0-7"));
                }
                Ok(Some(day))
            } else {
                Ok(None)
            }
        };
        let numeric = match range {
            "*" if step > 1 => Some((0, 6)),
            _ => match range.split_once('-') {
                Some((low, high)) => match (bounds(low)?, bounds(high)?) {
                    (Some(low), Some(high)) if low <= high => Some((low, high)),
                    (Some(low), Some(high)) => {
                        return Err(format!("range {low}-{high} runs backwards"));
                    }
                    _ => None,
                },
                None => bounds(range)?.map(|day| (day, if step > 1 { 6 } else { day })),
            },
        };
        match numeric {
            Some((low, high)) => parts.extend(
                (low..=high)
                    .step_by(step)
                    .map(|day| WEEKDAYS[day].to_owned()),
            ),
            None => parts.push(part.to_owned()),
        }
    }
    parts.dedup();
    Ok(parts.join(","))
}

fn is_interval(field: &str) -> bool {
    field.contains('*') || field.contains('/')
}

impl CronSchedule {
    /// Parses `expression`.
    pub fn parse(expression: &str) -> Result<Self, CronError> {
        let error = |problem: String| CronError {
            expression: expression.to_owned(),
            problem,
        };
        let trimmed = expression.trim();
        let expanded = match macro_fields(trimmed) {
            Some(fields) => fields.to_owned(),
            None if trimmed.starts_with('@') => {
                return Err(error(format!("unknown macro `{trimmed}`")));
            }
            None => trimmed.to_owned(),
        };
        let mut fields: Vec<String> = expanded.split_whitespace().map(str::to_owned).collect();
        match fields.len() {
            5 => fields.insert(0, "0".to_owned()),
            6 => {}
            n => return Err(error(format!("expected 5 or 6 fields, found {n}"))),
        }
        fields[5] = weekday_names(&fields[5])
            .map_err(|problem| error(format!("day-of-week field: {problem}")))?;
        for (index, name) in FIELD_NAMES.iter().enumerate() {
            let mut probe = ["*"; 6].map(str::to_owned);
            probe[index] = fields[index].clone();
            if let Err(problem) = cron::Schedule::from_str(&probe.join(" ")) {
                return Err(error(format!(
                    "{name} field `{}`: {problem}",
                    fields[index]
                )));
            }
        }
        let schedule = cron::Schedule::from_str(&fields.join(" "))
            .map_err(|problem| error(problem.to_string()))?;
        Ok(CronSchedule {
            schedule,
            interval: fields[..3].iter().any(|field| is_interval(field)),
            source: expression.to_owned(),
        })
    }

    /// The expression as given.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(expression: &str) -> String {
        CronSchedule::parse(expression).unwrap_err().to_string()
    }

    #[test]
    fn five_fields_six_fields_and_macros_parse() {
        for good in [
            "*/5 * * * *",
            "0 2 26 * *",
            "0 3 * * 1",
            "*/1 * * * * *",
            "0 0 9-17 * * MON-FRI",
        ] {
            CronSchedule::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for name in [
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@daily",
            "@midnight",
            "@hourly",
            "@every_minute",
            "@every_second",
        ] {
            CronSchedule::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn errors_name_the_bad_field() {
        assert!(
            problem("61 * * * *").contains("minute field `61`"),
            "{}",
            problem("61 * * * *")
        );
        assert!(
            problem("0 25 * * *").contains("hour field"),
            "{}",
            problem("0 25 * * *")
        );
        assert!(problem("0 0 32 * *").contains("day-of-month field"));
        assert!(problem("0 0 * 13 *").contains("month field"));
        assert!(problem("0 0 * * 8").contains("day-of-week field"));
        assert!(problem("* * *").contains("expected 5 or 6 fields, found 3"));
        assert!(problem("@fortnightly").contains("unknown macro"));
    }

    #[test]
    fn weekday_numbers_count_from_sunday_like_unix_cron() {
        assert_eq!(weekday_names("0").unwrap(), "SUN");
        assert_eq!(weekday_names("7").unwrap(), "SUN");
        assert_eq!(weekday_names("1-5").unwrap(), "MON,TUE,WED,THU,FRI");
        assert_eq!(weekday_names("5-7").unwrap(), "FRI,SAT,SUN");
        assert_eq!(weekday_names("*/2").unwrap(), "SUN,TUE,THU,SAT");
        assert_eq!(weekday_names("1/3").unwrap(), "MON,THU");
        assert_eq!(weekday_names("MON-FRI").unwrap(), "MON-FRI");
        assert_eq!(weekday_names("*").unwrap(), "*");
    }

    #[test]
    fn interval_expressions_are_told_from_fixed_time_ones() {
        assert!(CronSchedule::parse("*/15 * * * *").unwrap().interval);
        assert!(CronSchedule::parse("0 * * * *").unwrap().interval);
        assert!(!CronSchedule::parse("30 2 * * *").unwrap().interval);
        assert!(!CronSchedule::parse("@daily").unwrap().interval);
        assert!(CronSchedule::parse("@every_second").unwrap().interval);
    }
}
