//! Configurable props, in Pipedream's shape, and the validation of
//! `configured_props` against them: every bad prop is reported with why
//! (missing, wrong type, out of range, not an option, unknown).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::component::OptionsRequest;

/// Pipedream's prop types that Switchboard components may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PropType {
    #[serde(rename = "app")]
    App,
    #[serde(rename = "string")]
    String,
    #[serde(rename = "string[]")]
    StringArray,
    #[serde(rename = "integer")]
    Integer,
    #[serde(rename = "integer[]")]
    IntegerArray,
    #[serde(rename = "boolean")]
    Boolean,
    #[serde(rename = "object")]
    Object,
    #[serde(rename = "any")]
    Any,
    #[serde(rename = "alert")]
    Alert,
    #[serde(rename = "$.interface.http")]
    HttpInterface,
    #[serde(rename = "$.interface.timer")]
    TimerInterface,
    #[serde(rename = "$.service.db")]
    Db,
}

impl PropType {
    /// Props the user does not supply: the runtime provides them.
    pub fn is_runtime_provided(self) -> bool {
        matches!(
            self,
            PropType::Alert | PropType::HttpInterface | PropType::Db
        )
    }
}

/// A static option: a bare value or `{label, value}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PropOption {
    Labeled { label: String, value: Value },
    Bare(Value),
}

impl PropOption {
    pub fn value(&self) -> &Value {
        match self {
            PropOption::Labeled { value, .. } | PropOption::Bare(value) => value,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Prop {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: PropType,
    /// For `app` props: the app slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<PropOption>>,
    /// Where remote options come from; on the wire, `remoteOptions: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options_request: Option<Box<OptionsRequest>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reload_props: bool,
    /// For `alert` props.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_type: Option<String>,
    /// For `$.interface.http`: the trigger answers requests itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub custom_response: bool,
}

impl Prop {
    pub fn remote_options(&self) -> bool {
        self.options_request.is_some()
    }

    /// The prop as Pipedream's `ConfigurableProp`: every variant's required
    /// fields present (the Python SDK parses strictly), internals left out.
    pub fn wire(&self) -> Value {
        let mut v = json!({"name": self.name, "type": self.kind});
        let o = v.as_object_mut().expect("object");
        let mut put = |k: &str, val: Value| {
            o.insert(k.to_string(), val);
        };
        if let Some(app) = &self.app {
            put("app", json!(app));
        }
        if let Some(l) = &self.label {
            put("label", json!(l));
        }
        if let Some(d) = &self.description {
            put("description", json!(d));
        }
        if self.optional {
            put("optional", json!(true));
        }
        if let Some(d) = &self.default {
            put("default", d.clone());
        }
        if self.secret {
            put("secret", json!(true));
        }
        if let Some(m) = self.min {
            put("min", json!(m));
        }
        if let Some(m) = self.max {
            put("max", json!(m));
        }
        if let Some(opts) = &self.options {
            put("options", serde_json::to_value(opts).unwrap_or_default());
        }
        if self.remote_options() {
            put("remoteOptions", json!(true));
            put(
                "useQuery",
                json!(
                    self.options_request
                        .as_ref()
                        .is_some_and(|r| r.filter_by_query)
                ),
            );
        }
        if self.reload_props {
            put("reloadProps", json!(true));
        }
        if self.kind == PropType::Alert {
            put(
                "alertType",
                json!(self.alert_type.as_deref().unwrap_or("info")),
            );
            put(
                "content",
                json!(self.content.as_deref().unwrap_or_default()),
            );
        }
        if self.kind == PropType::HttpInterface {
            put("customResponse", json!(self.custom_response));
        }
        v
    }
}

/// Why one configured prop is bad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropError {
    pub prop: String,
    pub reason: String,
}

impl std::fmt::Display for PropError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.prop, self.reason)
    }
}

/// The account ids that `app` props reference, for the caller to check
/// ownership (user and app) against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRef {
    pub prop: String,
    pub app: String,
    pub account_id: String,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_int(p: &Prop, v: &Value) -> Result<(), String> {
    let n = v
        .as_i64()
        .ok_or_else(|| format!("must be an integer, got {}", type_name(v)))?;
    if let Some(min) = p.min
        && n < min
    {
        return Err(format!("{n} is below the minimum {min}"));
    }
    if let Some(max) = p.max
        && n > max
    {
        return Err(format!("{n} is above the maximum {max}"));
    }
    Ok(())
}

