//! The app manifest: identity, catalog metadata and how its accounts
//! authenticate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ManifestError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    pub manifest_version: u32,
    pub kind: ManifestKind,
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
    /// How requests to the app's API are built; absent for apps without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthType {
    None,
    Keys,
    Basic,
    Oauth,
}

/// The `kind` every manifest starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManifestKind {
    App,
    Action,
    Trigger,
}

impl AuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::None => "none",
            // Pipedream's `auth_type` enum has no "basic": it is a keys app
            // whose fields are a username and a password.
            AuthType::Keys | AuthType::Basic => "keys",
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
    /// OAuth 1.0a (RFC 5849, HMAC-SHA1) instead of OAuth 2: `type` is
    /// `oauth` with exactly one of `oauth` and `oauth1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth1: Option<OAuth1Spec>,
    /// A credential exchange: the account's fields are traded at a token
    /// endpoint for an access token (OAuth 2 client credentials, Nango's
    /// TWO_STEP), before the account is saved and again before expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_exchange: Option<TokenExchange>,
}

/// One request that trades account fields for an access token. Every
/// string is a template over `account`; the answer is read with
/// `token_fields` and stored as `oauth_access_token` (and
/// `oauth_refresh_token` when present).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenExchange {
    pub token_url: String,
    /// `POST`, or `GET` with the params in the query.
    #[serde(default = "post")]
    pub method: String,
    /// How a POST's params are encoded.
    #[serde(default)]
    pub format: TokenRequestFormat,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub token_fields: TokenFields,
    /// The token's lifetime when the answer does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_secs: Option<u64>,
    /// Exchange again this long before expiry.
    #[serde(default = "five_minutes")]
    pub refresh_margin_secs: u64,
}

fn post() -> String {
    "POST".into()
}

/// How a token request's parameters are sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRequestFormat {
    /// `application/x-www-form-urlencoded` (RFC 6749).
    #[default]
    Form,
    /// A JSON object of strings.
    Json,
}

impl AuthSpec {
    /// What a user enters before an OAuth flow: the connection config (a
    /// shop, an instance). An OAuth app's secret fields are alternatives to
    /// the flow (GitHub's personal access token), not asked there.
    pub fn oauth_fields(&self) -> impl Iterator<Item = &CustomField> {
        self.fields.iter().filter(|f| !f.secret)
    }
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
    /// A regular expression (ECMA-262 flavour, as in JSON Schema) the value
    /// must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Shown around the input on the connect page (`https://`, `.myshopify.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// The value becomes part of a URL's host, so it may only hold host
    /// characters: a user cannot move the host (`evil.com/`, `a@b`, `:`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_host: bool,
}

/// The longest DNS name: a host field's value never exceeds it.
const MAX_HOST_LEN: usize = 253;

impl CustomField {
    /// Checks an entered value against the field's pattern and, for host
    /// fields, against host characters; the error names the field.
    pub fn check_value(&self, value: &str) -> Result<(), String> {
        if self.in_host
            && (value.is_empty()
                || value.len() > MAX_HOST_LEN
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                || value.starts_with('.')
                || value.contains(".."))
        {
            return Err(format!(
                "{} must be a host name (letters, digits, '.', '-', '_'), not {value:?}",
                self.label
            ));
        }
        if let Some(p) = &self.pattern {
            let v = pattern_validator(p)?;
            if !v.is_valid(&serde_json::Value::String(value.to_string())) {
                return Err(format!("{} must match {p}, not {value:?}", self.label));
            }
        }
        Ok(())
    }
}

