//! A deployed trigger's webhooks: the URLs its events are delivered to,
//! each with its own `whsec_` signing key. Regenerating a key keeps the old
//! one valid for an overlap window, during which deliveries carry both
//! signatures, so receivers can switch keys without losing events.

use serde::{Deserialize, Serialize};

use crate::Core;
use crate::clock::now_ms;
use crate::error::{Result, not_found};
use crate::ids::new_id;
use crate::model::Tenant;
use crate::records;
use crate::triggers::{Deployment, new_signing_key};

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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryState {
    pub state: String,
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

impl Default for DeliveryState {
    fn default() -> Self {
        DeliveryState {
            state: "happy".into(),
            since: None,
            last_error: None,
            consecutive_failures: 0,
            failing_since: None,
            sheds: 0,
        }
    }
}

impl DeliveryState {
    /// Applies one attempt's outcome; returns whether the webhook stays active.
    fn record(&mut self, failure: Option<String>, gone: bool, deactivate_after_ms: u64) -> bool {
        let before = self.state.clone();
        let now = now_ms();
        match failure {
            None => {
                self.consecutive_failures = 0;
                self.failing_since = None;
                self.state = "happy".into();
            }
            Some(e) => {
                self.consecutive_failures += 1;
                self.last_error = Some(e);
                let since = *self.failing_since.get_or_insert(now);
                self.state = match self.consecutive_failures {
                    _ if gone || now.saturating_sub(since) >= deactivate_after_ms => "deactivated",
                    n if n >= 10 => "life_support",
                    n if n >= 3 => "penalty",
                    _ => "happy",
                }
                .into();
            }
        }
        if self.state != before {
            self.since = Some(now / 1000);
        }
        self.state != "deactivated"
    }
}

/// A webhook with its current key opened (for server callers).
pub struct WebhookView {
    pub webhook: TriggerWebhook,
    pub signing_key: String,
}

/// Where webhook `wh` sits in the deployment's list.
fn position(d: &Deployment, wh: &str) -> Result<usize> {
    d.webhooks
        .iter()
        .position(|w| w.id == wh)
        .ok_or_else(|| not_found(format!("webhook {wh:?} not found on this trigger")))
}

fn aad(t: &Tenant, dc: &str, wh: &str) -> String {
    format!("wh:{}:{}:{dc}:{wh}", t.project_id, t.env.as_str())
}

impl Core {
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

    fn open_webhook(&self, t: &Tenant, dc: &str, w: &TriggerWebhook) -> Result<WebhookView> {
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

    async fn user_deployment(&self, t: &Tenant, dc: &str, ext: &str) -> Result<Deployment> {
        Ok(self.deployment(t, dc, Some(ext)).await?.deployment)
    }

    pub async fn trigger_webhooks(
        &self,
        t: &Tenant,
        dc: &str,
        ext: &str,
    ) -> Result<Vec<WebhookView>> {
        let d = self.user_deployment(t, dc, ext).await?;
        d.webhooks
            .iter()
            .map(|w| self.open_webhook(t, dc, w))
            .collect()
    }

    /// Replaces the set of URLs; a URL already present keeps its id and key.
    pub async fn set_trigger_webhooks(
        &self,
        t: &Tenant,
        dc: &str,
        ext: &str,
        urls: Vec<String>,
    ) -> Result<Vec<WebhookView>> {
        let max = self.settings.quotas.webhooks_per_deployment;
        if max > 0 && urls.len() as u64 > max {
            return Err(crate::core::quota_exceeded(
                "webhook URLs per deployed trigger",
                "webhooks_per_deployment",
                max,
            ));
        }
        for u in &urls {
            crate::validate::http_url("webhook_urls", u)?;
        }
        self.user_deployment(t, dc, ext).await?;
        let d = self
            .modify::<Deployment, _>(&records::deployment(t, dc), |d| {
                let mut next = Vec::new();
                for u in &urls {
                    if next.iter().any(|w: &TriggerWebhook| &w.url == u) {
                        continue;
                    }
                    match d.webhooks.iter().find(|w| &w.url == u) {
                        Some(w) => next.push(w.clone()),
                        None => next.push(self.new_webhook(t, dc, u, None)),
                    }
                }
                d.webhooks = next;
                d.updated_at = now_ms();
                Ok(true)
            })
            .await?
            .ok_or_else(|| not_found(format!("deployed trigger {dc:?} not found")))?;
        d.webhooks
            .iter()
            .map(|w| self.open_webhook(t, dc, w))
            .collect()
    }

    pub async fn trigger_webhook(
        &self,
        t: &Tenant,
        dc: &str,
        ext: &str,
        wh: &str,
    ) -> Result<WebhookView> {
        let d = self.user_deployment(t, dc, ext).await?;
        self.open_webhook(t, dc, &d.webhooks[position(&d, wh)?])
    }

    /// A new key; the old one keeps verifying for the overlap window.
    pub async fn regenerate_webhook_key(
        &self,
        t: &Tenant,
        dc: &str,
        ext: &str,
        wh: &str,
    ) -> Result<WebhookView> {
        self.change_webhook(t, dc, ext, wh, |core, w| Some(core.rotate_key(t, dc, w)))
            .await
    }

    /// Changes one webhook of a deployment; `f` returns a new key when it
    /// made one (shown once), else the current key is opened.
    async fn change_webhook(
        &self,
        t: &Tenant,
        dc: &str,
        ext: &str,
        wh: &str,
        f: impl FnMut(&Self, &mut TriggerWebhook) -> Option<String>,
    ) -> Result<WebhookView> {
        self.user_deployment(t, dc, ext).await?;
        let mut key = None;
        let mut f = f;
        let d = self
            .modify::<Deployment, _>(&records::deployment(t, dc), |d| {
                let i = position(d, wh)?;
                key = f(self, &mut d.webhooks[i]);
                d.webhooks[i].updated_at = now_ms();
                d.updated_at = now_ms();
                Ok(true)
            })
            .await?
            .ok_or_else(|| not_found(format!("deployed trigger {dc:?} not found")))?;
        let i = position(&d, wh)?;
        match key {
            Some(signing_key) => Ok(WebhookView {
                webhook: d.webhooks[i].clone(),
                signing_key,
            }),
            None => self.open_webhook(t, dc, &d.webhooks[i]),
        }
    }
}

impl Core {
    /// Records an attempt's outcome on the webhook it went to (a trigger's
    /// or the project default).
    pub(crate) async fn record_health(
        &self,
        t: &Tenant,
        dc: &str,
        wh: &str,
        failure: Option<String>,
        gone: bool,
    ) -> Result<()> {
        // Both records are written by the API too: change them in place.
        let after = self.settings.deactivate_after_secs * 1000;
        let mut own = false;
        self.modify::<Deployment, _>(&records::deployment(t, dc), |d| {
            let Some(w) = d.webhooks.iter_mut().find(|w| w.id == wh) else {
                return Ok(false);
            };
            own = true;
            if failure.is_none() && w.delivery_state.consecutive_failures == 0 {
                return Ok(false); // the common case writes nothing
            }
            w.active = w.delivery_state.record(failure.clone(), gone, after);
            Ok(true)
        })
        .await?;
        if !own {
            self.modify::<TriggerWebhook, _>(&records::default_webhook(t), |w| {
                if w.id != wh || (failure.is_none() && w.delivery_state.consecutive_failures == 0) {
                    return Ok(false);
                }
                w.active = w.delivery_state.record(failure.clone(), gone, after);
                Ok(true)
            })
            .await?;
        }
        Ok(())
    }

    /// Back to happy and active (`reset_delivery_state`).
    pub async fn reset_delivery_state(
        &self,
        t: &Tenant,
        dc: &str,
        ext: &str,
        wh: &str,
    ) -> Result<WebhookView> {
        self.change_webhook(t, dc, ext, wh, |_, w| {
            w.delivery_state = DeliveryState::default();
            w.active = true;
            None
        })
        .await
    }
}

/// The project environment's default webhook: where events of triggers
/// without their own webhooks go, and account-health notifications. Its key
/// is the environment's key: it also signs connection webhooks. A record
/// with an empty URL holds the key alone (made by the first connection
/// webhook of an environment that has no default webhook).
const DEFAULT: &str = "default";

impl Core {
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

    /// Where a deployment's events go: its own webhooks, else the default.
    pub(crate) async fn delivery_targets(
        &self,
        t: &Tenant,
        d: &Deployment,
    ) -> Result<Vec<TriggerWebhook>> {
        let own: Vec<TriggerWebhook> = d.webhooks.iter().filter(|w| w.active).cloned().collect();
        if !own.is_empty() {
            return Ok(own);
        }
        Ok(self
            .default_record(t)
            .await?
            .into_iter()
            .filter(|w| w.active && !w.url.is_empty())
            .collect())
    }

    /// The keys that sign a delivery to webhook `wh` of deployment `d` (its
    /// own, or the default's); `None` when the webhook is gone.
    pub(crate) async fn signing_keys_for(
        &self,
        t: &Tenant,
        d: &Deployment,
        wh: &str,
    ) -> Result<Option<Vec<String>>> {
        if let Some(w) = d.webhooks.iter().find(|w| w.id == wh) {
            return self.webhook_keys(t, &d.id, w).map(Some);
        }
        match self.default_record(t).await? {
            Some(w) if w.id == wh => self.webhook_keys(t, DEFAULT, &w).map(Some),
            _ => Ok(None),
        }
    }

    /// Swaps in a new key, keeping the old one for the overlap window;
    /// returns the new key.
    fn rotate_key(&self, t: &Tenant, owner: &str, w: &mut TriggerWebhook) -> String {
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
