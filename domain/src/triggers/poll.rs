//! Polling sources: each due tick of a polling deployment fetches the
//! provider's newest items with the user's account and emits the new ones.
//!
//! Exactly once per tick, by construction:
//! - the tick is a queue entry, pending with the worker that took it until
//!   the commit that records the poll acknowledges it; a worker that dies
//!   mid-poll leaves it to be reclaimed after the lease and polled again;
//! - a lock per deployment (with the lease's lifetime, and polls bounded to
//!   half of it) keeps two polls of one deployment from overlapping;
//! - the new cursor and dedupe memory, the emitted events, their deliveries,
//!   the next tick and the acknowledgement are one `commit_if`, guarded by
//!   the deployment record as it was read: a pause, update or delete in the
//!   meantime makes the commit write nothing (the cursor did not move, so
//!   nothing is lost), and a crash before it writes nothing either.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchboard_components::component::{BodyFormat, Component, ItemOrder, PollingSpec};
use switchboard_components::limits::{Fuel, POLL_PAGE_FUEL};
use switchboard_components::runtime::Session;
use switchboard_components::{App, jsonpath, template};
use switchboard_net::outbound::HttpResponse;
use switchboard_net::retry;

use super::Triggers;
use crate::clock::{iso, now_ms};
use crate::error::{Result, invalid};
use crate::model::Tenant;
use crate::records;
use crate::store::Op;
use crate::triggers::dedupe::{self, Memory};
use crate::triggers::deployments::{Deployment, EmittedEvent};
use crate::triggers::schedule::{Tick, Timer, due_member};

/// What a polling deployment remembers between polls, and how they go.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PollState {
    /// The first poll has run (it seeds the cursor and emits no backlog).
    #[serde(default)]
    pub seeded: bool,
    /// The manifest's cursor (`state.cursor` in its templates).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub cursor: Value,
    #[serde(default)]
    pub memory: Memory,
    /// Validators of the last full response, for conditional requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// `ok`, `not_modified`, `rate_limited` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_emit_ms: Option<u64>,
    /// Polls committed, successful or not (each tick counts once).
    #[serde(default)]
    pub polls: u64,
    /// Failed polls in a row, and whether the project was told.
    #[serde(default)]
    pub failures: u32,
    #[serde(default)]
    pub failing_notified: bool,
}

/// Events emitted by a first poll with `emit_on_deploy`: the newest few.
const DEPLOY_SAMPLE: usize = 10;
/// Items read per poll when the manifest says nothing.
const DEFAULT_MAX_ITEMS: usize = 500;

/// What one fetch came to.
struct Fetched {
    /// Every item read, oldest first, each with its id.
    items: Vec<(String, Value)>,
    cursor: Value,
    etag: Option<String>,
    last_modified: Option<String>,
    not_modified: bool,
}

/// Why a poll failed, and how long the provider asked us to wait.
struct Failed {
    status: &'static str,
    error: String,
    wait_ms: Option<u64>,
}

impl Failed {
    fn error(e: impl ToString) -> Failed {
        Failed {
            status: "error",
            error: e.to_string(),
            wait_ms: None,
        }
    }
}

fn tmpl(e: template::TemplateError) -> Failed {
    Failed::error(e)
}