/// Patterns use JSON Schema's regex engine, which takes ECMA-262 features
/// such as look-ahead that providers' patterns use.
fn pattern_validator(p: &str) -> Result<jsonschema::Validator, String> {
    jsonschema::validator_for(&serde_json::json!({ "type": "string", "pattern": p }))
        .map_err(|e| format!("pattern {p:?} does not compile: {e}"))
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
    #[serde(default)]
    pub extra_token_params: BTreeMap<String, String>,
    /// Where the token response keeps each field (JSONPath), for providers
    /// that nest them (Slack user tokens live under `authed_user`).
    #[serde(default)]
    pub token_fields: TokenFields,
    /// Whether access tokens can be refreshed with a refresh token.
    #[serde(default = "yes")]
    pub refresh: bool,
    /// Refresh this long before expiry.
    #[serde(default = "five_minutes")]
    pub refresh_margin_secs: u64,
    /// How the client authenticates at the token endpoint.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// How the token request's parameters are encoded.
    #[serde(default)]
    pub token_request_format: TokenRequestFormat,
    /// Where refresh-token grants go, when not `token_url` (a template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_url: Option<String>,
}

/// The OAuth 1.0a three-legged flow (HMAC-SHA1 only). URLs and params are
/// templates over the account fields entered before the redirect, like
/// OAuth 2's. Tokens do not expire: there is no refresh.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth1Spec {
    /// Where the consumer-signed request for a request token goes (POST).
    pub request_token_url: String,
    /// Where the user approves (`?oauth_token=…`).
    pub authorize_url: String,
    /// Where the verifier is traded for the access token (POST).
    pub access_token_url: String,
    /// Extra form parameters of the request-token request.
    #[serde(default)]
    pub request_params: BTreeMap<String, String>,
    /// Extra query parameters of the authorize URL.
    #[serde(default)]
    pub authorize_params: BTreeMap<String, String>,
    /// Sent as the authorize URL's `scope`.
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default = "space")]
    pub scope_separator: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFields {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: String,
    pub scope: String,
}

impl Default for TokenFields {
    fn default() -> Self {
        TokenFields {
            access_token: "$.access_token".into(),
            refresh_token: "$.refresh_token".into(),
            expires_in: "$.expires_in".into(),
            scope: "$.scope".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body.
    #[default]
    Body,
    /// HTTP Basic with the client id and secret.
    Basic,
}

fn yes() -> bool {
    true
}

fn five_minutes() -> u64 {
    300
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

/// The app's API: base URL, credential injection, limits and paging. Every
/// string is a template over `account` (the decrypted credential fields).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSpec {
    /// May depend on account fields, e.g. `https://{{ account.subdomain }}.zendesk.com/api/v2`.
    pub base_url: String,
    /// Headers on every request: credential injection and defaults.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Query parameters on every request (for apps that take keys there).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// Requests are signed with AWS Signature Version 4 (last, over the
    /// final request), instead of carrying a static credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_sigv4: Option<AwsSigV4>,
    #[serde(default)]
    pub rate_limit: RateLimitHeaders,
    #[serde(default)]
    pub retry: RetryRules,
    #[serde(default)]
    pub auth_error: AuthErrorRule,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
    /// A request that succeeds only with working credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifySpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    #[serde(default)]
    pub password: String,
}

/// AWS Signature Version 4 credentials and scope, as templates over `account`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSigV4 {
    pub access_key: String,
    pub secret_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    pub region: String,
    pub service: String,
}

/// Response headers that report the provider's rate limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitHeaders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<String>,
    /// Epoch seconds at which the window resets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<String>,
    #[serde(default = "retry_after")]
    pub retry_after: String,
}

fn retry_after() -> String {
    "retry-after".into()
}

impl Default for RateLimitHeaders {
    fn default() -> Self {
        RateLimitHeaders {
            limit: None,
            remaining: None,
            reset: None,
            retry_after: retry_after(),
        }
    }
}

/// Which responses are retried, how often, and how long a wait is allowed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryRules {
    pub statuses: Vec<u16>,
    pub max_attempts: u32,
    /// A `Retry-After` longer than this is not waited out: the call fails.
    pub max_wait_secs: u64,
}

impl Default for RetryRules {
    fn default() -> Self {
        RetryRules {
            statuses: vec![429, 502, 503],
            max_attempts: 3,
            max_wait_secs: 10,
        }
    }
}

/// How an expired or revoked credential shows itself: by status, or (for
/// APIs like Slack that answer 200 `{ok:false}`) by a condition on `response`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthErrorRule {
    pub statuses: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

