//! One operation → one action manifest: key, name, description, props,
//! and a single templated request against the app's API (so the app's
//! auth, retry and paging apply, as in the built-in actions).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::document::Document;
use super::names::{self, Names, has_markers, literal};
use super::params::{self, Origin, Planned};
use super::schema::Kind;
use crate::{App, AuthType};

/// The methods an action step can send, as OpenAPI spells them.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
const SENDABLE: [&str; 6] = ["get", "put", "post", "delete", "head", "patch"];
/// The step's name, for `returns`.
const STEP: &str = "request";

pub struct Built {
    pub key: String,
    pub manifest: Value,
    pub notes: Vec<String>,
}

/// What every operation of one document shares.
pub struct Target<'a> {
    pub app: &'a App,
    /// The path of the document's server that the app's base URL lacks
    /// (`/v1` for a server `https://api.x.com/v1` and a base `https://api.x.com`).
    pub base_path: String,
    pub version: String,
}

/// The server path to put before each operation's path.
pub fn base_path(doc: &Document, app: &App) -> String {
    let Some(server) = doc
        .root
        .pointer("/servers/0")
        .filter(|s| s.get("url").is_some_and(Value::is_string))
    else {
        return String::new();
    };
    let mut url = server["url"].as_str().unwrap_or_default().to_string();
    // Server variables take their defaults.
    if let Some(vars) = server.get("variables").and_then(Value::as_object) {
        for (k, v) in vars {
            if let Some(d) = v.get("default").and_then(Value::as_str) {
                url = url.replace(&format!("{{{k}}}"), d);
            }
        }
    }
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => url.as_str(),
    };
    let path = path.trim_end_matches('/');
    let base = app
        .api
        .as_ref()
        .map_or("", |a| a.base_url.trim_end_matches('/'));
    if path.is_empty() || base.ends_with(path) || path.contains(['{', '}']) || has_markers(path) {
        String::new()
    } else {
        path.to_string()
    }
}

/// The operation's part of the key: its operationId, else method and path.
fn operation_key(method: &str, path: &str, operation_id: Option<&str>) -> String {
    let from_id = operation_id.map(names::kebab).unwrap_or_default();
    if from_id.is_empty() {
        names::kebab(&format!("{method} {path}"))
    } else {
        from_id
    }
}

/// Whether the first 2xx response is a JSON array (a list to page through).
fn lists(doc: &Document, op: &Value) -> bool {
    let Some(responses) = op.get("responses").and_then(Value::as_object) else {
        return false;
    };
    let Some((_, r)) = responses.iter().find(|(code, _)| code.starts_with('2')) else {
        return false;
    };
    let schema = doc.deref(r).ok().and_then(|r| {
        r.get("content")?
            .as_object()?
            .iter()
            .find(|(t, _)| params::is_json(t))
            .and_then(|(_, m)| m.get("schema"))
    });
    schema
        .and_then(|s| doc.deref(s).ok())
        .is_some_and(|s| s.get("type").and_then(Value::as_str) == Some("array"))
}

/// The URL template: literal parts of the path as they are, each
/// `{param}` its prop, percent-encoded as one segment.
fn url(base_path: &str, path: &str, props: &[Planned]) -> Result<String, String> {
    let mut out = base_path.to_string();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| format!("path {path:?} has an unclosed {{"))?;
        out.push_str(&rest[..open]);
        let wire = &rest[open + 1..close];
        let p = props
            .iter()
            .find(|p| p.origin == Origin::Path && p.wire == wire)
            .ok_or_else(|| format!("path parameter {wire:?} is not declared"))?;
        out.push_str(&format!("{{{{ props.{} | path_segment }}}}", p.name));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn expr(p: &Planned) -> String {
    let n = &p.name;
    match (p.origin, p.kind) {
        (Origin::Query { explode: false }, k) if k.is_array() => {
            format!("{{{{ none if props.{n} is none else props.{n} | join(',') }}}}")
        }
        (Origin::Header, k) if k.is_array() => {
            format!("{{{{ '' if props.{n} is none else props.{n} | join(',') }}}}")
        }
        // Headers are rendered as text: an unset one must be empty, not "none".
        (Origin::Header, _) => format!("{{{{ '' if props.{n} is none else props.{n} }}}}"),
        (Origin::Body, Kind::Number) => format!("{{{{ props.{n} | to_number }}}}"),
        _ => format!("{{{{ props.{n} }}}}"),
    }
}

