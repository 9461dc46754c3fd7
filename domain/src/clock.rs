//! Wall-clock helpers: the store keeps epoch milliseconds, the wire wants
//! ISO-8601 for accounts, users and tokens.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// `2025-01-01T04:00:00.000Z` (RFC 3339, UTC, milliseconds). Past jiff's
/// last instant (late in 9999) that instant, rather than a panic.
pub fn iso(ms: u64) -> String {
    let ts = i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .unwrap_or(jiff::Timestamp::MAX);
    format!("{ts:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_is_rfc3339_utc_with_milliseconds() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_796_144_400_000), "2026-12-01T17:00:00.000Z");
        assert_eq!(iso(1_796_144_400_007), "2026-12-01T17:00:00.007Z");
        assert_eq!(iso(253_402_207_200_999), "9999-12-30T22:00:00.999Z");
        assert_eq!(iso(u64::MAX), "9999-12-30T22:00:00.999Z");
    }
}
