//! An inbound request at a deployment's URL: route, handshake, signature,
//! filter, dedupe, then the event persisted (with its deliveries) before
//! the trigger's response is sent.
//!
//! App-level triggers (`ingress: app`, e.g. Slack's Events API) share one URL
//! per OAuth app and environment, `/hooks/apps/<ingress id>/<env>`: the
//! signature is checked once with the OAuth app's signing secret, handshakes
//! are answered, then the request's route values find the matching active
//! deployments in a routing index (`records::app_routes_index`), and each
//! gets the event once (its own filter and dedupe), persisted before the 2xx.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchboard_components::Component;
use switchboard_components::component::{Source, WebhookSpec};
use switchboard_components::template;
use switchboard_net::signature;

use super::Triggers;
use crate::accounts::oauth_apps::{AppIngressRoute, OAuthApp};
use crate::clock::now_ms;
use crate::error::{Error, Result, invalid};
use crate::model::{Environment, Tenant};
use crate::records;
use crate::store::{IndexRange, Key, Op};
use crate::triggers::deployments::Deployment;

/// The request as received; the raw body is kept for signature checks.
pub struct InboundRequest {
    pub method: String,
    /// The part after `/hooks/<id>`, from `/`.
    pub path: String,
    pub query: Map<String, Value>,
    pub headers: Map<String, Value>,
    pub body: Vec<u8>,
}

pub struct InboundReply {
    pub status: u16,
    pub body: Value,
}

/// How long a provider's delivery id is remembered for dedupe.
const DEDUPE_TTL_MS: u64 = 7 * 24 * 3600 * 1000;

fn gone() -> Error {
    Error::NotFound("no active trigger at this URL".into())
}

fn reply(
    r: &Option<switchboard_components::component::Response>,
    ctx: &Value,
) -> Result<InboundReply> {
    Ok(match r {
        Some(r) => InboundReply {
            status: r.status,
            body: match &r.body {
                Some(tree) => template::eval_tree(tree, ctx).map_err(|e| invalid(e.to_string()))?,
                None => json!({"ok": true}),
            },
        },
        None => InboundReply {
            status: 200,
            body: json!({"ok": true}),
        },
    })
}