pub fn action(
    doc: &Document,
    t: &Target<'_>,
    path: &str,
    method: &str,
    item: &Value,
    op: &Value,
) -> Result<Built, String> {
    let app = t.app;
    if !SENDABLE.contains(&method) {
        return Err(format!("method {} is not supported", method.to_uppercase()));
    }
    if app
        .api
        .as_ref()
        .is_none_or(|a| a.base_url.trim().is_empty())
    {
        return Err(format!("app {} has no API base URL", app.name_slug));
    }
    if op
        .get("callbacks")
        .and_then(Value::as_object)
        .is_some_and(|c| !c.is_empty())
    {
        return Err("callbacks are not supported".into());
    }
    if has_markers(path) || path.contains("}}") || path.contains("%}") {
        return Err("the path looks like a template".into());
    }
    let operation_id = op.get("operationId").and_then(Value::as_str);
    let mut taken = Names::default();
    let mut props: Vec<Value> = Vec::new();
    if app.auth.kind != AuthType::None {
        let name = taken.claim(&names::prop_name(&app.name_slug), None);
        props.push(json!({"name": name, "type": "app", "app": app.name_slug}));
    }
    let mut plan = params::plan(doc, app, item, op, &mut taken)?;
    // A declared path parameter the path does not use is not an input.
    let used = |wire: &str| path.contains(&format!("{{{wire}}}"));
    plan.props
        .retain(|p| p.origin != Origin::Path || used(&p.wire));
    let mut request = Map::new();
    request.insert("method".into(), json!(method.to_uppercase()));
    request.insert("url".into(), json!(url(&t.base_path, path, &plan.props)?));
    let mut query = BTreeMap::new();
    let mut headers = BTreeMap::new();
    let mut body = Map::new();
    let mut whole_body = None;
    for p in &plan.props {
        match p.origin {
            Origin::Path => {}
            Origin::Query { .. } => {
                query.insert(p.wire.clone(), expr(p));
            }
            Origin::Header => {
                headers.insert(p.wire.clone(), expr(p));
            }
            Origin::Body => {
                body.insert(p.wire.clone(), json!(expr(p)));
            }
            Origin::WholeBody => whole_body = Some(expr(p)),
        }
        props.push(p.prop.clone());
    }
    if !query.is_empty() {
        request.insert("query".into(), json!(query));
    }
    if !headers.is_empty() {
        request.insert("headers".into(), json!(headers));
    }
    let encoding = if plan.form { "form" } else { "json" };
    if let Some(w) = whole_body {
        request.insert(encoding.into(), json!(w));
    } else if plan.props.iter().any(|p| p.origin == Origin::Body) {
        request.insert(encoding.into(), Value::Object(body));
    }
    let mut step = json!({"name": STEP, "request": request});
    let mut returns = None;
    let pages = app.api.as_ref().is_some_and(|a| a.pagination.is_some());
    if method == "get" && pages && lists(doc, op) {
        let name = taken.claim("maxResults", None);
        props.push(json!({
            "name": name, "type": "integer", "label": "Max results", "optional": true,
            "default": 100, "min": 1, "max": crate::action::MAX_COLLECTED_ITEMS,
            "description": "Follow the API's pages until this many items are collected."
        }));
        step["paginate"] = json!({"items": "$", "max_items": format!("{{{{ props.{name} }}}}")});
        returns = Some(json!(format!("{{{{ steps.{STEP}['items'] }}}}")));
    }

    let summary = op
        .get("summary")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let label = summary
        .map(str::to_string)
        .or_else(|| operation_id.map(str::to_string))
        .unwrap_or_else(|| format!("{} {path}", method.to_uppercase()));
    let name = literal(&label, names::MAX_NAME);
    let mut description = op
        .get("description")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or(summary)
        .unwrap_or_default()
        .to_string();
    let docs = op
        .pointer("/externalDocs/url")
        .and_then(Value::as_str)
        .filter(|u| {
            (u.starts_with("https://") || u.starts_with("http://"))
                && !u.contains(|c: char| c.is_whitespace() || c == '(' || c == ')')
                && u.len() <= 500
        });
    let budget = names::MAX_DESCRIPTION - docs.map_or(0, |u| u.len() + 40);
    description = literal(&description, budget);
    if let Some(u) = docs {
        let sep = if description.is_empty() { "" } else { " " };
        description.push_str(&format!(
            "{sep}See [the documentation]({}).",
            literal(u, 500)
        ));
    }
    let read_only = matches!(method, "get" | "head");
    let mut manifest = json!({
        "manifest_version": 1,
        "kind": "action",
        "key": names::key(&app.name_slug, &operation_key(method, path, operation_id)),
        "name": name,
        "version": t.version,
        "description": description,
        "app": app.name_slug,
        "annotations": {
            "readOnlyHint": read_only,
            "destructiveHint": method == "delete",
            "idempotentHint": matches!(method, "get" | "head" | "put" | "delete"),
            "openWorldHint": true
        },
        "props": props,
        "steps": [step],
        "summary": format!("{} succeeded", literal(&label, names::MAX_NAME)),
    });
    if let Some(r) = returns {
        manifest["returns"] = r;
    }
    Ok(Built {
        key: manifest["key"].as_str().unwrap_or_default().to_string(),
        manifest,
        notes: plan.notes,
    })
}
