//! Where each object lives in the store, and typed JSON reads and writes.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::model::Tenant;
use crate::store::{Key, Op};

pub(crate) fn project(id: &str) -> Key {
    Key::global(format!("p:{id}"), "project")
}
/// A project's uploaded logo (`POST projects/{id}/logo`).
pub(crate) fn project_logo(id: &str) -> Key {
    Key::global(format!("p:{id}"), "logo")
}
pub(crate) fn projects_index() -> Key {
    Key::global("projects", "idx")
}
pub(crate) fn project_clients(id: &str) -> Key {
    Key::global(format!("p:{id}"), "idx:clients")
}
pub(crate) fn client(id: &str) -> Key {
    Key::global(format!("c:{id}"), "client")
}
pub(crate) fn access_token(client_id: &str, sha: &str) -> Key {
    Key::global(format!("c:{client_id}"), format!("at:{sha}"))
}
pub(crate) fn connect_token(sha: &str) -> Key {
    Key::global(format!("ctok:{sha}"), "rec")
}
pub(crate) fn connect_token_used(sha: &str) -> Key {
    Key::global(format!("ctok:{sha}"), "used")
}
pub(crate) fn user_tokens(t: &Tenant, ext: &str) -> Key {
    Key::tenant(t, format!("idx:ctoks:user:{ext}"))
}
pub(crate) fn user(t: &Tenant, ext: &str) -> Key {
    Key::tenant(t, format!("user:{ext}"))
}
/// A deleted user's tombstone (see `tenancy/tombstones.rs`).
pub(crate) fn user_tombstone(t: &Tenant, ext: &str) -> Key {
    Key::tenant(t, format!("tomb:user:{ext}"))
}
pub(crate) fn users_index(t: &Tenant) -> Key {
    Key::tenant(t, "idx:users")
}
pub(crate) fn account(t: &Tenant, id: &str) -> Key {
    Key::tenant(t, format!("acct:{id}"))
}
pub(crate) fn accounts_index(t: &Tenant) -> Key {
    Key::tenant(t, "idx:accounts")
}
pub(crate) fn accounts_by_user(t: &Tenant, ext: &str) -> Key {
    Key::tenant(t, format!("idx:accounts:user:{ext}"))
}
pub(crate) fn accounts_by_app(t: &Tenant, app: &str) -> Key {
    Key::tenant(t, format!("idx:accounts:app:{app}"))
}
pub(crate) fn accounts_by_user_app(t: &Tenant, ext: &str, app: &str) -> Key {
    Key::tenant(t, format!("idx:accounts:user_app:{ext}:{app}"))
}
/// A stashed file's metadata and bytes (`actions/stash.rs`).
pub(crate) fn stash_meta(t: &Tenant, key: &str) -> Key {
    Key::tenant(t, format!("stash:{key}:meta"))
}
pub(crate) fn stash_data(t: &Tenant, key: &str) -> Key {
    Key::tenant(t, format!("stash:{key}:data"))
}
/// Bytes stashed on UTC day `day` (days since the epoch).
pub(crate) fn stash_quota(t: &Tenant, day: u64) -> Key {
    Key::tenant(t, format!("stash_bytes:{day}"))
}
/// A usage counter: `metric` in the hour starting at `window` (epoch s).
pub(crate) fn usage(t: &Tenant, metric: &str, window: u64) -> Key {
    Key::tenant(t, format!("usage:{metric}:{window}"))
}
pub(crate) fn oauth_app(project: &str, id: &str) -> Key {
    Key::global(format!("p:{project}"), format!("oauth_app:{id}"))
}
pub(crate) fn oauth_apps_index(project: &str) -> Key {
    Key::global(format!("p:{project}"), "idx:oauth_apps")
}
pub(crate) fn oauth_apps_by_app(project: &str, app: &str) -> Key {
    Key::global(format!("p:{project}"), format!("idx:oauth_apps:app:{app}"))
}
pub(crate) fn app_override(project: &str, id: &str) -> Key {
    Key::global(format!("p:{project}"), format!("app_override:{id}"))
}
/// An override's name (SHA-256), unique per project: holds its id.
pub(crate) fn app_override_name(project: &str, name_sha: &str) -> Key {
    Key::global(
        format!("p:{project}"),
        format!("app_override_name:{name_sha}"),
    )
}
pub(crate) fn app_overrides_index(project: &str) -> Key {
    Key::global(format!("p:{project}"), "idx:app_overrides")
}
pub(crate) fn app_overrides_by_app(project: &str, app: &str) -> Key {
    Key::global(
        format!("p:{project}"),
        format!("idx:app_overrides:app:{app}"),
    )
}
pub(crate) fn component(t: &Tenant, key: &str) -> Key {
    Key::tenant(t, format!("component:{key}"))
}
pub(crate) fn components_index(t: &Tenant) -> Key {
    Key::tenant(t, "idx:components")
}
pub(crate) fn poll_lock(t: &Tenant, dc: &str) -> Key {
    Key::tenant(t, format!("lock:poll:{dc}"))
}
pub(crate) fn refresh_lock(t: &Tenant, account: &str) -> Key {
    Key::tenant(t, format!("lock:refresh:{account}"))
}
pub(crate) fn idempotency(t: &Tenant, key_sha: &str) -> Key {
    Key::tenant(t, format!("idem:{key_sha}"))
}
pub(crate) fn deployment(t: &Tenant, id: &str) -> Key {
    Key::tenant(t, format!("dc:{id}"))
}
pub(crate) fn deployments_index(t: &Tenant) -> Key {
    Key::tenant(t, "idx:dc")
}
pub(crate) fn deployments_by_user(t: &Tenant, ext: &str) -> Key {
    Key::tenant(t, format!("idx:dc:user:{ext}"))
}
pub(crate) fn event(t: &Tenant, dc: &str, id: &str) -> Key {
    Key::tenant(t, format!("ev:{dc}:{id}"))
}
pub(crate) fn events_index(t: &Tenant, dc: &str) -> Key {
    Key::tenant(t, format!("idx:ev:{dc}"))
}
pub(crate) fn hook(id: &str) -> Key {
    Key::global(format!("hook:{id}"), "route")
}
pub(crate) fn delivery_job(id: &str) -> Key {
    Key::global(format!("dlv:{id}"), "job")
}
pub(crate) fn schedule_due() -> Key {
    Key::global("schedule", "idx:due")
}
pub(crate) fn schedule_ready() -> Key {
    Key::global("schedule", "q:ready")
}
pub(crate) fn refresh_due() -> Key {
    Key::global("accounts", "idx:refresh_due")
}
pub(crate) fn deliveries_ready() -> Key {
    Key::global("deliveries", "q:ready")
}
pub(crate) fn fifo_line(deployment: &str, webhook: &str) -> Key {
    Key::global(format!("fifo:{deployment}:{webhook}"), "idx:line")
}
pub(crate) fn fifo_lock(deployment: &str, webhook: &str) -> Key {
    Key::global(format!("fifo:{deployment}:{webhook}"), "lock")
}
pub(crate) fn delivery_attempt(id: &str, n: u32) -> Key {
    Key::global(format!("dlv:{id}"), format!("attempt:{n:04}"))
}
pub(crate) fn deliveries_due() -> Key {
    Key::global("deliveries", "idx:due")
}
pub(crate) fn deliveries_dead(t: &Tenant) -> Key {
    Key::tenant(t, "idx:dead_deliveries")
}
pub(crate) fn default_webhook(t: &Tenant) -> Key {
    Key::tenant(t, "default_webhook")
}
pub(crate) fn signature_failures(t: &Tenant, dc: &str) -> Key {
    Key::tenant(t, format!("sigfail:{dc}"))
}
pub(crate) fn inbound_seen(t: &Tenant, dc: &str, sha: &str) -> Key {
    Key::tenant(t, format!("seen:{dc}:{sha}"))
}
pub(crate) fn app_signature_failures(t: &Tenant, oauth_app: &str) -> Key {
    Key::tenant(t, format!("sigfail:app:{oauth_app}"))
}
/// Where an app-level ingress URL (`/hooks/apps/<id>/<env>`) leads.
pub(crate) fn app_ingress(id: &str) -> Key {
    Key::global(format!("appingress:{id}"), "route")
}
/// Active deployments of an app's app-level triggers, by route values:
/// members `<component key>:<sha256 of the values>:<deployment id>`.
pub(crate) fn app_routes_index(t: &Tenant, app: &str) -> Key {
    Key::tenant(t, format!("idx:approute:{app}"))
}
/// The keys of the components that have (or had) entries in the above.
pub(crate) fn app_route_components(t: &Tenant, app: &str) -> Key {
    Key::tenant(t, format!("idx:approute_keys:{app}"))
}
/// A deployment's entries in the app routing index, to remove them exactly.
pub(crate) fn app_route_entry(t: &Tenant, dc: &str) -> Key {
    Key::tenant(t, format!("approute:{dc}"))
}
pub(crate) fn keycheck(id: &str) -> Key {
    Key::global("meta", format!("keycheck:{id}"))
}
pub(crate) fn keychecks_index() -> Key {
    Key::global("meta", "idx:keychecks")
}

pub(crate) fn to_bytes<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("domain records serialize")
}

pub(crate) fn from_bytes<T: DeserializeOwned>(b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| Error::internal_from("corrupt record", e))
}

pub(crate) fn put<T: Serialize>(key: Key, v: &T) -> Op {
    Op::put(key, to_bytes(v))
}

pub(crate) fn index_add(index: Key, member: &str) -> Op {
    Op::IndexAdd {
        index,
        member: member.to_string(),
    }
}

pub(crate) fn index_remove(index: Key, member: &str) -> Op {
    Op::IndexRemove {
        index,
        member: member.to_string(),
    }
}
