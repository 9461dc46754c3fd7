//! Signed delivery of emitted events to the deployment's webhook URLs (or
//! the project default). The queue lives in the store: a due-time index of
//! jobs, each claimed under a lease that expires, so a worker killed
//! mid-delivery leaves its job to be picked up again (at-least-once, with a
//! stable `webhook-id` so receivers can dedupe).
//!
//! Signatures follow Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256(secret, "id.timestamp.body")>`.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard_components::outbound::HttpRequest;

use crate::Core;
use crate::clock::{iso, now_ms};
use crate::error::{Error, Result};
use crate::ids::{new_id, random_hex};
use crate::model::Tenant;
use crate::records;
use crate::store::{IndexRange, Op};
use crate::triggers::{Deployment, EmittedEvent};

/// How long a claimed job is a worker's before others may take it.
const LEASE_MS: u64 = 60_000;
/// Bytes of a receiver's response kept in the attempts log.
const RESPONSE_KEPT: usize = 1024;

/// Computes the Standard Webhooks signature header value.
pub fn sign(secret: &str, msg_id: &str, ts_secs: u64, body: &[u8]) -> Result<String> {
    let raw = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|e| Error::Internal(format!("signing key is not base64: {e}")))?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&key).map_err(|e| Error::Internal(e.to_string()))?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(ts_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// One event to deliver to one URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub id: String,
    pub tenant: Tenant,
    pub deployment_id: String,
    pub webhook_id: String,
    pub url: String,
    /// The request body, fixed at enqueue time so every retry is identical.
    pub body: String,
    /// `webhook-id`: stable across retries.
    pub msg_id: String,
    pub attempts: u32,
    pub due_ms: u64,
    pub created_at: u64,
    #[serde(default)]
    pub last_status: Option<u16>,
    #[serde(default)]
    pub last_error: Option<String>,
    /// `attempts` when the job was last redelivered by hand: the retry
    /// schedule restarts from there.
    #[serde(default)]
    pub round_start: u32,
    #[serde(default)]
    pub failed_at: Option<u64>,
}

/// The retry schedule in seconds: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const DEFAULT_SCHEDULE: &[u64] = &[5, 300, 1800, 7200, 18000, 36000, 36000];

fn due_member(due_ms: u64, id: &str) -> String {
    format!("{due_ms:016}:{id}")
}

/// The delivered body: the event and the deployment's context.
pub fn envelope(t: &Tenant, d: &Deployment, ev: &EmittedEvent) -> Value {
    json!({
        "id": ev.id,
        "type": "emit",
        "timestamp": iso(ev.ts),
        "summary": ev.sum,
        "event": ev.e,
        "context": {
            "deployment_id": d.id,
            "component_key": d.component_key,
            "component_version": d.component_version,
            "external_user_id": d.external_user_id,
            "project_id": t.project_id,
            "environment": t.env.as_str(),
            "emit_id": ev.id,
            "ts": ev.ts,
        }
    })
}

impl Core {
    /// The ops that enqueue `ev` for each of the deployment's URLs, to
    /// commit together with the event itself.
    pub(crate) async fn enqueue_ops(
        &self,
        t: &Tenant,
        d: &Deployment,
        ev: &EmittedEvent,
    ) -> Result<Vec<Op>> {
        let body = envelope(t, d, ev).to_string();
        let mut ops = Vec::new();
        let mut due = Vec::new();
        for w in self.delivery_targets(t, d).await? {
            let job = DeliveryJob {
                id: new_id("dlv"),
                tenant: t.clone(),
                deployment_id: d.id.clone(),
                webhook_id: w.id.clone(),
                url: w.url.clone(),
                body: body.clone(),
                msg_id: format!("msg_{}", ev.id),
                attempts: 0,
                due_ms: ev.ts,
                created_at: ev.ts,
                last_status: None,
                last_error: None,
                round_start: 0,
                failed_at: None,
            };
            ops.push(records::put(records::delivery_job(&job.id), &job));
            due.push(records::index_add(
                records::deliveries_due(),
                &due_member(job.due_ms, &job.id),
            ));
        }
        // Records before the index entries that point at them (see
        // `Store::commit`'s slot order).
        ops.extend(due);
        Ok(ops)
    }

    /// Claims up to `max` due jobs, each under a lease: a claim is this
    /// process's to deliver until the lease runs out.
    pub async fn claim_due(&self, max: usize) -> Result<Vec<Claim>> {
        let now = now_ms();
        let members = self
            .store
            .index_range(
                &records::deliveries_due(),
                &IndexRange {
                    after: None,
                    before: Some(due_member(now + 1, "")),
                    limit: max,
                },
            )
            .await?;
        let mut claims = Vec::new();
        for member in members {
            let Some((_, id)) = member.split_once(':') else {
                continue;
            };
            let id = id.to_string();
            if self
                .store
                .put_if_absent(
                    &records::delivery_lease(&id),
                    random_hex(8).into_bytes(),
                    Some(LEASE_MS),
                )
                .await?
            {
                claims.push(Claim { member, id });
            }
        }
        Ok(claims)
    }

