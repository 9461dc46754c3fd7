//! One invocation against an app's API: builds requests from manifest
//! templates, injects the account's credentials (only towards the app's own
//! domains), retries what the app's rules allow, refreshes an expired token
//! once, follows pagination, and records observations (never credentials
//! or query strings).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value, json};
use switchboard_net::outbound::{HttpRequest, HttpResponse, Outbound, OutboundError};
use switchboard_net::retry;

use crate::app::{App, AuthType, Pagination};
use crate::component::Request;
use crate::jsonpath;
use crate::template::{self, TemplateError};

/// Refreshes an account's credentials after the provider rejected them.
#[async_trait]
pub trait Refresher: Send + Sync {
    /// The new credential fields, or why they could not be refreshed.
    async fn refresh(&self) -> Result<Map<String, Value>, String>;
}

/// Pipedream's observation: `{ts, k, msg?, err?}`.
#[derive(Debug, Clone, Serialize)]
pub struct Observation {
    pub ts: u64,
    pub k: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub err: Option<Value>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Template(#[from] TemplateError),
    /// A target refused by policy: a private address or a foreign domain.
    #[error("{0}")]
    Blocked(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Unreachable(String),
    /// The upstream answered, but with more than we read into memory.
    #[error("{0}")]
    TooLarge(String),
    /// The provider answered with a failure the component treats as one.
    #[error("{message}")]
    Failed {
        step: String,
        status: u16,
        message: String,
        body: Value,
        retry_after_secs: Option<u64>,
    },
    /// The account's credentials were rejected and could not be refreshed.
    #[error("{0}")]
    Auth(String),
    /// A component or request that cannot be built (bad manifest data).
    #[error("{0}")]
    Invalid(String),
}

impl From<OutboundError> for RunError {
    fn from(e: OutboundError) -> Self {
        match e {
            OutboundError::Blocked(m) => RunError::Blocked(m),
            OutboundError::Timeout(d) => RunError::Timeout(d),
            OutboundError::TooLarge => RunError::TooLarge(e.to_string()),
            OutboundError::Failed(m) => RunError::Unreachable(m),
        }
    }
}

/// Whether `host` is one of `domains` (`*.example.com` matches subdomains).
pub fn host_allowed(host: &str, domains: &[String]) -> bool {
    let host = host.to_ascii_lowercase();
    domains.iter().any(|d| {
        let d = d.to_ascii_lowercase();
        match d.strip_prefix("*.") {
            Some(suffix) => host.ends_with(&format!(".{suffix}")) || host == suffix,
            None => host == d,
        }
    })
}

/// Flattens a JSON object into form pairs with bracket notation
/// (`metadata[plan]=pro`, `items[0][price]=p`), as Stripe and Rails read them.
pub fn form_pairs(v: &Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Null => {}
            Value::Object(o) => {
                for (k, x) in o {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}[{k}]")
                    };
                    walk(&key, x, out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(&format!("{prefix}[{i}]"), x, out);
                }
            }
            Value::String(s) => {
                if !s.is_empty() {
                    out.push((prefix.to_string(), s.clone()));
                }
            }
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out
}

/// What a response looks like to templates: `{status, headers, body}`.
pub fn response_value(r: &HttpResponse) -> Value {
    let headers: Map<String, Value> = r
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.clone())))
        .collect();
    json!({"status": r.status, "headers": headers, "body": r.body_value()})
}

/// A response body that is a file rather than data: what an action
/// returns as a file stash reference instead of inlining it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBody {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The body of `r` when it is a file: a content type that is not JSON,
/// text, XML, form data or JavaScript (an image, a PDF, an octet stream).
pub fn file_body(r: &HttpResponse) -> Option<FileBody> {
    let ct = r.header("content-type")?.trim();
    let essence = ct.split(';').next()?.trim().to_ascii_lowercase();
    let textual = essence.starts_with("text/")
        || essence.ends_with("/json")
        || essence.ends_with("+json")
        || essence.ends_with("/xml")
        || essence.ends_with("+xml")
        || essence.ends_with("/javascript")
        || essence == "application/x-www-form-urlencoded"
        || essence == "application/x-ndjson";
    (!textual && !essence.is_empty() && !r.body.is_empty()).then(|| FileBody {
        content_type: ct.to_string(),
        bytes: r.body.clone(),
    })
}