impl Triggers {
    pub async fn receive(
        self: &Arc<Self>,
        hook_id: &str,
        req: InboundRequest,
    ) -> Result<InboundReply> {
        // An implausible id is not even looked up: nothing in the store is
        // built from it.
        if !crate::validate::hook_id(hook_id) {
            return Err(gone());
        }
        let (route, d) = self.hook_route(hook_id).await?.ok_or_else(gone)?;
        // Per live URL (a counter per id that exists, never per id asked
        // for): one noisy sender cannot flood a deployment's events.
        self.rate_limit(
            &format!("hook:{hook_id}"),
            self.settings.hook_requests_per_minute,
            60,
            "requests to this URL",
        )
        .await?;
        let t = &route.tenant;
        let _share = self.request_share(t).await?;
        let c = self
            .components
            .component(t, &d.component_key, None)
            .await
            .map_err(|_| gone())?
            .component;
        let Some(Source::Webhook(w)) = &c.source else {
            return Err(gone());
        };
        let text = String::from_utf8_lossy(&req.body).into_owned();
        let body =
            serde_json::from_slice::<Value>(&req.body).unwrap_or(Value::String(text.clone()));
        let request = json!({
            "method": req.method, "path": req.path, "query": req.query, "headers": req.headers,
            "body": body, "raw_body": text, "url": self.hook_url(hook_id),
        });
        let all: Vec<_> = c.props.iter().collect();
        let state = self.state_of(t, &d)?;
        let ctx = json!({
            "request": request,
            "props": switchboard_components::action::props_context(&all, &d.configured_props),
            "state": state,
        });
        self.check_signature(t, &d.id, w, &req, &ctx).await?;
        for h in &w.handshakes {
            if template::truthy(&h.when, &ctx).map_err(|e| invalid(e.to_string()))? {
                return reply(&Some(h.response.clone()), &ctx);
            }
        }
        let wanted = match &w.filter {
            Some(f) => template::truthy(f, &ctx).map_err(|e| invalid(e.to_string()))?,
            None => true,
        };
        if wanted && let Some(seen) = self.first_delivery(t, &d.id, w, &ctx).await? {
            let made = event_of(w, &ctx).map_err(|e| invalid(e.to_string()));
            let recorded = match made {
                Ok((e, sum)) => self.record_event_of(t, &d, e, sum).await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = recorded {
                self.forget_delivery(seen).await;
                return Err(e);
            }
        }
        reply(&w.response, &ctx)
    }

    /// Refuses a bad signature with 401, counting it per deployment.
    async fn check_signature(
        &self,
        t: &crate::model::Tenant,
        dc: &str,
        w: &WebhookSpec,
        req: &InboundRequest,
        ctx: &Value,
    ) -> Result<()> {
        let Some(sig) = &w.signature else {
            return Ok(());
        };
        let secret = template::render(&sig.secret, ctx).map_err(|e| invalid(e.to_string()))?;
        let checked = signature::verify(
            sig.scheme,
            &secret,
            &req.headers,
            &req.body,
            now_ms() / 1000,
            sig.tolerance_secs,
        );
        if let Err(why) = checked {
            let _ = self
                .store
                .incr_window(&records::signature_failures(t, dc), 24 * 3600 * 1000)
                .await;
            tracing::info!(deployment = dc, reason = %why, "inbound webhook refused: bad signature");
            return Err(Error::Unauthorized(format!(
                "invalid webhook signature: {why}"
            )));
        }
        Ok(())
    }

    /// `None` when the provider's delivery id was seen already (a retry);
    /// else the marker, to release if the event cannot be persisted.
    async fn first_delivery(
        &self,
        t: &crate::model::Tenant,
        dc: &str,
        w: &WebhookSpec,
        ctx: &Value,
    ) -> Result<Option<Option<Key>>> {
        let Some(id_t) = &w.id else {
            return Ok(Some(None));
        };
        let id = template::render(id_t, ctx).map_err(|e| invalid(e.to_string()))?;
        if id.is_empty() {
            return Ok(Some(None));
        }
        let key = records::inbound_seen(t, dc, &crate::crypto::sha256_hex(id.as_bytes()));
        let first = self
            .store
            .put_if_absent(&key, b"1".to_vec(), Some(DEDUPE_TTL_MS))
            .await?;
        Ok(first.then_some(Some(key)))
    }

    /// Releases a dedupe marker, so the provider's retry is not mistaken
    /// for a duplicate of an event that was never persisted.
    async fn forget_delivery(&self, seen: Option<Key>) {
        if let Some(k) = seen
            && let Err(e) = self.store.commit(vec![Op::Delete(k)]).await
        {
            tracing::warn!(error = %e, "could not release an inbound dedupe marker");
        }
    }
}

/// The event and its summary.
fn event_of(
    w: &WebhookSpec,
    ctx: &Value,
) -> std::result::Result<(Value, String), template::TemplateError> {
    let e = match &w.event {
        Some(tree) => template::eval_tree(tree, ctx)?,
        None => ctx["request"]["body"].clone(),
    };
    Ok((e, template::render(&w.summary, ctx)?))
}

// ------------------------------------------------------------ app-level ingress

/// Most routing entries one deployment may have: each combination of its
/// route values is one entry (one team × up to 1000 channels).
const MAX_ROUTE_ENTRIES: usize = 1000;

/// A deployment's entries in its app's routing index, kept beside it so
/// they are removed exactly even if the trigger's manifest changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AppRouteEntry {
    app: String,
    component_key: String,
    members: Vec<String>,
}

/// A route template's values: a scalar, or each element of a list; null
/// and empty strings are no value.
fn route_values(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = match v {
        Value::Null => Vec::new(),
        Value::String(s) if s.is_empty() => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(route_values).collect(),
        other => vec![other.to_string()],
    };
    out.sort();
    out.dedup();
    out
}

/// Every combination of one value per route key; `None` past `max`.
fn combinations(lists: &[Vec<String>], max: usize) -> Option<Vec<Vec<String>>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for list in lists {
        if out.len().saturating_mul(list.len()) > max {
            return None;
        }
        out = out
            .iter()
            .flat_map(|prefix| {
                list.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push(v.clone());
                    next
                })
            })
            .collect();
    }
    Some(out)
}

/// The index prefix of one component's deployments accepting these values.
fn route_prefix(component_key: &str, values: &[String]) -> String {
    let canonical = serde_json::to_string(values).expect("strings serialize");
    format!(
        "{component_key}:{}:",
        crate::crypto::sha256_hex(canonical.as_bytes())
    )
}

