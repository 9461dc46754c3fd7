//! The hosted connect page at `connect_link_url` (`/_static/connect.html`,
//! the path Pipedream's links and browser SDK use). Server-rendered, no
//! third-party assets, usable without JavaScript; the only script posts
//! Pipedream's `{type: "success" | "error" | "close"}` messages to the
//! opener or parent frame when there is one: in full only to origins the
//! token names, else only the type. Branding is the project's own. The
//! OAuth flow is bound to the browser that started it by a cookie.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchboard_domain::accounts::oauth_flow::{OAUTH_STATE_TTL_SECS, oauth_binding};
use switchboard_domain::accounts::overrides::ConnectChoice;
use switchboard_domain::accounts::{AccountView, NewKeyAccount};
use switchboard_domain::components::{App, AuthType, CustomField};
use switchboard_domain::model::{ConnectToken, Project};
use switchboard_domain::tenancy::projects::frame_ancestors;
use switchboard_domain::{Core, Error};

use crate::ctx::core;

/// Escapes text for HTML element content and quoted attributes.
fn esc(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Escapes a JSON value for an inline `<script>`.
fn script_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}\
main{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:12px;box-shadow:0 1px 3px #0002}\
h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;font-weight:600;margin-top:1rem}\
input{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #8a929c;border-radius:6px;font:inherit}\
input:focus{outline:3px solid #2b6cb0;outline-offset:1px}input[readonly]{background:#eef0f3;color:#333a44}.hint{color:#4a5360;font-size:.9rem;margin:.2rem 0 0}\
button{margin-top:1.5rem;width:100%;padding:.7rem;border:0;border-radius:6px;background:#1f4fa3;color:#fff;font:inherit;font-weight:600;cursor:pointer}\
button.secondary{margin-top:.75rem;background:#fff;color:#1f4fa3;border:1px solid #1f4fa3}\
.button{display:inline-block;margin-top:1rem;padding:.7rem 1.2rem;border-radius:6px;background:#1f4fa3;color:#fff;font-weight:600;text-decoration:none}\
.error{background:#fdecec;border:1px solid #c53030;color:#822727;padding:.7rem;border-radius:6px}\
.affix{display:flex;align-items:center;gap:.35rem}.affix span{color:#4a5360;white-space:nowrap}\
footer{margin-top:1.5rem;color:#4a5360;font-size:.85rem}";

/// A whole page under the project's brand. `data` goes to the page's
/// script (connect_page.js): `message` to post, `popup` texts for OAuth
/// from a frame.
fn page(status: StatusCode, brand: &Brand, title: &str, body: &str, data: Value) -> HttpResponse {
    let mut data = data;
    data["targets"] = json!(brand.message_targets());
    let close = if brand.closable {
        // Shown by the script only when another window embeds or opened the page.
        let label = if data.get("message").is_some() {
            "Close"
        } else {
            "Cancel"
        };
        format!(
            "<button type=\"button\" class=\"secondary\" id=\"sb-close\" hidden>{label}</button>"
        )
    } else {
        String::new()
    };
    let support = brand
        .support_email
        .as_deref()
        .map_or_else(String::new, |e| {
            format!(
                "<footer>Need help? <a href=\"mailto:{0}\">{0}</a></footer>",
                esc(e)
            )
        });
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · {name}</title><style>{STYLE}</style></head>\
         <body><main><p>{logo}<strong>{name}</strong></p>{body}{close}{support}</main>\
         <script type=\"application/json\" id=\"sb-page\">{data}</script>\
         <script src=\"{SCRIPT_PATH}\"></script></body></html>",
        title = esc(title),
        name = esc(&brand.name),
        logo = brand
            .logo_url
            .as_deref()
            .map_or_else(String::new, |u| format!(
                "<img src=\"{}\" alt=\"\" width=\"32\" height=\"32\"> ",
                esc(u)
            )),
        data = script_json(&data),
    );
    // A form's answer may redirect to the token's redirect URIs, and
    // form-action covers redirects too.
    let form_targets = std::iter::once("'self'".to_string())
        .chain(brand.redirect_origins.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        // Inline style and our own script file; nothing from elsewhere.
        .insert_header((
            "Content-Security-Policy",
            format!(
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; img-src 'self' https: data:; \
                 form-action {form_targets}; base-uri 'none'; frame-ancestors {}",
                brand.frame_ancestors.join(" ")
            ),
        ))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-store"))
        .body(html)
}

/// Where the page's script is served.
const SCRIPT_PATH: &str = "/_static/connect.js";

/// `GET /_static/connect.js`: the page's script (see connect_page.js).
#[utoipa::path(
    get,
    path = "/_static/connect.js",
    tag = "connect page",
    summary = "The connect page's script.",
    responses((status = 200, description = "JavaScript.", body = Object))
)]
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(include_str!("connect_page.js"))
}

/// The names a page carries: the project's, never Switchboard's.
struct Brand {
    name: String,
    logo_url: Option<String>,
    support_email: Option<String>,
    /// CSP `frame-ancestors` sources: who may embed the page.
    frame_ancestors: Vec<String>,
    /// The token's allowed_origins.
    token_origins: Vec<String>,
    /// Origins of the token's success and error redirects.
    redirect_origins: Vec<String>,
    /// Offer Cancel (posting `close`) when embedded or opened by another window.
    closable: bool,
}

impl Brand {
    /// The brand of the token's project, framable as the project and the
    /// token's allowed_origins say.
    async fn of_token(core: &Core, ct: &ConnectToken) -> Brand {
        let project = core
            .tenancy
            .project(&ct.tenant.project_id)
            .await
            .ok()
            .flatten();
        let redirect_origins = [&ct.success_redirect_uri, &ct.error_redirect_uri]
            .into_iter()
            .flatten()
            .filter_map(|u| url::Url::parse(u).ok())
            .map(|u| u.origin().ascii_serialization())
            .collect();
        Brand {
            frame_ancestors: frame_ancestors(project.as_ref(), &ct.allowed_origins),
            token_origins: ct.allowed_origins.clone(),
            redirect_origins,
            ..Brand::of(project.as_ref())
        }
    }

    /// Where the page's messages may go. A token naming origins (its
    /// allowed_origins and redirect origins) gets them sent only there. A
    /// token naming none, or no token at all (an error page), posts to
    /// "*": the receiver is the window that embedded or opened the page
    /// with the token in its URL, and the messages carry nothing that
    /// token does not already give (the new account's id, which the token
    /// may list; a reason the page also shows). docs/security.md.
    fn message_targets(&self) -> Vec<String> {
        let mut out = self.token_origins.clone();
        for o in &self.redirect_origins {
            if !out.contains(o) {
                out.push(o.clone());
            }
        }
        if out.is_empty() {
            out.push("*".into());
        }
        out
    }

    fn of(p: Option<&Project>) -> Brand {
        Brand {
            name: p
                .map(|p| p.app_name.clone().unwrap_or_else(|| p.name.clone()))
                .unwrap_or_else(|| "Connect an account".into()),
            logo_url: p.and_then(|p| p.logo_url.clone()),
            support_email: p.and_then(|p| p.support_email.clone()),
            frame_ancestors: frame_ancestors(p, &[]),
            token_origins: Vec::new(),
            redirect_origins: Vec::new(),
            closable: true,
        }
    }
}

fn see_other(uri: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", uri))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// The end of a flow that saved an account: the token's success redirect,
/// else a done page that tells the opener (Pipedream's message).
fn connected(brand: &Brand, ct: &ConnectToken, v: &AccountView) -> HttpResponse {
    if let Some(uri) = &ct.success_redirect_uri {
        return see_other(uri);
    }
    page(
        StatusCode::OK,
        brand,
        "Connected",
        &format!(
            "<h1>{} is connected</h1><p role=\"status\">You can close this window.</p>",
            esc(&v.app.name)
        ),
        json!({"message": {"type": "success", "authProvisionId": v.account.id}}),
    )
}

fn problem(brand: &Brand, status: StatusCode, msg: &str) -> HttpResponse {
    page(
        status,
        brand,
        "Cannot connect",
        &format!(
            "<h1>Cannot connect</h1><p class=\"error\" role=\"alert\">{}</p>",
            esc(msg)
        ),
        json!({"message": {"type": "error", "error": msg}}),
    )
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[serde(rename = "hideClose")]
    hide_close: Option<String>,
    token: Option<String>,
    app: Option<String>,
    #[serde(rename = "accountId")]
    account_id: Option<String>,
    #[serde(rename = "appOverrideId")]
    app_override_id: Option<String>,
    #[serde(rename = "oauthAppId")]
    oauth_app_id: Option<String>,
}

/// A link's (or form's) `appOverrideId` and `oauthAppId`; empty means absent.
fn choice_of(app_override_id: Option<&str>, oauth_app_id: Option<&str>) -> ConnectChoice {
    let given = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(str::to_string);
    ConnectChoice {
        app_override_id: given(app_override_id),
        oauth_app_id: given(oauth_app_id),
    }
}

/// What the page's forms and links carry from one request to the next,
/// and the values the app override predefines (shown, never posted).
struct Visit<'a> {
    token: &'a str,
    account_id: Option<&'a str>,
    choice: ConnectChoice,
    predefined: Map<String, Value>,
}

/// A link's query or a form's hidden inputs, as sent.
struct Link<'a> {
    token: Option<&'a str>,
    app: Option<&'a str>,
    account_id: Option<&'a str>,
    app_override_id: Option<&'a str>,
    oauth_app_id: Option<&'a str>,
}

impl<'a> Link<'a> {
    fn of_query(q: &'a PageQuery) -> Self {
        Link {
            token: q.token.as_deref(),
            app: q.app.as_deref(),
            account_id: q.account_id.as_deref(),
            app_override_id: q.app_override_id.as_deref(),
            oauth_app_id: q.oauth_app_id.as_deref(),
        }
    }

    fn of_form(form: &'a [(String, String)]) -> Self {
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        Link {
            token: get("token"),
            app: get("app"),
            account_id: get("account_id"),
            app_override_id: get("app_override_id"),
            oauth_app_id: get("oauth_app_id"),
        }
    }
}

/// A request of the page's: the token, its brand, the app, and the visit
/// with the link's override and OAuth client checked against the token's
/// project and the app (the domain checks them again where it counts).
struct Opened<'a> {
    ct: ConnectToken,
    brand: Brand,
    app: App,
    visit: Visit<'a>,
}

/// Opens a link, or gives the page that says why not.
async fn open<'a>(core: &Core, link: Link<'a>) -> Result<Opened<'a>, HttpResponse> {
    let (ct, brand, app) = session(core, link.token, link.app).await?;
    let choice = choice_of(link.app_override_id, link.oauth_app_id);
    let resolved = core
        .accounts
        .resolve_choice(&ct.tenant.project_id, &app, &choice)
        .await
        .map_err(|e| problem(&brand, StatusCode::BAD_REQUEST, &e.to_string()))?;
    let visit = Visit {
        token: link.token.unwrap_or_default(),
        account_id: link.account_id.filter(|a| !a.is_empty()),
        choice,
        predefined: resolved.predefined(),
    };
    Ok(Opened {
        ct,
        brand,
        app,
        visit,
    })
}

/// The token, its project's brand, and the app, or the page that says why not.
async fn session(
    core: &Core,
    token: Option<&str>,
    app: Option<&str>,
) -> Result<(ConnectToken, Brand, App), HttpResponse> {
    let none = Brand::of(None);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(problem(
            &none,
            StatusCode::BAD_REQUEST,
            "This link has no connect token.",
        ));
    };
    let ct = core.tenancy.live_connect_token(token).await.map_err(|_| {
        problem(
            &none,
            StatusCode::GONE,
            "This link has expired or was already used. Ask for a new one.",
        )
    })?;
    let brand = Brand::of_token(core, &ct).await;
    let Some(slug) = app.filter(|a| !a.is_empty()) else {
        return Err(problem(
            &brand,
            StatusCode::BAD_REQUEST,
            "This link does not say which app to connect (app=…).",
        ));
    };
    let app = core
        .app(slug)
        .map_err(|_| {
            problem(
                &brand,
                StatusCode::NOT_FOUND,
                &format!("There is no app called {slug:?}."),
            )
        })?
        .clone();
    Ok((ct, brand, app))
}

