//! Remote options (`POST …/configure`) and reload props (`POST …/props`).

use serde_json::{Map, Value, json};

use crate::component::Component;
use crate::props::Prop;
use crate::runtime::{RunError, Session, response_value};
use crate::{jsonpath, template};

/// Most options rendered from one page (label templates cost CPU).
pub const MAX_OPTIONS_PER_PAGE: usize = 1000;

/// One page of options, and the context that fetches the next page.
#[derive(Debug, Clone)]
pub struct OptionsPage {
    pub options: Vec<Value>,
    /// `{"next": url}` while there are more pages.
    pub context: Value,
}

/// Fetches one page of a prop's remote options with the user's account.
/// `prev_context` is what the previous page returned.
pub async fn remote_options(
    s: &mut Session<'_>,
    prop: &Prop,
    props: Value,
    query: Option<&str>,
    prev_context: Option<&Value>,
) -> Result<OptionsPage, RunError> {
    let spec = prop
        .options_request
        .as_ref()
        .ok_or_else(|| RunError::Invalid(format!("prop {:?} has no remote options", prop.name)))?;
    let ctx = json!({"props": props, "query": query.unwrap_or_default()});
    let mut req = s.build(&spec.request, &ctx)?;
    if let Some(next) = prev_context
        .and_then(|c| c.get("next"))
        .and_then(Value::as_str)
    {
        // The caller hands back our own cursor: it may only move through
        // this request's pages (same origin and path), never elsewhere.
        let u = url::Url::parse(next)
            .map_err(|e| RunError::Invalid(format!("prev_context.next is not a URL: {e}")))?;
        let same = u.scheme() == req.url.scheme()
            && u.host_str() == req.url.host_str()
            && u.port_or_known_default() == req.url.port_or_known_default()
            && u.path() == req.url.path();
        if !same {
            return Err(RunError::Invalid(
                "prev_context does not continue this prop's options".into(),
            ));
        }
        req.url = u;
    }
    let resp = s.send(req.clone(), true).await?;
    if !(200..300).contains(&resp.status) {
        return Err(RunError::Failed {
            step: format!("options for {}", prop.name),
            status: resp.status,
            message: format!(
                "{} answered HTTP {} while listing options",
                s.app.name, resp.status
            ),
            body: resp.body_value(),
            retry_after_secs: s
                .retry_after(&resp)
                .map(switchboard_net::retry::header_secs),
        });
    }
    let rv = response_value(&resp);
    let mut items = jsonpath::all(&spec.items, &rv["body"]).map_err(RunError::Invalid)?;
    items.truncate(MAX_OPTIONS_PER_PAGE);
    let next = s.next_page(&req, &resp, &items)?;
    let needle = query
        .map(str::to_lowercase)
        .filter(|q| !q.is_empty() && spec.filter_by_query);
    let mut options = Vec::new();
    for item in &items {
        let ictx = json!({"item": item, "props": ctx["props"]});
        let label = template::render(&spec.label, &ictx)?;
        if let Some(q) = &needle
            && !label.to_lowercase().contains(q)
        {
            continue;
        }
        let value = template::eval(&spec.value, &ictx)?;
        options.push(json!({"label": label, "value": value}));
    }
    Ok(OptionsPage {
        options,
        context: match next {
            Some(n) => json!({"next": n.url.as_str()}),
            None => json!({}),
        },
    })
}

/// The props in force given what is configured so far: the static ones plus
/// every dynamic group whose condition holds.
pub fn resolve_props<'c>(
    c: &'c Component,
    configured: &Map<String, Value>,
) -> Result<Vec<&'c Prop>, RunError> {
    let mut props: Vec<&Prop> = c.props.iter().collect();
    if c.dynamic_props.is_empty() {
        return Ok(props);
    }
    let ctx = json!({"props": crate::action::props_context(&props, configured)});
    for d in &c.dynamic_props {
        if template::truthy(&d.when, &ctx)? {
            props.extend(d.props.iter());
        }
    }
    Ok(props)
}

/// A stable id for a set of dynamic props, so a later run can tell the
/// caller configured against the same form.
pub fn dynamic_props_id(props: &[&Prop]) -> String {
    // FNV-1a: stable across processes and builds, unlike DefaultHasher.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in props.iter().flat_map(|p| p.name.bytes().chain([0])) {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("dyp_{h:016x}")
}
