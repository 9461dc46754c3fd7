//! Sandboxed minijinja templates. Manifests use them for URLs, headers,
//! bodies, summaries and conditions. Every evaluation runs with a fuel budget
//! (bounds loops and work), strict undefined values (a typo is an error, not
//! an empty string) and a cap on the size of what it produces.

use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior, Value as JValue};
use serde_json::Value;

use crate::limits::{self, MAX_TEMPLATE_DEPTH, MAX_TEMPLATE_LEN, MAX_TEMPLATE_TAG_OPS};

/// Instructions one evaluation may spend.
pub const FUEL: u64 = limits::TEMPLATE_FUEL;
/// Largest string one evaluation may produce.
pub const MAX_OUTPUT_BYTES: usize = limits::MAX_TEMPLATE_OUTPUT_BYTES;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template does not compile: {0}")]
    Syntax(String),
    #[error("template ran out of fuel (more than {FUEL} instructions)")]
    OutOfFuel,
    #[error("template output exceeds {MAX_OUTPUT_BYTES} bytes")]
    TooLarge,
    #[error("template failed: {0}")]
    Eval(String),
    #[error("template refused: {0}")]
    Limit(#[from] limits::LimitError),
}

/// Length and nesting, checked before minijinja parses anything: brackets
/// of expressions (and of literal text, conservatively) and nested blocks.
fn precheck(src: &str) -> Result<(), TemplateError> {
    limits::check_len("template", src, MAX_TEMPLATE_LEN)?;
    limits::check_brackets("template", src, b"([{", b")]}", false, MAX_TEMPLATE_DEPTH)?;
    if let Some(n) = tag_ops(src).filter(|n| *n > MAX_TEMPLATE_TAG_OPS) {
        return Err(TemplateError::Syntax(format!(
            "an expression is too complex: {n} operators in one tag (at most {MAX_TEMPLATE_TAG_OPS})"
        )));
    }
    if block_depth(src) > MAX_TEMPLATE_DEPTH {
        return Err(limits::LimitError::TooDeep {
            what: "template",
            max: MAX_TEMPLATE_DEPTH,
        }
        .into());
    }
    Ok(())
}

/// The most operators in one `{{ … }}` or `{% … %}` tag. minijinja builds
/// chains (`a.b.c…`, `x | f | g…`, `1 + 1 + …`) as nested nodes and walks
/// them recursively, so a long chain is as deep as nested parentheses.
fn tag_ops(src: &str) -> Option<usize> {
    const WORDS: &[&str] = &["and", "or", "not", "if", "else", "is", "in"];
    let mut max = None;
    for (open, close) in [("{{", "}}"), ("{%", "%}")] {
        let mut rest = src;
        while let Some(at) = rest.find(open) {
            let body = &rest[at + open.len()..];
            let end = body.find(close).unwrap_or(body.len());
            let tag = &body[..end];
            let mut n = 0usize;
            let mut quote = None;
            let mut word = String::new();
            for c in tag.chars() {
                match quote {
                    Some(q) if c == q => quote = None,
                    Some(_) => {}
                    None if c == '\'' || c == '"' => quote = Some(c),
                    None if ".|~+-*/%[(".contains(c) => n += 1,
                    None => {}
                }
                if quote.is_none() && c.is_ascii_alphabetic() {
                    word.push(c);
                } else {
                    n += usize::from(WORDS.contains(&word.as_str()));
                    word.clear();
                }
            }
            n += usize::from(WORDS.contains(&word.as_str()));
            max = max.max(Some(n));
            rest = &body[end..];
        }
    }
    max
}

