//! Running an action: its steps in order, each a templated HTTP request
//! over `props` and the earlier `steps`, then `$summary`, the exports and
//! the return value.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::component::{Component, Step};
use crate::manifest::DEFAULT_ACTION_TIMEOUT_SECS;
use crate::props::Prop;
use crate::runtime::{FileBody, RunError, Session, file_body, response_value};
use crate::{jsonpath, template};

/// Most items a paginated step collects, whatever its props ask.
pub const MAX_COLLECTED_ITEMS: u64 = 10_000;

/// What a successful run returns: Pipedream's `exports` and `ret`.
#[derive(Debug, Clone)]
pub struct ActionOutput {
    pub exports: Map<String, Value>,
    pub ret: Value,
    /// The last step's body when it is a file and the action declares no
    /// `returns`: the caller stashes it and returns a reference as `ret`.
    pub file: Option<FileBody>,
}

pub fn timeout(c: &Component) -> Duration {
    Duration::from_secs(c.timeout_secs.unwrap_or(DEFAULT_ACTION_TIMEOUT_SECS))
}

/// `props` as templates see them: every declared prop present, defaults
/// applied, unset optional props null (so `{% if props.x %}` works under
/// strict undefined values).
pub fn props_context(props: &[&Prop], configured: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for p in props {
        let v = configured
            .get(&p.name)
            .filter(|v| !v.is_null())
            .cloned()
            .or_else(|| p.default.clone())
            .unwrap_or(Value::Null);
        out.insert(p.name.clone(), v);
    }
    Value::Object(out)
}

/// Runs one step: also how trigger hooks (activate, deactivate) run.
pub async fn run_step(s: &mut Session<'_>, step: &Step, ctx: &Value) -> Result<Value, RunError> {
    let mut req = s.build(&step.request, ctx)?;
    let mut collected: Vec<Value> = Vec::new();
    let max_items = match &step.paginate {
        Some(p) => match template::eval(&p.max_items, ctx)? {
            Value::Number(n) => n.as_u64().unwrap_or(100),
            Value::String(x) => x.parse().unwrap_or(100),
            _ => 100,
        },
        None => 0,
    }
    .min(MAX_COLLECTED_ITEMS);
    loop {
        let resp = s.send(req.clone(), true).await?;
        let rv = response_value(&resp);
        let fails = match &step.fail_if {
            Some(cond) => template::truthy(cond, &json!({"response": rv, "props": ctx["props"]}))?,
            None => !(200..300).contains(&resp.status),
        };
        if fails {
            let message = match &step.error {
                Some(t) => template::render(t, &json!({"response": rv, "props": ctx["props"]}))?,
                None => format!("{} answered HTTP {}", s.app.name, resp.status),
            };
            return Err(RunError::Failed {
                step: step.name.clone(),
                status: resp.status,
                message,
                body: rv["body"].clone(),
                retry_after_secs: s
                    .retry_after(&resp)
                    .map(switchboard_net::retry::header_secs),
            });
        }
        let Some(p) = &step.paginate else {
            s.last_file = file_body(&resp);
            let mut out = rv;
            for (k, path) in &step.extract {
                let v = jsonpath::first(path, &out["body"]).map_err(RunError::Invalid)?;
                out[k] = v.unwrap_or(Value::Null);
            }
            return Ok(out);
        };
        let page = jsonpath::all(&p.items, &rv["body"]).map_err(RunError::Invalid)?;
        let next = s.next_page(&req, &resp, &page)?;
        collected.extend(page);
        if collected.len() as u64 >= max_items || next.is_none() {
            collected.truncate(max_items as usize);
            let mut out = rv;
            out["items"] = Value::Array(collected);
            return Ok(out);
        }
        req = next.expect("checked");
        s.check_domain(&req.url)?;
    }
}

/// Runs every step, then renders `$summary`, the exports and `ret`.
pub async fn run(
    s: &mut Session<'_>,
    c: &Component,
    props: Value,
) -> Result<ActionOutput, RunError> {
    let mut steps = Map::new();
    let mut last = Value::Null;
    for step in &c.steps {
        let ctx = json!({"props": props, "steps": steps});
        if let Some(cond) = &step.when
            && !template::truthy(cond, &ctx)?
        {
            continue;
        }
        s.last_file = None;
        let out = run_step(s, step, &ctx).await?;
        last = out["body"].clone();
        steps.insert(step.name.clone(), out);
    }
    let ctx = json!({"props": props, "steps": steps});
    let mut exports = Map::new();
    if let Some(t) = &c.summary {
        exports.insert("$summary".into(), Value::String(template::render(t, &ctx)?));
    }
    for (k, t) in &c.exports {
        exports.insert(k.clone(), template::eval(t, &ctx)?);
    }
    let (ret, file) = match &c.returns {
        Some(tree) => (template::eval_tree(tree, &ctx)?, None),
        None => (last, s.last_file.take()),
    };
    Ok(ActionOutput { exports, ret, file })
}
