//! Loading manifests: JSON, then the published JSON Schema
//! (`components/schema/manifest.v1.json`), then typed parsing and the
//! checks a schema cannot express (templates compile, JSONPaths parse,
//! names are unique, the app exists). Any defect is refused with the file,
//! the path inside it and the reason.

use std::sync::OnceLock;

use jsonschema::Validator;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::app::{App, ManifestKind};
use crate::component::{Component, Source};
use crate::props::{Prop, PropType};
use crate::{ManifestError, jsonpath, limits, template};

pub const SCHEMA: &str = include_str!("../schema/manifest.v1.json");
pub const MANIFEST_VERSION: u64 = 1;
/// Actions must finish well inside the SDKs' 60 s client timeout.
pub const MAX_ACTION_TIMEOUT_SECS: u64 = 55;
pub const DEFAULT_ACTION_TIMEOUT_SECS: u64 = 30;

/// One validator per kind, so errors point into the right definition
/// instead of "not valid under any of the schemas in oneOf".
fn validator(kind: ManifestKind) -> &'static Validator {
    static V: OnceLock<[Validator; 3]> = OnceLock::new();
    let all = V.get_or_init(|| {
        let root: Value = serde_json::from_str(SCHEMA).expect("schema is JSON");
        let build = |def: &str| {
            let mut s = root.clone();
            let o = s.as_object_mut().expect("schema object");
            o.remove("oneOf");
            o.remove("properties");
            o.remove("required");
            o.insert("$ref".into(), Value::String(format!("#/$defs/{def}")));
            jsonschema::validator_for(&s).expect("schema compiles")
        };
        [build("app"), build("action"), build("trigger")]
    });
    match kind {
        ManifestKind::App => &all[0],
        ManifestKind::Action => &all[1],
        ManifestKind::Trigger => &all[2],
    }
}

/// A parsed manifest of any kind.
#[derive(Debug, Clone)]
pub enum Manifest {
    App(Box<App>),
    Component(Box<Component>),
}

pub(crate) fn error(
    file: &str,
    path: impl Into<String>,
    reason: impl Into<String>,
) -> ManifestError {
    ManifestError {
        file: file.to_string(),
        path: path.into(),
        reason: reason.into(),
    }
}

/// `/a/0/b` → `a[0].b`; the root is `$`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.parse::<usize>().is_ok() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    if out.is_empty() { "$".into() } else { out }
}

fn typed<T: DeserializeOwned>(file: &str, v: Value) -> Result<T, ManifestError> {
    serde_json::from_value(v).map_err(|e| error(file, "$", e.to_string()))
}

/// Parses and validates one manifest's text.
pub fn parse(file: &str, text: &str) -> Result<Manifest, ManifestError> {
    // Size and nesting before the JSON parser sees it.
    limits::check_len("manifest", text, limits::MAX_MANIFEST_BYTES)
        .and_then(|_| {
            limits::check_brackets(
                "manifest",
                text,
                b"[{",
                b"]}",
                true,
                limits::MAX_MANIFEST_DEPTH,
            )
        })
        .map_err(|e| error(file, "$", e.to_string()))?;
    let v: Value = serde_json::from_str(text)
        .map_err(|e| error(file, "$", format!("invalid JSON manifest: {e}")))?;
    parse_value(file, v)
}

