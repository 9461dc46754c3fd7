//! Connected accounts: listing, retrieval, key-based creation (and
//! reconnection), deletion. Credentials are sealed with the keyring and bound
//! by AAD to their tenant and account id.

use crate::usage::Metric;
use serde_json::{Map, Value};
use switchboard_components::{App, AuthType};

use super::Accounts;
use crate::clock::now_ms;
use crate::error::{Error, Result, invalid, not_found};
use crate::ids::new_id;
use crate::model::{Account, ExternalUser, Tenant};
use crate::paging::{Page, PageRequest};
use crate::records;
use crate::store::{IndexRange, Key, Op};
use crate::tenancy::auth::Caller;

/// An account as callers see it: the record, its app, and (on request, for
/// server callers only) the decrypted credentials.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub account: Account,
    pub app: App,
    pub credentials: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// App id or slug.
    pub app: Option<String>,
    pub external_user_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewKeyAccount {
    pub app_slug: String,
    pub cfmap_json: String,
    pub connect_token: String,
    pub name: Option<String>,
    /// Reconnect: replace the credentials of this account.
    pub account_id: Option<String>,
    /// If given, must match the connect token's user.
    pub external_user_id: Option<String>,
    /// Server callers may import OAuth tokens obtained elsewhere.
    pub allow_token_import: bool,
    /// An app override whose predefined fields win over `cfmap_json`.
    pub app_override_id: Option<String>,
}

/// Credential fields an imported OAuth account may carry.
const OAUTH_FIELDS: &[&str] = &[
    "oauth_access_token",
    "oauth_refresh_token",
    "oauth_token_secret",
    "oauth_uid",
    "oauth_app_id",
    "expires_in",
];

/// Reads imported OAuth tokens (or the app's alternative key fields, such
/// as a GitHub PAT); returns the fields and when the access token expires.
fn oauth_import_fields(app: &App, cfmap_json: &str) -> Result<(Map<String, Value>, Option<u64>)> {
    let raw: Map<String, Value> = serde_json::from_str(cfmap_json).map_err(|e| {
        invalid(format!(
            "cfmap_json must be a JSON object encoded as a string: {e}"
        ))
    })?;
    let mut out = Map::new();
    let mut expires_at = None;
    for (k, v) in raw {
        let known =
            OAUTH_FIELDS.contains(&k.as_str()) || app.auth.fields.iter().any(|f| f.name == k);
        if !known {
            return Err(invalid(format!(
                "cfmap_json has unknown field {k:?}; an imported {} account takes {OAUTH_FIELDS:?} or {:?}",
                app.name_slug,
                app.auth
                    .fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
            )));
        }
        if k == "expires_in" {
            let secs = v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .filter(|s| *s <= crate::accounts::refresh::MAX_EXPIRES_IN_SECS)
                .ok_or_else(|| {
                    invalid("cfmap_json expires_in must be a number of seconds, at most 10 years")
                })?;
            expires_at = Some(now_ms() + secs * 1000);
            continue;
        }
        match v {
            Value::String(s) if !s.is_empty() => {
                // An imported account's fields obey the same rules as
                // entered ones.
                if let Some(f) = app.auth.fields.iter().find(|f| f.name == k) {
                    f.check_value(&s)
                        .map_err(|e| invalid(format!("cfmap_json field {k:?}: {e}")))?;
                }
                out.insert(k, Value::String(s));
            }
            Value::Null => {}
            Value::String(_) => {}
            _ => return Err(invalid(format!("cfmap_json field {k:?} must be a string"))),
        }
    }
    let has_key = app.auth.fields.iter().any(|f| out.contains_key(&f.name));
    if !out.contains_key("oauth_access_token") && !has_key {
        return Err(invalid(format!(
            "cfmap_json needs oauth_access_token (or one of {:?}) to import a {} account",
            app.auth
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>(),
            app.name_slug
        )));
    }
    Ok((out, expires_at))
}

pub(crate) fn aad(t: &Tenant, id: &str) -> String {
    format!("acct:{}:{}:{}", t.project_id, t.env.as_str(), id)
}

fn account_indexes(t: &Tenant, a: &Account) -> [Key; 4] {
    [
        records::accounts_index(t),
        records::accounts_by_user(t, &a.external_user_id),
        records::accounts_by_app(t, &a.app),
        records::accounts_by_user_app(t, &a.external_user_id, &a.app),
    ]
}

