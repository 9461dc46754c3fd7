//! Refreshing an OAuth account's access token. One caller at a time per
//! account across every process: a lock in the store, then a re-read, so a
//! rotating refresh token is never spent twice and a token someone else just
//! refreshed is reused.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use switchboard_components::runtime::Refresher;
use switchboard_components::{App, token};
use switchboard_net::outbound::HttpRequest;

use super::Accounts;
use crate::accounts::manage::aad;
use crate::clock::now_ms;
use crate::error::{Error, Result, invalid};
use crate::model::{Account, Tenant};
use crate::records;

const LOCK_TTL_MS: u64 = 30_000;
/// Waiting for another process's refresh, then the token call itself: both
/// well inside the lock's lifetime.
const LOCK_WAIT: Duration = Duration::from_secs(10);
pub(crate) const TOKEN_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// A token refreshed this recently and rejected again is not refreshed
/// again: the provider is refusing the account, not an old token.
const MIN_REFRESH_INTERVAL_MS: u64 = 60_000;

/// Refreshes one account on behalf of a running invocation.
pub(crate) struct AccountRefresher {
    pub accounts: Arc<Accounts>,
    pub tenant: Tenant,
    pub account_id: String,
    pub app: String,
    /// The access token the invocation saw rejected.
    pub stale_token: Option<String>,
}

/// An account's opened credentials and its refresher, for a session.
pub(crate) struct AccountAccess {
    pub creds: Option<Map<String, Value>>,
    pub refresher: Option<AccountRefresher>,
}

impl AccountAccess {
    pub(crate) fn refresher(&self) -> Option<&dyn Refresher> {
        self.refresher.as_ref().map(|r| r as &dyn Refresher)
    }
}

impl Accounts {
    /// What a session needs to act with `account` (nothing without one).
    pub(crate) async fn account_access(
        self: &Arc<Self>,
        t: &Tenant,
        account: Option<&Account>,
    ) -> Result<AccountAccess> {
        Ok(match account {
            Some(a) => {
                let creds = self.session_credentials(t, a).await?;
                let refresher = AccountRefresher::new(self, t, a, &creds);
                AccountAccess {
                    creds: Some(creds),
                    refresher: Some(refresher),
                }
            }
            None => AccountAccess {
                creds: None,
                refresher: None,
            },
        })
    }
}

impl AccountRefresher {
    pub fn new(
        accounts: &Arc<Accounts>,
        t: &Tenant,
        a: &Account,
        creds: &Map<String, Value>,
    ) -> Self {
        AccountRefresher {
            accounts: accounts.clone(),
            tenant: t.clone(),
            account_id: a.id.clone(),
            app: a.app.clone(),
            stale_token: token_of(creds),
        }
    }
}

