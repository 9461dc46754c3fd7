//! An operation's inputs as props: path, query and header parameters, and
//! the top-level properties of its JSON request body.

use serde_json::{Map, Value, json};

use super::document::Document;
use super::names::{self, Names, literal, value_has_markers};
use super::schema::{self, Details, Kind};
use crate::App;

/// Most props one generated action may have.
pub const MAX_PROPS: usize = 200;
/// Most static options a prop lists; a longer enum is described instead.
pub const MAX_OPTIONS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Path,
    /// `explode: false` arrays are sent comma-separated.
    Query {
        explode: bool,
    },
    Header,
    /// One top-level property of the JSON body.
    Body,
    /// The whole JSON body (an object with no declared properties).
    WholeBody,
}

/// One input of the operation and the prop it becomes.
pub struct Planned {
    /// The prop's name (an identifier).
    pub name: String,
    /// The name on the wire (parameter or body property).
    pub wire: String,
    pub origin: Origin,
    pub kind: Kind,
    pub prop: Value,
}

#[derive(Default)]
pub struct Plan {
    pub props: Vec<Planned>,
    pub notes: Vec<String>,
    /// The body is sent form-encoded (`application/x-www-form-urlencoded`):
    /// the spec offers no JSON form.
    pub form: bool,
}

/// OpenAPI ignores header parameters with these names: the request body
/// and security schemes set them.
const IGNORED_HEADERS: [&str; 3] = ["accept", "content-type", "authorization"];

fn item_kind(k: Kind) -> Kind {
    match k {
        Kind::StringArray => Kind::String,
        Kind::IntegerArray => Kind::Integer,
        k => k,
    }
}

/// The manifest prop for one input.
fn make_prop(name: &str, wire: &str, kind: Kind, d: &Details, required: bool) -> Value {
    let label = d
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(wire);
    let mut p = Map::new();
    p.insert("name".into(), json!(name));
    p.insert("type".into(), json!(kind.prop_type()));
    p.insert("label".into(), json!(literal(label, names::MAX_LABEL)));
    let mut description = d.description.clone().unwrap_or_default();
    if kind == Kind::Number {
        description = format!("{} (a number)", description.trim_end());
    }
    if !required {
        p.insert("optional".into(), json!(true));
    }
    if let Some(v) = d.default.as_ref().and_then(|v| kind.value(v))
        && !value_has_markers(&v)
    {
        p.insert("default".into(), v);
    }
    if let Some(values) = &d.enum_values {
        let values: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
        let options: Option<Vec<Value>> = values
            .iter()
            .map(|v| item_kind(kind).value(v))
            .collect::<Option<Vec<_>>>()
            .filter(|o| !o.is_empty() && !o.iter().any(value_has_markers));
        match options {
            Some(o) if o.len() <= MAX_OPTIONS && kind != Kind::Any && kind != Kind::Object => {
                p.insert("options".into(), Value::Array(o));
            }
            _ if !values.is_empty() => {
                let shown: Vec<String> = values.iter().take(20).map(|v| v.to_string()).collect();
                let more = if values.len() > 20 { ", …" } else { "" };
                description = format!(
                    "{} One of ({} values): {}{more}.",
                    description.trim_end(),
                    values.len(),
                    shown.join(", ")
                );
            }
            _ => {}
        }
    }
    if matches!(kind, Kind::Integer | Kind::IntegerArray) {
        match (d.min, d.max) {
            (Some(a), Some(b)) if a > b => {}
            (min, max) => {
                if let Some(m) = min {
                    p.insert("min".into(), json!(m));
                }
                if let Some(m) = max {
                    p.insert("max".into(), json!(m));
                }
            }
        }
    }
    let description = literal(&description, names::MAX_PROP_DESCRIPTION);
    if !description.is_empty() {
        p.insert("description".into(), json!(description));
    }
    Value::Object(p)
}

