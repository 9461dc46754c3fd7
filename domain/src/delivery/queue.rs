//! Signed delivery of emitted events to the deployment's webhook URLs (or
//! the project default). The queue lives in the store: ready deliveries in a
//! work queue (a Redis stream with a consumer group), retries in a due-time
//! index that workers promote into the queue when they come due. An entry
//! stays pending with the worker that took it until acknowledged in the same
//! commit that records the attempt, so a worker killed mid-delivery leaves
//! its entries to be reclaimed after the lease (at-least-once, with a stable
//! `webhook-id` so receivers can dedupe).
//!
//! A FIFO deployment's events wait in a line per webhook; the queue carries
//! only "this line has work", and the worker holding the line's lock
//! delivers its head, one event at a time.
//!
//! Signatures follow Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256(secret, "id.timestamp.body")>`.

use crate::usage::Metric;
use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_net::outbound::HttpRequest;
use switchboard_net::{retry, standard_webhooks};

use super::Delivery;
use super::endpoints::{Signing, TriggerWebhook};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::ids::{new_id, random_hex};
use crate::model::Tenant;
use crate::records;
use crate::store::{IndexRange, Op};

/// Bytes of a receiver's response kept in the attempts log.
const RESPONSE_KEPT: usize = 1024;

/// An event as delivery sees it: whose it is, its delivered body (fixed
/// now, so every retry is identical) and when it was emitted.
pub struct Message<'a> {
    pub deployment_id: &'a str,
    pub event_id: &'a str,
    pub ts: u64,
    pub body: String,
    /// Delivered one at a time per webhook, in order (the deployment's
    /// `fifo`).
    pub fifo: bool,
}

/// One event to deliver to one URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "StoredJob<'static>")]
pub struct DeliveryJob {
    pub id: String,
    pub tenant: Tenant,
    pub kind: JobKind,
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
    pub failed_at: Option<u64>,
    /// How often this job was put off because its tenant or endpoint was
    /// over its share (not attempts: no request was sent).
    pub deferrals: u32,
}

/// What a delivery carries, which decides what signs it and whose delivery
/// state its outcome counts against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobKind {
    /// An event of deployment `deployment_id`, signed with its endpoint's key.
    Event { deployment_id: String },
    /// One of Switchboard's own notifications (see `notification_ops`),
    /// signed with the environment's key.
    Notification,
}

impl DeliveryJob {
    /// The deployment whose event this is; `None` for a notification.
    pub fn deployment_id(&self) -> Option<&str> {
        match &self.kind {
            JobKind::Event { deployment_id } => Some(deployment_id),
            JobKind::Notification => None,
        }
    }
}

/// A `DeliveryJob` as stored: the shape older versions wrote (a
/// notification has an empty `deployment_id` and `notification: true`), so
/// records on either side of an upgrade read the same. Borrowed when a job
/// is written (the body is not copied), owned when one is read.
#[derive(Serialize, Deserialize)]
struct StoredJob<'a> {
    id: Cow<'a, str>,
    tenant: Cow<'a, Tenant>,
    deployment_id: Cow<'a, str>,
    webhook_id: Cow<'a, str>,
    url: Cow<'a, str>,
    body: Cow<'a, str>,
    msg_id: Cow<'a, str>,
    attempts: u32,
    due_ms: u64,
    created_at: u64,
    #[serde(default)]
    last_status: Option<u16>,
    #[serde(default)]
    last_error: Option<Cow<'a, str>>,
    #[serde(default)]
    round_start: u32,
    #[serde(default)]
    failed_at: Option<u64>,
    #[serde(default)]
    notification: bool,
    #[serde(default)]
    deferrals: u32,
}

impl From<StoredJob<'static>> for DeliveryJob {
    fn from(s: StoredJob<'static>) -> Self {
        DeliveryJob {
            id: s.id.into_owned(),
            tenant: s.tenant.into_owned(),
            kind: if s.notification {
                JobKind::Notification
            } else {
                JobKind::Event {
                    deployment_id: s.deployment_id.into_owned(),
                }
            },
            webhook_id: s.webhook_id.into_owned(),
            url: s.url.into_owned(),
            body: s.body.into_owned(),
            msg_id: s.msg_id.into_owned(),
            attempts: s.attempts,
            due_ms: s.due_ms,
            created_at: s.created_at,
            last_status: s.last_status,
            last_error: s.last_error.map(Cow::into_owned),
            round_start: s.round_start,
            failed_at: s.failed_at,
            deferrals: s.deferrals,
        }
    }
}