impl Triggers {
    /// Runs one due tick of a polling deployment (see the module docs).
    pub(crate) async fn run_poll(self: &Arc<Self>, tick: &Tick, timer: &Timer) -> Result<bool> {
        let (t, dc) = (&tick.tenant, tick.deployment_id.as_str());
        // The embedded store has one process: a lock in memory does, without
        // two more fsynced writes per poll.
        if self.store.kind() == "embedded" {
            let key = format!("{}:{}:{dc}", t.project_id, t.env.as_str());
            let fresh = self
                .polls_running
                .lock()
                .map(|mut m| m.insert(key.clone()))
                .unwrap_or(false);
            if !fresh {
                return Ok(false);
            }
            let out = self.poll_locked(tick, timer).await;
            if let Ok(mut m) = self.polls_running.lock() {
                m.remove(&key);
            }
            return out;
        }
        let lock = records::poll_lock(t, dc);
        let owner = crate::ids::random_hex(8).into_bytes();
        if !self
            .store
            .put_if_absent(&lock, owner.clone(), Some(self.settings.delivery_lease_ms))
            .await?
        {
            // Another worker is polling it (a lease taken over while the
            // first still runs): leave the entry; whoever finishes acks it.
            return Ok(false);
        }
        let out = self.poll_locked(tick, timer).await;
        let _ = self.store.delete_if_equals(&lock, &owner).await;
        out
    }

    async fn poll_locked(self: &Arc<Self>, tick: &Tick, timer: &Timer) -> Result<bool> {
        let (t, dc) = (&tick.tenant, tick.deployment_id.as_str());
        let key = records::deployment(t, dc);
        let Some(raw) = self.store.get(&key).await? else {
            self.store.commit(vec![tick.ack()]).await?;
            return Ok(false);
        };
        let d: Deployment = records::from_bytes(&raw)?;
        if !d.active || d.next_run_ms != Some(tick.due_ms) {
            self.store.commit(vec![tick.ack()]).await?;
            return Ok(false);
        }
        let c = self
            .components
            .component(t, &d.component_key, None)
            .await?
            .component;
        let Some(switchboard_components::component::Source::Polling(spec)) = &c.source else {
            self.store.commit(vec![tick.ack()]).await?;
            return Ok(false);
        };
        let state = d.poll.clone().unwrap_or_default();
        let app = self.app(&c.app)?.clone();
        let account_id = crate::triggers::deployments::account_of(&c, &d).map(str::to_string);
        let _permit = self.poll_permit(t, &app, account_id.as_deref(), spec).await;
        let fetched = self
            .fetch(
                t,
                &c,
                &d,
                &app,
                account_id.as_deref(),
                spec,
                &state,
                timer,
                tick,
            )
            .await?;
        // Fetched, not yet committed: a crash here must lead to a re-poll.
        crate::failpoint::hit("poll_before_commit");
        let now = now_ms();
        let mut next_state = state.clone();
        next_state.last_poll_ms = Some(now);
        next_state.polls += 1;
        let mut events = Vec::new();
        let mut next_due = timer.next_after(tick.due_ms, now);
        if !state.seeded
            && let Timer::Interval(_) = timer
        {
            // After the seed, a random offset of up to one interval (5 min
            // at most): deployments made together (a bulk import) spread
            // evenly over the interval instead of polling in step.
            let spread = Duration::from_millis(timer.period_ms().min(300_000));
            next_due = next_due.map(|n| n + retry::spread(spread).as_millis() as u64);
        }
        match fetched {
            Ok(f) => {
                events = self.select_events(spec, &d, &mut next_state, &f)?;
                next_state.seeded = true;
                next_state.cursor = f.cursor;
                if !f.not_modified {
                    next_state.etag = f.etag;
                    next_state.last_modified = f.last_modified;
                }
                next_state.last_status =
                    Some(if f.not_modified { "not_modified" } else { "ok" }.into());
                next_state.last_error = None;
                next_state.failures = 0;
                if !events.is_empty() {
                    next_state.last_emit_ms = Some(now);
                }
            }
            Err(f) => {
                next_state.failures = next_state.failures.saturating_add(1);
                next_state.last_status = Some(f.status.into());
                next_state.last_error = Some(f.error.clone());
                // Exponential backoff from the interval (capped at an hour),
                // never sooner than the provider asked.
                let base = Duration::from_millis(timer.period_ms().clamp(1000, 60_000));
                let cap = Duration::from_millis(3_600_000.max(timer.period_ms()));
                let backoff = retry::exponential(base, next_state.failures - 1, cap);
                let wait = (backoff.as_millis() as u64).max(f.wait_ms.unwrap_or(0));
                next_due = Some(next_due.map_or(now + wait, |n| n.max(now + wait)));
                tracing::info!(
                    project = %t.project_id, deployment = %dc, failures = next_state.failures,
                    status = f.status, error = %f.error, "poll failed; backing off"
                );
            }
        }
        self.commit_poll(tick, d, raw, next_state, events, next_due, &c)
            .await
    }

