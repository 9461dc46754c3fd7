//! One home for waiting before trying again: exponential backoff with a cap,
//! jitter, fixed schedules, and the `Retry-After` header (delta-seconds or an
//! HTTP-date), clamped. Deliveries, actions, polls and token refreshes all
//! use it, so a provider or receiver can never park work for longer than the
//! caller's cap.

use std::time::{Duration, SystemTime};

/// The longest any `Retry-After` is honoured, whatever the caller's cap.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// `base × 2^(n)`, saturating, never above `cap` (n = 0 is `base`).
pub fn exponential(base: Duration, n: u32, cap: Duration) -> Duration {
    let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(cap)
}

/// The `n`th step (1-based) of a fixed schedule of seconds; past its end, the
/// last step. An empty schedule is no wait.
pub fn schedule_step(schedule: &[u64], n: usize) -> Duration {
    let i = n.max(1) - 1;
    Duration::from_secs(
        schedule
            .get(i)
            .or(schedule.last())
            .copied()
            .unwrap_or_default(),
    )
}

/// `d` moved by up to ±`fraction` of itself, so many retries do not arrive
/// together.
pub fn jitter(d: Duration, fraction: f64) -> Duration {
    let unit = random_unit() * 2.0 - 1.0; // [-1, 1)
    d.mul_f64((1.0 + unit * fraction.clamp(0.0, 1.0)).max(0.0))
}

/// A uniformly random wait in [0, `max`): spreads work started together
/// (a bulk import's first polls) over an interval.
pub fn spread(max: Duration) -> Duration {
    // f64 rounding could land on `max` itself.
    max.mul_f64(random_unit())
        .min(max.saturating_sub(Duration::from_nanos(1)))
}

/// A uniformly distributed value in [0, 1), good enough for jitter (not for
/// anything secret): std's per-process random hasher keys over a counter.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, Ordering::Relaxed));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// A wait as the whole seconds a `Retry-After` header (or a
/// `retry_after_secs` field) carries: rounded up, so a client that waits
/// that long is never early, and at least 1.
pub fn header_secs(wait: Duration) -> u64 {
    wait.as_millis().div_ceil(1000).max(1) as u64
}

/// A `Retry-After` value: delta-seconds (fractions rounded up) or an
/// HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms),
/// relative to `now`, clamped to `cap` and to [`MAX_RETRY_AFTER`]. A date in
/// the past is no wait; anything unreadable is `None`.
pub fn retry_after(value: &str, now: SystemTime, cap: Duration) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() || v.len() > 64 {
        return None;
    }
    let cap = cap.min(MAX_RETRY_AFTER);
    if let Ok(secs) = v.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        return Some(Duration::from_secs_f64(secs.ceil().min(cap.as_secs_f64())));
    }
    let at = http_date(v)?;
    Some(at.duration_since(now).unwrap_or_default().min(cap))
}

/// Parses the three HTTP-date forms of RFC 9110 §5.6.7.
fn http_date(v: &str) -> Option<SystemTime> {
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is RFC 2822's syntax.
    if let Ok(z) = jiff::fmt::rfc2822::parse(v) {
        return Some(SystemTime::from(z.timestamp()));
    }
    let fmts = [
        "%A, %d-%b-%y %H:%M:%S GMT", // RFC 850
        "%a %b %e %H:%M:%S %Y",      // asctime
    ];
    fmts.iter().find_map(|f| {
        let dt = jiff::civil::DateTime::strptime(f, v).ok()?;
        let ts = dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
        Some(SystemTime::from(ts))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn exponential_doubles_saturates_and_caps() {
        let s = Duration::from_secs(1);
        assert_eq!(exponential(s, 0, HOUR), s);
        assert_eq!(exponential(s, 3, HOUR), Duration::from_secs(8));
        assert_eq!(exponential(s, 200, HOUR), HOUR);
        assert_eq!(exponential(Duration::MAX, 5, HOUR), HOUR);
    }

    #[test]
    fn schedule_steps_stay_on_the_last() {
        let s = [5, 300, 1800];
        assert_eq!(schedule_step(&s, 0), Duration::from_secs(5));
        assert_eq!(schedule_step(&s, 2), Duration::from_secs(300));
        assert_eq!(schedule_step(&s, 99), Duration::from_secs(1800));
        assert_eq!(schedule_step(&[], 3), Duration::ZERO);
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let d = Duration::from_secs(100);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let j = jitter(d, 0.2);
            assert!(j >= Duration::from_secs(80) && j <= Duration::from_secs(120));
            seen.insert(j);
        }
        assert!(seen.len() > 100, "jitter varies");
    }

    #[test]
    fn spread_stays_below_its_max() {
        let max = Duration::from_secs(300);
        let waits: std::collections::HashSet<Duration> = (0..200).map(|_| spread(max)).collect();
        assert!(waits.iter().all(|w| *w < max));
        assert!(waits.len() > 100, "spread varies");
        assert_eq!(spread(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn retry_after_seconds_are_clamped() {
        let now = at(1_000_000);
        assert_eq!(
            retry_after("120", now, HOUR),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(" 1.2 ", now, HOUR),
            Some(Duration::from_secs(2))
        );
        // One value must not park work for years: saturates at the cap.
        assert_eq!(retry_after("99999999999999999999", now, HOUR), Some(HOUR));
        assert_eq!(
            retry_after("1e300", now, Duration::MAX),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_after("-5", now, HOUR), None);
        assert_eq!(retry_after("NaN", now, HOUR), None);
        assert_eq!(retry_after("soon", now, HOUR), None);
        assert_eq!(retry_after(&"9".repeat(5000), now, HOUR), None);
    }

    #[test]
    fn retry_after_http_dates_in_all_three_forms() {
        // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example).
        let now = at(784_111_777 - 90);
        let want = Some(Duration::from_secs(90));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now, HOUR),
            want
        );
        assert_eq!(
            retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now, HOUR),
            want
        );
        assert_eq!(retry_after("Sun Nov  6 08:49:37 1994", now, HOUR), want);
        // In the past: no wait. Far future: the cap.
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at(784_111_777 + 5), HOUR),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after("Thu, 01 Jan 2099 00:00:00 GMT", now, HOUR),
            Some(HOUR)
        );
    }

    #[test]
    fn header_secs_round_up_to_at_least_one() {
        let ms = Duration::from_millis;
        assert_eq!(
            [ms(0), ms(1), ms(999), ms(1000), ms(1001), ms(61_500)].map(header_secs),
            [1, 1, 1, 1, 2, 62]
        );
    }
}
