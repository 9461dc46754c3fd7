//! Token endpoint requests: OAuth code and refresh grants, and credential
//! exchanges (`auth.token_exchange`: client credentials, Nango's TWO_STEP).
//! URLs, params and headers are templates over the account's fields; a
//! rendered URL must stay on a host the app's rules allow, so a field value
//! cannot send the project's client secret (or a user's credentials) to a
//! host of the user's choosing. The caller sends the request through the
//! outbound client (SSRF guard) and reads the answer with [`read`].

use base64::Engine;
use serde_json::{Map, Value, json};
use switchboard_net::outbound::HttpRequest;

use switchboard_net::oauth1::{self, OAuth1Key};

use crate::app::{App, ClientAuth, OAuthSpec, TokenExchange, TokenFields, TokenRequestFormat};
use crate::runtime::host_allowed;
use crate::{jsonpath, template};

/// Whose secret a request carries, which decides where it may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// The project's OAuth client secret: only to the app's domains, or to
    /// the host the manifest's URL names when no account field is set.
    Project,
    /// The user's own credentials: as above, and to the user's own host
    /// when the app has no fixed domain (a self-hosted API).
    User,
}

/// Renders a URL template over `account` and checks where it points: an
/// http(s) URL without userinfo whose host (for a template) is one of the
/// app's domains, or the host the template gives with no account fields.
pub fn render_url(
    app: &App,
    what: &str,
    src: &str,
    account: &Map<String, Value>,
    secret: Secret,
) -> Result<url::Url, String> {
    let raw = template::render(src, &json!({ "account": account }))
        .map_err(|e| format!("{what}: {e}"))?;
    let url = url::Url::parse(raw.trim())
        .map_err(|e| format!("{what} {raw:?} is not a valid URL: {e}"))?;
    check_url(app, what, src, &url, secret)?;
    Ok(url)
}

/// Checks a URL rendered from the template `src` (see [`render_url`]).
pub fn check_url(
    app: &App,
    what: &str,
    src: &str,
    url: &url::Url,
    secret: Secret,
) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{what} {:?} is not an http(s) URL", url.as_str()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{what} {:?} carries a user name", url.as_str()));
    }
    if !template::is_template(src) {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default();
    let domains = &app.connect.allowed_domains;
    let default_host = template::render(src, &json!({ "account": {} }))
        .ok()
        .and_then(|u| url::Url::parse(u.trim()).ok())
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    let ok = host_allowed(host, domains)
        || default_host.as_deref() == Some(host)
        || (secret == Secret::User && domains.is_empty());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} points at {host}, which is not one of {}'s domains {domains:?}: \
             credentials are never sent there",
            app.name
        ))
    }
}

/// Renders a map of templates over `account`, dropping empty values.
fn render_all<'a>(
    what: &str,
    m: impl IntoIterator<Item = (&'a String, &'a String)>,
    account: &Map<String, Value>,
) -> Result<Vec<(String, String)>, String> {
    let ctx = json!({ "account": account });
    let mut out = Vec::new();
    for (k, t) in m {
        let v = template::render(t, &ctx).map_err(|e| format!("{what}.{k}: {e}"))?;
        if !v.is_empty() {
            out.push((k.clone(), v));
        }
    }
    Ok(out)
}

fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
}

/// A request with `params` in the body (form or JSON) or, for GET, the query.
fn request(
    method: &str,
    mut url: url::Url,
    format: TokenRequestFormat,
    params: Vec<(String, String)>,
    mut headers: Vec<(String, String)>,
) -> HttpRequest {
    if !has_header(&headers, "accept") {
        headers.push(("Accept".into(), "application/json".into()));
    }
    let mut body = Vec::new();
    if method == "GET" {
        if !params.is_empty() {
            url.query_pairs_mut().extend_pairs(params);
        }
    } else {
        let (ct, b) = match format {
            TokenRequestFormat::Form => (
                "application/x-www-form-urlencoded",
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params)
                    .finish()
                    .into_bytes(),
            ),
            TokenRequestFormat::Json => {
                let o: Map<String, Value> = params
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                (
                    "application/json",
                    Value::Object(o).to_string().into_bytes(),
                )
            }
        };
        if !has_header(&headers, "content-type") {
            headers.push(("Content-Type".into(), ct.into()));
        }
        body = b;
    }
    HttpRequest {
        method: method.into(),
        url,
        headers,
        body,
    }
}

