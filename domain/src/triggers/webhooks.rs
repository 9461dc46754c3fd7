//! A deployed trigger's webhooks: the URLs its events are delivered to,
//! each with its own `whsec_` signing key. Regenerating a key keeps the old
//! one valid for an overlap window, during which deliveries carry both
//! signatures, so receivers can switch keys without losing events.

use super::Triggers;
use super::deployments::Deployment;
use crate::clock::now_ms;
use crate::delivery::endpoints::{Endpoints, Signing};
use crate::delivery::{DeliveryState, TriggerWebhook, WebhookView};
use crate::error::{Result, not_found};
use crate::model::Tenant;
use crate::records;

/// Where webhook `wh` sits in the deployment's list.
fn position(d: &Deployment, wh: &str) -> Result<usize> {
    d.webhooks
        .iter()
        .position(|w| w.id == wh)
        .ok_or_else(|| not_found(format!("webhook {wh:?} not found on this trigger")))
}

impl Triggers {
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
            .map(|w| self.delivery.open_webhook(t, dc, w))
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
            return Err(crate::context::quota_exceeded(
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
                        None => next.push(self.delivery.new_webhook(t, dc, u, None)),
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
            .map(|w| self.delivery.open_webhook(t, dc, w))
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
        self.delivery
            .open_webhook(t, dc, &d.webhooks[position(&d, wh)?])
    }

    /// A new key; the old one keeps verifying for the overlap window.
    pub async fn regenerate_webhook_key(
        &self,
        t: &Tenant,
        dc: &str,
        ext: &str,
        wh: &str,
    ) -> Result<WebhookView> {
        self.change_webhook(t, dc, ext, wh, |core, w| {
            Some(core.delivery.rotate_key(t, dc, w))
        })
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
            None => self.delivery.open_webhook(t, dc, &d.webhooks[i]),
        }
    }
}

/// Delivery reads a deployment's endpoints through this: the deployment
/// record is read once per attempt, and written only when the endpoint's
/// delivery state changes.
#[async_trait::async_trait]
impl Endpoints for Triggers {
    async fn signing(&self, t: &Tenant, dc: &str, wh: &str) -> Result<Option<Signing>> {
        let Some(d) = self.read::<Deployment>(&records::deployment(t, dc)).await? else {
            return Ok(None);
        };
        match d.webhooks.iter().find(|w| w.id == wh) {
            Some(w) => Ok(Some(Signing {
                keys: self.delivery.webhook_keys(t, &d.id, w)?,
                failing: w.delivery_state.consecutive_failures > 0,
            })),
            None => self.delivery.default_signing(t, wh).await,
        }
    }

    async fn record_outcome(
        &self,
        t: &Tenant,
        dc: &str,
        wh: &str,
        failure: Option<String>,
        gone: bool,
    ) -> Result<()> {
        // The API writes the record too: change it in place.
        let after = self.settings.deactivate_after_secs * 1000;
        let mut own = false;
        self.modify::<Deployment, _>(&records::deployment(t, dc), |d| {
            let Some(w) = d.webhooks.iter_mut().find(|w| w.id == wh) else {
                return Ok(false);
            };
            own = true;
            if failure.is_none() && w.delivery_state.consecutive_failures == 0 {
                return Ok(false);
            }
            w.active = w.delivery_state.record(failure.clone(), gone, after);
            Ok(true)
        })
        .await?;
        if own {
            return Ok(());
        }
        self.delivery
            .record_default_outcome(t, wh, failure, gone)
            .await
    }
}

impl Triggers {
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
        self.delivery.default_targets(t).await
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
