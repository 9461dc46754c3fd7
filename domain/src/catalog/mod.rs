//! The component catalog a tenant sees: the built-in manifests plus the
//! project's private ones (registered through the API, validated exactly
//! like built-ins), with search and paging; remote options and reload props.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchboard_components::options::{dynamic_props_id, remote_options, resolve_props};
use switchboard_components::props::{Prop, PropError, PropType};
use switchboard_components::runtime::{RunError, Session};
use switchboard_components::{Component, ManifestKind};

use crate::accounts::Accounts;
use crate::clock::now_ms;
use crate::context::{Context, over_context};
use crate::error::{Error, Result, invalid, not_found};
use crate::model::Tenant;
use crate::paging::Page;
use crate::records;
use crate::store::{IndexRange, Op};

/// The catalog's service: over the accounts, whose credentials remote
/// options and reloaded props run with.
pub struct Components {
    ctx: Arc<Context>,
    pub(crate) accounts: Arc<Accounts>,
    /// Private components parsed, by the SHA-256 of their stored record:
    /// a poll of one reads the record but does not re-validate it.
    parsed: std::sync::Mutex<std::collections::HashMap<String, Arc<Component>>>,
}

over_context!(Components);

impl Components {
    pub(crate) fn new(ctx: Arc<Context>, accounts: Arc<Accounts>) -> Self {
        Components {
            ctx,
            accounts,
            parsed: Default::default(),
        }
    }
}

/// Remote options must answer well inside the SDKs' 60 s timeout.
const CONFIGURE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(25);

/// Most private components a project environment may hold.
pub const MAX_PRIVATE: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    Public,
    Private,
    All,
}

impl Registry {
    pub fn parse(s: Option<&str>) -> Result<Self> {
        match s {
            None | Some("all") => Ok(Registry::All),
            Some("public") => Ok(Registry::Public),
            Some("private") => Ok(Registry::Private),
            Some(o) => Err(invalid(format!(
                "registry must be public, private or all, not {o:?}"
            ))),
        }
    }
}

/// A component and where it comes from.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub component: Component,
    pub private: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ComponentQuery {
    pub kind: Option<ManifestKind>,
    pub q: Option<String>,
    pub app: Option<String>,
    pub registry: Option<String>,
    pub limit: Option<usize>,
    pub after: Option<String>,
    pub before: Option<String>,
}

/// A stored private component: its manifest as registered.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PrivateRecord {
    manifest: Value,
    created_at: u64,
    updated_at: u64,
}

/// The reply to `configure` (remote options).
#[derive(Debug, Clone, Serialize)]
pub struct ConfigureReply {
    pub options: Vec<Value>,
    pub context: Value,
    pub observations: Vec<Value>,
    pub errors: Vec<String>,
}

impl Components {
    async fn private_components(&self, t: &Tenant) -> Result<Vec<Component>> {
        let keys = self
            .store
            .index_range(
                &records::components_index(t),
                &IndexRange {
                    limit: MAX_PRIVATE,
                    ..Default::default()
                },
            )
            .await?;
        let recs = self
            .store
            .get_many(
                &keys
                    .iter()
                    .map(|k| records::component(t, k))
                    .collect::<Vec<_>>(),
            )
            .await?;
        let mut out = Vec::new();
        for raw in recs.into_iter().flatten() {
            let rec: PrivateRecord = records::from_bytes(&raw)?;
            // Stored manifests were valid when registered; a later runtime
            // that refuses one hides it rather than failing the listing.
            match self.catalog.parse_component("stored", rec.manifest) {
                Ok(c) => out.push(c),
                Err(e) => tracing::warn!(error = %e, "stored private component no longer loads"),
            }
        }
        Ok(out)
    }

