//! `Core`: the store, the keyring and the catalog, shared by the server, the
//! workers and the admin commands.

use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use switchboard_components::Catalog;
use switchboard_net::outbound::{Outbound, Policy};

use crate::crypto::Keyring;
use crate::error::{Error, Result};
use crate::records;
use crate::store::{EmbeddedStore, Key, RedisStore, Store};

/// What the domain needs from configuration.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    /// Public base URL without a trailing slash.
    pub public_base: String,
    pub access_token_ttl_secs: u64,
    pub connect_token_ttl_secs: u64,
    /// 0 disables.
    pub tokens_per_user_per_minute: u64,
    /// 0 disables.
    pub accounts_per_project_per_5min: u64,
    /// Account requests by one end user (connect token) per 5 minutes;
    /// 0 disables.
    pub accounts_per_user_per_5min: u64,
    /// Requests to one inbound URL per minute; 0 disables.
    pub hook_requests_per_minute: u64,
    /// Inbound requests of one tenant processed at once, per process; 0
    /// disables.
    pub in_flight_per_tenant: usize,
    /// Non-public networks outbound requests may reach (CIDRs).
    pub allow_private_networks: Vec<String>,
    /// How long the proxy waits for the upstream before answering 504.
    pub proxy_timeout_secs: u64,
    /// Emitted events kept per deployed trigger (`GET …/events`).
    pub events_retained: usize,
    /// After a signing key is regenerated, the old one signs too this long.
    pub key_overlap_secs: u64,
    /// Deliveries in flight to one origin at once, per process.
    pub delivery_per_endpoint: usize,
    /// Deliveries in flight for one tenant at once, per process.
    pub delivery_per_tenant: usize,
    /// Delivery attempts sending at once, per process.
    pub delivery_in_flight: usize,
    /// Timer and poll ticks in flight for one tenant at once, per process.
    pub ticks_per_tenant: usize,
    /// Seconds before each retry; empty means the default schedule.
    pub retry_schedule_secs: Vec<u64>,
    /// A delivery taken by a worker that then goes quiet this long is
    /// taken over by another (longer than any attempt's timeout).
    pub delivery_lease_ms: u64,
    /// A webhook failing without a success this long is deactivated.
    pub deactivate_after_secs: u64,
    /// The shortest timer interval a deployment may have.
    pub min_interval_secs: u64,
    /// Refreshable accounts are refreshed at least this often.
    pub refresh_touch_secs: u64,
    /// After a failed refresh, the next one waits this long, doubling up
    /// to the maximum.
    pub refresh_retry_min_secs: u64,
    pub refresh_retry_max_secs: u64,
    /// Refreshes failing this long make an account dead.
    pub account_dead_after_secs: u64,
    /// Ids a `unique` polling source remembers.
    pub dedupe_unique_bound: usize,
    /// Failed polls in a row before the project webhook is told.
    pub poll_failures_notify_after: u32,
    /// How long what Switchboard keeps may live (`[retention]`).
    pub retention: Retention,
    /// Per-tenant limits on what can be created (`[quotas]`).
    pub quotas: Quotas,
}

/// How long stored data lives (`[retention]` in the config).
#[derive(Debug, Clone)]
pub struct Retention {
    /// Dead letters (and every delivery attempt) expire this long after
    /// they are written.
    pub dead_letter_secs: u64,
    /// Emitted events expire this long after they are recorded (besides the
    /// newest-`events_retained` cap).
    pub events_secs: u64,
    /// A deleted external user's tombstone lives this long after the delete
    /// finished: meanwhile the user cannot be used again (409).
    pub user_tombstone_secs: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            dead_letter_secs: 30 * 86_400,
            events_secs: 30 * 86_400,
            user_tombstone_secs: 600,
        }
    }
}

impl Retention {
    /// The TTL of delivery attempt records: at least the 7 days of the
    /// attempts log, and as long as the dead letters they explain.
    pub fn attempt_ttl_ms(&self) -> u64 {
        self.dead_letter_secs.max(7 * 86_400) * 1000
    }
}

/// Per-tenant quotas (`[quotas]` in the config); 0 means unlimited.
#[derive(Debug, Clone)]
pub struct Quotas {
    pub deployments_per_user: u64,
    pub deployments_per_environment: u64,
    pub accounts_per_user: u64,
    pub webhooks_per_deployment: u64,
    pub private_components_per_project: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            deployments_per_user: 100,
            deployments_per_environment: 10_000,
            accounts_per_user: 100,
            webhooks_per_deployment: 10,
            private_components_per_project: 500,
        }
    }
}