pub fn parse_value(file: &str, v: Value) -> Result<Manifest, ManifestError> {
    if limits::json_depth(&v, limits::MAX_MANIFEST_DEPTH) > limits::MAX_MANIFEST_DEPTH {
        return Err(error(
            file,
            "$",
            limits::LimitError::TooDeep {
                what: "manifest",
                max: limits::MAX_MANIFEST_DEPTH,
            }
            .to_string(),
        ));
    }
    let size = serde_json::to_vec(&v).map_or(usize::MAX, |b| b.len());
    if size > limits::MAX_MANIFEST_BYTES {
        return Err(error(
            file,
            "$",
            limits::LimitError::TooLong {
                what: "manifest",
                len: size,
                max: limits::MAX_MANIFEST_BYTES,
            }
            .to_string(),
        ));
    }
    let version = v.get("manifest_version").and_then(Value::as_u64);
    if version != Some(MANIFEST_VERSION) {
        return Err(error(
            file,
            "manifest_version",
            format!(
                "must be {MANIFEST_VERSION}, got {}",
                v.get("manifest_version").unwrap_or(&Value::Null)
            ),
        ));
    }
    let kind: ManifestKind = v
        .get("kind")
        .cloned()
        .and_then(|k| serde_json::from_value(k).ok())
        .ok_or_else(|| {
            error(
                file,
                "kind",
                "must be one of \"app\", \"action\", \"trigger\"",
            )
        })?;
    if let Some(e) = validator(kind).iter_errors(&v).next() {
        return Err(error(
            file,
            dotted(e.instance_path().as_str()),
            e.to_string(),
        ));
    }
    // Every string leaf that looks like a template must compile.
    template::check_tree(&v).map_err(|(path, e)| {
        error(
            file,
            path.trim_start_matches('.').to_string(),
            e.to_string(),
        )
    })?;
    Ok(match kind {
        ManifestKind::App => {
            let app: App = typed(file, v)?;
            app.check(file)?;
            Manifest::App(Box::new(app))
        }
        _ => {
            let c: Component = typed(file, v)?;
            check_component(file, &c)?;
            Manifest::Component(Box::new(c))
        }
    })
}

/// A JSONPath, or a template yielding one (checked when it is rendered).
fn check_path(file: &str, at: &str, path: &str) -> Result<(), ManifestError> {
    if crate::template::is_template(path) {
        return crate::template::check(path).map_err(|e| error(file, at, e.to_string()));
    }
    jsonpath::compile(path)
        .map(|_| ())
        .map_err(|e| error(file, at, e))
}

fn check_props(
    file: &str,
    at: &str,
    props: &[Prop],
    seen: &mut Vec<String>,
) -> Result<(), ManifestError> {
    for (i, p) in props.iter().enumerate() {
        let here = format!("{at}[{i}]");
        if seen.contains(&p.name) {
            return Err(error(
                file,
                format!("{here}.name"),
                format!("prop {:?} is declared twice", p.name),
            ));
        }
        seen.push(p.name.clone());
        if let Some(o) = &p.options_request {
            if !matches!(
                p.kind,
                PropType::String
                    | PropType::StringArray
                    | PropType::Integer
                    | PropType::IntegerArray
            ) {
                return Err(error(
                    file,
                    format!("{here}.optionsRequest"),
                    "remote options need a string or integer prop",
                ));
            }
            check_path(file, &format!("{here}.optionsRequest.items"), &o.items)?;
        }
        if let (Some(min), Some(max)) = (p.min, p.max)
            && min > max
        {
            return Err(error(
                file,
                format!("{here}.min"),
                format!("min {min} is above max {max}"),
            ));
        }
    }
    Ok(())
}