#[async_trait]
impl Refresher for AccountRefresher {
    async fn refresh(&self) -> std::result::Result<Map<String, Value>, String> {
        // A task of its own: if the caller gives up (timeout, disconnect),
        // the refresh still finishes and saves a rotated refresh token.
        let (core, t, id, stale) = (
            self.accounts.clone(),
            self.tenant.clone(),
            self.account_id.clone(),
            self.stale_token.clone(),
        );
        let creds =
            tokio::spawn(async move { core.refresh_account(&t, &id, stale.as_deref()).await })
                .await
                .map_err(|e| format!("refresh task failed: {e}"))?
                .map_err(|e| e.to_string())?;
        self.accounts
            .with_client(&self.tenant, &self.app, creds)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Longest token lifetime believed (10 years); larger values are nonsense.
pub(crate) const MAX_EXPIRES_IN_SECS: u64 = 10 * 365 * 24 * 3600;

/// Why a token request failed.
pub(crate) enum Refusal {
    /// The provider refused the refresh token: mark the account unhealthy.
    Definitive(Error),
    /// A timeout, outage or our own problem: try again later.
    Transient(Error),
}

impl Refusal {
    pub(crate) fn into_error(self) -> Error {
        match self {
            Refusal::Definitive(e) | Refusal::Transient(e) => e,
        }
    }
}

/// Why an account is refreshed, and so how to tell that another caller
/// already did it.
#[derive(Clone, Copy)]
enum Why<'a> {
    /// A call was refused with this access token.
    Rejected(Option<&'a str>),
    /// Its index entry came due at this time.
    Due(u64),
}

impl Why<'_> {
    fn done_by_another(&self, a: &Account, creds: &Map<String, Value>) -> bool {
        match self {
            Why::Rejected(stale) => token_of(creds).as_deref() != *stale,
            Why::Due(due) => a.next_refresh_at != Some(*due),
        }
    }
}

fn token_of(creds: &Map<String, Value>) -> Option<String> {
    creds
        .get("oauth_access_token")
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl Accounts {
    pub(crate) fn open_credentials(&self, t: &Tenant, a: &Account) -> Result<Map<String, Value>> {
        let plain = self.keyring.open(&a.credentials, &aad(t, &a.id))?;
        serde_json::from_slice(&plain).map_err(|e| Error::internal_from("credentials", e))
    }

    /// A session's account values: the opened credentials, plus the
    /// project's OAuth client where the app's requests need it (OAuth 1
    /// signing, `account.oauth_client_id` in its templates). The one place
    /// they are added: never stored on the account, never shown with its
    /// credentials.
    pub(crate) async fn session_credentials(
        &self,
        t: &Tenant,
        a: &Account,
    ) -> Result<Map<String, Value>> {
        let creds = self.open_credentials(t, a)?;
        self.with_client(t, &a.app, creds).await
    }

    /// Adds the OAuth client that issued the account's tokens (else the
    /// project's newest for the app) as `oauth_client_id` and, when needed,
    /// `oauth_client_secret`.
    pub(crate) async fn with_client(
        &self,
        t: &Tenant,
        app: &str,
        mut creds: Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let app = self.app(app)?;
        let (id, secret) = app.session_client();
        if !id {
            return Ok(creds);
        }
        let pinned = creds
            .get("oauth_app_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some((_, client_id, client_secret)) = self
            .oauth_client(&t.project_id, &app.name_slug, pinned.as_deref())
            .await?
        {
            creds.insert("oauth_client_id".into(), Value::String(client_id));
            if secret {
                creds.insert("oauth_client_secret".into(), Value::String(client_secret));
            }
        }
        Ok(creds)
    }

    async fn load_account(&self, t: &Tenant, id: &str) -> Result<Account> {
        self.read(&records::account(t, id))
            .await?
            .ok_or_else(|| invalid(format!("account {id:?} no longer exists")))
    }

    /// Returns fresh credentials after `stale` was rejected: refreshed
    /// here, or by whoever held the lock if they changed the token meanwhile.
    pub async fn refresh_account(
        &self,
        t: &Tenant,
        id: &str,
        stale: Option<&str>,
    ) -> Result<Map<String, Value>> {
        self.refresh_with_lock(t, id, Why::Rejected(stale)).await
    }

    /// A scheduled refresh of the account whose index entry says `due_ms`.
    pub(crate) async fn refresh_due_account(
        &self,
        t: &Tenant,
        id: &str,
        due_ms: u64,
    ) -> Result<Map<String, Value>> {
        self.refresh_with_lock(t, id, Why::Due(due_ms)).await
    }

    async fn refresh_with_lock(
        &self,
        t: &Tenant,
        id: &str,
        why: Why<'_>,
    ) -> Result<Map<String, Value>> {
        let lock = records::refresh_lock(t, id);
        // The lock holds a value only its owner knows, so a holder whose lock
        // expired cannot release the next holder's.
        let owner = crate::ids::random_hex(16).into_bytes();
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            if self
                .store
                .put_if_absent(&lock, owner.clone(), Some(LOCK_TTL_MS))
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
            if why.done_by_another(&a, &creds) {
                return Ok(creds);
            }
        }
        let out = self.refresh_locked(t, id, why).await;
        let _ = self.store.delete_if_equals(&lock, &owner).await;
        out
    }

    async fn refresh_locked(
        &self,
        t: &Tenant,
        id: &str,
        why: Why<'_>,
    ) -> Result<Map<String, Value>> {
        let before = self.load_account(t, id).await?;
        let mut creds = self.open_credentials(t, &before)?;
        // Re-read under the lock: someone may have refreshed it meanwhile.
        if why.done_by_another(&before, &creds) {
            return Ok(creds);
        }
        if before.dead {
            return Err(Error::Upstream(format!(
                "account {id} is dead (its refreshes kept failing); the user must reconnect it"
            )));
        }
        let now = now_ms();
        if matches!(why, Why::Rejected(_))
            && before
                .last_refreshed_at
                .is_some_and(|at| now.saturating_sub(at) < MIN_REFRESH_INTERVAL_MS)
        {
            return Err(Error::Upstream(
                "the token was refreshed less than a minute ago and is still rejected".into(),
            ));
        }
        let app = self.app(&before.app)?.clone();
        let mut account = before.clone();
        let outcome = self.exchange_refresh_token(t, &app, &creds).await;
        let failure = match outcome {
            Ok((fields, expires_in)) => {
                for (k, v) in fields {
                    creds.insert(k, v);
                }
                account.expires_at =
                    expires_in.map(|s| now.saturating_add(s.min(MAX_EXPIRES_IN_SECS) * 1000));
                account.last_refreshed_at = Some(now);
                account.healthy = true;
                account.error = None;
                account.refresh_failures = 0;
                account.failing_since = None;
                None
            }
            Err(r) => {
                // A refusal by the provider makes the account unhealthy; a
                // timeout or an outage says nothing about it. Either way the
                // refresh is retried on the backoff, and an account failing
                // for long enough is dead.
                let definitive = matches!(r, Refusal::Definitive(_));
                let e = r.into_error();
                account.refresh_failures = account.refresh_failures.saturating_add(1);
                let since = *account.failing_since.get_or_insert(now);
                if definitive {
                    account.healthy = false;
                    account.error = Some(e.to_string());
                }
                if now.saturating_sub(since) >= self.settings.account_dead_after_secs * 1000 {
                    account.dead = true;
                    account.healthy = false;
                    account.error.get_or_insert_with(|| e.to_string());
                }
                Some(e)
            }
        };
        account.updated_at = now;
        self.plan_refresh(&mut account, &app, &creds);
        let plain =
            serde_json::to_vec(&creds).map_err(|e| Error::internal_from("credentials", e))?;
        account.credentials = self.keyring.seal(&plain, &aad(t, id));
        let mut ops = vec![records::put(records::account(t, id), &account)];
        ops.extend(
            self.account_change_ops(t, Some(&before), &account, &app)
                .await?,
        );
        self.store.commit(ops).await?;
        self.after_health_change(t, Some(&before), &account).await?;
        match failure {
            Some(e) => Err(e),
            None => Ok(creds),
        }
    }

    /// Calls the app's token endpoint with the refresh token, or runs the
    /// app's credential exchange again (there is no refresh token).
    async fn exchange_refresh_token(
        &self,
        t: &Tenant,
        app: &App,
        creds: &Map<String, Value>,
    ) -> std::result::Result<(Map<String, Value>, Option<u64>), Refusal> {
        use Refusal::Definitive;
        if app.auth.token_exchange.is_some() {
            return self.exchange_credentials(app, creds).await;
        }
        let oauth = app
            .auth
            .oauth
            .as_ref()
            .filter(|o| o.refresh)
            .ok_or_else(|| {
                Definitive(invalid(format!(
                    "{} tokens cannot be refreshed",
                    app.name_slug
                )))
            })?;
        let refresh_token = creds
            .get("oauth_refresh_token")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Definitive(invalid(
                    "the account has no refresh token; the user must reconnect",
                ))
            })?;
        let pinned = creds.get("oauth_app_id").and_then(Value::as_str);
        let grant: Vec<(String, String)> = vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), refresh_token.into()),
        ];
        let (fields, expires_in, _) = self
            .token_call(t, app, oauth, TokenGrant::Refresh(grant), pinned, creds)
            .await?;
        Ok((fields, expires_in))
    }

    /// A request to the app's token endpoint with the project's OAuth client
    /// (authenticated as the app's manifest says): the grant, plus the
    /// client and the app's extra token params, with URLs and params
    /// rendered over the account's fields. Returns the token fields,
    /// `expires_in`, and which OAuth app was used.
    pub(crate) async fn token_call(
        &self,
        t: &Tenant,
        app: &App,
        oauth: &switchboard_components::OAuthSpec,
        grant: TokenGrant,
        pinned: Option<&str>,
        account: &Map<String, Value>,
    ) -> std::result::Result<(Map<String, Value>, Option<u64>, String), Refusal> {
        use Refusal::{Definitive, Transient};
        let (oauth_app_id, client_id, secret) = self
            .oauth_client(&t.project_id, &app.name_slug, pinned)
            .await
            .map_err(Transient)?
            .ok_or_else(|| {
                Definitive(invalid(format!(
                    "no OAuth client is registered for {} in this project (POST oauth_apps)",
                    app.name_slug
                )))
            })?;
        let (form, refresh) = match grant {
            TokenGrant::Code(f) => (f, false),
            TokenGrant::Refresh(f) => (f, true),
        };
        let req = token::oauth_request(app, oauth, form, (&client_id, &secret), account, refresh);
        let (fields, expires_in) = self
            .send_token_request(app, req, &oauth.token_fields)
            .await?;
        Ok((fields, expires_in, oauth_app_id))
    }

    /// Trades the account's fields for an access token as the app's
    /// `token_exchange` says.
    pub(crate) async fn exchange_credentials(
        &self,
        app: &App,
        creds: &Map<String, Value>,
    ) -> std::result::Result<(Map<String, Value>, Option<u64>), Refusal> {
        let x = app.auth.token_exchange.as_ref().ok_or_else(|| {
            Refusal::Definitive(invalid(format!("{} has no token exchange", app.name_slug)))
        })?;
        let req = token::exchange_request(app, x, creds);
        let (fields, expires_in) = self.send_token_request(app, req, &x.token_fields).await?;
        Ok((fields, expires_in.or(x.expires_in_secs)))
    }

    /// Sends a token request through the outbound client (SSRF guard) and
    /// reads the granted fields. A request the app's rules refuse (a host
    /// outside its domains) is refused before anything is sent.
    async fn send_token_request(
        &self,
        app: &App,
        req: std::result::Result<HttpRequest, String>,
        fields: &switchboard_components::TokenFields,
    ) -> std::result::Result<(Map<String, Value>, Option<u64>), Refusal> {
        use Refusal::{Definitive, Transient};
        let req = req.map_err(|e| Definitive(invalid(e)))?;
        let resp = self
            .outbound
            .send(req, TOKEN_CALL_TIMEOUT)
            .await
            .map_err(|e| Transient(Error::Upstream(format!("token request failed: {e}"))))?;
        let tokens = token::read(fields, resp.status, &resp.body_value()).map_err(|r| {
            let e = Error::Upstream(format!("{} refused the token request: {}", app.name, r.why));
            if r.transient {
                Transient(e)
            } else {
                Definitive(e)
            }
        })?;
        let mut out = Map::new();
        out.insert(
            "oauth_access_token".into(),
            Value::String(tokens.access_token),
        );
        if let Some(r) = tokens.refresh_token {
            out.insert("oauth_refresh_token".into(), Value::String(r));
        }
        Ok((out, tokens.expires_in))
    }
}

/// An OAuth grant's own parameters: the code exchange, or a refresh (sent
/// to the app's `refresh_url` when it has one).
pub(crate) enum TokenGrant {
    Code(Vec<(String, String)>),
    Refresh(Vec<(String, String)>),
}