impl Serialize for DeliveryJob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let (deployment_id, notification) = match &self.kind {
            JobKind::Event { deployment_id } => (deployment_id.as_str(), false),
            JobKind::Notification => ("", true),
        };
        StoredJob {
            id: Cow::Borrowed(&self.id),
            tenant: Cow::Borrowed(&self.tenant),
            deployment_id: Cow::Borrowed(deployment_id),
            webhook_id: Cow::Borrowed(&self.webhook_id),
            url: Cow::Borrowed(&self.url),
            body: Cow::Borrowed(&self.body),
            msg_id: Cow::Borrowed(&self.msg_id),
            attempts: self.attempts,
            due_ms: self.due_ms,
            created_at: self.created_at,
            last_status: self.last_status,
            last_error: self.last_error.as_deref().map(Cow::Borrowed),
            round_start: self.round_start,
            failed_at: self.failed_at,
            notification,
            deferrals: self.deferrals,
        }
        .serialize(s)
    }
}

/// The retry schedule in seconds: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const DEFAULT_SCHEDULE: &[u64] = &[5, 300, 1800, 7200, 18000, 36000, 36000];

fn due_member(due_ms: u64, id: &str) -> String {
    format!("{due_ms:016}:{id}")
}

/// A FIFO line's queue item: every event of one deployment to one webhook,
/// delivered one at a time in the order accepted.
fn line_item(deployment: &str, webhook: &str) -> String {
    format!("fifo:{deployment}:{webhook}")
}

/// Orders a FIFO line: microseconds since the epoch, then a per-process
/// counter for events accepted within one microsecond.
fn line_member(job_id: &str) -> String {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1_000_000;
    format!("{micros:020}{n:06}:{job_id}")
}

/// What one attempt came to, with the writes that record it (the caller adds
/// the queue bookkeeping and commits them together).
struct Attempted {
    outcome: Outcome,
    job: DeliveryJob,
    ops: Vec<Op>,
    /// The failure to count against the webhook's delivery state, if any.
    failure: Option<String>,
    /// Whether the webhook was failing before: a success then resets it.
    was_failing: bool,
    gone_for_good: bool,
}

impl Delivery {
    /// The ops that enqueue `msg` for each of `targets`, to commit
    /// together with the event itself.
    pub(crate) fn enqueue_ops(
        &self,
        t: &Tenant,
        msg: &Message,
        targets: &[TriggerWebhook],
    ) -> Vec<Op> {
        let d = msg;
        let mut ops = Vec::new();
        let mut queued = Vec::new();
        for w in targets {
            let job = DeliveryJob {
                id: new_id("dlv"),
                tenant: t.clone(),
                kind: JobKind::Event {
                    deployment_id: d.deployment_id.to_string(),
                },
                webhook_id: w.id.clone(),
                url: w.url.clone(),
                body: d.body.clone(),
                msg_id: format!("msg_{}", d.event_id),
                attempts: 0,
                due_ms: d.ts,
                created_at: d.ts,
                last_status: None,
                last_error: None,
                round_start: 0,
                failed_at: None,
                deferrals: 0,
            };
            ops.push(records::put(records::delivery_job(&job.id), &job));
            if d.fifo {
                queued.push(records::index_add(
                    records::fifo_line(d.deployment_id, &w.id),
                    &line_member(&job.id),
                ));
                queued.push(push_ready(due_member(
                    d.ts,
                    &line_item(d.deployment_id, &w.id),
                )));
            } else {
                queued.push(push_ready(due_member(job.due_ms, &job.id)));
            }
        }
        // Records before the queue entries that point at them (see
        // `Store::commit`'s slot order).
        ops.extend(queued);
        ops
    }

    /// Takes up to `max` ready deliveries for `consumer`, waiting up to
    /// `wait_ms` for one to arrive. Each stays this consumer's until it is
    /// acknowledged or sits idle past the lease.
    pub async fn claim_ready(
        &self,
        consumer: &str,
        max: usize,
        wait_ms: u64,
    ) -> Result<Vec<Claim>> {
        let entries = self
            .store
            .queue_read(&records::deliveries_ready(), consumer, max, wait_ms)
            .await?;
        Ok(entries.into_iter().filter_map(Claim::from_entry).collect())
    }

