//! Deployed triggers against the real process and its neighbours:
//! deliveries verified by the real `standardwebhooks` library (PyPI), with
//! key rotation and the project default webhook; GitHub and Stripe instant
//! triggers with provider-made signatures (Node); timers ticking once per
//! interval across two worker processes on Redis. The lifecycle and the
//! delivery rules run in-process: `tests/app/triggers.rs`.

use reqwest::Method;
use serde_json::json;

use crate::harness::{
    Backend, Instance, assert_client_error, client, received, sw_headers,
    verify_with_standardwebhooks,
};

/// Doubles, an instance pointed at them, a project and a running server.
async fn with_doubles(
    backend: Backend,
    name: &str,
) -> (
    crate::harness::Doubles,
    Instance,
    crate::harness::Project,
    crate::harness::Server,
    String,
) {
    let doubles = crate::harness::Doubles::start();
    let inst = doubles.configure(Instance::new(backend), true);
    let p = inst.create_project(name);
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    (doubles, inst, p, s, bearer)
}

/// A token the provider's double accepts, imported as user `u1`'s account.
async fn connected(
    doubles: &crate::harness::Doubles,
    s: &crate::harness::Server,
    bearer: &str,
    project: &str,
    app: &str,
    token: &str,
    cfmap: serde_json::Value,
) -> String {
    doubles.accept_token(app, token).await;
    s.import_account(bearer, project, "u1", app, cfmap).await
}

