//! Wire shapes, exactly as Pipedream Connect's SDKs parse them.

use serde::Serialize;
use serde_json::{Value, json};
use switchboard_components::Component;
use switchboard_domain::clock::iso;
use switchboard_domain::delivery::WebhookView;
use switchboard_domain::model::ExternalUser;
use switchboard_domain::paging::Page;
use switchboard_domain::triggers::Deployment;

/// `{data, page_info}`; `end_cursor` is null on the last page.
pub fn page<T, U: Serialize>(page: Page<T>, f: impl FnMut(T) -> U) -> Value {
    let count = page.data.len();
    let (total, start, end) = (
        page.total_count,
        page.start_cursor.clone(),
        page.end_cursor.clone(),
    );
    let data: Vec<U> = page.data.into_iter().map(f).collect();
    json!({
        "data": data,
        "page_info": {
            "count": count,
            "total_count": total,
            "start_cursor": start,
            "end_cursor": end,
        }
    })
}

/// Pipedream's `Component`: every configurable prop in its strict shape.
pub fn component(c: &Component, private: bool) -> Value {
    let props: Vec<Value> = c.props.iter().map(|p| p.wire()).collect();
    let a = &c.annotations;
    json!({
        "key": c.key,
        "name": c.name,
        "version": c.version,
        "description": c.description,
        "component_type": c.component_type(),
        "app": c.app,
        "registry": if private { "private" } else { "public" },
        "configurable_props": props,
        "annotations": {
            "title": c.name,
            "readOnlyHint": a.read_only_hint,
            "destructiveHint": a.destructive_hint,
            "idempotentHint": a.idempotent_hint,
            "openWorldHint": a.open_world_hint,
        },
    })
}

/// Pipedream's `DeployedComponent` (epoch-second timestamps).
pub fn deployed_trigger(d: &Deployment, c: Option<&Component>, signing_key: Option<&str>) -> Value {
    let props: Vec<Value> = c
        .map(|c| c.props.iter().map(|p| p.wire()).collect())
        .unwrap_or_default();
    let slug: String = d
        .name
        .to_lowercase()
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
        .collect();
    let mut v = json!({
        "type": "DeployedComponent",
        "id": d.id,
        "owner_id": d.owner_id,
        "component_id": format!("sc_{}", d.component_key),
        "component_key": d.component_key,
        "component_version": d.component_version,
        "configurable_props": props,
        "configured_props": d.configured_props,
        "active": d.active,
        "created_at": d.created_at / 1000,
        "updated_at": d.updated_at / 1000,
        "name": d.name,
        "name_slug": slug,
        "emit_on_deploy": d.emit_on_deploy,
        "fifo": d.fifo,
        "next_run_at": d.next_run_ms.map(|ms| ms / 1000),
        "last_run_at": d.last_run_ms.map(|ms| ms / 1000),
        // Switchboard: the dead account that suspended it, until reconnected.
        "suspended_for_account": d.suspended_for,
        // Switchboard: how a polling source's polls are going.
        "poll": d.poll.as_ref().map(|p| json!({
            "last_status": p.last_status,
            "last_error": p.last_error,
            "last_poll_at": p.last_poll_ms.map(|ms| ms / 1000),
            "last_emit_at": p.last_emit_ms.map(|ms| ms / 1000),
            "consecutive_failures": p.failures,
            "polls": p.polls,
        })),
        "callback_observations": null,
    });
    if let Some(k) = signing_key {
        v["webhook_signing_key"] = json!(k);
    }
    v
}

/// `TriggerWebhook` / `WebhookWithSigningKey`; the key for server callers only.
pub fn trigger_webhook(v: &WebhookView, with_key: bool) -> Value {
    let w = &v.webhook;
    let mut out = json!({
        "id": w.id,
        "url": w.url,
        "signing_key_set": true,
        "active": w.active,
        "delivery_backend": "switchboard",
        "delivery_state": w.delivery_state,
        "created_at": w.created_at / 1000,
        "updated_at": w.updated_at / 1000,
    });
    if with_key {
        out["signing_key"] = json!(v.signing_key);
    }
    out
}

pub use switchboard_domain::accounts::render::{account, app};

pub fn user(u: &ExternalUser) -> Value {
    json!({
        "id": u.id,
        "external_id": u.external_id,
        "created_at": iso(u.created_at),
        "updated_at": iso(u.updated_at),
    })
}
