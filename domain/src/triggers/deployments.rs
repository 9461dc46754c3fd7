//! Deployed triggers: deploy, list, pause and resume, reconfigure, delete,
//! and the events they emitted. Instant triggers get their own inbound URL
//! (`/hooks/<hook id>`), an unguessable id of 160 random bits.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchboard_components::component::Source;
use switchboard_components::options::resolve_props;
use switchboard_components::props::{PropType, validate_configured};

use super::Triggers;
use crate::clock::{iso, now_ms};
use crate::delivery::Message;
use crate::error::{Error, Result, invalid, not_found};
use crate::ids::new_id;
use crate::model::{ExternalUser, Tenant};
use crate::paging::{Page, PageRequest};
use crate::records;
use crate::store::{IndexRange, Op};

/// A deployed trigger, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub owner_id: String,
    pub external_user_id: String,
    pub component_key: String,
    pub component_version: String,
    pub configured_props: Map<String, Value>,
    pub active: bool,
    pub name: String,
    pub emit_on_deploy: bool,
    /// The inbound URL's id, for `$.interface.http` triggers.
    #[serde(default)]
    pub hook_id: Option<String>,
    /// Sealed `whsec_` key that signs this trigger's deliveries.
    pub signing_key: String,
    /// Where events are delivered, each with its own signing key.
    #[serde(default)]
    pub webhooks: Vec<crate::delivery::TriggerWebhook>,
    /// Sealed JSON: the trigger's own state (webhook secret, provider hook
    /// id, cursors). Templates see it as `state`.
    #[serde(default)]
    pub state: Option<String>,
    /// Deliver events one at a time per webhook, in the order accepted.
    #[serde(default)]
    pub fifo: bool,
    /// Timers: when the next run is due, and when the last one ran (ms).
    #[serde(default)]
    pub next_run_ms: Option<u64>,
    #[serde(default)]
    pub last_run_ms: Option<u64>,
    /// The account whose death suspended this deployment (inactive until
    /// the user reconnects it).
    #[serde(default)]
    pub suspended_for: Option<String>,
    /// Polling sources: cursor, dedupe memory and how polls are going.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<crate::triggers::poll::PollState>,
    pub created_at: u64,
    pub updated_at: u64,
}

/// The account the deployment's app prop names, if any.
pub(crate) fn account_of<'a>(
    c: &switchboard_components::component::Component,
    d: &'a Deployment,
) -> Option<&'a str> {
    c.props
        .iter()
        .filter(|p| p.kind == PropType::App)
        .find_map(|p| {
            d.configured_props
                .get(&p.name)?
                .get("authProvisionId")?
                .as_str()
        })
}

/// Where an inbound URL leads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HookRoute {
    pub tenant: Tenant,
    pub deployment_id: String,
}

/// One emitted event: Pipedream's `{e, k, ts, id, sum}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmittedEvent {
    pub id: String,
    pub k: String,
    pub ts: u64,
    pub e: Value,
    pub sum: String,
}

#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    pub key: String,
    pub version: Option<String>,
    pub external_user_id: String,
    pub configured_props: Map<String, Value>,
    pub webhook_url: Option<String>,
    pub emit_on_deploy: Option<bool>,
    pub fifo: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct TriggerUpdate {
    pub active: Option<bool>,
    pub configured_props: Option<Map<String, Value>>,
    pub name: Option<String>,
    pub emit_on_deploy: Option<bool>,
    pub fifo: Option<bool>,
}

/// A deployment with its signing key opened (for server callers).
pub struct DeploymentView {
    pub deployment: Deployment,
    pub signing_key: String,
}

fn signing_aad(t: &Tenant, id: &str) -> String {
    format!("dc:{}:{}:{id}", t.project_id, t.env.as_str())
}