async fn signed_delivery(backend: Backend) {
    let (doubles, _inst, p, s, bearer) = with_doubles(backend, "delivery").await;
    let sink = format!("{}/anything/sink", doubles.url("http"));
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/triggers/deploy", p.id),
            &bearer,
            json!({"id": "http-new-requests", "external_user_id": "u1", "webhook_url": sink}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let key = v["data"]["webhook_signing_key"]
        .as_str()
        .unwrap()
        .to_string();
    let id = v["data"]["id"].as_str().unwrap().to_string();
    let url = v["data"]["configured_props"]["http"]["endpoint_url"]
        .as_str()
        .unwrap()
        .to_string();
    client()
        .post(&url)
        .json(&json!({"hello": "world"}))
        .send()
        .await
        .unwrap();
    let r = received(&doubles, "/anything/sink", 1).await.remove(0);
    let body = r["body"].as_str().unwrap();
    let env: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(env["event"]["body"], json!({"hello": "world"}));
    assert_eq!(env["context"]["deployment_id"], id.as_str());
    assert_eq!(env["context"]["external_user_id"], "u1");
    assert_eq!(env["context"]["component_key"], "http-new-requests");
    let headers = sw_headers(&r);
    assert!(
        verify_with_standardwebhooks(&key, body, &headers),
        "standardwebhooks rejected {headers}"
    );
    let tampered = body.replace("world", "w0rld");
    assert!(
        !verify_with_standardwebhooks(&key, &tampered, &headers),
        "a tampered body must not verify"
    );
    rotation_and_several_webhooks(&doubles, &s, &bearer, &p.id, &id, &url, &sink, &key).await;
}

/// The trigger's webhooks; regenerating a key keeps the old one signing
/// during the overlap, so both verify; each URL has its own key.
#[allow(clippy::too_many_arguments)]
async fn rotation_and_several_webhooks(
    doubles: &crate::harness::Doubles,
    s: &crate::harness::Server,
    bearer: &str,
    project: &str,
    id: &str,
    url: &str,
    sink: &str,
    key: &str,
) {
    let base = format!("/v1/connect/{project}/deployed-triggers/{id}");
    let (st, v, _) = s
        .get(
            &format!("{base}/webhooks?external_user_id=u1"),
            bearer,
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["webhook_urls"], json!([sink]));
    let wh = v["webhooks"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(v["webhooks"][0]["signing_key"], key);
    let (st, v, _) = s
        .post(
            &format!("{base}/webhooks/{wh}/regenerate_signing_key?external_user_id=u1"),
            bearer,
            json!({}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let new_key = v["data"]["signing_key"].as_str().unwrap().to_string();
    assert_ne!(new_key, key);
    let sink2 = format!("{}/anything/sink2", doubles.url("http"));
    let (st, v, _) = s
        .call(
            Method::PUT,
            &format!("{base}/webhooks?external_user_id=u1"),
            bearer,
            None,
            Some(json!({"webhook_urls": [sink, sink2]})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["webhooks"][0]["id"],
        wh.as_str(),
        "a kept URL keeps its id"
    );
    assert_eq!(v["webhooks"].as_array().unwrap().len(), 2);
    let key2 = v["webhooks"][1]["signing_key"]
        .as_str()
        .unwrap()
        .to_string();
    doubles
        .control("http", Method::DELETE, "requests", None)
        .await;
    client()
        .post(url)
        .json(&json!({"second": true}))
        .send()
        .await
        .unwrap();
    let seen = received(doubles, "/anything/sink", 2).await;
    for r in &seen {
        let h = &r["headers"];
        let headers = sw_headers(r);
        let body = r["body"].as_str().unwrap();
        if r["path"] == "/anything/sink" {
            assert_eq!(
                h["webhook-signature"].as_str().unwrap().split(' ').count(),
                2,
                "both keys sign during the overlap"
            );
            assert!(verify_with_standardwebhooks(&new_key, body, &headers));
            assert!(
                verify_with_standardwebhooks(key, body, &headers),
                "the old key still verifies"
            );
        } else {
            assert!(verify_with_standardwebhooks(&key2, body, &headers));
            assert!(
                !verify_with_standardwebhooks(key, body, &headers),
                "another webhook's key does not"
            );
        }
    }
}

/// Triggers without their own webhooks deliver to the project default.
async fn default_webhook(backend: Backend) {
    let (doubles, _inst, p, s, bearer) = with_doubles(backend, "default webhook").await;
    let base = format!("/v1/connect/{}", p.id);
    let (st, v, _) = s.get(&format!("{base}/webhook"), &bearer, None).await;
    assert_eq!((st, &v["data"]), (200, &json!(null)), "{v}");
    let sink = format!("{}/anything/default", doubles.url("http"));
    let (st, v, _) = s
        .call(
            Method::PUT,
            &format!("{base}/webhook"),
            &bearer,
            None,
            Some(json!({"url": sink})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let key = v["data"]["signing_key"]
        .as_str()
        .expect("the key is shown on creation")
        .to_string();
    let (_, v, _) = s
        .call(
            Method::PUT,
            &format!("{base}/webhook"),
            &bearer,
            None,
            Some(json!({"url": sink})),
        )
        .await;
    assert!(v["data"].get("signing_key").is_none(), "not on update: {v}");
    let (st, v, _) = s
        .call(
            Method::PUT,
            &format!("{base}/webhook"),
            &bearer,
            None,
            Some(json!({"url": "javascript:x"})),
        )
        .await;
    assert_client_error("bad url", st, &v, 400, "url");
    let (_, v, _) = s
        .post(
            &format!("{base}/triggers/deploy"),
            &bearer,
            json!({"id": "http-new-requests", "external_user_id": "u"}),
        )
        .await;
    let url = v["data"]["configured_props"]["http"]["endpoint_url"]
        .as_str()
        .unwrap()
        .to_string();
    client()
        .post(&url)
        .json(&json!({"to": "default"}))
        .send()
        .await
        .unwrap();
    let r = received(&doubles, "/anything/default", 1).await.remove(0);
    let headers = sw_headers(&r);
    assert!(verify_with_standardwebhooks(
        &key,
        r["body"].as_str().unwrap(),
        &headers
    ));
    let (st, v, _) = s
        .post(
            &format!("{base}/webhook/regenerate_signing_key"),
            &bearer,
            json!({}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_ne!(v["data"]["signing_key"], key.as_str());
    let (st, _, _) = s
        .call(
            Method::DELETE,
            &format!("{base}/webhook"),
            &bearer,
            None,
            None,
        )
        .await;
    assert_eq!(st, 204);
    let (st, _, _) = s
        .call(
            Method::DELETE,
            &format!("{base}/webhook"),
            &bearer,
            None,
            None,
        )
        .await;
    assert_eq!(st, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_go_to_the_project_default_webhook_on_the_embedded_store() {
    default_webhook(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn events_go_to_the_project_default_webhook_on_redis() {
    default_webhook(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deliveries_are_signed_for_standard_webhooks_on_the_embedded_store() {
    signed_delivery(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deliveries_are_signed_for_standard_webhooks_on_redis() {
    signed_delivery(Backend::Redis).await;
}

/// A real GitHub delivery: an `@octokit/webhooks-examples` payload signed
/// with `@octokit/webhooks-methods`.
fn github_delivery(secret: &str, event: &str, action: &str) -> (String, String) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/doubles");
    let out = std::process::Command::new("node")
        .arg(dir.join("sign-github.mjs"))
        .args([secret, event, action])
        .output()
        .expect("node is required");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["body"].as_str().unwrap().to_string(),
        v["signature"].as_str().unwrap().to_string(),
    )
}

/// GitHub "New Issue (Instant)": registers a repository hook with a secret
/// on deploy, verifies X-Hub-Signature-256, answers ping, dedupes on
/// X-GitHub-Delivery, removes the hook on delete (tolerating one gone).
#[tokio::test(flavor = "multi_thread")]
async fn github_instant_trigger_with_real_signatures() {
    let (doubles, _inst, p, s, bearer) = with_doubles(Backend::Embedded, "github instant").await;
    let acct = connected(
        &doubles,
        &s,
        &bearer,
        &p.id,
        "github",
        "gho_hooks",
        json!({"oauth_access_token": "gho_hooks"}),
    )
    .await;
    let base = format!("/v1/connect/{}", p.id);
    let deploy = json!({"id": "github-new-issue", "external_user_id": "u1",
                        "configured_props": {"github": {"authProvisionId": acct}, "repoFullname": "octocat/hello-world"}});
    let (st, v, _) = s
        .post(&format!("{base}/triggers/deploy"), &bearer, deploy.clone())
        .await;
    assert_eq!(st, 200, "{v}");
    let id = v["data"]["id"].as_str().unwrap().to_string();
    let url = v["data"]["configured_props"]["http"]["endpoint_url"]
        .as_str()
        .unwrap()
        .to_string();
    // The double saw the hook registration, with our URL and a secret.
    let reqs = doubles.requests("github").await;
    let create = reqs
        .iter()
        .find(|r| r["method"] == "POST" && r["path"] == "/repos/octocat/hello-world/hooks")
        .expect("hook registered");
    let cfg: serde_json::Value = serde_json::from_str(create["body"].as_str().unwrap()).unwrap();
    assert_eq!(cfg["config"]["url"], url.as_str());
    let secret = cfg["config"]["secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 32);

    let http = client();
    let send = |body: String, sig: String, event: &'static str, delivery: &'static str| {
        let r = http
            .post(&url)
            .header("content-type", "application/json")
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", delivery)
            .header("X-Hub-Signature-256", sig)
            .body(body)
            .send();
        async move { r.await.unwrap().status().as_u16() }
    };
    let (ping, ping_sig) = github_delivery(&secret, "ping", "");
    assert_eq!(send(ping, ping_sig, "ping", "d-ping").await, 200);
    let (opened, sig) = github_delivery(&secret, "issues", "opened");
    assert_eq!(
        send(opened.clone(), sig.clone(), "issues", "d-1").await,
        200
    );
    // A redelivery with the same id is not a second event.
    assert_eq!(
        send(opened.clone(), sig.clone(), "issues", "d-1").await,
        200
    );
    // A bad signature is refused with 401 and no event.
    let zero = format!("sha256={}", "0".repeat(64));
    assert_eq!(send(opened.clone(), zero, "issues", "d-2").await, 401);
    let (other, other_sig) = github_delivery("not-the-secret", "issues", "opened");
    assert_eq!(send(other, other_sig, "issues", "d-3").await, 401);
    // Another action passes the signature but is filtered out.
    let (closed, closed_sig) = github_delivery(&secret, "issues", "labeled");
    assert_eq!(send(closed, closed_sig, "issues", "d-4").await, 200);
    let (_, v, _) = s
        .get(
            &format!("{base}/deployed-triggers/{id}/events?external_user_id=u1&n=10"),
            &bearer,
            None,
        )
        .await;
    let evs = v["data"].as_array().unwrap();
    assert_eq!(evs.len(), 1, "one opened issue, once: {v}");
    assert!(
        evs[0]["sum"].as_str().unwrap().starts_with("New issue #"),
        "{v}"
    );
    assert!(evs[0]["e"]["number"].is_number());

    // Delete removes the hook.
    let (st, _, _) = s
        .call(
            Method::DELETE,
            &format!("{base}/deployed-triggers/{id}?external_user_id=u1"),
            &bearer,
            None,
            None,
        )
        .await;
    assert_eq!(st, 204);
    let deleted = doubles
        .requests("github")
        .await
        .into_iter()
        .filter(|r| {
            r["method"] == "DELETE"
                && r["path"]
                    .as_str()
                    .unwrap()
                    .starts_with("/repos/octocat/hello-world/hooks/")
        })
        .count();
    assert_eq!(deleted, 1);
    assert_eq!(
        client()
            .post(&url)
            .body("{}")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // A hook someone already removed on GitHub does not block the delete.
    let (_, v, _) = s
        .post(&format!("{base}/triggers/deploy"), &bearer, deploy)
        .await;
    let id2 = v["data"]["id"].as_str().unwrap().to_string();
    let hooks = client()
        .get(format!(
            "{}/repos/octocat/hello-world/hooks",
            doubles.url("github")
        ))
        .bearer_auth("gho_hooks")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    for h in hooks.as_array().unwrap() {
        client()
            .delete(format!(
                "{}/repos/octocat/hello-world/hooks/{}",
                doubles.url("github"),
                h["id"]
            ))
            .bearer_auth("gho_hooks")
            .send()
            .await
            .unwrap();
    }
    let (st, v, _) = s
        .call(
            Method::DELETE,
            &format!("{base}/deployed-triggers/{id2}?external_user_id=u1"),
            &bearer,
            None,
            None,
        )
        .await;
    assert_eq!(st, 204, "{v}");
}

/// A `Stripe-Signature` made by the official `stripe` library.
fn stripe_signature(secret: &str, payload: &str, timestamp: Option<u64>) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/doubles");
    let mut cmd = std::process::Command::new("node");
    cmd.arg(dir.join("sign-stripe.mjs")).args([secret, payload]);
    if let Some(t) = timestamp {
        cmd.arg(t.to_string());
    }
    let out = cmd.output().expect("node is required");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Stripe "New Custom Webhook Events": registers a webhook endpoint and
/// keeps its secret, verifies Stripe-Signature with a 5-minute tolerance,
/// dedupes on the event id, deletes the endpoint on delete.
#[tokio::test(flavor = "multi_thread")]
async fn stripe_instant_trigger_with_real_signatures() {
    let (doubles, _inst, p, s, bearer) = with_doubles(Backend::Redis, "stripe instant").await;
    let acct = connected(
        &doubles,
        &s,
        &bearer,
        &p.id,
        "stripe",
        "sk_test_hooks0001",
        json!({"api_key": "sk_test_hooks0001"}),
    )
    .await;
    let base = format!("/v1/connect/{}", p.id);
    let (st, v, _) = s
        .post(
            &format!("{base}/triggers/deploy"),
            &bearer,
            json!({"id": "stripe-custom-webhook-events", "external_user_id": "u1",
                   "configured_props": {"stripe": {"authProvisionId": acct}, "enabled_events": ["customer.created"]}}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let id = v["data"]["id"].as_str().unwrap().to_string();
    let url = v["data"]["configured_props"]["http"]["endpoint_url"]
        .as_str()
        .unwrap()
        .to_string();
    let eps = doubles
        .control("stripe", Method::GET, "webhook_endpoints", None)
        .await;
    let ep = &eps["webhook_endpoints"][0];
    assert_eq!(ep["url"], url.as_str(), "{eps}");
    let secret = ep["secret"].as_str().unwrap().to_string();
    // A real-shaped event from the double's own event list.
    let events = client()
        .get(format!("{}/v1/events?limit=1", doubles.url("stripe")))
        .bearer_auth("sk_test_hooks0001")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let payload = events["data"][0].to_string();
    let post = |sig: String| {
        let r = client()
            .post(&url)
            .header("content-type", "application/json")
            .header("Stripe-Signature", sig)
            .body(payload.clone())
            .send();
        async move { r.await.unwrap().status().as_u16() }
    };
    assert_eq!(post(stripe_signature(&secret, &payload, None)).await, 200);
    assert_eq!(
        post(stripe_signature(&secret, &payload, None)).await,
        200,
        "a retry is acknowledged"
    );
    let old = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 600;
    assert_eq!(
        post(stripe_signature(&secret, &payload, Some(old))).await,
        401,
        "outside the 5-minute tolerance"
    );
    assert_eq!(
        post(stripe_signature("whsec_wrong", &payload, None)).await,
        401
    );
    let (_, v, _) = s
        .get(
            &format!("{base}/deployed-triggers/{id}/events?external_user_id=u1"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(
        v["data"].as_array().unwrap().len(),
        1,
        "deduped on the event id: {v}"
    );
    assert_eq!(v["data"][0]["e"]["id"], events["data"][0]["id"]);
    let (st, _, _) = s
        .call(
            Method::DELETE,
            &format!("{base}/deployed-triggers/{id}?external_user_id=u1"),
            &bearer,
            None,
            None,
        )
        .await;
    assert_eq!(st, 204);
    let eps = doubles
        .control("stripe", Method::GET, "webhook_endpoints", None)
        .await;
    assert_eq!(
        eps["webhook_endpoints"].as_array().unwrap().len(),
        0,
        "endpoint deleted: {eps}"
    );
}

/// `schedule-custom-interval`: a 1 s timer, with two worker processes on
/// one Redis, emits once per tick (no tick twice, none skipped); pausing
/// stops it at once; a cron runs in its time zone; bad timers get a 400.
#[tokio::test(flavor = "multi_thread")]
async fn timers_tick_once_per_interval_and_stop_when_paused() {
    let inst =
        Instance::new(Backend::Redis).with_env("SWITCHBOARD_TRIGGERS__MIN_INTERVAL_SECS", "1");
    let p = inst.create_project("timers");
    let s = inst.start().await;
    let _second_worker = inst.start_role("work", 0).await;
    let bearer = s.token(&p).await;
    let base = format!("/v1/connect/{}", p.id);
    let deploy = |timer: serde_json::Value| {
        let (s, base, bearer) = (&s, &base, &bearer);
        async move {
            s.post(
                &format!("{base}/triggers/deploy"),
                bearer,
                json!({"id": "schedule-custom-interval", "external_user_id": "u1",
                       "configured_props": {"timer": timer}}),
            )
            .await
        }
    };
    for (timer, needle) in [
        (json!({"intervalSeconds": 0}), "at least 1"),
        (json!({"cron": "61 * * * *"}), "minute"),
        (
            json!({"cron": "0 9 * * *", "timezone": "Nowhere/Land"}),
            "time zone",
        ),
    ] {
        let (st, v, _) = deploy(timer.clone()).await;
        assert_client_error(&format!("timer {timer}"), st, &v, 400, needle);
    }
    // 09:00 in Tokyo is midnight UTC.
    let (st, v, _) = deploy(json!({"cron": "0 9 * * *", "timezone": "Asia/Tokyo"})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["data"]["next_run_at"].as_u64().unwrap() % 86_400,
        0,
        "{v}"
    );

    let (st, v, _) = deploy(json!({"intervalSeconds": 1})).await;
    assert_eq!(st, 200, "{v}");
    let id = v["data"]["id"].as_str().unwrap().to_string();
    let events = || {
        let (s, base, bearer, id) = (&s, &base, &bearer, &id);
        async move {
            let (_, v, _) = s
                .call(
                    Method::GET,
                    &format!("{base}/deployed-triggers/{id}/events?external_user_id=u1&n=100"),
                    bearer,
                    None,
                    None,
                )
                .await;
            let mut ts: Vec<u64> = v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["e"]["timestamp"].as_u64().unwrap())
                .collect();
            ts.sort();
            ts
        }
    };
    tokio::time::sleep(std::time::Duration::from_millis(5500)).await;
    let ts = events().await;
    assert!(ts.len() >= 4, "ticks in 5.5 s: {ts:?}");
    assert!(
        ts.windows(2).all(|w| w[1] - w[0] == 1),
        "one event per second, none twice, none skipped: {ts:?}"
    );
    let (st, v, _) = s
        .call(
            Method::PUT,
            &format!("{base}/deployed-triggers/{id}?external_user_id=u1"),
            &bearer,
            None,
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(v["data"]["next_run_at"].is_null(), "{v}");
    // A tick that had already won its run may still be recording its event.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let paused = events().await.len();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(events().await.len(), paused, "no ticks while paused");
}
