//! OAuth clients a project registers per app ("bring your own client"). The
//! client secret, and the optional signing secret of the app's events (for
//! app-level triggers), are sealed at rest and never returned. Each OAuth app
//! has an app-level ingress URL per environment,
//! `<public_url>/hooks/apps/<ingress id>/<environment>`.

use serde::{Deserialize, Serialize};

use super::Accounts;
use crate::clock::now_ms;
use crate::error::{Result, invalid, not_found};
use crate::ids::new_id;
use crate::paging::{Page, PageRequest, all_members};
use crate::records;
use crate::store::Op;
use crate::tenancy::auth::Caller;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthApp {
    pub id: String,
    /// App slug.
    pub app: String,
    pub client_id: String,
    /// Sealed; see `crypto`.
    pub client_secret: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Sealed; the secret the provider signs its app-level events with
    /// (Slack's "Signing Secret").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    /// 160 random bits: the unguessable part of the app-level ingress URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_id: Option<String>,
    pub created_at: u64,
    pub updated_at: u64,
}

#[derive(Debug, Clone, Default)]
pub struct OAuthAppInput {
    pub app: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub signing_secret: Option<String>,
}

/// Where an app-level ingress id leads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppIngressRoute {
    pub project_id: String,
    pub oauth_app_id: String,
}

fn aad(project: &str, id: &str) -> String {
    format!("oauth_app:{project}:{id}")
}

/// Its own AAD, so the two sealed secrets cannot be swapped.
/// 160 random bits, base62: the unguessable part of an app-level ingress URL.
pub(crate) fn new_ingress_id() -> String {
    crate::ids::random_base62(crate::validate::HOOK_ID_LEN)
}

fn signing_aad(project: &str, id: &str) -> String {
    format!("oauth_app_signing:{project}:{id}")
}

fn text(field: &str, v: &str, max: usize) -> Result<()> {
    if v.trim().is_empty() || v.len() > max {
        return Err(invalid(format!("{field} must be 1 to {max} characters")));
    }
    Ok(())
}

impl Accounts {
    /// The apps linked to a project (`projects/info`): those it has an
    /// OAuth app for, by slug. Accounts are per environment and use the
    /// catalog's apps as they are, so they do not link an app.
    pub async fn linked_apps(&self, id: &str) -> Result<Vec<String>> {
        let ids = all_members(self.store.as_ref(), &records::oauth_apps_index(id)).await?;
        let keys: Vec<_> = ids.iter().map(|a| records::oauth_app(id, a)).collect();
        let mut slugs = Vec::new();
        for raw in self.store.get_many(&keys).await?.into_iter().flatten() {
            let app: OAuthApp = records::from_bytes(&raw)?;
            slugs.push(app.app);
        }
        slugs.sort();
        slugs.dedup();
        Ok(slugs)
    }

    /// OAuth apps are project-wide (as in Pipedream): one record serves
    /// both environments, so only a caller valid in every environment may
    /// create, change or delete one (reads are not restricted).
    pub async fn create_oauth_app(
        &self,
        caller: &Caller,
        project: &str,
        input: OAuthAppInput,
    ) -> Result<OAuthApp> {
        caller.require_all_environments("creating an OAuth app")?;
        let app_ref = input
            .app
            .as_deref()
            .ok_or_else(|| invalid("app is required"))?;
        let app = self.app(app_ref)?;
        if app.auth.kind != switchboard_components::AuthType::Oauth {
            return Err(invalid(format!("{} does not use OAuth", app.name_slug)));
        }
        let client_id = input
            .client_id
            .ok_or_else(|| invalid("client_id is required"))?;
        let secret = input
            .client_secret
            .ok_or_else(|| invalid("client_secret is required"))?;
        text("client_id", &client_id, 500)?;
        text("client_secret", &secret, 2000)?;
        if let Some(s) = &input.signing_secret {
            text("signing_secret", s, 2000)?;
        }
        let id = new_id("oa");
        let now = now_ms();
        let ingress_id = new_ingress_id();
        let rec = OAuthApp {
            id: id.clone(),
            app: app.name_slug.clone(),
            client_id,
            client_secret: self.keyring.seal(secret.as_bytes(), &aad(project, &id)),
            name: input.name,
            description: input.description,
            scopes: input.scopes.unwrap_or_default(),
            signing_secret: input
                .signing_secret
                .map(|s| self.keyring.seal(s.as_bytes(), &signing_aad(project, &id))),
            ingress_id: Some(ingress_id.clone()),
            created_at: now,
            updated_at: now,
        };
        let route = AppIngressRoute {
            project_id: project.to_string(),
            oauth_app_id: id.clone(),
        };
        self.store
            .commit(vec![
                records::put(records::oauth_app(project, &id), &rec),
                records::index_add(records::oauth_apps_index(project), &id),
                records::index_add(records::oauth_apps_by_app(project, &rec.app), &id),
                records::put(records::app_ingress(&ingress_id), &route),
            ])
            .await?;
        Ok(rec)
    }