impl Default for AuthErrorRule {
    fn default() -> Self {
        AuthErrorRule {
            statuses: vec![401],
            when: None,
        }
    }
}

/// How list endpoints page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "style", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pagination {
    /// RFC 8288 `Link: <…>; rel="next"` (GitHub).
    LinkHeader,
    /// An opaque cursor in the body, sent back as a query parameter (Slack).
    Cursor {
        /// JSONPath of the next cursor; empty or absent ends the list.
        cursor_path: String,
        param: String,
    },
    /// The last item's id as the next page's start, while a flag says more
    /// (Stripe's `starting_after` and `has_more`).
    LastItem {
        param: String,
        /// JSONPath within an item.
        id_path: String,
        has_more_path: String,
    },
    /// A numeric offset advanced by the page size.
    Offset {
        param: String,
        #[serde(default)]
        start: u64,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySpec {
    #[serde(default = "get")]
    pub method: String,
    pub url: String,
    #[serde(default = "ok_statuses")]
    pub expect_status: Vec<u16>,
    /// A condition on `response` for APIs that answer 200 to bad keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok_if: Option<String>,
}

fn get() -> String {
    "GET".into()
}

fn ok_statuses() -> Vec<u16> {
    vec![200]
}

/// Site-specific endpoints for an app (a GitHub Enterprise host, or a local
/// test double), set in configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppOverride {
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub authorize_url: Option<String>,
    /// OAuth 2's token URL, or OAuth 1's access-token URL.
    #[serde(default)]
    pub token_url: Option<String>,
    /// OAuth 1's request-token URL.
    #[serde(default)]
    pub request_token_url: Option<String>,
    /// Where refresh grants go; a `token_url` override without one sends
    /// them to `token_url` too.
    #[serde(default)]
    pub refresh_url: Option<String>,
    #[serde(default)]
    pub refresh_margin_secs: Option<u64>,
}

impl App {
    /// Checks beyond the schema: unique field names, JSONPaths that parse.
    pub(crate) fn check(&self, file: &str) -> Result<(), ManifestError> {
        let err = |path: &str, reason: String| crate::manifest::error(file, path, reason);
        for (i, f) in self.auth.fields.iter().enumerate() {
            if self.auth.fields[..i].iter().any(|g| g.name == f.name) {
                return Err(err(
                    &format!("auth.fields[{i}].name"),
                    format!("{:?} is repeated", f.name),
                ));
            }
        }
        for (i, f) in self.auth.fields.iter().enumerate() {
            if let Some(p) = &f.pattern {
                pattern_validator(p).map_err(|e| err(&format!("auth.fields[{i}].pattern"), e))?;
            }
        }
        let mut paths: Vec<(String, &str)> = Vec::new();
        let token_fields = [
            (
                "auth.oauth",
                self.auth.oauth.as_ref().map(|o| &o.token_fields),
            ),
            (
                "auth.token_exchange",
                self.auth.token_exchange.as_ref().map(|x| &x.token_fields),
            ),
        ];
        for (at, t) in token_fields {
            if let Some(t) = t {
                paths.extend([
                    (
                        format!("{at}.token_fields.access_token"),
                        t.access_token.as_str(),
                    ),
                    (
                        format!("{at}.token_fields.refresh_token"),
                        t.refresh_token.as_str(),
                    ),
                    (
                        format!("{at}.token_fields.expires_in"),
                        t.expires_in.as_str(),
                    ),
                    (format!("{at}.token_fields.scope"), t.scope.as_str()),
                ]);
            }
        }
        match self.api.as_ref().and_then(|a| a.pagination.as_ref()) {
            Some(Pagination::Cursor { cursor_path, .. }) => {
                paths.push(("api.pagination.cursor_path".into(), cursor_path))
            }
            Some(Pagination::LastItem {
                id_path,
                has_more_path,
                ..
            }) => paths.extend([
                ("api.pagination.id_path".into(), id_path.as_str()),
                (
                    "api.pagination.has_more_path".into(),
                    has_more_path.as_str(),
                ),
            ]),
            _ => {}
        }
        for (at, p) in paths {
            crate::jsonpath::compile(p).map_err(|e| err(&at, e))?;
        }
        match (self.auth.kind, &self.auth.oauth, &self.auth.oauth1) {
            (AuthType::Oauth, Some(_), Some(_)) => {
                return Err(err(
                    "auth",
                    "an oauth app has either oauth (2.0) or oauth1, not both".into(),
                ));
            }
            (AuthType::Oauth, None, None) => {
                return Err(err("auth", "an oauth app needs oauth or oauth1".into()));
            }
            (k, _, Some(_)) if k != AuthType::Oauth => {
                return Err(err(
                    "auth.oauth1",
                    format!("oauth1 needs auth.type \"oauth\", not {k:?}"),
                ));
            }
            _ => {}
        }
        if let Some(x) = &self.auth.token_exchange
            && !matches!(x.method.as_str(), "GET" | "POST")
        {
            return Err(err(
                "auth.token_exchange.method",
                format!("{:?} is not GET or POST", x.method),
            ));
        }
        Ok(())
    }