fn check_value(p: &Prop, v: &Value) -> Result<(), String> {
    match p.kind {
        PropType::String => v
            .as_str()
            .map(|_| ())
            .ok_or_else(|| format!("must be a string, got {}", type_name(v))),
        PropType::Boolean => v
            .as_bool()
            .map(|_| ())
            .ok_or_else(|| format!("must be a boolean, got {}", type_name(v))),
        PropType::Integer => check_int(p, v),
        PropType::StringArray => match v.as_array() {
            Some(a) if a.iter().all(Value::is_string) => Ok(()),
            _ => Err("must be an array of strings".into()),
        },
        PropType::IntegerArray => match v.as_array() {
            Some(a) => a.iter().try_for_each(|x| check_int(p, x)),
            None => Err(format!(
                "must be an array of integers, got {}",
                type_name(v)
            )),
        },
        PropType::Object => v
            .as_object()
            .map(|_| ())
            .ok_or_else(|| format!("must be an object, got {}", type_name(v))),
        PropType::App => match v.get("authProvisionId").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => Ok(()),
            _ => Err("must be {\"authProvisionId\": \"apn_…\"}".into()),
        },
        PropType::TimerInterface => {
            let ok = v.get("intervalSeconds").is_some_and(Value::is_u64)
                || v.get("cron").is_some_and(Value::is_string);
            if ok {
                Ok(())
            } else {
                Err(
                    "must be {\"intervalSeconds\": n} or {\"cron\": \"…\", \"timezone\": \"…\"}"
                        .into(),
                )
            }
        }
        PropType::Any | PropType::Alert | PropType::HttpInterface | PropType::Db => Ok(()),
    }?;
    if let Some(opts) = &p.options
        && !p.kind.is_runtime_provided()
    {
        let values: Vec<&Value> = match v {
            Value::Array(a) if matches!(p.kind, PropType::StringArray | PropType::IntegerArray) => {
                a.iter().collect()
            }
            v => vec![v],
        };
        if let Some(bad) = values
            .iter()
            .find(|x| !opts.iter().any(|o| o.value() == **x))
        {
            return Err(format!("{bad} is not one of the allowed options"));
        }
    }
    Ok(())
}

/// Validates `configured` against `props`; on success returns the app
/// accounts referenced. Every problem is reported, not just the first.
pub fn validate_configured(
    props: &[Prop],
    configured: &Map<String, Value>,
) -> Result<Vec<AccountRef>, Vec<PropError>> {
    let mut errors = Vec::new();
    let mut accounts = Vec::new();
    for name in configured.keys() {
        if !props.iter().any(|p| &p.name == name) {
            errors.push(PropError {
                prop: name.clone(),
                reason: "unknown prop".into(),
            });
        }
    }
    for p in props {
        match configured.get(&p.name) {
            None | Some(Value::Null) => {
                if !p.optional && p.default.is_none() && !p.kind.is_runtime_provided() {
                    errors.push(PropError {
                        prop: p.name.clone(),
                        reason: "missing required prop".into(),
                    });
                }
            }
            Some(v) => match check_value(p, v) {
                Ok(()) => {
                    if let (PropType::App, Some(id)) =
                        (p.kind, v.get("authProvisionId").and_then(Value::as_str))
                    {
                        accounts.push(AccountRef {
                            prop: p.name.clone(),
                            app: p.app.clone().unwrap_or_default(),
                            account_id: id.to_string(),
                        });
                    }
                }
                Err(reason) => errors.push(PropError {
                    prop: p.name.clone(),
                    reason,
                }),
            },
        }
    }
    if errors.is_empty() {
        Ok(accounts)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props() -> Vec<Prop> {
        serde_json::from_value(json!([
            {"name": "slack", "type": "app", "app": "slack"},
            {"name": "channel", "type": "string"},
            {"name": "text", "type": "string"},
            {"name": "count", "type": "integer", "min": 1, "max": 10, "optional": true},
            {"name": "mode", "type": "string", "options": ["a", {"label": "B", "value": "b"}], "default": "a"},
            {"name": "tags", "type": "string[]", "optional": true},
            {"name": "http", "type": "$.interface.http"},
            {"name": "note", "type": "alert", "content": "hi"}
        ]))
        .unwrap()
    }

    #[test]
    fn good_props_pass_and_report_their_accounts() {
        let c = json!({"slack": {"authProvisionId": "apn_1"}, "channel": "C1", "text": "hi", "mode": "b", "tags": ["x"]});
        let refs = validate_configured(&props(), c.as_object().unwrap()).unwrap();
        assert_eq!(
            refs,
            vec![AccountRef {
                prop: "slack".into(),
                app: "slack".into(),
                account_id: "apn_1".into()
            }]
        );
    }

    #[test]
    fn every_bad_prop_is_named_with_its_reason() {
        let c = json!({"slack": "apn_1", "text": 5, "count": 11, "mode": "z", "tags": [1], "bogus": true});
        let errs = validate_configured(&props(), c.as_object().unwrap()).unwrap_err();
        let find = |p: &str| {
            errs.iter()
                .find(|e| e.prop == p)
                .unwrap_or_else(|| panic!("{p} not reported: {errs:?}"))
                .reason
                .clone()
        };
        assert!(find("bogus").contains("unknown"));
        assert!(find("slack").contains("authProvisionId"));
        assert!(find("channel").contains("missing"));
        assert!(find("text").contains("must be a string"));
        assert!(find("count").contains("above the maximum 10"));
        assert!(find("mode").contains("not one of"));
        assert!(find("tags").contains("array of strings"));
        assert_eq!(errs.len(), 7);
    }

    #[test]
    fn unknown_prop_types_are_refused_at_parse_time() {
        let r: Result<Prop, _> =
            serde_json::from_value(json!({"name": "x", "type": "$.interface.foo"}));
        assert!(r.is_err());
    }
}
