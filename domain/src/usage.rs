//! Metered usage: durable counters per tenant and hour, bumped by an
//! [`Op::Incr`] at the one place each metered thing happens (usually in the
//! same commit), and read back per window without scanning anything.
//!
//! A credit is one action run, one proxy call or one emitted event (what
//! Pipedream bills as Connect credits). Deliveries and connected accounts
//! are counted beside them, not billed.

use serde::Serialize;

use crate::clock::now_ms;
use crate::context::Context;
use crate::error::{Result, invalid};
use crate::model::Tenant;
use crate::records;
use crate::store::Op;

/// One bucket per hour.
pub const WINDOW_SECS: u64 = 3600;
/// At most 31 days of hourly windows per query.
pub const MAX_WINDOWS: u64 = 31 * 24;
/// Buckets are kept about 13 months after their first hit.
const KEEP_MS: u64 = 400 * 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    ActionRun,
    ProxyCall,
    SourceEmit,
    Delivery,
    AccountConnected,
}

impl Metric {
    const ALL: [Metric; 5] = [
        Metric::ActionRun,
        Metric::ProxyCall,
        Metric::SourceEmit,
        Metric::Delivery,
        Metric::AccountConnected,
    ];
    fn name(self) -> &'static str {
        match self {
            Metric::ActionRun => "action_run",
            Metric::ProxyCall => "proxy",
            Metric::SourceEmit => "emit",
            Metric::Delivery => "delivery",
            Metric::AccountConnected => "account",
        }
    }
}

/// What one window counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsageWindow {
    pub credits_used: u64,
    pub action_run_credits_used: u64,
    pub proxy_credits_used: u64,
    pub source_emit_credits_used: u64,
    pub deliveries: u64,
    pub accounts_connected: u64,
    pub usage_start_ts: u64,
    pub usage_end_ts: u64,
}

/// The op that counts `by` of `metric` now, for a caller's commit.
pub(crate) fn count_op(t: &Tenant, metric: Metric, by: u64) -> Op {
    let window = now_ms() / 1000 / WINDOW_SECS * WINDOW_SECS;
    Op::incr(records::usage(t, metric.name(), window), by, Some(KEEP_MS))
}

impl Context {
    /// Counts `by` of `metric` on its own, where the metered thing writes
    /// nothing else (an action run without an idempotency key, a proxy call).
    /// Counting never fails the thing counted: a store error is logged.
    pub async fn count_usage(&self, t: &Tenant, metric: Metric, by: u64) {
        if by == 0 {
            return;
        }
        if let Err(e) = self.store.commit(vec![count_op(t, metric, by)]).await {
            tracing::warn!(error = %e, metric = metric.name(), "usage not counted");
        }
    }

    /// The windows of `[start_ts, end_ts)` (epoch seconds, hour-aligned
    /// outwards) that counted anything, oldest first: one read of at most
    /// `MAX_WINDOWS` × 5 counters.
    pub async fn usage(&self, t: &Tenant, start_ts: u64, end_ts: u64) -> Result<Vec<UsageWindow>> {
        // Seconds since the epoch until the year 9999: anything later is no
        // time this server has counted (and would overflow the windows).
        const LAST: u64 = 253_402_300_799;
        if end_ts > LAST {
            return Err(invalid(format!(
                "end_ts must be at most {LAST} (epoch seconds)"
            )));
        }
        if end_ts <= start_ts {
            return Err(invalid("end_ts must be after start_ts"));
        }
        let first = start_ts / WINDOW_SECS * WINDOW_SECS;
        let windows = end_ts.div_ceil(WINDOW_SECS) - first / WINDOW_SECS;
        if windows > MAX_WINDOWS {
            return Err(invalid(format!(
                "the range spans {windows} hourly windows; at most {MAX_WINDOWS} (31 days) per request"
            )));
        }
        let starts: Vec<u64> = (0..windows).map(|i| first + i * WINDOW_SECS).collect();
        let keys: Vec<_> = starts
            .iter()
            .flat_map(|w| Metric::ALL.map(|m| records::usage(t, m.name(), *w)))
            .collect();
        let values = self.store.get_many(&keys).await?;
        let count = |v: &Option<Vec<u8>>| {
            v.as_deref()
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(starts
            .iter()
            .zip(values.chunks(Metric::ALL.len()))
            .filter_map(|(w, c)| {
                let [runs, proxy, emits, deliveries, accounts] =
                    [0, 1, 2, 3, 4].map(|i| count(&c[i]));
                let u = UsageWindow {
                    credits_used: runs + proxy + emits,
                    action_run_credits_used: runs,
                    proxy_credits_used: proxy,
                    source_emit_credits_used: emits,
                    deliveries,
                    accounts_connected: accounts,
                    usage_start_ts: *w,
                    usage_end_ts: w + WINDOW_SECS,
                };
                (u != UsageWindow {
                    usage_start_ts: *w,
                    usage_end_ts: w + WINDOW_SECS,
                    ..Default::default()
                })
                .then_some(u)
            })
            .collect())
    }
}