fn no_ingress() -> Error {
    Error::NotFound("no app-level ingress at this URL".into())
}

impl Triggers {
    /// The routing entry an app-level trigger's deployment should have now:
    /// `None` for other triggers, no members while paused. Fails when the
    /// props route nothing (or too much), before anything is written.
    pub(crate) async fn app_route_plan(
        &self,
        t: &Tenant,
        d: &Deployment,
    ) -> Result<Option<AppRouteEntry>> {
        let c = match self.components.component(t, &d.component_key, None).await {
            Ok(e) => e.component,
            Err(Error::Store(e)) => return Err(e.into()),
            Err(_) => return Ok(None),
        };
        let Some(w) = c.app_webhook() else {
            return Ok(None);
        };
        let mut entry = AppRouteEntry {
            app: c.app.clone(),
            component_key: c.key.clone(),
            members: Vec::new(),
        };
        if !d.active {
            return Ok(Some(entry));
        }
        let all: Vec<_> = c.props.iter().collect();
        let ctx = json!({
            "props": switchboard_components::action::props_context(&all, &d.configured_props),
            "state": self.state_of(t, d)?,
        });
        let mut lists = Vec::new();
        for (i, r) in w.route.iter().enumerate() {
            let v = template::eval(&r.deployment, &ctx).map_err(|e| {
                invalid(format!(
                    "route key {i} of {} cannot be evaluated for these props: {e}",
                    c.key
                ))
            })?;
            let values = route_values(&v);
            if values.is_empty() {
                return Err(invalid(format!(
                    "route key {i} of {} ({}) has no value for these props, so the trigger would receive nothing",
                    c.key, r.deployment
                )));
            }
            lists.push(values);
        }
        let combos = combinations(&lists, MAX_ROUTE_ENTRIES).ok_or_else(|| {
            invalid(format!(
                "these props route more than {MAX_ROUTE_ENTRIES} combinations of values; choose fewer"
            ))
        })?;
        entry.members = combos
            .iter()
            .map(|vals| format!("{}{}", route_prefix(&c.key, vals), d.id))
            .collect();
        Ok(Some(entry))
    }

    /// The ops that make a deployment's routing entries `plan` (from
    /// whatever they were), in the deployment's tenant slot.
    pub(crate) async fn app_route_ops(
        &self,
        t: &Tenant,
        dc: &str,
        plan: Option<AppRouteEntry>,
    ) -> Result<Vec<Op>> {
        let old: Option<AppRouteEntry> = self.read(&records::app_route_entry(t, dc)).await?;
        let mut ops = Vec::new();
        let new_members: &[String] = plan.as_ref().map_or(&[], |p| &p.members);
        if let Some(o) = &old {
            for m in o.members.iter().filter(|m| !new_members.contains(m)) {
                ops.push(records::index_remove(
                    records::app_routes_index(t, &o.app),
                    m,
                ));
            }
        }
        match plan {
            Some(p) if !p.members.is_empty() => {
                if old.as_ref() == Some(&p) {
                    return Ok(ops);
                }
                let had: &[String] = old.as_ref().map_or(&[], |o| &o.members);
                for m in p.members.iter().filter(|m| !had.contains(m)) {
                    ops.push(records::index_add(records::app_routes_index(t, &p.app), m));
                }
                ops.push(records::index_add(
                    records::app_route_components(t, &p.app),
                    &p.component_key,
                ));
                ops.push(records::put(records::app_route_entry(t, dc), &p));
            }
            _ if old.is_some() => ops.push(Op::Delete(records::app_route_entry(t, dc))),
            _ => {}
        }
        Ok(ops)
    }

    /// Brings a deployment's routing entries up to date (after an update).
    pub(crate) async fn sync_app_routes(
        &self,
        t: &Tenant,
        dc: &str,
        plan: Option<AppRouteEntry>,
    ) -> Result<()> {
        let ops = self.app_route_ops(t, dc, plan).await?;
        if !ops.is_empty() {
            self.store.commit(ops).await?;
        }
        Ok(())
    }

