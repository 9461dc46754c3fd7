//! Issue 14, imported apps are first-class: providers from the pinned
//! `@nangohq/providers` catalog (npm, installed at test time), loaded by the
//! real binary through `[catalog] providers`, with `[apps.<slug>]` overrides
//! pointing them at the test doubles, connected one auth mode at a time:
//! - OAUTH2 with PKCE (Notion: JSON token requests, `notion-version`) in
//!   headless Chromium, a proxy call, a refresh;
//! - OAUTH2 with connection config in its URLs (Shopify's shop), asked on
//!   the page and carried by the authorization URL, the token URL and the
//!   proxy base; host-moving values refused;
//! - OAUTH2_CC (Checkout.com): granted before the account is saved, a
//!   refusal saves nothing, re-granted on a 401 and before expiry;
//! - TWO_STEP (3CX): the same token exchange, over the provider's own
//!   params and headers;
//! - API_KEY in a header (Brevo) and in the query (Google Maps), BASIC
//!   (Twilio, on the page in Chromium): the exact injection checked;
//! - an API host that is the user's own (Salesforce's instance URL);
//! - OAUTH1 (Trello, on the Trello double) in Chromium: signed request and
//!   access tokens, every proxy call signed, a denial and a replayed
//!   callback saving nothing; `${clientId}` (Getty Images) sent as the
//!   project's client id.

use base64::Engine;
use serde_json::{Value, json};

use crate::browser;
use crate::catalog_providers::providers_yaml;
use crate::connect_oauth::{location, query_param};
use crate::harness::{AuthServer, Backend, Doubles, Instance, Server, eventually};

/// A server with the pinned catalog, its OAuth apps pointed at the OAuth
/// double and its key apps at the HTTP double.
fn instance(auth: &AuthServer, doubles: &Doubles) -> Instance {
    let a = &auth.base;
    let http = doubles.url("http");
    let trello = doubles.url("trello");
    let mut inst = Instance::new(Backend::Embedded)
        .with_env(
            "SWITCHBOARD_CATALOG__PROVIDERS",
            providers_yaml().to_str().unwrap(),
        )
        .with_env(
            "SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_NETWORKS",
            "[\"127.0.0.0/8\"]",
        );
    let overrides = [
        ("NOTION", "AUTHORIZE_URL", format!("{a}/authorize")),
        ("NOTION", "TOKEN_URL", format!("{a}/token")),
        ("NOTION", "BASE_URL", format!("{a}/api/notion")),
        // A shop cannot be a subdomain of 127.0.0.1: the overrides keep
        // the user's value in the query and the path instead, where the
        // double reports it.
        (
            "SHOPIFY",
            "AUTHORIZE_URL",
            format!("{a}/authorize?shop={{{{ account.subdomain }}}}"),
        ),
        (
            "SHOPIFY",
            "TOKEN_URL",
            format!("{a}/token?shop={{{{ account.subdomain }}}}"),
        ),
        (
            "SHOPIFY",
            "BASE_URL",
            format!("{a}/api/shop/{{{{ account.subdomain }}}}"),
        ),
        ("CHECKOUT_COM", "TOKEN_URL", format!("{a}/token")),
        ("CHECKOUT_COM", "BASE_URL", format!("{a}/api/checkout")),
        // Re-granted 10 s after each grant (tokens live 3600 s).
        ("CHECKOUT_COM", "REFRESH_MARGIN_SECS", "3590".into()),
        ("3CX", "TOKEN_URL", format!("{a}/token")),
        ("3CX", "BASE_URL", format!("{a}/api/3cx")),
        (
            "BREVO_API_KEY",
            "BASE_URL",
            format!("{http}/anything/brevo"),
        ),
        ("GOOGLE_MAPS", "BASE_URL", format!("{http}/anything/gmaps")),
        ("TWILIO", "BASE_URL", format!("{http}/anything/twilio")),
        // OAuth 1.0a: all three legs and the API on the Trello double.
        (
            "TRELLO",
            "REQUEST_TOKEN_URL",
            format!("{trello}/1/OAuthGetRequestToken"),
        ),
        (
            "TRELLO",
            "AUTHORIZE_URL",
            format!("{trello}/1/OAuthAuthorizeToken"),
        ),
        (
            "TRELLO",
            "TOKEN_URL",
            format!("{trello}/1/OAuthGetAccessToken"),
        ),
        ("TRELLO", "BASE_URL", trello.clone()),
        // `${clientId}` in a header: the project's OAuth client id.
        ("GETTY_IMAGES", "BASE_URL", format!("{http}/anything/getty")),
    ];
    for (app, key, v) in overrides {
        inst = inst.with_env(&format!("SWITCHBOARD_APPS__{app}__{key}"), &v);
    }
    inst
}

