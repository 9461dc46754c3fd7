//! Standard 5-field cron (minute, hour, day of month, month, day of week)
//! evaluated in a time zone: `*`, lists, ranges, steps and names (`JAN`,
//! `MON`); Sunday is 0 or 7. When both day fields are restricted a day
//! matches either, as in Vixie cron. DST gaps run at the first valid minute
//! after; a repeated hour runs once, at its first occurrence.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    any_day: bool,
    any_weekday: bool,
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn value(s: &str, min: u32, max: u32, names: &[&str], field: &str) -> Result<u32, String> {
    let lower = s.to_ascii_lowercase();
    let v = match names.iter().position(|n| *n == lower) {
        Some(i) => i as u32 + min,
        None => s
            .parse::<u32>()
            .map_err(|_| format!("{field}: {s:?} is not a number or a name"))?,
    };
    if v < min || v > max {
        return Err(format!("{field}: {v} is outside {min}-{max}"));
    }
    Ok(v)
}

/// A field as a bit set, and whether it was `*` (or `*/1`).
fn field(s: &str, min: u32, max: u32, names: &[&str], name: &str) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut any = false;
    for part in s.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (
                r,
                st.parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name}: step {st:?} is not a positive number"))?,
            ),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            any |= step == 1;
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(a, min, max, names, name)?,
                value(b, min, max, names, name)?,
            )
        } else {
            let v = value(range, min, max, names, name)?;
            (v, if step > 1 { max } else { v })
        };
        if lo > hi {
            return Err(format!("{name}: range {range:?} runs backwards"));
        }
        for v in (lo..=hi).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok((bits, any))
}

impl std::str::FromStr for Cron {
    type Err = String;

    fn from_str(expr: &str) -> Result<Self, String> {
        // Cron has no nesting; its only bound is its length (and a field's
        // work is bounded by its 64-bit set).
        switchboard_components::limits::check_len(
            "cron expression",
            expr,
            switchboard_components::limits::MAX_CRON_LEN,
        )
        .map_err(|e| e.to_string())?;
        let parts: Vec<&str> = expr.split_whitespace().collect();
        let [mi, h, dom, mo, dow] = parts[..] else {
            return Err(format!(
                "a cron expression has 5 fields (minute hour day-of-month month day-of-week), got {}",
                parts.len()
            ));
        };
        let (minutes, _) = field(mi, 0, 59, &[], "minute")?;
        let (hours, _) = field(h, 0, 23, &[], "hour")?;
        let (days, any_day) = field(dom, 1, 31, &[], "day of month")?;
        let (months, _) = field(mo, 1, 12, MONTHS, "month")?;
        let (mut weekdays, any_weekday) = field(dow, 0, 7, WEEKDAYS, "day of week")?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1; // 7 is Sunday too
        }
        Ok(Cron {
            minutes,
            hours,
            days,
            months,
            weekdays,
            any_day,
            any_weekday,
        })
    }
}

impl Cron {
    fn day_matches(&self, dt: DateTime) -> bool {
        let dom = self.days & (1 << dt.day()) != 0;
        let dow = self.weekdays & (1 << dt.weekday().to_sunday_zero_offset()) != 0;
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }

    /// The first matching minute strictly after `after`, in `tz`; `None`
    /// if there is none within about 5 years (e.g. `0 0 30 2 *`).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(tz.clone()).datetime();
        let mut dt = start
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        let limit = start.checked_add(5.years()).ok()?;
        while dt < limit {
            if self.months & (1 << dt.month()) == 0 {
                dt = dt
                    .first_of_month()
                    .checked_add(1.month())
                    .ok()?
                    .start_of_day();
                continue;
            }
            if !self.day_matches(dt) {
                dt = dt.tomorrow().ok()?.start_of_day();
                continue;
            }
            if self.hours & (1 << dt.hour()) == 0 {
                dt = dt
                    .with()
                    .minute(0)
                    .build()
                    .ok()?
                    .checked_add(1.hour())
                    .ok()?;
                continue;
            }
            if self.minutes & (1 << dt.minute()) == 0 {
                dt = dt.checked_add(1.minute()).ok()?;
                continue;
            }
            // A time in a DST gap moves forward; in a fold, the earlier one.
            let ts = tz.to_ambiguous_zoned(dt).compatible().ok()?.timestamp();
            if ts > after {
                return Some(ts);
            }
            dt = dt.checked_add(1.minute()).ok()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(expr: &str, tz: &str, after: &str) -> String {
        let tz = TimeZone::get(tz).unwrap();
        let after: Timestamp = after.parse().unwrap();
        let c: Cron = expr.parse().unwrap();
        c.next_after(after, &tz)
            .unwrap()
            .to_zoned(tz)
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    #[test]
    fn steps_lists_ranges_and_names() {
        assert_eq!(
            next("*/15 * * * *", "UTC", "2026-01-01T10:07:00Z"),
            "2026-01-01 10:15 UTC"
        );
        assert_eq!(
            next("0 9 * * MON-FRI", "UTC", "2026-11-21T12:00:00Z"),
            "2026-11-23 09:00 UTC"
        );
        assert_eq!(
            next("30 8,20 1 jan *", "UTC", "2026-06-01T00:00:00Z"),
            "2027-01-01 08:30 UTC"
        );
        assert_eq!(
            next("0 0 * * 7", "UTC", "2026-11-23T00:00:00Z"),
            "2026-11-29 00:00 UTC"
        );
        // Both day fields restricted: either matches (the 1st, or a Friday).
        assert_eq!(
            next("0 0 1 * 5", "UTC", "2026-11-23T00:00:00Z"),
            "2026-11-27 00:00 UTC"
        );
        // Strictly after: a matching minute is not returned again.
        assert_eq!(
            next("5 * * * *", "UTC", "2026-01-01T10:05:00Z"),
            "2026-01-01 11:05 UTC"
        );
    }

    #[test]
    fn time_zones_and_dst() {
        assert_eq!(
            next("0 9 * * *", "America/New_York", "2026-11-23T15:00:00Z"),
            "2026-11-24 09:00 EST"
        );
        // 02:30 does not exist on 2026-03-08 in New York: it runs at 03:30 EDT.
        assert_eq!(
            next("30 2 * * *", "America/New_York", "2026-03-08T05:00:00Z"),
            "2026-03-08 03:30 EDT"
        );
        // 01:30 happens twice on 2026-11-01: it runs once, at the first.
        assert_eq!(
            next("30 1 * * *", "America/New_York", "2026-11-01T04:00:00Z"),
            "2026-11-01 01:30 EDT"
        );
        assert_eq!(
            next("30 1 * * *", "America/New_York", "2026-11-01T05:31:00Z"),
            "2026-11-02 01:30 EST"
        );
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for (expr, needle) in [
            ("* * * *", "5 fields"),
            ("60 * * * *", "minute: 60 is outside 0-59"),
            ("* * * foo *", "month"),
            ("*/0 * * * *", "step"),
            ("5-1 * * * *", "backwards"),
        ] {
            let e = expr.parse::<Cron>().unwrap_err();
            assert!(e.contains(needle), "{expr}: {e}");
        }
        let long = format!("{} * * * *", "1,".repeat(10_000));
        let e = long.parse::<Cron>().unwrap_err();
        assert!(e.contains("too long"), "{e}");
        let never: Cron = "0 0 30 2 *".parse().unwrap();
        assert_eq!(never.next_after(Timestamp::now(), &TimeZone::UTC), None);
    }
}