    /// `POST /hooks/apps/<ingress id>/<env>`: one provider URL for every
    /// app-level trigger of the OAuth app's app in that environment.
    pub async fn receive_app(
        self: &Arc<Self>,
        ingress_id: &str,
        env: &str,
        req: InboundRequest,
    ) -> Result<InboundReply> {
        let env = Environment::parse(env).ok_or_else(no_ingress)?;
        if !crate::validate::hook_id(ingress_id) {
            return Err(no_ingress());
        }
        let route: AppIngressRoute = self
            .read(&records::app_ingress(ingress_id))
            .await?
            .ok_or_else(no_ingress)?;
        // Per live shared URL, like per-deployment URLs.
        self.rate_limit(
            &format!("appingress:{ingress_id}:{}", env.as_str()),
            self.settings.hook_requests_per_minute,
            60,
            "requests to this URL",
        )
        .await?;
        let oa: OAuthApp = self
            .read(&records::oauth_app(&route.project_id, &route.oauth_app_id))
            .await?
            .filter(|o: &OAuthApp| o.ingress_id.as_deref() == Some(ingress_id))
            .ok_or_else(no_ingress)?;
        let t = Tenant {
            project_id: route.project_id.clone(),
            env,
        };
        let _share = self.request_share(&t).await?;
        let components = self.app_level_components(&t, &oa.app).await?;
        // The built-in triggers come first: they define the URL's checks.
        let Some(lead) = components.first().and_then(|c| c.app_webhook()) else {
            return Err(no_ingress());
        };
        let text = String::from_utf8_lossy(&req.body).into_owned();
        let parsed = serde_json::from_slice::<Value>(&req.body).ok();
        let url = self.accounts.app_ingress_url(&oa, env);
        let mut request = json!({
            "method": req.method, "path": req.path, "query": req.query, "headers": req.headers,
            "body": parsed.clone().unwrap_or(Value::String(text.clone())), "raw_body": text, "url": url,
        });
        self.check_app_signature(&t, &oa, lead, &req, &request)
            .await?;
        // Routing reads fields of the body: anything but a JSON object is
        // refused (after the signature, so only the provider learns why).
        match parsed {
            Some(Value::Object(_)) => {}
            _ => {
                return Err(invalid(
                    "the body must be a JSON object (an app-level event)",
                ));
            }
        }
        let ctx = json!({"request": request.take()});
        for h in components
            .iter()
            .filter_map(|c| c.app_webhook())
            .flat_map(|w| &w.handshakes)
        {
            if template::truthy(&h.when, &ctx).map_err(|e| invalid(e.to_string()))? {
                return reply(&Some(h.response.clone()), &ctx);
            }
        }
        let mut emitted = 0usize;
        for (c, dc) in self.app_route_candidates(&t, &components, &ctx).await? {
            if self.emit_app_event(&t, c, &dc, &ctx).await? {
                emitted += 1;
            }
        }
        tracing::debug!(oauth_app = %oa.id, emitted, "app-level event routed");
        reply(&lead.response, &ctx)
    }