    /// Takes over deliveries whose consumer died or hung (idle past the lease).
    pub async fn reclaim_stale(&self, consumer: &str, max: usize) -> Result<Vec<Claim>> {
        let entries = self
            .store
            .queue_reclaim(
                &records::deliveries_ready(),
                consumer,
                self.settings.delivery_lease_ms,
                max,
            )
            .await?;
        Ok(entries.into_iter().filter_map(Claim::from_entry).collect())
    }

    /// Moves retries that have come due into the ready queue; returns how many.
    pub async fn promote_due_deliveries(&self) -> Result<usize> {
        Ok(self
            .store
            .promote_due(
                &records::deliveries_due(),
                &due_member(now_ms() + 1, ""),
                &records::deliveries_ready(),
                1000,
            )
            .await?)
    }

    /// Delivers one claimed entry (each runs on its own, so one slow
    /// endpoint holds up only its own deliveries).
    pub async fn deliver_claim(&self, c: &Claim, timeout: Duration) -> Result<Outcome> {
        if let Some(line) = c.id.strip_prefix("fifo:") {
            return self.deliver_line(c, line, timeout).await;
        }
        let Some(job) = self
            .read::<DeliveryJob>(&records::delivery_job(&c.id))
            .await?
        else {
            // An entry without its job: drop it only once it is old. A young
            // one may belong to a commit still landing on another slot; left
            // pending, it is looked at again after the lease.
            if now_ms().saturating_sub(c.due_ms) > self.settings.delivery_lease_ms {
                self.store.commit(vec![c.ack()]).await?;
            }
            return Ok(Outcome::Gone);
        };
        // An entry made stale since (the job was delivered, rescheduled or
        // dead-lettered meanwhile): leave the job be.
        if job.failed_at.is_some() || job.due_ms != c.due_ms {
            self.store.commit(vec![c.ack()]).await?;
            return Ok(Outcome::Gone);
        }
        let shares = match self.take_shares(&job).await {
            Ok(held) => held,
            Err(wait) => {
                // Over its share: back to the due index, no attempt counted.
                let mut job = job;
                job.deferrals = job.deferrals.saturating_add(1);
                job.due_ms = now_ms() + wait.as_millis() as u64;
                self.store
                    .commit(vec![
                        records::put(records::delivery_job(&job.id), &job),
                        records::index_add(
                            records::deliveries_due(),
                            &due_member(job.due_ms, &job.id),
                        ),
                        c.ack(),
                    ])
                    .await?;
                return Ok(Outcome::Deferred);
            }
        };
        let mut a = self.attempt(job, timeout).await?;
        drop(shares);
        if a.outcome == Outcome::Retry {
            a.ops.push(records::index_add(
                records::deliveries_due(),
                &due_member(a.job.due_ms, &a.job.id),
            ));
        }
        a.ops.push(c.ack());
        self.finish(a).await
    }

