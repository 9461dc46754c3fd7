//! The connect flow's acceptance, end to end: headless Chromium drives the
//! hosted page (inside a customer's iframe) through a real OAuth 2.0 server
//! (`oauth2-mock-server`); then the account's life: the CONNECTION_SUCCESS
//! webhook, a proxy call, expiry and refresh with rotation (on a 401 and
//! ahead of time by the workers), revocation, unhealthy and dead with their
//! notifications and the triggers suspended, reconnect, healthy again and
//! the triggers resumed. And 50 concurrent proxy calls over two server
//! processes sharing Redis cause exactly one refresh at the provider.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::browser;
use crate::connect_oauth::{location, query_param};
use crate::harness::{
    AuthServer, Backend, Doubles, Instance, Project, Server, client, eventually, free_port,
    received, sw_headers, verify_with_standardwebhooks,
};

/// A proxy GET of the provider's `/me` with the account.
async fn proxy_me(s: &Server, bearer: &str, p: &str, account: &str) -> (u16, Value) {
    let enc = base64::engine::general_purpose::URL_SAFE.encode("/me");
    let (st, v, _) = s
        .get(
            &format!("/v1/connect/{p}/proxy/{enc}?external_user_id=u1&account_id={account}"),
            bearer,
            None,
        )
        .await;
    (st, v)
}

