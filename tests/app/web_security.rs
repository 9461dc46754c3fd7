//! Issue 12, the web-facing findings tried in-process, as the attacker
//! would: a development-only client rewriting the project's OAuth apps; an
//! end user spending the customer's account-read budget; connect tokens
//! that could run actions, proxy calls and rewrite webhook URLs by
//! default; and identifiers posted to any origin by the connect page. The
//! login CSRF through a provider's authorize link (Chromium) is in
//! `tests/e2e/web_security.rs`.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::model::Environment;

use super::helpers::{assert_client_error, no_redirects, spawn_app, spawn_app_with};

/// Finding 3: OAuth apps are project-wide, so a client restricted to one
/// environment may read them but not create, change or delete them.
#[tokio::test(flavor = "multi_thread")]
async fn an_environment_restricted_client_cannot_change_oauth_apps() {
    let s = spawn_app().await;
    let p = s.project.clone();
    let dev_only = s
        .issue_client(&p.id, None, &[Environment::Development])
        .await;
    let full = s.bearer.clone();
    let dev = s.token(&dev_only).await;
    let apps = format!("/v1/connect/{}/oauth_apps", p.id);
    let (st, v, _) = s
        .post(
            &apps,
            &full,
            json!({"app": "slack", "client_id": "prod-client", "client_secret": "prod-secret",
                   "signing_secret": "prod-signing"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let one = format!("{apps}/{id}");

    // The attack: the development client swaps the client and the Slack
    // signing secret that production connect flows and ingress use.
    let dev_env = Some("development");
    let (st, v, _) = s
        .call(
            Method::PUT,
            &one,
            &dev,
            dev_env,
            Some(json!({"client_id": "evil-client", "client_secret": "evil", "signing_secret": "evil"})),
        )
        .await;
    assert_client_error("dev client updates", st, &v, 403, "every environment");
    assert!(
        v["error"].as_str().unwrap().contains("development"),
        "says which restriction: {v}"
    );
    let (st, v, _) = s
        .call(
            Method::POST,
            &apps,
            &dev,
            dev_env,
            Some(json!({"app": "slack", "client_id": "evil-client", "client_secret": "evil"})),
        )
        .await;
    assert_client_error("dev client creates", st, &v, 403, "project-wide");
    let (st, v, _) = s.call(Method::DELETE, &one, &dev, dev_env, None).await;
    assert_client_error("dev client deletes", st, &v, 403, "project-wide");

    // Reads stay allowed, and nothing changed.
    let (st, v, _) = s.get(&one, &dev, dev_env).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["client_id"], "prod-client", "{v}");
    let (st, v, _) = s.get(&apps, &dev, dev_env).await;
    assert_eq!(
        (st, v["data"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{v}"
    );

    // A connect token gets nowhere near them.
    let ctok = s.connect_token(&full, &p.id, None, "u1").await;
    let (st, v, _) = s
        .call(
            Method::PUT,
            &one,
            &ctok,
            None,
            Some(json!({"client_id": "x"})),
        )
        .await;
    assert_client_error("connect token", st, &v, 403, "server credentials");

    // An unrestricted client still manages them, in either environment.
    let (st, v, _) = s
        .call(
            Method::PUT,
            &one,
            &full,
            dev_env,
            Some(json!({"client_id": "rotated-client"})),
        )
        .await;
    assert_eq!(
        (st, v["client_id"].as_str()),
        (200, Some("rotated-client")),
        "{v}"
    );
    let (st, _, _) = s.call(Method::DELETE, &one, &full, None, None).await;
    assert_eq!(st, 204);
    s.stop().await;
}

/// Finding 5: one end user exhausting her account-read bucket leaves the
/// customer's server (and other end users) unaffected, and vice versa.
#[tokio::test(flavor = "multi_thread")]
async fn an_end_user_cannot_spend_the_servers_account_budget() {
    let s = spawn_app_with(|c| {
        c.rate_limits.accounts_per_user_per_5min = 3;
        c.rate_limits.accounts_per_project_per_5min = 5;
    })
    .await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let alice = s.connect_token(&bearer, &p.id, None, "alice").await;
    let bob = s.connect_token(&bearer, &p.id, None, "bob").await;
    for _ in 0..3 {
        let (st, v, _) = s.get("/v1/connect/accounts", &alice, None).await;
        assert_eq!(st, 200, "{v}");
    }
    // Alice hammers on: 429 with Retry-After, her own bucket only.
    for _ in 0..20 {
        let (st, v, h) = s.get("/v1/connect/accounts", &alice, None).await;
        assert_client_error("alice over her limit", st, &v, 429, "per end user");
        let secs: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=300).contains(&secs), "{secs}");
    }
    let (st, v, _) = s
        .get("/v1/connect/users/alice/accounts", &alice, None)
        .await;
    assert_client_error("same bucket, other route", st, &v, 429, "per end user");
    // Bob and the customer's server are untouched.
    let (st, v, _) = s.get("/v1/connect/accounts", &bob, None).await;
    assert_eq!(st, 200, "{v}");
    let path = format!("/v1/connect/{}/accounts", p.id);
    for _ in 0..5 {
        let (st, v, _) = s.get(&path, &bearer, None).await;
        assert_eq!(st, 200, "the server keeps its whole budget: {v}");
    }
    // The server's budget is its own too: spent, it does not block Bob.
    let (st, v, _) = s.get(&path, &bearer, None).await;
    assert_client_error("server over its limit", st, &v, 429, "per project");
    let (st, v, _) = s.get("/v1/connect/accounts", &bob, None).await;
    assert_eq!(st, 200, "{v}");
    s.stop().await;
}

/// Review item: a connect token made without `scope` can do what a
/// browser flow needs (its user's accounts, apps), and nothing else:
/// actions, proxy calls, the catalog and deployed triggers (their webhook
/// URLs above all) need a scope granted per token.
#[tokio::test(flavor = "multi_thread")]
async fn default_connect_tokens_get_only_the_browser_flow() {
    let s = spawn_app().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let ctok = s.connect_token(&bearer, &p.id, None, "u1").await;
    let url64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("https://example.com/");
    let refused: [(Method, String, Option<Value>, &str); 9] = [
        (
            Method::POST,
            "/v1/connect/actions/run".into(),
            Some(
                json!({"id": "http-custom-request", "configured_props": {"url": "https://example.com/"}}),
            ),
            "connect:actions:run",
        ),
        (
            Method::GET,
            format!("/v1/connect/proxy/{url64}?account_id=apn_x"),
            None,
            "connect:proxy",
        ),
        (
            Method::GET,
            "/v1/connect/deployed-triggers/dc_x/webhooks".into(),
            None,
            "connect:deployed_triggers:read",
        ),
        (
            Method::PUT,
            "/v1/connect/deployed-triggers/dc_x/webhooks".into(),
            Some(json!({"webhook_urls": ["https://customer.example/hook"]})),
            "connect:deployed_triggers:write",
        ),
        (
            Method::GET,
            "/v1/connect/deployed-triggers/dc_x/webhooks/wh_x".into(),
            None,
            "connect:deployed_triggers:read",
        ),
        (
            Method::GET,
            "/v1/connect/deployed-triggers".into(),
            None,
            "connect:deployed_triggers:read",
        ),
        (
            Method::POST,
            "/v1/connect/triggers/deploy".into(),
            Some(
                json!({"id": "http-new-requests", "webhook_url": "https://customer.example/hook"}),
            ),
            "connect:deployed_triggers:write",
        ),
        (
            Method::PUT,
            "/v1/connect/deployed-triggers/dc_x".into(),
            Some(json!({"active": false})),
            "connect:deployed_triggers:write",
        ),
        (
            Method::GET,
            "/v1/connect/actions".into(),
            None,
            "connect:actions:read",
        ),
    ];
    for (m, path, body, scope) in &refused {
        let (st, v, _) = s.call(m.clone(), path, &ctok, None, body.clone()).await;
        assert_client_error(&format!("{m} {path}"), st, &v, 403, scope);
        assert!(
            v["error"].as_str().unwrap().contains("scope"),
            "says how to get it: {v}"
        );
    }

    // The browser flow: the user's accounts, apps, creating her account.
    let (st, v, _) = s.get("/v1/connect/accounts", &ctok, None).await;
    assert_eq!(st, 200, "{v}");
    let (st, v, _) = s.get("/v1/connect/apps?q=stripe", &ctok, None).await;
    assert_eq!(st, 200, "{v}");
    let (st, v, _) = s
        .post(
            "/v1/connect/accounts",
            &ctok,
            json!({"app_slug": "stripe", "cfmap_json": "{\"api_key\":\"sk_u1\"}", "connect_token": ctok}),
        )
        .await;
    assert_eq!(st, 200, "{v}");

    // Everything else is opt-in per token, and then allowed.
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/tokens", p.id),
            &bearer,
            json!({"external_user_id": "u1",
                   "scope": "connect:accounts:read connect:actions:run connect:deployed_triggers:read"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let wide = v["token"].as_str().unwrap().to_string();
    let (st, v, _) = s.get("/v1/connect/deployed-triggers", &wide, None).await;
    assert_eq!(st, 200, "{v}");
    let (st, v, _) = s
        .get("/v1/connect/deployed-triggers/dc_x/webhooks", &wide, None)
        .await;
    assert_client_error("opted in, unknown trigger", st, &v, 404, "not found");
    let (st, v, _) = s
        .post(
            "/v1/connect/actions/run",
            &wide,
            json!({"id": "no-such-action", "configured_props": {}}),
        )
        .await;
    assert!(st == 404 || st == 400, "past the scope check: {st} {v}");
    // Still not what it was not given.
    let (st, v, _) = s
        .get(
            &format!("/v1/connect/proxy/{url64}?account_id=apn_x"),
            &wide,
            None,
        )
        .await;
    assert_client_error("not opted in", st, &v, 403, "connect:proxy");
    // A scope the creator names must be one that exists.
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/tokens", p.id),
            &bearer,
            json!({"external_user_id": "u1", "scope": "connect:actions:runn"}),
        )
        .await;
    assert_client_error("unknown scope", st, &v, 400, "unknown scope");
    s.stop().await;
}

/// Review item, revised by issue 15: the done page posts the account id
/// only to origins the token names (allowed_origins, redirect origins); a
/// token naming none posts it to "*" (the embedder holds the token, which
/// may list the account anyway) so the browser SDK's onSuccess gets it.
#[tokio::test(flavor = "multi_thread")]
async fn the_connect_page_posts_identifiers_only_to_origins_the_token_names() {
    let s = spawn_app().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let done_page = |extra: Value, key: &'static str| {
        let (s, bearer, p) = (&s, &bearer, &p);
        async move {
            let ctok = s.connect_token_with(bearer, &p.id, extra).await;
            let r = no_redirects()
                .post(format!("{}/_static/connect/keys", s.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("token={ctok}&app=openai&f_api_key={key}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    // No origins named: the id, to whoever embedded the page.
    let body = done_page(json!({}), "sk-1").await;
    assert!(body.contains("is connected"), "{body}");
    assert!(body.contains("\"authProvisionId\":\"apn_"), "{body}");
    assert!(body.contains("\"targets\":[\"*\"]"), "{body}");
    // Allowed origins: the id, to them only.
    let body = done_page(
        json!({"allowed_origins": ["https://app.acme.example"]}),
        "sk-2",
    )
    .await;
    assert!(body.contains("\"authProvisionId\":\"apn_"), "{body}");
    assert!(
        body.contains("\"targets\":[\"https://app.acme.example\"]"),
        "{body}"
    );
    assert!(!body.contains("\"*\""), "{body}");
    // A redirect origin counts as named (the success page shows when only
    // an error redirect is set).
    let body = done_page(
        json!({"error_redirect_uri": "https://acme.example/failed"}),
        "sk-3",
    )
    .await;
    assert!(body.contains("\"authProvisionId\":\"apn_"), "{body}");
    assert!(
        body.contains("\"targets\":[\"https://acme.example\"]"),
        "{body}"
    );
    assert!(!body.contains("\"*\""), "{body}");
    s.stop().await;
}

/// Issue 15: the connect page can be framed by any origin unless the token
/// (allowed_origins) or the project (connect_frame_origins) says who; its
/// only script is a file under `script-src 'self'`; a framed refusal
/// answers 200 (the embedder hears the error by message).
#[tokio::test(flavor = "multi_thread")]
async fn the_connect_page_is_framable_as_the_project_and_token_allow() {
    let s = spawn_app().await;
    let csp = |token: String| {
        let base = s.base.clone();
        async move {
            let r = no_redirects()
                .get(format!(
                    "{base}/_static/connect.html?token={token}&app=openai"
                ))
                .send()
                .await
                .unwrap();
            let csp = r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_string();
            let body = r.text().await.unwrap();
            assert!(!body.contains("<script>"), "no inline script: {body}");
            assert!(
                body.contains("<script src=\"/_static/connect.js\">"),
                "{body}"
            );
            assert!(csp.contains("script-src 'self';"), "{csp}");
            csp
        }
    };
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let open = s.connect_token_with(&bearer, &p.id, json!({})).await;
    assert!(csp(open).await.ends_with("frame-ancestors *"));
    let named = s
        .connect_token_with(
            &bearer,
            &p.id,
            json!({"allowed_origins": ["https://a.example"]}),
        )
        .await;
    assert!(
        csp(named)
            .await
            .ends_with("frame-ancestors https://a.example")
    );
    // A bad token's page is framable too (its error must reach the SDK).
    assert!(
        csp("ctok_nonesuch".into())
            .await
            .ends_with("frame-ancestors *")
    );

    // A project that restricts framing bounds every token.
    let core = s.core();
    core.tenancy
        .set_connect_frame_origins(&p.id, Some(vec!["https://b.example".into()]))
        .await
        .unwrap();
    let open = s.connect_token_with(&bearer, &p.id, json!({})).await;
    assert!(
        csp(open)
            .await
            .ends_with("frame-ancestors https://b.example")
    );
    let named = s
        .connect_token_with(
            &bearer,
            &p.id,
            json!({"allowed_origins": ["https://a.example"]}),
        )
        .await;
    assert!(csp(named).await.ends_with("frame-ancestors 'none'"));
    core.tenancy
        .set_connect_frame_origins(&p.id, Some(vec![]))
        .await
        .unwrap();
    let open = s.connect_token_with(&bearer, &p.id, json!({})).await;
    assert!(csp(open).await.ends_with("frame-ancestors 'none'"));
    // Bad settings are refused.
    for bad in ["https://b.example/path", "javascript:alert(1)"] {
        let e = core
            .tenancy
            .set_connect_frame_origins(&p.id, Some(vec![bad.into()]))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("connect_frame_origins"), "{e}");
    }

    // The script is served as a script, and a refusal in a frame is 200.
    let r = no_redirects()
        .get(format!("{}/_static/connect.js", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    for (dest, status) in [(None, 410), (Some("iframe"), 200)] {
        let mut rb = no_redirects().get(format!(
            "{}/_static/connect.html?token=ctok_nonesuch&app=openai",
            s.base
        ));
        if let Some(d) = dest {
            rb = rb.header("sec-fetch-dest", d);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), status, "{dest:?}");
        assert!(r.text().await.unwrap().contains("\"type\":\"error\""));
    }
    s.stop().await;
}