    /// The job's tenant share and its endpoint's (each taken now or after
    /// a short wait), or how long to put the job off (see `fairness.rs`).
    async fn take_shares(
        &self,
        job: &DeliveryJob,
    ) -> std::result::Result<[crate::fairness::Held; 2], Duration> {
        let f = &self.fairness;
        let tenant = f
            .delivery_tenants
            .take(&job.tenant.slot(), job.deferrals)
            .await?;
        let origin = url::Url::parse(&job.url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let endpoint = f.endpoints.take(&origin, job.deferrals).await?;
        Ok([tenant, endpoint])
    }

    /// Commits an attempt and counts it on the webhook's delivery state.
    async fn finish(&self, mut a: Attempted) -> Result<Outcome> {
        if a.outcome == Outcome::Delivered {
            a.ops
                .push(crate::usage::count_op(&a.job.tenant, Metric::Delivery, 1));
        }
        self.store.commit(a.ops).await?;
        // A success on a healthy endpoint changes nothing: no write.
        if a.outcome == Outcome::Gone || (a.failure.is_none() && !a.was_failing) {
            return Ok(a.outcome);
        }
        let (t, wh) = (&a.job.tenant, a.job.webhook_id.as_str());
        match &a.job.kind {
            JobKind::Notification => {
                self.record_default_outcome(t, wh, a.failure, a.gone_for_good)
                    .await?;
            }
            JobKind::Event { deployment_id } => {
                self.endpoints()?
                    .record_outcome(t, deployment_id, wh, a.failure, a.gone_for_good)
                    .await?;
            }
        }
        Ok(a.outcome)
    }

    /// Delivers a FIFO line's events in order, one at a time, while this
    /// worker holds the line's lock. A failing head holds the line until it
    /// is delivered or dead-lettered; its retry comes back as a due item.
    async fn deliver_line(&self, c: &Claim, line: &str, timeout: Duration) -> Result<Outcome> {
        let Some((dep, wh)) = line.split_once(':') else {
            self.store.commit(vec![c.ack()]).await?;
            return Ok(Outcome::Gone);
        };
        let (index, lock) = (records::fifo_line(dep, wh), records::fifo_lock(dep, wh));
        let token = random_hex(8);
        if !self
            .store
            .put_if_absent(
                &lock,
                token.clone().into_bytes(),
                Some(self.settings.delivery_lease_ms),
            )
            .await?
        {
            // The holder looks at the line again after it lets go.
            self.store.commit(vec![c.ack()]).await?;
            return Ok(Outcome::Gone);
        }
        let mut last = Outcome::Gone;
        // Whether the head waits for a retry, which is already scheduled.
        let mut waiting = false;
        let (mut shares, mut deferred) = (None, None);
        // A bounded turn, so one busy line cannot keep a worker forever, and
        // well inside the lock's lease, so no one else takes the line meanwhile.
        let started = std::time::Instant::now();
        let turn = Duration::from_millis(self.settings.delivery_lease_ms / 2);
        while started.elapsed() + timeout < turn {
            let head = self
                .store
                .index_range(
                    &index,
                    &IndexRange {
                        limit: 1,
                        ..Default::default()
                    },
                )
                .await?;
            let Some(member) = head.into_iter().next() else {
                break;
            };
            let id = member.split_once(':').map_or("", |(_, id)| id).to_string();
            let Some(job) = self
                .read::<DeliveryJob>(&records::delivery_job(&id))
                .await?
            else {
                self.store
                    .commit(vec![records::index_remove(index.clone(), &member)])
                    .await?;
                continue;
            };
            if job.due_ms > now_ms() {
                waiting = true;
                break;
            }
            // The line's tenant and endpoint shares, held for the whole turn.
            if shares.is_none() {
                match self.take_shares(&job).await {
                    Ok(held) => shares = Some(held),
                    Err(wait) => {
                        deferred = Some(wait);
                        break;
                    }
                }
            }
            let mut a = self.attempt(job, timeout).await?;
            let retry = a.outcome == Outcome::Retry;
            if retry {
                a.ops.push(records::index_add(
                    records::deliveries_due(),
                    &due_member(a.job.due_ms, &line_item(dep, wh)),
                ));
            } else {
                // Delivered, dead-lettered or gone: the next event's turn.
                a.ops.push(records::index_remove(index.clone(), &member));
            }
            last = self.finish(a).await?;
            if retry {
                waiting = true;
                break;
            }
        }
        drop(shares);
        self.store.delete_if_equals(&lock, token.as_bytes()).await?;
        // Events queued while we held the lock had their items dropped: if
        // the line still has work, hand it on (later, when over its share).
        let mut ops = vec![c.ack()];
        if let Some(wait) = deferred {
            ops.push(records::index_add(
                records::deliveries_due(),
                &due_member(now_ms() + wait.as_millis() as u64, &line_item(dep, wh)),
            ));
            last = Outcome::Deferred;
        } else if !waiting && self.store.index_count(&index).await? > 0 {
            ops.push(push_ready(due_member(now_ms(), &line_item(dep, wh))));
        }
        self.store.commit(ops).await?;
        Ok(last)
    }

    /// One attempt to deliver `job`: signs, sends, and works out what comes
    /// next (delivered, retried on the schedule, or dead-lettered).
    async fn attempt(&self, mut job: DeliveryJob, timeout: Duration) -> Result<Attempted> {
        let id = job.id.clone();
        let gone = |job: DeliveryJob| Attempted {
            outcome: Outcome::Gone,
            ops: vec![Op::Delete(records::delivery_job(&job.id))],
            job,
            failure: None,
            was_failing: false,
            gone_for_good: false,
        };
        let Some(Signing { keys, failing }) = self.job_signing(&job).await? else {
            return Ok(gone(job));
        };
        let ts = now_ms() / 1000;
        // During a key rotation's overlap, both signatures (space-separated).
        let sig = standard_webhooks::sign_all(&keys, &job.msg_id, ts, job.body.as_bytes())
            .map_err(|e| Error::internal_from("signing a delivery", e))?;
        let started = std::time::Instant::now();
        let url = url::Url::parse(&job.url).map_err(|e| Error::internal_from("delivery URL", e))?;
        // A global slot only now, with the job's shares already held.
        let _send = self.fairness.sends.acquire().await;
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
        let schedule: &[u64] = if self.settings.retry_schedule_secs.is_empty() {
            DEFAULT_SCHEDULE
        } else {
            &self.settings.retry_schedule_secs
        };
        // A receiver's Retry-After is honoured up to the schedule's longest step.
        let longest = Duration::from_secs(schedule.iter().copied().max().unwrap_or(0));
        let (status, error, retry_after) = match &res {
            Ok(r) => (
                Some(r.status),
                None,
                r.header("retry-after")
                    .and_then(|v| retry::retry_after(v, std::time::SystemTime::now(), longest)),
            ),
            Err(e) => (None, Some(e.to_string()), None),
        };
        let attempt = json!({
            "ts": now_ms(), "status": status, "latency_ms": latency_ms, "error": error,
            "response": res.as_ref().ok().map(|r| String::from_utf8_lossy(&r.body[..r.body.len().min(RESPONSE_KEPT)]).into_owned()),
        });
        let mut ops = vec![Op::Put {
            key: records::delivery_attempt(&job.id, job.attempts),
            value: attempt.to_string().into_bytes(),
            ttl_ms: Some(self.settings.retention.attempt_ttl_ms()),
        }];
        job.last_status = status;
        job.last_error = error;
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        let outcome = if ok {
            ops.push(Op::Delete(records::delivery_job(&id)));
            Outcome::Delivered
        } else if status == Some(410) || (job.attempts - job.round_start) as usize > schedule.len()
        {
            // Dead letter: kept, no longer due, until redelivered or it
            // expires (`retention.dead_letter_secs`; housekeeping prunes
            // the index).
            job.failed_at = Some(now_ms());
            ops.push(Op::Put {
                key: records::delivery_job(&id),
                value: records::to_bytes(&job),
                ttl_ms: Some(self.settings.retention.dead_letter_secs.max(1) * 1000),
            });
            ops.push(records::index_add(
                records::deliveries_dead(&job.tenant),
                &job.id,
            ));
            Outcome::Failed
        } else {
            // Attempts since the last manual redelivery pick the delay.
            let n = (job.attempts - job.round_start) as usize;
            let base = retry::schedule_step(schedule, n);
            // Retry-After may ask for longer than the schedule, never shorter.
            let delay = retry_after.map_or(base, |r| r.max(base));
            // ±20 % jitter, so retries of many jobs do not arrive together.
            job.due_ms = now_ms() + retry::jitter(delay, 0.2).as_millis() as u64;
            ops.push(records::put(records::delivery_job(&id), &job));
            Outcome::Retry
        };
        let failure = (!ok).then(|| {
            job.last_error
                .clone()
                .unwrap_or_else(|| format!("HTTP {}", status.unwrap_or_default()))
        });
        Ok(Attempted {
            outcome,
            job,
            ops,
            failure,
            was_failing: failing,
            gone_for_good: status == Some(410),
        })
    }
}

impl Delivery {
    /// What signs `job`: the environment's keys for a notification, else
    /// its endpoint's; `None` when the deployment or the webhook was removed
    /// since the event was queued (it is not delivered).
    async fn job_signing(&self, job: &DeliveryJob) -> Result<Option<Signing>> {
        let (t, wh) = (&job.tenant, job.webhook_id.as_str());
        match &job.kind {
            JobKind::Notification => self.environment_signing(t, wh).await.map(Some),
            JobKind::Event { deployment_id } => {
                self.endpoints()?.signing(t, deployment_id, wh).await
            }
        }
    }