/// The error for an exhausted quota: 403, naming the quota, its config key
/// and its value.
pub(crate) fn quota_exceeded(what: &str, key: &str, max: u64) -> Error {
    Error::Forbidden(format!(
        "quota exceeded: at most {max} {what} (quotas.{key}); delete some first or ask the \
         operator to raise the quota"
    ))
}

/// Whether `count` more objects than allowed would exist after one more.
pub(crate) fn over_quota(count: u64, max: u64) -> bool {
    max > 0 && count >= max
}

impl Core {
    /// The members of `index`, counted up to `max` (0: not counted). A
    /// quota check reads at most the quota, whatever the index's size
    /// (counting a whole index is linear on the embedded store).
    pub(crate) async fn count_up_to(&self, index: &crate::store::Key, max: u64) -> Result<u64> {
        if max == 0 {
            return Ok(0);
        }
        let range = crate::store::IndexRange {
            limit: max as usize,
            ..Default::default()
        };
        Ok(self.store.index_range(index, &range).await?.len() as u64)
    }
}

impl Default for CoreSettings {
    fn default() -> Self {
        CoreSettings {
            public_base: "http://127.0.0.1:8080".into(),
            access_token_ttl_secs: 3600,
            connect_token_ttl_secs: 14400,
            tokens_per_user_per_minute: 100,
            accounts_per_project_per_5min: 2000,
            accounts_per_user_per_5min: 500,
            hook_requests_per_minute: 6000,
            in_flight_per_tenant: 128,
            allow_private_networks: Vec::new(),
            proxy_timeout_secs: 30,
            events_retained: 100,
            key_overlap_secs: 86_400,
            delivery_per_endpoint: 16,
            delivery_per_tenant: 64,
            delivery_in_flight: 512,
            ticks_per_tenant: 64,
            retry_schedule_secs: Vec::new(),
            delivery_lease_ms: 60_000,
            deactivate_after_secs: 5 * 86_400,
            min_interval_secs: 900,
            refresh_touch_secs: 86_400,
            refresh_retry_min_secs: 30,
            refresh_retry_max_secs: 3600,
            account_dead_after_secs: 4 * 86_400,
            dedupe_unique_bound: 1000,
            poll_failures_notify_after: 5,
            retention: Retention::default(),
            quotas: Quotas::default(),
        }
    }
}

use crate::fairness::Shares;