async fn account(s: &Server, bearer: &str, p: &str, id: &str) -> Value {
    let (st, v, _) = s
        .get(
            &format!("/v1/connect/{p}/accounts/{id}?include_credentials=true"),
            bearer,
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    v
}

/// Polls the account until `done` holds (up to 20 s).
async fn account_until(
    s: &Server,
    bearer: &str,
    p: &str,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let what = format!("the account to become {what}");
    eventually(Duration::from_secs(20), &what, || async {
        let a = account(s, bearer, p, id).await;
        if done(&a) { Ok(a) } else { Err(a) }
    })
    .await
}

/// The notifications received at `path` with `event`, each verified with
/// `key` by the `standardwebhooks` package.
async fn notification(doubles: &Doubles, path: &str, event: &str, key: &str) -> Value {
    let what = format!("a {event} notification at {path}");
    eventually(Duration::from_secs(10), &what, || async {
        for r in received(doubles, path, 0).await {
            let body = r["body"].as_str().unwrap_or_default();
            let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            if v["event"] == event {
                assert!(
                    verify_with_standardwebhooks(key, body, &sw_headers(&r)),
                    "{event} does not verify with the environment key"
                );
                assert!(
                    !body.contains("oauth_access_token") && !body.contains("oauth_refresh_token"),
                    "notifications never carry credentials: {body}"
                );
                return Some(v);
            }
        }
        None
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_in_a_browser_then_refresh_revoke_and_reconnect() {
    let auth = AuthServer::start();
    let doubles = Doubles::start();
    let http = doubles.url("http");
    let inst = auth
        .configure(Instance::new(Backend::Embedded))
        .with_env("SWITCHBOARD_APPS__HUBSPOT__REFRESH_MARGIN_SECS", "3")
        .with_env("SWITCHBOARD_ACCOUNTS__REFRESH_CHECK_INTERVAL_MS", "200")
        .with_env("SWITCHBOARD_ACCOUNTS__REFRESH_RETRY_MIN_SECS", "1")
        .with_env("SWITCHBOARD_ACCOUNTS__REFRESH_RETRY_MAX_SECS", "1")
        .with_env("SWITCHBOARD_ACCOUNTS__DEAD_AFTER_SECS", "4")
        .with_env("SWITCHBOARD_DELIVERY__RETRY_SCHEDULE_SECS", "[1, 1, 1]");
    let p = Project::from_json(&inst.admin(&[
        "create-project",
        "--name",
        "acme",
        "--app-name",
        "Acme CRM",
        "--support-email",
        "help@acme.example",
    ]));
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    let base = format!("/v1/connect/{}", p.id);
    let (st, v, _) = s
        .post(
            &format!("{base}/oauth_apps"),
            &bearer,
            json!({"app": "hubspot", "client_id": "acme-client", "client_secret": "acme-secret"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    // The project webhook: its key signs every notification.
    let (st, v, _) = s
        .call(
            reqwest::Method::PUT,
            &format!("{base}/webhook"),
            &bearer,
            None,
            Some(json!({"url": format!("{http}/anything/project")})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let env_key = v["data"]["signing_key"].as_str().unwrap().to_string();

    // 1. Connect, in Chromium, in the customer's iframe.
    let parent_port = free_port();
    let parent = format!("http://127.0.0.1:{parent_port}");
    let ctok = s
        .connect_token_with(
            &bearer,
            &p.id,
            json!({"allowed_origins": [parent], "webhook_uri": format!("{http}/anything/connection")}),
        )
        .await;
    let shots = browser::artifacts_dir();
    let page = format!("{}/_static/connect.html?token={ctok}&app=hubspot", s.base);
    let scenario = json!({
        "url": page, "iframe": true, "parent_port": parent_port,
        "screenshot": shots.join("connect-oauth.png"),
        // In a frame the provider opens in a popup; the driver waits for it to close.
        "steps": [{"click": "Continue to HubSpot"}],
    });
    let r = tokio::task::spawn_blocking(move || browser::drive(scenario))
        .await
        .unwrap();
    assert_eq!(r["error"], Value::Null, "{r}");
    assert_eq!(
        r["console_errors"],
        json!([]),
        "the page logs no errors: {r}"
    );
    assert!(
        r["text"].as_str().unwrap().contains("HubSpot is connected"),
        "{r}"
    );
    let msg = r["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "success")
        .unwrap_or_else(|| panic!("the iframe posts success to its parent: {r}"))
        .clone();
    let id = msg["authProvisionId"].as_str().unwrap().to_string();

    // 2. The account exists and the connection webhook arrived, signed.
    let a = account(&s, &bearer, &p.id, &id).await;
    assert_eq!(a["healthy"], true, "{a}");
    assert!(
        a["next_refresh_at"].is_string(),
        "refresh is scheduled: {a}"
    );
    let first_refresh_token = a["credentials"]["oauth_refresh_token"].clone();
    let hook = notification(
        &doubles,
        "/anything/connection",
        "CONNECTION_SUCCESS",
        &env_key,
    )
    .await;
    assert_eq!(hook["account"]["id"], id.as_str());
    assert_eq!(hook["connect_token"], ctok.as_str());
    assert_eq!(hook["environment"], "production");
    assert!(hook["connect_session_id"].is_number(), "{hook}");

    // A trigger that uses the account (a private component).
    let (st, v, _) = s
        .post(
            &format!("{base}/components"),
            &bearer,
            json!({
                "manifest_version": 1, "kind": "trigger", "key": "hubspot-inbound", "name": "HubSpot inbound",
                "version": "0.1.0", "app": "hubspot",
                "props": [{"name": "hubspot", "type": "app", "app": "hubspot"}, {"name": "http", "type": "$.interface.http"}],
                "source": {"type": "webhook", "ingress": "deployment", "summary": "hit", "event": "{{ request.body }}", "response": {"status": 200, "body": {"ok": true}}}
            }),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, v, _) = s
        .post(
            &format!("{base}/triggers/deploy"),
            &bearer,
            json!({"id": "hubspot-inbound", "external_user_id": "u1", "configured_props": {"hubspot": {"authProvisionId": id}}}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let dc = v["data"]["id"].as_str().unwrap().to_string();
    let hook_url = v["data"]["configured_props"]["http"]["endpoint_url"]
        .as_str()
        .unwrap()
        .to_string();

    // 3. A proxy call works with the user's token.
    let (st, v) = proxy_me(&s, &bearer, &p.id, &id).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["email"], "jane@example.com");

    // 4. The token expires: the next call is refused, refreshed once (the
    // refresh token rotates) and retried.
    auth.control("config", Some(json!({"expires_in": 4}))).await;
    auth.control("expire", None).await;
    auth.control("reset-stats", None).await;
    let (st, v) = proxy_me(&s, &bearer, &p.id, &id).await;
    assert_eq!(st, 200, "refreshed on the 401 and retried: {v}");
    assert_eq!(auth.token_requests("refresh_token").await, 1);
    let a = account(&s, &bearer, &p.id, &id).await;
    assert_ne!(
        a["credentials"]["oauth_refresh_token"], first_refresh_token,
        "the rotated refresh token is kept"
    );
    assert!(a["last_refreshed_at"].is_string(), "{a}");
    // The new token lives 4 s; workers refresh it 3 s ahead, with no calls.
    eventually(
        Duration::from_secs(10),
        "workers to refresh ahead of expiry (3 refresh grants)",
        || async {
            match auth.token_requests("refresh_token").await {
                n if n >= 3 => Ok(()),
                n => Err(n),
            }
        },
    )
    .await;
    let stats = auth.control("stats", None).await;
    assert_eq!(
        stats["refresh_rejected"], 0,
        "no refresh token is spent twice: {stats}"
    );
    auth.control("config", Some(json!({"expires_in": 3600})))
        .await;

    // 5. The provider revokes the grant.
    auth.control("revoke", None).await;
    // 6. The next call fails its refresh: the account is unhealthy and the
    // project is told.
    let (st, _) = proxy_me(&s, &bearer, &p.id, &id).await;
    assert!(st >= 400, "a revoked grant cannot be used: {st}");
    let a = account_until(&s, &bearer, &p.id, &id, "unhealthy", |a| {
        a["healthy"] == false
    })
    .await;
    assert!(
        a["error"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid_grant"),
        "{a}"
    );
    let n = notification(&doubles, "/anything/project", "ACCOUNT_UNHEALTHY", &env_key).await;
    assert_eq!(n["account"]["id"], id.as_str());
    // Retries keep failing on the backoff until the account is dead; its
    // trigger is suspended.
    account_until(&s, &bearer, &p.id, &id, "dead", |a| a["dead"] == true).await;
    notification(&doubles, "/anything/project", "ACCOUNT_DEAD", &env_key).await;
    let t = s.deployed_trigger(&bearer, &p.id, &dc).await;
    assert_eq!(
        t["active"], false,
        "a dead account's trigger is suspended: {t}"
    );
    let r = client()
        .post(&hook_url)
        .json(&json!({"x": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "a suspended trigger takes no events");

    // 7. Reconnect: the same account, through the page again (top level this
    // time, redirects followed by hand).
    let ctok = s.connect_token_with(&bearer, &p.id, json!({})).await;
    let (st, authorize) = location(&format!(
        "{}/_static/connect/oauth/start?token={ctok}&app=hubspot&accountId={id}",
        s.base
    ))
    .await;
    assert_eq!(st, 302);
    assert!(query_param(&authorize, "state").is_some());
    let (_, callback) = location(&authorize).await;
    let (st, _) = location(&callback).await;
    assert_eq!(st, 200, "the done page");

    // 8. Healthy again, told so, and the trigger runs again.
    let a = account(&s, &bearer, &p.id, &id).await;
    assert_eq!(
        (a["healthy"].clone(), a["dead"].clone()),
        (json!(true), json!(false)),
        "{a}"
    );
    notification(&doubles, "/anything/project", "ACCOUNT_HEALTHY", &env_key).await;
    let (st, v) = proxy_me(&s, &bearer, &p.id, &id).await;
    assert_eq!(st, 200, "{v}");
    let t = s.deployed_trigger(&bearer, &p.id, &dc).await;
    assert_eq!(t["active"], true, "reconnecting resumes the trigger: {t}");
    assert_eq!(t["suspended_for_account"], Value::Null, "{t}");
    let r = client()
        .post(&hook_url)
        .json(&json!({"x": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// The API-key form in Chromium: it renders clean, is captured for the
/// README, and saves an account.
#[tokio::test(flavor = "multi_thread")]
async fn key_form_in_a_browser() {
    let inst = Instance::new(Backend::Embedded);
    let p = Project::from_json(&inst.admin(&[
        "create-project",
        "--name",
        "acme",
        "--app-name",
        "Acme CRM",
        "--support-email",
        "help@acme.example",
    ]));
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    let ctok = s
        .connect_token_with(
            &bearer,
            &p.id,
            json!({"success_redirect_uri": "https://acme.example/ok"}),
        )
        .await;
    let shot = browser::artifacts_dir().join("connect-key-form.png");
    let scenario = json!({
        "url": format!("{}/_static/connect.html?token={ctok}&app=openai", s.base),
        "screenshot": shot,
        "steps": [{"fill": {"API key": "sk-test-123"}}, {"submit": "Connect"}],
    });
    let r = tokio::task::spawn_blocking(move || browser::drive(scenario))
        .await
        .unwrap();
    assert_eq!(r["error"], Value::Null, "{r}");
    assert_eq!(r["console_errors"], json!([]), "{r}");
    assert_eq!(r["final_url"], "https://acme.example/ok", "{r}");
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
        "screenshot saved"
    );
    let accounts = s.user_accounts(&bearer, &p.id, "openai", true).await;
    assert_eq!(accounts[0]["credentials"]["api_key"], "sk-test-123");

    // Opened from the customer's frontend, Cancel tells it to close the
    // dialog (Pipedream's `close`); the message goes to the allowed origin.
    let parent_port = free_port();
    let ctok = s
        .connect_token_with(
            &bearer,
            &p.id,
            json!({"allowed_origins": [format!("http://127.0.0.1:{parent_port}")]}),
        )
        .await;
    let scenario = json!({
        "url": format!("{}/_static/connect.html?token={ctok}&app=openai", s.base),
        "iframe": true, "parent_port": parent_port, "steps": [{"click": "Cancel"}],
    });
    let r = tokio::task::spawn_blocking(move || browser::drive(scenario))
        .await
        .unwrap();
    assert_eq!(r["error"], Value::Null, "{r}");
    assert_eq!(r["messages"], json!([{"type": "close"}]), "{r}");

    // An expired link is refused with a clear page.
    let ctok = s
        .connect_token_with(&bearer, &p.id, json!({"expires_in": 1}))
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = client()
        .get(format!(
            "{}/_static/connect.html?token={ctok}&app=openai",
            s.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("expired"));

    // A frame from an origin outside the token's allowed_origins gets
    // nothing (clickjacking).
    let ctok = s
        .connect_token_with(
            &bearer,
            &p.id,
            json!({"allowed_origins": ["https://acme.example"]}),
        )
        .await;
    let scenario = json!({
        "url": format!("{}/_static/connect.html?token={ctok}&app=openai", s.base),
        "iframe": true, "steps": [],
    });
    let r = tokio::task::spawn_blocking(move || browser::drive(scenario))
        .await
        .unwrap();
    assert!(
        r["console_errors"].to_string().contains("frame-ancestors"),
        "the browser refuses to frame the page: {r}"
    );
}

/// 50 proxy calls at once on an expired account, half through each of two
/// server processes sharing Redis: one refresh at the provider, all 200.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_on_an_expired_account_refresh_once() {
    let auth = AuthServer::start();
    let inst = auth.configure(Instance::new(Backend::Redis));
    let p = inst.create_project("herd");
    let servers = [
        inst.start_role("all", inst.port).await,
        inst.start_role("serve", free_port()).await,
    ];
    let s = &servers[0];
    let bearer = s.token(&p).await;
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/oauth_apps", p.id),
            &bearer,
            json!({"app": "hubspot", "client_id": "c", "client_secret": "s"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let ctok = s.connect_token_with(&bearer, &p.id, json!({})).await;
    let (_, authorize) = location(&format!(
        "{}/_static/connect/oauth/start?token={ctok}&app=hubspot",
        s.base
    ))
    .await;
    let (_, callback) = location(&authorize).await;
    let (st, _) = location(&callback).await;
    assert_eq!(st, 200);
    let id = s.user_accounts(&bearer, &p.id, "hubspot", false).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    auth.control("expire", None).await;
    auth.control("reset-stats", None).await;
    // Started together: the requests are in flight before any answers.
    let enc = base64::engine::general_purpose::URL_SAFE.encode("/me");
    let started = std::time::Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..50 {
        let url = format!(
            "{}/v1/connect/{}/proxy/{enc}?external_user_id=u1&account_id={id}",
            servers[i % 2].base,
            p.id
        );
        let bearer = bearer.clone();
        calls.spawn(async move {
            let r = client().get(url).bearer_auth(bearer).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        });
    }
    let results = calls.join_all().await;
    eprintln!(
        "50 concurrent proxy calls on an expired account over 2 processes: {:?}",
        started.elapsed()
    );
    for (st, v) in &results {
        assert_eq!(*st, 200, "{v}");
    }
    let stats = auth.control("stats", None).await;
    assert_eq!(
        stats["token_requests"]["refresh_token"], 1,
        "exactly one refresh at the provider: {stats}"
    );
    assert_eq!(stats["refresh_rejected"], 0, "{stats}");
}