/// The inputs for an app's account fields: label, hint, prefix and suffix
/// around the input (`https://` … `.myshopify.com`), the pattern for the
/// browser to check (the server checks it again: `CustomField::check_value`).
/// Entered values come back after a refusal, except secret ones.
/// Fields the app override predefines are shown read-only and unnamed (not
/// posted: the server applies the override's values itself).
fn field_inputs<'a>(
    fields_of: impl IntoIterator<Item = &'a CustomField>,
    entered: &Map<String, Value>,
    predefined: &Map<String, Value>,
) -> String {
    let mut fields = String::new();
    for f in fields_of {
        let id = format!("f_{}", f.name);
        if let Some(v) = predefined.get(&f.name).and_then(Value::as_str) {
            fields.push_str(&format!(
                "<label for=\"{id}\">{label}</label><p class=\"hint\" id=\"{id}_hint\">Set for this connection; \
                 it cannot be changed here.</p><input id=\"{id}\" type=\"text\" readonly \
                 aria-describedby=\"{id}_hint\" value=\"{v}\">",
                label = esc(&f.label),
                v = esc(v),
            ));
            continue;
        }
        let hint = f.description.as_deref().map_or_else(String::new, |d| {
            format!("<p class=\"hint\" id=\"{id}_hint\">{}</p>", esc(d))
        });
        let (before, after) = (
            f.prefix
                .as_deref()
                .map_or_else(String::new, |p| format!("<span>{}</span>", esc(p))),
            f.suffix
                .as_deref()
                .map_or_else(String::new, |p| format!("<span>{}</span>", esc(p))),
        );
        let (open, close) = if before.is_empty() && after.is_empty() {
            (String::new(), String::new())
        } else {
            (
                format!("<div class=\"affix\">{before}"),
                format!("{after}</div>"),
            )
        };
        let pattern = f
            .pattern
            .as_deref()
            .and_then(html_pattern)
            .map_or_else(String::new, |p| format!(" pattern=\"{}\"", esc(&p)));
        let value = entered
            .get(&f.name)
            .and_then(Value::as_str)
            .filter(|v| !f.secret && !v.is_empty())
            .or(f.default.as_deref());
        fields.push_str(&format!(
            "<label for=\"{id}\">{label}{opt}</label>{hint}{open}<input id=\"{id}\" name=\"{id}\" type=\"{ty}\" \
             autocomplete=\"off\"{req}{desc}{val}{pattern}>{close}",
            label = esc(&f.label),
            opt = if f.optional { " (optional)" } else { "" },
            ty = if f.secret { "password" } else { "text" },
            req = if f.optional { "" } else { " required" },
            desc = if f.description.is_some() { format!(" aria-describedby=\"{id}_hint\"") } else { String::new() },
            val = value.map_or_else(String::new, |v| format!(" value=\"{}\"", esc(v))),
        ));
    }
    fields
}