    /// The one guarded commit of a poll; retried on a fresh read when only
    /// someone else's unrelated write (a webhook's delivery state) moved
    /// the record, abandoned when the deployment was paused, rescheduled,
    /// deleted or polled meanwhile.
    #[allow(clippy::too_many_arguments)]
    async fn commit_poll(
        &self,
        tick: &Tick,
        mut d: Deployment,
        mut raw: Vec<u8>,
        state: PollState,
        events: Vec<Value>,
        next_due: Option<u64>,
        c: &Component,
    ) -> Result<bool> {
        let (t, dc) = (&tick.tenant, tick.deployment_id.as_str());
        let key = records::deployment(t, dc);
        let polled_from = d.poll.as_ref().map(|p| (p.seeded, p.cursor.clone()));
        let summary = match &c.source {
            Some(switchboard_components::component::Source::Polling(s)) => s.summary.clone(),
            _ => String::new(),
        };
        let now = now_ms();
        let notify = self.failure_notification(t, &d, &state).await?;
        let mut emitted = Vec::with_capacity(events.len());
        for (i, e) in events.into_iter().enumerate() {
            let sum =
                template::render(&summary, &json!({"item": e, "event": e})).unwrap_or_default();
            emitted.push(EmittedEvent {
                id: crate::ids::new_id("evt"),
                k: "emit".into(),
                // Distinct, ordered timestamps keep the events' order.
                ts: now + i as u64 / 1000,
                e,
                sum,
            });
        }
        for _ in 0..20 {
            let mut state = state.clone();
            state.failing_notified = notify.as_ref().map_or(
                state.failures > 0 && state.failing_notified,
                |(failing, _)| *failing,
            );
            d.poll = Some(state);
            d.next_run_ms = next_due;
            d.last_run_ms = Some(now);
            let mut ops = vec![records::put(key.clone(), &d)];
            ops.extend(self.event_ops(t, &d, &emitted).await?);
            if let Some(n) = next_due {
                ops.push(records::index_add(
                    records::schedule_due(),
                    &due_member(n, t, dc),
                ));
            }
            if let Some((_, n)) = &notify {
                ops.extend(n.iter().cloned());
            }
            ops.push(tick.ack());
            if self.store.commit_if(&key, &raw, ops).await? {
                if !emitted.is_empty() {
                    self.trim_events(t, dc).await?;
                }
                return Ok(!emitted.is_empty());
            }
            let Some(fresh) = self.store.get(&key).await? else {
                break;
            };
            let cur: Deployment = records::from_bytes(&fresh)?;
            let same_poll = cur.poll.as_ref().map(|p| (p.seeded, p.cursor.clone())) == polled_from;
            if !cur.active || cur.next_run_ms != Some(tick.due_ms) || !same_poll {
                break;
            }
            // Keep their change; put ours on top.
            d = cur;
            raw = fresh;
        }
        tracing::info!(project = %t.project_id, deployment = %dc,
            "the deployment changed during its poll; its results are dropped and it polls again on its new schedule");
        self.store.commit(vec![tick.ack()]).await?;
        Ok(false)
    }