/// 160 random bits, base62: the unguessable part of an inbound URL.
fn new_hook_id() -> String {
    crate::ids::random_base62(crate::validate::HOOK_ID_LEN)
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

impl Triggers {
    pub fn hook_url(&self, hook_id: &str) -> String {
        format!("{}/hooks/{hook_id}", self.settings.public_base)
    }

    pub(crate) fn open_view(&self, t: &Tenant, d: Deployment) -> Result<DeploymentView> {
        let key = self.keyring.open(&d.signing_key, &signing_aad(t, &d.id))?;
        Ok(DeploymentView {
            signing_key: String::from_utf8_lossy(&key).into_owned(),
            deployment: d,
        })
    }

    /// Validates the props against the trigger and the user's accounts.
    async fn check_trigger_props(
        self: &Arc<Self>,
        t: &Tenant,
        key: &str,
        version: Option<&str>,
        ext: &str,
        configured: &Map<String, Value>,
    ) -> Result<switchboard_components::Component> {
        let entry = self.components.component(t, key, version).await?;
        let c = entry.component;
        if c.is_action() {
            return Err(invalid(format!(
                "{key} is an action; run it instead of deploying it"
            )));
        }
        let props = resolve_props(&c, configured).map_err(|e| invalid(e.to_string()))?;
        let owned: Vec<_> = props.iter().map(|p| (*p).clone()).collect();
        let mut errors = validate_configured(&owned, configured)
            .err()
            .unwrap_or_default();
        if errors.is_empty() {
            errors.extend(crate::triggers::poll::check_prop_paths(&c, configured));
        }
        self.components
            .check_accounts(t, ext, &props, configured, &mut errors)
            .await?;
        if !errors.is_empty() {
            return Err(Error::InvalidProps(errors));
        }
        Ok(c)
    }

    pub async fn deploy_trigger(
        self: &Arc<Self>,
        t: &Tenant,
        req: DeployRequest,
    ) -> Result<DeploymentView> {
        crate::validate::external_user_id(&req.external_user_id)?;
        if let Some(u) = &req.webhook_url {
            crate::validate::http_url("webhook_url", u)?;
        }
        self.tenancy
            .check_user_live(t, &req.external_user_id)
            .await?;
        self.check_deployment_quotas(t, &req.external_user_id)
            .await?;
        let c = self
            .check_trigger_props(
                t,
                &req.key,
                req.version.as_deref(),
                &req.external_user_id,
                &req.configured_props,
            )
            .await?;
        let now = now_ms();
        let id = new_id("dc");
        let hook_id = c
            .props
            .iter()
            .any(|p| p.kind == PropType::HttpInterface)
            .then(new_hook_id);
        let mut configured = req.configured_props.clone();
        if let Some(h) = &hook_id
            && let Some(p) = c.props.iter().find(|p| p.kind == PropType::HttpInterface)
        {
            configured.insert(p.name.clone(), json!({"endpoint_url": self.hook_url(h)}));
        }
        let user: Option<ExternalUser> =
            self.read(&records::user(t, &req.external_user_id)).await?;
        let mut ops = Vec::new();
        let owner = match user {
            Some(u) => u,
            None => {
                let u = ExternalUser {
                    id: new_id("exu"),
                    external_id: req.external_user_id.clone(),
                    created_at: now,
                    updated_at: now,
                };
                ops.push(records::put(records::user(t, &req.external_user_id), &u));
                ops.push(records::index_add(
                    records::users_index(t),
                    &req.external_user_id,
                ));
                u
            }
        };
        let key = crate::delivery::new_signing_key();
        let mut d = Deployment {
            id: id.clone(),
            owner_id: owner.id,
            external_user_id: req.external_user_id.clone(),
            component_key: c.key.clone(),
            component_version: c.version.clone(),
            configured_props: configured,
            active: true,
            name: format!("{} - {}", c.name, req.external_user_id),
            emit_on_deploy: req.emit_on_deploy.unwrap_or(true),
            fifo: req.fifo.unwrap_or(false),
            next_run_ms: None,
            last_run_ms: None,
            suspended_for: None,
            poll: None,
            hook_id: hook_id.clone(),
            signing_key: self.keyring.seal(key.as_bytes(), &signing_aad(t, &id)),
            webhooks: req
                .webhook_url
                .iter()
                .map(|u| self.delivery.new_webhook(t, &id, u, Some(&key)))
                .collect(),
            state: None,
            created_at: now,
            updated_at: now,
        };
        // A secret for providers that sign their webhooks, then the
        // provider registration: nothing is stored if it fails.
        let mut state = Map::new();
        state.insert("secret".into(), Value::String(crate::ids::random_hex(32)));
        self.seal_state(t, &mut d, &state);
        if let Some(extracted) = self.run_hook(t, &c, &d, Hook::Activate).await? {
            state.extend(extracted);
            self.seal_state(t, &mut d, &state);
        }
        let mut ops_sched = self.schedule_ops(t, &c, &mut d).await?;
        ops.push(records::put(records::deployment(t, &id), &d));
        ops.append(&mut ops_sched);
        ops.push(records::index_add(records::deployments_index(t), &id));
        ops.push(records::index_add(
            records::deployments_by_user(t, &d.external_user_id),
            &id,
        ));
        // App-level triggers: their entries in the app's routing index.
        let routes = self.app_route_plan(t, &d).await?;
        ops.extend(self.app_route_ops(t, &id, routes).await?);
        self.store.commit(ops).await?;
        if let Some(h) = &hook_id {
            let route = HookRoute {
                tenant: t.clone(),
                deployment_id: id.clone(),
            };
            self.store
                .commit(vec![records::put(records::hook(h), &route)])
                .await?;
        }
        // A delete of this user that started meanwhile may have missed
        // this deployment: undo it rather than resurrect the user.
        if self
            .tenancy
            .user_deleted_meanwhile(t, &req.external_user_id)
            .await?
        {
            self.remove_deployment(t, &d, true).await?;
            self.tenancy
                .drop_user_record(t, &req.external_user_id)
                .await?;
            return Err(self
                .tenancy
                .check_user_live(t, &req.external_user_id)
                .await
                .err()
                .unwrap_or_else(|| Error::NotFound("external user deleted".into())));
        }
        Ok(DeploymentView {
            deployment: d,
            signing_key: key,
        })
    }

    /// Deployed triggers per external user and per project environment.
    /// Checked before the deploy commits: concurrent deploys may pass it
    /// together, so a quota can be exceeded by the deploys in flight.
    async fn check_deployment_quotas(&self, t: &Tenant, ext: &str) -> Result<()> {
        let q = &self.settings.quotas;
        let per_user = self
            .count_up_to(
                &records::deployments_by_user(t, ext),
                q.deployments_per_user,
            )
            .await?;
        if crate::context::over_quota(per_user, q.deployments_per_user) {
            return Err(crate::context::quota_exceeded(
                "deployed triggers per external user",
                "deployments_per_user",
                q.deployments_per_user,
            ));
        }
        let per_env = self
            .count_up_to(
                &records::deployments_index(t),
                q.deployments_per_environment,
            )
            .await?;
        if crate::context::over_quota(per_env, q.deployments_per_environment) {
            return Err(crate::context::quota_exceeded(
                "deployed triggers per project environment",
                "deployments_per_environment",
                q.deployments_per_environment,
            ));
        }
        Ok(())
    }

    /// A deployment of this user (any user for `None`).
    pub async fn deployment(
        &self,
        t: &Tenant,
        id: &str,
        ext: Option<&str>,
    ) -> Result<DeploymentView> {
        let d: Deployment = self
            .read(&records::deployment(t, id))
            .await?
            .filter(|d: &Deployment| ext.is_none_or(|u| u == d.external_user_id))
            .ok_or_else(|| not_found(format!("deployed trigger {id:?} not found")))?;
        self.open_view(t, d)
    }

    pub async fn list_deployments(
        &self,
        t: &Tenant,
        ext: &str,
        page: &PageRequest,
    ) -> Result<Page<DeploymentView>> {
        let ids = page
            .page_ids(self.store.as_ref(), &records::deployments_by_user(t, ext))
            .await?;
        let mut data = Vec::new();
        for id in &ids.data {
            if let Some(d) = self.read::<Deployment>(&records::deployment(t, id)).await? {
                data.push(self.open_view(t, d)?);
            }
        }
        Ok(Page {
            data,
            total_count: ids.total_count,
            start_cursor: ids.start_cursor,
            end_cursor: ids.end_cursor,
        })
    }

    /// Pause or resume, rename, or reconfigure (same id, URL and events).
    pub async fn update_deployment(
        self: &Arc<Self>,
        t: &Tenant,
        id: &str,
        ext: &str,
        u: TriggerUpdate,
    ) -> Result<DeploymentView> {
        let mut d = self.deployment(t, id, Some(ext)).await?.deployment;
        let props_changed = u.configured_props.is_some();
        if let Some(props) = u.configured_props {
            let mut props = props;
            // The inbound URL is the runtime's, not the caller's, to set.
            let c = self
                .components
                .component(t, &d.component_key, None)
                .await?
                .component;
            for p in c.props.iter().filter(|p| p.kind == PropType::HttpInterface) {
                props.remove(&p.name);
            }
            self.check_trigger_props(t, &d.component_key, None, ext, &props)
                .await?;
            for p in c.props.iter().filter(|p| p.kind == PropType::HttpInterface) {
                if let Some(v) = d.configured_props.get(&p.name) {
                    props.insert(p.name.clone(), v.clone());
                }
            }
            d.configured_props = props;
        }
        if let Some(a) = u.active
            && a != d.active
        {
            // Pausing removes the provider's registration; resuming makes a
            // new one (and keeps what it returns, such as the hook id).
            let c = self
                .components
                .component(t, &d.component_key, None)
                .await?
                .component;
            let hook = if a { Hook::Activate } else { Hook::Deactivate };
            if let Some(extracted) = self.run_hook(t, &c, &d, hook).await? {
                let mut state = self.state_of(t, &d)?;
                state.extend(extracted);
                self.seal_state(t, &mut d, &state);
            }
            d.active = a;
        }
        if u.active.is_some() {
            // The caller decides now, whatever suspended it before.
            d.suspended_for = None;
        }
        if let Some(n) = u.name {
            if n.trim().is_empty() || n.chars().count() > 200 {
                return Err(invalid("name must be 1 to 200 characters"));
            }
            d.name = n;
        }
        if let Some(f) = u.fifo {
            d.fifo = f;
        }
        if let Some(e) = u.emit_on_deploy {
            d.emit_on_deploy = e;
        }
        let routes = self.app_route_plan(t, &d).await?;
        // A new timer or a pause/resume reschedules from now; the entry of
        // the old schedule no longer matches and is dropped when it comes due.
        let reschedule = props_changed || u.active.is_some();
        if reschedule {
            let c = self
                .components
                .component(t, &d.component_key, None)
                .await?
                .component;
            let ops = self.schedule_ops(t, &c, &mut d).await?;
            self.store.commit(ops).await?;
        }
        // Delivery workers write webhooks' delivery state meanwhile: change
        // what this update is about on the current record, keep the rest.
        let changed = d;
        let d = self
            .modify::<Deployment, _>(&records::deployment(t, id), |cur| {
                cur.configured_props = changed.configured_props.clone();
                cur.active = changed.active;
                cur.suspended_for = changed.suspended_for.clone();
                cur.state = changed.state.clone();
                cur.name = changed.name.clone();
                cur.fifo = changed.fifo;
                cur.emit_on_deploy = changed.emit_on_deploy;
                if reschedule {
                    cur.next_run_ms = changed.next_run_ms;
                }
                cur.updated_at = now_ms();
                Ok(true)
            })
            .await?
            .ok_or_else(|| not_found(format!("deployed trigger {id:?} not found")))?;
        self.sync_app_routes(t, id, routes).await?;
        self.open_view(t, d)
    }

    /// Suspends a deployment for its dead `account`, or resumes it (`None`).
    /// The provider's registration is left alone either way (its hooks
    /// would need the dead account): only processing stops and starts.
    pub(crate) async fn set_suspended(
        &self,
        t: &Tenant,
        id: &str,
        account: Option<&str>,
    ) -> Result<()> {
        let Some(mut d) = self.read::<Deployment>(&records::deployment(t, id)).await? else {
            return Ok(());
        };
        d.active = account.is_none();
        d.suspended_for = account.map(str::to_string);
        let c = self
            .components
            .component(t, &d.component_key, None)
            .await?
            .component;
        let ops = self.schedule_ops(t, &c, &mut d).await?;
        self.store.commit(ops).await?;
        let routes = self.app_route_plan(t, &d).await?;
        let changed = d;
        self.modify::<Deployment, _>(&records::deployment(t, id), |cur| {
            cur.active = changed.active;
            cur.suspended_for = changed.suspended_for.clone();
            cur.next_run_ms = changed.next_run_ms;
            cur.updated_at = now_ms();
            Ok(true)
        })
        .await?;
        self.sync_app_routes(t, id, routes).await
    }

    /// Deletes after the deactivate hook; `ignore_hook_errors` deletes even
    /// when the provider refuses (a hook already gone counts as removed).
    pub async fn delete_deployment(
        self: &Arc<Self>,
        t: &Tenant,
        id: &str,
        ext: &str,
        ignore_hook_errors: bool,
    ) -> Result<()> {
        let d = self.deployment(t, id, Some(ext)).await?.deployment;
        self.remove_deployment(t, &d, ignore_hook_errors).await
    }

    /// Runs the deactivate hook of an active deployment (its errors only
    /// logged with `ignore_hook_errors`), then deletes the deployment, its
    /// indexes, app routes, events and inbound URL. Pending deliveries of
    /// its events find no deployment and are dropped unsent.
    pub(crate) async fn remove_deployment(
        self: &Arc<Self>,
        t: &Tenant,
        d: &Deployment,
        ignore_hook_errors: bool,
    ) -> Result<()> {
        let (id, ext) = (d.id.as_str(), d.external_user_id.as_str());
        if d.active {
            let hooked = match self.components.component(t, &d.component_key, None).await {
                Ok(c) => self.run_hook(t, &c.component, d, Hook::Deactivate).await,
                Err(e) => Err(e),
            };
            match hooked {
                Err(e) if !ignore_hook_errors => return Err(e),
                Err(e) => {
                    tracing::warn!(deployment = %d.id, error = %e, "deactivate failed; deleting anyway")
                }
                Ok(_) => {}
            }
        }
        let mut ops = vec![
            Op::Delete(records::deployment(t, id)),
            records::index_remove(records::deployments_index(t), id),
            records::index_remove(records::deployments_by_user(t, ext), id),
        ];
        ops.extend(self.app_route_ops(t, id, None).await?);
        let evs = self
            .store
            .index_range(
                &records::events_index(t, id),
                &IndexRange {
                    limit: 100_000,
                    ..Default::default()
                },
            )
            .await?;
        for e in &evs {
            ops.push(Op::Delete(records::event(t, id, e)));
            ops.push(records::index_remove(records::events_index(t, id), e));
        }
        self.store.commit(ops).await?;
        if let Some(h) = &d.hook_id {
            self.store
                .commit(vec![Op::Delete(records::hook(h))])
                .await?;
        }
        Ok(())
    }

    /// The newest `n` events, newest first.
    pub async fn deployment_events(
        &self,
        t: &Tenant,
        id: &str,
        ext: &str,
        n: usize,
    ) -> Result<Vec<EmittedEvent>> {
        self.deployment(t, id, Some(ext)).await?;
        // Older than the retention: expired (or about to be swept).
        let oldest = crate::ids::id_at("evt", now_ms().saturating_sub(self.events_ttl_ms()));
        let ids = self
            .store
            .index_range(
                &records::events_index(t, id),
                &IndexRange {
                    before: Some("~".into()),
                    after: None,
                    limit: n.clamp(1, 100),
                },
            )
            .await?;
        let ids: Vec<String> = ids.into_iter().filter(|e| *e >= oldest).collect();
        let keys: Vec<_> = ids.iter().rev().map(|e| records::event(t, id, e)).collect();
        let mut out = Vec::new();
        for raw in self.store.get_many(&keys).await?.into_iter().flatten() {
            out.push(records::from_bytes(&raw)?);
        }
        Ok(out)
    }

    /// Where an inbound URL leads, if it is live.
    pub async fn hook_route(&self, hook_id: &str) -> Result<Option<(HookRoute, Deployment)>> {
        if !crate::validate::hook_id(hook_id) {
            return Ok(None);
        }
        let Some(route) = self.read::<HookRoute>(&records::hook(hook_id)).await? else {
            return Ok(None);
        };
        let d: Option<Deployment> = self
            .read(&records::deployment(&route.tenant, &route.deployment_id))
            .await?;
        Ok(d.filter(|d| d.active).map(|d| (route, d)))
    }

    /// Persists an emitted event durably, keeping at most the configured
    /// number per deployment.
    pub async fn record_event(
        &self,
        t: &Tenant,
        deployment_id: &str,
        e: Value,
        sum: String,
    ) -> Result<EmittedEvent> {
        let d: Deployment = self
            .read(&records::deployment(t, deployment_id))
            .await?
            .ok_or_else(|| not_found(format!("deployed trigger {deployment_id:?} not found")))?;
        self.record_event_of(t, &d, e, sum).await
    }

    /// The writes that record `evs` and queue their deliveries (the
    /// webhooks they go to are read once for all of them).
    pub(crate) async fn event_ops(
        &self,
        t: &Tenant,
        d: &Deployment,
        evs: &[EmittedEvent],
    ) -> Result<Vec<Op>> {
        if evs.is_empty() {
            return Ok(Vec::new());
        }
        let targets = self.delivery_targets(t, d).await?;
        let mut ops = Vec::new();
        for ev in evs {
            ops.push(Op::Put {
                key: records::event(t, &d.id, &ev.id),
                value: records::to_bytes(ev),
                ttl_ms: Some(self.events_ttl_ms()),
            });
            ops.push(records::index_add(records::events_index(t, &d.id), &ev.id));
            let msg = Message {
                deployment_id: &d.id,
                event_id: &ev.id,
                ts: ev.ts,
                body: envelope(t, d, ev).to_string(),
                fifo: d.fifo,
            };
            ops.extend(self.delivery.enqueue_ops(t, &msg, &targets));
        }
        ops.push(crate::usage::count_op(
            t,
            crate::usage::Metric::SourceEmit,
            evs.len() as u64,
        ));
        Ok(ops)
    }

    /// How long an event is kept (`retention.events_secs`).
    pub(crate) fn events_ttl_ms(&self) -> u64 {
        self.settings.retention.events_secs.max(1) * 1000
    }

    /// Keeps the newest `events_retained` events of a deployment.
    pub(crate) async fn trim_events(&self, t: &Tenant, deployment_id: &str) -> Result<()> {
        let index = records::events_index(t, deployment_id);
        let keep = self.settings.events_retained.max(1) as u64;
        let count = self.store.index_count(&index).await?;
        if count > keep {
            let old = self
                .store
                .index_range(
                    &index,
                    &IndexRange {
                        limit: (count - keep) as usize,
                        ..Default::default()
                    },
                )
                .await?;
            let mut ops = Vec::new();
            for id in &old {
                ops.push(Op::Delete(records::event(t, deployment_id, id)));
                ops.push(records::index_remove(index.clone(), id));
            }
            self.store.commit(ops).await?;
        }
        Ok(())
    }

    /// `record_event` for a deployment the caller has just read (saves the
    /// ingest path a round trip).
    pub(crate) async fn record_event_of(
        &self,
        t: &Tenant,
        d: &Deployment,
        e: Value,
        sum: String,
    ) -> Result<EmittedEvent> {
        let deployment_id = d.id.as_str();
        let ev = EmittedEvent {
            id: new_id("evt"),
            k: "emit".into(),
            ts: now_ms(),
            e,
            sum,
        };
        // The event and its deliveries in one commit: acknowledged means queued.
        let ops = self.event_ops(t, d, std::slice::from_ref(&ev)).await?;
        self.store.commit(ops).await?;
        // Deactivated webhooks shed the event; count it on them.
        if d.webhooks.iter().any(|w| !w.active) {
            self.modify::<Deployment, _>(&records::deployment(t, deployment_id), |d| {
                for w in d.webhooks.iter_mut().filter(|w| !w.active) {
                    w.delivery_state.sheds += 1;
                }
                Ok(true)
            })
            .await?;
        }
        self.trim_events(t, deployment_id).await?;
        Ok(ev)
    }
}

/// A provider registration step of a webhook trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Activate,
    Deactivate,
}