/// An OAuth grant (`grant`: the authorization code or refresh token pairs)
/// at the app's token endpoint (`refresh_url` for refreshes, when set),
/// with the project's client authenticated as the manifest says.
pub fn oauth_request(
    app: &App,
    oauth: &OAuthSpec,
    mut grant: Vec<(String, String)>,
    (client_id, secret): (&str, &str),
    account: &Map<String, Value>,
    refresh: bool,
) -> Result<HttpRequest, String> {
    let (what, src) = match &oauth.refresh_url {
        Some(r) if refresh => ("refresh_url", r.as_str()),
        _ => ("token_url", oauth.token_url.as_str()),
    };
    let url = render_url(app, what, src, account, Secret::Project)?;
    let mut headers = Vec::new();
    match oauth.client_auth {
        ClientAuth::Body => {
            grant.push(("client_id".into(), client_id.into()));
            grant.push(("client_secret".into(), secret.into()));
        }
        ClientAuth::Basic => {
            let b =
                base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
            headers.push(("Authorization".into(), format!("Basic {b}")));
        }
    }
    grant.extend(render_all(
        "extra_token_params",
        &oauth.extra_token_params,
        account,
    )?);
    Ok(request(
        "POST",
        url,
        oauth.token_request_format,
        grant,
        headers,
    ))
}

/// A credential exchange with the account's own fields.
pub fn exchange_request(
    app: &App,
    x: &TokenExchange,
    account: &Map<String, Value>,
) -> Result<HttpRequest, String> {
    let url = render_url(
        app,
        "token_exchange.token_url",
        &x.token_url,
        account,
        Secret::User,
    )?;
    let params = render_all("token_exchange.params", &x.params, account)?;
    let headers = render_all("token_exchange.headers", &x.headers, account)?;
    Ok(request(&x.method, url, x.format, params, headers))
}

/// One of OAuth 1's token requests: a form POST to the rendered URL `src`
/// with `params`, signed (HMAC-SHA1) by `key` with the flow's `extra`
/// protocol parameters (`oauth_callback`, `oauth_verifier`). The client
/// secret signs it, so the URL obeys the project-secret host rule.
pub fn oauth1_request(
    app: &App,
    (what, src): (&str, &str),
    params: &std::collections::BTreeMap<String, String>,
    account: &Map<String, Value>,
    key: &OAuth1Key<'_>,
    extra: &[(&str, &str)],
) -> Result<HttpRequest, String> {
    let url = render_url(app, what, src, account, Secret::Project)?;
    let params = render_all(what, params, account)?;
    let headers = vec![("Accept".into(), "*/*".into())];
    let mut req = request("POST", url, TokenRequestFormat::Form, params, headers);
    oauth1::sign_now(&mut req, key, extra);
    Ok(req)
}

/// An OAuth 1 token and its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OAuth1Token {
    pub token: String,
    pub secret: String,
}

/// Reads an OAuth 1 token answer: `oauth_token` and `oauth_token_secret`,
/// form-encoded (RFC 5849 §2.1) or, from some providers, JSON.
pub fn read_oauth1(status: u16, body: &[u8]) -> Result<OAuth1Token, Refused> {
    let pairs: Map<String, Value> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => o,
        _ => url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect(),
    };
    let get = |k: &str| {
        pairs
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    match (get("oauth_token"), get("oauth_token_secret")) {
        (Some(token), Some(secret)) if (200..300).contains(&status) => {
            Ok(OAuth1Token { token, secret })
        }
        _ => Err(Refused {
            transient: status >= 500 || status == 429,
            why: get("oauth_problem")
                .or_else(|| {
                    let text = String::from_utf8_lossy(body);
                    let text = text.trim();
                    (!text.is_empty()).then(|| text.chars().take(300).collect())
                })
                .unwrap_or_else(|| format!("HTTP {status}")),
        }),
    }
}

