//! Cron expressions in words, for people reading a list of recurring jobs: the common shapes
//! ("daily at 02:00", "every 5 minutes", "weekly, on Monday at 03:00"). An expression of
//! another shape has no description; the dashboard then shows the expression alone.

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `expression` in words, when it has one of the common shapes.
pub(crate) fn describe(expression: &str) -> Option<String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    match fields.as_slice() {
        [single] => describe_macro(single),
        [second, rest @ ..] if rest.len() == 5 => match (*second, every(second)) {
            ("*", _) if rest.iter().all(|field| *field == "*") => Some("every second".into()),
            (_, Some(step)) if rest.iter().all(|field| *field == "*") => {
                Some(format!("every {step} seconds"))
            }
            ("0", _) => describe_fields(rest),
            _ => None,
        },
        fields if fields.len() == 5 => describe_fields(fields),
        _ => None,
    }
}

fn describe_macro(name: &str) -> Option<String> {
    let text = match name.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "yearly, on 1 January at 00:00",
        "@monthly" => "monthly, on day 1 at 00:00",
        "@weekly" => "weekly, on Sunday at 00:00",
        "@daily" | "@midnight" => "daily at 00:00",
        "@hourly" => "hourly, at minute 0",
        "@every_minute" => "every minute",
        "@every_second" => "every second",
        _ => return None,
    };
    Some(text.to_owned())
}

/// `minute hour day-of-month month day-of-week`.
fn describe_fields(fields: &[&str]) -> Option<String> {
    let [minute, hour, day, month, weekday] = fields else {
        return None;
    };
    let any = |field: &str| field == "*";
    if any(minute) && any(hour) && any(day) && any(month) && any(weekday) {
        return Some("every minute".into());
    }
    if !(any(day) && any(month) && any(weekday)) || any(minute) {
        return describe_dated(minute, hour, day, month, weekday);
    }
    if let Some(step) = every(minute) {
        return any(hour).then(|| format!("every {step} minutes"));
    }
    let minute = number(minute, 59)?;
    match (any(hour), every(hour)) {
        (true, _) => Some(format!("hourly, at minute {minute}")),
        (_, Some(step)) => Some(format!("every {step} hours, at minute {minute}")),
        _ => Some(format!("daily at {}", clock(hour, minute)?)),
    }
}

/// Fixed-time expressions restricted by day, month or weekday.
fn describe_dated(
    minute: &str,
    hour: &str,
    day: &str,
    month: &str,
    weekday: &str,
) -> Option<String> {
    let at = clock(hour, number(minute, 59)?)?;
    match (day, month, weekday) {
        ("*", "*", "1-5") | ("*", "*", "MON-FRI") | ("*", "*", "mon-fri") => {
            Some(format!("on weekdays at {at}"))
        }
        ("*", "*", weekday) => Some(format!("weekly, on {} at {at}", weekday_name(weekday)?)),
        (day, "*", "*") => Some(format!("monthly, on day {} at {at}", number(day, 31)?)),
        (day, month, "*") => Some(format!(
            "yearly, on {} {} at {at}",
            number(day, 31)?,
            month_name(month)?
        )),
        _ => None,
    }
}

/// The step of `*/n`.
fn every(field: &str) -> Option<u32> {
    field.strip_prefix("*/")?.parse().ok()
}

fn number(field: &str, max: u32) -> Option<u32> {
    field.parse().ok().filter(|value| *value <= max)
}

fn clock(hour: &str, minute: u32) -> Option<String> {
    Some(format!("{:02}:{minute:02}", number(hour, 23)?))
}

fn weekday_name(field: &str) -> Option<&'static str> {
    if let Some(number) = number(field, 7) {
        return Some(WEEKDAYS[number as usize % 7]);
    }
    WEEKDAYS
        .iter()
        .find(|name| name[..3].eq_ignore_ascii_case(field))
        .copied()
}

fn month_name(field: &str) -> Option<&'static str> {
    if let Some(number) = number(field, 12).filter(|number| *number >= 1) {
        return Some(MONTHS[number as usize - 1]);
    }
    MONTHS
        .iter()
        .find(|name| name[..3].eq_ignore_ascii_case(field))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_shapes_read_as_words() {
        let cases = [
            ("* * * * *", "every minute"),
            ("*/5 * * * *", "every 5 minutes"),
            ("15 * * * *", "hourly, at minute 15"),
            ("0 */6 * * *", "every 6 hours, at minute 0"),
            ("0 2 * * *", "daily at 02:00"),
            ("0 3 * * 1", "weekly, on Monday at 03:00"),
            ("30 8 * * MON-FRI", "on weekdays at 08:30"),
            ("0 2 26 * *", "monthly, on day 26 at 02:00"),
            ("0 0 1 JAN *", "yearly, on 1 January at 00:00"),
            ("0 0 9 * * *", "daily at 09:00"),
            ("*/10 * * * * *", "every 10 seconds"),
            ("@daily", "daily at 00:00"),
            ("@every_second", "every second"),
        ];
        for (expression, words) in cases {
            assert_eq!(describe(expression).as_deref(), Some(words), "{expression}");
        }
    }

    #[test]
    fn other_shapes_have_no_description() {
        for expression in [
            "0 9-17 * * *",
            "0,30 * * * *",
            "0 2 1 * 1",
            "1 2 3",
            "0 25 * * *",
        ] {
            assert_eq!(describe(expression), None, "{expression}");
        }
    }
}
