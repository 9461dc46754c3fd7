//! Account health and the refresh schedule. Each refreshable OAuth account
//! has one entry in a due-time index: ahead of expiry by the app's margin,
//! and at least once per `refresh_touch_secs`, or after a failure on a
//! doubling backoff. Workers take due entries and refresh under the
//! account's lock (see `refresh`).
//!
//! Health is healthy → unhealthy (the provider refused a refresh) → dead
//! (refreshes kept failing for `account_dead_after_secs`). Each change is
//! pushed to the project webhook; a dead account suspends the triggers that
//! use it, and reconnecting resumes them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use switchboard_components::App;

use super::Accounts;
use crate::CoreSettings;
use crate::accounts::manage::AccountView;
use crate::clock::{iso, now_ms};
use crate::error::Result;
use crate::model::{Account, Environment, Tenant};
use crate::records;
use crate::store::{IndexRange, Op};

/// Who follows accounts' health: `triggers`, whose deployments a dead
/// account suspends and a live one resumes.
#[async_trait::async_trait]
pub trait HealthObserver: Send + Sync {
    /// `account`'s health changed to dead (`dead`) or back from it.
    async fn health_changed(&self, t: &Tenant, account: &Account, dead: bool) -> Result<()>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Unhealthy,
    Dead,
}

impl Health {
    pub fn of(a: &Account) -> Health {
        if a.dead {
            Health::Dead
        } else if a.healthy {
            Health::Healthy
        } else {
            Health::Unhealthy
        }
    }

    /// The notification's `event`.
    pub fn event(self) -> &'static str {
        match self {
            Health::Healthy => "ACCOUNT_HEALTHY",
            Health::Unhealthy => "ACCOUNT_UNHEALTHY",
            Health::Dead => "ACCOUNT_DEAD",
        }
    }
}

/// An account due a refresh, as its index entry names it.
#[derive(Debug, Clone)]
pub struct DueRefresh {
    pub tenant: Tenant,
    pub account_id: String,
    pub due_ms: u64,
    member: String,
}

/// `<due ms, 16 digits>:<project>:<env>:<account>`: ordered by due time.
fn member(t: &Tenant, id: &str, due_ms: u64) -> String {
    format!("{due_ms:016}:{}:{}:{id}", t.project_id, t.env.as_str())
}

fn parse_member(m: &str) -> Option<DueRefresh> {
    let mut it = m.splitn(4, ':');
    let due_ms = it.next()?.parse().ok()?;
    let project_id = it.next()?.to_string();
    let env = Environment::parse(it.next()?)?;
    let account_id = it.next()?.to_string();
    Some(DueRefresh {
        tenant: Tenant { project_id, env },
        account_id,
        due_ms,
        member: m.to_string(),
    })
}

/// The index writes that move an account's entry from `before` to `after`.
pub(crate) fn refresh_entry_ops(
    t: &Tenant,
    before: Option<&Account>,
    after: Option<&Account>,
) -> Vec<Op> {
    let old = before.and_then(|a| Some(member(t, &a.id, a.next_refresh_at?)));
    let new = after.and_then(|a| Some(member(t, &a.id, a.next_refresh_at?)));
    if old == new {
        return Vec::new();
    }
    let mut ops = Vec::new();
    if let Some(m) = old {
        ops.push(records::index_remove(records::refresh_due(), &m));
    }
    if let Some(m) = new {
        ops.push(records::index_add(records::refresh_due(), &m));
    }
    ops
}

fn has_refresh_token(creds: &Map<String, Value>) -> bool {
    creds
        .get("oauth_refresh_token")
        .and_then(Value::as_str)
        .is_some_and(|r| !r.is_empty())
}

impl Accounts {
    /// Sets when `a` is next refreshed: never for accounts that cannot be
    /// (OAuth without a refresh token, neither OAuth nor a token exchange,
    /// dead); after a failure, on the backoff; else ahead of expiry by the
    /// app's margin, and at least once per `refresh_touch_secs`. A token
    /// exchange needs no refresh token: it is run again.
    pub(crate) fn plan_refresh(&self, a: &mut Account, app: &App, creds: &Map<String, Value>) {
        let (margin, can) = match (&app.auth.token_exchange, &app.auth.oauth) {
            (Some(x), _) => (Some(x.refresh_margin_secs), true),
            (None, Some(o)) if o.refresh => (Some(o.refresh_margin_secs), has_refresh_token(creds)),
            _ => (None, false),
        };
        a.next_refresh_at = next_refresh(a, margin, can, &self.settings, now_ms());
    }