fn state_aad(t: &Tenant, id: &str) -> String {
    format!("dcstate:{}:{}:{id}", t.project_id, t.env.as_str())
}

impl Triggers {
    pub(crate) fn seal_state(&self, t: &Tenant, d: &mut Deployment, state: &Map<String, Value>) {
        let plain = serde_json::to_vec(state).expect("a JSON map serializes");
        d.state = Some(self.keyring.seal(&plain, &state_aad(t, &d.id)));
    }

    pub(crate) fn state_of(&self, t: &Tenant, d: &Deployment) -> Result<Map<String, Value>> {
        match &d.state {
            None => Ok(Map::new()),
            Some(sealed) => {
                let plain = self.keyring.open(sealed, &state_aad(t, &d.id))?;
                serde_json::from_slice(&plain).map_err(|e| Error::internal_from("trigger state", e))
            }
        }
    }

    /// Runs the trigger's activate or deactivate step with the user's
    /// account; returns what it extracted (kept in the state).
    pub(crate) async fn run_hook(
        self: &Arc<Self>,
        t: &Tenant,
        c: &switchboard_components::Component,
        d: &Deployment,
        which: Hook,
    ) -> Result<Option<Map<String, Value>>> {
        let Some(Source::Webhook(w)) = &c.source else {
            return Ok(None);
        };
        let Some(step) = (match which {
            Hook::Activate => &w.activate,
            Hook::Deactivate => &w.deactivate,
        }) else {
            return Ok(None);
        };
        let app = self.app(&c.app)?;
        let account = match account_of(c, d) {
            Some(id) => {
                self.read::<crate::model::Account>(&records::account(t, id))
                    .await?
            }
            None => None,
        };
        let access = self.accounts.account_access(t, account.as_ref()).await?;
        let mut s = switchboard_components::runtime::Session::new(
            &self.outbound,
            app,
            access.creds.clone(),
            access.refresher(),
            std::time::Duration::from_secs(20),
        );
        let all: Vec<_> = c.props.iter().collect();
        let ctx = json!({
            "props": switchboard_components::action::props_context(&all, &d.configured_props),
            "state": self.state_of(t, d)?,
            "endpoint_url": d.hook_id.as_deref().map(|h| self.hook_url(h)),
        });
        let out = switchboard_components::action::run_step(&mut s, step, &ctx)
            .await
            .map_err(|e| {
                let what = if which == Hook::Activate {
                    "activate"
                } else {
                    "deactivate"
                };
                Error::Unprocessable(format!("the trigger's {what} hook failed: {e}"))
            })?;
        Ok(Some(
            step.extract
                .keys()
                .map(|k| (k.clone(), out[k].clone()))
                .collect(),
        ))
    }
}

