//! Webhook endpoints: a URL with its own `whsec_` signing key and its
//! delivery state. A deployed trigger's own endpoints live in its record
//! (`triggers::webhooks` manages them and answers [`Endpoints`]); the
//! environment's default endpoint lives here. Regenerating a key keeps the
//! old one valid for an overlap window, during which deliveries carry both
//! signatures, so receivers can switch keys without losing events.

use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::error::{Result, not_found};
use crate::ids::{new_id, random_bytes};
use crate::model::Tenant;
use crate::records;

use super::Delivery;

/// What delivery needs from whoever owns an event's endpoint, webhook
/// `webhook` of deployment `deployment` (a deployed trigger's webhooks live
/// in its record): one read for the keys, and the attempt's outcome written
/// back. Implemented by `triggers`; the environment's own endpoint, which
/// signs notifications, is answered here.
#[async_trait::async_trait]
pub trait Endpoints: Send + Sync {
    /// The keys that sign a delivery to the endpoint now (current first,
    /// then the previous one while its overlap lasts) and whether it is
    /// failing; `None` when the deployment or the webhook was removed.
    async fn signing(&self, t: &Tenant, deployment: &str, webhook: &str)
    -> Result<Option<Signing>>;
    /// Counts an attempt's outcome on the endpoint's delivery state.
    async fn record_outcome(
        &self,
        t: &Tenant,
        deployment: &str,
        webhook: &str,
        failure: Option<String>,
        gone: bool,
    ) -> Result<()>;
}

/// A Standard Webhooks secret: `whsec_` and 24 random bytes in base64.
pub fn new_signing_key() -> String {
    switchboard_net::standard_webhooks::secret(&random_bytes::<24>())
}

/// How a delivery is signed, and whether its endpoint was failing (a
/// success then has a delivery state to reset; otherwise nothing is written).
pub struct Signing {
    pub keys: Vec<String>,
    pub failing: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TriggerWebhook {
    pub id: String,
    pub url: String,
    /// Sealed.
    pub signing_key: String,
    /// Sealed; valid until `previous_until` (epoch ms).
    #[serde(default)]
    pub previous_key: Option<String>,
    #[serde(default)]
    pub previous_until: Option<u64>,
    pub active: bool,
    #[serde(default)]
    pub delivery_state: DeliveryState,
    pub created_at: u64,
    pub updated_at: u64,
}

/// How a webhook's deliveries are going (Pipedream's `delivery_state`):
/// happy → penalty (3 failures in a row) → life_support (10) → deactivated,
/// when it gets no more deliveries until reset. Deactivation comes from a
/// 410, or from failing without a single success for
/// `delivery.deactivate_after_secs` (5 days by default, as Svix does), never
/// from a count alone: a receiver down for a minute under heavy traffic
/// fails thousands of attempts and must still get every event after.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeliveryState {
    pub state: EndpointState,
    /// Epoch seconds of the last change of state.
    #[serde(default)]
    pub since: Option<u64>,
    #[serde(default)]
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    /// Epoch ms of the first failure since the last success.
    #[serde(default)]
    pub failing_since: Option<u64>,
    /// Events not delivered because the webhook was deactivated.
    pub sheds: u32,
}

/// A webhook's delivery state; the wire and stored names are Pipedream's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointState {
    #[default]
    Happy,
    Penalty,
    LifeSupport,
    /// Gets no more deliveries until reset.
    Deactivated,
}

impl DeliveryState {
    /// Applies one attempt's outcome; returns whether the webhook stays active.
    pub(crate) fn record(
        &mut self,
        failure: Option<String>,
        gone: bool,
        deactivate_after_ms: u64,
    ) -> bool {
        let before = self.state;
        let now = now_ms();
        match failure {
            None => {
                self.consecutive_failures = 0;
                self.failing_since = None;
                self.state = EndpointState::Happy;
            }
            Some(e) => {
                self.consecutive_failures += 1;
                self.last_error = Some(e);
                let since = *self.failing_since.get_or_insert(now);
                self.state = match self.consecutive_failures {
                    _ if gone || now.saturating_sub(since) >= deactivate_after_ms => {
                        EndpointState::Deactivated
                    }
                    n if n >= 10 => EndpointState::LifeSupport,
                    n if n >= 3 => EndpointState::Penalty,
                    _ => EndpointState::Happy,
                };
            }
        }
        if self.state != before {
            self.since = Some(now / 1000);
        }
        self.state != EndpointState::Deactivated
    }
}

/// A webhook with its current key opened (for server callers).
pub struct WebhookView {
    pub webhook: TriggerWebhook,
    pub signing_key: String,
}

pub(crate) fn aad(t: &Tenant, dc: &str, wh: &str) -> String {
    format!("wh:{}:{}:{dc}:{wh}", t.project_id, t.env.as_str())
}

