//! Import of Nango's provider catalog (`providers.yaml` from the
//! `@nangohq/providers` npm package): each provider is mapped to an app
//! manifest, then validated like a built-in one. The file stays where the
//! user keeps it; nothing derived from it is written anywhere.

pub mod custom_request;
pub mod map;
pub mod model;
pub mod signing;
pub mod templates;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::{App, Manifest, manifest};
pub use map::{Mapped, slug};
pub use model::Provider;

/// What one provider became.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub provider: String,
    pub auth_mode: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Imported {
        app: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        notes: Vec<String>,
    },
    /// Mapped, but a built-in app has the slug and wins.
    Shadowed {
        app: String,
    },
    Refused {
        reason: String,
    },
}

/// Counts for one auth mode.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModeCounts {
    pub total: usize,
    pub imported: usize,
    pub shadowed: usize,
    pub refused: usize,
    /// Refusal reasons, grouped by their general part (before the first
    /// provider-specific detail), with how many providers each.
    pub reasons: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub providers: Vec<Entry>,
    pub modes: BTreeMap<String, ModeCounts>,
}

impl Report {
    fn push(&mut self, e: Entry) {
        let c = self.modes.entry(e.auth_mode.clone()).or_default();
        c.total += 1;
        match &e.outcome {
            Outcome::Imported { .. } => c.imported += 1,
            Outcome::Shadowed { .. } => c.shadowed += 1,
            Outcome::Refused { reason } => {
                c.refused += 1;
                *c.reasons.entry(reason_group(reason)).or_default() += 1;
            }
        }
        self.providers.push(e);
    }

    /// Apps imported (not shadowed).
    pub fn imported(&self) -> usize {
        self.modes.values().map(|c| c.imported).sum()
    }

    pub fn refused(&self) -> usize {
        self.modes.values().map(|c| c.refused).sum()
    }

    /// The human summary `check-providers` prints.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for e in &self.providers {
            let what = match &e.outcome {
                Outcome::Imported { app, notes } if notes.is_empty() => format!("-> {app}"),
                Outcome::Imported { app, notes } => format!("-> {app} ({})", notes.join("; ")),
                Outcome::Shadowed { app } => format!("-> {app}: shadowed by the built-in app"),
                Outcome::Refused { reason } => format!("refused: {reason}"),
            };
            s.push_str(&format!("{} [{}] {what}\n", e.provider, e.auth_mode));
        }
        s.push_str("\nauth mode: total imported shadowed refused\n");
        for (m, c) in &self.modes {
            s.push_str(&format!(
                "{m}: {} {} {} {}\n",
                c.total, c.imported, c.shadowed, c.refused
            ));
            for (r, n) in &c.reasons {
                s.push_str(&format!("    {n} x {r}\n"));
            }
        }
        s
    }
}

/// Groups reasons by what went wrong, not which provider: quoted values
/// and `${…}` expressions become `…`.
pub(crate) fn reason_group(r: &str) -> String {
    let mut out = String::new();
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for d in chars.by_ref() {
                    if d == '"' {
                        break;
                    }
                }
                out.push('…');
            }
            '$' if chars.peek() == Some(&'{') => {
                let mut depth = 0;
                for d in chars.by_ref() {
                    match d {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                out.push_str("${…}");
            }
            c => out.push(c),
        }
    }
    out
}

/// The mode a provider reports under: its own or, for an alias, its
/// target's.
fn mode_of(all: &BTreeMap<String, Value>, name: &str) -> String {
    let mut cur = name;
    for _ in 0..8 {
        let Some(p) = all.get(cur) else { break };
        if let Some(m) = p.get("auth_mode").and_then(Value::as_str) {
            return m.to_string();
        }
        match p.get("alias").and_then(Value::as_str) {
            Some(a) => cur = a,
            None => break,
        }
    }
    "NONE_GIVEN".into()
}

