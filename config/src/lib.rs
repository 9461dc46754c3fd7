//! Switchboard's configuration: the documented defaults in `default.toml`,
//! layered under an optional file, `SWITCHBOARD_*` environment variables and
//! command-line overrides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The defaults, documented key by key.
pub const DEFAULT_TOML: &str = include_str!("../default.toml");

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Config {
    pub listen: String,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub redis_url: String,
    pub redis_key_prefix: String,
    pub log: LogConfig,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub encryption: EncryptionConfig,
    pub rate_limits: RateLimitConfig,
    pub worker: WorkerConfig,
    pub bootstrap: BootstrapConfig,
    pub outbound: OutboundConfig,
    pub triggers: TriggersConfig,
    pub delivery: DeliveryConfig,
    pub accounts: AccountsConfig,
    pub retention: RetentionConfig,
    pub quotas: QuotasConfig,
    #[serde(default)]
    pub catalog: CatalogConfig,
    /// Per-app endpoint overrides, by app slug.
    #[serde(default)]
    pub apps: BTreeMap<String, AppEndpoints>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TriggersConfig {
    pub events_retained: usize,
    pub min_interval_secs: u64,
    pub dedupe_unique_bound: usize,
    pub poll_failures_notify_after: u32,
    pub ticks_per_tenant: usize,
}

/// How long stored data lives.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RetentionConfig {
    pub dead_letter_secs: u64,
    pub events_secs: u64,
    pub user_tombstone_secs: u64,
}

/// Per-tenant quotas; 0 disables one.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct QuotasConfig {
    pub deployments_per_user: u64,
    pub deployments_per_environment: u64,
    pub accounts_per_user: u64,
    pub webhooks_per_deployment: u64,
    pub private_components_per_project: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AccountsConfig {
    pub refresh_touch_secs: u64,
    pub refresh_retry_min_secs: u64,
    pub refresh_retry_max_secs: u64,
    pub dead_after_secs: u64,
    pub refresh_check_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DeliveryConfig {
    pub timeout_secs: u64,
    pub retry_schedule_secs: Vec<u64>,
    pub in_flight: usize,
    pub per_endpoint: usize,
    pub per_tenant: usize,
    pub key_overlap_secs: u64,
    pub poll_interval_ms: u64,
    pub batch: usize,
    pub lease_secs: u64,
    pub deactivate_after_secs: u64,
}

/// Apps imported at start-up, besides the built-in ones.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogConfig {
    /// Nango `providers.yaml` files (`@nangohq/providers` on npm). One path
    /// or a list, so `SWITCHBOARD_CATALOG__PROVIDERS=/x/providers.yaml`
    /// works as well as a TOML array.
    #[serde(default, deserialize_with = "one_or_many")]
    pub providers: Vec<PathBuf>,
    /// OpenAPI 3.x specs whose operations become actions of an app
    /// (`[[catalog.openapi]]`), read after the providers.
    #[serde(default)]
    pub openapi: Vec<OpenApiSource>,
}

/// One `[[catalog.openapi]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OpenApiSource {
    /// The app slug the actions belong to (built-in or imported).
    pub app: String,
    /// The spec file, JSON or YAML.
    pub spec: PathBuf,
    /// Globs over operationIds (or else tags); none: every operation.
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(p) if p.as_os_str().is_empty() => Vec::new(),
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(v) => v,
    })
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OutboundConfig {
    pub allow_private_networks: Vec<String>,
    pub proxy_timeout_secs: u64,
}