/// How deeply `{% if/for/macro/... %}` blocks nest.
fn block_depth(src: &str) -> usize {
    const OPENERS: &[&str] = &[
        "if",
        "for",
        "macro",
        "call",
        "filter",
        "with",
        "autoescape",
        "block",
        "raw",
    ];
    let (mut depth, mut max) = (0usize, 0usize);
    for tag in src.split("{%").skip(1) {
        let word: String = tag
            .trim_start_matches(['-', '+', '~'])
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        if word.starts_with("end") {
            depth = depth.saturating_sub(1);
        } else if OPENERS.contains(&word.as_str()) {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

/// A writer that refuses to grow past `MAX_OUTPUT_BYTES`.
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + b.len() > MAX_OUTPUT_BYTES {
            return Err(std::io::Error::other("too large"));
        }
        self.0.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn too_large(what: &str) -> minijinja::Error {
    minijinja::Error::new(
        minijinja::ErrorKind::InvalidOperation,
        format!("{what}: the result would exceed {MAX_OUTPUT_BYTES} bytes"),
    )
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(64);
        // Output is JSON/HTTP, never HTML: no auto-escaping.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        // The built-in filters whose output can outgrow their input many
        // times over, replaced by versions that refuse past the output cap.
        env.add_filter(
            "replace",
            |s: String, old: String, new: String| -> Result<String, minijinja::Error> {
                let n = if old.is_empty() {
                    s.chars().count() + 1
                } else {
                    s.matches(old.as_str()).count()
                };
                let size =
                    (s.len() as u64).saturating_add((n as u64).saturating_mul(new.len() as u64));
                if size > MAX_OUTPUT_BYTES as u64 {
                    return Err(too_large("replace"));
                }
                Ok(s.replace(old.as_str(), &new))
            },
        );
        env.add_filter("tojson", |v: JValue| -> Result<JValue, minijinja::Error> {
            let mut w = Capped(Vec::new());
            serde_json::to_writer(&mut w, &v).map_err(|_| too_large("tojson"))?;
            Ok(JValue::from_safe_string(
                String::from_utf8(w.0).unwrap_or_default(),
            ))
        });
        env.add_filter("b64encode", |s: String| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(s)
        });
        // Dates for cursors: "2026-11-23T08:00:00Z" | epoch_ms, and back.
        env.add_filter("epoch_ms", |v: JValue| -> Result<i64, minijinja::Error> {
            if let Some(n) = v.as_i64() {
                return Ok(n);
            }
            v.as_str().and_then(crate::feed::parse_date).ok_or_else(|| {
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("epoch_ms: {v} is not a date"),
                )
            })
        });
        env.add_filter("iso", |ms: i64| {
            crate::feed::format_ms(ms).unwrap_or_default()
        });
        env.add_filter("path_segment", path_segment);
        env.add_filter("to_number", to_number);
        env
    })
}

/// One URL path segment from a value: everything but RFC 3986's unreserved
/// characters percent-encoded (`/`, `?`, `#`, `%` included), so a value
/// cannot add segments, a query or a fragment. `.` and `..` are refused:
/// URL parsers resolve them (even percent-encoded) into another path.
fn path_segment(v: JValue) -> Result<String, minijinja::Error> {
    let s = match v.as_str() {
        Some(s) => s.to_string(),
        None if v.is_none() || v.is_undefined() => String::new(),
        None => v.to_string(),
    };
    if s.is_empty() || s == "." || s == ".." {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("a path parameter cannot be {s:?}"),
        ));
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

/// A number from a number or a numeric string (Pipedream has no number
/// prop: numbers arrive as strings); none stays none.
fn to_number(v: JValue) -> Result<JValue, minijinja::Error> {
    if v.is_none() || v.is_undefined() || v.is_number() {
        return Ok(v);
    }
    let s = v.as_str().map(str::trim).unwrap_or_default();
    if let Ok(n) = s.parse::<i64>() {
        return Ok(JValue::from(n));
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(JValue::from(f)),
        _ => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("{v} is not a number"),
        )),
    }
}

fn map_err(e: minijinja::Error) -> TemplateError {
    match e.kind() {
        minijinja::ErrorKind::OutOfFuel => TemplateError::OutOfFuel,
        minijinja::ErrorKind::SyntaxError => TemplateError::Syntax(e.to_string()),
        _ => {
            let mut msg = e.to_string();
            if let Some(detail) = e.detail()
                && !msg.contains(detail)
            {
                msg = format!("{msg}: {detail}");
            }
            TemplateError::Eval(msg)
        }
    }
}

/// `{{ expr }}` and nothing else: its value keeps its JSON type.
fn sole_expression(src: &str) -> Option<&str> {
    let inner = src.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner)
}

pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// Checks a template compiles, at manifest load time.
pub fn check(src: &str) -> Result<(), TemplateError> {
    if !is_template(src) {
        return Ok(());
    }
    precheck(src)?;
    match sole_expression(src) {
        Some(expr) => env().compile_expression(expr).map(|_| ()),
        None => env().template_from_str(src).map(|_| ()),
    }
    .map_err(map_err)
}