    pub async fn get_oauth_app(&self, project: &str, id: &str) -> Result<OAuthApp> {
        self.read(&records::oauth_app(project, id))
            .await?
            .ok_or_else(|| not_found(format!("oauth app {id:?} not found")))
    }

    pub async fn list_oauth_apps(
        &self,
        project: &str,
        app: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<OAuthApp>> {
        let index = match app {
            Some(a) => records::oauth_apps_by_app(project, &self.app(a)?.name_slug),
            None => records::oauth_apps_index(project),
        };
        let ids = page.page_ids(self.store.as_ref(), &index).await?;
        let mut data = Vec::new();
        for id in &ids.data {
            if let Some(a) = self
                .read::<OAuthApp>(&records::oauth_app(project, id))
                .await?
            {
                data.push(a);
            }
        }
        Ok(Page {
            data,
            total_count: ids.total_count,
            start_cursor: ids.start_cursor,
            end_cursor: ids.end_cursor,
        })
    }

    pub async fn update_oauth_app(
        &self,
        caller: &Caller,
        project: &str,
        id: &str,
        input: OAuthAppInput,
    ) -> Result<OAuthApp> {
        caller.require_all_environments("changing an OAuth app")?;
        let mut rec = self.get_oauth_app(project, id).await?;
        if input
            .app
            .as_deref()
            .is_some_and(|a| self.app(a).map(|x| x.name_slug != rec.app).unwrap_or(true))
        {
            return Err(invalid(
                "an oauth app's app cannot change; create a new one",
            ));
        }
        if let Some(c) = input.client_id {
            text("client_id", &c, 500)?;
            rec.client_id = c;
        }
        if let Some(s) = input.client_secret {
            text("client_secret", &s, 2000)?;
            rec.client_secret = self.keyring.seal(s.as_bytes(), &aad(project, id));
        }
        if input.name.is_some() {
            rec.name = input.name;
        }
        if input.description.is_some() {
            rec.description = input.description;
        }
        if let Some(s) = input.scopes {
            rec.scopes = s;
        }
        if let Some(s) = input.signing_secret {
            text("signing_secret", &s, 2000)?;
            rec.signing_secret = Some(self.keyring.seal(s.as_bytes(), &signing_aad(project, id)));
        }
        let mut ops = Vec::new();
        // OAuth apps made before app-level ingress existed get their URL now.
        if rec.ingress_id.is_none() {
            let ingress_id = new_ingress_id();
            let route = AppIngressRoute {
                project_id: project.to_string(),
                oauth_app_id: id.to_string(),
            };
            ops.push(records::put(records::app_ingress(&ingress_id), &route));
            rec.ingress_id = Some(ingress_id);
        }
        rec.updated_at = now_ms();
        ops.insert(0, records::put(records::oauth_app(project, id), &rec));
        self.store.commit(ops).await?;
        Ok(rec)
    }

    pub async fn delete_oauth_app(&self, caller: &Caller, project: &str, id: &str) -> Result<()> {
        caller.require_all_environments("deleting an OAuth app")?;
        let rec = self.get_oauth_app(project, id).await?;
        let mut ops = vec![
            Op::Delete(records::oauth_app(project, id)),
            records::index_remove(records::oauth_apps_index(project), id),
            records::index_remove(records::oauth_apps_by_app(project, &rec.app), id),
        ];
        if let Some(i) = &rec.ingress_id {
            ops.push(Op::Delete(records::app_ingress(i)));
        }
        self.store.commit(ops).await?;
        Ok(())
    }

    /// Re-seals every OAuth app secret of a project under `active`; returns
    /// (re-encrypted, already current).
    pub(crate) async fn reencrypt_oauth_apps(
        &self,
        project: &str,
        active: &str,
    ) -> Result<(u64, u64)> {
        let ids = self
            .store
            .index_range(
                &records::oauth_apps_index(project),
                &crate::store::IndexRange {
                    limit: 10_000,
                    ..Default::default()
                },
            )
            .await?;
        let (mut done, mut current) = (0, 0);
        for id in ids {
            let mut rec = self.get_oauth_app(project, &id).await?;
            let signing_current = rec
                .signing_secret
                .as_deref()
                .is_none_or(|s| crate::crypto::key_id_of(s) == Some(active));
            if crate::crypto::key_id_of(&rec.client_secret) == Some(active) && signing_current {
                current += 1;
                continue;
            }
            let plain = self.keyring.open(&rec.client_secret, &aad(project, &id))?;
            rec.client_secret = self.keyring.seal(&plain, &aad(project, &id));
            if let Some(s) = &rec.signing_secret {
                let plain = self.keyring.open(s, &signing_aad(project, &id))?;
                rec.signing_secret = Some(self.keyring.seal(&plain, &signing_aad(project, &id)));
            }
            self.store
                .commit(vec![records::put(records::oauth_app(project, &id), &rec)])
                .await?;
            done += 1;
        }
        Ok((done, current))
    }

    /// The client that issued an account's tokens (`pinned`), else the
    /// newest one registered for the app, with its secret opened.
    /// The project's OAuth client for `app` (the pinned one, else the
    /// newest): its id, client id and opened secret.
    pub(crate) async fn oauth_client(
        &self,
        project: &str,
        app: &str,
        pinned: Option<&str>,
    ) -> Result<Option<(String, String, String)>> {
        let id = match pinned {
            Some(id) => id.to_string(),
            None => {
                let ids = self
                    .store
                    .index_range(
                        &records::oauth_apps_by_app(project, app),
                        &crate::store::IndexRange {
                            limit: 1000,
                            ..Default::default()
                        },
                    )
                    .await?;
                let Some(id) = ids.last() else {
                    return Ok(None);
                };
                id.clone()
            }
        };
        let rec = self.get_oauth_app(project, &id).await?;
        let secret = self.keyring.open(&rec.client_secret, &aad(project, &id))?;
        Ok(Some((
            id,
            rec.client_id,
            String::from_utf8_lossy(&secret).into_owned(),
        )))
    }
}

impl Accounts {
    /// The OAuth app's signing secret, opened; `None` when not set.
    pub(crate) fn oauth_app_signing_secret(
        &self,
        project: &str,
        rec: &OAuthApp,
    ) -> Result<Option<String>> {
        rec.signing_secret
            .as_deref()
            .map(|s| {
                let plain = self.keyring.open(s, &signing_aad(project, &rec.id))?;
                Ok(String::from_utf8_lossy(&plain).into_owned())
            })
            .transpose()
    }