/// The path item's and the operation's parameters, references resolved;
/// the operation's win over the path item's with the same name and place.
fn parameters<'a>(
    doc: &'a Document,
    item: &'a Value,
    op: &'a Value,
) -> Result<Vec<&'a Value>, String> {
    let mut out: Vec<&Value> = Vec::new();
    for list in [item.get("parameters"), op.get("parameters")] {
        for p in list.and_then(Value::as_array).into_iter().flatten() {
            let p = doc.deref(p)?;
            let id = |x: &Value| (x.get("name").cloned(), x.get("in").cloned());
            out.retain(|o| id(o) != id(p));
            out.push(p);
        }
    }
    Ok(out)
}

/// Skips an optional input that cannot be sent, or refuses the operation
/// when the input is required.
fn unsupported(plan: &mut Plan, required: bool, what: String) -> Result<(), String> {
    if required {
        return Err(format!("{what}, and it is required"));
    }
    plan.notes.push(format!("{what}: left out"));
    Ok(())
}

pub fn plan(
    doc: &Document,
    app: &App,
    item: &Value,
    op: &Value,
    taken: &mut Names,
) -> Result<Plan, String> {
    let mut plan = Plan::default();
    let params = parameters(doc, item, op)?;
    let api = app.api.as_ref();
    // Path parameters first, as the URL reads; then query, then headers.
    for place in ["path", "query", "header", "cookie"] {
        for p in params
            .iter()
            .filter(|p| p.get("in").and_then(Value::as_str) == Some(place))
        {
            let Some(wire) = p.get("name").and_then(Value::as_str) else {
                return Err("a parameter has no name".into());
            };
            let required =
                place == "path" || p.get("required").and_then(Value::as_bool) == Some(true);
            let lower = wire.to_ascii_lowercase();
            match place {
                "cookie" => {
                    unsupported(
                        &mut plan,
                        required,
                        format!("cookie parameter {wire:?} cannot be sent"),
                    )?;
                    continue;
                }
                "header" if IGNORED_HEADERS.contains(&lower.as_str()) => continue,
                "header"
                    if api.is_some_and(|a| {
                        a.headers.keys().any(|h| h.eq_ignore_ascii_case(wire))
                    }) =>
                {
                    plan.notes
                        .push(format!("header {wire:?} is set by the app"));
                    continue;
                }
                "query" if api.is_some_and(|a| a.query.contains_key(wire)) => {
                    plan.notes
                        .push(format!("query parameter {wire:?} is set by the app"));
                    continue;
                }
                _ => {}
            }
            let Some(schema) = p.get("schema") else {
                unsupported(
                    &mut plan,
                    required,
                    format!("{place} parameter {wire:?} is described by `content`, not a schema"),
                )?;
                continue;
            };
            let kind = schema::kind(doc, schema, &mut Vec::new(), 0)?;
            let style = p.get("style").and_then(Value::as_str);
            let origin = match place {
                "path" if !kind.is_scalar() => {
                    return Err(format!("path parameter {wire:?} is not a single value"));
                }
                "path" => Origin::Path,
                "query" if kind == Kind::Object || style == Some("deepObject") => {
                    unsupported(
                        &mut plan,
                        required,
                        format!("query parameter {wire:?} is an object"),
                    )?;
                    continue;
                }
                "query" => Origin::Query {
                    explode: p
                        .get("explode")
                        .and_then(Value::as_bool)
                        .unwrap_or(style.is_none_or(|s| s == "form")),
                },
                _ if kind == Kind::Object => {
                    unsupported(&mut plan, required, format!("header {wire:?} is an object"))?;
                    continue;
                }
                _ => Origin::Header,
            };
            let mut d = schema::details(doc, schema)?;
            if let Some(desc) = p.get("description").and_then(Value::as_str) {
                d.description = Some(desc.to_string());
            }
            let name = taken.claim(&names::prop_name(wire), None);
            plan.props.push(Planned {
                prop: make_prop(&name, wire, kind, &d, required),
                name,
                wire: wire.to_string(),
                origin,
                kind,
            });
        }
    }
    if let Some(body) = op.get("requestBody") {
        body_props(doc, doc.deref(body)?, taken, &mut plan)?;
    }
    if plan.props.len() > MAX_PROPS {
        return Err(format!(
            "{} inputs, more than the {MAX_PROPS} an action may have",
            plan.props.len()
        ));
    }
    Ok(plan)
}