/// What a token endpoint granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
}

/// Why a token endpoint granted nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// 5xx or 429: the provider's trouble, worth trying again.
    pub transient: bool,
    /// The provider's `error` (or `error_description`), else the status.
    pub why: String,
}

/// Reads a token endpoint's answer with the manifest's JSONPaths. A
/// non-2xx answer, or a 2xx without an access token (GitHub and Slack
/// answer 200 with an error), grants nothing.
pub fn read(fields: &TokenFields, status: u16, body: &Value) -> Result<Tokens, Refused> {
    let get = |path: &str| jsonpath::first(path, body).ok().flatten();
    let text = |v: Value| match v {
        Value::String(s) if !s.is_empty() => Some(s),
        _ => None,
    };
    let access = get(&fields.access_token).and_then(text);
    let Some(access_token) = access.filter(|_| (200..300).contains(&status)) else {
        let why = ["error_description", "error", "message"]
            .iter()
            .find_map(|k| body.get(k).and_then(Value::as_str))
            .map(|s| s.chars().take(300).collect())
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(Refused {
            transient: status >= 500 || status == 429,
            why,
        });
    };
    Ok(Tokens {
        access_token,
        refresh_token: get(&fields.refresh_token).and_then(text),
        expires_in: get(&fields.expires_in)
            .and_then(|x| x.as_u64().or_else(|| x.as_str()?.trim().parse().ok())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Catalog, ConnectInfo};

    fn app(domains: &[&str]) -> App {
        let mut a = Catalog::builtin().unwrap().get("hubspot").unwrap().clone();
        a.connect = ConnectInfo {
            proxy_enabled: true,
            allowed_domains: domains.iter().map(|d| d.to_string()).collect(),
            base_proxy_target_url: None,
        };
        a
    }

    fn acct(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect()
    }

    #[test]
    fn rendered_urls_stay_on_the_apps_hosts() {
        let a = app(&["*.myshopify.com"]);
        let src = "https://{{ account.subdomain }}.myshopify.com/admin/oauth/access_token";
        let u = render_url(
            &a,
            "token_url",
            src,
            &acct(&[("subdomain", "acme")]),
            Secret::Project,
        )
        .unwrap();
        assert_eq!(u.host_str(), Some("acme.myshopify.com"));
        // A value that would move the host (fields are checked before, but
        // the rendered URL is checked again).
        for bad in ["evil.com/x?", "evil.com#", "a@evil.com/"] {
            let e = render_url(
                &a,
                "token_url",
                "https://{{ account.s }}",
                &acct(&[("s", bad)]),
                Secret::Project,
            );
            assert!(e.is_err(), "{bad}: {e:?}");
        }
        // The manifest's own default host (Salesforce's login host when
        // no hostname is entered) is allowed; a user-chosen one is not.
        let sf = "https://{% if account.hostname is defined and account.hostname %}{{ account.hostname }}{% else %}login.salesforce.com{% endif %}/services/oauth2/token";
        let none = app(&[]);
        assert!(render_url(&none, "token_url", sf, &acct(&[]), Secret::Project).is_ok());
        let e = render_url(
            &none,
            "token_url",
            sf,
            &acct(&[("hostname", "evil.example")]),
            Secret::Project,
        )
        .unwrap_err();
        assert!(e.contains("evil.example"), "{e}");
        // A user's own credentials may go to her own host when the app has
        // no fixed domain; never with userinfo or another scheme. Literal
        // URLs (the manifest's or configuration's) are not judged.
        let own = "https://{{ account.domain }}/connect/token";
        let pbx = [("domain", "pbx.acme.example")];
        let fixed = app(&["x.example"]);
        let field = "{{ account.u }}";
        type Case<'a> = (&'a App, &'a str, &'a [(&'a str, &'a str)], Secret, bool);
        let cases: [Case; 6] = [
            (&none, own, &pbx, Secret::User, true),
            (&none, own, &pbx, Secret::Project, false),
            (&fixed, own, &pbx, Secret::User, false),
            (
                &none,
                field,
                &[("u", "file:///etc/passwd")],
                Secret::User,
                false,
            ),
            (
                &none,
                field,
                &[("u", "https://a:b@h.example/")],
                Secret::User,
                false,
            ),
            (
                &none,
                "http://127.0.0.1:9/token",
                &[],
                Secret::Project,
                true,
            ),
        ];
        for (a, src, fields, secret, ok) in cases {
            let r = render_url(a, "t", src, &acct(fields), secret);
            assert_eq!(r.is_ok(), ok, "{src} {fields:?} {secret:?}: {r:?}");
        }
    }

    #[test]
    fn requests_are_encoded_as_the_manifest_says() {
        let a = app(&["auth.example"]);
        let mut x = TokenExchange {
            token_url: "https://auth.example/token".into(),
            method: "POST".into(),
            format: TokenRequestFormat::Json,
            params: [
                ("grant_type".to_string(), "client_credentials".to_string()),
                (
                    "client_id".to_string(),
                    "{{ account.client_id }}".to_string(),
                ),
                (
                    "scope".to_string(),
                    "{{ account.scope | default('') }}".to_string(),
                ),
            ]
            .into(),
            headers: [(
                "Authorization".to_string(),
                "Basic {{ (account.client_id ~ ':' ~ account.client_secret) | b64encode }}"
                    .to_string(),
            )]
            .into(),
            token_fields: TokenFields::default(),
            expires_in_secs: None,
            refresh_margin_secs: 300,
        };
        let creds = acct(&[("client_id", "id"), ("client_secret", "s")]);
        let r = exchange_request(&a, &x, &creds).unwrap();
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body,
            json!({"grant_type": "client_credentials", "client_id": "id"})
        );
        assert!(
            r.headers
                .contains(&("Authorization".into(), "Basic aWQ6cw==".into()))
        );
        assert!(
            r.headers
                .contains(&("Content-Type".into(), "application/json".into()))
        );
        x.method = "GET".into();
        let r = exchange_request(&a, &x, &creds).unwrap();
        assert!(r.body.is_empty());
        assert_eq!(
            r.url.query(),
            Some("client_id=id&grant_type=client_credentials")
        );

        let mut o = a.auth.oauth.clone().unwrap();
        o.token_url = "https://auth.example/token".into();
        o.refresh_url = Some("https://auth.example/refresh".into());
        o.client_auth = ClientAuth::Basic;
        let grant = vec![("grant_type".to_string(), "refresh_token".to_string())];
        let r = oauth_request(&a, &o, grant.clone(), ("id", "s"), &creds, true).unwrap();
        assert_eq!(r.url.path(), "/refresh");
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "grant_type=refresh_token"
        );
        let r = oauth_request(&a, &o, grant, ("id", "s"), &creds, false).unwrap();
        assert_eq!(r.url.path(), "/token");
    }

    #[test]
    fn answers_are_read_with_the_manifests_paths() {
        let f = TokenFields::default();
        let ok = read(&f, 200, &json!({"access_token": "t", "expires_in": "60"})).unwrap();
        assert_eq!((ok.access_token.as_str(), ok.expires_in), ("t", Some(60)));
        let e = read(&f, 401, &json!({"error": "invalid_client"})).unwrap_err();
        assert_eq!((e.transient, e.why.as_str()), (false, "invalid_client"));
        assert!(read(&f, 503, &json!("down")).unwrap_err().transient);
        assert!(!read(&f, 200, &json!({"ok": false})).unwrap_err().transient);
        let nested = TokenFields {
            access_token: "$.data.Token".into(),
            ..TokenFields::default()
        };
        assert_eq!(
            read(&nested, 200, &json!({"data": {"Token": "x"}}))
                .unwrap()
                .access_token,
            "x"
        );
    }
}