/// One invocation's state.
pub struct Session<'a> {
    outbound: &'a Outbound,
    pub app: &'a App,
    account: Map<String, Value>,
    refresher: Option<&'a dyn Refresher>,
    refreshed: bool,
    deadline: Instant,
    /// Whether replaying a request the provider may have processed is safe.
    pub idempotent: bool,
    pub observations: Vec<Observation>,
    /// Requests sent so far (a policy refusal before any is bad input;
    /// after one, the run had effects).
    pub sent: usize,
    /// The last step's body when it was a file (`file_body`).
    pub last_file: Option<FileBody>,
}

impl<'a> Session<'a> {
    pub fn new(
        outbound: &'a Outbound,
        app: &'a App,
        account: Option<Map<String, Value>>,
        refresher: Option<&'a dyn Refresher>,
        timeout: Duration,
    ) -> Self {
        Session {
            outbound,
            app,
            account: account.unwrap_or_default(),
            refresher,
            refreshed: false,
            deadline: Instant::now() + timeout,
            idempotent: false,
            observations: Vec::new(),
            sent: 0,
            last_file: None,
        }
    }

    pub fn log(&mut self, msg: impl Into<String>) {
        self.observations.push(Observation {
            ts: now_ms(),
            k: "console.log",
            msg: Some(msg.into()),
            err: None,
        });
    }

    pub fn log_error(&mut self, name: &str, message: &str) {
        self.observations.push(Observation {
            ts: now_ms(),
            k: "error",
            msg: None,
            err: Some(json!({"name": name, "message": message})),
        });
    }

