//! The domain objects as they are stored. Wire shapes live in the server.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

impl Environment {
    pub const ALL: [Environment; 2] = [Environment::Development, Environment::Production];

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Production => "production",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "development" => Some(Environment::Development),
            "production" => Some(Environment::Production),
            _ => None,
        }
    }
}

/// Every object lives in exactly one (project, environment).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tenant {
    pub project_id: String,
    pub env: Environment,
}

impl Tenant {
    /// The store slot (Redis hash tag) holding all of this tenant's data;
    /// also its name for per-tenant shares.
    pub fn slot(&self) -> String {
        format!("t:{}:{}", self.project_id, self.env.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub app_name: Option<String>,
    #[serde(default)]
    pub support_email: Option<String>,
    /// Shown on the hosted connect page.
    #[serde(default)]
    pub logo_url: Option<String>,
    #[serde(default)]
    pub connect_require_key_auth_test: bool,
    /// Origins that may frame the connect page: `None` any (Pipedream's
    /// behaviour), `Some([])` none. See `tenancy::projects::frame_ancestors`.
    #[serde(default)]
    pub connect_frame_origins: Option<Vec<String>>,
    /// This project's shortest timer and polling interval, when not the
    /// configured one.
    #[serde(default)]
    pub min_interval_secs: Option<u64>,
    pub created_at: u64,
    pub updated_at: u64,
}

/// OAuth client credentials of a project (server-side API access).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiClient {
    pub client_id: String,
    pub project_id: String,
    /// SHA-256 of the secret, hex. The secret itself is never stored.
    pub secret_sha256: String,
    /// Scopes this client may request.
    pub scopes: Vec<String>,
    /// Environments this client may act in.
    pub environments: Vec<Environment>,
    pub created_at: u64,
    #[serde(default)]
    pub revoked_at: Option<u64>,
    /// An operator client (issued by `admin issue-client --operator`)
    /// manages every project through the projects API and may act in any of
    /// them; other clients are limited to their own project.
    #[serde(default)]
    pub operator: bool,
}

/// An issued bearer token; stored under the hash of the token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessToken {
    pub client_id: String,
    pub project_id: String,
    pub scopes: Vec<String>,
    pub expires_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectToken {
    /// SHA-256 of the token, hex; the token itself is never stored.
    pub token_sha256: String,
    pub tenant: Tenant,
    pub external_user_id: String,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub success_redirect_uri: Option<String>,
    #[serde(default)]
    pub error_redirect_uri: Option<String>,
    #[serde(default)]
    pub webhook_uri: Option<String>,
    pub scopes: Vec<String>,
    pub created_at: u64,
    pub expires_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExternalUser {
    pub id: String,
    pub external_id: String,
    pub created_at: u64,
    pub updated_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    /// App slug.
    pub app: String,
    pub external_user_id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub healthy: bool,
    pub dead: bool,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub authorized_scopes: Vec<String>,
    #[serde(default)]
    pub expires_at: Option<u64>,
    #[serde(default)]
    pub last_refreshed_at: Option<u64>,
    #[serde(default)]
    pub next_refresh_at: Option<u64>,
    /// Failed refreshes since the last success, and when they began (ms).
    #[serde(default)]
    pub refresh_failures: u32,
    #[serde(default)]
    pub failing_since: Option<u64>,
    /// Sealed credentials JSON (see `crypto`), never the plaintext.
    pub credentials: String,
    pub created_at: u64,
    pub updated_at: u64,
}