/// An alias inherits its target, then overrides it (deeply, so an alias
/// may change only `proxy.base_url`).
fn resolve(all: &BTreeMap<String, Value>, name: &str, depth: usize) -> Result<Value, String> {
    let own = all
        .get(name)
        .ok_or_else(|| format!("alias target {name:?} does not exist"))?;
    let Some(target) = own.get("alias").and_then(Value::as_str) else {
        return Ok(own.clone());
    };
    if depth > 8 {
        return Err("alias chain is too long or circular".into());
    }
    let mut base = resolve(all, target, depth + 1)?;
    let (Some(b), Some(o)) = (base.as_object_mut(), own.as_object()) else {
        return Err("not a mapping".into());
    };
    for (k, v) in o {
        if k == "alias" {
            continue;
        }
        match b.get_mut(k) {
            Some(bv) => merge(bv, v),
            None => {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(base)
}

/// Deep merge, as Nango reads aliases: mappings merge key by key, anything
/// else is replaced.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(bv) => merge(bv, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Parses `providers.yaml` text into providers by name, as JSON values.
pub fn parse(text: &str) -> Result<BTreeMap<String, Value>, String> {
    serde_norway::from_str(text).map_err(|e| format!("not a provider catalog: {e}"))
}

/// Maps one provider and validates the result as a manifest.
pub fn import_one(all: &BTreeMap<String, Value>, name: &str) -> Result<Mapped, String> {
    let v = resolve(all, name, 0)?;
    // The mode first: other modes' fields need not fit the model.
    match v.get("auth_mode").and_then(Value::as_str) {
        None => return Err("no auth_mode".into()),
        Some(m) if !map::SUPPORTED.contains(&m) => {
            return Err(format!("auth mode {m} is not supported yet"));
        }
        Some(_) => {}
    }
    let p: Provider = serde_json::from_value(v).map_err(|e| format!("malformed provider: {e}"))?;
    let mut m = map::map(name, &p)?;
    let mut json = serde_json::to_value(&m.app).map_err(|e| e.to_string())?;
    // `App` writes an absent `oauth` as null, which the schema refuses.
    if let Some(auth) = json.get_mut("auth").and_then(Value::as_object_mut)
        && auth.get("oauth").is_some_and(Value::is_null)
    {
        auth.remove("oauth");
    }
    match manifest::parse_value(name, json) {
        Ok(Manifest::App(app)) => {
            m.app = *app;
            Ok(m)
        }
        Ok(Manifest::Component(_)) => Err("not an app".into()),
        Err(e) => Err(format!("invalid manifest: {}: {}", e.path, e.reason)),
    }
}

/// Imports a whole catalog; `taken` holds the slugs already present (the
/// built-in apps), which win. Returns the apps and the report.
pub fn import(text: &str, taken: &[&str]) -> Result<(Vec<App>, Report), String> {
    let all = parse(text)?;
    let mut report = Report::default();
    let mut apps: Vec<App> = Vec::new();
    let mut by_slug: BTreeMap<String, String> = BTreeMap::new();
    for name in all.keys() {
        let auth_mode = mode_of(&all, name);
        let outcome = match import_one(&all, name) {
            Err(reason) => Outcome::Refused { reason },
            Ok(m) if taken.contains(&m.app.name_slug.as_str()) => Outcome::Shadowed {
                app: m.app.name_slug,
            },
            Ok(m) => match by_slug.get(&m.app.name_slug) {
                Some(other) => Outcome::Refused {
                    reason: format!(
                        "slug {} is already taken by provider {other}",
                        m.app.name_slug
                    ),
                },
                None => {
                    by_slug.insert(m.app.name_slug.clone(), name.clone());
                    let app = m.app.name_slug.clone();
                    apps.push(m.app);
                    Outcome::Imported {
                        app,
                        notes: m.notes,
                    }
                }
            },
        };
        report.push(Entry {
            provider: name.clone(),
            auth_mode,
            outcome,
        });
    }
    Ok((apps, report))
}

#[cfg(test)]
mod tests;
