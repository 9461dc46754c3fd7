//! Operations, in-process: CORS follows the connect token's allowed
//! origins; a worker process's health endpoints. Outages, keys, the CLI
//! and the logs are in `tests/e2e/ops.rs`.

use reqwest::Method;
use serde_json::json;
use switchboard::Roles;
use switchboard_domain::model::{Environment, Tenant};
use switchboard_domain::triggers::DeployRequest;

use super::helpers::{TestReceiver, eventually, secs, spawn_app, spawn_app_as};

#[tokio::test(flavor = "multi_thread")]
async fn cors_follows_the_connect_tokens_allowed_origins() {
    let s = spawn_app().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let (_, v, _) = s
        .call(
            Method::POST,
            &format!("/v1/connect/{}/tokens", p.id),
            &bearer,
            None,
            Some(json!({"external_user_id": "web", "allowed_origins": ["http://localhost:3000"]})),
        )
        .await;
    let ct = v["token"].as_str().unwrap();
    let pre = s
        .http
        .request(Method::OPTIONS, format!("{}/v1/connect/accounts", s.base))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let from = |origin: &'static str| {
        s.http
            .get(format!("{}/v1/connect/accounts", s.base))
            .bearer_auth(ct)
            .header("origin", origin)
            .send()
    };
    let ok = from("http://localhost:3000").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let bad = from("https://evil.example").await.unwrap();
    assert_eq!(bad.status(), 403);
    assert!(bad.headers().get("access-control-allow-origin").is_none());
    s.stop().await;
}

/// A process that only works (no API) answers liveness and readiness
/// probes on `worker.health_listen`: ready once its loops run, 503 while
/// it drains a delivery in flight, alive until it has stopped.
#[tokio::test(flavor = "multi_thread")]
async fn a_work_process_answers_health_probes_and_is_unready_while_draining() {
    let app = spawn_app_as(Roles::Work, |c| {
        c.worker.health_listen = "127.0.0.1:0".into();
    })
    .await;
    assert!(app.base.is_empty(), "no API");
    let health = app
        .app
        .health_url()
        .expect("health endpoints on worker.health_listen");
    // `app.api.http`, not `app.http` (Deref borrows all of `app`), since
    // `app.app.shutdown()` below moves `app.app`.
    let status = |path: &str| {
        let request = app.api.http.get(format!("{health}{path}")).send();
        async move { request.await.map(|r| r.status().as_u16()) }
    };
    let answers = |path: &'static str, want: u16| {
        let status = &status;
        move || async move {
            match status(path).await {
                Ok(s) if s == want => Ok(()),
                other => Err(other),
            }
        }
    };
    assert_eq!(status("/healthz").await.unwrap(), 200);
    eventually(secs(5), "/readyz to answer 200", answers("/readyz", 200)).await;
    let ready: serde_json::Value = app
        .http
        .get(format!("{health}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["store"], app.core().store.kind(), "{ready}");

    // A delivery in flight (its receiver answers after 3 s) holds the drain.
    let rx = TestReceiver::start().await;
    rx.delay("/slow", secs(3), 1);
    let tenant = Tenant {
        project_id: app.project.id.clone(),
        env: Environment::Production,
    };
    let triggers = &app.core().triggers;
    let d = triggers
        .deploy_trigger(
            &tenant,
            DeployRequest {
                key: "http-new-requests".into(),
                version: None,
                external_user_id: "u1".into(),
                configured_props: Default::default(),
                webhook_url: Some(rx.at("/slow")),
                emit_on_deploy: None,
                fifo: None,
            },
        )
        .await
        .expect("deploy");
    triggers
        .record_event(&tenant, &d.deployment.id, json!({"n": 1}), "one".into())
        .await
        .expect("an event");
    rx.wait_for(1, secs(10)).await;

    let probes = async {
        eventually(
            secs(2),
            "/readyz to answer 503 while draining",
            answers("/readyz", 503),
        )
        .await;
        assert_eq!(
            status("/healthz").await.unwrap(),
            200,
            "alive while draining"
        );
    };
    let drained = async {
        tokio::time::timeout(secs(30), app.app.shutdown())
            .await
            .expect("no shutdown 30 s after it was asked for")
            .expect("a clean shutdown");
    };
    tokio::join!(probes, drained);
    assert!(
        status("/healthz").await.is_err(),
        "no longer listening once stopped"
    );
}