/// Renders a template to a string.
pub fn render(src: &str, ctx: &Value) -> Result<String, TemplateError> {
    if !is_template(src) {
        return Ok(src.to_string());
    }
    precheck(src)?;
    let out = env()
        .render_str(src, JValue::from(minijinja::value::Serde(ctx)))
        .map_err(map_err)?;
    if out.len() > MAX_OUTPUT_BYTES {
        return Err(TemplateError::TooLarge);
    }
    Ok(out)
}

/// Evaluates a template to a JSON value. A string that is exactly one
/// `{{ expr }}` yields the expression's value with its type (so a list prop
/// stays a list); any other template renders to a string.
pub fn eval(src: &str, ctx: &Value) -> Result<Value, TemplateError> {
    let Some(expr) = sole_expression(src) else {
        return render(src, ctx).map(Value::String);
    };
    precheck(src)?;
    let v = env()
        .compile_expression(expr)
        .map_err(map_err)?
        .eval(JValue::from(minijinja::value::Serde(ctx)))
        .map_err(map_err)?;
    if v.is_undefined() {
        return Err(TemplateError::Eval(format!("{expr} is undefined")));
    }
    let json = serde_json::to_value(&v).map_err(|e| TemplateError::Eval(e.to_string()))?;
    if json.to_string().len() > MAX_OUTPUT_BYTES {
        return Err(TemplateError::TooLarge);
    }
    Ok(json)
}

/// Whether a condition template is truthy.
pub fn truthy(src: &str, ctx: &Value) -> Result<bool, TemplateError> {
    Ok(match eval(src, ctx)? {
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !(s.is_empty() || s == "false" || s == "False"),
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(true) => true,
    })
}