pub struct Core {
    pub store: Arc<dyn Store>,
    pub(crate) keyring: Keyring,
    pub catalog: Catalog,
    pub settings: CoreSettings,
    /// Every outbound request (actions, options, proxy, refresh).
    pub outbound: Outbound,
    /// This process's per-tenant and per-endpoint shares (`fairness.rs`).
    pub(crate) fairness: crate::fairness::Fairness,
    /// Private components parsed, by the SHA-256 of their stored record:
    /// a poll of one reads the record but does not re-validate it.
    pub(crate) parsed_components:
        std::sync::Mutex<std::collections::HashMap<String, Arc<switchboard_components::Component>>>,
    /// Deployments being polled by this process (the embedded store's
    /// poll lock).
    pub(crate) polls_running: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Per-account polls in flight (the manifest's `concurrency`).
    pub(crate) poll_limits:
        std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

/// Redis when a URL is given, else the embedded store in `data_dir`.
pub async fn open_store(
    redis_url: &str,
    redis_prefix: &str,
    data_dir: &Path,
) -> Result<Arc<dyn Store>> {
    if redis_url.trim().is_empty() {
        let dir = data_dir.to_path_buf();
        let s = tokio::task::spawn_blocking(move || EmbeddedStore::open(&dir))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
        Ok(Arc::new(s))
    } else {
        Ok(Arc::new(
            RedisStore::connect(redis_url, redis_prefix).await?,
        ))
    }
}

const KEYCHECK_PLAINTEXT: &[u8] = b"switchboard keycheck v1";

impl Core {
    /// Checks the keyring against the store before anything is served: a
    /// wrong or missing key stops start-up here, with the reason.
    pub async fn new(
        store: Arc<dyn Store>,
        keyring: Keyring,
        catalog: Catalog,
        settings: CoreSettings,
    ) -> Result<Self> {
        let policy = Policy::new(&settings.allow_private_networks)
            .map_err(|e| Error::Invalid(format!("outbound.allow_private_networks: {e}")))?;
        let outbound = Outbound::new(policy).map_err(Error::Internal)?;
        let fairness = crate::fairness::Fairness {
            sends: tokio::sync::Semaphore::new(settings.delivery_in_flight.max(1)),
            tick_runs: tokio::sync::Semaphore::new(crate::fairness::TICKS_IN_FLIGHT),
            delivery_tenants: Shares::new(
                settings.delivery_per_tenant,
                settings.delivery_per_tenant * 4,
            ),
            endpoints: Shares::new(
                settings.delivery_per_endpoint,
                settings.delivery_per_endpoint * 8,
            ),
            tick_tenants: Shares::new(settings.ticks_per_tenant, settings.ticks_per_tenant * 2),
            // Requests are never queued here: over its share, a 429.
            request_tenants: (settings.in_flight_per_tenant > 0)
                .then(|| Shares::new(settings.in_flight_per_tenant, 0)),
        };
        let core = Core {
            store,
            keyring,
            catalog,
            settings,
            outbound,
            fairness,
            poll_limits: Default::default(),
            polls_running: Default::default(),
            parsed_components: Default::default(),
        };
        core.verify_keyring().await?;
        Ok(core)
    }

    async fn verify_keyring(&self) -> Result<()> {
        let ids = self
            .store
            .index_range(
                &records::keychecks_index(),
                &crate::store::IndexRange {
                    limit: 1000,
                    ..Default::default()
                },
            )
            .await?;
        for id in &ids {
            if !self.keyring.key_ids().any(|k| k == id) {
                return Err(Error::Invalid(format!(
                    "this store holds credentials encrypted with key {id:?}, which is not in the \
                     configured keyring (keys: {:?}); restore that key or its keyring.json",
                    self.keyring.key_ids().collect::<Vec<_>>()
                )));
            }
            let sealed = self.store.get(&records::keycheck(id)).await?;
            let ok = sealed
                .map(|s| String::from_utf8_lossy(&s).to_string())
                .is_some_and(|s| self.keyring.open(&s, "keycheck").is_ok());
            if !ok {
                return Err(Error::Invalid(format!(
                    "encryption key {id:?} is wrong: it does not decrypt the data this store was \
                     written with; check SWITCHBOARD_ENCRYPTION__KEYS or <data_dir>/keyring.json"
                )));
            }
        }
        let active = self.keyring.active_id().to_string();
        if !ids.contains(&active) {
            self.record_keycheck(&active).await?;
        }
        Ok(())
    }

    pub(crate) async fn record_keycheck(&self, id: &str) -> Result<()> {
        let sealed = self.keyring.seal(KEYCHECK_PLAINTEXT, "keycheck");
        self.store
            .commit(vec![
                crate::store::Op::put(records::keycheck(id), sealed.into_bytes()),
                records::index_add(records::keychecks_index(), id),
            ])
            .await?;
        Ok(())
    }

    pub(crate) async fn read<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>> {
        match self.store.get(key).await? {
            Some(b) => Ok(Some(records::from_bytes(&b)?)),
            None => Ok(None),
        }
    }

    /// Read-modify-write of one record that others may write meanwhile:
    /// `f` changes a fresh copy (returning whether it changed anything) and
    /// the write lands only if the record is still what was read, else it
    /// starts over. `None` when the record does not exist.
    pub(crate) async fn modify<T, F>(&self, key: &Key, mut f: F) -> Result<Option<T>>
    where
        T: DeserializeOwned + serde::Serialize,
        F: FnMut(&mut T) -> Result<bool>,
    {
        for _ in 0..50 {
            let Some(raw) = self.store.get(key).await? else {
                return Ok(None);
            };
            let mut v: T = records::from_bytes(&raw)?;
            if !f(&mut v)? {
                return Ok(Some(v));
            }
            if self.store.swap_if(key, &raw, records::to_bytes(&v)).await? {
                return Ok(Some(v));
            }
        }
        Err(crate::error::Error::Internal(format!(
            "record {} kept changing under concurrent writers",
            key.name
        )))
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }
}