impl Delivery {
    /// A new webhook for `url`, signed with `key` (or a new key).
    pub(crate) fn new_webhook(
        &self,
        t: &Tenant,
        dc: &str,
        url: &str,
        key: Option<&str>,
    ) -> TriggerWebhook {
        let id = new_id("wh");
        let key = key.map_or_else(new_signing_key, str::to_string);
        let now = now_ms();
        TriggerWebhook {
            signing_key: self.keyring.seal(key.as_bytes(), &aad(t, dc, &id)),
            id,
            url: url.to_string(),
            previous_key: None,
            previous_until: None,
            active: true,
            delivery_state: DeliveryState::default(),
            created_at: now,
            updated_at: now,
        }
    }

    pub(crate) fn open_webhook(
        &self,
        t: &Tenant,
        dc: &str,
        w: &TriggerWebhook,
    ) -> Result<WebhookView> {
        let key = self.keyring.open(&w.signing_key, &aad(t, dc, &w.id))?;
        Ok(WebhookView {
            webhook: w.clone(),
            signing_key: String::from_utf8_lossy(&key).into_owned(),
        })
    }

    /// The keys a delivery is signed with now: current first, then the
    /// previous one while its overlap lasts.
    pub(crate) fn webhook_keys(
        &self,
        t: &Tenant,
        dc: &str,
        w: &TriggerWebhook,
    ) -> Result<Vec<String>> {
        let mut keys = vec![self.open_webhook(t, dc, w)?.signing_key];
        if let (Some(prev), Some(until)) = (&w.previous_key, w.previous_until)
            && now_ms() < until
        {
            let k = self.keyring.open(prev, &aad(t, dc, &w.id))?;
            keys.push(String::from_utf8_lossy(&k).into_owned());
        }
        Ok(keys)
    }

    /// Swaps in a new key, keeping the old one for the overlap window;
    /// returns the new key.
    pub(crate) fn rotate_key(&self, t: &Tenant, owner: &str, w: &mut TriggerWebhook) -> String {
        let now = now_ms();
        let key = new_signing_key();
        w.previous_key = Some(std::mem::replace(
            &mut w.signing_key,
            self.keyring.seal(key.as_bytes(), &aad(t, owner, &w.id)),
        ));
        w.previous_until = Some(now + self.settings.key_overlap_secs * 1000);
        w.updated_at = now;
        key
    }
}

/// The project environment's default webhook: where events of triggers
/// without their own webhooks go, and account-health notifications. Its key
/// is the environment's key: it also signs connection webhooks. A record
/// with an empty URL holds the key alone (made by the first connection
/// webhook of an environment that has no default webhook).
const DEFAULT: &str = "default";

impl Delivery {
    async fn default_record(&self, t: &Tenant) -> Result<Option<TriggerWebhook>> {
        self.read::<TriggerWebhook>(&records::default_webhook(t))
            .await
    }

    /// The default webhook, when it has a URL.
    pub async fn default_webhook(&self, t: &Tenant) -> Result<Option<WebhookView>> {
        match self.default_record(t).await? {
            Some(w) if !w.url.is_empty() => Ok(Some(self.open_webhook(t, DEFAULT, &w)?)),
            _ => Ok(None),
        }
    }

    /// The environment's key holder, made (without a URL) when missing.
    pub(crate) async fn environment_webhook(&self, t: &Tenant) -> Result<TriggerWebhook> {
        if let Some(w) = self.default_record(t).await? {
            return Ok(w);
        }
        let mut w = self.new_webhook(t, DEFAULT, "", None);
        w.active = false;
        let key = records::default_webhook(t);
        // Two processes making it at once keep the first one's key.
        self.store
            .put_if_absent(&key, records::to_bytes(&w), None)
            .await?;
        self.default_record(t)
            .await?
            .ok_or_else(|| crate::error::Error::Internal("the environment key vanished".into()))
    }

    /// How a notification counted against webhook `wh` is signed: with the
    /// environment's keys.
    pub(crate) async fn environment_signing(&self, t: &Tenant, wh: &str) -> Result<Signing> {
        let w = self.environment_webhook(t).await?;
        Ok(Signing {
            keys: self.webhook_keys(t, DEFAULT, &w)?,
            failing: w.id == wh && w.delivery_state.consecutive_failures > 0,
        })
    }

    /// The keys that sign the environment's notifications now.
    pub(crate) async fn environment_keys(&self, t: &Tenant) -> Result<Vec<String>> {
        let w = self.environment_webhook(t).await?;
        self.webhook_keys(t, DEFAULT, &w)
    }