/// Where an app's API and OAuth endpoints live, when not where its manifest
/// says (GitHub Enterprise Server, a regional host, a test double).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppEndpoints {
    pub base_url: Option<String>,
    pub authorize_url: Option<String>,
    /// Also where a credential exchange (client credentials) goes.
    pub token_url: Option<String>,
    /// Where OAuth refreshes go, when not `token_url`.
    pub refresh_url: Option<String>,
    /// OAuth 1's request-token URL (`token_url` is its access-token URL).
    pub request_token_url: Option<String>,
    /// Refresh OAuth tokens (or exchange again) this long before they expire.
    pub refresh_margin_secs: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct HttpConfig {
    pub max_body_bytes: usize,
    pub shutdown_grace_secs: u64,
    pub workers: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuthConfig {
    pub access_token_ttl_secs: u64,
    pub connect_token_ttl_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EncryptionConfig {
    pub active_key: String,
    pub keys: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RateLimitConfig {
    pub tokens_per_user_per_minute: u64,
    pub hook_requests_per_minute: u64,
    pub in_flight_per_tenant: usize,
    pub accounts_per_project_per_5min: u64,
    pub accounts_per_user_per_5min: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct WorkerConfig {
    pub housekeeping_interval_secs: u64,
    /// `/healthz` and `/readyz` of a `work` process; empty: none.
    pub health_listen: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BootstrapConfig {
    pub dev_project: bool,
}

/// Values given on the command line; they win over every other layer.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads defaults, then `file` (if any), then `SWITCHBOARD_*`, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig
            .merge(Env::prefixed("SWITCHBOARD_").split("__"))
            .merge(Serialized::defaults(overrides));
        let cfg: Config = fig.extract().map_err(Box::new)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return bad(format!(
                "public_url must start with http:// or https://, got {:?}",
                self.public_url
            ));
        }
        if self.auth.connect_token_ttl_secs == 0 || self.auth.connect_token_ttl_secs > 14400 {
            return bad("auth.connect_token_ttl_secs must be between 1 and 14400".into());
        }
        if self.auth.access_token_ttl_secs < 60 {
            return bad("auth.access_token_ttl_secs must be at least 60".into());
        }
        if !self.encryption.keys.is_empty()
            && !self
                .encryption
                .keys
                .contains_key(&self.encryption.active_key)
        {
            return bad(format!(
                "encryption.active_key {:?} is not one of encryption.keys",
                self.encryption.active_key
            ));
        }
        if self.http.max_body_bytes < 1024 {
            return bad("http.max_body_bytes must be at least 1024".into());
        }
        Ok(())
    }

    /// The public base URL without a trailing slash.
    pub fn public_base(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }

    pub fn uses_redis(&self) -> bool {
        !self.redis_url.trim().is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::result_large_err)] // figment::Jail's closure signature
    use super::*;

    #[test]
    fn defaults_parse_and_env_overrides_apply() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SWITCHBOARD_REDIS_URL", "redis://127.0.0.1:1/");
            jail.set_env("SWITCHBOARD_LOG__FORMAT", "json");
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(cfg.redis_url, "redis://127.0.0.1:1/");
            assert_eq!(cfg.log.format, LogFormat::Json);
            assert_eq!(cfg.auth.access_token_ttl_secs, 3600);
            assert_eq!(cfg.worker.health_listen, "", "off by default");
            jail.set_env("SWITCHBOARD_WORKER__HEALTH_LISTEN", "0.0.0.0:9091");
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(cfg.worker.health_listen, "0.0.0.0:9091");
            Ok(())
        });
    }

    #[test]
    fn provider_catalogs_come_from_a_list_or_one_path() {
        figment::Jail::expect_with(|jail| {
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert!(cfg.catalog.providers.is_empty());
            jail.set_env("SWITCHBOARD_CATALOG__PROVIDERS", "/x/providers.yaml");
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(
                cfg.catalog.providers,
                vec![PathBuf::from("/x/providers.yaml")]
            );
            jail.set_env(
                "SWITCHBOARD_CATALOG__PROVIDERS",
                "[\"/a.yaml\", \"/b.yaml\"]",
            );
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(cfg.catalog.providers.len(), 2);
            Ok(())
        });
    }

    #[test]
    fn openapi_specs_are_a_list_of_tables() {
        figment::Jail::expect_with(|jail| {
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert!(cfg.catalog.openapi.is_empty());
            jail.create_file(
                "c.toml",
                "[[catalog.openapi]]\napp = \"github\"\nspec = \"/x/api.github.com.json\"\ninclude = [\"issues/*\", \"repos/*\"]\n\n[[catalog.openapi]]\napp = \"x\"\nspec = \"/x.yaml\"\nexclude = [\"admin*\"]\n",
            )?;
            let cfg = Config::load(Some(Path::new("c.toml")), &Overrides::default()).unwrap();
            assert_eq!(
                cfg.catalog.openapi[0],
                OpenApiSource {
                    app: "github".into(),
                    spec: "/x/api.github.com.json".into(),
                    include: vec!["issues/*".into(), "repos/*".into()],
                    exclude: vec![],
                }
            );
            assert_eq!(cfg.catalog.openapi[1].exclude, vec!["admin*"]);
            jail.create_file(
                "bad.toml",
                "[[catalog.openapi]]\napp = \"x\"\nspecs = \"/x\"\n",
            )?;
            let err = Config::load(Some(Path::new("bad.toml")), &Overrides::default()).unwrap_err();
            assert!(format!("{err:#}").contains("specs"), "{err:#}");
            Ok(())
        });
    }

    #[test]
    fn flags_win_over_env_and_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "listen = \"0.0.0.0:1\"\npublic_url = \"https://x\"",
            )?;
            jail.set_env("SWITCHBOARD_LISTEN", "0.0.0.0:2");
            let ov = Overrides {
                listen: Some("0.0.0.0:3".into()),
                ..Default::default()
            };
            let cfg = Config::load(Some(Path::new("c.toml")), &ov).unwrap();
            assert_eq!(cfg.listen, "0.0.0.0:3");
            assert_eq!(cfg.public_url, "https://x");
            Ok(())
        });
    }

    #[test]
    fn invalid_values_are_refused_with_the_key_named() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SWITCHBOARD_AUTH__CONNECT_TOKEN_TTL_SECS", "99999");
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(
                err.to_string()
                    .to_lowercase()
                    .contains("connect_token_ttl_secs"),
                "{err}"
            );
            jail.set_env("SWITCHBOARD_AUTH__CONNECT_TOKEN_TTL_SECS", "abc");
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(
                err.to_string()
                    .to_lowercase()
                    .contains("connect_token_ttl_secs"),
                "{err}"
            );
            Ok(())
        });
    }
}