    /// At most `concurrency` polls of one account (or app) at once here.
    async fn poll_permit(
        &self,
        t: &Tenant,
        app: &App,
        account: Option<&str>,
        spec: &PollingSpec,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let n = spec.concurrency? as usize;
        let k = match account {
            Some(a) => format!("{}:{}:{a}", t.project_id, t.env.as_str()),
            None => format!("{}:{}:app:{}", t.project_id, t.env.as_str(), app.name_slug),
        };
        let sem = {
            let mut map = self.poll_limits.lock().ok()?;
            map.entry(k)
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(n.max(1))))
                .clone()
        };
        sem.acquire_owned().await.ok()
    }

    /// Fetches the items: the manifest's request with the cursor, the
    /// app's paging (or `more`) up to `max_items`. `Err(Failed)` is the
    /// provider's or the manifest's problem, recorded on the deployment.
    #[allow(clippy::too_many_arguments)]
    async fn fetch(
        self: &Arc<Self>,
        t: &Tenant,
        c: &Component,
        d: &Deployment,
        app: &App,
        account_id: Option<&str>,
        spec: &PollingSpec,
        state: &PollState,
        timer: &Timer,
        tick: &Tick,
    ) -> Result<std::result::Result<Fetched, Failed>> {
        let account = match account_id {
            Some(id) => {
                let a: Option<crate::model::Account> = self.read(&records::account(t, id)).await?;
                match a {
                    Some(a) => Some(a),
                    None => {
                        return Ok(Err(Failed::error(format!("account {id} no longer exists"))));
                    }
                }
            }
            None => None,
        };
        let access = self.accounts.account_access(t, account.as_ref()).await?;
        let timeout =
            Duration::from_millis((self.settings.delivery_lease_ms / 2).clamp(1000, 30_000));
        let mut s = Session::new(
            &self.outbound,
            app,
            access.creds.clone(),
            access.refresher(),
            timeout,
        );
        let all: Vec<_> = c.props.iter().collect();
        let mut ctx = json!({
            "props": switchboard_components::action::props_context(&all, &d.configured_props),
            "state": {"cursor": state.cursor, "seeded": state.seeded},
            "tick": timer.context(tick.due_ms),
            // Requests made so far in this poll (`more` asks again).
            "page": 0,
        });
        let max = spec.max_items.map_or(DEFAULT_MAX_ITEMS, |m| m as usize);
        // Paths may come from props (the generic JSON poller).
        let path = |p: &str| {
            if template::is_template(p) {
                template::render(p, &ctx).map_err(tmpl)
            } else {
                Ok(p.to_string())
            }
        };
        let (items_path, id_path) = match (path(&spec.items), path(&spec.id)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(f), _) | (_, Err(f)) => return Ok(Err(f)),
        };
        let ts_path = match spec.ts.as_deref().map(path).transpose() {
            Ok(p) => p.filter(|p| !p.trim().is_empty()),
            Err(f) => return Ok(Err(f)),
        };
        let compiled = |p: &str| jsonpath::compile(p).map(Arc::new).map_err(Failed::error);
        let (items_jp, id_jp) = match (compiled(&items_path), compiled(&id_path)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(f), _) | (_, Err(f)) => return Ok(Err(f)),
        };
        // Every item read, in the provider's order, with its id.
        let mut raw: Vec<(String, Value)> = Vec::new();
        let mut cursor = state.cursor.clone();
        let (mut etag, mut last_modified) = (None, None);
        let mut req = match s.build(&spec.request, &ctx) {
            Ok(r) => r,
            Err(e) => return Ok(Err(Failed::error(e))),
        };
        if spec.conditional {
            if let Some(v) = &state.etag {
                req.headers.push(("If-None-Match".into(), v.clone()));
            }
            if let Some(v) = &state.last_modified {
                req.headers.push(("If-Modified-Since".into(), v.clone()));
            }
        }
        loop {
            let resp = match s.send(req.clone(), false).await {
                Ok(r) => r,
                Err(e) => return Ok(Err(Failed::error(e))),
            };
            if resp.status == 304 {
                return Ok(Ok(Fetched {
                    items: Vec::new(),
                    cursor,
                    etag: None,
                    last_modified: None,
                    not_modified: true,
                }));
            }
            if let Some(f) = refusal(&s, &resp) {
                return Ok(Err(f));
            }
            if raw.is_empty() && etag.is_none() && last_modified.is_none() {
                etag = resp.header("etag").map(str::to_string);
                last_modified = resp.header("last-modified").map(str::to_string);
            }
            // Parsing the body and evaluating the (possibly tenant-supplied)
            // paths over it is CPU work bounded by fuel, done off the async
            // workers.
            let job = Extraction {
                format: spec.format,
                bytes: resp.body.clone(),
                items: items_jp.clone(),
                id: id_jp.clone(),
                filter: spec.filter.clone(),
            };
            let (body, page, kept) =
                match switchboard_components::limits::offload(move || job.run()).await {
                    Ok(Ok(x)) => x,
                    Ok(Err(f)) => return Ok(Err(f)),
                    Err(e) => return Ok(Err(Failed::error(e))),
                };
            let page_start = raw.len();
            raw.extend(kept);
            // The cursor folds page by page: `items` is this page's (kept),
            // `state.cursor` the cursor so far.
            if let Some(cur) = &spec.cursor {
                let items: Vec<&Value> = raw[page_start..].iter().map(|(_, v)| v).collect();
                let cctx = json!({"items": items, "state": {"cursor": cursor},
                                  "response": {"headers": header_map(&resp)}});
                cursor = match template::eval(cur, &cctx) {
                    Ok(v) => v,
                    Err(e) => return Ok(Err(tmpl(e))),
                };
            }
            if raw.len() >= max || page.is_empty() {
                break;
            }
            // More: the manifest's own condition (a window sliding on the
            // cursor), else the app's paging.
            if let Some(more) = &spec.more {
                let mctx = json!({"response": {"body": body, "headers": header_map(&resp)},
                                  "page_items": page.len(),
                                  "state": {"cursor": cursor, "seeded": state.seeded}});
                match template::truthy(more, &mctx) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => return Ok(Err(tmpl(e))),
                }
                ctx["state"]["cursor"] = cursor.clone();
                ctx["page"] = json!(ctx["page"].as_u64().unwrap_or(0) + 1);
                req = match s.build(&spec.request, &ctx) {
                    Ok(r) => r,
                    Err(e) => return Ok(Err(Failed::error(e))),
                };
                continue;
            }
            match s.next_page(&req, &resp, &page) {
                Ok(Some(next)) => req = next,
                Ok(None) => break,
                Err(e) => return Ok(Err(Failed::error(e))),
            }
        }
        let (order_by, ts) = (spec.order, ts_path.clone());
        let items = match switchboard_components::limits::offload(move || {
            order(order_by, ts.as_deref(), raw)
        })
        .await
        {
            Ok(Ok(items)) => items,
            Ok(Err(e)) | Err(e) => return Ok(Err(Failed::error(e))),
        };
        Ok(Ok(Fetched {
            items,
            cursor,
            etag,
            last_modified,
            not_modified: false,
        }))
    }

    /// The new items' events: none on a first poll (a bounded sample with
    /// `emit_on_deploy`), else what the dedupe strategy lets through.
    fn select_events(
        &self,
        spec: &PollingSpec,
        d: &Deployment,
        state: &mut PollState,
        f: &Fetched,
    ) -> Result<Vec<Value>> {
        let ids: Vec<String> = f.items.iter().map(|(id, _)| id.clone()).collect();
        let fresh = dedupe::select(
            spec.dedupe,
            &mut state.memory,
            &ids,
            self.settings.dedupe_unique_bound,
        );
        let chosen: Vec<usize> = if state.seeded {
            fresh
        } else if d.emit_on_deploy {
            let n = f.items.len();
            (n.saturating_sub(DEPLOY_SAMPLE)..n).collect()
        } else {
            Vec::new()
        };
        chosen
            .into_iter()
            .map(|i| {
                let item = &f.items[i].1;
                match &spec.event {
                    Some(tree) => template::eval_tree(tree, &json!({"item": item}))
                        .map_err(|e| invalid(e.to_string())),
                    None => Ok(item.clone()),
                }
            })
            .collect()
    }

    /// When a trigger starts failing for good (or recovers after the
    /// project was told), the signed notification to the project webhook.
    async fn failure_notification(
        &self,
        t: &Tenant,
        d: &Deployment,
        state: &PollState,
    ) -> Result<Option<(bool, Vec<Op>)>> {
        let after = self.settings.poll_failures_notify_after.max(1);
        let event = if state.failures >= after && !state.failing_notified {
            "TRIGGER_FAILING"
        } else if state.failures == 0 && state.failing_notified {
            "TRIGGER_RECOVERED"
        } else {
            return Ok(None);
        };
        let failing = event == "TRIGGER_FAILING";
        let Some(w) = self.delivery.default_webhook(t).await? else {
            return Ok(Some((failing, Vec::new())));
        };
        let body = trigger_health_body(t, d, state, event);
        Ok(Some((
            failing,
            self.delivery
                .notification_ops(t, &w.webhook.id, &w.webhook.url, &body),
        )))
    }
}