/// A field's pattern as the HTML `pattern` attribute takes it: browsers
/// compile it with the `v` flag, where a character class must escape
/// `( ) [ { } / | -` (but a range's `-`): `^[a-z0-9_-]+$` becomes
/// `^[a-z0-9_\-]+$`. A pattern with doubled class punctuators (`&&`, `--`,
/// …, set operations in `v` mode) is left to the server alone.
fn html_pattern(p: &str) -> Option<String> {
    let cs: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 4);
    let (mut class, mut atoms) = (false, 0usize);
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let next = cs.get(i + 1).copied();
        if c == '\\' {
            out.push(c);
            out.extend(next);
            i += 2;
            atoms += 1;
            continue;
        }
        if !class {
            out.push(c);
            if c == '[' {
                class = true;
                atoms = 0;
                if next == Some('^') {
                    out.push('^');
                    i += 1;
                }
            }
        } else if c == ']' {
            class = false;
            out.push(c);
        } else if next == Some(c) && "&!#$%*+,.:;<=>?@^`~-".contains(c) {
            return None;
        } else if c == '-' && atoms > 0 && next.is_some_and(|n| n != ']') {
            out.push(c);
            atoms = 0;
        } else {
            if "()[{}/|-".contains(c) {
                out.push('\\');
            }
            out.push(c);
            atoms += 1;
        }
        i += 1;
    }
    Some(out)
}

