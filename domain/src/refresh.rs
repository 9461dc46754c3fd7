//! Refreshing an OAuth account's access token. One caller at a time per
//! account across every process: a lock in the store, then a re-read, so a
//! rotating refresh token is never spent twice and a token someone else just
//! refreshed is reused.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use switchboard_components::outbound::HttpRequest;
use switchboard_components::runtime::Refresher;
use switchboard_components::{App, ClientAuth, jsonpath};

use crate::Core;
use crate::accounts::aad;
use crate::clock::now_ms;
use crate::error::{Error, Result, invalid};
use crate::model::{Account, Tenant};
use crate::records;

const LOCK_TTL_MS: u64 = 30_000;

/// Refreshes one account on behalf of a running invocation.
pub(crate) struct AccountRefresher<'a> {
    pub core: &'a Core,
    pub tenant: Tenant,
    pub account_id: String,
    /// The access token the invocation saw rejected.
    pub stale_token: Option<String>,
}

#[async_trait]
impl Refresher for AccountRefresher<'_> {
    async fn refresh(&self) -> std::result::Result<Map<String, Value>, String> {
        self.core
            .refresh_account(&self.tenant, &self.account_id, self.stale_token.as_deref())
            .await
            .map_err(|e| e.to_string())
    }
}

fn token_of(creds: &Map<String, Value>) -> Option<String> {
    creds
        .get("oauth_access_token")
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl Core {
    pub(crate) fn open_credentials(&self, t: &Tenant, a: &Account) -> Result<Map<String, Value>> {
        let plain = self.keyring.open(&a.credentials, &aad(t, &a.id))?;
        serde_json::from_slice(&plain).map_err(|e| Error::Internal(e.to_string()))
    }

    async fn load_account(&self, t: &Tenant, id: &str) -> Result<Account> {
        self.read(&records::account(t, id))
            .await?
            .ok_or_else(|| invalid(format!("account {id:?} no longer exists")))
    }

    /// Returns fresh credentials: refreshed here, or by whoever held the
    /// lock if they changed the token meanwhile.
    pub async fn refresh_account(
        &self,
        t: &Tenant,
        id: &str,
        stale: Option<&str>,
    ) -> Result<Map<String, Value>> {
        let lock = records::refresh_lock(t, id);
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if self
                .store
                .put_if_absent(&lock, b"1".to_vec(), Some(LOCK_TTL_MS))
                .await?
            {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err(Error::Upstream(
                    "another refresh of this account is still running".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let a = self.load_account(t, id).await?;
            let creds = self.open_credentials(t, &a)?;
            if token_of(&creds).as_deref() != stale {
                return Ok(creds);
            }
        }
        let out = self.refresh_locked(t, id, stale).await;
        let _ = self
            .store
            .commit(vec![crate::store::Op::Delete(lock)])
            .await;
        out
    }

    async fn refresh_locked(
        &self,
        t: &Tenant,
        id: &str,
        stale: Option<&str>,
    ) -> Result<Map<String, Value>> {
        let mut account = self.load_account(t, id).await?;
        let mut creds = self.open_credentials(t, &account)?;
        if token_of(&creds).as_deref() != stale {
            return Ok(creds);
        }
        let app = self.app(&account.app)?.clone();
        let result = self.exchange_refresh_token(t, &app, &creds).await;
        let now = now_ms();
        match result {
            Ok((fields, expires_in)) => {
                for (k, v) in fields {
                    creds.insert(k, v);
                }
                account.expires_at = expires_in.map(|s| now + s * 1000);
                account.last_refreshed_at = Some(now);
                account.healthy = true;
                account.error = None;
            }
            Err(e) => {
                account.healthy = false;
                account.error = Some(e.to_string());
            }
        }
        account.updated_at = now;
        let plain = serde_json::to_vec(&creds).map_err(|e| Error::Internal(e.to_string()))?;
        account.credentials = self.keyring.seal(&plain, &aad(t, id));
        self.store
            .commit(vec![records::put(records::account(t, id), &account)])
            .await?;
        match account.error {
            Some(e) if !account.healthy => Err(Error::Upstream(e)),
            _ => Ok(creds),
        }
    }

    /// Calls the app's token endpoint with the refresh token.
    async fn exchange_refresh_token(
        &self,
        t: &Tenant,
        app: &App,
        creds: &Map<String, Value>,
    ) -> Result<(Map<String, Value>, Option<u64>)> {
        let oauth = app
            .auth
            .oauth
            .as_ref()
            .filter(|o| o.refresh)
            .ok_or_else(|| invalid(format!("{} tokens cannot be refreshed", app.name_slug)))?;
        let refresh_token = creds
            .get("oauth_refresh_token")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("the account has no refresh token; the user must reconnect"))?;
        let (client_id, secret) = self
            .oauth_client(&t.project_id, &app.name_slug)
            .await?
            .ok_or_else(|| {
                invalid(format!(
                    "no OAuth client is registered for {} in this project (POST oauth_apps)",
                    app.name_slug
                ))
            })?;
        let mut form: Vec<(String, String)> = vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), refresh_token.into()),
        ];
        let mut headers = vec![
            (
                "Content-Type".to_string(),
                "application/x-www-form-urlencoded".to_string(),
            ),
            ("Accept".to_string(), "application/json".to_string()),
        ];
        match oauth.client_auth {
            ClientAuth::Body => {
                form.push(("client_id".into(), client_id));
                form.push(("client_secret".into(), secret));
            }
            ClientAuth::Basic => {
                use base64::Engine;
                let b = base64::engine::general_purpose::STANDARD
                    .encode(format!("{client_id}:{secret}"));
                headers.push(("Authorization".into(), format!("Basic {b}")));
            }
        }
        form.extend(
            oauth
                .extra_token_params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        let url = url::Url::parse(&oauth.token_url)
            .map_err(|e| Error::Internal(format!("token_url: {e}")))?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let resp = self
            .outbound
            .send(
                HttpRequest {
                    method: "POST".into(),
                    url,
                    headers,
                    body: body.into_bytes(),
                },
                Duration::from_secs(20),
            )
            .await
            .map_err(|e| Error::Upstream(format!("token refresh failed: {e}")))?;
        let v = resp.body_value();
        let get = |path: &str| jsonpath::first(path, &v).ok().flatten();
        let f = &oauth.token_fields;
        let access = get(&f.access_token).and_then(|x| x.as_str().map(str::to_string));
        let Some(access) = access.filter(|_| (200..300).contains(&resp.status)) else {
            let why = v
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {}", resp.status));
            return Err(Error::Upstream(format!(
                "{} refused the refresh: {why}",
                app.name
            )));
        };
        let mut out = Map::new();
        out.insert("oauth_access_token".into(), Value::String(access));
        if let Some(Value::String(r)) = get(&f.refresh_token) {
            out.insert("oauth_refresh_token".into(), Value::String(r));
        }
        let expires_in =
            get(&f.expires_in).and_then(|x| x.as_u64().or_else(|| x.as_str()?.parse().ok()));
        Ok((out, expires_in))
    }
}
