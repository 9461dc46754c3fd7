//! The app manifest: identity, catalog metadata and how its accounts
//! authenticate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ManifestError;

pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    pub manifest_version: u32,
    pub id: String,
    pub name_slug: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub categories: Vec<String>,
    #[serde(default)]
    pub featured_weight: i64,
    pub auth: AuthSpec,
    #[serde(default)]
    pub scope_profiles: Vec<ScopeProfile>,
    #[serde(default)]
    pub connect: ConnectInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthType {
    None,
    Keys,
    Oauth,
}

impl AuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::None => "none",
            AuthType::Keys => "keys",
            AuthType::Oauth => "oauth",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSpec {
    #[serde(rename = "type")]
    pub kind: AuthType,
    /// Fields the user enters (API keys, subdomains, …).
    #[serde(default)]
    pub fields: Vec<CustomField>,
    #[serde(default)]
    pub oauth: Option<OAuthSpec>,
}

/// One user-entered credential field, in Pipedream's `custom_fields_json` shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomField {
    pub name: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub secret: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSpec {
    pub authorize_url: String,
    pub token_url: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default = "space")]
    pub scope_separator: String,
    #[serde(default)]
    pub pkce: bool,
    #[serde(default)]
    pub extra_authorize_params: BTreeMap<String, String>,
}

fn space() -> String {
    " ".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeProfile {
    pub name: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectInfo {
    #[serde(default)]
    pub proxy_enabled: bool,
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_proxy_target_url: Option<String>,
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

impl App {
    pub fn parse(file: &str, text: &str) -> Result<Self, ManifestError> {
        let err = |path: &str, reason: String| ManifestError {
            file: file.to_string(),
            path: path.to_string(),
            reason,
        };
        let app: App = serde_json::from_str(text)
            .map_err(|e| err("$", format!("invalid JSON manifest: {e}")))?;
        if app.manifest_version != MANIFEST_VERSION {
            return Err(err(
                "manifest_version",
                format!("must be {MANIFEST_VERSION}, got {}", app.manifest_version),
            ));
        }
        if !is_slug(&app.name_slug) {
            return Err(err("name_slug", "must match ^[a-z0-9_]+$".into()));
        }
        if !app.id.starts_with("app_") || !is_slug(&app.id[4..].to_ascii_lowercase()) {
            return Err(err("id", "must be app_ followed by [A-Za-z0-9_]".into()));
        }
        if app.name.trim().is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        if app.categories.is_empty() {
            return Err(err("categories", "needs at least one category".into()));
        }
        match app.auth.kind {
            AuthType::Oauth if app.auth.oauth.is_none() => {
                return Err(err(
                    "auth.oauth",
                    "an oauth app needs authorize_url and token_url".into(),
                ));
            }
            AuthType::Keys if app.auth.fields.is_empty() => {
                return Err(err(
                    "auth.fields",
                    "a keys app needs at least one field".into(),
                ));
            }
            _ => {}
        }
        for (i, f) in app.auth.fields.iter().enumerate() {
            if !is_slug(&f.name) {
                return Err(err(
                    &format!("auth.fields[{i}].name"),
                    "must match ^[a-z0-9_]+$".into(),
                ));
            }
            if app.auth.fields[..i].iter().any(|g| g.name == f.name) {
                return Err(err(
                    &format!("auth.fields[{i}].name"),
                    format!("{:?} is repeated", f.name),
                ));
            }
        }
        if let Some(o) = &app.auth.oauth {
            for (path, url) in [
                ("auth.oauth.authorize_url", &o.authorize_url),
                ("auth.oauth.token_url", &o.token_url),
            ] {
                if !url.starts_with("https://") && !url.starts_with("http://") {
                    return Err(err(path, "must be an http(s) URL".into()));
                }
            }
        }
        Ok(app)
    }

    /// Pipedream's `custom_fields_json`: the fields as a JSON *string*.
    pub fn custom_fields_json(&self) -> String {
        serde_json::to_string(&self.auth.fields).unwrap_or_else(|_| "[]".into())
    }
}