    /// A component by key: built-in, else the tenant's private one.
    pub async fn component(
        &self,
        t: &Tenant,
        key: &str,
        version: Option<&str>,
    ) -> Result<CatalogEntry> {
        // Private components never take a built-in key: no read for those.
        let entry = match self.catalog.component(key) {
            Some(c) => CatalogEntry {
                component: c.clone(),
                private: false,
            },
            None => {
                let raw = self
                    .store
                    .get(&records::component(t, key))
                    .await?
                    .ok_or_else(|| not_found(format!("component {key:?} not found")))?;
                CatalogEntry {
                    component: (*self.parsed_private(key, &raw)?).clone(),
                    private: true,
                }
            }
        };
        if let Some(v) = version.filter(|v| !v.is_empty() && *v != "latest")
            && v != entry.component.version
        {
            return Err(not_found(format!(
                "component {key:?} has no version {v:?} (current: {})",
                entry.component.version
            )));
        }
        Ok(entry)
    }

    /// A stored private component, parsed once per version of its record.
    fn parsed_private(&self, key: &str, raw: &[u8]) -> Result<Arc<Component>> {
        let digest = crate::crypto::sha256_hex(raw);
        if let Some(c) = self
            .parsed
            .lock()
            .ok()
            .and_then(|m| m.get(&digest).cloned())
        {
            return Ok(c);
        }
        let rec: PrivateRecord = crate::records::from_bytes(raw)?;
        let c = Arc::new(
            self.catalog
                .parse_component("stored", rec.manifest)
                .map_err(|e| {
                    Error::Unprocessable(format!(
                        "private component {key:?} no longer loads ({e}); update it with PUT"
                    ))
                })?,
        );
        if let Ok(mut m) = self.parsed.lock() {
            // Bounded: versions of components, not a growing history.
            if m.len() >= 4096 {
                m.clear();
            }
            m.insert(digest, c.clone());
        }
        Ok(c)
    }

    pub async fn list_components(
        &self,
        t: &Tenant,
        q: &ComponentQuery,
    ) -> Result<Page<CatalogEntry>> {
        let registry = Registry::parse(q.registry.as_deref())?;
        let app = q
            .app
            .as_deref()
            .map(|a| self.app(a).map(|x| x.name_slug.clone()))
            .transpose()?;
        let limit = crate::paging::PageRequest {
            limit: q.limit,
            after: None,
            before: None,
        }
        .limit()?;
        // Filter and page by reference: only the page's components are
        // cloned (the built-in catalog may hold thousands of generated ones).
        let private = if registry != Registry::Public {
            self.private_components(t).await?
        } else {
            Vec::new()
        };
        let builtin: &[Component] = if registry != Registry::Private {
            self.catalog.components()
        } else {
            &[]
        };
        let needle =
            q.q.as_deref()
                .map(str::to_lowercase)
                .filter(|s| !s.is_empty());
        // Private keys never shadow built-in ones (registration refuses them).
        let mut all: Vec<(&Component, bool)> = private
            .iter()
            .map(|c| (c, true))
            .chain(builtin.iter().map(|c| (c, false)))
            .filter(|(c, _)| {
                q.kind.is_none_or(|k| k == c.kind)
                    && app.as_ref().is_none_or(|a| *a == c.app)
                    && needle.as_ref().is_none_or(|n| {
                        c.key.contains(n.as_str())
                            || c.name.to_lowercase().contains(n.as_str())
                            || c.description.to_lowercase().contains(n.as_str())
                    })
            })
            .collect();
        all.sort_by(|a, b| a.0.key.cmp(&b.0.key));
        let total = all.len() as u64;
        let (start, end) = match (&q.after, &q.before) {
            (Some(a), _) => {
                let s = all.partition_point(|e| e.0.key.as_str() <= a.as_str());
                (s, (s + limit).min(all.len()))
            }
            (None, Some(b)) => {
                let e = all.partition_point(|x| x.0.key.as_str() < b.as_str());
                (e.saturating_sub(limit), e)
            }
            (None, None) => (0, limit.min(all.len())),
        };
        let has_more = end < all.len();
        let has_less = start > 0;
        let data: Vec<CatalogEntry> = all[start..end]
            .iter()
            .map(|(c, private)| CatalogEntry {
                component: (*c).clone(),
                private: *private,
            })
            .collect();
        Ok(Page {
            start_cursor: data
                .first()
                .filter(|_| has_less)
                .map(|e| e.component.key.clone()),
            end_cursor: data
                .last()
                .filter(|_| has_more)
                .map(|e| e.component.key.clone()),
            data,
            total_count: total,
        })
    }