    /// Creates or re-points the default webhook; returns it and whether its
    /// key is shown (only when the webhook is new: a key held without a URL
    /// was never shown either).
    pub async fn put_default_webhook(&self, t: &Tenant, url: &str) -> Result<(WebhookView, bool)> {
        crate::validate::http_url("url", url)?;
        let (w, created) = match self.default_record(t).await? {
            Some(mut w) => {
                let created = w.url.is_empty();
                // A new URL starts with a clean delivery record.
                w.url = url.to_string();
                w.active = true;
                w.delivery_state = DeliveryState::default();
                w.updated_at = now_ms();
                (w, created)
            }
            None => (self.new_webhook(t, DEFAULT, url, None), true),
        };
        self.store
            .commit(vec![records::put(records::default_webhook(t), &w)])
            .await?;
        Ok((self.open_webhook(t, DEFAULT, &w)?, created))
    }

    pub async fn delete_default_webhook(&self, t: &Tenant) -> Result<()> {
        if self.default_webhook(t).await?.is_none() {
            return Err(not_found("this project environment has no default webhook"));
        }
        self.store
            .commit(vec![crate::store::Op::Delete(records::default_webhook(t))])
            .await?;
        Ok(())
    }

    /// A new environment key (the old one keeps signing for the overlap);
    /// works without a default webhook, to learn the key that signs
    /// connection webhooks.
    pub async fn regenerate_default_webhook_key(&self, t: &Tenant) -> Result<WebhookView> {
        let mut w = self.environment_webhook(t).await?;
        let key = self.rotate_key(t, DEFAULT, &mut w);
        self.store
            .commit(vec![records::put(records::default_webhook(t), &w)])
            .await?;
        Ok(WebhookView {
            webhook: w,
            signing_key: key,
        })
    }

    /// Where events of a deployment without webhooks of its own go: the
    /// default webhook, when it has a URL and is active.
    pub(crate) async fn default_targets(&self, t: &Tenant) -> Result<Vec<TriggerWebhook>> {
        Ok(self
            .default_record(t)
            .await?
            .into_iter()
            .filter(|w| w.active && !w.url.is_empty())
            .collect())
    }

    /// How a delivery to the default webhook `wh` is signed; `None` when
    /// `wh` is not the default webhook (any more).
    pub(crate) async fn default_signing(&self, t: &Tenant, wh: &str) -> Result<Option<Signing>> {
        match self.default_record(t).await? {
            Some(w) if w.id == wh => Ok(Some(Signing {
                keys: self.webhook_keys(t, DEFAULT, &w)?,
                failing: w.delivery_state.consecutive_failures > 0,
            })),
            _ => Ok(None),
        }
    }

    /// Counts an attempt's outcome on the default webhook, if `wh` is it.
    pub(crate) async fn record_default_outcome(
        &self,
        t: &Tenant,
        wh: &str,
        failure: Option<String>,
        gone: bool,
    ) -> Result<()> {
        let after = self.settings.deactivate_after_secs * 1000;
        self.modify::<TriggerWebhook, _>(&records::default_webhook(t), |w| {
            if w.id != wh || (failure.is_none() && w.delivery_state.consecutive_failures == 0) {
                return Ok(false);
            }
            w.active = w.delivery_state.record(failure.clone(), gone, after);
            Ok(true)
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_states_keep_their_stored_and_wire_names() {
        for (state, name) in [
            (EndpointState::Happy, "happy"),
            (EndpointState::Penalty, "penalty"),
            (EndpointState::LifeSupport, "life_support"),
            (EndpointState::Deactivated, "deactivated"),
        ] {
            assert_eq!(serde_json::to_value(state).unwrap(), name);
            let stored = serde_json::json!({
                "state": name, "consecutive_failures": 0, "sheds": 0,
            });
            let read: DeliveryState = serde_json::from_value(stored).unwrap();
            assert_eq!(read.state, state);
        }
    }

    #[test]
    fn failures_walk_the_states_and_a_success_resets() {
        let mut s = DeliveryState::default();
        let day = 86_400_000;
        let fail = |s: &mut DeliveryState| s.record(Some("HTTP 500".into()), false, day);
        for _ in 0..2 {
            assert!(fail(&mut s));
        }
        assert_eq!(s.state, EndpointState::Happy);
        assert!(fail(&mut s));
        assert_eq!(s.state, EndpointState::Penalty);
        for _ in 3..10 {
            assert!(fail(&mut s));
        }
        assert_eq!(s.state, EndpointState::LifeSupport);
        assert!(!s.record(Some("HTTP 410".into()), true, day));
        assert_eq!(s.state, EndpointState::Deactivated);
        assert!(s.record(None, false, day));
        assert_eq!(s.state, EndpointState::Happy);
        assert_eq!(s.consecutive_failures, 0);
    }
}