    /// The ops that queue one notification to `url`. `webhook_id` names the
    /// webhook whose delivery state it counts against (the default
    /// webhook's id, or a name no webhook has).
    pub(crate) fn notification_ops(
        &self,
        t: &Tenant,
        webhook_id: &str,
        url: &str,
        body: &Value,
    ) -> Vec<Op> {
        let now = now_ms();
        let id = new_id("ntf");
        let job = DeliveryJob {
            msg_id: format!("msg_{id}"),
            id,
            tenant: t.clone(),
            kind: JobKind::Notification,
            webhook_id: webhook_id.to_string(),
            url: url.to_string(),
            body: body.to_string(),
            attempts: 0,
            due_ms: now,
            created_at: now,
            last_status: None,
            last_error: None,
            round_start: 0,
            failed_at: None,
            deferrals: 0,
        };
        vec![
            records::put(records::delivery_job(&job.id), &job),
            push_ready(due_member(now, &job.id)),
        ]
    }
}

fn push_ready(item: String) -> Op {
    Op::QueuePush {
        queue: records::deliveries_ready(),
        item,
    }
}

impl Delivery {
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
                push_ready(due_member(job.due_ms, id)),
            ])
            .await?;
        Ok(job)
    }

    /// Redelivers every failed delivery whose event was created in
    /// `[since, until)` (epoch ms); returns how many.
    pub async fn redeliver_range(&self, t: &Tenant, since: u64, until: u64) -> Result<usize> {
        let mut n = 0;
        for id in
            crate::paging::all_members(self.store.as_ref(), &records::deliveries_dead(t)).await?
        {
            if let Some(j) = self
                .read::<DeliveryJob>(&records::delivery_job(&id))
                .await?
                && (since..until).contains(&j.created_at)
            {
                self.redeliver(t, &id).await?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// A ready delivery handed to this process: a job id, or a FIFO line.
pub struct Claim {
    entry: String,
    due_ms: u64,
    id: String,
}

impl Claim {
    fn from_entry(e: crate::store::QueueEntry) -> Option<Claim> {
        let (due, id) = e.item.split_once(':')?;
        Some(Claim {
            due_ms: due.parse().ok()?,
            id: id.to_string(),
            entry: e.id,
        })
    }

    /// The queue entry's id: the same when the entry is reclaimed.
    pub fn entry_id(&self) -> &str {
        &self.entry
    }

    fn ack(&self) -> Op {
        Op::QueueAck {
            queue: records::deliveries_ready(),
            id: self.entry.clone(),
        }
    }
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Retry,
    Failed,
    Gone,
    /// Put off: its tenant or endpoint was over its share.
    Deferred,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job as older versions stored it, every field present.
    fn stored(deployment_id: &str, notification: bool) -> Value {
        json!({
            "id": "dlv_1",
            "tenant": {"project_id": "proj_1", "env": "production"},
            "deployment_id": deployment_id,
            "webhook_id": "wh_1",
            "url": "https://example.com/hook",
            "body": "{\"a\":1}",
            "msg_id": "msg_evt_1",
            "attempts": 3,
            "due_ms": 1_700_000_000_000u64,
            "created_at": 1_699_999_999_000u64,
            "last_status": 500,
            "last_error": null,
            "round_start": 1,
            "failed_at": null,
            "notification": notification,
            "deferrals": 2,
        })
    }

    #[test]
    fn old_event_job_reads_as_an_event_and_writes_back_unchanged() {
        let old = stored("dc_abc", false);
        let job: DeliveryJob = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(
            job.kind,
            JobKind::Event {
                deployment_id: "dc_abc".into()
            }
        );
        assert_eq!(job.deployment_id(), Some("dc_abc"));
        assert_eq!((job.attempts, job.round_start, job.deferrals), (3, 1, 2));
        assert_eq!(serde_json::to_value(&job).unwrap(), old);
    }

    #[test]
    fn old_notification_job_reads_as_a_notification_and_writes_back_unchanged() {
        let old = stored("", true);
        let job: DeliveryJob = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(job.kind, JobKind::Notification);
        assert_eq!(job.deployment_id(), None);
        assert_eq!(serde_json::to_value(&job).unwrap(), old);
    }

    #[test]
    fn job_from_before_notifications_and_deferrals_is_an_event() {
        let mut old = stored("dc_abc", false);
        for k in ["notification", "deferrals", "round_start", "last_status"] {
            old.as_object_mut().unwrap().remove(k);
        }
        let job: DeliveryJob = serde_json::from_value(old).unwrap();
        assert_eq!(job.deployment_id(), Some("dc_abc"));
        assert_eq!(
            (job.deferrals, job.round_start, job.last_status),
            (0, 0, None)
        );
    }

    #[test]
    fn both_kinds_round_trip_through_the_store_encoding() {
        for kind in [
            JobKind::Notification,
            JobKind::Event {
                deployment_id: "dc_xyz".into(),
            },
        ] {
            let mut job: DeliveryJob = serde_json::from_value(stored("dc_abc", false)).unwrap();
            job.kind = kind.clone();
            let back: DeliveryJob = records::from_bytes(&records::to_bytes(&job)).unwrap();
            assert_eq!(back.kind, kind);
            assert_eq!(
                serde_json::to_value(&back).unwrap(),
                serde_json::to_value(&job).unwrap()
            );
        }
    }
}
