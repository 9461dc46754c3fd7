//! JSON Schemas of parameters and body properties, read as far as a prop
//! needs: its type, enum, default, bounds and description; and the
//! top-level properties of a JSON request body.

use serde_json::Value;

use super::document::Document;

/// Deepest nesting of `allOf`/`oneOf`/`anyOf`/`items` looked into.
pub const MAX_SCHEMA_DEPTH: usize = 16;

/// What a schema becomes as a Pipedream prop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    /// Pipedream has no number prop: a string, sent as a number.
    Number,
    Boolean,
    StringArray,
    IntegerArray,
    Object,
    Any,
}

impl Kind {
    pub fn prop_type(self) -> &'static str {
        match self {
            Kind::String | Kind::Number => "string",
            Kind::Integer => "integer",
            Kind::Boolean => "boolean",
            Kind::StringArray => "string[]",
            Kind::IntegerArray => "integer[]",
            Kind::Object => "object",
            Kind::Any => "any",
        }
    }

    pub fn is_scalar(self) -> bool {
        matches!(
            self,
            Kind::String | Kind::Integer | Kind::Number | Kind::Boolean
        )
    }

    pub fn is_array(self) -> bool {
        matches!(self, Kind::StringArray | Kind::IntegerArray)
    }

    /// A spec value (default, enum member) as this prop's value, if it is
    /// one: numbers become strings for number props.
    pub fn value(self, v: &Value) -> Option<Value> {
        match (self, v) {
            (Kind::String, Value::String(_))
            | (Kind::Boolean, Value::Bool(_))
            | (Kind::Object, Value::Object(_))
            | (Kind::Any, _) => Some(v.clone()),
            (Kind::Integer, Value::Number(n)) if n.is_i64() => Some(v.clone()),
            (Kind::Number, Value::Number(n)) => Some(Value::String(n.to_string())),
            (Kind::Number, Value::String(s)) if s.parse::<f64>().is_ok() => Some(v.clone()),
            (Kind::StringArray | Kind::IntegerArray, Value::Array(a)) => {
                let item = if self == Kind::StringArray {
                    Kind::String
                } else {
                    Kind::Integer
                };
                a.iter()
                    .map(|x| item.value(x))
                    .collect::<Option<Vec<_>>>()
                    .map(Value::Array)
            }
            _ => None,
        }
    }
}

fn named(t: &str) -> Kind {
    match t {
        "string" => Kind::String,
        "integer" => Kind::Integer,
        "number" => Kind::Number,
        "boolean" => Kind::Boolean,
        "object" => Kind::Object,
        _ => Kind::Any,
    }
}

/// Alternatives (`oneOf`, `anyOf`, a list of types) as one kind: the same
/// kind, else a string when scalars include one (a string can carry them),
/// else a number for integers and numbers, else anything.
fn combine(kinds: &[Kind]) -> Kind {
    let Some(first) = kinds.first() else {
        return Kind::Any;
    };
    if kinds.iter().all(|k| k == first) {
        return *first;
    }
    if kinds.iter().all(|k| k.is_scalar()) && kinds.contains(&Kind::String) {
        return Kind::String;
    }
    if kinds
        .iter()
        .all(|k| matches!(k, Kind::Integer | Kind::Number))
    {
        return Kind::Number;
    }
    Kind::Any
}

/// `type` as a list, without `null` (3.1's way of saying nullable).
fn types(s: &Value) -> Vec<&str> {
    match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => Vec::new(),
    }
}

/// Runs `f` on what `schema` references, with the references it went
/// through on `trail` for as long as `f` runs (so a schema nested in itself
/// is a cycle, not an endless expansion).
fn expand<T>(
    doc: &Document,
    schema: &Value,
    trail: &mut Vec<String>,
    depth: usize,
    f: impl FnOnce(&Value, &mut Vec<String>) -> Result<T, String>,
) -> Result<T, String> {
    if depth > MAX_SCHEMA_DEPTH {
        return Err(format!(
            "a schema nests more than {MAX_SCHEMA_DEPTH} levels"
        ));
    }
    let mark = trail.len();
    let s = doc.resolve(schema, trail)?;
    let out = f(s, trail);
    trail.truncate(mark);
    out
}