    /// The writes that go with saving `after` over `before`: its place in
    /// the refresh index, and a health notification if its health changed.
    pub(crate) async fn account_change_ops(
        &self,
        t: &Tenant,
        before: Option<&Account>,
        after: &Account,
        app: &App,
    ) -> Result<Vec<Op>> {
        let mut ops = refresh_entry_ops(t, before, Some(after));
        let was = before.map_or(Health::Healthy, Health::of);
        let now = Health::of(after);
        if was != now {
            tracing::info!(
                project = %t.project_id, env = t.env.as_str(), account = %after.id,
                from = was.event(), to = now.event(), "account health changed"
            );
            ops.extend(self.health_notification_ops(t, after, app, now).await?);
        }
        Ok(ops)
    }

    /// A signed `ACCOUNT_*` notification to the project webhook, if it has
    /// one (without credentials).
    async fn health_notification_ops(
        &self,
        t: &Tenant,
        a: &Account,
        app: &App,
        h: Health,
    ) -> Result<Vec<Op>> {
        let Some(w) = self.delivery.default_webhook(t).await? else {
            return Ok(Vec::new());
        };
        if !w.webhook.active {
            return Ok(Vec::new());
        }
        let body = health_body(t, a, app, h, &self.settings.public_base);
        Ok(self
            .delivery
            .notification_ops(t, &w.webhook.id, &w.webhook.url, &body))
    }

    /// After a change of health is saved: a dead account suspends the
    /// triggers that use it; a live one resumes those it had suspended.
    pub(crate) async fn after_health_change(
        &self,
        t: &Tenant,
        before: Option<&Account>,
        after: &Account,
    ) -> Result<()> {
        let (was, now) = (
            before.map_or(Health::Healthy, Health::of),
            Health::of(after),
        );
        if was == now {
            return Ok(());
        }
        match self.health_observer() {
            Some(o) => o.health_changed(t, after, now == Health::Dead).await,
            None => Ok(()),
        }
    }

    /// Up to `max` accounts whose refresh is due now.
    pub async fn due_refreshes(&self, max: usize) -> Result<Vec<DueRefresh>> {
        let before = format!("{:016}:", now_ms() + 1);
        let members = self
            .store
            .index_range(
                &records::refresh_due(),
                &IndexRange {
                    after: None,
                    before: None,
                    limit: max,
                },
            )
            .await?;
        Ok(members
            .iter()
            .take_while(|m| m.as_str() < before.as_str())
            .filter_map(|m| parse_member(m))
            .collect())
    }

    /// Refreshes one due account; an entry that no longer matches its
    /// account (refreshed, reconnected or deleted since) is dropped.
    pub async fn run_due_refresh(self: &Arc<Self>, due: &DueRefresh) -> Result<()> {
        let t = &due.tenant;
        let a: Option<Account> = self.read(&records::account(t, &due.account_id)).await?;
        if a.and_then(|a| a.next_refresh_at) != Some(due.due_ms) {
            self.store
                .commit(vec![records::index_remove(
                    records::refresh_due(),
                    &due.member,
                )])
                .await?;
            return Ok(());
        }
        self.refresh_due_account(t, &due.account_id, due.due_ms)
            .await
            .map(|_| ())
    }
}

/// An `ACCOUNT_*` notification (docs/schema/notification.v1.json).
pub(crate) fn health_body(
    t: &Tenant,
    a: &Account,
    app: &App,
    h: Health,
    public_base: &str,
) -> Value {
    let view = AccountView {
        account: a.clone(),
        app: app.clone(),
        credentials: None,
    };
    json!({
        "event": h.event(),
        "project_id": t.project_id,
        "environment": t.env.as_str(),
        "external_user_id": a.external_user_id,
        "error": a.error,
        "account": crate::accounts::render::account(&view, public_base),
        "ts": iso(now_ms()),
    })
}