/// Checks the entered fields against the app's field definitions.
fn credential_fields(app: &App, cfmap_json: &str) -> Result<Map<String, Value>> {
    let raw: Map<String, Value> = serde_json::from_str(cfmap_json).map_err(|e| {
        invalid(format!(
            "cfmap_json must be a JSON object encoded as a string: {e}"
        ))
    })?;
    check_fields(app, raw)
}

/// The one rule for entered account fields (the API, the hosted page's key
/// form and the fields asked before OAuth): known names, strings, each
/// value checked by `CustomField::check_value` (pattern; host characters
/// for a host field), defaults filled, required ones present.
pub(crate) fn check_fields(app: &App, raw: Map<String, Value>) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (k, v) in raw {
        let Some(field) = app.auth.fields.iter().find(|f| f.name == k) else {
            let known: Vec<&str> = app.auth.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(invalid(format!(
                "cfmap_json has unknown field {k:?}; {} takes {known:?}",
                app.name_slug
            )));
        };
        let s = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            _ => return Err(invalid(format!("cfmap_json field {k:?} must be a string"))),
        };
        if !s.is_empty() {
            // The field's pattern, and for a field that lands in a URL's
            // host, host characters only: a value cannot move the host.
            field
                .check_value(&s)
                .map_err(|e| invalid(format!("cfmap_json field {k:?}: {e}")))?;
            out.insert(field.name.clone(), Value::String(s));
        }
    }
    let mut missing = Vec::new();
    for f in &app.auth.fields {
        if !out.contains_key(&f.name) {
            match &f.default {
                Some(d) => {
                    out.insert(f.name.clone(), Value::String(d.clone()));
                }
                None if !f.optional => missing.push(f.name.as_str()),
                None => {}
            }
        }
    }
    if !missing.is_empty() {
        return Err(invalid(format!(
            "cfmap_json is missing required fields {missing:?}"
        )));
    }
    Ok(out)
}

impl Accounts {
    fn view(&self, t: &Tenant, account: Account, include_credentials: bool) -> Result<AccountView> {
        let app =
            self.catalog.get(&account.app).cloned().ok_or_else(|| {
                Error::Internal(format!("account {} has unknown app", account.id))
            })?;
        let credentials = if include_credentials {
            let plain = self
                .keyring
                .open(&account.credentials, &aad(t, &account.id))?;
            Some(
                serde_json::from_slice(&plain)
                    .map_err(|e| Error::internal_from("credentials", e))?,
            )
        } else {
            None
        };
        Ok(AccountView {
            account,
            app,
            credentials,
        })
    }

    async fn load_accounts(&self, t: &Tenant, ids: &[String]) -> Result<Vec<Account>> {
        let keys: Vec<Key> = ids.iter().map(|id| records::account(t, id)).collect();
        let mut out = Vec::with_capacity(ids.len());
        for raw in self.store.get_many(&keys).await?.into_iter().flatten() {
            out.push(records::from_bytes(&raw)?);
        }
        Ok(out)
    }

    /// Counts account reads and deletes: a server caller against the
    /// per-project limit, an end user (connect token) against her own
    /// bucket, so no end user can spend the customer's server budget.
    pub async fn account_rate_limit(&self, caller: &Caller, t: &Tenant) -> Result<()> {
        match caller.bound_user() {
            None => {
                self.rate_limit(
                    &format!("acct:{}:{}", t.project_id, t.env.as_str()),
                    self.settings.accounts_per_project_per_5min,
                    300,
                    "account requests per project",
                )
                .await
            }
            Some(user) => {
                self.rate_limit(
                    &crate::ratelimit::end_user_bucket("acct", t, user),
                    self.settings.accounts_per_user_per_5min,
                    300,
                    "account requests per end user",
                )
                .await
            }
        }
    }