/// The prop kind of a schema. `trail`: the references being expanded
/// above this one (cycle detection).
pub fn kind(
    doc: &Document,
    schema: &Value,
    trail: &mut Vec<String>,
    depth: usize,
) -> Result<Kind, String> {
    expand(doc, schema, trail, depth, |s, trail| {
        let listed = types(s);
        if !listed.is_empty() {
            let mut kinds = Vec::new();
            for t in listed {
                kinds.push(match t {
                    "array" => array_kind(doc, s, trail, depth)?,
                    t => named(t),
                });
            }
            return Ok(combine(&kinds));
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for x in all {
                let k = kind(doc, x, trail, depth + 1)?;
                if k != Kind::Any {
                    return Ok(k);
                }
            }
            return Ok(Kind::Any);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(alts) = s.get(key).and_then(Value::as_array) {
                let mut kinds = Vec::new();
                for x in alts {
                    kinds.push(kind(doc, x, trail, depth + 1)?);
                }
                return Ok(combine(&kinds));
            }
        }
        if s.get("properties").is_some() || s.get("additionalProperties").is_some() {
            return Ok(Kind::Object);
        }
        if s.get("items").is_some() {
            return array_kind(doc, s, trail, depth);
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            let kinds: Vec<Kind> = e
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| match v {
                    Value::String(_) => Kind::String,
                    Value::Bool(_) => Kind::Boolean,
                    Value::Number(n) if n.is_i64() => Kind::Integer,
                    Value::Number(_) => Kind::Number,
                    _ => Kind::Any,
                })
                .collect();
            return Ok(combine(&kinds));
        }
        Ok(Kind::Any)
    })
}

fn array_kind(
    doc: &Document,
    s: &Value,
    trail: &mut Vec<String>,
    depth: usize,
) -> Result<Kind, String> {
    let Some(items) = s.get("items") else {
        return Ok(Kind::Any);
    };
    Ok(match kind(doc, items, trail, depth + 1)? {
        Kind::String => Kind::StringArray,
        Kind::Integer => Kind::IntegerArray,
        _ => Kind::Any,
    })
}

/// What a prop shows besides its type.
#[derive(Debug, Default)]
pub struct Details {
    pub title: Option<String>,
    pub description: Option<String>,
    pub enum_values: Option<Vec<Value>>,
    pub default: Option<Value>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub read_only: bool,
}

fn int(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

/// Details of a schema: from the schema itself (3.1 allows a description
/// beside a `$ref`), then what it references, then the single member of an
/// `allOf` wrapper; for arrays, the enum of their items.
pub fn details(doc: &Document, schema: &Value) -> Result<Details, String> {
    let mut layers = vec![schema];
    let resolved = doc.deref(schema)?;
    layers.push(resolved);
    if let Some([only]) = resolved
        .get("allOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        layers.push(doc.deref(only)?);
    }
    let find = |k: &str| layers.iter().find_map(|l| l.get(k));
    let text = |k: &str| find(k).and_then(Value::as_str).map(str::to_string);
    let mut enum_values = find("enum").and_then(Value::as_array).cloned();
    if enum_values.is_none()
        && let Some(items) = find("items")
    {
        enum_values = doc
            .deref(items)?
            .get("enum")
            .and_then(Value::as_array)
            .cloned();
    }
    Ok(Details {
        title: text("title"),
        description: text("description"),
        enum_values,
        default: find("default").cloned(),
        min: int(find("minimum")),
        max: int(find("maximum")),
        read_only: find("readOnly").and_then(Value::as_bool) == Some(true),
    })
}

/// The top-level properties of an object schema.
#[derive(Debug, Default)]
pub struct Shape {
    /// Name and schema, in the document's order.
    pub properties: Vec<(String, Value)>,
    pub required: Vec<String>,
    /// Takes properties it does not declare (`additionalProperties`, or
    /// no properties at all).
    pub open: bool,
}

/// The properties of a request body's schema: `allOf` members merged,
/// `oneOf`/`anyOf` alternatives united (what only some alternatives
/// require is optional). Anything but an object is an error.
pub fn shape(
    doc: &Document,
    schema: &Value,
    trail: &mut Vec<String>,
    depth: usize,
) -> Result<Shape, String> {
    expand(doc, schema, trail, depth, |s, trail| {
        if let Some(t) = types(s).into_iter().find(|t| *t != "object") {
            let article = if t.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            return Err(format!("{article} {t}, not an object"));
        }
        let mut out = Shape::default();
        let merge = |out: &mut Shape, sub: Shape, required: bool| {
            for (k, v) in sub.properties {
                if !out.properties.iter().any(|(n, _)| *n == k) {
                    out.properties.push((k, v));
                }
            }
            if required {
                out.required.extend(sub.required);
            }
            out.open |= sub.open;
        };
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            out.properties = props.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        }
        if let Some(req) = s.get("required").and_then(Value::as_array) {
            out.required = req
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
        }
        out.open = matches!(
            s.get("additionalProperties"),
            Some(Value::Bool(true) | Value::Object(_))
        );
        let mut composed = false;
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            composed = true;
            for x in all {
                let sub = shape(doc, x, trail, depth + 1)?;
                merge(&mut out, sub, true);
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(alts) = s.get(key).and_then(Value::as_array) {
                composed = true;
                for x in alts {
                    let sub = shape(doc, x, trail, depth + 1)?;
                    merge(&mut out, sub, false);
                }
            }
        }
        if !composed && out.properties.is_empty() {
            out.open = true;
        }
        Ok(out)
    })
}
