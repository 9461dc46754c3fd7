//! One Nango provider → one app manifest, or a refusal with its reason.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::model::{Field, Provider};
use super::signing;
use super::templates::{host_fields, snake, translate};
use crate::{
    ApiSpec, App, AuthErrorRule, AuthSpec, AuthType, AwsSigV4, BasicAuth, ClientAuth, ConnectInfo,
    CustomField, ManifestKind, OAuth1Spec, OAuthSpec, Pagination, RateLimitHeaders, RetryRules,
    TokenExchange, TokenFields, TokenRequestFormat, VerifySpec,
};

/// Modes this importer maps.
pub const SUPPORTED: [&str; 6] = [
    "OAUTH2",
    "OAUTH2_CC",
    "API_KEY",
    "BASIC",
    "TWO_STEP",
    "OAUTH1",
];

/// A provider mapped to an app, with what the mapping had to leave out.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub app: App,
    pub notes: Vec<String>,
}

/// Pipedream-style slug: lowercase, underscores.
pub fn slug(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut out = String::new();
    for c in s.chars() {
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out.trim_matches('_').to_string()
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn category(c: &str) -> String {
    const ACRONYMS: [&str; 10] = [
        "ai", "api", "ats", "cms", "crm", "erp", "hr", "it", "mcp", "sms",
    ];
    c.split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            if ACRONYMS.contains(&w) {
                return w.to_ascii_uppercase();
            }
            let mut cs = w.chars();
            cs.next()
                .map(|f| f.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `^(?:a|b)$` for a field that lists its values.
fn enum_pattern(options: &[Value]) -> Option<String> {
    let vals: Vec<String> = options.iter().filter_map(scalar).collect();
    if vals.is_empty() {
        return None;
    }
    let esc = |v: &str| {
        v.chars()
            .map(|c| {
                if "\\^$.|?*+()[]{}/".contains(c) {
                    format!("\\{c}")
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
    };
    Some(format!(
        "^(?:{})$",
        vals.iter().map(|v| esc(v)).collect::<Vec<_>>().join("|")
    ))
}

/// Drops `a || b` alternatives of an OAuth URL that are a whole URL taken
/// from an account field: the client secret must never go to a host the
/// user picks. Kept when nothing else remains (the validator refuses it).
fn fixed_scheme_alternatives(what: &str, src: &str, notes: &mut Vec<String>) -> String {
    let alts: Vec<&str> = src.split("||").map(str::trim).collect();
    let kept: Vec<&str> = alts
        .iter()
        .copied()
        .filter(|a| a.starts_with("https://") || a.starts_with("http://"))
        .collect();
    if kept.is_empty() || kept.len() == alts.len() {
        return src.to_string();
    }
    for a in alts.iter().filter(|a| !kept.contains(a)) {
        notes.push(format!(
            "{what} fallback {a:?} dropped: a whole URL from an account field could send the client secret anywhere"
        ));
    }
    kept.join(" || ")
}

fn field(name: String, f: &Field, secret: bool) -> CustomField {
    CustomField {
        label: f.title.clone().unwrap_or_else(|| name.replace('_', " ")),
        description: f.description.clone(),
        optional: f.optional,
        secret: secret || f.secret,
        default: f.default_value.as_ref().and_then(scalar),
        pattern: f.pattern.clone().or_else(|| enum_pattern(&f.options)),
        prefix: f.prefix.clone(),
        suffix: f.suffix.clone(),
        in_host: false,
        name,
    }
}

/// Extra OAuth parameters; values built from account fields become
/// templates like the URLs.
fn params(
    kind: &str,
    m: &BTreeMap<String, Value>,
    tr: &mut dyn FnMut(&str, &str, bool) -> Result<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in m {
        // The grant type is the flow's own business.
        if k == "grant_type" {
            continue;
        }
        let s = scalar(v).ok_or_else(|| format!("{kind}.{k} is not a plain value"))?;
        out.insert(k.clone(), tr(&format!("{kind}.{k}"), &s, false)?);
    }
    Ok(out)
}

/// Maps a provider whose alias, if any, is already resolved.
pub fn map(name: &str, p: &Provider) -> Result<Mapped, String> {
    let mode = p.auth_mode.as_deref().unwrap_or("");
    if mode.is_empty() {
        return Err("no auth_mode".into());
    }
    if !SUPPORTED.contains(&mode) {
        return Err(format!("auth mode {mode} is not supported yet"));
    }
    if mode == "OAUTH1"
        && let Some(m) = p
            .signature_method
            .as_deref()
            .filter(|m| !m.eq_ignore_ascii_case("HMAC-SHA1"))
    {
        return Err(format!(
            "OAUTH1 signature_method {m} is not supported (HMAC-SHA1 only)"
        ));
    }
    if mode == "TWO_STEP" {
        if p.token.is_some() {
            return Err(
                "TWO_STEP with a signed JWT assertion (token.signing_key) is not supported".into(),
            );
        }
        if p.additional_steps.is_some() {
            return Err("TWO_STEP with additional_steps is not supported".into());
        }
        if let Some(f) = p
            .body_format
            .as_deref()
            .filter(|f| !matches!(*f, "form" | "json"))
        {
            return Err(format!("TWO_STEP body_format {f} is not supported"));
        }
    }
    let slug = slug(name);
    if slug.is_empty() {
        return Err(format!("{name:?} gives no slug"));
    }
    let mut notes = Vec::new();

    // Account fields: credentials, then connection config.
    let mut fields: Vec<CustomField> = Vec::new();
    let add = |f: CustomField, fields: &mut Vec<CustomField>| -> Result<(), String> {
        if fields.iter().any(|g| g.name == f.name) {
            return Err(format!("two fields map to the account field {:?}", f.name));
        }
        fields.push(f);
        Ok(())
    };
    match mode {
        "API_KEY" if !p.credentials.keys().any(|k| snake(k) == "api_key") => {
            add(
                field(
                    "api_key".into(),
                    &Field {
                        title: Some("API key".into()),
                        ..Default::default()
                    },
                    true,
                ),
                &mut fields,
            )?;
        }
        "BASIC" => {
            for k in ["username", "password"] {
                if !p.credentials.contains_key(k) {
                    let f = Field {
                        title: Some(category(k)),
                        optional: k == "password",
                        ..Default::default()
                    };
                    add(field(k.into(), &f, k == "password"), &mut fields)?;
                }
            }
        }
        "OAUTH2_CC" => {
            for k in ["client_id", "client_secret"] {
                if !p.credentials.keys().any(|c| snake(c) == k) {
                    let f = Field {
                        title: Some(category(k).replace("Id", "ID")),
                        ..Default::default()
                    };
                    add(field(k.into(), &f, k == "client_secret"), &mut fields)?;
                }
            }
        }
        _ => {}
    }
    for (k, f) in &p.credentials {
        let n = snake(k);
        let secret = matches!(
            n.as_str(),
            "api_key" | "password" | "client_secret" | "private_key"
        );
        add(field(n, f, secret), &mut fields)?;
    }
    for (k, f) in &p.connection_config {
        let mut cf = field(snake(k), f, false);
        if f.automated && fields.iter().any(|g| g.name == cf.name) {
            // Nango copies a credential here: the same account field.
            continue;
        }
        if f.automated {
            // Nango fills these itself (token response, post-connection
            // script); here they are optional fields the user or the
            // accounts API may set.
            cf.optional = true;
            notes.push(format!(
                "connection_config.{k} is filled by Nango after connecting; here it is an optional field"
            ));
        }
        add(cf, &mut fields)?;
    }
    // Values Nango fills from the token response or the redirect without
    // declaring them: optional fields here, when something uses them.
    let mut used_text: Vec<String> = [&p.authorization_url, &p.token_url]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    if let Some(proxy) = &p.proxy {
        used_text.extend(proxy.base_url.clone());
        used_text.extend(
            proxy
                .headers
                .values()
                .chain(proxy.query.values())
                .filter_map(scalar),
        );
    }
    used_text.extend(
        p.authorization_params
            .values()
            .chain(p.token_params.values())
            .filter_map(scalar),
    );
    for k in p
        .token_response_metadata
        .iter()
        .chain(&p.redirect_uri_metadata)
    {
        let name = snake(k);
        let needle = format!("${{connectionConfig.{k}}}");
        if !fields.iter().any(|f| f.name == name) && used_text.iter().any(|t| t.contains(&needle)) {
            let f = Field {
                title: Some(k.replace(['_', '-'], " ")),
                optional: true,
                ..Default::default()
            };
            add(field(name, &f, false), &mut fields)?;
            notes.push(format!(
                "connection_config.{k} comes from Nango's token response or redirect; here it is an optional field"
            ));
        }
    }
    let optional: BTreeSet<String> = fields
        .iter()
        .filter(|f| f.optional)
        .map(|f| f.name.clone())
        .collect();

    // Every translated value: its fields must exist (or be automated, which
    // nothing here can fill) and host positions are marked on the field.
    let mut host = BTreeSet::new();
    let mut tr = |what: &str, src: &str, url: bool| -> Result<String, String> {
        let t = translate(src, &optional).map_err(|e| format!("{what}: {e}"))?;
        for f in &t.fields {
            if !fields.iter().any(|g| &g.name == f) {
                return Err(format!(
                    "{what} uses {f:?}, which is no field of the provider"
                ));
            }
        }
        // Values only a session or the authorize step provides.
        let api = what.starts_with("proxy.headers.") || what.starts_with("proxy.query.");
        if t.random && !(api || what.starts_with("authorization_params.")) {
            return Err(format!(
                "{what}: ${{random}} is supported only in authorization_params and proxy headers or query"
            ));
        }
        if t.template.contains("account.oauth_client_") && !api {
            return Err(format!(
                "{what}: the OAuth client (${{clientId}}) is supported only in proxy headers or query"
            ));
        }
        if url {
            host.extend(host_fields(src).0);
        }
        Ok(t.template)
    };

    let mut auth = AuthSpec {
        kind: match mode {
            "OAUTH2" | "OAUTH1" => AuthType::Oauth,
            "BASIC" => AuthType::Basic,
            _ => AuthType::Keys,
        },
        fields: Vec::new(),
        oauth: None,
        oauth1: None,
        token_exchange: None,
    };
    let client_auth = if p.token_request_auth_method.as_deref() == Some("basic")
        || p.authorization_method.as_deref() == Some("header")
    {
        ClientAuth::Basic
    } else {
        ClientAuth::Body
    };
    let format = if p.body_format.as_deref() == Some("json") {
        TokenRequestFormat::Json
    } else {
        TokenRequestFormat::Form
    };
    let scope_separator = p.scope_separator.clone().unwrap_or_else(|| " ".into());
    match mode {
        "OAUTH2" => {
            let authorize = p
                .authorization_url
                .as_deref()
                .ok_or("no authorization_url")?;
            let authorize = fixed_scheme_alternatives("authorization_url", authorize, &mut notes);
            let token = p.token_url.as_deref().ok_or("no token_url")?;
            let token = fixed_scheme_alternatives("token_url", token, &mut notes);
            let refresh_url = match p.refresh_url.as_deref().filter(|r| *r != token) {
                Some(r) => {
                    let r = fixed_scheme_alternatives("refresh_url", r, &mut notes);
                    Some(tr("refresh_url", &r, true)?)
                }
                None => None,
            };
            auth.oauth = Some(OAuthSpec {
                authorize_url: tr("authorization_url", &authorize, true)?,
                token_url: tr("token_url", &token, true)?,
                scopes: p.default_scopes.clone(),
                scope_separator,
                pkce: !p.disable_pkce,
                extra_authorize_params: params(
                    "authorization_params",
                    &p.authorization_params,
                    &mut tr,
                )?,
                extra_token_params: params("token_params", &p.token_params, &mut tr)?,
                token_fields: Default::default(),
                refresh: true,
                refresh_margin_secs: 300,
                client_auth,
                token_request_format: format,
                refresh_url,
            });
        }
        "OAUTH1" => {
            let request = p.request_url.as_deref().ok_or("no request_url")?;
            let authorize = p
                .authorization_url
                .as_deref()
                .ok_or("no authorization_url")?;
            let token = p.token_url.as_deref().ok_or("no token_url")?;
            auth.oauth1 = Some(OAuth1Spec {
                request_token_url: tr("request_url", request, true)?,
                authorize_url: tr("authorization_url", authorize, true)?,
                access_token_url: tr("token_url", token, true)?,
                request_params: params("request_params", &p.request_params, &mut tr)?,
                authorize_params: params("authorization_params", &p.authorization_params, &mut tr)?,
                scopes: p.default_scopes.clone(),
                scope_separator,
            });
        }
        "OAUTH2_CC" => {
            let token = p.token_url.as_deref().ok_or("no token_url")?;
            let token = fixed_scheme_alternatives("token_url", token, &mut notes);
            // The client-credentials grant as a token exchange: the client
            // is the account's own `client_id` and `client_secret`.
            let mut params = params("token_params", &p.token_params, &mut tr)?;
            params.insert("grant_type".into(), "client_credentials".into());
            if !p.default_scopes.is_empty() {
                params
                    .entry("scope".into())
                    .or_insert_with(|| p.default_scopes.join(&scope_separator));
            }
            let mut headers = BTreeMap::new();
            match client_auth {
                ClientAuth::Body => {
                    for k in ["client_id", "client_secret"] {
                        params
                            .entry(k.into())
                            .or_insert_with(|| format!("{{{{ account.{k} }}}}"));
                    }
                }
                ClientAuth::Basic => {
                    headers.insert(
                        "Authorization".into(),
                        "Basic {{ (account.client_id ~ ':' ~ account.client_secret) | b64encode }}"
                            .into(),
                    );
                }
            }
            auth.token_exchange = Some(TokenExchange {
                token_url: tr("token_url", &token, true)?,
                method: "POST".into(),
                format,
                params,
                headers,
                token_fields: TokenFields::default(),
                expires_in_secs: None,
                refresh_margin_secs: 300,
            });
        }
        "TWO_STEP" => {
            let token = p.token_url.as_deref().ok_or("no token_url")?;
            let token = fixed_scheme_alternatives("token_url", token, &mut notes);
            // Unlike OAuth's, the grant type is part of the request here.
            let mut params = params("token_params", &p.token_params, &mut tr)?;
            if let Some(g) = p.token_params.get("grant_type").and_then(scalar) {
                params.insert(
                    "grant_type".into(),
                    tr("token_params.grant_type", &g, false)?,
                );
            }
            let mut headers = BTreeMap::new();
            for (k, v) in &p.token_headers {
                let s =
                    scalar(v).ok_or_else(|| format!("token_headers.{k} is not a plain value"))?;
                headers.insert(k.clone(), tr(&format!("token_headers.{k}"), &s, false)?);
            }
            let answer = p.token_response.clone().unwrap_or_default();
            // An empty path is the whole answer (a bare token as text).
            let path = |p: &str| {
                if p.is_empty() {
                    "$".to_string()
                } else {
                    format!("$.{p}")
                }
            };
            let mut token_fields = TokenFields {
                access_token: path(answer.token.as_deref().unwrap_or("access_token")),
                ..TokenFields::default()
            };
            if let Some(r) = &answer.refresh_token {
                token_fields.refresh_token = path(r);
            }
            if let Some(e) = &answer.token_expiration {
                token_fields.expires_in = path(e);
            }
            if let Some(s) = answer
                .token_expiration_strategy
                .as_deref()
                .filter(|s| *s != "expireIn")
            {
                // A date is no lifetime in seconds: the token is exchanged
                // again when refused (and at least daily).
                notes.push(format!(
                    "token_expiration_strategy {s}: the expiry is not read; the token is exchanged again when refused"
                ));
            }
            if p.refresh_url.is_some() {
                notes.push("refresh_url: refreshes run the exchange again".into());
            }
            auth.token_exchange = Some(TokenExchange {
                token_url: tr("token_url", &token, true)?,
                method: match p.token_request_method.as_deref() {
                    Some(m) if m.eq_ignore_ascii_case("GET") => "GET".into(),
                    _ => "POST".into(),
                },
                format,
                params,
                headers,
                token_fields,
                expires_in_secs: p
                    .token_expires_in_ms
                    .as_ref()
                    .and_then(scalar)
                    .and_then(|ms| ms.parse::<u64>().ok())
                    .map(|ms| (ms / 1000).max(1)),
                refresh_margin_secs: 300,
            });
        }
        _ => {}
    }

    let mut connect = ConnectInfo::default();
    let mut api = None;
    if let Some(proxy) = &p.proxy
        && let Some(base) = proxy.base_url.as_deref()
    {
        let base_url = tr("proxy.base_url", base, true)?;
        let mut headers = BTreeMap::new();
        let mut aws_sigv4 = None;
        for (k, v) in &proxy.headers {
            let s = scalar(v).ok_or_else(|| format!("proxy.headers.{k} is not a plain value"))?;
            if let Some([key, secret, region, service]) = signing::aws_sigv4_args(&s) {
                let mut arg = |a: &str| tr(&format!("proxy.headers.{k}"), a, false);
                aws_sigv4 = Some(AwsSigV4 {
                    access_key: arg(&key)?,
                    secret_key: arg(&secret)?,
                    session_token: None,
                    region: arg(&region)?,
                    service: arg(&service)?,
                });
                continue;
            }
            headers.insert(k.clone(), (k.clone(), s));
        }
        let mut headers = headers
            .into_values()
            .filter(|(k, _)| !(aws_sigv4.is_some() && signing::set_by_signer(k)))
            .map(|(k, s)| Ok((k.clone(), tr(&format!("proxy.headers.{k}"), &s, false)?)))
            .collect::<Result<BTreeMap<_, _>, String>>()?;
        let mut query = BTreeMap::new();
        for (k, v) in &proxy.query {
            let s = scalar(v).ok_or_else(|| format!("proxy.query.{k} is not a plain value"))?;
            query.insert(k.clone(), tr(&format!("proxy.query.{k}"), &s, false)?);
        }
        let mut basic_auth = None;
        match mode {
            "BASIC" if aws_sigv4.is_none() => {
                let opt = |f: &str| {
                    if optional.contains(f) {
                        format!("{{{{ account.{f} | default('') }}}}")
                    } else {
                        format!("{{{{ account.{f} }}}}")
                    }
                };
                basic_auth = Some(BasicAuth {
                    username: opt("username"),
                    password: opt("password"),
                });
            }
            "OAUTH2" | "OAUTH2_CC" | "TWO_STEP"
                if !headers
                    .values()
                    .chain(query.values())
                    .any(|v| v.contains("account.oauth_access_token")) =>
            {
                // Nango's default for OAuth: a bearer token.
                headers
                    .entry("Authorization".into())
                    .or_insert_with(|| "Bearer {{ account.oauth_access_token }}".into());
            }
            "API_KEY" => {
                let injects = headers
                    .values()
                    .chain(query.values())
                    .any(|v| v.contains("account."));
                if !injects {
                    notes.push(
                        "the provider declares no header or query parameter for the key".into(),
                    );
                }
            }
            _ => {}
        }
        let mut rate_limit = RateLimitHeaders::default();
        let mut retry = RetryRules::default();
        if let Some(r) = &proxy.retry {
            rate_limit.reset = r.at.strings().into_iter().next();
            rate_limit.remaining = r.remaining.strings().into_iter().next();
            if let Some(a) = r.after.strings().into_iter().next() {
                rate_limit.retry_after = a.to_ascii_lowercase();
            }
            let mut statuses = BTreeSet::new();
            for c in r.error_code.strings() {
                match c.as_str() {
                    "5xx" => statuses.extend([500, 502, 503, 504]),
                    // An auth failure is a refresh, never a retry.
                    "401" => {}
                    c => match c.parse::<u16>() {
                        Ok(n) if (400..600).contains(&n) => {
                            statuses.insert(n);
                        }
                        _ => notes.push(format!("retry error code {c:?} ignored")),
                    },
                }
            }
            if !statuses.is_empty() {
                statuses.insert(429);
                retry.statuses = statuses.into_iter().collect();
            }
        }
        let pagination = match proxy.paginate.as_ref().map(|g| (g.kind.as_deref(), g)) {
            None => None,
            Some((Some("link"), _)) => Some(Pagination::LinkHeader),
            Some((Some("cursor"), g)) => {
                match (&g.cursor_name_in_request, &g.cursor_path_in_response) {
                    (Some(param), Some(path)) => Some(Pagination::Cursor {
                        cursor_path: format!("$.{path}"),
                        param: param.clone(),
                    }),
                    _ => {
                        notes.push("cursor paging without its parameter names dropped".into());
                        None
                    }
                }
            }
            Some((Some("offset"), g))
                if g.offset_calculation_method.as_deref() != Some("per-page") =>
            {
                g.offset_name_in_request
                    .as_ref()
                    .map(|param| Pagination::Offset {
                        param: param.clone(),
                        start: g
                            .offset_start_value
                            .as_ref()
                            .and_then(scalar)
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(0),
                    })
            }
            Some((k, _)) => {
                notes.push(format!("paging {} not carried over", k.unwrap_or("?")));
                None
            }
        };
        let verify = match &proxy.verification {
            Some(v) => match v.endpoints.first() {
                Some(e) => Some(VerifySpec {
                    method: v
                        .method
                        .clone()
                        .unwrap_or_else(|| "GET".into())
                        .to_ascii_uppercase(),
                    url: tr("proxy.verification", e, false)?,
                    expect_status: vec![200],
                    ok_if: None,
                }),
                None => None,
            },
            None => None,
        };
        // The credential may only go to the provider's hosts: the base URL's
        // literal host, or `*.<rest>` after the last user field (whose value
        // holds host characters only, so the host always ends in `.<rest>`).
        let first = base.split("||").next().unwrap_or("").trim();
        let authority = first
            .split_once("://")
            .map(|(_, r)| r.split('/').next().unwrap_or(""))
            .unwrap_or("");
        if !authority.contains("${") && !authority.is_empty() {
            connect.allowed_domains = vec![authority.split(':').next().unwrap_or("").to_string()];
            if !base.contains("${") {
                connect.base_proxy_target_url = Some(base.trim_end_matches('/').to_string());
            }
        } else if let Some(rest) = authority.rsplit_once("}.").map(|(_, r)| r)
            && !rest.contains("${")
            && rest.split('.').filter(|l| !l.is_empty()).count() >= 2
        {
            connect.allowed_domains = vec![format!("*.{}", rest.split(':').next().unwrap_or(""))];
        }
        // Otherwise the API host is the user's own (no fixed domain): the
        // runtime sends credentials only to the account's rendered host.
        connect.proxy_enabled = true;
        api = Some(ApiSpec {
            base_url,
            headers,
            query,
            basic_auth,
            aws_sigv4,
            rate_limit,
            retry,
            auth_error: AuthErrorRule::default(),
            pagination,
            verify,
        });
    } else {
        notes.push("no proxy.base_url: the proxy is off".into());
    }
    for f in &mut fields {
        f.in_host = host.contains(&f.name);
    }
    if matches!(auth.kind, AuthType::Keys | AuthType::Basic) && fields.is_empty() {
        return Err("no credential fields".into());
    }
    auth.fields = fields;
    let mut categories: Vec<String> = p.categories.iter().map(|c| category(c)).collect();
    if categories.is_empty() {
        categories.push("Other".into());
    }
    let app = App {
        manifest_version: 1,
        kind: ManifestKind::App,
        id: format!("app_{slug}"),
        name: p.display_name.clone().unwrap_or_else(|| name.to_string()),
        description: match &p.docs {
            Some(d) => format!("Imported from the provider catalog ({name}). Docs: {d}"),
            None => format!("Imported from the provider catalog ({name})."),
        },
        categories,
        featured_weight: 0,
        auth,
        scope_profiles: Vec::new(),
        connect,
        api,
        name_slug: slug,
    };
    Ok(Mapped { app, notes })
}
