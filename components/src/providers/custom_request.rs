//! Every imported app with an API gets `<slug>-custom-request`: the
//! `http-custom-request` action bound to the app, so a request with the
//! account's credentials injected (headers, query, Basic, signing) runs
//! through `actions.run` like any other action, with no manifest to write.

use serde_json::json;

use crate::{App, Component, Manifest, manifest};

pub fn key(slug: &str) -> String {
    format!("{slug}-custom-request")
}

/// The action for `app`, validated like any manifest; `None` for an app
/// without an API.
pub fn custom_request(app: &App) -> Option<Result<Component, String>> {
    app.api.as_ref()?;
    let slug = &app.name_slug;
    // The app prop is named after the app (Pipedream's convention) unless
    // the slug is no valid prop name (`1password_events`).
    let prop = if slug.starts_with(|c: char| c.is_ascii_digit()) {
        "app"
    } else {
        slug.as_str()
    };
    let m = json!({
        "manifest_version": 1,
        "kind": "action",
        "key": key(slug),
        "name": format!("Make an API request to {}", app.name),
        "version": "0.1.0",
        "description": format!(
            "Send an HTTP request to the {} API with the connected account's credentials. \
             The path is relative to the app's API base URL; absolute URLs must stay on its domains.",
            app.name
        ),
        "app": slug,
        "annotations": {"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": true},
        "props": [
            {"name": prop, "type": "app", "app": slug},
            {"name": "method", "type": "string", "label": "Method", "optional": true, "default": "GET",
             "options": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
            {"name": "path", "type": "string", "label": "Path", "description": "For example `/v1/users`."},
            {"name": "params", "type": "object", "label": "Query parameters", "optional": true},
            {"name": "headers", "type": "object", "label": "Headers", "optional": true},
            {"name": "body", "type": "any", "label": "JSON body", "optional": true},
            {"name": "failOnError", "type": "boolean", "label": "Fail on a 4xx or 5xx status", "optional": true, "default": true}
        ],
        "steps": [{
            "name": "send",
            "request": {
                "method": "{{ props.method }}",
                "url": "{{ props.path }}",
                "extra_query": "{{ props.params }}",
                "extra_headers": "{{ props.headers }}",
                "json": "{{ props.body }}"
            },
            "fail_if": "{{ props.failOnError and response.status >= 400 }}",
            "error": "{{ props.method }} {{ props.path }} answered HTTP {{ response.status }}"
        }],
        "summary": "{{ props.method }} {{ props.path }} answered HTTP {{ steps.send.status }}",
        "exports": {"status": "{{ steps.send.status }}"}
    });
    Some(match manifest::parse_value(&key(slug), m) {
        Ok(Manifest::Component(c)) => Ok(*c),
        Ok(Manifest::App(_)) => Err("not an action".into()),
        Err(e) => Err(format!("{}: {}", e.path, e.reason)),
    })
}