    fn remaining(&self) -> Result<Duration, RunError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RunError::Timeout(Duration::ZERO));
        }
        Ok(left)
    }

    fn account_ctx(&self) -> Value {
        json!({"account": self.account})
    }

    /// The app's base URL for this account.
    pub fn base_url(&self) -> Result<String, RunError> {
        let api = self.app.api.as_ref().ok_or_else(|| {
            RunError::Invalid(format!("app {} has no API definition", self.app.name_slug))
        })?;
        let base = template::render(&api.base_url, &self.account_ctx())?
            .trim_end_matches('/')
            .to_string();
        // A base URL built from account fields must still land on one of the
        // app's domains: a user-entered subdomain cannot move credentials.
        // An app without fixed domains (a self-hosted API) takes the
        // account's own host, and only that one (`domains`).
        if template::is_template(&api.base_url) {
            let url = url::Url::parse(&base).map_err(|e| {
                RunError::Blocked(format!("the account's base URL {base:?} is not a URL: {e}"))
            })?;
            // Requests that carry the project's OAuth client secret
            // (`${clientSecret}` in a header) follow the project's rule: a
            // host the end user picked never gets it.
            let secret = if self.app.session_client().1 {
                crate::token::Secret::Project
            } else {
                crate::token::Secret::User
            };
            crate::token::check_url(
                self.app,
                "the account's base URL",
                &api.base_url,
                &url,
                secret,
            )
            .map_err(RunError::Blocked)?;
        }
        Ok(base)
    }

    /// Resolves an absolute or base-relative URL.
    pub fn resolve_url(&self, raw: &str) -> Result<url::Url, RunError> {
        let full = if raw.starts_with("http://") || raw.starts_with("https://") {
            raw.to_string()
        } else {
            format!("{}/{}", self.base_url()?, raw.trim_start_matches('/'))
        };
        url::Url::parse(&full).map_err(|e| RunError::Invalid(format!("bad URL {full:?}: {e}")))
    }

    /// The domains this app's credentials may be sent to.
    fn domains(&self) -> Vec<String> {
        let mut d = self.app.connect.allowed_domains.clone();
        if let Some(host) = self
            .base_url()
            .ok()
            .and_then(|b| url::Url::parse(&b).ok())
            .and_then(|u| u.host_str().map(str::to_string))
        {
            d.push(host);
        }
        d
    }

    /// Refuses hosts outside the app's domains (apps without auth may call
    /// any public host).
    pub fn check_domain(&self, url: &url::Url) -> Result<(), RunError> {
        if self.app.auth.kind == AuthType::None {
            return Ok(());
        }
        let host = url.host_str().unwrap_or_default();
        if !host_allowed(host, &self.domains()) {
            return Err(RunError::Blocked(format!(
                "{host} is not one of {}'s domains {:?}",
                self.app.name_slug,
                self.domains()
            )));
        }
        // Credentials travel over https, or exactly as the base URL says
        // (scheme and port): never downgraded, never to another port.
        let base = self.base_url().ok().and_then(|b| url::Url::parse(&b).ok());
        let like_base = base.is_some_and(|b| {
            b.host_str() == Some(host)
                && b.scheme() == url.scheme()
                && b.port_or_known_default() == url.port_or_known_default()
        });
        if like_base || (url.scheme() == "https" && url.port().is_none()) {
            Ok(())
        } else {
            Err(RunError::Blocked(format!(
                "credentials for {} go only over https on the default port, or to the base URL's scheme and port",
                self.app.name_slug
            )))
        }
    }

    /// Drops query parameters the app injects itself (keys in the query)
    /// from a URL the provider handed back, so they are neither doubled nor
    /// returned to callers.
    pub fn strip_injected(&self, url: &mut url::Url) {
        let Some(api) = self.app.api.as_ref().filter(|a| !a.query.is_empty()) else {
            return;
        };
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !api.query.contains_key(k.as_ref()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut().clear().extend_pairs(kept);
    }

    /// Builds a request from a manifest `Request` and a template context.
    pub fn build(&self, spec: &Request, ctx: &Value) -> Result<HttpRequest, RunError> {
        let raw_url = template::render(&spec.url, ctx)?;
        let mut url = self.resolve_url(&raw_url)?;
        {
            let mut query: Vec<(String, Value)> = Vec::new();
            for (k, t) in &spec.query {
                query.push((k.clone(), template::eval(t, ctx)?));
            }
            if let Some(t) = &spec.extra_query {
                query.extend(object_entries(template::eval(t, ctx)?, "extra_query")?);
            }
            let mut pairs = Vec::new();
            for (k, v) in query {
                match v {
                    Value::Null => {}
                    Value::String(s) if s.is_empty() => {}
                    Value::Array(a) => {
                        for x in a {
                            pairs.push((k.clone(), scalar(&x)));
                        }
                    }
                    v => pairs.push((k, scalar(&v))),
                }
            }
            if !pairs.is_empty() {
                url.query_pairs_mut().extend_pairs(pairs);
            }
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        for (k, t) in &spec.headers {
            let v = template::render(t, ctx)?;
            if !v.is_empty() {
                headers.push((k.clone(), v));
            }
        }
        if let Some(t) = &spec.extra_headers {
            for (k, v) in object_entries(template::eval(t, ctx)?, "extra_headers")? {
                headers.push((k, scalar(&v)));
            }
        }
        let mut body = Vec::new();
        let mut content_type = None;
        let json_body = match &spec.json {
            Some(tree) => drop_nulls(template::eval_tree(tree, ctx)?),
            None => Value::Null,
        };
        if !json_body.is_null() {
            body = serde_json::to_vec(&json_body).map_err(|e| RunError::Invalid(e.to_string()))?;
            content_type = Some("application/json; charset=utf-8");
        } else if let Some(tree) = &spec.form {
            let v = template::eval_tree(tree, ctx)?;
            body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form_pairs(&v))
                .finish()
                .into_bytes();
            content_type = Some("application/x-www-form-urlencoded");
        } else if let Some(t) = &spec.body {
            body = template::render(t, ctx)?.into_bytes();
        }
        if let Some(ct) = content_type
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".into(), ct.into()));
        }
        let method = template::render(&spec.method, ctx)?.to_ascii_uppercase();
        if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(&method.as_str()) {
            return Err(RunError::Invalid(format!(
                "unsupported HTTP method {method:?}"
            )));
        }
        Ok(HttpRequest {
            method,
            url,
            headers,
            body,
        })
    }

    /// Adds the app's headers, query parameters and basic auth, rendered
    /// with the account; request headers win over app defaults.
    fn inject(&self, req: &mut HttpRequest) -> Result<(), RunError> {
        let Some(api) = &self.app.api else {
            return Ok(());
        };
        // `random`: a fresh value per request (Walmart's correlation id).
        let ctx = json!({"account": self.account, "random": switchboard_net::random_nonce()});
        for (k, t) in &api.headers {
            if req.headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)) {
                continue;
            }
            let v = template::render(t, &ctx)?;
            if !v.is_empty() {
                req.headers.push((k.clone(), v));
            }
        }
        if !api.query.is_empty() {
            let mut pairs = Vec::new();
            for (k, t) in &api.query {
                pairs.push((k.clone(), template::render(t, &ctx)?));
            }
            req.url.query_pairs_mut().extend_pairs(pairs);
        }
        if let Some(b) = &api.basic_auth {
            let user = template::render(&b.username, &ctx)?;
            let pass = template::render(&b.password, &ctx)?;
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            req.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
            req.headers
                .push(("Authorization".into(), format!("Basic {enc}")));
        }
        if let Some(s) = &api.aws_sigv4 {
            let r = |t: &String| template::render(t, &ctx);
            let session = s.session_token.as_ref().map(r).transpose()?;
            let (access_key, secret_key) = (r(&s.access_key)?, r(&s.secret_key)?);
            let (region, service) = (r(&s.region)?, r(&s.service)?);
            let key = switchboard_net::sigv4::SigV4Key {
                access_key: &access_key,
                secret_key: &secret_key,
                session_token: session.as_deref(),
                region: &region,
                service: &service,
            };
            switchboard_net::sigv4::sign(req, &key, jiff::Timestamp::now());
        }
        if self.app.auth.oauth1.is_some() {
            self.sign_oauth1(req)?;
        }
        Ok(())
    }

    /// OAuth 1.0a: the project's client (consumer) and the account's token
    /// sign the final request, last, with a fresh nonce and the current
    /// time. The client comes with the session's account values (see
    /// `docs/catalog.md`), never from the stored account.
    fn sign_oauth1(&self, req: &mut HttpRequest) -> Result<(), RunError> {
        let get = |k: &str| {
            self.account
                .get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    RunError::Auth(format!(
                        "{} requests are signed with OAuth 1, but {k} is missing \
                         (is an OAuth client registered for it?)",
                        self.app.name
                    ))
                })
        };
        let key = switchboard_net::oauth1::OAuth1Key {
            consumer_key: get("oauth_client_id")?,
            consumer_secret: get("oauth_client_secret")?,
            token: Some(get("oauth_access_token")?),
            token_secret: get("oauth_token_secret")?,
        };
        switchboard_net::oauth1::sign_now(req, &key, &[]);
        Ok(())
    }

    fn is_auth_error(&self, r: &HttpResponse) -> Result<bool, RunError> {
        let Some(api) = &self.app.api else {
            return Ok(r.status == 401);
        };
        if api.auth_error.statuses.contains(&r.status) {
            return Ok(true);
        }
        match &api.auth_error.when {
            Some(cond) => Ok(template::truthy(
                cond,
                &json!({"response": response_value(r)}),
            )?),
            None => Ok(false),
        }
    }

    /// The provider's rate-limit headers, for observations: ` [quota 4999/5000]`.
    fn quota(&self, r: &HttpResponse) -> String {
        let Some(rl) = self.app.api.as_ref().map(|a| &a.rate_limit) else {
            return String::new();
        };
        let get = |h: &Option<String>| h.as_deref().and_then(|h| r.header(h));
        match (get(&rl.remaining), get(&rl.limit)) {
            (Some(left), Some(limit)) => format!(" [quota {left}/{limit} left]"),
            (Some(left), None) => format!(" [quota {left} left]"),
            _ => String::new(),
        }
    }

    /// How long the provider asks us to wait (its `Retry-After`, seconds
    /// or an HTTP-date), clamped to [`retry::MAX_RETRY_AFTER`].
    pub fn retry_after(&self, r: &HttpResponse) -> Option<Duration> {
        let name = self
            .app
            .api
            .as_ref()
            .map(|a| a.rate_limit.retry_after.as_str())
            .unwrap_or("retry-after");
        retry::retry_after(
            r.header(name)?,
            std::time::SystemTime::now(),
            retry::MAX_RETRY_AFTER,
        )
    }

    /// Sends a request with credentials. `retry`: follow the app's retry
    /// rules (the proxy passes 429s through instead).
    pub async fn send(
        &mut self,
        mut req: HttpRequest,
        retry: bool,
    ) -> Result<HttpResponse, RunError> {
        self.check_domain(&req.url)?;
        let template_req = req.clone();
        // A caller's own Authorization header wins, and is not ours to refresh.
        let own_auth = req
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("authorization"));
        self.inject(&mut req)?;
        let rules = self
            .app
            .api
            .as_ref()
            .map(|a| a.retry.clone())
            .unwrap_or_default();
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let resp = self.outbound.send(req.clone(), self.remaining()?).await;
            if !matches!(resp, Err(OutboundError::Blocked(_))) {
                self.sent += 1;
            }
            let resp = match resp {
                Ok(r) => r,
                Err(e) => {
                    self.log_error(
                        "RequestError",
                        &format!("{} {}: {e}", req.method, safe_url(&req.url)),
                    );
                    return Err(e.into());
                }
            };
            let quota = self.quota(&resp);
            self.log(format!(
                "{} {} -> {} ({} ms){quota}",
                req.method,
                safe_url(&req.url),
                resp.status,
                started.elapsed().as_millis()
            ));
            if !own_auth
                && !self.refreshed
                && self.is_auth_error(&resp)?
                && let Some(r) = self.refresher
            {
                self.refreshed = true;
                let refreshed = tokio::time::timeout(self.remaining()?, r.refresh())
                    .await
                    .map_err(|_| RunError::Timeout(Duration::ZERO))?;
                match refreshed {
                    Ok(fields) => {
                        self.log(
                            "credentials were rejected; refreshed the token and retrying once",
                        );
                        self.account = fields;
                        req = template_req.clone();
                        self.inject(&mut req)?;
                        continue;
                    }
                    Err(e) => {
                        self.log_error("RefreshError", &e);
                        return Err(RunError::Auth(format!(
                            "{} rejected the account's credentials and the refresh failed: {e}",
                            self.app.name
                        )));
                    }
                }
            }
            let replay_safe = resp.status == 429
                || self.idempotent
                || matches!(req.method.as_str(), "GET" | "HEAD" | "PUT" | "DELETE");
            if retry
                && rules.statuses.contains(&resp.status)
                && attempt < rules.max_attempts
                && replay_safe
            {
                let wait = self.retry_after(&resp).unwrap_or_else(|| {
                    retry::exponential(Duration::from_millis(250), attempt, Duration::from_secs(16))
                });
                let fits = wait <= Duration::from_secs(rules.max_wait_secs)
                    && wait + Duration::from_millis(100) < self.remaining()?;
                if fits {
                    self.log(format!(
                        "{} answered {}; retrying in {} ms",
                        self.app.name,
                        resp.status,
                        wait.as_millis()
                    ));
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
            }
            return Ok(resp);
        }
    }

    /// Builds and sends a manifest request.
    pub async fn request(&mut self, spec: &Request, ctx: &Value) -> Result<HttpResponse, RunError> {
        let req = self.build(spec, ctx)?;
        self.send(req, true).await
    }

    /// The request for the page after `resp`, per the app's pagination.
    pub fn next_page(
        &self,
        req: &HttpRequest,
        resp: &HttpResponse,
        items: &[Value],
    ) -> Result<Option<HttpRequest>, RunError> {
        let Some(p) = self.app.api.as_ref().and_then(|a| a.pagination.as_ref()) else {
            return Ok(None);
        };
        let body = resp.body_value();
        let with_param = |param: &str, value: String| {
            let mut next = req.clone();
            let kept: Vec<(String, String)> = next
                .url
                .query_pairs()
                .filter(|(k, _)| k != param)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            next.url
                .query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair(param, &value);
            next
        };
        Ok(match p {
            Pagination::LinkHeader => resp
                .header("link")
                .and_then(link_next)
                .map(|u| url::Url::parse(&u))
                .transpose()
                .map_err(|e| RunError::Invalid(format!("bad Link header: {e}")))?
                .map(|mut url| {
                    self.strip_injected(&mut url);
                    HttpRequest { url, ..req.clone() }
                }),
            Pagination::Cursor { cursor_path, param } => {
                match jsonpath::first(cursor_path, &body).map_err(RunError::Invalid)? {
                    Some(Value::String(c)) if !c.is_empty() => Some(with_param(param, c)),
                    Some(Value::Number(n)) => Some(with_param(param, n.to_string())),
                    _ => None,
                }
            }
            Pagination::LastItem {
                param,
                id_path,
                has_more_path,
            } => {
                let more = jsonpath::first(has_more_path, &body).map_err(RunError::Invalid)?;
                match (more, items.last()) {
                    (Some(Value::Bool(true)), Some(last)) => jsonpath::first(id_path, last)
                        .map_err(RunError::Invalid)?
                        .map(|id| with_param(param, scalar(&id))),
                    _ => None,
                }
            }
            Pagination::Offset { param, start } => {
                if items.is_empty() {
                    None
                } else {
                    let current = req
                        .url
                        .query_pairs()
                        .find(|(k, _)| k == param)
                        .and_then(|(_, v)| v.parse::<u64>().ok())
                        .unwrap_or(*start);
                    Some(with_param(
                        param,
                        (current + items.len() as u64).to_string(),
                    ))
                }
            }
        })
    }
}

