//! The harness itself, and the workers' single steps: one round of each
//! loop, awaited, with no timing involved.

use serde_json::json;
use switchboard::Roles;

use super::helpers::{TestReceiver, eventually, hook_url, secs, spawn_app, spawn_app_as};

#[tokio::test(flavor = "multi_thread")]
async fn an_event_reaches_the_receiver_through_the_running_workers() {
    let app = spawn_app().await;
    let rx = TestReceiver::start().await;
    let body =
        json!({"id": "http-new-requests", "external_user_id": "u1", "webhook_url": rx.at("/sink")});
    let d = app.deploy(&app.bearer, &app.project.id, body).await;
    let url = hook_url(&d);
    assert!(url.starts_with(&app.base), "{url}");
    assert_eq!(app.send_hook(&url, json!({"hello": "world"})).await, 200);
    let got = rx.wait_for(1, secs(10)).await;
    assert_eq!(got[0].path, "/sink");
    assert_eq!(got[0].json()["event"]["body"], json!({"hello": "world"}));
    assert!(!got[0].header("webhook-id").is_empty());
    let path = app.path(&format!(
        "deployed-triggers/{}?external_user_id=u1",
        d["id"].as_str().unwrap()
    ));
    assert_eq!(app.delete(&path, &app.bearer).await.0, 204);
    assert_eq!(app.send_hook(&url, json!({})).await, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn single_steps_deliver_retry_and_tick_without_timing() {
    let app = spawn_app_as(Roles::Serve, |c| {
        c.delivery.retry_schedule_secs = vec![1];
        c.triggers.min_interval_secs = 1;
    })
    .await;
    let core = app.core().clone();
    let settings = switchboard_worker::WorkerSettings::from_config(app.app.config());
    let me = switchboard_worker::consumer_name();
    let rx = TestReceiver::start().await;
    rx.fail("/sink", 500, 1);
    let body =
        json!({"id": "http-new-requests", "external_user_id": "u1", "webhook_url": rx.at("/sink")});
    let d = app.deploy(&app.bearer, &app.project.id, body).await;
    assert_eq!(app.send_hook(&hook_url(&d), json!({"n": 1})).await, 200);

    // Nothing runs unless a step runs it.
    assert!(rx.requests().is_empty());
    assert_eq!(
        switchboard_worker::deliver_once(&core, &me, &settings).await,
        1
    );
    assert_eq!(rx.requests()[0].status, 500);
    assert_eq!(
        switchboard_worker::deliver_once(&core, &me, &settings).await,
        0,
        "the retry waits in the due index"
    );
    // The retry comes due after about a second; then one step promotes it
    // and the next delivers it.
    eventually(secs(5), "the retry to come due", || async {
        (switchboard_worker::promote_once(&core).await > 0).then_some(())
    })
    .await;
    assert_eq!(
        switchboard_worker::deliver_once(&core, &me, &settings).await,
        1
    );
    let got = rx.requests();
    assert_eq!(got.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 200]);
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));

    // A 1 s timer: its tick comes due, is promoted, and runs once.
    let timer = app
        .deploy(
            &app.bearer,
            &app.project.id,
            json!({"id": "schedule-custom-interval", "external_user_id": "u1",
                       "configured_props": {"timer": {"intervalSeconds": 1}}}),
        )
        .await;
    let id = timer["id"].as_str().unwrap();
    eventually(secs(5), "the timer's tick to come due", || async {
        (switchboard_worker::promote_once(&core).await > 0).then_some(())
    })
    .await;
    assert_eq!(switchboard_worker::poll_tick_once(&core, &me).await, 1);
    assert_eq!(
        app.trigger_events(&app.bearer, &app.project.id, id)
            .await
            .len(),
        1
    );
    assert_eq!(switchboard_worker::poll_tick_once(&core, &me).await, 0);

    assert_eq!(
        switchboard_worker::refresh_once(&core).await,
        0,
        "no OAuth accounts"
    );
    switchboard_worker::housekeeping_once(&core).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_drains_and_returns() {
    let app = spawn_app().await;
    let (st, _, _) = app.get(&app.path("accounts"), &app.bearer, None).await;
    assert_eq!(st, 200);
    let address = app.base.clone();
    tokio::time::timeout(secs(30), app.app.shutdown())
        .await
        .expect("shutdown within the grace")
        .unwrap();
    assert!(
        super::helpers::client()
            .get(format!("{address}/healthz"))
            .send()
            .await
            .is_err(),
        "no longer listening"
    );
}
