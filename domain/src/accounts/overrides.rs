//! App overrides: named per-app settings of a project that select one of
//! its OAuth clients and predefine custom-field values (a fixed instance
//! URL, a region). Only non-secret fields may be predefined: an override
//! is configuration, readable by anyone who manages the project, and its
//! values reach the hosted page. Values obey the one rule for account
//! fields (`CustomField::check_value`). Project-wide like OAuth apps.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_components::{App, AuthType};

use super::Accounts;
use crate::clock::now_ms;
use crate::crypto::sha256_hex;
use crate::error::{Result, invalid, not_found};
use crate::ids::new_id;
use crate::paging::{Page, PageRequest};
use crate::records;
use crate::store::Op;
use crate::tenancy::auth::Caller;

/// Overrides per project: they are hand-made configuration.
pub const MAX_OVERRIDES: u64 = 200;
const MAX_NAME: usize = 100;
const MAX_VALUE: usize = 2000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppOverride {
    pub id: String,
    pub name: String,
    /// App slug.
    pub app: String,
    #[serde(default)]
    pub oauth_app_id: Option<String>,
    #[serde(default)]
    pub cfmap: Map<String, Value>,
    pub created_at: u64,
    pub updated_at: u64,
}

/// Create (`app` and `name` required) or update (all optional;
/// `oauth_app_id: Some(None)` clears it).
#[derive(Debug, Clone, Default)]
pub struct AppOverrideInput {
    pub app: Option<String>,
    pub name: Option<String>,
    pub oauth_app_id: Option<Option<String>>,
    pub cfmap: Option<Map<String, Value>>,
}

fn name_key(project: &str, name: &str) -> crate::store::Key {
    records::app_override_name(project, &sha256_hex(name.as_bytes()))
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME {
        return Err(invalid(format!("name must be 1 to {MAX_NAME} characters")));
    }
    Ok(())
}

/// The predefined values, each checked like an entered one; secret fields
/// are refused by name.
pub(crate) fn check_cfmap(app: &App, raw: Map<String, Value>) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (k, v) in raw {
        let Some(field) = app.auth.fields.iter().find(|f| f.name == k) else {
            let known: Vec<&str> = app.auth.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(invalid(format!(
                "cfmap has unknown field {k:?}; {} takes {known:?}",
                app.name_slug
            )));
        };
        if field.secret {
            return Err(invalid(format!(
                "cfmap field {k:?} is secret: an override may predefine only non-secret fields"
            )));
        }
        let s = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            _ => return Err(invalid(format!("cfmap field {k:?} must be a string"))),
        };
        if s.is_empty() || s.len() > MAX_VALUE {
            return Err(invalid(format!(
                "cfmap field {k:?} must be 1 to {MAX_VALUE} bytes"
            )));
        }
        field
            .check_value(&s)
            .map_err(|e| invalid(format!("cfmap field {k:?}: {e}")))?;
        out.insert(k, Value::String(s));
    }
    Ok(out)
}

/// What a connect link (or the page's forms) asks for besides the app:
/// Pipedream's `appOverrideId` and `oauthAppId`. Never trusted as given:
/// `Accounts::resolve_choice` looks both up in the project.
#[derive(Debug, Clone, Default)]
pub struct ConnectChoice {
    pub app_override_id: Option<String>,
    pub oauth_app_id: Option<String>,
}

/// A `ConnectChoice` checked against the project and the app.
#[derive(Debug, Clone, Default)]
pub struct ResolvedChoice {
    pub app_override: Option<AppOverride>,
    /// The OAuth client to use: the asked one, else the override's; `None`
    /// is the project's default.
    pub oauth_app_id: Option<String>,
}

impl ResolvedChoice {
    /// The override's predefined field values (the end user cannot change them).
    pub fn predefined(&self) -> Map<String, Value> {
        self.app_override
            .as_ref()
            .map(|o| o.cfmap.clone())
            .unwrap_or_default()
    }

    /// `entered` with the predefined values laid over it.
    pub fn apply(&self, entered: Map<String, Value>) -> Map<String, Value> {
        let mut out = entered;
        out.extend(self.predefined());
        out
    }
}