struct Setup {
    auth: AuthServer,
    doubles: Doubles,
    _inst: Instance,
    s: Server,
    bearer: String,
    p: String,
}

async fn setup(oauth_apps: &[&str]) -> Setup {
    let auth = AuthServer::start();
    let doubles = Doubles::start();
    let inst = instance(&auth, &doubles);
    let project = inst.create_project("catalog-connect");
    let s = inst.start().await;
    let bearer = s.token(&project).await;
    for app in oauth_apps {
        let (st, v, _) = s
            .post(
                &format!("/v1/connect/{}/oauth_apps", project.id),
                &bearer,
                json!({"app": app, "client_id": format!("{app}-client"), "client_secret": "project-secret"}),
            )
            .await;
        assert_eq!(st, 201, "{v}");
    }
    Setup {
        auth,
        doubles,
        _inst: inst,
        s,
        bearer,
        p: project.id,
    }
}

impl Setup {
    fn page(&self, ctok: &str, app: &str) -> String {
        format!(
            "{}/_static/connect.html?token={ctok}&app={app}",
            self.s.base
        )
    }

    /// A proxy call for user `u1`'s account; `path` may carry a query.
    async fn proxy(&self, account: &str, path: &str) -> (u16, Value) {
        let enc = base64::engine::general_purpose::URL_SAFE.encode(path);
        let (st, v, _) = self
            .s
            .get(
                &format!(
                    "/v1/connect/{}/proxy/{enc}?external_user_id=u1&account_id={account}",
                    self.p
                ),
                &self.bearer,
                None,
            )
            .await;
        (st, v)
    }

    async fn account(&self, id: &str) -> Value {
        let (st, v, _) = self
            .s
            .get(
                &format!(
                    "/v1/connect/{}/accounts/{id}?include_credentials=true",
                    self.p
                ),
                &self.bearer,
                None,
            )
            .await;
        assert_eq!(st, 200, "{v}");
        v
    }

    /// `POST accounts` for user `u1`: (status, body).
    async fn create(&self, app: &str, cfmap: Value) -> (u16, Value) {
        let ctok = self
            .s
            .connect_token_with(&self.bearer, &self.p, json!({}))
            .await;
        let (st, v, _) = self
            .s
            .post(
                &format!("/v1/connect/{}/accounts", self.p),
                &self.bearer,
                json!({"app_slug": app, "cfmap_json": cfmap.to_string(), "connect_token": ctok}),
            )
            .await;
        (st, v)
    }

    async fn accounts_of(&self, app: &str) -> usize {
        self.s
            .user_accounts(&self.bearer, &self.p, app, false)
            .await
            .len()
    }

