//! OpenAPI 3.x import: each selected operation of a spec becomes an action
//! manifest of one app, validated exactly like a built-in one. The spec
//! stays where the user keeps it; nothing derived from it is written.

mod build;
pub mod document;
mod names;
mod params;
mod report;
mod schema;
mod select;

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

pub use report::{Entry, Outcome, Report};
pub use select::{Selection, glob};

use crate::{App, Catalog, Component, Manifest, manifest};

/// Most operations read from one document.
pub const MAX_OPERATIONS: usize = 20_000;

/// Generates the actions of `sel`'s operations for `app`, checked against
/// `catalog` (its app references, and the keys it already has: those win).
pub fn import(
    text: &str,
    app: &App,
    sel: &Selection,
    catalog: &Catalog,
    file: &str,
) -> Result<(Vec<Component>, Report), String> {
    let doc = document::parse(text)?;
    Ok(generate(&doc, app, sel, catalog, file))
}

fn generate(
    doc: &document::Document,
    app: &App,
    sel: &Selection,
    catalog: &Catalog,
    file: &str,
) -> (Vec<Component>, Report) {
    let target = build::Target {
        app,
        base_path: build::base_path(doc, app),
        version: doc
            .root
            .pointer("/info/version")
            .and_then(Value::as_str)
            .filter(|v| {
                let parts: Vec<&str> = v.split('.').collect();
                parts.len() == 3
                    && parts.iter().all(|p| {
                        !p.is_empty() && p.len() < 10 && p.bytes().all(|b| b.is_ascii_digit())
                    })
            })
            .unwrap_or("0.1.0")
            .to_string(),
    };
    let existing: HashSet<&str> = catalog
        .components()
        .iter()
        .map(|c| c.key.as_str())
        .collect();
    let mut generated: BTreeMap<String, String> = BTreeMap::new();
    let mut components = Vec::new();
    let mut report = Report {
        app: app.name_slug.clone(),
        ..Default::default()
    };
    let empty = serde_json::Map::new();
    let paths = doc
        .root
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut seen = 0usize;
    for (path, item) in paths {
        let item = match doc.deref(item) {
            Ok(item) => item,
            Err(reason) => {
                // An unresolvable path item: one refusal for the path.
                report.push(Entry {
                    operation: path.clone(),
                    method: "*".into(),
                    path: path.clone(),
                    outcome: Outcome::Refused { reason },
                });
                continue;
            }
        };
        for method in build::METHODS {
            let Some(op) = item.get(method).filter(|o| o.is_object()) else {
                continue;
            };
            let operation_id = op.get("operationId").and_then(Value::as_str);
            let tags: Vec<&str> = op
                .get("tags")
                .and_then(Value::as_array)
                .map(|t| t.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !sel.selects(operation_id, &tags) {
                report.excluded += 1;
                continue;
            }
            seen += 1;
            let operation = operation_id
                .map(|s| names::literal(s, 200))
                .unwrap_or_else(|| format!("{} {path}", method.to_uppercase()));
            let outcome = if seen > MAX_OPERATIONS {
                Outcome::Refused {
                    reason: format!("more than {MAX_OPERATIONS} operations in one document"),
                }
            } else {
                match build::action(doc, &target, path, method, item, op) {
                    Err(reason) => Outcome::Refused { reason },
                    Ok(b) if existing.contains(b.key.as_str()) => Outcome::Shadowed { key: b.key },
                    Ok(b) => match generated.get(&b.key) {
                        Some(other) => Outcome::Refused {
                            reason: format!("key {} is already generated for {other:?}", b.key),
                        },
                        None => match validate(catalog, file, &operation, b.manifest) {
                            Ok(c) => {
                                generated.insert(b.key.clone(), operation.clone());
                                components.push(c);
                                Outcome::Generated {
                                    key: b.key,
                                    notes: b.notes,
                                }
                            }
                            Err(reason) => Outcome::Refused { reason },
                        },
                    },
                }
            };
            report.push(Entry {
                operation,
                method: method.to_string(),
                path: path.clone(),
                outcome,
            });
        }
    }
    (components, report)
}

/// The same checks as a built-in manifest: the JSON Schema, typed
/// parsing, templates, and the catalog's app references.
fn validate(catalog: &Catalog, file: &str, operation: &str, v: Value) -> Result<Component, String> {
    let at = format!("{file}#{operation}");
    let c = match manifest::parse_value(&at, v) {
        Ok(Manifest::Component(c)) => *c,
        Ok(Manifest::App(_)) => return Err("not an action".into()),
        Err(e) => return Err(format!("invalid manifest: {}: {}", e.path, e.reason)),
    };
    catalog
        .check_component(&at, &c)
        .map_err(|e| format!("invalid manifest: {}: {}", e.path, e.reason))?;
    Ok(c)
}

#[cfg(test)]
mod tests;
