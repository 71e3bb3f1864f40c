//! Occurrences in a time zone. The expression runs over local wall-clock times (as if the zone
//! had no daylight saving), and each local time maps to the instants it names: one usually,
//! none in a skipped hour (the occurrence moves to the instant of the jump), two in a repeated
//! hour (both for interval expressions, the first for fixed-time ones).

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::CronSchedule;

/// Daylight-saving shifts are shorter than this; looking this far around an instant finds every
/// local time that could name it.
const SHIFT_BOUND: Duration = Duration::hours(3);

impl CronSchedule {
    /// The first occurrence strictly after `after` in `zone`, if there is one (none within a
    /// few hours of the last instant chrono can hold).
    pub fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        let around = (
            after.checked_sub_signed(SHIFT_BOUND)?,
            after.checked_add_signed(SHIFT_BOUND)?,
        );
        let local_after = after.with_timezone(&zone).naive_local();
        // Only near a shift can a local time before `local_after` name a later instant (the
        // second copy of a repeated hour, ahead or just behind).
        let start = if offset(zone, around.0) != offset(zone, around.1) {
            local_after.checked_sub_signed(SHIFT_BOUND)?
        } else {
            local_after
        };
        let mut best: Option<DateTime<Utc>> = None;
        for local in self.schedule.after(&Utc.from_utc_datetime(&start)) {
            let instants = self.instants(local.naive_utc(), zone);
            let Some(&earliest) = instants.first() else {
                continue;
            };
            // Earliest instants never decrease with local time: nothing later can beat `best`.
            if best.is_some_and(|best| earliest > best) {
                break;
            }
            if let Some(&found) = instants.iter().find(|&&instant| instant > after) {
                best = Some(best.map_or(found, |best| best.min(found)));
            }
        }
        best
    }

    /// The instants that local time `local` names in `zone`, earliest first.
    fn instants(&self, local: NaiveDateTime, zone: Tz) -> Vec<DateTime<Utc>> {
        match zone.from_local_datetime(&local) {
            LocalResult::Single(time) => vec![time.with_timezone(&Utc)],
            LocalResult::Ambiguous(first, second) if self.interval => {
                vec![first.with_timezone(&Utc), second.with_timezone(&Utc)]
            }
            LocalResult::Ambiguous(first, _) => vec![first.with_timezone(&Utc)],
            LocalResult::None => jump_after(local, zone).into_iter().collect(),
        }
    }
}

/// The occurrences of `schedule` in `zone` from `first` (itself an occurrence) up to `until`,
/// at most `limit` of them.
pub(crate) fn occurrences_between(
    schedule: &CronSchedule,
    zone: Tz,
    first: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: usize,
) -> Vec<DateTime<Utc>> {
    let mut found = Vec::new();
    let mut next = Some(first);
    while let Some(at) = next.filter(|&at| at <= until && found.len() < limit) {
        found.push(at);
        next = schedule.next_after(at, zone);
    }
    found
}

fn offset(zone: Tz, at: DateTime<Utc>) -> i32 {
    zone.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The instant clocks jump forward over `local`, a time they skip: the first local minute that
/// exists after it.
fn jump_after(local: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    let minute = local.date().and_hms_opt(
        chrono::Timelike::hour(&local),
        chrono::Timelike::minute(&local),
        0,
    )?;
    (1..=SHIFT_BOUND.num_minutes()).find_map(|step| {
        zone.from_local_datetime(&(minute + Duration::minutes(step)))
            .earliest()
            .map(|time| time.with_timezone(&Utc))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn next(expression: &str, zone: &str, after: &str) -> DateTime<Utc> {
        let schedule = CronSchedule::parse(expression).unwrap();
        schedule
            .next_after(utc(after), zone.parse().unwrap())
            .unwrap()
    }

    #[test]
    fn occurrences_follow_the_zone() {
        assert_eq!(
            next("0 9 * * *", "UTC", "2026-11-22T10:00:00Z"),
            utc("2026-11-23T09:00:00Z")
        );
        assert_eq!(
            next("0 9 * * *", "Europe/Berlin", "2026-11-22T00:00:00Z"),
            utc("2026-11-22T08:00:00Z")
        );
        assert_eq!(
            next("0 9 * * *", "Europe/Berlin", "2026-07-01T00:00:00Z"),
            utc("2026-07-01T07:00:00Z")
        );
    }

    #[test]
    fn occurrences_are_strictly_after() {
        assert_eq!(
            next("*/1 * * * * *", "UTC", "2026-01-01T00:00:00Z"),
            utc("2026-01-01T00:00:01Z")
        );
        assert_eq!(
            next("0 * * * *", "UTC", "2026-01-01T00:00:00Z"),
            utc("2026-01-01T01:00:00Z")
        );
    }

    #[test]
    fn the_first_and_last_instants_chrono_holds_have_no_occurrence_and_no_panic() {
        let hourly = CronSchedule::parse("0 * * * *").unwrap();
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        for after in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
            assert_eq!(hourly.next_after(after, Tz::UTC), None);
            assert_eq!(hourly.next_after(after, berlin), None);
        }
        for before_the_end in [Duration::hours(4), Duration::days(1), Duration::days(400)] {
            let after = DateTime::<Utc>::MAX_UTC - before_the_end;
            hourly.next_after(after, Tz::UTC);
            hourly.next_after(after, berlin);
        }
    }

    #[test]
    fn an_impossible_date_never_occurs() {
        let never = CronSchedule::parse("0 0 31 2 *").unwrap();
        assert_eq!(never.next_after(utc("2026-01-01T00:00:00Z"), Tz::UTC), None);
    }
}
