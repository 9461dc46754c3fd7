//! Sandboxed minijinja templates. Manifests use them for URLs, headers,
//! bodies, summaries and conditions. Every evaluation runs with a fuel budget
//! (bounds loops and work), strict undefined values (a typo is an error, not
//! an empty string) and a cap on the size of what it produces.

use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior, Value as JValue};
use serde_json::Value;

/// Instructions one evaluation may spend.
pub const FUEL: u64 = 50_000;
/// Largest string one evaluation may produce.
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;

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
        env
    })
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
    fn syntax_errors_are_caught_at_check_time() {
        assert!(matches!(check("{{ a + }}"), Err(TemplateError::Syntax(_))));
        assert!(check("{% if x %}y").is_err());
        assert!(check("{{ props.a }}/x/{{ props.b | urlencode }}").is_ok());
    }
}