fn check_component(file: &str, c: &Component) -> Result<(), ManifestError> {
    if !c.key.starts_with(&format!("{}-", c.app)) {
        return Err(error(
            file,
            "key",
            format!("must start with the app slug: {}-…", c.app),
        ));
    }
    let mut seen = Vec::new();
    check_props(file, "props", &c.props, &mut seen)?;
    for (i, d) in c.dynamic_props.iter().enumerate() {
        check_props(
            file,
            &format!("dynamic_props[{i}].props"),
            &d.props,
            &mut seen,
        )?;
    }
    let mut steps = Vec::new();
    for (i, s) in c.steps.iter().enumerate() {
        if steps.contains(&&s.name) {
            return Err(error(
                file,
                format!("steps[{i}].name"),
                format!("step {:?} is declared twice", s.name),
            ));
        }
        steps.push(&s.name);
        for (k, p) in &s.extract {
            check_path(file, &format!("steps[{i}].extract.{k}"), p)?;
        }
        if let Some(pg) = &s.paginate {
            check_path(file, &format!("steps[{i}].paginate.items"), &pg.items)?;
        }
    }
    if let Some(t) = c.timeout_secs
        && t > MAX_ACTION_TIMEOUT_SECS
    {
        return Err(error(
            file,
            "timeout_secs",
            format!("must be at most {MAX_ACTION_TIMEOUT_SECS}"),
        ));
    }
    match &c.source {
        Some(Source::Polling(p)) => {
            check_path(file, "source.items", &p.items)?;
            check_path(file, "source.id", &p.id)?;
            if let Some(ts) = &p.ts {
                check_path(file, "source.ts", ts)?;
            }
            for (at, t) in [
                ("source.summary", Some(&p.summary)),
                ("source.cursor", p.cursor.as_ref()),
                ("source.filter", p.filter.as_ref()),
                ("source.more", p.more.as_ref()),
            ] {
                if let Some(t) = t {
                    crate::template::check(t).map_err(|e| error(file, at, e.to_string()))?;
                }
            }
            if let Some(tree) = &p.event {
                crate::template::check_tree(tree)
                    .map_err(|(at, e)| error(file, format!("source.event{at}"), e.to_string()))?;
            }
        }
        Some(Source::Webhook(w)) => {
            for (at, step) in [
                ("source.activate", &w.activate),
                ("source.deactivate", &w.deactivate),
            ] {
                if let Some(s) = step {
                    for (k, p) in &s.extract {
                        check_path(file, &format!("{at}.extract.{k}"), p)?;
                    }
                }
            }
            let http = c.props.iter().any(|p| p.kind == PropType::HttpInterface);
            match w.ingress {
                crate::component::Ingress::Deployment if !http => {
                    return Err(error(
                        file,
                        "props",
                        "a webhook trigger with its own URL needs a $.interface.http prop",
                    ));
                }
                crate::component::Ingress::App if http => {
                    return Err(error(
                        file,
                        "props",
                        "an app-level webhook trigger shares its app's URL: it cannot have a $.interface.http prop",
                    ));
                }
                crate::component::Ingress::App if w.route.is_empty() => {
                    return Err(error(
                        file,
                        "source.route",
                        "an app-level webhook trigger needs at least one route key",
                    ));
                }
                _ => {}
            }
        }
        Some(Source::Timer(_)) if !c.props.iter().any(|p| p.kind == PropType::TimerInterface) => {
            return Err(error(
                file,
                "props",
                "a timer trigger needs a $.interface.timer prop",
            ));
        }
        Some(Source::Timer(_)) => {}
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_dotted_paths() {
        assert_eq!(dotted(""), "$");
        assert_eq!(dotted("/steps/0/request/url"), "steps[0].request.url");
    }

    fn trigger(items: &str) -> Value {
        serde_json::json!({
            "manifest_version": 1, "kind": "trigger", "key": "http-x-poll", "name": "X",
            "version": "0.1.0", "app": "http", "props": [],
            "source": {"type": "polling", "default_interval_secs": 60,
                       "request": {"url": "https://x.example/"},
                       "items": items, "id": "$.id", "dedupe": "unique", "summary": "s"}
        })
    }

    #[test]
    fn hostile_manifests_are_refused_before_parsing() {
        // 30,000 nested arrays in the text: refused before serde_json.
        let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
        let e = parse("m.json", &deep).unwrap_err();
        assert!(e.reason.contains("nests too deeply"), "{e}");
        let long = format!("\"{}\"", "x".repeat(limits::MAX_MANIFEST_BYTES));
        assert!(
            parse("m.json", &long)
                .unwrap_err()
                .reason
                .contains("too long")
        );
        // A value nested past the limit (built without the parser).
        let mut v = trigger("$[*]");
        let mut deep = serde_json::json!(1);
        for _ in 0..40 {
            deep = serde_json::json!([deep]);
        }
        v["description"] = deep;
        let e = parse_value("m.json", v).unwrap_err();
        assert!(e.reason.contains("nests too deeply"), "{e}");
        // Paths inside are bounded: the descendant bomb compiles (it is
        // short and shallow) but a deep one does not.
        let e = parse_value(
            "m.json",
            trigger(&format!("$[?{}@{}]", "(".repeat(40), ")".repeat(40))),
        )
        .unwrap_err();
        assert!(e.reason.contains("nests too deeply"), "{e}");
        parse_value("m.json", trigger("$[*]")).unwrap();
    }
}