/// When `a` is next due a refresh; `margin_secs` is the app's, `None` when
/// its tokens cannot be refreshed.
fn next_refresh(
    a: &Account,
    margin_secs: Option<u64>,
    has_refresh_token: bool,
    s: &CoreSettings,
    now: u64,
) -> Option<u64> {
    let margin = margin_secs.filter(|_| has_refresh_token && !a.dead)?;
    if a.refresh_failures > 0 {
        let wait = switchboard_net::retry::exponential(
            Duration::from_secs(s.refresh_retry_min_secs),
            a.refresh_failures - 1,
            Duration::from_secs(s.refresh_retry_max_secs.max(s.refresh_retry_min_secs)),
        );
        return Some(now + wait.as_millis() as u64);
    }
    let base = a.last_refreshed_at.unwrap_or(a.updated_at);
    let touch = base.saturating_add(s.refresh_touch_secs * 1000);
    let ahead = a.expires_at.map(|e| e.saturating_sub(margin * 1000));
    Some(ahead.map_or(touch, |x| x.min(touch)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(expires_at: Option<u64>, failures: u32) -> Account {
        Account {
            id: "apn_1".into(),
            app: "hubspot".into(),
            external_user_id: "u1".into(),
            name: None,
            healthy: failures == 0,
            dead: false,
            error: None,
            authorized_scopes: Vec::new(),
            expires_at,
            last_refreshed_at: Some(1_000_000),
            next_refresh_at: None,
            refresh_failures: failures,
            failing_since: None,
            credentials: String::new(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn refreshes_ahead_of_expiry_and_at_least_daily() {
        let s = CoreSettings::default();
        let now = 2_000_000;
        // Ahead of expiry by the app's margin.
        let a = account(Some(10_000_000), 0);
        assert_eq!(next_refresh(&a, Some(300), true, &s, now), Some(9_700_000));
        // A token without expiry (or a far one) is touched daily.
        let a = account(None, 0);
        assert_eq!(
            next_refresh(&a, Some(300), true, &s, now),
            Some(1_000_000 + 86_400_000)
        );
        let a = account(Some(u64::MAX / 2), 0);
        assert_eq!(
            next_refresh(&a, Some(300), true, &s, now),
            Some(1_000_000 + 86_400_000)
        );
        // Nothing to refresh with, not refreshable, or dead: never.
        assert_eq!(next_refresh(&a, Some(300), false, &s, now), None);
        assert_eq!(next_refresh(&a, None, true, &s, now), None);
        let dead = Account { dead: true, ..a };
        assert_eq!(next_refresh(&dead, Some(300), true, &s, now), None);
    }

    /// Every notification body matches its published schema (docs/schema).
    #[test]
    fn notifications_match_the_published_schema() {
        let v = crate::published_schema("notification.v1.json");
        let t = Tenant {
            project_id: "proj_1".into(),
            env: Environment::Production,
        };
        let hubspot = switchboard_components::Catalog::builtin()
            .unwrap()
            .get("hubspot")
            .unwrap()
            .clone();
        let mut a = account(Some(10_000_000), 1);
        a.error = Some("HubSpot refused the token request: invalid_grant".into());
        let ct = crate::model::ConnectToken {
            token_sha256: "ab".repeat(32),
            tenant: t.clone(),
            external_user_id: "u1".into(),
            allowed_origins: Vec::new(),
            success_redirect_uri: None,
            error_redirect_uri: None,
            webhook_uri: Some("https://acme.example/hook".into()),
            scopes: Vec::new(),
            created_at: 0,
            expires_at: 1,
        };
        let view = AccountView {
            account: a.clone(),
            app: hubspot.clone(),
            credentials: None,
        };
        let mut bodies = vec![
            crate::accounts::connection::connection_body(
                "ctok_1",
                &ct,
                json!({"event": "CONNECTION_SUCCESS", "account": crate::accounts::render::account(&view, "http://x")}),
            ),
            crate::accounts::connection::connection_body(
                "ctok_1",
                &ct,
                json!({"event": "CONNECTION_ERROR", "error": "refused"}),
            ),
        ];
        for h in [Health::Unhealthy, Health::Dead, Health::Healthy] {
            bodies.push(health_body(&t, &a, &hubspot, h, "http://x"));
        }
        for b in &bodies {
            let errors: Vec<String> = v.iter_errors(b).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{errors:?}\n{b}");
        }
        let mut leaky = bodies[0].clone();
        leaky["account"]["credentials"] = json!({"oauth_access_token": "x"});
        assert!(!v.is_valid(&leaky), "the schema refuses credentials");
    }

    #[test]
    fn failed_refreshes_back_off_doubling_to_the_cap() {
        let s = CoreSettings::default(); // 30 s, doubling, at most 3600 s
        let now = 5_000;
        let due = |n| next_refresh(&account(Some(1), n), Some(300), true, &s, now).unwrap() - now;
        assert_eq!(
            [due(1), due(2), due(3), due(7), due(8), due(40)],
            [30_000, 60_000, 120_000, 1_920_000, 3_600_000, 3_600_000]
        );
    }

    #[test]
    fn members_order_by_due_time_and_parse_back() {
        let t = Tenant {
            project_id: "proj_1".into(),
            env: Environment::Production,
        };
        let a = member(&t, "apn_2", 900);
        let b = member(&t, "apn_1", 10_000);
        assert!(a < b);
        let d = parse_member(&b).unwrap();
        assert_eq!(
            (d.tenant, d.account_id.as_str(), d.due_ms),
            (t, "apn_1", 10_000)
        );
    }
}