/// A deployment of `component_key` as stored, for tests of what is built
/// from one.
#[cfg(test)]
pub(crate) fn sample_deployment(component_key: &str) -> Deployment {
    serde_json::from_value(json!({
        "id": "dc_1", "owner_id": "exu_1", "external_user_id": "u1",
        "component_key": component_key, "component_version": "0.1.0",
        "configured_props": {}, "active": true, "name": "n", "emit_on_deploy": false,
        "signing_key": "sealed", "created_at": 1, "updated_at": 1
    }))
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The delivered body matches its published schema (docs/schema).
    #[test]
    fn envelope_matches_the_published_schema() {
        let v = crate::published_schema("delivery.v1.json");
        let t = Tenant {
            project_id: "proj_x".into(),
            env: crate::model::Environment::Development,
        };
        let d = sample_deployment("http-new-requests");
        let ev = EmittedEvent {
            id: "evt_1".into(),
            k: "emit".into(),
            ts: 1_795_413_600_000,
            e: json!({"any": ["json"]}),
            sum: "POST /".into(),
        };
        let body = envelope(&t, &d, &ev);
        let errors: Vec<String> = v.iter_errors(&body).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}\n{body}");
        let mut bad = body.clone();
        bad["context"]["environment"] = json!("staging");
        assert!(!v.is_valid(&bad), "the schema can refuse a body");
    }
}