    pub async fn list_accounts(
        &self,
        t: &Tenant,
        filter: &AccountFilter,
        page: &PageRequest,
        include_credentials: bool,
    ) -> Result<Page<AccountView>> {
        let app = filter.app.as_deref().map(|a| self.app(a)).transpose()?;
        let index = match (&filter.external_user_id, app) {
            (Some(u), Some(a)) => records::accounts_by_user_app(t, u, &a.name_slug),
            (Some(u), None) => records::accounts_by_user(t, u),
            (None, Some(a)) => records::accounts_by_app(t, &a.name_slug),
            (None, None) => records::accounts_index(t),
        };
        let ids = page.page_ids(self.store.as_ref(), &index).await?;
        let accounts = self.load_accounts(t, &ids.data).await?;
        let data = accounts
            .into_iter()
            .map(|a| self.view(t, a, include_credentials))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            data,
            total_count: ids.total_count,
            start_cursor: ids.start_cursor,
            end_cursor: ids.end_cursor,
        })
    }

    /// Every account of the tenant with its credentials opened, for a move
    /// to another system. Callers must be server credentials; the export is
    /// audited in the log (who, which tenant, how many), never the secrets.
    pub async fn export_accounts(&self, t: &Tenant, by: &str) -> Result<Vec<AccountView>> {
        let ids =
            crate::paging::all_members(self.store.as_ref(), &records::accounts_index(t)).await?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            for a in self.load_accounts(t, chunk).await? {
                out.push(self.view(t, a, true)?);
            }
        }
        tracing::warn!(
            audit = "credentials_export",
            project = %t.project_id,
            environment = t.env.as_str(),
            by,
            accounts = out.len(),
            "account credentials exported"
        );
        Ok(out)
    }

    pub async fn get_account(
        &self,
        t: &Tenant,
        id: &str,
        bound_user: Option<&str>,
        include_credentials: bool,
    ) -> Result<AccountView> {
        let account: Account = self
            .read(&records::account(t, id))
            .await?
            .filter(|a: &Account| bound_user.is_none_or(|u| u == a.external_user_id))
            .ok_or_else(|| not_found(format!("account {id:?} not found")))?;
        self.view(t, account, include_credentials)
    }

    /// `users/{id}/accounts`: every account of one user (bare array).
    pub async fn user_accounts(
        &self,
        t: &Tenant,
        ext: &str,
        app: Option<&str>,
        include_credentials: bool,
    ) -> Result<Vec<AccountView>> {
        let index = match app {
            Some(a) => records::accounts_by_user_app(t, ext, &self.app(a)?.name_slug),
            None => records::accounts_by_user(t, ext),
        };
        let ids = self
            .store
            .index_range(
                &index,
                &IndexRange {
                    limit: 1000,
                    ..Default::default()
                },
            )
            .await?;
        self.load_accounts(t, &ids)
            .await?
            .into_iter()
            .map(|a| self.view(t, a, include_credentials))
            .collect()
    }

    /// `POST accounts`: a key-based account, created with a connect token
    /// that is spent in the process.
    pub async fn create_key_account(&self, t: &Tenant, req: NewKeyAccount) -> Result<AccountView> {
        if req.connect_token.is_empty() {
            return Err(invalid("connect_token is required"));
        }
        let token = self
            .tenancy
            .live_connect_token(&req.connect_token)
            .await
            .map_err(|e| match e {
                Error::Unauthorized(m) => invalid(m),
                e => e,
            })?;
        if token.tenant.project_id != t.project_id {
            return Err(Error::Forbidden(
                "connect_token belongs to another project".into(),
            ));
        }
        if token.tenant.env != t.env {
            return Err(invalid(format!(
                "connect_token belongs to the {} environment",
                token.tenant.env.as_str()
            )));
        }
        let ext = token.external_user_id.clone();
        if let Some(q) = &req.external_user_id
            && *q != ext
        {
            return Err(invalid(
                "external_user_id does not match the connect token's user",
            ));
        }
        self.tenancy.check_user_live(t, &ext).await?;
        if req.account_id.is_none() {
            let max = self.settings.quotas.accounts_per_user;
            let have = self
                .count_up_to(&records::accounts_by_user(t, &ext), max)
                .await?;
            if crate::context::over_quota(have, max) {
                return Err(crate::context::quota_exceeded(
                    "accounts per external user",
                    "accounts_per_user",
                    max,
                ));
            }
        }
        let app = self.app(&req.app_slug)?.clone();
        let cfmap_json = match &req.app_override_id {
            Some(id) => {
                self.with_override(&t.project_id, &app, id, &req.cfmap_json)
                    .await?
            }
            None => req.cfmap_json.clone(),
        };
        let (mut fields, mut expires_at) = match app.auth.kind {
            AuthType::Keys | AuthType::Basic => (credential_fields(&app, &cfmap_json)?, None),
            AuthType::Oauth if req.allow_token_import => oauth_import_fields(&app, &cfmap_json)?,
            AuthType::Oauth => {
                return Err(invalid(format!(
                    "{} uses OAuth: connect it through the connect link (server callers may import tokens with cfmap_json)",
                    app.name_slug
                )));
            }
            AuthType::None => {
                return Err(invalid(format!("{} needs no account", app.name_slug)));
            }
        };
        if let Some(n) = &req.name
            && n.chars().count() > 200
        {
            return Err(invalid("name must be at most 200 characters"));
        }
        // A credential exchange (client credentials, key for token) runs
        // before anything is saved: a refusal saves nothing.
        if app.auth.token_exchange.is_some()
            && matches!(app.auth.kind, AuthType::Keys | AuthType::Basic)
        {
            match self.exchange_credentials(&app, &fields).await {
                Ok((tokens, expires_in)) => {
                    fields.extend(tokens);
                    expires_at = expires_in.map(|s| {
                        now_ms().saturating_add(
                            s.min(crate::accounts::refresh::MAX_EXPIRES_IN_SECS) * 1000,
                        )
                    });
                }
                Err(r) => {
                    let definitive = matches!(r, crate::accounts::refresh::Refusal::Definitive(_));
                    let msg = r.into_error().to_string();
                    self.connection_error(&req.connect_token, &token, &msg)
                        .await?;
                    return Err(if definitive {
                        invalid(msg)
                    } else {
                        Error::Upstream(msg)
                    });
                }
            }
        }
        let must_verify = matches!(app.auth.kind, AuthType::Keys | AuthType::Basic)
            && self
                .tenancy
                .project(&t.project_id)
                .await?
                .is_some_and(|p| p.connect_require_key_auth_test);
        if must_verify {
            let mut s = switchboard_components::runtime::Session::new(
                &self.outbound,
                &app,
                Some(fields.clone()),
                None,
                std::time::Duration::from_secs(15),
            );
            if let Err(why) = switchboard_components::runtime::verify(&mut s).await {
                let msg = format!("the credentials did not work: {why}");
                self.connection_error(&req.connect_token, &token, &msg)
                    .await?;
                return Err(invalid(msg));
            }
        }
        let now = now_ms();
        let existing = match &req.account_id {
            Some(id) => {
                let a: Account = self
                    .read(&records::account(t, id))
                    .await?
                    .ok_or_else(|| not_found(format!("account {id:?} not found")))?;
                if a.external_user_id != ext || a.app != app.name_slug {
                    return Err(invalid(format!(
                        "account {id} belongs to another user or app; it cannot be reconnected here"
                    )));
                }
                Some(a)
            }
            None => None,
        };
        let id = existing
            .as_ref()
            .map_or_else(|| new_id("apn"), |a| a.id.clone());
        let plain =
            serde_json::to_vec(&fields).map_err(|e| Error::internal_from("credentials", e))?;
        let mut account = Account {
            id: id.clone(),
            app: app.name_slug.clone(),
            external_user_id: ext.clone(),
            name: req
                .name
                .or_else(|| existing.as_ref().and_then(|a| a.name.clone())),
            healthy: true,
            dead: false,
            error: None,
            authorized_scopes: Vec::new(),
            expires_at,
            last_refreshed_at: None,
            next_refresh_at: None,
            refresh_failures: 0,
            failing_since: None,
            credentials: self.keyring.seal(&plain, &aad(t, &id)),
            created_at: existing.as_ref().map_or(now, |a| a.created_at),
            updated_at: now,
        };
        self.plan_refresh(&mut account, &app, &fields);
        let user: Option<ExternalUser> = self.read(&records::user(t, &ext)).await?;
        self.tenancy.consume_connect_token(&token).await?;
        let mut ops = vec![records::put(records::account(t, &id), &account)];
        if existing.is_none() {
            ops.push(crate::usage::count_op(t, Metric::AccountConnected, 1));
        }
        ops.extend(
            self.account_change_ops(t, existing.as_ref(), &account, &app)
                .await?,
        );
        let view = self.view(t, account.clone(), false)?;
        ops.extend(
            self.connection_success_ops(&req.connect_token, &token, &view)
                .await?,
        );
        ops.extend(
            account_indexes(t, &account)
                .into_iter()
                .map(|ix| records::index_add(ix, &id)),
        );
        let user = match user {
            Some(mut u) => {
                u.updated_at = now;
                u
            }
            None => {
                ops.push(records::index_add(records::users_index(t), &ext));
                ExternalUser {
                    id: new_id("exu"),
                    external_id: ext.clone(),
                    created_at: now,
                    updated_at: now,
                }
            }
        };
        ops.push(records::put(records::user(t, &ext), &user));
        self.store.commit(ops).await?;
        // A delete of this user that started meanwhile may have missed
        // this account: undo it rather than resurrect the user.
        if self.tenancy.user_deleted_meanwhile(t, &ext).await? {
            self.store.commit(delete_ops(t, &account)).await?;
            self.tenancy.drop_user_record(t, &ext).await?;
            return Err(self
                .tenancy
                .check_user_live(t, &ext)
                .await
                .err()
                .unwrap_or_else(|| not_found("external user deleted")));
        }
        self.after_health_change(t, existing.as_ref(), &account)
            .await?;
        Ok(view)
    }

    pub async fn delete_account(
        &self,
        t: &Tenant,
        id: &str,
        bound_user: Option<&str>,
    ) -> Result<()> {
        let view = self.get_account(t, id, bound_user, false).await?;
        self.store.commit(delete_ops(t, &view.account)).await?;
        Ok(())
    }

    /// Deletes all of one app's accounts in the tenant; returns how many.
    pub async fn delete_app_accounts(&self, t: &Tenant, app: &str) -> Result<u64> {
        let slug = self.app(app)?.name_slug.clone();
        self.delete_accounts_in(t, &records::accounts_by_app(t, &slug))
            .await
    }

    /// Deletes every account listed in `index`, a page at a time.
    pub(crate) async fn delete_accounts_in(&self, t: &Tenant, index: &Key) -> Result<u64> {
        let mut n = 0;
        loop {
            let ids = self
                .store
                .index_range(
                    index,
                    &IndexRange {
                        limit: 200,
                        ..Default::default()
                    },
                )
                .await?;
            if ids.is_empty() {
                return Ok(n);
            }
            let accounts = self.load_accounts(t, &ids).await?;
            let mut ops: Vec<Op> = accounts.iter().flat_map(|a| delete_ops(t, a)).collect();
            // Index members whose record is already gone.
            ops.extend(
                ids.iter()
                    .map(|id| records::index_remove(index.clone(), id)),
            );
            self.store.commit(ops).await?;
            n += accounts.len() as u64;
        }
    }
}