/// Tests an account's credentials with the app's verification request;
/// `Err` says why they were refused.
pub async fn verify(s: &mut Session<'_>) -> Result<(), String> {
    let Some(spec) = s.app.api.as_ref().and_then(|a| a.verify.clone()) else {
        return Ok(());
    };
    let req = Request {
        method: spec.method.clone(),
        url: spec.url.clone(),
        headers: Default::default(),
        query: Default::default(),
        extra_headers: None,
        extra_query: None,
        json: None,
        form: None,
        body: None,
    };
    let resp = s
        .request(&req, &json!({"account": s.account}))
        .await
        .map_err(|e| e.to_string())?;
    let rv = response_value(&resp);
    let ok = spec.expect_status.contains(&resp.status)
        && match &spec.ok_if {
            Some(cond) => {
                template::truthy(cond, &json!({"response": rv})).map_err(|e| e.to_string())?
            }
            None => true,
        };
    if ok {
        return Ok(());
    }
    let detail = match &rv["body"] {
        Value::Object(o) => o
            .get("message")
            .or_else(|| o.get("error"))
            .map(|m| match m {
                Value::String(s) => s.clone(),
                Value::Object(e) => e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                other => other.to_string(),
            })
            .unwrap_or_default(),
        _ => String::new(),
    };
    Err(
        format!("{} answered HTTP {} {detail}", s.app.name, resp.status)
            .trim()
            .to_string(),
    )
}