    /// The app-level triggers that may receive the app's events in this
    /// tenant: the built-in ones, then private ones that have deployments.
    async fn app_level_components(&self, t: &Tenant, app: &str) -> Result<Vec<Component>> {
        let mut out: Vec<Component> = self
            .catalog
            .app_webhook_triggers(app)
            .into_iter()
            .cloned()
            .collect();
        let keys = self
            .store
            .index_range(
                &records::app_route_components(t, app),
                &IndexRange {
                    limit: crate::catalog::MAX_PRIVATE,
                    ..Default::default()
                },
            )
            .await?;
        for k in &keys {
            if out.iter().any(|c| &c.key == k) {
                continue;
            }
            match self.components.component(t, k, None).await {
                Ok(e) if e.component.app == app && e.component.app_webhook().is_some() => {
                    out.push(e.component)
                }
                Err(Error::Store(e)) => return Err(e.into()),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Refuses a bad signature with 401, counting it per OAuth app.
    async fn check_app_signature(
        &self,
        t: &Tenant,
        oa: &OAuthApp,
        w: &WebhookSpec,
        req: &InboundRequest,
        request: &Value,
    ) -> Result<()> {
        let Some(sig) = &w.signature else {
            return Ok(());
        };
        let checked = match self.accounts.oauth_app_signing_secret(&t.project_id, oa)? {
            None => Err("the OAuth app has no signing_secret".to_string()),
            Some(secret) => {
                let ctx = json!({
                    "request": request,
                    "oauth_app": {"id": oa.id, "client_id": oa.client_id, "signing_secret": secret},
                });
                match template::render(&sig.secret, &ctx) {
                    Ok(s) if !s.is_empty() => signature::verify(
                        sig.scheme,
                        &s,
                        &req.headers,
                        &req.body,
                        now_ms() / 1000,
                        sig.tolerance_secs,
                    ),
                    Ok(_) => Err("the signing secret is empty".to_string()),
                    Err(e) => Err(format!("the signing secret template failed: {e}")),
                }
            }
        };
        if let Err(why) = checked {
            let failures = self
                .store
                .incr_window(
                    &records::app_signature_failures(t, &oa.id),
                    24 * 3600 * 1000,
                )
                .await
                .map(|(n, _)| n)
                .unwrap_or_default();
            tracing::info!(oauth_app = %oa.id, env = t.env.as_str(), failures_24h = failures, reason = %why,
                "app-level webhook refused: bad signature");
            return Err(Error::Unauthorized(format!(
                "invalid webhook signature: {why}"
            )));
        }
        Ok(())
    }

    /// The deployments whose route values match the request's, once each.
    async fn app_route_candidates<'c>(
        &self,
        t: &Tenant,
        components: &'c [Component],
        ctx: &Value,
    ) -> Result<Vec<(&'c Component, String)>> {
        let mut out: Vec<(&Component, String)> = Vec::new();
        for c in components {
            let Some(w) = c.app_webhook() else { continue };
            let mut lists = Vec::new();
            for r in &w.route {
                match template::eval(&r.request, ctx) {
                    Ok(v) => lists.push(route_values(&v)),
                    Err(e) => {
                        tracing::debug!(component = %c.key, error = %e, "request has no route value");
                        lists.clear();
                        break;
                    }
                }
            }
            if lists.is_empty() || lists.iter().any(Vec::is_empty) {
                continue;
            }
            let Some(combos) = combinations(&lists, MAX_ROUTE_ENTRIES) else {
                continue;
            };
            for vals in &combos {
                let prefix = route_prefix(&c.key, vals);
                // Members with this prefix sort strictly between `…:` and `…;`.
                let before = format!("{};", &prefix[..prefix.len() - 1]);
                let members = self
                    .store
                    .index_range(
                        &records::app_routes_index(t, &c.app),
                        &IndexRange {
                            after: Some(prefix.clone()),
                            before: Some(before),
                            limit: 100_000,
                        },
                    )
                    .await?;
                for m in members {
                    let dc = m[prefix.len()..].to_string();
                    if !out.iter().any(|(_, d)| *d == dc) {
                        out.push((c, dc));
                    }
                }
            }
        }
        Ok(out)
    }

    /// One matching deployment: its filter, its dedupe, then the event
    /// persisted with its deliveries. True when an event was recorded.
    async fn emit_app_event(
        &self,
        t: &Tenant,
        c: &Component,
        dc: &str,
        ctx: &Value,
    ) -> Result<bool> {
        let Some(w) = c.app_webhook() else {
            return Ok(false);
        };
        let Some(d) = self
            .read::<Deployment>(&records::deployment(t, dc))
            .await?
            .filter(|d| d.active && d.component_key == c.key)
        else {
            return Ok(false);
        };
        let all: Vec<_> = c.props.iter().collect();
        let ctx = json!({
            "request": ctx["request"],
            "props": switchboard_components::action::props_context(&all, &d.configured_props),
            "state": self.state_of(t, &d)?,
        });
        let wanted = match &w.filter {
            Some(f) => template::truthy(f, &ctx),
            None => Ok(true),
        };
        match wanted {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(e) => {
                tracing::warn!(deployment = dc, error = %e, "app-level event filter failed; skipped");
                return Ok(false);
            }
        }
        let seen = match self.first_delivery(t, dc, w, &ctx).await {
            Ok(Some(seen)) => seen,
            Ok(None) => return Ok(false),
            Err(Error::Store(e)) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(deployment = dc, error = %e, "app-level event id failed; skipped");
                return Ok(false);
            }
        };
        let (e, sum) = match event_of(w, &ctx) {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(deployment = dc, error = %e, "app-level event template failed; skipped");
                self.forget_delivery(seen).await;
                return Ok(false);
            }
        };
        if let Err(e) = self.record_event(t, dc, e, sum).await {
            self.forget_delivery(seen).await;
            return Err(e);
        }
        Ok(true)
    }
}
