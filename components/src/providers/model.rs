//! The part of Nango's `providers.yaml` the importer reads. Unknown fields
//! are ignored: the file grows faster than this model.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Provider {
    pub auth_mode: Option<String>,
    pub alias: Option<String>,
    pub display_name: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    pub docs: Option<String>,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub refresh_url: Option<String>,
    /// OAUTH1: the request-token endpoint, its extra params, and the
    /// signature method (HMAC-SHA1 is the one supported).
    pub request_url: Option<String>,
    #[serde(default)]
    pub request_params: BTreeMap<String, Value>,
    pub signature_method: Option<String>,
    #[serde(default)]
    pub authorization_params: BTreeMap<String, Value>,
    #[serde(default)]
    pub token_params: BTreeMap<String, Value>,
    pub scope_separator: Option<String>,
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// `header`: the client authenticates at the token endpoint with Basic.
    pub authorization_method: Option<String>,
    pub token_request_auth_method: Option<String>,
    pub body_format: Option<String>,
    /// TWO_STEP: the exchange's headers, method, answer and fixed lifetime.
    #[serde(default)]
    pub token_headers: BTreeMap<String, Value>,
    pub token_request_method: Option<String>,
    pub token_response: Option<TokenResponse>,
    pub token_expires_in_ms: Option<Value>,
    /// TWO_STEP parts with no equivalent here (signed JWT assertions,
    /// further requests): their presence is a refusal.
    pub token: Option<Value>,
    pub additional_steps: Option<Value>,
    #[serde(default)]
    pub disable_pkce: bool,
    pub proxy: Option<Proxy>,
    #[serde(default)]
    pub connection_config: BTreeMap<String, Field>,
    #[serde(default)]
    pub credentials: BTreeMap<String, Field>,
    /// Connection config values Nango takes from the token response or the
    /// redirect, without declaring them as fields.
    #[serde(default)]
    pub token_response_metadata: Vec<String>,
    #[serde(default)]
    pub redirect_uri_metadata: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Proxy {
    pub base_url: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    #[serde(default)]
    pub query: BTreeMap<String, Value>,
    pub retry: Option<Retry>,
    pub paginate: Option<Paginate>,
    pub verification: Option<Verification>,
}

/// Nango writes these as a string or a list of strings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    // Before `One`: a list is a `Value` too.
    Many(Vec<Value>),
    One(Value),
    #[default]
    None,
}

impl OneOrMany {
    pub fn strings(&self) -> Vec<String> {
        let one = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        match self {
            OneOrMany::One(v) => one(v).into_iter().collect(),
            OneOrMany::Many(v) => v.iter().filter_map(one).collect(),
            OneOrMany::None => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Retry {
    #[serde(default)]
    pub at: OneOrMany,
    #[serde(default)]
    pub after: OneOrMany,
    #[serde(default)]
    pub remaining: OneOrMany,
    #[serde(default)]
    pub error_code: OneOrMany,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Paginate {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub cursor_name_in_request: Option<String>,
    pub cursor_path_in_response: Option<String>,
    pub offset_name_in_request: Option<String>,
    pub offset_start_value: Option<Value>,
    pub offset_calculation_method: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Verification {
    pub method: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<String>,
}

/// A `connection_config` or `credentials` field.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Field {
    pub title: Option<String>,
    pub description: Option<String>,
    pub pattern: Option<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub secret: bool,
    /// Filled by Nango from the token response, never by the user.
    #[serde(default)]
    pub automated: bool,
    pub default_value: Option<Value>,
    #[serde(default, rename = "enum")]
    pub options: Vec<Value>,
}

/// Where a TWO_STEP answer keeps the token (dotted paths).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenResponse {
    pub token: Option<String>,
    pub refresh_token: Option<String>,
    pub token_expiration: Option<String>,
    /// `expireIn` (seconds from now) or `expireAt` (a date).
    pub token_expiration_strategy: Option<String>,
}