/// The hidden inputs every form of the page carries.
fn hidden_inputs(v: &Visit, app: &App) -> String {
    let mut out = format!(
        "<input type=\"hidden\" name=\"token\" value=\"{token}\"><input type=\"hidden\" name=\"app\" value=\"{slug}\">",
        token = esc(v.token),
        slug = esc(&app.name_slug),
    );
    for (name, value) in [
        ("account_id", v.account_id),
        ("app_override_id", v.choice.app_override_id.as_deref()),
        ("oauth_app_id", v.choice.oauth_app_id.as_deref()),
    ] {
        if let Some(value) = value {
            out.push_str(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                esc(value)
            ));
        }
    }
    out
}

fn error_note(error: Option<&str>) -> String {
    error.map_or_else(String::new, |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e))
    })
}

fn key_form(v: &Visit, app: &App, entered: &Map<String, Value>, error: Option<&str>) -> String {
    format!(
        "<h1>Connect {name}</h1>{err}<p>Enter your {name} credentials. They are sent to {name} only to \
         act on your behalf, and stored encrypted.</p>\
         <form method=\"post\" action=\"/_static/connect/keys\">\
         {hidden}{fields}<button type=\"submit\">Connect {name}</button></form>",
        name = esc(&app.name),
        err = error_note(error),
        hidden = hidden_inputs(v, app),
        fields = field_inputs(&app.auth.fields, entered, &v.predefined),
    )
}

