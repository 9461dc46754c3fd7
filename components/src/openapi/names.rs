//! Names and text taken from a spec, made safe for a manifest: keys in
//! Pipedream's kebab case, prop names that are identifiers, and literal
//! text that can never be read as a template, all within bounds.

use serde_json::Value;

/// The manifest schema's limit on keys.
pub const MAX_KEY: usize = 100;
pub const MAX_PROP_NAME: usize = 64;
pub const MAX_NAME: usize = 120;
pub const MAX_LABEL: usize = 120;
pub const MAX_DESCRIPTION: usize = 2_000;
pub const MAX_PROP_DESCRIPTION: usize = 1_000;

/// `issues/create` → `issues-create`, `listPetsByID` → `list-pets-by-id`.
pub fn kebab(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            let boundary = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower);
            if boundary && !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out.trim_end_matches('-').to_string()
}

/// `<app>-<operation>`, cut to the schema's length limit.
pub fn key(app: &str, operation: &str) -> String {
    let mut k = format!("{app}-{operation}");
    if k.len() > MAX_KEY {
        k.truncate(MAX_KEY);
        k = k.trim_end_matches('-').to_string();
    }
    k
}

/// A prop name (`^[A-Za-z_][A-Za-z0-9_]*$`): other characters become `_`
/// (`X-Request-Id` → `X_Request_Id`, `filter[status]` → `filter_status`).
pub fn prop_name(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let mut out = out.trim_matches('_').to_string();
    if out.is_empty() {
        out = "param".into();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "p_");
    }
    out.truncate(MAX_PROP_NAME);
    out
}

/// Prop names of one action, each unique.
#[derive(Default)]
pub struct Names(Vec<String>);

impl Names {
    /// `wanted` if free, else `<prefix>_<wanted>` (a body field named like
    /// a parameter becomes `body_<name>`), else a numbered variant.
    pub fn claim(&mut self, wanted: &str, prefix: Option<&str>) -> String {
        let mut candidates = vec![wanted.to_string()];
        if let Some(p) = prefix {
            candidates.push(prop_name(&format!("{p}_{wanted}")));
        }
        let base = candidates.last().cloned().unwrap_or_default();
        let pick = candidates
            .into_iter()
            .find(|c| !self.0.contains(c))
            .unwrap_or_else(|| {
                (2..)
                    .map(|n| {
                        let mut b = base.clone();
                        b.truncate(MAX_PROP_NAME - 6);
                        format!("{b}_{n}")
                    })
                    .find(|c| !self.0.contains(c))
                    .expect("some number is free")
            });
        self.0.push(pick.clone());
        pick
    }
}

/// Whether a string would be read as a template (or a template comment).
pub fn has_markers(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// Whether any string inside a JSON value would be read as a template.
pub fn value_has_markers(v: &Value) -> bool {
    match v {
        Value::String(s) => has_markers(s),
        Value::Array(a) => a.iter().any(value_has_markers),
        Value::Object(o) => o.values().any(value_has_markers),
        _ => false,
    }
}

/// Text from the spec as literal manifest text: template openers are
/// broken up (`{{` → `{ {`), and the length is bounded (cut at a
/// character boundary, with an ellipsis).
pub fn literal(s: &str, max: usize) -> String {
    fn cut(t: &mut String, max: usize) {
        if t.len() > max {
            let mut at = max.saturating_sub(3);
            while !t.is_char_boundary(at) {
                at -= 1;
            }
            t.truncate(at);
            t.push('…');
        }
    }
    let mut t = s.trim().to_string();
    cut(&mut t, max);
    // Again until none is left: `{{{` becomes `{ {{` in one pass.
    while has_markers(&t) {
        t = t
            .replace("{{", "{ {")
            .replace("{%", "{ %")
            .replace("{#", "{ #");
    }
    // Cutting cannot make a marker: it only removes characters after one.
    cut(&mut t, max);
    t
}
