//! Cron occurrences across daylight-saving changes, as Hangfire's Cronos treats them: an
//! occurrence in a skipped hour fires at the jump; in a repeated hour a fixed-time expression
//! fires once and an interval expression fires in both copies. Expected instants are worked out
//! from each zone's 2026 rules.

use stoker::next_occurrences;

fn occurrences(expression: &str, zone: &str, after: &str, count: usize) -> Vec<String> {
    next_occurrences(expression, zone, after.parse().unwrap(), count)
        .unwrap()
        .iter()
        .map(|time| time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .collect()
}

#[test]
fn berlin_spring_forward() {
    // 2026-03-29: 02:00 CET (01:00Z) jumps to 03:00 CEST.
    let fixed = occurrences("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2);
    assert_eq!(
        fixed,
        ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"],
        "02:30 runs at the jump"
    );
    let interval = occurrences("*/30 * * * *", "Europe/Berlin", "2026-03-29T00:00:00Z", 3);
    assert_eq!(
        interval,
        [
            "2026-03-29T00:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:30:00Z"
        ]
    );
}

#[test]
fn berlin_fall_back() {
    // 2026-10-25: 03:00 CEST (01:00Z) goes back to 02:00 CET; 02:00-03:00 happens twice.
    let fixed = occurrences("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2);
    assert_eq!(
        fixed,
        ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
        "once, in the first copy"
    );
    let interval = occurrences("*/30 * * * *", "Europe/Berlin", "2026-10-25T00:00:00Z", 4);
    assert_eq!(
        interval,
        [
            "2026-10-25T00:30:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T01:30:00Z",
            "2026-10-25T02:00:00Z"
        ],
        "in both copies"
    );
}

#[test]
fn new_york_spring_forward() {
    // 2026-03-08: 02:00 EST (07:00Z) jumps to 03:00 EDT.
    let fixed = occurrences("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 2);
    assert_eq!(fixed, ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]);
    let interval = occurrences("0 * * * *", "America/New_York", "2026-03-08T06:30:00Z", 2);
    assert_eq!(
        interval,
        ["2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"],
        "02:00 and 03:00 are one instant"
    );
}

#[test]
fn new_york_fall_back() {
    // 2026-11-01: 02:00 EDT (06:00Z) goes back to 01:00 EST; 01:00-02:00 happens twice.
    let fixed = occurrences("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2);
    assert_eq!(fixed, ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]);
    let interval = occurrences("0 * * * *", "America/New_York", "2026-11-01T04:30:00Z", 3);
    assert_eq!(
        interval,
        [
            "2026-11-01T05:00:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T07:00:00Z"
        ]
    );
}

#[test]
fn lord_howe_spring_forward_by_half_an_hour() {
    // 2026-10-04: 02:00 at +10:30 (15:30Z on the 3rd) jumps to 02:30 at +11:00.
    let fixed = occurrences(
        "15 2 * * *",
        "Australia/Lord_Howe",
        "2026-10-03T00:00:00Z",
        2,
    );
    assert_eq!(fixed, ["2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"]);
    let interval = occurrences(
        "*/15 * * * *",
        "Australia/Lord_Howe",
        "2026-10-03T15:00:00Z",
        3,
    );
    assert_eq!(
        interval,
        [
            "2026-10-03T15:15:00Z",
            "2026-10-03T15:30:00Z",
            "2026-10-03T15:45:00Z"
        ]
    );
}

#[test]
fn lord_howe_fall_back_by_half_an_hour() {
    // 2026-04-05: 02:00 at +11:00 (15:00Z on the 4th) goes back to 01:30 at +10:30.
    let fixed = occurrences(
        "45 1 * * *",
        "Australia/Lord_Howe",
        "2026-04-04T00:00:00Z",
        2,
    );
    assert_eq!(fixed, ["2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"]);
    let interval = occurrences(
        "*/15 * * * *",
        "Australia/Lord_Howe",
        "2026-04-04T14:20:00Z",
        5,
    );
    assert_eq!(
        interval,
        [
            "2026-04-04T14:30:00Z",
            "2026-04-04T14:45:00Z",
            "2026-04-04T15:00:00Z",
            "2026-04-04T15:15:00Z",
            "2026-04-04T15:30:00Z"
        ]
    );
}

#[test]
fn a_bad_zone_or_expression_is_refused_by_name() {
    let zone = next_occurrences(
        "* * * * *",
        "Mars/Olympus_Mons",
        "2026-01-01T00:00:00Z".parse().unwrap(),
        1,
    );
    assert_eq!(
        zone.unwrap_err().to_string(),
        "unknown time zone `Mars/Olympus_Mons`: use an IANA name such as `Europe/Berlin` or `UTC`"
    );
    let cron = next_occurrences(
        "0 0 * * 9",
        "UTC",
        "2026-01-01T00:00:00Z".parse().unwrap(),
        1,
    );
    assert!(cron.unwrap_err().to_string().contains("day-of-week field"));
}