    /// Applies site-specific endpoints from configuration; the overridden
    /// base URL's host becomes the app's only domain. Overrides may be
    /// templates over `account` like the manifest's own URLs.
    pub fn apply_override(&mut self, o: &AppOverride) {
        if let Some(base) = &o.base_url {
            let base = base.trim_end_matches('/').to_string();
            if let Some(api) = &mut self.api {
                api.base_url = base.clone();
            }
            // A templated base is rendered per account; a fixed one is the
            // proxy's target for relative paths.
            self.connect.base_proxy_target_url =
                (!crate::template::is_template(&base)).then(|| base.clone());
            // The site's host replaces the manifest's domains: a GitHub
            // Enterprise token must never be sent to api.github.com.
            if let Some(host) = url::Url::parse(&base)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
            {
                self.connect.allowed_domains = vec![host];
            }
        }
        if let Some(oauth) = &mut self.auth.oauth {
            if let Some(u) = &o.authorize_url {
                oauth.authorize_url = u.clone();
            }
            if let Some(u) = &o.token_url {
                oauth.token_url = u.clone();
                oauth.refresh_url = o.refresh_url.clone();
            }
            if let Some(u) = &o.refresh_url {
                oauth.refresh_url = Some(u.clone());
            }
            if let Some(m) = o.refresh_margin_secs {
                oauth.refresh_margin_secs = m;
            }
        }
        if let Some(o1) = &mut self.auth.oauth1 {
            let urls = [
                (&mut o1.authorize_url, &o.authorize_url),
                (&mut o1.access_token_url, &o.token_url),
                (&mut o1.request_token_url, &o.request_token_url),
            ];
            for (to, from) in urls {
                if let Some(u) = from {
                    *to = u.clone();
                }
            }
        }
        if let Some(x) = &mut self.auth.token_exchange {
            if let Some(u) = &o.token_url {
                x.token_url = u.clone();
            }
            if let Some(m) = o.refresh_margin_secs {
                x.refresh_margin_secs = m;
            }
        }
    }

    /// Which values of the project's OAuth client a session adds to the
    /// account's: the id when the API's templates name
    /// `account.oauth_client_id`, and the secret too when they name
    /// `account.oauth_client_secret` or requests are signed with OAuth 1.
    /// `(id, secret)`.
    pub fn session_client(&self) -> (bool, bool) {
        let names = |field: &str| {
            self.api.as_ref().is_some_and(|a| {
                std::iter::once(&a.base_url)
                    .chain(a.headers.values())
                    .chain(a.query.values())
                    .any(|t| t.contains(field))
            })
        };
        let secret = self.auth.oauth1.is_some() || names("account.oauth_client_secret");
        (secret || names("account.oauth_client_id"), secret)
    }

    /// Pipedream's `custom_fields_json`: the fields as a JSON *string*.
    pub fn custom_fields_json(&self) -> String {
        serde_json::to_string(&self.auth.fields).unwrap_or_else(|_| "[]".into())
    }
}