    /// Delivers one claimed job (each runs on its own, so one slow
    /// endpoint holds up only its own deliveries).
    pub async fn deliver_claim(&self, c: &Claim, timeout: Duration) -> Result<Outcome> {
        self.deliver_one(&c.member, &c.id, timeout).await
    }

    /// At most `per_endpoint` deliveries in flight to one origin.
    async fn endpoint_permit(&self, url: &url::Url) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let origin = url.origin().ascii_serialization();
        let sem = {
            let mut map = self.endpoints.lock().ok()?;
            map.entry(origin)
                .or_insert_with(|| {
                    std::sync::Arc::new(tokio::sync::Semaphore::new(
                        self.settings.delivery_per_endpoint.max(1),
                    ))
                })
                .clone()
        };
        sem.acquire_owned().await.ok()
    }

    async fn deliver_one(&self, member: &str, id: &str, timeout: Duration) -> Result<Outcome> {
        let Some(mut job) = self.read::<DeliveryJob>(&records::delivery_job(id)).await? else {
            // An entry without its job: drop it only once it is old. A young
            // one may belong to a commit still landing on another slot.
            let due: u64 = member
                .split(':')
                .next()
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            let mut ops = vec![Op::Delete(records::delivery_lease(id))];
            if now_ms().saturating_sub(due) > LEASE_MS {
                ops.push(records::index_remove(records::deliveries_due(), member));
            }
            self.store.commit(ops).await?;
            return Ok(Outcome::Gone);
        };
        // A claim made from a stale read of the due index: the job was
        // delivered, rescheduled or dead-lettered meanwhile. Leave it.
        if job.failed_at.is_some() || due_member(job.due_ms, id) != member {
            self.store
                .commit(vec![Op::Delete(records::delivery_lease(id))])
                .await?;
            return Ok(Outcome::Gone);
        }
        let d: Option<Deployment> = self
            .read(&records::deployment(&job.tenant, &job.deployment_id))
            .await?;
        let Some(d) = d else {
            self.store
                .commit(vec![
                    Op::Delete(records::delivery_job(id)),
                    records::index_remove(records::deliveries_due(), member),
                ])
                .await?;
            return Ok(Outcome::Gone);
        };
        // A webhook removed since the event was queued is not delivered to.
        let Some(keys) = self
            .signing_keys_for(&job.tenant, &d, &job.webhook_id)
            .await?
        else {
            self.store
                .commit(vec![
                    Op::Delete(records::delivery_job(id)),
                    records::index_remove(records::deliveries_due(), member),
                    Op::Delete(records::delivery_lease(id)),
                ])
                .await?;
            return Ok(Outcome::Gone);
        };
        let ts = now_ms() / 1000;
        // During a key rotation's overlap, both signatures (space-separated).
        let sig = keys
            .iter()
            .map(|k| sign(k, &job.msg_id, ts, job.body.as_bytes()))
            .collect::<Result<Vec<_>>>()?
            .join(" ");
        let started = std::time::Instant::now();
        let url = url::Url::parse(&job.url).map_err(|e| Error::Internal(e.to_string()))?;
        let _permit = self.endpoint_permit(&url).await;
        let res = self
            .outbound
            .send(
                HttpRequest {
                    method: "POST".into(),
                    url,
                    headers: vec![
                        ("Content-Type".into(), "application/json".into()),
                        ("webhook-id".into(), job.msg_id.clone()),
                        ("webhook-timestamp".into(), ts.to_string()),
                        ("webhook-signature".into(), sig),
                    ],
                    body: job.body.clone().into_bytes(),
                },
                timeout,
            )
            .await;
        job.attempts += 1;
        let latency_ms = started.elapsed().as_millis() as u64;
        let (status, error, retry_after) = match &res {
            Ok(r) => (
                Some(r.status),
                None,
                r.header("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok()),
            ),
            Err(e) => (None, Some(e.to_string()), None),
        };
        let attempt = json!({
            "ts": now_ms(), "status": status, "latency_ms": latency_ms, "error": error,
            "response": res.as_ref().ok().map(|r| String::from_utf8_lossy(&r.body[..r.body.len().min(RESPONSE_KEPT)]).into_owned()),
        });
        let mut ops = vec![
            records::index_remove(records::deliveries_due(), member),
            Op::Put {
                key: records::delivery_attempt(&job.id, job.attempts),
                value: attempt.to_string().into_bytes(),
                ttl_ms: Some(7 * 24 * 3600 * 1000),
            },
        ];
        job.last_status = status;
        job.last_error = error;
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        let schedule: &[u64] = if self.settings.retry_schedule_secs.is_empty() {
            DEFAULT_SCHEDULE
        } else {
            &self.settings.retry_schedule_secs
        };
        let outcome = if ok {
            ops.push(Op::Delete(records::delivery_job(id)));
            Outcome::Delivered
        } else if status == Some(410) || (job.attempts - job.round_start) as usize > schedule.len()
        {
            // Dead letter: kept, no longer due, until redelivered.
            job.failed_at = Some(now_ms());
            ops.push(records::put(records::delivery_job(id), &job));
            ops.push(records::index_add(
                records::deliveries_dead(&job.tenant),
                &job.id,
            ));
            Outcome::Failed
        } else {
            // Attempts since the last manual redelivery pick the delay.
            let n = (job.attempts - job.round_start).max(1) as usize;
            let base = schedule[(n - 1).min(schedule.len() - 1)];
            // Retry-After may ask for longer than the schedule, never shorter.
            let delay = retry_after.map_or(base, |r| r.max(base));
            // ±20 % jitter, so retries of many jobs do not arrive together.
            let jitter = (delay * 1000 / 5) as f64
                * ((crate::ids::random_bytes::<1>()[0] as f64 / 127.5) - 1.0);
            job.due_ms = now_ms() + ((delay * 1000) as f64 + jitter).max(0.0) as u64;
            ops.push(records::put(records::delivery_job(id), &job));
            ops.push(records::index_add(
                records::deliveries_due(),
                &due_member(job.due_ms, &job.id),
            ));
            Outcome::Retry
        };
        ops.push(Op::Delete(records::delivery_lease(id)));
        self.store.commit(ops).await?;
        let failure = (!ok).then(|| {
            job.last_error
                .clone()
                .unwrap_or_else(|| format!("HTTP {}", status.unwrap_or_default()))
        });
        self.record_health(
            &job.tenant,
            &job.deployment_id,
            &job.webhook_id,
            failure,
            status == Some(410),
        )
        .await?;
        Ok(outcome)
    }
}