impl Accounts {
    /// Checks a connect link's override and OAuth client: each must be the
    /// project's (another project's reads as unknown) and of `app`; an
    /// asked OAuth client must agree with the override's, if it names one.
    pub async fn resolve_choice(
        &self,
        project: &str,
        app: &App,
        choice: &ConnectChoice,
    ) -> Result<ResolvedChoice> {
        let app_override = match choice.app_override_id.as_deref() {
            Some(id) => {
                crate::validate::id("app_override_id", id)?;
                let o = self.get_app_override(project, id).await.map_err(|_| {
                    invalid(format!(
                        "app_override_id {id:?} is not an app override of this project"
                    ))
                })?;
                if o.app != app.name_slug {
                    return Err(invalid(format!(
                        "app override {id} is for {}, not {}",
                        o.app, app.name_slug
                    )));
                }
                Some(o)
            }
            None => None,
        };
        let pinned = app_override.as_ref().and_then(|o| o.oauth_app_id.clone());
        let oauth_app_id = match choice.oauth_app_id.as_deref() {
            Some(id) => {
                crate::validate::id("oauth_app_id", id)?;
                self.check_oauth_app(project, app, id).await?;
                if pinned.as_deref().is_some_and(|p| p != id) {
                    return Err(invalid(format!(
                        "oauth_app_id {id:?} conflicts with the app override's OAuth client"
                    )));
                }
                Some(id.to_string())
            }
            None => pinned,
        };
        Ok(ResolvedChoice {
            app_override,
            oauth_app_id,
        })
    }

    /// `resolve_choice` where the app may be left out (`tokens/validate`):
    /// then it is the override's app, else the asked OAuth client's.
    pub async fn resolve_choice_for(
        &self,
        project: &str,
        app: Option<&str>,
        choice: &ConnectChoice,
    ) -> Result<(Option<App>, ResolvedChoice)> {
        let unknown = |what: &str, id: &str| {
            invalid(format!("{what} {id:?} is not an {what} of this project"))
        };
        let slug = match (app, &choice.app_override_id, &choice.oauth_app_id) {
            (Some(a), _, _) => a.to_string(),
            (None, Some(id), _) => {
                crate::validate::id("app_override_id", id)?;
                self.get_app_override(project, id)
                    .await
                    .map_err(|_| unknown("app override", id))?
                    .app
            }
            (None, None, Some(id)) => {
                crate::validate::id("oauth_app_id", id)?;
                self.get_oauth_app(project, id)
                    .await
                    .map_err(|_| unknown("OAuth app", id))?
                    .app
            }
            (None, None, None) => return Ok((None, ResolvedChoice::default())),
        };
        let app = self.app(&slug)?.clone();
        let resolved = self.resolve_choice(project, &app, choice).await?;
        Ok((Some(app), resolved))
    }

    /// `cfmap_json` with the override's predefined fields laid over it (an
    /// end user cannot change them). The override must be of `app` and
    /// select no OAuth client: those connect through the OAuth flow.
    pub(crate) async fn with_override(
        &self,
        project: &str,
        app: &App,
        id: &str,
        cfmap_json: &str,
    ) -> Result<String> {
        let choice = ConnectChoice {
            app_override_id: Some(id.to_string()),
            oauth_app_id: None,
        };
        let resolved = self.resolve_choice(project, app, &choice).await?;
        if resolved.oauth_app_id.is_some() {
            return Err(invalid(format!(
                "app override {id} selects an OAuth client: connect through the OAuth flow (the connect link with appOverrideId)"
            )));
        }
        let raw: Map<String, Value> = serde_json::from_str(cfmap_json).map_err(|e| {
            invalid(format!(
                "cfmap_json must be a JSON object encoded as a string: {e}"
            ))
        })?;
        Ok(Value::Object(resolved.apply(raw)).to_string())
    }

    /// The OAuth client an override selects: one of the project's, of the
    /// override's app.
    async fn check_oauth_app(&self, project: &str, app: &App, id: &str) -> Result<()> {
        if app.auth.kind != AuthType::Oauth {
            return Err(invalid(format!(
                "{} does not use OAuth: an override of it cannot select an oauth_app_id",
                app.name_slug
            )));
        }
        let oa = self.get_oauth_app(project, id).await.map_err(|_| {
            invalid(format!(
                "oauth_app_id {id:?} is not an OAuth app of this project"
            ))
        })?;
        if oa.app != app.name_slug {
            return Err(invalid(format!(
                "oauth_app_id {id:?} is an OAuth app of {}, not {}",
                oa.app, app.name_slug
            )));
        }
        Ok(())
    }