/// A `TRIGGER_*` notification (docs/schema/notification.v1.json).
pub(crate) fn trigger_health_body(
    t: &Tenant,
    d: &Deployment,
    state: &PollState,
    event: &str,
) -> Value {
    json!({
        "event": event,
        "project_id": t.project_id,
        "environment": t.env.as_str(),
        "deployment_id": d.id,
        "component_key": d.component_key,
        "external_user_id": d.external_user_id,
        "failures": state.failures,
        "error": state.last_error,
        "ts": iso(now_ms()),
    })
}

/// A response the poll cannot use: rate limited (with the provider's wait,
/// from Retry-After or an exhausted quota's reset) or an error status.
fn refusal(s: &Session<'_>, r: &HttpResponse) -> Option<Failed> {
    let quota_wait = s.app.api.as_ref().and_then(|api| {
        let rl = &api.rate_limit;
        let left: u64 = r.header(rl.remaining.as_deref()?)?.trim().parse().ok()?;
        let reset: u64 = r.header(rl.reset.as_deref()?)?.trim().parse().ok()?;
        (left == 0).then(|| (reset * 1000).saturating_sub(now_ms()))
    });
    if r.status == 429 || (r.status == 403 && quota_wait.is_some()) {
        let wait = s
            .retry_after(r)
            .map(|d| d.as_millis() as u64)
            .or(quota_wait)
            .map(|w| w.min(retry::MAX_RETRY_AFTER.as_millis() as u64));
        return Some(Failed {
            status: "rate_limited",
            error: format!("{} answered {} (rate limited)", s.app.name, r.status),
            wait_ms: wait,
        });
    }
    if !(200..300).contains(&r.status) {
        let body = String::from_utf8_lossy(&r.body[..r.body.len().min(300)]).into_owned();
        return Some(Failed::error(format!(
            "{} answered HTTP {}: {body}",
            s.app.name, r.status
        )));
    }
    None
}

