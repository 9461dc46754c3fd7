//! The shared context every capability's service works over: the store,
//! the keyring, the component manifests, the settings, the outbound HTTP
//! client and this process's fair shares. Capabilities reach it through
//! `Deref`, so `self.store` and `self.read(..)` read the same everywhere.

use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use switchboard_components::{App, Catalog};
use switchboard_net::outbound::{Outbound, Policy};

use crate::crypto::Keyring;
use crate::error::{Error, Result};
use crate::fairness::{Fairness, Shares};
use crate::records;
use crate::settings::CoreSettings;
use crate::store::{EmbeddedStore, Key, RedisStore, Store};

/// The error for an exhausted quota: 403, naming the quota, its config key
/// and its value.
pub(crate) fn quota_exceeded(what: &str, key: &str, max: u64) -> Error {
    Error::quota_exceeded(what, key, max)
}

/// Whether `count` more objects than allowed would exist after one more.
pub(crate) fn over_quota(count: u64, max: u64) -> bool {
    max > 0 && count >= max
}

/// The shared context (see the module docs).
pub struct Context {
    pub store: Arc<dyn Store>,
    pub(crate) keyring: Keyring,
    pub catalog: Catalog,
    pub settings: CoreSettings,
    /// Every outbound request (actions, options, proxy, refresh).
    pub outbound: Outbound,
    /// This process's per-tenant and per-endpoint shares (`fairness.rs`).
    pub(crate) fairness: Fairness,
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
            .map_err(|e| Error::internal_from("opening the embedded store", e))??;
        Ok(Arc::new(s))
    } else {
        Ok(Arc::new(
            RedisStore::connect(redis_url, redis_prefix).await?,
        ))
    }
}

const KEYCHECK_PLAINTEXT: &[u8] = b"switchboard keycheck v1";

impl Context {
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
        let fairness = Fairness {
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
        let ctx = Context {
            store,
            keyring,
            catalog,
            settings,
            outbound,
            fairness,
        };
        ctx.verify_keyring().await?;
        Ok(ctx)
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

    /// An app of the manifests, by id or slug.
    pub fn app(&self, id_or_slug: &str) -> Result<&App> {
        self.catalog
            .get(id_or_slug)
            .ok_or_else(|| Error::Invalid(format!("unknown app {id_or_slug:?}")))
    }
}

impl Context {
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

/// A capability's service reads the shared context through `Deref`.
macro_rules! over_context {
    ($service:ty) => {
        impl std::ops::Deref for $service {
            type Target = $crate::context::Context;
            fn deref(&self) -> &$crate::context::Context {
                &self.ctx
            }
        }
    };
}
pub(crate) use over_context;