    pub async fn create_app_override(
        &self,
        caller: &Caller,
        project: &str,
        input: AppOverrideInput,
    ) -> Result<AppOverride> {
        caller.require_all_environments("creating an app override")?;
        let app = self
            .app(
                input
                    .app
                    .as_deref()
                    .ok_or_else(|| invalid("app is required"))?,
            )?
            .clone();
        let name = input.name.ok_or_else(|| invalid("name is required"))?;
        check_name(&name)?;
        let oauth_app_id = input.oauth_app_id.flatten();
        if let Some(id) = &oauth_app_id {
            self.check_oauth_app(project, &app, id).await?;
        }
        let cfmap = check_cfmap(&app, input.cfmap.unwrap_or_default())?;
        let index = records::app_overrides_index(project);
        let have = self.count_up_to(&index, MAX_OVERRIDES).await?;
        if crate::context::over_quota(have, MAX_OVERRIDES) {
            return Err(crate::context::quota_exceeded(
                "app overrides per project",
                "app_overrides",
                MAX_OVERRIDES,
            ));
        }
        let id = new_id("ao");
        if !self
            .store
            .put_if_absent(&name_key(project, &name), id.clone().into_bytes(), None)
            .await?
        {
            return Err(crate::error::Error::Unprocessable(format!(
                "an app override named {name:?} exists"
            )));
        }
        let now = now_ms();
        let rec = AppOverride {
            id: id.clone(),
            name,
            app: app.name_slug.clone(),
            oauth_app_id,
            cfmap,
            created_at: now,
            updated_at: now,
        };
        self.store
            .commit(vec![
                records::put(records::app_override(project, &id), &rec),
                records::index_add(index, &id),
                records::index_add(records::app_overrides_by_app(project, &rec.app), &id),
            ])
            .await?;
        Ok(rec)
    }

    pub async fn get_app_override(&self, project: &str, id: &str) -> Result<AppOverride> {
        self.read(&records::app_override(project, id))
            .await?
            .ok_or_else(|| not_found(format!("app override {id:?} not found")))
    }

    pub async fn list_app_overrides(
        &self,
        project: &str,
        app: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AppOverride>> {
        let index = match app {
            Some(a) => records::app_overrides_by_app(project, &self.app(a)?.name_slug),
            None => records::app_overrides_index(project),
        };
        let ids = page.page_ids(self.store.as_ref(), &index).await?;
        let keys: Vec<_> = ids
            .data
            .iter()
            .map(|id| records::app_override(project, id))
            .collect();
        let mut data = Vec::with_capacity(keys.len());
        for raw in self.store.get_many(&keys).await?.into_iter().flatten() {
            data.push(records::from_bytes(&raw)?);
        }
        Ok(Page {
            data,
            total_count: ids.total_count,
            start_cursor: ids.start_cursor,
            end_cursor: ids.end_cursor,
        })
    }

    pub async fn update_app_override(
        &self,
        caller: &Caller,
        project: &str,
        id: &str,
        input: AppOverrideInput,
    ) -> Result<AppOverride> {
        caller.require_all_environments("changing an app override")?;
        let mut rec = self.get_app_override(project, id).await?;
        let app = self.app(&rec.app)?.clone();
        if input
            .app
            .as_deref()
            .is_some_and(|a| self.app(a).map(|x| x.name_slug != rec.app).unwrap_or(true))
        {
            return Err(invalid(
                "an app override's app cannot change; create a new one",
            ));
        }
        if let Some(o) = input.oauth_app_id {
            if let Some(oa) = &o {
                self.check_oauth_app(project, &app, oa).await?;
            }
            rec.oauth_app_id = o;
        }
        if let Some(c) = input.cfmap {
            rec.cfmap = check_cfmap(&app, c)?;
        }
        let mut ops = Vec::new();
        if let Some(name) = input.name.filter(|n| *n != rec.name) {
            check_name(&name)?;
            if !self
                .store
                .put_if_absent(&name_key(project, &name), id.as_bytes().to_vec(), None)
                .await?
            {
                return Err(crate::error::Error::Unprocessable(format!(
                    "an app override named {name:?} exists"
                )));
            }
            ops.push(Op::Delete(name_key(project, &rec.name)));
            rec.name = name;
        }
        rec.updated_at = now_ms();
        ops.insert(0, records::put(records::app_override(project, id), &rec));
        self.store.commit(ops).await?;
        Ok(rec)
    }

    pub async fn delete_app_override(
        &self,
        caller: &Caller,
        project: &str,
        id: &str,
    ) -> Result<()> {
        caller.require_all_environments("deleting an app override")?;
        let rec = self.get_app_override(project, id).await?;
        self.store
            .commit(vec![
                Op::Delete(records::app_override(project, id)),
                Op::Delete(name_key(project, &rec.name)),
                records::index_remove(records::app_overrides_index(project), id),
                records::index_remove(records::app_overrides_by_app(project, &rec.app), id),
            ])
            .await?;
        Ok(())
    }
}