    /// The OAuth app's app-level ingress URL in one environment, when its
    /// app has app-level triggers.
    pub fn app_ingress_url(
        &self,
        rec: &OAuthApp,
        env: crate::model::Environment,
    ) -> Option<String> {
        let id = rec.ingress_id.as_deref()?;
        if self.catalog.app_webhook_triggers(&rec.app).is_empty() {
            return None;
        }
        Some(format!(
            "{}/hooks/apps/{id}/{}",
            self.settings.public_base,
            env.as_str()
        ))
    }

    /// Where a tenant's events for `app` come in: the ingress URL of the
    /// project's newest OAuth app for it that has a signing secret (else
    /// its newest one).
    pub async fn app_ingress_url_for(
        &self,
        t: &crate::model::Tenant,
        app: &str,
    ) -> Result<Option<String>> {
        let ids = self
            .store
            .index_range(
                &records::oauth_apps_by_app(&t.project_id, app),
                &crate::store::IndexRange {
                    limit: 1000,
                    ..Default::default()
                },
            )
            .await?;
        let mut fallback = None;
        for id in ids.iter().rev() {
            let Some(rec) = self
                .read::<OAuthApp>(&records::oauth_app(&t.project_id, id))
                .await?
            else {
                continue;
            };
            if rec.signing_secret.is_some() {
                return Ok(self.app_ingress_url(&rec, t.env));
            }
            fallback.get_or_insert(rec);
        }
        Ok(fallback.and_then(|rec| self.app_ingress_url(&rec, t.env)))
    }
}