const FORM: &str = "application/x-www-form-urlencoded";

/// Whether a media type is JSON (`application/json`, `…+json`).
pub fn is_json(media: &str) -> bool {
    let base = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    base == "application/json" || base == "text/json" || base.ends_with("+json")
}

/// Why a body without a JSON form cannot be sent.
fn not_json(types: &[&String]) -> String {
    let list = types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let any = |p: &str| types.iter().any(|t| t.to_ascii_lowercase().starts_with(p));
    if any("multipart/") {
        format!("multipart bodies (file uploads) are not supported: {list}")
    } else if any("application/octet-stream")
        || any("image/")
        || any("video/")
        || any("audio/")
        || any("*/*")
    {
        format!("binary bodies are not supported: {list}")
    } else {
        format!("only JSON bodies are supported, not {list}")
    }
}

fn body_props(
    doc: &Document,
    body: &Value,
    taken: &mut Names,
    plan: &mut Plan,
) -> Result<(), String> {
    let Some(content) = body
        .get("content")
        .and_then(Value::as_object)
        .filter(|c| !c.is_empty())
    else {
        return Ok(());
    };
    let form = |t: &str| {
        t.split(';')
            .next()
            .is_some_and(|b| b.trim().eq_ignore_ascii_case(FORM))
    };
    let Some((_, media)) = content
        .iter()
        .find(|(t, _)| is_json(t))
        .or_else(|| content.iter().find(|(t, _)| form(t)))
    else {
        return Err(not_json(&content.keys().collect::<Vec<_>>()));
    };
    plan.form = !content.keys().any(|t| is_json(t));
    let body_required = body.get("required").and_then(Value::as_bool) == Some(true);
    let empty = json!({});
    let schema = media.get("schema").unwrap_or(&empty);
    let shape = schema::shape(doc, schema, &mut Vec::new(), 0).map_err(|e| {
        if e.ends_with("not an object") {
            format!("the JSON request body is {e}")
        } else {
            e
        }
    })?;
    if shape.properties.is_empty() {
        let name = taken.claim("body", Some("request"));
        let d = schema::details(doc, schema)?;
        plan.props.push(Planned {
            prop: make_prop(&name, "body", Kind::Object, &d, body_required),
            name,
            wire: "body".into(),
            origin: Origin::WholeBody,
            kind: Kind::Object,
        });
        return Ok(());
    }
    if shape.open {
        plan.notes
            .push("body properties beyond the declared ones are not offered".into());
    }
    if plan.form
        && shape
            .properties
            .iter()
            .any(|(_, p)| p.get("type").and_then(Value::as_str) == Some("array"))
    {
        plan.notes
            .push("form-encoded arrays are sent as name[0], name[1], …".into());
    }
    // Required fields first, each group in the document's order.
    let mut fields: Vec<&(String, Value)> = shape.properties.iter().collect();
    fields.sort_by_key(|(k, _)| !shape.required.contains(k));
    for (wire, s) in fields {
        let d = schema::details(doc, s)?;
        if d.read_only {
            continue;
        }
        let kind = schema::kind(doc, s, &mut Vec::new(), 0)?;
        let required = body_required && shape.required.contains(wire);
        let name = taken.claim(&names::prop_name(wire), Some("body"));
        plan.props.push(Planned {
            prop: make_prop(&name, wire, kind, &d, required),
            name,
            wire: wire.clone(),
            origin: Origin::Body,
            kind,
        });
    }
    Ok(())
}