/// Evaluates every string leaf of a JSON structure as a template; keys stay.
pub fn eval_tree(tree: &Value, ctx: &Value) -> Result<Value, TemplateError> {
    Ok(match tree {
        Value::String(s) => eval(s, ctx)?,
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| eval_tree(v, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut out = serde_json::Map::new();
            for (k, v) in o {
                out.insert(k.clone(), eval_tree(v, ctx)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Checks every string leaf of a JSON structure compiles.
pub fn check_tree(tree: &Value) -> Result<(), (String, TemplateError)> {
    fn walk(v: &Value, path: &str) -> Result<(), (String, TemplateError)> {
        match v {
            Value::String(s) => check(s).map_err(|e| (path.to_string(), e)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            Value::Object(o) => o
                .iter()
                .try_for_each(|(k, v)| walk(v, &format!("{path}.{k}"))),
            _ => Ok(()),
        }
    }
    walk(tree, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sole_expressions_keep_their_type_and_others_render() {
        let ctx = json!({"props": {"labels": ["a", "b"], "n": 3, "name": "x"}});
        assert_eq!(eval("{{ props.labels }}", &ctx).unwrap(), json!(["a", "b"]));
        assert_eq!(eval(" {{ props.n }} ", &ctx).unwrap(), json!(3));
        assert_eq!(eval("n={{ props.n }}", &ctx).unwrap(), json!("n=3"));
        assert_eq!(eval("plain", &ctx).unwrap(), json!("plain"));
        assert!(truthy("{{ props.n > 2 }}", &ctx).unwrap());
        assert_eq!(
            eval_tree(&json!({"t": "{{ props.name | upper }}", "k": 1}), &ctx).unwrap(),
            json!({"t": "X", "k": 1})
        );
    }

    #[test]
    fn undefined_values_are_errors_not_empty_strings() {
        let ctx = json!({"props": {"name": "x"}});
        let e = render("hi {{ props.nmae }}", &ctx).unwrap_err();
        assert!(matches!(e, TemplateError::Eval(_)), "{e:?}");
        assert!(eval("{{ props.nmae }}", &ctx).is_err());
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let e = render(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            &json!({}),
        )
        .unwrap_err();
        assert_eq!(e, TemplateError::OutOfFuel);
        let big = eval("{{ 'x' * 5000000 }}", &json!({}));
        assert!(big.is_err(), "{big:?}");
    }

    #[test]
    fn amplifying_filters_are_capped() {
        let e = eval(
            "{{ 'ab' | replace('', 'x' * 40) | replace('', 'y' * 40) | replace('', 'z' * 40) | replace('', 'w' * 40) | length }}",
            &json!({}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("exceed"), "{e}");
        let e = eval("{{ ([1] * 10000000) | tojson | length }}", &json!({})).unwrap_err();
        assert!(e.to_string().contains("exceed"), "{e}");
        assert_eq!(
            eval("{{ 'a-b' | replace('-', '+') }}", &json!({})).unwrap(),
            json!("a+b")
        );
        assert_eq!(
            eval("{{ {'a': [1]} | tojson }}", &json!({})).unwrap(),
            json!("{\"a\":[1]}")
        );
    }

    #[test]
    fn over_long_and_deep_templates_are_refused_before_parsing() {
        let long = format!("{{{{ '{}' }}}}", "x".repeat(MAX_TEMPLATE_LEN));
        let e = check(&long).unwrap_err();
        assert!(e.to_string().contains("too long"), "{e}");
        assert!(render(&long, &json!({})).is_err());
        // 30,000 nested parentheses: refused before minijinja's parser.
        let deep = format!("{{{{ {}1{} }}}}", "(".repeat(30_000), ")".repeat(30_000));
        let e = eval(&deep, &json!({})).unwrap_err();
        assert!(matches!(e, TemplateError::Limit(_)), "{e}");
        let deep = format!("{{{{ {}1{} }}}}", "[".repeat(100), "]".repeat(100));
        assert!(
            check(&deep)
                .unwrap_err()
                .to_string()
                .contains("nests too deeply")
        );
        let blocks = format!(
            "{}x{}",
            "{% if true %}".repeat(40),
            "{% endif %}".repeat(40)
        );
        assert!(
            check(&blocks)
                .unwrap_err()
                .to_string()
                .contains("nests too deeply")
        );
        // Long chains nest as deeply as parentheses do.
        for op in [".a", "|upper", "~'a'", "+1", " and x", "[0]"] {
            let chain = format!("{{{{ x{} }}}}", op.repeat(3_000));
            let e = check(&chain).unwrap_err();
            assert!(e.to_string().contains("too complex"), "{op}: {e}");
        }
        assert_eq!(
            eval(
                &format!("{{{{ x{} }}}}", "~'a'".repeat(100)),
                &json!({"x": ""})
            )
            .unwrap(),
            json!("a".repeat(100))
        );
        // Within the limits, a template still works.
        let ok = format!(
            "{}x{}",
            "{% if true %}".repeat(10),
            "{% endif %}".repeat(10)
        );
        assert_eq!(render(&ok, &json!({})).unwrap(), "x");
    }

    #[test]
    fn path_segments_are_encoded_and_numbers_parsed() {
        let seg = |v: Value| eval("{{ props.x | path_segment }}", &json!({"props": {"x": v}}));
        assert_eq!(
            seg(json!("a b/c?d#e%")).unwrap(),
            json!("a%20b%2Fc%3Fd%23e%25")
        );
        assert_eq!(
            seg(json!("Hello-World_1.x~")).unwrap(),
            json!("Hello-World_1.x~")
        );
        assert_eq!(seg(json!(42)).unwrap(), json!("42"));
        for bad in [json!(""), json!("."), json!(".."), Value::Null] {
            let e = seg(bad.clone()).unwrap_err();
            assert!(e.to_string().contains("path parameter"), "{bad}: {e}");
        }
        let num = |v: Value| eval("{{ props.x | to_number }}", &json!({"props": {"x": v}}));
        assert_eq!(num(json!("12")).unwrap(), json!(12));
        assert_eq!(num(json!(" 1.5 ")).unwrap(), json!(1.5));
        assert_eq!(num(json!(3)).unwrap(), json!(3));
        assert_eq!(num(Value::Null).unwrap(), Value::Null);
        let e = num(json!("twelve")).unwrap_err();
        assert!(e.to_string().contains("is not a number"), "{e}");
        assert!(num(json!("NaN")).is_err());
    }

    #[test]
    fn syntax_errors_are_caught_at_check_time() {
        assert!(matches!(check("{{ a + }}"), Err(TemplateError::Syntax(_))));
        assert!(check("{% if x %}y").is_err());
        assert!(check("{{ props.a }}/x/{{ props.b | urlencode }}").is_ok());
    }
}