    /// Registers (or, with `replace`, updates) a private component.
    pub async fn put_private_component(
        &self,
        t: &Tenant,
        manifest: Value,
        replace: Option<&str>,
    ) -> Result<CatalogEntry> {
        let c = self
            .catalog
            .parse_component("manifest", manifest.clone())
            .map_err(|e| invalid(format!("invalid manifest: {}: {}", e.path, e.reason)))?;
        if self.catalog.component(&c.key).is_some() {
            return Err(invalid(format!(
                "{:?} is a built-in component key; choose another key",
                c.key
            )));
        }
        let key = records::component(t, &c.key);
        let existing: Option<PrivateRecord> = self.read(&key).await?;
        match (replace, &existing) {
            (Some(path_key), _) if path_key != c.key => {
                return Err(invalid(format!(
                    "the manifest's key {:?} does not match the URL's {path_key:?}",
                    c.key
                )));
            }
            (Some(k), None) => return Err(not_found(format!("component {k:?} not found"))),
            (None, Some(_)) => {
                return Err(Error::Unprocessable(format!(
                    "component {:?} exists; update it with PUT",
                    c.key
                )));
            }
            _ => {}
        }
        if existing.is_none()
            && self
                .store
                .index_count(&records::components_index(t))
                .await? as usize
                >= MAX_PRIVATE
        {
            return Err(invalid(format!(
                "a project environment may hold at most {MAX_PRIVATE} private components"
            )));
        }
        let max = self.settings.quotas.private_components_per_project;
        if existing.is_none() && max > 0 {
            // Per project: both environments count.
            let mut have = 0;
            for env in crate::model::Environment::ALL {
                let other = Tenant {
                    project_id: t.project_id.clone(),
                    env,
                };
                have += self
                    .count_up_to(&records::components_index(&other), max)
                    .await?;
            }
            if crate::context::over_quota(have, max) {
                return Err(crate::context::quota_exceeded(
                    "private components per project",
                    "private_components_per_project",
                    max,
                ));
            }
        }
        let now = now_ms();
        let rec = PrivateRecord {
            manifest,
            created_at: existing.as_ref().map_or(now, |e| e.created_at),
            updated_at: now,
        };
        self.store
            .commit(vec![
                records::put(key, &rec),
                records::index_add(records::components_index(t), &c.key),
            ])
            .await?;
        Ok(CatalogEntry {
            component: c,
            private: true,
        })
    }

    pub async fn delete_private_component(&self, t: &Tenant, key: &str) -> Result<()> {
        if self
            .read::<PrivateRecord>(&records::component(t, key))
            .await?
            .is_none()
        {
            return Err(not_found(format!("private component {key:?} not found")));
        }
        self.store
            .commit(vec![
                Op::Delete(records::component(t, key)),
                records::index_remove(records::components_index(t), key),
            ])
            .await?;
        Ok(())
    }