    /// A hosted-page form post, not following redirects: (status, where it
    /// sends the browser (`Location`, or the `Refresh` page's URL), body).
    async fn form(&self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let r = crate::harness::no_redirects()
            .post(format!("{}{path}", self.s.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(crate::connect_page::form(form))
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let header = |h: &str| r.headers().get(h).map(|v| v.to_str().unwrap().to_string());
        let loc = header("location")
            .or_else(|| Some(header("refresh")?.strip_prefix("0;url=")?.to_string()))
            .unwrap_or_default();
        (st, loc, r.text().await.unwrap())
    }

    /// The hosted page's key form, submitted with `fields`, shows itself
    /// again (422) with a reason containing `needle`.
    async fn key_form_refused(&self, app: &str, fields: &[(&str, &str)], needle: &str) {
        let ctok = self
            .s
            .connect_token_with(&self.bearer, &self.p, json!({}))
            .await;
        let mut form = vec![("token", ctok.as_str()), ("app", app)];
        form.extend_from_slice(fields);
        let (st, _, body) = self.form("/_static/connect/keys", &form).await;
        assert_eq!(st, 422, "{body}");
        assert!(body.contains(needle), "{body}");
        assert!(body.contains("role=\"alert\""), "{body}");
    }

    /// What the OAuth double recorded of `/authorize` and `/token` requests.
    async fn seen(&self) -> Vec<Value> {
        self.auth.control("stats", None).await["seen"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The HTTP double's requests under `prefix`.
    async fn http_requests(&self, prefix: &str) -> Vec<Value> {
        self.doubles
            .requests("http")
            .await
            .into_iter()
            .filter(|r| r["path"].as_str().unwrap_or_default().starts_with(prefix))
            .collect()
    }
}

async fn drive(scenario: Value) -> Value {
    tokio::task::spawn_blocking(move || browser::drive(scenario))
        .await
        .unwrap()
}

/// The account id the done page posted to its opener, or from the list.
async fn only_account(su: &Setup, app: &str) -> Value {
    let accounts = su.s.user_accounts(&su.bearer, &su.p, app, true).await;
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    accounts[0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_oauth_apps_connect_in_chromium_proxy_and_refresh() {
    let su = setup(&["notion", "shopify", "salesforce"]).await;
    let shots = browser::artifacts_dir();

    // Notion: PKCE, the page's link, the provider, back, connected.
    let ctok = su.s.connect_token_with(&su.bearer, &su.p, json!({})).await;
    let callback = format!("{}/_static/connect/oauth/callback", su.s.base);
    let r = drive(json!({
        "url": su.page(&ctok, "notion"),
        "screenshot": shots.join("catalog-notion.png"),
        "steps": [{"click": "Continue to Notion"}, {"wait_for_url_prefix": callback}],
    }))
    .await;
    assert_eq!(r["error"], Value::Null, "{r}");
    assert_eq!(r["console_errors"], json!([]), "{r}");
    assert!(
        r["text"].as_str().unwrap().contains("Notion is connected"),
        "{r}"
    );
    let seen = su.seen().await;
    let authorize = seen.iter().find(|x| x["path"] == "/authorize").unwrap();
    assert_eq!(authorize["query"]["client_id"], "notion-client");
    assert_eq!(authorize["query"]["code_challenge_method"], "S256");
    // Notion's token requests are JSON (`body_format: json`); the double
    // checked the PKCE verifier.
    let token = seen.iter().find(|x| x["path"] == "/token").unwrap();
    assert_eq!(token["content_type"], "application/json", "{token}");
    let notion = only_account(&su, "notion").await;
    let id = notion["id"].as_str().unwrap().to_string();
    let first = notion["credentials"]["oauth_access_token"].clone();

    // The proxy injects the token as the catalog says: a bearer token and
    // Notion's version header.
    let (st, v) = su.proxy(&id, "/v1/users/me").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["path"], "/api/notion/v1/users/me");
    assert_eq!(v["via"], "authorization");
    assert_eq!(
        v["headers"]["authorization"],
        format!("Bearer {}", first.as_str().unwrap())
    );
    assert_eq!(v["headers"]["notion-version"], "2022-06-28");

    // Expired at the provider: the proxy's 401 refreshes once (JSON again)
    // and the call goes through with the new token.
    su.auth.control("expire", None).await;
    let (st, v) = su.proxy(&id, "/v1/users/me").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(su.auth.token_requests("refresh_token").await, 1);
    let now = su.account(&id).await;
    assert_ne!(now["credentials"]["oauth_access_token"], first);
    assert!(now["last_refreshed_at"].is_string(), "{now}");

    // Shopify: the page asks for the shop first (with its prefix and
    // suffix), the browser checks the pattern, then off to the provider.
    let ctok = su.s.connect_token_with(&su.bearer, &su.p, json!({})).await;
    let r = drive(json!({
        "url": su.page(&ctok, "shopify"),
        "screenshot": shots.join("catalog-shopify.png"),
        "steps": [
            {"fill": {"Shopify Domain": "acme-shop"}},
            {"submit": "Continue to Shopify (OAuth)"},
            {"wait_for_url_prefix": callback},
        ],
    }))
    .await;
    assert_eq!(r["error"], Value::Null, "{r}");
    assert_eq!(r["console_errors"], json!([]), "{r}");
    assert!(r["text"].as_str().unwrap().contains("is connected"), "{r}");
    let seen = su.seen().await;
    for path in ["/authorize", "/token"] {
        assert!(
            seen.iter()
                .any(|x| x["path"] == path && x["query"]["shop"] == "acme-shop"),
            "{path} carried the shop: {seen:?}"
        );
    }
    let shop = only_account(&su, "shopify").await;
    assert_eq!(shop["credentials"]["subdomain"], "acme-shop", "{shop}");
    let id = shop["id"].as_str().unwrap();
    let (st, v) = su.proxy(id, "/admin/api/2024-01/shop.json").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["path"], "/api/shop/acme-shop/admin/api/2024-01/shop.json");
    assert_eq!(
        v["via"], "x-shopify-access-token",
        "Shopify's own header: {v}"
    );
    assert_eq!(v["headers"]["authorization"], Value::Null);

    // Values that would move the host, or break the pattern, or are not
    // fields at all: refused before any redirect, the form shown again.
    let ctok = su.s.connect_token_with(&su.bearer, &su.p, json!({})).await;
    for (field, bad, needle) in [
        ("f_subdomain", "evil.com/x", "host name"),
        ("f_subdomain", "a@b", "host name"),
        ("f_subdomain", "UPPER", "must match"),
        ("f_bogus", "x", "unknown field"),
    ] {
        let (st, loc, body) = su
            .form(
                "/_static/connect/oauth/start",
                &[("token", &ctok), ("app", "shopify"), (field, bad)],
            )
            .await;
        assert_eq!((st, loc.as_str()), (422, ""), "{bad}: {body}");
        assert!(body.contains(needle), "{bad}: {body}");
        assert!(body.contains("role=\"alert\""), "{body}");
    }
    // A required field left out by a link that skips the form.
    let (st, loc) = location(&format!(
        "{}/_static/connect/oauth/start?token={ctok}&app=shopify",
        su.s.base
    ))
    .await;
    assert_eq!((st, loc.as_str()), (422, ""));

    // Salesforce: with no hostname, the manifest's own login host; a host
    // the user picks would receive the client secret, so it is refused.
    let (st, authorize, _) = su
        .form(
            "/_static/connect/oauth/start",
            &[("token", &ctok), ("app", "salesforce")],
        )
        .await;
    assert_eq!(
        st, 200,
        "a page that moves on: form-action covers redirects"
    );
    assert!(
        authorize.starts_with("https://login.salesforce.com/services/oauth2/authorize?"),
        "{authorize}"
    );
    assert_eq!(
        query_param(&authorize, "prompt").as_deref(),
        Some("consent")
    );
    let (st, loc, body) = su
        .form(
            "/_static/connect/oauth/start",
            &[
                ("token", &ctok),
                ("app", "salesforce"),
                ("f_hostname", "evil.example"),
            ],
        )
        .await;
    assert_eq!((st, loc.as_str()), (422, ""), "{body}");
    assert!(body.contains("evil.example"), "{body}");
    assert!(body.contains("not one of"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_are_granted_before_saving_and_again_before_expiry() {
    let su = setup(&[]).await;
    // The provider refuses the client: a clear 4xx, nothing saved.
    let (st, v) = su
        .create(
            "checkout_com",
            json!({"client_id": "ck", "client_secret": "wrong-secret"}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("refused the token request: Client authentication failed"),
        "{v}"
    );
    assert_eq!(su.accounts_of("checkout_com").await, 0);
    // The same on the hosted page's key form.
    su.key_form_refused(
        "checkout_com",
        &[("f_client_id", "ck"), ("f_client_secret", "wrong-secret")],
        "Client authentication failed",
    )
    .await;
    // Unknown fields are refused before any grant.
    let (st, v) = su
        .create(
            "checkout_com",
            json!({"client_id": "ck", "client_secret": "s", "x": "1"}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(su.auth.token_requests("client_credentials").await, 2);

    // Granted: the token is stored (sealed, like OAuth tokens) with an
    // expiry, and the proxy sends it as a bearer token.
    let (st, v) = su
        .create(
            "checkout_com",
            json!({"client_id": "ck", "client_secret": "s3cret"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let a = su.account(&id).await;
    let first = a["credentials"]["oauth_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(a["expires_at"].is_string(), "{a}");
    assert!(a["next_refresh_at"].is_string(), "re-grant scheduled: {a}");
    let grant = su
        .seen()
        .await
        .into_iter()
        .rev()
        .find(|x| x["path"] == "/token")
        .unwrap();
    assert_eq!(grant["content_type"], "application/x-www-form-urlencoded");
    let (st, v) = su.proxy(&id, "/payments").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["path"], "/api/checkout/payments");
    assert_eq!(v["headers"]["authorization"], format!("Bearer {first}"));

    // Expired at the provider: a 401 re-runs the grant (no refresh token).
    su.auth.control("expire", None).await;
    let (st, v) = su.proxy(&id, "/payments").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(su.auth.token_requests("client_credentials").await, 4);
    assert_eq!(su.auth.token_requests("refresh_token").await, 0);
    let second = su.account(&id).await["credentials"]["oauth_access_token"].clone();
    assert_ne!(second, first);

    // And the refresh worker re-grants ahead of expiry by itself.
    let a = eventually(
        std::time::Duration::from_secs(30),
        "a scheduled re-grant",
        || async {
            let a = su.account(&id).await;
            if a["credentials"]["oauth_access_token"] != second {
                Ok(a)
            } else {
                Err(a["next_refresh_at"].clone())
            }
        },
    )
    .await;
    assert_eq!(a["healthy"], true, "{a}");
    assert!(su.auth.token_requests("client_credentials").await >= 5);

    // TWO_STEP (3CX): its exchange is a client-credentials form post with
    // the account's own fields; the proxy sends the token as a bearer.
    let (st, v) = su
        .create(
            "3cx",
            json!({"client_id": "pbx", "client_secret": "k", "domain": "evil.com/x"}),
        )
        .await;
    assert_eq!(st, 400, "a host-moving domain: {v}");
    let (st, v) = su
        .create(
            "3cx",
            json!({"client_id": "pbx", "client_secret": "k", "domain": "pbx.acme.example"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let a = su.account(&id).await;
    assert!(a["expires_at"].is_string(), "{a}");
    let token = a["credentials"]["oauth_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, v) = su.proxy(&id, "/callcontrol").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["path"], "/api/3cx/callcontrol");
    assert_eq!(v["headers"]["authorization"], format!("Bearer {token}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_and_basic_are_injected_exactly_as_the_catalog_says() {
    let su = setup(&[]).await;

    // API key in a header (Brevo's `api-key`).
    let (st, v) = su
        .create("brevo_api_key", json!({"api_key": "xkeysib-123"}))
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = su.proxy(v["id"].as_str().unwrap(), "/account").await;
    assert_eq!(st, 200, "{v}");
    let r = su.http_requests("/anything/brevo").await.remove(0);
    assert_eq!(r["path"], "/anything/brevo/account");
    assert_eq!(r["headers"]["api-key"], "xkeysib-123", "{r}");
    assert_eq!(r["headers"]["authorization"], Value::Null, "{r}");

    // API key in the query (Google Maps' `key`), its pattern checked.
    let (st, v) = su
        .create("google_maps", json!({"api_key": "not-a-key"}))
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("must match"), "{v}");
    let (st, v) = su
        .create("google_maps", json!({"api_key": "AIzaTest_key-1"}))
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = su
        .proxy(
            v["id"].as_str().unwrap(),
            "/maps/api/geocode/json?address=Paris",
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let r = su.http_requests("/anything/gmaps").await.remove(0);
    assert_eq!(r["path"], "/anything/gmaps/maps/api/geocode/json");
    assert_eq!(
        r["query"],
        json!({"address": "Paris", "key": "AIzaTest_key-1"})
    );

    // BASIC on the hosted page in Chromium (Twilio: the SID's pattern).
    let sid = format!("AC{}", "a1".repeat(16));
    let ctok = su.s.connect_token_with(&su.bearer, &su.p, json!({})).await;
    let r = drive(json!({
        "url": su.page(&ctok, "twilio"),
        "screenshot": browser::artifacts_dir().join("catalog-twilio.png"),
        "steps": [
            {"fill": {"Account SID": sid, "Auth Token": "tw-secret"}},
            {"submit": "Connect Twilio"},
        ],
    }))
    .await;
    assert_eq!(r["error"], Value::Null, "{r}");
    assert_eq!(r["console_errors"], json!([]), "{r}");
    assert!(
        r["text"].as_str().unwrap().contains("Twilio is connected"),
        "{r}"
    );
    let tw = only_account(&su, "twilio").await;
    let (st, v) = su
        .proxy(
            tw["id"].as_str().unwrap(),
            &format!("/2010-04-01/Accounts/{sid}.json"),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let r = su.http_requests("/anything/twilio").await.remove(0);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:tw-secret"));
    assert_eq!(
        r["headers"]["authorization"],
        format!("Basic {basic}"),
        "{r}"
    );
    // A SID that breaks the pattern: the form again, with the reason.
    su.key_form_refused(
        "twilio",
        &[("f_username", "xyz"), ("f_password", "p")],
        "must match",
    )
    .await;

    // An API host that is the user's own (Salesforce's instance URL): the
    // credentials go to that host and no other; private addresses stay
    // refused by the SSRF guard.
    let http = su.doubles.url("http");
    let (st, v) = su
        .create(
            "salesforce",
            json!({"oauth_access_token": "sf-token", "instance_url": format!("{http}/anything/sf")}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let sf = v["id"].as_str().unwrap().to_string();
    let (st, v) = su.proxy(&sf, "/services/data/v59.0/limits").await;
    assert_eq!(st, 200, "{v}");
    let r = su.http_requests("/anything/sf").await.remove(0);
    assert_eq!(r["path"], "/anything/sf/services/data/v59.0/limits");
    assert_eq!(r["headers"]["authorization"], "Bearer sf-token");
    let (st, v) = su.proxy(&sf, "https://evil.example/x").await;
    assert_eq!(st, 403, "another host: {v}");
    let (st, v) = su
        .create(
            "salesforce",
            json!({"oauth_access_token": "t", "instance_url": "http://169.254.169.254/latest"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = su.proxy(v["id"].as_str().unwrap(), "/meta-data").await;
    assert_eq!(st, 403, "a link-local address: {v}");
    let (st, v) = su
        .create(
            "salesforce",
            json!({"oauth_access_token": "t", "instance_url": "ftp://x"}),
        )
        .await;
    assert_eq!(st, 400, "the field's pattern: {v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth1_connects_in_chromium_and_signs_every_call() {
    let su = setup(&["trello", "getty_images"]).await;
    // The project's client is the double's consumer.
    su.doubles
        .post(
            "trello",
            "consumers",
            json!({"key": "trello-client", "secret": "project-secret"}),
        )
        .await;
    let shots = browser::artifacts_dir();
    let callback = format!("{}/_static/connect/oauth/callback", su.s.base);
    let ctok = su.s.connect_token_with(&su.bearer, &su.p, json!({})).await;
    let r = drive(json!({
        "url": su.page(&ctok, "trello"),
        "screenshot": shots.join("catalog-trello.png"),
        "steps": [{"click": "Continue to Trello"}, {"wait_for_url_prefix": callback}],
    }))
    .await;
    assert_eq!(r["error"], Value::Null, "{r}");
    assert_eq!(r["console_errors"], json!([]), "{r}");
    assert!(
        r["text"].as_str().unwrap().contains("Trello is connected"),
        "{r}"
    );
    // The authorize step carried the request token and Trello's params.
    let q = su
        .doubles
        .control("trello", reqwest::Method::GET, "authorize_queries", None)
        .await;
    let q = &q["queries"][0];
    assert!(q["oauth_token"].is_string(), "{q}");
    assert_eq!(q["expiration"], "never", "{q}");
    let trello = only_account(&su, "trello").await;
    let id = trello["id"].as_str().unwrap().to_string();
    let creds = &trello["credentials"];
    assert!(creds["oauth_access_token"].is_string(), "{trello}");
    assert!(creds["oauth_token_secret"].is_string(), "{trello}");
    // The client is the project's: never stored on or shown with the account.
    for k in ["oauth_client_id", "oauth_client_secret"] {
        assert_eq!(creds[k], Value::Null, "{k}: {trello}");
    }
    let shown = su.account(&id).await.to_string();
    assert!(!shown.contains("project-secret"), "{shown}");

    // Every proxy call is signed (the double recomputes the signature and
    // refuses a reused nonce): twice, with the caller's query.
    for _ in 0..2 {
        let (st, v) = su.proxy(&id, "/1/members/me?fields=username").await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["username"], "doubleuser", "{v}");
        assert_eq!(v["query"]["fields"], "username", "{v}");
    }

    // The callback replayed (its URL as the browser left it): refused,
    // nothing more saved.
    let replay = r["final_url"].as_str().unwrap();
    assert!(replay.contains("oauth_verifier="), "{replay}");
    let (st, _) = location(replay).await;
    assert_eq!(st, 400, "{replay}");
    assert_eq!(su.accounts_of("trello").await, 1);

    // A denial at the provider (`oauth_problem`) ends on the page's error,
    // with nothing saved.
    su.doubles
        .post("trello", "deny", json!({"deny": true}))
        .await;
    let ctok = su.s.connect_token_with(&su.bearer, &su.p, json!({})).await;
    let r = drive(json!({
        "url": su.page(&ctok, "trello"),
        "screenshot": shots.join("catalog-trello-denied.png"),
        "steps": [{"click": "Continue to Trello"}, {"wait_for_url_prefix": callback}],
    }))
    .await;
    assert_eq!(r["error"], Value::Null, "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("not completed") && text.contains("user_refused"),
        "{r}"
    );
    assert_eq!(su.accounts_of("trello").await, 1);

    // `${clientId}`: Getty Images sends the project's client id as its
    // `api-key`, beside the bearer token.
    let (st, v) = su
        .create("getty_images", json!({"oauth_access_token": "getty-token"}))
        .await;
    assert_eq!(st, 200, "{v}");
    let getty = only_account(&su, "getty_images").await;
    let (st, v) = su
        .proxy(getty["id"].as_str().unwrap(), "/v3/search/images")
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["headers"]["api-key"], "getty_images-client", "{v}");
    assert_eq!(v["headers"]["authorization"], "Bearer getty-token", "{v}");
    assert_eq!(getty["credentials"]["oauth_client_id"], Value::Null);
}