/// A URL for logs: scheme, host and path; never the query.
pub fn safe_url(u: &url::Url) -> String {
    format!(
        "{}://{}{}",
        u.scheme(),
        u.host_str().unwrap_or_default(),
        u.path()
    )
}

/// The members of an object-valued template; null means none.
fn object_entries(v: Value, what: &str) -> Result<Vec<(String, Value)>, RunError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Object(o) => Ok(o.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => Err(RunError::Invalid(format!(
            "{what} must be an object, got {other}"
        ))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Object members whose template produced null are left out of JSON
/// bodies, so optional props that were not set are not sent.
fn drop_nulls(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, drop_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(drop_nulls).collect()),
        other => other,
    }
}

/// The `rel="next"` target of an RFC 8288 Link header.
pub fn link_next(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim().split_once('='), Some(("rel", v)) if v.trim_matches('"').split_whitespace().any(|r| r == "next")));
        is_next.then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_and_forms() {
        let h = r#"<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last""#;
        assert_eq!(
            link_next(h).as_deref(),
            Some("https://api.github.com/x?page=2")
        );
        assert_eq!(link_next(r#"<https://a/x?page=1>; rel="prev""#), None);
        let pairs = form_pairs(
            &json!({"email": "a@b.c", "metadata": {"plan": "pro"}, "n": 2, "skip": null, "tags": ["x", "y"]}),
        );
        assert_eq!(
            pairs,
            vec![
                ("email".into(), "a@b.c".into()),
                ("metadata[plan]".into(), "pro".into()),
                ("n".into(), "2".into()),
                ("tags[0]".into(), "x".into()),
                ("tags[1]".into(), "y".into()),
            ]
        );
        assert!(host_allowed("API.github.com", &["api.github.com".into()]));
        assert!(host_allowed("acme.zendesk.com", &["*.zendesk.com".into()]));
        assert!(!host_allowed("evil.com", &["*.zendesk.com".into()]));
        assert!(!host_allowed(
            "api.github.com.evil.com",
            &["api.github.com".into()]
        ));
    }

    /// An outbound client and a copy of the built-in OpenAI app to adapt.
    fn openai() -> (switchboard_net::outbound::Outbound, App) {
        use switchboard_net::outbound::{Outbound, Policy};
        let out = Outbound::new(Policy::new(&[]).unwrap()).unwrap();
        let app = crate::Catalog::builtin()
            .unwrap()
            .get("openai")
            .unwrap()
            .clone();
        (out, app)
    }

    /// An OAuth 1 account's request is signed last, with the session's
    /// client and the account's token: the signature checks out over the
    /// final URL (the app's query included) and the nonce is fresh.
    #[test]
    fn oauth1_requests_are_signed_with_client_and_token() {
        use switchboard_net::oauth1::{Nonce, OAuth1Key, header_param, sign};
        let (out, mut app) = openai();
        app.auth.oauth1 = Some(crate::OAuth1Spec {
            request_token_url: "https://api.openai.com/r".into(),
            authorize_url: "https://api.openai.com/a".into(),
            access_token_url: "https://api.openai.com/t".into(),
            request_params: Default::default(),
            authorize_params: Default::default(),
            scopes: vec![],
            scope_separator: " ".into(),
        });
        let api = app.api.as_mut().unwrap();
        api.headers.clear();
        api.query.insert("key".into(), "v w".into());
        let mut acct = Map::new();
        for (k, v) in [
            ("oauth_client_id", "ck"),
            ("oauth_client_secret", "cs"),
            ("oauth_access_token", "at"),
            ("oauth_token_secret", "ts"),
        ] {
            acct.insert(k.into(), json!(v));
        }
        let t = Duration::from_secs(5);
        let s = Session::new(&out, &app, Some(acct.clone()), None, t);
        let fresh = || HttpRequest {
            method: "GET".into(),
            url: url::Url::parse("https://api.openai.com/1/members/me?fields=a").unwrap(),
            headers: vec![],
            body: vec![],
        };
        let param = |r: &HttpRequest, name: &str| header_param(r, name).unwrap();
        let (mut a, mut b) = (fresh(), fresh());
        s.inject(&mut a).unwrap();
        s.inject(&mut b).unwrap();
        assert_eq!(a.url.query(), Some("fields=a&key=v+w"));
        assert_eq!(param(&a, "oauth_consumer_key"), "ck");
        assert_eq!(param(&a, "oauth_token"), "at");
        assert_ne!(param(&a, "oauth_nonce"), param(&b, "oauth_nonce"));
        // Recomputed independently with the same nonce and time.
        let mut again = fresh();
        again.url = a.url.clone();
        let nonce = param(&a, "oauth_nonce");
        sign(
            &mut again,
            &OAuth1Key {
                consumer_key: "ck",
                consumer_secret: "cs",
                token: Some("at"),
                token_secret: "ts",
            },
            &Nonce {
                timestamp: param(&a, "oauth_timestamp").parse().unwrap(),
                nonce: &nonce,
                extra: &[],
            },
        );
        assert_eq!(again.headers, a.headers);
        // Without the project's client (none registered), nothing is sent.
        acct.remove("oauth_client_secret");
        let s = Session::new(&out, &app, Some(acct), None, t);
        let e = s.inject(&mut fresh()).unwrap_err();
        assert!(
            matches!(&e, RunError::Auth(m) if m.contains("oauth_client_secret")),
            "{e}"
        );
    }

    /// An app whose API host is the user's own (no fixed domain): the
    /// account's rendered base host is its one domain; an app with domains
    /// keeps refusing hosts outside them.
    #[tokio::test]
    async fn a_self_hosted_api_takes_only_the_accounts_own_host() {
        let (out, mut app) = openai();
        app.api.as_mut().unwrap().base_url = "{{ account.instance_url }}".into();
        app.connect.allowed_domains = Vec::new();
        let acct = |u: &str| {
            let mut m = Map::new();
            m.insert("instance_url".into(), json!(u));
            m.insert("api_key".into(), json!("k"));
            Some(m)
        };
        let t = Duration::from_secs(5);
        let s = Session::new(&out, &app, acct("https://acme.example.net/api"), None, t);
        assert_eq!(s.base_url().unwrap(), "https://acme.example.net/api");
        s.check_domain(&url::Url::parse("https://acme.example.net/api/x").unwrap())
            .unwrap();
        for other in ["https://evil.example/x", "http://acme.example.net/x"] {
            let e = s.check_domain(&url::Url::parse(other).unwrap());
            assert!(matches!(e, Err(RunError::Blocked(_))), "{other}: {e:?}");
        }
        for bad in [
            "ftp://acme.example.net",
            "https://u:p@acme.example.net",
            "acme",
        ] {
            let s = Session::new(&out, &app, acct(bad), None, t);
            assert!(matches!(s.base_url(), Err(RunError::Blocked(_))), "{bad}");
        }
        // With fixed domains, the account's host must be one of them.
        app.connect.allowed_domains = vec!["*.salesforce.com".into()];
        let s = Session::new(&out, &app, acct("https://acme.example.net"), None, t);
        assert!(matches!(s.base_url(), Err(RunError::Blocked(_))));
        let s = Session::new(&out, &app, acct("https://acme.my.salesforce.com"), None, t);
        assert!(s.base_url().is_ok());

        // The project's client secret never goes to a host the user picked.
        app.connect.allowed_domains = Vec::new();
        app.api.as_mut().unwrap().headers.insert(
            "x-client".into(),
            "{{ account.oauth_client_id }}:{{ account.oauth_client_secret }}".into(),
        );
        let s = Session::new(&out, &app, acct("https://attacker.example"), None, t);
        assert!(matches!(s.base_url(), Err(RunError::Blocked(_))));
        let e = s.check_domain(&url::Url::parse("https://attacker.example/x").unwrap());
        assert!(matches!(e, Err(RunError::Blocked(_))), "{e:?}");
    }
}