/// The OAuth page: the permissions asked, and either a link to the
/// provider or, for an app with account fields (connection config such as
/// a Shopify shop: `AuthSpec::oauth_fields`), a form that asks for them first.
fn oauth_page(
    v: &Visit,
    app: &App,
    brand: &Brand,
    entered: &Map<String, Value>,
    error: Option<&str>,
) -> String {
    let scopes = match (&app.auth.oauth, &app.auth.oauth1) {
        (Some(o), _) => o.scopes.clone(),
        (None, Some(o1)) => o1.scopes.clone(),
        (None, None) => Vec::new(),
    };
    let list = if scopes.is_empty() {
        String::new()
    } else {
        format!(
            "<p>It will be allowed to:</p><ul>{}</ul>",
            scopes
                .iter()
                .map(|s| format!("<li><code>{}</code></li>", esc(s)))
                .collect::<String>()
        )
    };
    let go = if app.auth.oauth_fields().next().is_none() {
        let mut start = url::form_urlencoded::Serializer::new(String::new());
        start.append_pair("token", v.token);
        start.append_pair("app", &app.name_slug);
        for (name, value) in [
            ("accountId", v.account_id),
            ("appOverrideId", v.choice.app_override_id.as_deref()),
            ("oauthAppId", v.choice.oauth_app_id.as_deref()),
        ] {
            if let Some(value) = value {
                start.append_pair(name, value);
            }
        }
        format!(
            "<p><a class=\"button\" id=\"sb-oauth\" href=\"/_static/connect/oauth/start?{q}\">Continue to {name}</a></p>",
            q = esc(&start.finish()),
            name = esc(&app.name),
        )
    } else {
        format!(
            "<form id=\"sb-oauth\" method=\"post\" action=\"/_static/connect/oauth/start\">{hidden}{fields}\
             <button type=\"submit\">Continue to {name}</button></form>",
            hidden = hidden_inputs(v, app),
            fields = field_inputs(app.auth.oauth_fields(), entered, &v.predefined),
            name = esc(&app.name),
        )
    };
    // In a frame the script opens the provider in a popup and reports on
    // it in `sb-popup` (see connect_page.js).
    format!(
        "<h1>Connect {name}</h1>{err}<div id=\"sb-flow\"><p>You will sign in at {name} and allow {brand} to act \
         on your behalf.</p>{list}{go}</div><div id=\"sb-popup\" hidden><p id=\"sb-popup-text\" role=\"status\"></p>\
         <button type=\"button\" id=\"sb-popup-retry\" hidden>Try again</button></div>",
        name = esc(&app.name),
        brand = esc(&brand.name),
        err = error_note(error),
    )
}

/// What the script says about the OAuth popup it opens from a frame.
fn popup_data(app: &App) -> Value {
    let name = &app.name;
    json!({"popup": {
        "wait": format!("Finish signing in to {name} in the window that opened."),
        "blocked": format!("Your browser blocked the {name} sign-in window. Allow pop-ups for this site, then try again."),
        "closed": format!("The {name} sign-in window was closed before you finished. Try again when you are ready."),
        "connected": format!("{name} is connected."),
        "failed": format!("{name} was not connected."),
    }})
}

/// `GET /_static/connect.html?token=…&app=…[&accountId=…]`.
#[utoipa::path(
    get,
    path = "/_static/connect.html",
    tag = "connect page",
    summary = "The hosted connect page.",
    params(PageQuery),
    responses((status = 200, description = "HTML.", body = Object))
)]
pub async fn show(req: HttpRequest, q: web::Query<PageQuery>) -> HttpResponse {
    in_frame(&req, show_page(&req, &q).await)
}

