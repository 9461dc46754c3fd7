//! Fair shares of this process's work. A delivery or tick takes its
//! tenant's share (and a delivery its endpoint's) *without waiting*: when a
//! share is full the work goes back to the store's due index for later
//! (`Deferred`), so a tenant or a slow endpoint over its share never holds a
//! global slot, never sits in memory past its lease, and its backlog stays
//! its own while everyone else's work flows past it.
//!
//! How long deferred work waits follows how long the share's permits are
//! held (an average of recent holds): a tarpit that takes the full timeout
//! per request sees its backlog come back rarely; a fast, merely busy
//! endpoint's comes back soon.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_components::backoff;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Shares kept before idle ones are forgotten (bounds memory when callers
/// name many tenants or endpoints).
const MAX_KEYS: usize = 10_000;
const MIN_WAIT: Duration = Duration::from_millis(250);
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Concurrency shares by key (a tenant, an origin), each at most `limit`.
pub struct Shares {
    limit: usize,
    map: Mutex<HashMap<String, Arc<Share>>>,
}

struct Share {
    sem: Arc<Semaphore>,
    /// Moving average of how long a permit is held, in ms.
    hold_ms: AtomicU64,
}

/// A taken share; giving it back (drop) records how long it was held.
pub struct Held {
    _permit: OwnedSemaphorePermit,
    share: Arc<Share>,
    since: Instant,
}

impl Drop for Held {
    fn drop(&mut self) {
        let ms = self.since.elapsed().as_millis() as u64;
        let old = self.share.hold_ms.load(Ordering::Relaxed);
        self.share
            .hold_ms
            .store((old * 7 + ms) / 8, Ordering::Relaxed);
    }
}

impl Shares {
    pub fn new(limit: usize) -> Self {
        Shares {
            limit: limit.max(1),
            map: Mutex::default(),
        }
    }

    /// Takes one of `key`'s permits now, or says how long to come back
    /// after (`deferrals`: how often this work was put off already, so a
    /// long backlog is looked at less and less often).
    pub fn try_take(&self, key: &str, deferrals: u32) -> std::result::Result<Held, Duration> {
        let share = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() >= MAX_KEYS && !map.contains_key(key) {
                // Forget shares nobody holds (their averages start afresh).
                map.retain(|_, s| Arc::strong_count(s) > 1);
            }
            map.entry(key.to_string())
                .or_insert_with(|| {
                    Arc::new(Share {
                        sem: Arc::new(Semaphore::new(self.limit)),
                        hold_ms: AtomicU64::new(0),
                    })
                })
                .clone()
        };
        match share.sem.clone().try_acquire_owned() {
            Ok(p) => Ok(Held {
                _permit: p,
                share,
                since: Instant::now(),
            }),
            Err(_) => {
                let hold = Duration::from_millis(share.hold_ms.load(Ordering::Relaxed));
                let wait = backoff::exponential(hold.max(MIN_WAIT), deferrals.min(3), MAX_WAIT);
                Err(backoff::jitter(wait, 0.5).clamp(MIN_WAIT, MAX_WAIT))
            }
        }
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

/// Every share this process keeps.
pub struct Fairness {
    /// Deliveries in flight per tenant (project and environment).
    pub delivery_tenants: Shares,
    /// Deliveries in flight per receiving origin.
    pub endpoints: Shares,
    /// Timer and poll ticks in flight per tenant.
    pub tick_tenants: Shares,
    /// API requests being processed per tenant (`None`: unlimited).
    pub request_tenants: Option<Shares>,
}

impl crate::Core {
    /// The tenant's share of this process's request handling (inbound
    /// hooks, action runs, proxy calls, remote options), or a 429.
    pub(crate) fn request_share(&self, t: &crate::model::Tenant) -> crate::Result<Option<Held>> {
        let Some(shares) = &self.fairness.request_tenants else {
            return Ok(None);
        };
        shares
            .try_take(&t.slot(), 0)
            .map(Some)
            .map_err(|wait| crate::Error::RateLimited {
                message: "too many requests for this project at once; retry shortly".into(),
                retry_after_secs: wait.as_secs().max(1),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_share_defers_instead_of_waiting() {
        let s = Shares::new(2);
        let a = s.try_take("a", 0).unwrap();
        let _b = s.try_take("a", 0).unwrap();
        let wait = s.try_take("a", 0).err().expect("third is deferred");
        assert!(wait >= MIN_WAIT && wait <= MAX_WAIT);
        // Other keys are untouched by a's load.
        assert!(s.try_take("b", 0).is_ok());
        drop(a);
        assert!(s.try_take("a", 0).is_ok(), "a permit came back");
    }

    #[test]
    fn deferrals_stretch_the_wait_up_to_the_cap() {
        let s = Shares::new(1);
        let _a = s.try_take("a", 0).unwrap();
        let first = s.try_take("a", 0).err().unwrap();
        let late = s.try_take("a", 8).err().unwrap();
        assert!(first <= Duration::from_millis(375), "{first:?}");
        assert!(
            late >= Duration::from_secs(30) && late <= MAX_WAIT,
            "{late:?}"
        );
    }

    #[test]
    fn idle_shares_are_forgotten_when_many() {
        let s = Shares::new(1);
        let held = s.try_take("busy", 0).unwrap();
        for i in 0..MAX_KEYS + 10 {
            drop(s.try_take(&format!("k{i}"), 0));
        }
        assert!(s.keys() <= MAX_KEYS, "bounded: {}", s.keys());
        assert!(s.try_take("busy", 0).is_err(), "a held share is kept");
        drop(held);
    }
}