impl Core {
    /// Failed deliveries (dead letters) of a tenant, oldest first.
    pub async fn failed_deliveries(
        &self,
        t: &Tenant,
        page: &crate::paging::PageRequest,
    ) -> Result<crate::paging::Page<DeliveryJob>> {
        let ids = page
            .page_ids(self.store.as_ref(), &records::deliveries_dead(t))
            .await?;
        let mut data = Vec::new();
        for id in &ids.data {
            if let Some(j) = self.read::<DeliveryJob>(&records::delivery_job(id)).await? {
                data.push(j);
            }
        }
        Ok(crate::paging::Page {
            data,
            total_count: ids.total_count,
            start_cursor: ids.start_cursor,
            end_cursor: ids.end_cursor,
        })
    }

    async fn tenant_job(&self, t: &Tenant, id: &str) -> Result<DeliveryJob> {
        self.read::<DeliveryJob>(&records::delivery_job(id))
            .await?
            .filter(|j| &j.tenant == t)
            .ok_or_else(|| crate::error::not_found(format!("delivery {id:?} not found")))
    }

    /// Every attempt of a delivery: time, status, latency, error, response.
    pub async fn delivery_attempts(&self, t: &Tenant, id: &str) -> Result<Vec<Value>> {
        let job = self.tenant_job(t, id).await?;
        let keys: Vec<_> = (1..=job.attempts)
            .map(|n| records::delivery_attempt(id, n))
            .collect();
        Ok(self
            .store
            .get_many(&keys)
            .await?
            .into_iter()
            .flatten()
            .filter_map(|raw| serde_json::from_slice(&raw).ok())
            .collect())
    }

    /// Puts a failed delivery back in the queue, due now, with a fresh
    /// retry schedule (and the same `webhook-id`).
    pub async fn redeliver(&self, t: &Tenant, id: &str) -> Result<DeliveryJob> {
        let mut job = self.tenant_job(t, id).await?;
        if job.failed_at.is_none() {
            return Err(crate::error::invalid(format!(
                "delivery {id} has not failed; it is still being delivered"
            )));
        }
        job.round_start = job.attempts;
        job.failed_at = None;
        job.due_ms = now_ms();
        self.store
            .commit(vec![
                records::put(records::delivery_job(id), &job),
                records::index_remove(records::deliveries_dead(t), id),
                records::index_add(records::deliveries_due(), &due_member(job.due_ms, id)),
            ])
            .await?;
        Ok(job)
    }

    /// Redelivers every failed delivery whose event was created in
    /// `[since, until)` (epoch ms); returns how many.
    pub async fn redeliver_range(&self, t: &Tenant, since: u64, until: u64) -> Result<usize> {
        let mut n = 0;
        let mut after = None;
        loop {
            let ids = self
                .store
                .index_range(
                    &records::deliveries_dead(t),
                    &IndexRange {
                        after: after.clone(),
                        before: None,
                        limit: 200,
                    },
                )
                .await?;
            let Some(last) = ids.last().cloned() else {
                return Ok(n);
            };
            for id in &ids {
                if let Some(j) = self.read::<DeliveryJob>(&records::delivery_job(id)).await?
                    && (since..until).contains(&j.created_at)
                {
                    self.redeliver(t, id).await?;
                    n += 1;
                }
            }
            after = Some(last);
        }
    }
}

/// A due job this process leased.
pub struct Claim {
    member: String,
    id: String,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Retry,
    Failed,
    Gone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_reference_vector() {
        // From the Standard Webhooks spec's test vectors.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