/// A page loaded in a frame answers 200 even when it refuses: the embedder
/// learns the refusal from the page's `error` message, and a 4xx frame
/// document would put a failed load in the customer's console. Everyone
/// else (connect links, curl) gets the real status.
fn in_frame(req: &HttpRequest, mut resp: HttpResponse) -> HttpResponse {
    let dest = req
        .headers()
        .get("sec-fetch-dest")
        .and_then(|v| v.to_str().ok());
    if matches!(dest, Some("iframe" | "frame")) && resp.status().is_client_error() {
        *resp.status_mut() = StatusCode::OK;
    }
    resp
}

async fn show_page(req: &HttpRequest, q: &PageQuery) -> HttpResponse {
    let core = core(req);
    let Opened {
        mut brand,
        app,
        visit,
        ..
    } = match open(&core, Link::of_query(q)).await {
        Ok(o) => o,
        Err(page) => return page,
    };
    brand.closable = q.hide_close.as_deref() != Some("true");
    let title = format!("Connect {}", app.name);
    let none = Map::new();
    let body = match app.auth.kind {
        AuthType::Keys | AuthType::Basic => key_form(&visit, &app, &none, None),
        AuthType::Oauth => oauth_page(&visit, &app, &brand, &none, None),
        AuthType::None => {
            return problem(
                &brand,
                StatusCode::BAD_REQUEST,
                &format!("{} needs no account.", app.name),
            );
        }
    };
    let data = match app.auth.kind {
        AuthType::Oauth => popup_data(&app),
        _ => json!({}),
    };
    page(StatusCode::OK, &brand, &title, &body, data)
}

/// Where the browser-binding cookie is sent: the start and the callback only.
const BINDING_PATH: &str = "/_static/connect/oauth";

fn binding_name(binding: &str) -> String {
    format!("sb_oauth_{binding}")
}

/// The cookie that binds an OAuth flow to the browser that started it:
/// HttpOnly, SameSite=Lax (sent on the provider's top-level redirect back,
/// not on cross-site subrequests), Secure when the public URL is https,
/// scoped to the flow's paths, living as long as the state.
fn binding_cookie(core: &Core, binding: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if core.settings.public_base.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}={value}; Path={BINDING_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        binding_name(binding)
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("sb_oauth=; Max-Age=0"))
}

/// A request cookie's value (cookies are `name=value` pairs split by `;`).
fn request_cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// `GET /_static/connect/oauth/start`: off to the provider, with state and
/// PKCE, leaving the browser-binding cookie behind.
#[utoipa::path(
    get,
    path = "/_static/connect/oauth/start",
    tag = "connect page",
    summary = "Start an OAuth connection (redirects to the provider).",
    params(PageQuery),
    responses((status = 302, description = "Redirect to the provider."))
)]
pub async fn oauth_start(req: HttpRequest, q: web::Query<PageQuery>) -> HttpResponse {
    let core = core(&req);
    match open(&core, Link::of_query(&q)).await {
        Ok(o) => start_flow(&core, &o.brand, &o.app, &o.visit, Map::new()).await,
        Err(page) => page,
    }
}

