//! An OpenAPI 3.0/3.1 document: parsed from JSON or YAML within bounds,
//! and its local `$ref`s followed (hop count bounded, cycles refused,
//! remote references never fetched).

use serde_json::{Map, Value};

/// Largest spec read (GitHub's full description is about 13 MB).
pub const MAX_SPEC_BYTES: usize = 64 << 20;
/// Most `$ref`s followed in one chain or one nesting of schemas.
pub const MAX_REF_HOPS: usize = 32;
/// Deepest YAML nesting converted (JSON's parser stops at 128 on its own).
const MAX_YAML_DEPTH: usize = 128;

#[derive(Debug)]
pub struct Document {
    pub root: Value,
}

/// Parses a document and checks it is OpenAPI 3.x. Swagger 2.0 is
/// refused: converting it (body parameters, `consumes`, definitions) is a
/// tool of its own, and one already exists.
pub fn parse(text: &str) -> Result<Document, String> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(format!(
            "the document is {} bytes, more than the {MAX_SPEC_BYTES} accepted",
            text.len()
        ));
    }
    let root: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| format!("not a JSON document: {e}"))?
    } else {
        let y: serde_norway::Value =
            serde_norway::from_str(text).map_err(|e| format!("not a YAML document: {e}"))?;
        from_yaml(y, 0)?
    };
    if root.get("swagger").is_some() {
        return Err(
            "OpenAPI 2 (Swagger) documents are not supported: convert it to OpenAPI 3 first \
             (for example with swagger2openapi)"
                .into(),
        );
    }
    match root.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.") => {}
        Some(v) => return Err(format!("OpenAPI {v} is not supported (only 3.0 and 3.1)")),
        None => return Err("not an OpenAPI document: no `openapi` version".into()),
    }
    if !root.get("paths").is_none_or(Value::is_object) {
        return Err("`paths` is not an object".into());
    }
    Ok(Document { root })
}

/// YAML to JSON: mapping keys that are numbers or booleans (`200:` in
/// `responses`) become strings.
fn from_yaml(v: serde_norway::Value, depth: usize) -> Result<Value, String> {
    use serde_norway::Value as Y;
    if depth > MAX_YAML_DEPTH {
        return Err(format!(
            "the document nests more than {MAX_YAML_DEPTH} levels"
        ));
    }
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(a) => Value::Array(
            a.into_iter()
                .map(|x| from_yaml(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    _ => return Err("a mapping key is not a string".into()),
                };
                out.insert(key, from_yaml(x, depth + 1)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => from_yaml(t.value, depth + 1)?,
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Document {
    /// The value a local reference (`#/components/schemas/Pet`) points at.
    fn target(&self, r: &str) -> Result<&Value, String> {
        let Some(pointer) = r.strip_prefix('#') else {
            return Err(format!("remote $ref {r:?} is not followed"));
        };
        self.root
            .pointer(&percent_decode(pointer))
            .ok_or_else(|| format!("$ref {r:?} points nowhere"))
    }

    /// Follows `$ref`s from `v` until a value that is not one. `trail`
    /// holds the references being expanded further up (nested schemas), so
    /// a schema that contains itself is refused instead of expanded forever.
    pub fn resolve<'a>(
        &'a self,
        mut v: &'a Value,
        trail: &mut Vec<String>,
    ) -> Result<&'a Value, String> {
        while let Some(r) = v.get("$ref").and_then(Value::as_str) {
            if trail.iter().any(|t| t == r) {
                return Err(format!("$ref cycle through {r}"));
            }
            if trail.len() >= MAX_REF_HOPS {
                return Err(format!("$refs nest more than {MAX_REF_HOPS} deep"));
            }
            trail.push(r.to_string());
            v = self.target(r)?;
        }
        Ok(v)
    }

    /// `resolve` for a value whose nested parts are not expanded.
    pub fn deref<'a>(&'a self, v: &'a Value) -> Result<&'a Value, String> {
        self.resolve(v, &mut Vec::new())
    }
}
