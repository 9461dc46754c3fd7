//! JSON shapes the domain sends itself (connection and health webhooks) and
//! the API returns: one definition, so a webhook's account is exactly what
//! `GET accounts/{id}` shows.

use serde_json::{Value, json};
use switchboard_components::App;

use crate::accounts::manage::AccountView;
use crate::clock::iso;

/// Pipedream's `App`.
pub fn app(a: &App, public_base: &str) -> Value {
    json!({
        "id": a.id,
        "name_slug": a.name_slug,
        "name": a.name,
        "auth_type": a.auth.kind.as_str(),
        "description": a.description,
        "img_src": format!("{public_base}/apps/{}/logo.svg", a.name_slug),
        "custom_fields_json": a.custom_fields_json(),
        "categories": a.categories,
        "featured_weight": a.featured_weight,
        "scope_profiles": a.scope_profiles,
        "connect": a.connect,
    })
}

/// Pipedream's `Account`, with credentials only when the view carries them.
pub fn account(v: &AccountView, public_base: &str) -> Value {
    let a = &v.account;
    let mut out = json!({
        "id": a.id,
        "name": a.name,
        "external_id": a.external_user_id,
        "healthy": a.healthy,
        "dead": a.dead,
        "app": app(&v.app, public_base),
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
        "authorized_scopes": a.authorized_scopes,
        "expires_at": a.expires_at.map(iso),
        "error": a.error,
        "last_refreshed_at": a.last_refreshed_at.map(iso),
        "next_refresh_at": a.next_refresh_at.map(iso),
    });
    if let Some(c) = &v.credentials {
        out["credentials"] = Value::Object(c.clone());
    }
    out
}