/// `POST /_static/connect/oauth/start`: the same, with the account fields
/// the page asked for first (`f_<name>`); a refusal shows the form again
/// with the reason.
#[utoipa::path(
    post,
    path = "/_static/connect/oauth/start",
    tag = "connect page",
    summary = "Start an OAuth connection from a form.",
    request_body(content = Object, content_type = "application/x-www-form-urlencoded", description = "The connect page's fields."),
    responses((status = 302, description = "Redirect to the provider."))
)]
pub async fn oauth_start_form(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let core = core(&req);
    let Opened {
        brand, app, visit, ..
    } = match open(&core, Link::of_form(&form)).await {
        Ok(o) => o,
        Err(page) => return page,
    };
    let fields = entered_fields(&form);
    let resp = start_flow(&core, &brand, &app, &visit, fields).await;
    if resp.status() != StatusCode::FOUND {
        return resp;
    }
    // A form's redirects fall under the page's `form-action`, which cannot
    // name a provider host that depends on what was entered: the answer to
    // the form is a page that moves on by itself (`Refresh`), with a link.
    let Some(to) = resp.headers().get(header::LOCATION).cloned() else {
        return resp;
    };
    let href = to.to_str().unwrap_or_default().to_string();
    let mut moving = page(
        StatusCode::OK,
        &brand,
        &format!("Connect {}", app.name),
        &format!(
            "<h1>Connect {name}</h1><p role=\"status\">Taking you to {name}…</p>\
             <p><a class=\"button\" href=\"{href}\">Continue to {name}</a></p>",
            name = esc(&app.name),
            href = esc(&href),
        ),
        json!({}),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("0;url={href}")) {
        moving
            .headers_mut()
            .insert(header::HeaderName::from_static("refresh"), v);
    }
    for c in resp.headers().get_all(header::SET_COOKIE) {
        moving.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    moving
}

/// The `f_<name>` inputs of a submitted form.
fn entered_fields(form: &[(String, String)]) -> Map<String, Value> {
    form.iter()
        .filter_map(|(name, value)| {
            Some((
                name.strip_prefix("f_")?.to_string(),
                Value::String(value.clone()),
            ))
        })
        .collect()
}

async fn start_flow(
    core: &Core,
    brand: &Brand,
    app: &App,
    v: &Visit<'_>,
    fields: Map<String, Value>,
) -> HttpResponse {
    match core
        .accounts
        .oauth_start(
            v.token,
            &app.name_slug,
            v.account_id,
            fields.clone(),
            &v.choice,
        )
        .await
    {
        Ok(started) => HttpResponse::Found()
            .insert_header(("Location", started.authorize_url))
            .insert_header(("Cache-Control", "no-store"))
            .insert_header((
                header::SET_COOKIE,
                binding_cookie(
                    core,
                    &started.binding,
                    &started.browser_nonce,
                    OAUTH_STATE_TTL_SECS,
                ),
            ))
            .finish(),
        // Bad field values: the form again, with what was entered.
        Err(Error::Invalid(m)) if !app.auth.fields.is_empty() => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            brand,
            &format!("Connect {}", app.name),
            &oauth_page(v, app, brand, &fields, Some(&m)),
            popup_data(app),
        ),
        Err(e) => problem(brand, StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// OAuth 1: the verifier stands for the code, `oauth_problem` (a
    /// denial) for the error.
    oauth_verifier: Option<String>,
    oauth_problem: Option<String>,
}

/// `GET /_static/connect/oauth/callback`: the provider sends the user back.
/// Only the browser holding the flow's cookie may finish it; the cookie is
/// cleared whatever happens.
#[utoipa::path(
    get,
    path = "/_static/connect/oauth/callback",
    tag = "connect page",
    summary = "The provider's OAuth redirect back.",
    params(CallbackQuery),
    responses((status = 200, description = "HTML result page.", body = Object))
)]
pub async fn oauth_callback(req: HttpRequest, q: web::Query<CallbackQuery>) -> HttpResponse {
    let core = core(&req);
    let state = q.state.as_deref().unwrap_or_default();
    let binding = oauth_binding(state);
    let nonce = request_cookie(&req, &binding_name(&binding));
    let mut resp = callback_answer(&core, state, nonce.as_deref(), &q).await;
    resp.headers_mut()
        .append(header::SET_COOKIE, binding_cookie(&core, &binding, "", 0));
    resp
}

async fn callback_answer(
    core: &Core,
    state: &str,
    nonce: Option<&str>,
    q: &CallbackQuery,
) -> HttpResponse {
    let provider_error = q
        .error
        .as_deref()
        .map(|e| q.error_description.as_deref().unwrap_or(e))
        .or(q.oauth_problem.as_deref());
    let code = q.code.as_deref().or(q.oauth_verifier.as_deref());
    let failure = match core
        .accounts
        .oauth_callback(state, nonce, code, provider_error)
        .await
    {
        Ok(done) => {
            let brand = Brand::of_token(core, &done.token).await;
            return connected(&brand, &done.token, &done.account);
        }
        Err(f) => f,
    };
    if let Some(uri) = failure
        .token
        .as_ref()
        .and_then(|t| t.error_redirect_uri.as_deref())
    {
        return see_other(uri);
    }
    let brand = match &failure.token {
        Some(t) => Brand::of_token(core, t).await,
        None => Brand::of(None),
    };
    let status = if failure.browser_mismatch {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_REQUEST
    };
    problem(&brand, status, &failure.message)
}