fn delete_ops(t: &Tenant, a: &Account) -> Vec<Op> {
    let mut ops = vec![Op::Delete(records::account(t, &a.id))];
    ops.extend(crate::accounts::health::refresh_entry_ops(t, Some(a), None));
    ops.extend(
        account_indexes(t, a)
            .into_iter()
            .map(|ix| records::index_remove(ix, &a.id)),
    );
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openai() -> App {
        switchboard_components::Catalog::builtin()
            .unwrap()
            .get("openai")
            .unwrap()
            .clone()
    }

    #[test]
    fn host_fields_cannot_move_the_host_and_patterns_hold() {
        let mut app = openai();
        let mut shop = app.auth.fields[0].clone();
        shop.name = "shop".into();
        shop.label = "Shop".into();
        shop.optional = true;
        shop.in_host = true;
        shop.pattern = Some("^[a-z0-9-]+$".into());
        app.auth.fields.push(shop);
        let ok = credential_fields(&app, r#"{"api_key":"k","shop":"acme-1"}"#).unwrap();
        assert_eq!(ok["shop"], "acme-1");
        for bad in ["evil.com/x", "a@b", "a:1", "x?y", "x#y", "UPPER"] {
            let body = serde_json::json!({"api_key": "k", "shop": bad}).to_string();
            let e = credential_fields(&app, &body).unwrap_err().to_string();
            assert!(e.contains("shop"), "{bad}: {e}");
        }
    }

    #[test]
    fn credential_fields_are_checked_against_the_app() {
        let app = openai();
        let ok = credential_fields(&app, r#"{"api_key":"sk-1"}"#).unwrap();
        assert_eq!(ok["api_key"], "sk-1");
        let e = credential_fields(&app, r#"{"organization":"o"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("api_key"), "{e}");
        let e = credential_fields(&app, r#"{"api_key":"k","bogus":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        assert!(credential_fields(&app, "not json").is_err());
        assert!(credential_fields(&app, r#"{"api_key":{"a":1}}"#).is_err());
    }
}