fn header_map(r: &HttpResponse) -> Value {
    Value::Object(
        r.headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.clone())))
            .collect::<Map<String, Value>>(),
    )
}

/// Items oldest first: by `ts` when the manifest names one, else by the
/// provider's listing order. The timestamp path is evaluated within one
/// budget for all items; running out fails the poll.
fn order(
    order: ItemOrder,
    ts: Option<&str>,
    mut items: Vec<(String, Value)>,
) -> std::result::Result<Vec<(String, Value)>, String> {
    if let Some(ts) = ts {
        let path = jsonpath::compile(ts)?;
        let mut fuel = Fuel::new("JSONPath (timestamp)", POLL_PAGE_FUEL);
        let mut keyed = Vec::with_capacity(items.len());
        for (id, v) in items {
            let key = path
                .first_with(&v, &mut fuel)
                .map_err(|e| format!("timestampPath {ts:?}: {e}"))?
                .map(|x| match x {
                    Value::Number(n) => format!("{:020.3}", n.as_f64().unwrap_or(0.0)),
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .unwrap_or_default();
            keyed.push((key, (id, v)));
        }
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        items = keyed.into_iter().map(|(_, x)| x).collect();
    } else if order == ItemOrder::NewestFirst {
        items.reverse();
    }
    Ok(items)
}

/// Deploy-time check of a polling source's paths that come from props (the
/// generic JSON poller's `itemsPath`, `idPath`, `timestampPath`): each is
/// rendered with the configured props and must compile within the limits
/// (length, nesting, syntax). Each problem names the prop it came from.
pub(crate) fn check_prop_paths(
    c: &Component,
    configured: &Map<String, Value>,
) -> Vec<switchboard_components::props::PropError> {
    let Some(switchboard_components::component::Source::Polling(spec)) = &c.source else {
        return Vec::new();
    };
    let all: Vec<_> = c.props.iter().collect();
    let ctx = json!({"props": switchboard_components::action::props_context(&all, configured)});
    let mut errors = Vec::new();
    let fields = [
        ("items", Some(spec.items.as_str())),
        ("id", Some(spec.id.as_str())),
        ("ts", spec.ts.as_deref()),
    ];
    for (field, src) in fields {
        let Some(src) = src.filter(|s| template::is_template(s)) else {
            continue;
        };
        // Paths that need more than the props are checked when polled.
        let Ok(path) = template::render(src, &ctx) else {
            continue;
        };
        if field == "ts" && path.trim().is_empty() {
            continue;
        }
        if let Err(reason) = jsonpath::compile(&path) {
            errors.push(switchboard_components::props::PropError {
                prop: prop_named_in(src).unwrap_or_else(|| field.to_string()),
                reason,
            });
        }
    }
    errors
}

/// The prop a template reads (`{{ props.itemsPath }}` → `itemsPath`).
fn prop_named_in(src: &str) -> Option<String> {
    let at = src.find("props.")? + "props.".len();
    let name: String = src[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// One page's extraction, run on the blocking pool: the body parsed, the
/// items selected, filtered and given their ids, all JSONPath evaluations
/// sharing one budget ([`POLL_PAGE_FUEL`]).
struct Extraction {
    format: BodyFormat,
    bytes: Vec<u8>,
    items: Arc<jsonpath::JsonPath>,
    id: Arc<jsonpath::JsonPath>,
    filter: Option<String>,
}

type Page = (Value, Vec<Value>, Vec<(String, Value)>);

impl Extraction {
    fn run(self) -> std::result::Result<Page, Failed> {
        let body = match self.format {
            BodyFormat::Json => serde_json::from_slice(&self.bytes).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&self.bytes).into_owned())
            }),
            BodyFormat::Feed => {
                switchboard_components::feed::parse(&self.bytes).map_err(Failed::error)?
            }
        };
        let mut fuel = Fuel::new("JSONPath", POLL_PAGE_FUEL);
        let page = self
            .items
            .all_with(&body, &mut fuel)
            .map_err(|e| Failed::error(format!("itemsPath: {e}")))?;
        let mut kept = Vec::new();
        for item in &page {
            if let Some(f) = &self.filter {
                match template::truthy(f, &json!({"item": item})) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => return Err(tmpl(e)),
                }
            }
            let id = self
                .id
                .first_with(item, &mut fuel)
                .map_err(|e| Failed::error(format!("idPath: {e}")))?;
            match id.as_ref().and_then(dedupe::id_string) {
                Some(id) => kept.push((id, item.clone())),
                None => tracing::debug!("a polled item without an id is skipped"),
            }
        }
        Ok((body, page, kept))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trigger health notifications match their published schema.
    #[test]
    fn trigger_health_notifications_match_the_published_schema() {
        let v = crate::published_schema("notification.v1.json");
        let t = Tenant {
            project_id: "proj_1".into(),
            env: crate::model::Environment::Production,
        };
        let mut bodies = Vec::new();
        let d = crate::triggers::deployments::sample_deployment("http-new-items-in-json");
        let failing = PollState {
            failures: 5,
            last_error: Some("HTTP 500".into()),
            ..Default::default()
        };
        for e in ["TRIGGER_FAILING", "TRIGGER_RECOVERED"] {
            bodies.push(trigger_health_body(&t, &d, &failing, e));
        }
        for b in &bodies {
            let errors: Vec<String> = v.iter_errors(b).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{errors:?}\n{b}");
        }
    }

    fn spec(order: &str) -> PollingSpec {
        serde_json::from_value(json!({
            "default_interval_secs": 60, "request": {"url": "https://x.example/"},
            "items": "$[*]", "id": "$.id", "dedupe": "unique", "summary": "s", "order": order
        }))
        .unwrap()
    }

    fn items(ids: &[(&str, u64)]) -> Vec<(String, Value)> {
        ids.iter()
            .map(|(id, ts)| (id.to_string(), json!({"id": id, "ts": ts})))
            .collect()
    }

    fn ids(v: &[(String, Value)]) -> Vec<&str> {
        v.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[test]
    fn path_props_are_checked_at_deploy_and_named() {
        let cat = switchboard_components::Catalog::builtin().unwrap();
        let c = cat.component("http-new-items-in-json").unwrap();
        let props = |v: Value| v.as_object().unwrap().clone();
        assert!(check_prop_paths(c, &props(json!({"url": "https://x.example/"}))).is_empty());
        let deep = format!("$[?{}@.a{}]", "(".repeat(30_000), ")".repeat(30_000));
        let errs = check_prop_paths(
            c,
            &props(json!({"url": "https://x.example/", "itemsPath": deep,
                          "idPath": "$[", "timestampPath": "$..[?(".repeat(20)})),
        );
        let named: Vec<&str> = errs.iter().map(|e| e.prop.as_str()).collect();
        assert_eq!(named, ["itemsPath", "idPath", "timestampPath"], "{errs:?}");
        assert!(errs[0].reason.contains("too long"), "{}", errs[0].reason);
    }

    #[test]
    fn over_budget_paths_fail_the_page_with_a_clear_error() {
        let doc = format!("{}1{}", "[".repeat(60), "]".repeat(60));
        let job = Extraction {
            format: BodyFormat::Json,
            bytes: doc.into_bytes(),
            items: Arc::new(
                jsonpath::compile("$..[?(@..[?(@..[?(@..[?(@..[?(@..*)])])])])]").unwrap(),
            ),
            id: Arc::new(jsonpath::compile("$.id").unwrap()),
            filter: None,
        };
        let t = std::time::Instant::now();
        let e = job.run().unwrap_err();
        assert!(
            e.error.contains("itemsPath") && e.error.contains("work budget"),
            "{}",
            e.error
        );
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn events_go_out_oldest_first() {
        let newest_first = items(&[("c", 30), ("b", 20), ("a", 10)]);
        // By timestamp when there is one (numbers compare as numbers).
        let mixed = items(&[("b", 9), ("c", 100), ("a", 8)]);
        assert_eq!(
            ids(&order(spec("oldest_first").order, Some("$.ts"), mixed).unwrap()),
            ["a", "b", "c"]
        );
        // Else by the provider's listing order.
        assert_eq!(
            ids(&order(spec("newest_first").order, None, newest_first.clone()).unwrap()),
            ["a", "b", "c"]
        );
        assert_eq!(
            ids(&order(spec("oldest_first").order, None, newest_first).unwrap()),
            ["c", "b", "a"]
        );
    }
}