/// `POST /_static/connect/keys`: the key form. A refusal (including a
/// failed verification) shows the form again with the reason; the token is
/// spent only by a saved account.
#[utoipa::path(
    post,
    path = "/_static/connect/keys",
    tag = "connect page",
    summary = "Submit key-based credentials from the connect page.",
    request_body(content = Object, content_type = "application/x-www-form-urlencoded", description = "The app's credential fields and the connect token."),
    responses((status = 200, description = "HTML result page.", body = Object))
)]
pub async fn submit_keys(req: HttpRequest, form: web::Form<Vec<(String, String)>>) -> HttpResponse {
    in_frame(&req, keys_answer(&req, &form).await)
}

async fn keys_answer(req: &HttpRequest, form: &[(String, String)]) -> HttpResponse {
    let core = core(req);
    let Opened {
        ct,
        brand,
        app,
        visit,
    } = match open(&core, Link::of_form(form)).await {
        Ok(o) => o,
        Err(page) => return page,
    };
    let cfmap = entered_fields(form);
    let created = core
        .accounts
        .create_key_account(
            &ct.tenant,
            NewKeyAccount {
                app_slug: app.name_slug.clone(),
                cfmap_json: Value::Object(cfmap.clone()).to_string(),
                connect_token: visit.token.to_string(),
                name: None,
                account_id: visit.account_id.map(str::to_string),
                external_user_id: None,
                allow_token_import: false,
                // Applied again by the domain: what was posted for its
                // fields never counts.
                app_override_id: visit.choice.app_override_id.clone(),
            },
        )
        .await;
    match created {
        Ok(v) => connected(&brand, &ct, &v),
        Err(e) => {
            let (status, msg) = match &e {
                Error::Invalid(m) | Error::Unprocessable(m) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, m.clone())
                }
                Error::Forbidden(m) | Error::QuotaExceeded(m) | Error::NotFound(m) => {
                    (StatusCode::BAD_REQUEST, m.clone())
                }
                _ => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Something went wrong on our side; please try again.".to_string(),
                ),
            };
            if let Some(uri) = &ct.error_redirect_uri
                && status == StatusCode::SERVICE_UNAVAILABLE
            {
                return see_other(uri);
            }
            page(
                status,
                &brand,
                &format!("Connect {}", app.name),
                &key_form(&visit, &app, &cfmap, Some(&msg)),
                json!({}),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_rewritten_for_the_browsers_v_flag() {
        for (p, want) in [
            ("^[a-z0-9_-]+$", Some("^[a-z0-9_\\-]+$")),
            ("^[-a-z]$", Some("^[\\-a-z]$")),
            ("^[^a-z(|)]+$", Some("^[^a-z\\(\\|\\)]+$")),
            ("^AC[a-zA-Z0-9]{32}$", Some("^AC[a-zA-Z0-9]{32}$")),
            ("^(a|b)\\.c[\\]x-]$", Some("^(a|b)\\.c[\\]x\\-]$")),
            ("^[a&&b]$", None),
        ] {
            assert_eq!(html_pattern(p).as_deref(), want, "{p}");
        }
    }

    #[test]
    fn key_form_shows_affixes_and_patterns_escaped() {
        let mut app = switchboard_domain::components::Catalog::builtin()
            .unwrap()
            .get("openai")
            .unwrap()
            .clone();
        let mut shop = app.auth.fields[0].clone();
        shop.name = "shop".into();
        shop.label = "Shop".into();
        shop.secret = false;
        shop.prefix = Some("https://".into());
        shop.suffix = Some(".myshopify.com\"><script>".into());
        shop.pattern = Some("^[a-z0-9-]+$".into());
        app.auth.fields.push(shop);
        let visit = Visit {
            token: "ctok_x",
            account_id: None,
            choice: ConnectChoice::default(),
            predefined: Map::new(),
        };
        let html = key_form(&visit, &app, &Map::new(), None);
        assert!(
            html.contains("<div class=\"affix\"><span>https://</span><input id=\"f_shop\""),
            "{html}"
        );
        assert!(html.contains("pattern=\"^[a-z0-9\\-]+$\""), "{html}");
        assert!(
            html.contains("<span>.myshopify.com&quot;&gt;&lt;script&gt;</span></div>"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "escaped: {html}");
        // A field without affixes renders as before.
        assert!(html.contains("<label for=\"f_api_key\">"), "{html}");
        assert!(
            !html.contains("<div class=\"affix\"><span>https://</span><input id=\"f_api_key\"")
        );
    }
}
