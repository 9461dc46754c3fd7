//! Fair shares of this process's work. A delivery takes its tenant's share
//! and its endpoint's, a tick its tenant's, before it runs, and only then a
//! global slot (`Fairness::sends`, `Fairness::tick_runs`): nothing holds a
//! global slot while it waits for a share.
//!
//! A full share is waited for in memory only briefly: while the expected
//! wait (the waiters ahead, times how long a permit is held on average,
//! spread over the share's permits) stays under [`MAX_INLINE_WAIT`], and
//! with at most `max_waiters` waiting. Otherwise the work goes back to the
//! store's due index for later (`Deferred`), so a tarpit's backlog stays in
//! the store, never sits in memory past its lease, and never takes the
//! room other tenants' work needs; a fast, merely busy endpoint's backlog
//! waits its turn in memory instead of churning through the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_net::retry;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Shares kept before idle ones are forgotten (bounds memory when callers
/// name many tenants or endpoints).
const MAX_KEYS: usize = 10_000;
/// Timer runs and polls at once, per process.
pub const TICKS_IN_FLIGHT: usize = 128;
/// The longest work waits in memory for a share.
pub const MAX_INLINE_WAIT: Duration = Duration::from_secs(1);
const MIN_WAIT: Duration = Duration::from_millis(250);
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Concurrency shares by key (a tenant, an origin), each at most `limit`
/// at once, with at most `max_waiters` waiting in memory.
pub struct Shares {
    limit: usize,
    max_waiters: usize,
    map: Mutex<HashMap<String, Arc<Share>>>,
}

struct Share {
    sem: Arc<Semaphore>,
    /// Moving average of how long a permit is held, in µs.
    hold_us: AtomicU64,
    waiting: AtomicUsize,
}

impl Share {
    fn hold(&self) -> Duration {
        Duration::from_micros(self.hold_us.load(Ordering::Relaxed))
    }
}

/// A taken share; giving it back (drop) records how long it was held.
pub struct Held {
    _permit: OwnedSemaphorePermit,
    share: Arc<Share>,
    since: Instant,
}

impl Drop for Held {
    fn drop(&mut self) {
        let us = self.since.elapsed().as_micros() as u64;
        let old = self.share.hold_us.load(Ordering::Relaxed);
        self.share
            .hold_us
            .store((old * 7 + us) / 8, Ordering::Relaxed);
    }
}

/// Counts a waiter for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shares {
    pub fn new(limit: usize, max_waiters: usize) -> Self {
        Shares {
            limit: limit.max(1),
            max_waiters,
            map: Mutex::default(),
        }
    }

    fn share(&self, key: &str) -> Arc<Share> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            // Forget shares nobody holds (their averages start afresh).
            map.retain(|_, s| Arc::strong_count(s) > 1);
        }
        map.entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Share {
                    sem: Arc::new(Semaphore::new(self.limit)),
                    hold_us: AtomicU64::new(0),
                    waiting: AtomicUsize::new(0),
                })
            })
            .clone()
    }

    /// Takes one of `key`'s permits: now, or after a short wait in memory,
    /// or not at all, saying how long to put the work off
    /// (`deferrals`: how often it was put off already, so a long backlog is
    /// looked at less and less often).
    pub async fn take(&self, key: &str, deferrals: u32) -> std::result::Result<Held, Duration> {
        let share = self.share(key);
        let held = |p| Held {
            _permit: p,
            share: share.clone(),
            since: Instant::now(),
        };
        if let Ok(p) = share.sem.clone().try_acquire_owned() {
            return Ok(held(p));
        }
        let ahead = share.waiting.fetch_add(1, Ordering::Relaxed);
        let waiting = Waiting(&share.waiting);
        let expected = share.hold().mul_f64((ahead + 1) as f64 / self.limit as f64);
        if ahead < self.max_waiters && expected <= MAX_INLINE_WAIT {
            let got =
                tokio::time::timeout(MAX_INLINE_WAIT, share.sem.clone().acquire_owned()).await;
            if let Ok(Ok(p)) = got {
                drop(waiting);
                return Ok(held(p));
            }
        }
        drop(waiting);
        let wait = retry::exponential(share.hold().max(MIN_WAIT), deferrals.min(3), MAX_WAIT);
        Err(retry::jitter(wait, 0.5).clamp(MIN_WAIT, MAX_WAIT))
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

/// Every share this process keeps, and the global slots taken after them.
pub struct Fairness {
    /// Delivery attempts sending at once (`delivery.in_flight`).
    pub sends: Semaphore,
    /// Timer runs and polls at once.
    pub tick_runs: Semaphore,
    /// Deliveries in flight per tenant (project and environment).
    pub delivery_tenants: Shares,
    /// Deliveries in flight per receiving origin.
    pub endpoints: Shares,
    /// Timer and poll ticks in flight per tenant.
    pub tick_tenants: Shares,
    /// API requests being processed per tenant (`None`: unlimited).
    pub request_tenants: Option<Shares>,
}

impl crate::context::Context {
    /// The tenant's share of this process's request handling (inbound
    /// hooks, action runs, proxy calls, remote options), or a 429.
    pub(crate) async fn request_share(
        &self,
        t: &crate::model::Tenant,
    ) -> crate::Result<Option<Held>> {
        let Some(shares) = &self.fairness.request_tenants else {
            return Ok(None);
        };
        shares
            .take(&t.slot(), 0)
            .await
            .map(Some)
            .map_err(|wait| crate::Error::RateLimited {
                message: "too many requests for this project at once; retry shortly".into(),
                retry_after_secs: retry::header_secs(wait),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_share_is_waited_for_briefly() {
        let s = Arc::new(Shares::new(1, 4));
        let a = s.take("a", 0).await.ok().unwrap();
        // Other keys are untouched by a's load.
        assert!(s.take("b", 0).await.is_ok());
        let waiter = {
            let s = s.clone();
            tokio::spawn(async move { s.take("a", 0).await.is_ok() })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(a);
        assert!(waiter.await.unwrap(), "the waiter got the permit back");
    }

    #[tokio::test]
    async fn slow_holders_and_long_queues_are_deferred_at_once() {
        let s = Shares::new(1, 1);
        let _a = s.take("a", 0).await.ok().unwrap();
        // Holds of 5 s: the expected wait is over the inline bound.
        s.share("a").hold_us.store(5_000_000, Ordering::Relaxed);
        let started = Instant::now();
        let wait = s.take("a", 0).await.err().expect("deferred");
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "not waited for"
        );
        assert!(
            wait >= Duration::from_millis(2500) && wait <= MAX_WAIT,
            "{wait:?}"
        );
        // Deferrals stretch the wait, up to the cap.
        let late = s.take("a", 8).await.err().unwrap();
        assert!(
            late >= Duration::from_secs(20) && late <= MAX_WAIT,
            "{late:?}"
        );
        // No waiters allowed: deferred at once, whatever the holds.
        let none = Shares::new(1, 0);
        let _b = none.take("b", 0).await.ok().unwrap();
        assert!(none.take("b", 0).await.is_err());
    }

    #[tokio::test]
    async fn idle_shares_are_forgotten_when_many() {
        let s = Shares::new(1, 0);
        let held = s.take("busy", 0).await.ok().unwrap();
        for i in 0..MAX_KEYS + 10 {
            drop(s.take(&format!("k{i}"), 0).await);
        }
        assert!(s.keys() <= MAX_KEYS, "bounded: {}", s.keys());
        assert!(s.take("busy", 0).await.is_err(), "a held share is kept");
        drop(held);
    }
}