    /// Checks that each app prop names an account of this user and app;
    /// returns the accounts' errors alongside.
    pub(crate) async fn check_accounts(
        &self,
        t: &Tenant,
        ext: &str,
        props: &[&Prop],
        configured: &Map<String, Value>,
        errors: &mut Vec<PropError>,
    ) -> Result<Vec<(String, crate::model::Account)>> {
        let mut out = Vec::new();
        for p in props.iter().filter(|p| p.kind == PropType::App) {
            let Some(id) = configured
                .get(&p.name)
                .and_then(|v| v.get("authProvisionId"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            let app = p.app.clone().unwrap_or_default();
            let bad = |reason: String| PropError {
                prop: p.name.clone(),
                reason,
            };
            match self
                .read::<crate::model::Account>(&records::account(t, id))
                .await?
            {
                None => errors.push(bad(format!("account {id} not found"))),
                Some(a) if a.external_user_id != ext => {
                    errors.push(bad(format!("account {id} belongs to another user")))
                }
                Some(a) if a.app != app => errors.push(bad(format!(
                    "account {id} is a {} account, not {app}",
                    a.app
                ))),
                Some(a) => out.push((p.name.clone(), a)),
            }
        }
        Ok(out)
    }

    /// `POST …/configure`: one page of a prop's remote options.
    #[allow(clippy::too_many_arguments)]
    pub async fn configure_prop(
        self: &Arc<Self>,
        t: &Tenant,
        key: &str,
        version: Option<&str>,
        ext: &str,
        prop_name: &str,
        configured: &Map<String, Value>,
        query: Option<&str>,
        prev_context: Option<&Value>,
    ) -> Result<ConfigureReply> {
        crate::validate::external_user_id(ext)?;
        let _share = self.request_share(t).await?;
        let entry = self.component(t, key, version).await?;
        let c = &entry.component;
        let props = resolve_props(c, configured).map_err(|e| invalid(e.to_string()))?;
        let prop = props
            .iter()
            .find(|p| p.name == prop_name)
            .ok_or_else(|| invalid(format!("{key} has no prop {prop_name:?}")))?;
        if !prop.remote_options() {
            return Err(invalid(format!("prop {prop_name:?} has no remote options")));
        }
        let mut errors = Vec::new();
        let accounts = self
            .check_accounts(t, ext, &props, configured, &mut errors)
            .await?;
        if !errors.is_empty() {
            return Err(Error::InvalidProps(errors));
        }
        let Some((_, account)) = accounts.iter().find(|(_, a)| a.app == c.app) else {
            return Err(Error::InvalidProps(vec![PropError {
                prop: props
                    .iter()
                    .find(|p| p.kind == PropType::App)
                    .map_or("app".into(), |p| p.name.clone()),
                reason: "configure the account prop before asking for options".into(),
            }]));
        };
        let app = self.app(&c.app)?;
        let creds = self.accounts.session_credentials(t, account).await?;
        let refresher =
            crate::accounts::refresh::AccountRefresher::new(&self.accounts, t, account, &creds);
        let mut s = Session::new(
            &self.outbound,
            app,
            Some(creds),
            Some(&refresher),
            CONFIGURE_TIMEOUT,
        );
        s.idempotent = true;
        let ctx = switchboard_components::action::props_context(&props, configured);
        let reply = tokio::time::timeout(
            CONFIGURE_TIMEOUT,
            remote_options(&mut s, prop, ctx, query, prev_context),
        )
        .await
        .unwrap_or(Err(RunError::Timeout(CONFIGURE_TIMEOUT)));
        let observations = s
            .observations
            .iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .collect();
        match reply {
            Ok(page) => Ok(ConfigureReply {
                options: page.options,
                context: page.context,
                observations,
                errors: Vec::new(),
            }),
            // Policy refusals and a forged cursor are the caller's error.
            Err(RunError::Blocked(m)) => Err(Error::Forbidden(m)),
            Err(RunError::Invalid(m)) if m.starts_with("prev_context") => Err(invalid(m)),
            // The provider's failures are reported the way Pipedream does.
            Err(e) => Ok(ConfigureReply {
                options: Vec::new(),
                context: json!({}),
                observations,
                errors: vec![e.to_string()],
            }),
        }
    }

    /// `POST …/props`: the props in force for what is configured so far.
    pub async fn reload_props(
        &self,
        t: &Tenant,
        key: &str,
        version: Option<&str>,
        configured: &Map<String, Value>,
    ) -> Result<(String, Vec<Prop>)> {
        let entry = self.component(t, key, version).await?;
        let props =
            resolve_props(&entry.component, configured).map_err(|e| invalid(e.to_string()))?;
        Ok((
            dynamic_props_id(&props),
            props.into_iter().cloned().collect(),
        ))
    }
}
