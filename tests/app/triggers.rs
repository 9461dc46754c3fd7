//! Deployed triggers: deploy, the per-deployment inbound URL (persisted
//! before acknowledged), events, pause and resume, reconfigure, delete; and
//! delivery to a receiver: retries on the configured schedule, dead letters
//! and replay, a 410 deactivating a webhook, FIFO order, one slow receiver
//! not delaying another, the inbound rate limit. Signatures checked by the
//! real `standardwebhooks` library, provider-signed instant triggers and
//! timers over two worker processes are in `tests/e2e/triggers.rs`.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::helpers::{
    TestApp, TestReceiver, assert_client_error, client, eventually, hook_url, secs, spawn_app,
    spawn_app_with,
};

#[tokio::test(flavor = "multi_thread")]
async fn deployed_trigger_lifecycle() {
    let s = spawn_app().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let base = format!("/v1/connect/{}", p.id);
    let (st, v, _) = s
        .post(
            &format!("{base}/triggers/deploy"),
            &bearer,
            json!({"id": "http-new-requests", "external_user_id": "u1", "configured_props": {}, "webhook_url": "https://example.com/sink"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let d = &v["data"];
    assert_eq!(d["type"], "DeployedComponent");
    assert!(d["id"].as_str().unwrap().starts_with("dc_"));
    assert!(
        d["webhook_signing_key"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    let id = d["id"].as_str().unwrap().to_string();
    let url = d["configured_props"]["http"]["endpoint_url"]
        .as_str()
        .unwrap()
        .to_string();
    let hook = url.rsplit('/').next().unwrap();
    assert!(hook.len() >= 27, "at least 160 bits: {hook}");
    assert!(url.starts_with(&s.base), "{url}");

    // Any request becomes an event, with method, path, query, headers and body.
    let http = client();
    let r = http
        .post(format!("{url}/orders?x=1"))
        .header("X-Thing", "yes")
        .json(&json!({"order": 42}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (st, v, _) = s
        .get(
            &format!("{base}/deployed-triggers/{id}/events?external_user_id=u1&n=5"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let ev = &v["data"][0];
    assert_eq!(ev["k"], "emit");
    assert_eq!(ev["e"]["method"], "POST");
    assert_eq!(ev["e"]["path"], "/orders");
    assert_eq!(ev["e"]["query"]["x"], "1");
    assert_eq!(ev["e"]["headers"]["x-thing"], "yes");
    assert_eq!(ev["e"]["body"]["order"], 42);
    assert_eq!(ev["sum"], "POST /orders");

    // Pause: the URL is gone; resume: it is back.
    let path = format!("{base}/deployed-triggers/{id}?external_user_id=u1");
    let (st, v, _) = s
        .call(
            Method::PUT,
            &path,
            &bearer,
            None,
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!((st, &v["data"]["active"]), (200, &json!(false)), "{v}");
    assert_eq!(http.get(&url).send().await.unwrap().status(), 404);
    s.call(
        Method::PUT,
        &path,
        &bearer,
        None,
        Some(json!({"active": true})),
    )
    .await;
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);

    // Reconfigure keeps the id and the URL.
    let (st, v, _) = s
        .call(
            Method::PUT,
            &path,
            &bearer,
            None,
            Some(json!({"configured_props": {"emitBodyOnly": true}})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["id"], id.as_str());
    assert_eq!(
        v["data"]["configured_props"]["http"]["endpoint_url"],
        url.as_str()
    );
    http.post(&url)
        .json(&json!({"only": "body"}))
        .send()
        .await
        .unwrap();
    let (_, v, _) = s
        .get(
            &format!("{base}/deployed-triggers/{id}/events?external_user_id=u1&n=1"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(v["data"][0]["e"], json!({"only": "body"}));
    assert_eq!(v["data"].as_array().unwrap().len(), 1);

    // Listing is per user; another user does not see it.
    let (_, v, _) = s
        .get(
            &format!("{base}/deployed-triggers?external_user_id=u1"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    let (_, v, _) = s
        .get(
            &format!("{base}/deployed-triggers?external_user_id=u2"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 0);
    let (st, _, _) = s
        .get(
            &format!("{base}/deployed-triggers/{id}?external_user_id=u2"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(st, 404);

    // Bad input.
    for (what, body, status, needle) in [
        (
            "an action",
            json!({"id": "http-custom-request", "external_user_id": "u1"}),
            400,
            "action",
        ),
        (
            "unknown",
            json!({"id": "http-nope", "external_user_id": "u1"}),
            404,
            "not found",
        ),
        (
            "no user",
            json!({"id": "http-new-requests"}),
            400,
            "external_user_id",
        ),
        (
            "bad prop",
            json!({"id": "http-new-requests", "external_user_id": "u1", "configured_props": {"emitBodyOnly": "x"}}),
            400,
            "emitBodyOnly",
        ),
        (
            "bad webhook",
            json!({"id": "http-new-requests", "external_user_id": "u1", "webhook_url": "ftp://x"}),
            400,
            "webhook_url",
        ),
    ] {
        let (st, v, _) = s
            .post(&format!("{base}/triggers/deploy"), &bearer, body)
            .await;
        assert_client_error(what, st, &v, status, needle);
    }

    // Delete: the URL answers 404, the trigger is gone.
    let (st, _, _) = s.call(Method::DELETE, &path, &bearer, None, None).await;
    assert_eq!(st, 204);
    assert_eq!(
        http.post(&url)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let (st, _, _) = s.get(&path, &bearer, None).await;
    assert_eq!(st, 404);
    let bogus = format!("{}/hooks/not-a-hook", s.base);
    assert_eq!(http.get(&bogus).send().await.unwrap().status(), 404);
}

/// Deploys `http-new-requests` delivering to the receiver's `path`, which
/// first answers `status` `count` times; returns (id, endpoint URL).
async fn deploy_to_flaky_sink(
    s: &TestApp,
    rx: &TestReceiver,
    path: &str,
    status: u16,
    count: u32,
) -> (String, String) {
    if count > 0 {
        rx.fail(path, status, count);
    }
    let body =
        json!({"id": "http-new-requests", "external_user_id": "u1", "webhook_url": rx.at(path)});
    let d = s.deploy(&s.bearer, &s.project.id, body).await;
    (d["id"].as_str().unwrap().to_string(), hook_url(&d))
}

/// A receiver that answers 410 turns the delivery into a dead letter; it is
/// listed with its attempts and redelivered, one or by time range.
#[tokio::test(flavor = "multi_thread")]
async fn failed_deliveries_are_listed_and_replayed() {
    let s = spawn_app().await;
    let rx = TestReceiver::start().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let base = format!("/v1/connect/{}", p.id);
    // Two triggers on the same flaky sink: a 410 also deactivates the
    // webhook it answers, so each event needs a webhook of its own.
    let (_, first_url) = deploy_to_flaky_sink(&s, &rx, "/anything/flaky", 410, 2).await;
    let (_, second_url) = deploy_to_flaky_sink(&s, &rx, "/anything/flaky", 410, 0).await;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for (n, url) in [&first_url, &second_url].into_iter().enumerate() {
        client()
            .post(url)
            .json(&json!({"n": n}))
            .send()
            .await
            .unwrap();
    }
    let failed = eventually(secs(5), "two dead letters", || async {
        let v = s
            .get(&format!("{base}/deliveries/failed"), &bearer, None)
            .await
            .1;
        if v["data"].as_array().is_some_and(|a| a.len() == 2) {
            Ok(v)
        } else {
            Err(v)
        }
    })
    .await;
    let list = failed["data"]
        .as_array()
        .expect("failed deliveries listed")
        .clone();
    assert_eq!(list.len(), 2, "{failed}");
    assert_eq!(list[0]["last_status"], 410);
    let first = list[0]["id"].as_str().unwrap().to_string();
    let (st, v, _) = s
        .get(
            &format!("{base}/deliveries/{first}/attempts"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"][0]["status"], 410);
    assert!(v["data"][0]["latency_ms"].is_number());
    // Redeliver one, then the rest by time range; both arrive.
    let (st, v, _) = s
        .post(
            &format!("{base}/deliveries/{first}/redeliver"),
            &bearer,
            json!({}),
        )
        .await;
    assert_eq!((st, &v["data"]["status"]), (200, &json!("pending")), "{v}");
    let (st, v, _) = s
        .post(
            &format!("{base}/deliveries/redeliver"),
            &bearer,
            json!({"since": started - 1000, "until": started + 600_000}),
        )
        .await;
    assert_eq!((st, &v["redelivered"]), (200, &json!(1)), "{v}");
    let got = rx.wait_for_path("/anything/flaky", 4, secs(10)).await;
    let ok: Vec<_> = got.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        ok.len(),
        2,
        "both events delivered after the replay: {got:?}"
    );
    let ids: std::collections::HashSet<_> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 2, "a replay keeps the webhook-id");
    let (_, v, _) = s
        .get(&format!("{base}/deliveries/failed"), &bearer, None)
        .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 0);
    // Bad input.
    let (st, v, _) = s
        .post(
            &format!("{base}/deliveries/redeliver"),
            &bearer,
            json!({"since": 5, "until": 1}),
        )
        .await;
    assert_client_error("range", st, &v, 400, "since");
    let (st, _, _) = s
        .post(
            &format!("{base}/deliveries/dlv_nope/redeliver"),
            &bearer,
            json!({}),
        )
        .await;
    assert_eq!(st, 404);
}

/// A 410 deactivates the webhook: later events are shed (and counted)
/// until `reset_delivery_state` turns it back on.
#[tokio::test(flavor = "multi_thread")]
async fn a_410_deactivates_the_webhook_until_reset() {
    let s = spawn_app().await;
    let rx = TestReceiver::start().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let base = format!("/v1/connect/{}", p.id);
    let (id, url) = deploy_to_flaky_sink(&s, &rx, "/anything/gone", 410, 1).await;
    let hooks = format!("{base}/deployed-triggers/{id}/webhooks?external_user_id=u1");
    client()
        .post(&url)
        .json(&json!({"n": 1}))
        .send()
        .await
        .unwrap();
    let state = eventually(secs(5), "the webhook to be deactivated", || async {
        let state = s.get(&hooks, &bearer, None).await.1["webhooks"][0].clone();
        if state["delivery_state"]["state"] == "deactivated" {
            Ok(state)
        } else {
            Err(state)
        }
    })
    .await;
    assert_eq!(state["delivery_state"]["state"], "deactivated", "{state}");
    assert_eq!(state["active"], false);
    client()
        .post(&url)
        .json(&json!({"n": 2}))
        .send()
        .await
        .unwrap();
    let state = s.get(&hooks, &bearer, None).await.1["webhooks"][0].clone();
    assert_eq!(state["delivery_state"]["sheds"], 1, "{state}");
    let wh = state["id"].as_str().unwrap();
    let (st, v, _) = s
        .post(&format!("{base}/deployed-triggers/{id}/webhooks/{wh}/reset_delivery_state?external_user_id=u1"), &bearer, json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["delivery_state"]["state"], "happy");
    client()
        .post(&url)
        .json(&json!({"n": 3}))
        .send()
        .await
        .unwrap();
    let got = rx.wait_for_path("/anything/gone", 2, secs(10)).await;
    let bodies: Vec<serde_json::Value> = got.iter().map(|r| r.json()).collect();
    assert_eq!(
        bodies[1]["event"]["body"]["n"], 3,
        "delivered again after the reset; n=2 was shed"
    );
}

/// One slow receiver does not delay another's deliveries.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_endpoint_does_not_delay_the_others() {
    let s = spawn_app().await;
    let rx = TestReceiver::start().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let base = format!("/v1/connect/{}", p.id);
    let (id, url) = deploy_to_flaky_sink(&s, &rx, "/anything/fast", 200, 0).await;
    rx.delay("/anything/slow", Duration::from_millis(4000), 10);
    let urls = json!({"webhook_urls": [rx.at("/anything/slow"), rx.at("/anything/fast")]});
    let (st, v, _) = s
        .call(
            Method::PUT,
            &format!("{base}/deployed-triggers/{id}/webhooks?external_user_id=u1"),
            &bearer,
            None,
            Some(urls),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let started = std::time::Instant::now();
    // The first event's slow delivery is in flight when the others arrive.
    for n in 0..3 {
        client()
            .post(&url)
            .json(&json!({"n": n}))
            .send()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    rx.wait_for_path("/anything/fast", 3, secs(10)).await;
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "the fast receiver waited for the slow one: {:?}",
        started.elapsed()
    );
}

/// A failed attempt is retried on the configured schedule, with the same
/// `webhook-id`, and the attempts log shows both.
#[tokio::test(flavor = "multi_thread")]
async fn failed_attempts_are_retried_on_the_configured_schedule() {
    let s = spawn_app_with(|c| c.delivery.retry_schedule_secs = vec![1, 1]).await;
    let rx = TestReceiver::start().await;
    let (_, url) = deploy_to_flaky_sink(&s, &rx, "/anything/retry", 500, 1).await;
    let started = std::time::Instant::now();
    client()
        .post(&url)
        .json(&json!({"n": 1}))
        .send()
        .await
        .unwrap();
    let got = rx.wait_for_path("/anything/retry", 2, secs(10)).await;
    assert_eq!(got[0].status, 500);
    assert_eq!(got[1].status, 200);
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "retried after about 1 s, not 5: {:?}",
        started.elapsed()
    );
}

/// FIFO mode: a deployment's events reach each webhook one at a time, in
/// the order accepted, even while the receiver fails the first attempts.
#[tokio::test(flavor = "multi_thread")]
async fn fifo_deliveries_arrive_in_order_through_retries() {
    let s = spawn_app_with(|c| c.delivery.retry_schedule_secs = vec![1, 1, 1, 1]).await;
    let rx = TestReceiver::start().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let base = format!("/v1/connect/{}", p.id);
    let path = "/anything/fifo";
    rx.fail(path, 500, 3);
    let (st, v, _) = s
        .post(
            &format!("{base}/triggers/deploy"),
            &bearer,
            json!({"id": "http-new-requests", "external_user_id": "u1", "fifo": true,
                   "webhook_url": rx.at(path)}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["fifo"], true);
    let url = hook_url(&v["data"]);
    let http = client();
    for n in 0..20 {
        let r = http.post(&url).json(&json!({"n": n})).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let got = rx.wait_for_path(path, 23, secs(15)).await;
    let order: Vec<(u64, u16)> = got
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
            (body["event"]["body"]["n"].as_u64().unwrap(), r.status)
        })
        .collect();
    // Every attempt, failed or not, is of the line's head: n never goes back,
    // and an event is attempted again until it is delivered.
    assert!(
        order.windows(2).all(|w| w[0].0 <= w[1].0),
        "out of order: {order:?}"
    );
    let delivered: Vec<u64> = order
        .iter()
        .filter(|(_, st)| *st == 200)
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(delivered, (0..20).collect::<Vec<_>>(), "{order:?}");
}

/// One inbound URL takes at most `hook_requests_per_minute`; beyond it a
/// 429 with Retry-After, and nothing is recorded.
#[tokio::test(flavor = "multi_thread")]
async fn an_inbound_url_is_rate_limited() {
    let s = spawn_app_with(|c| c.rate_limits.hook_requests_per_minute = 3).await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let base = format!("/v1/connect/{}", p.id);
    let (st, v, _) = s
        .post(
            &format!("{base}/triggers/deploy"),
            &bearer,
            json!({"id": "http-new-requests", "external_user_id": "u1"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let id = v["data"]["id"].as_str().unwrap().to_string();
    let url = v["data"]["configured_props"]["http"]["endpoint_url"]
        .as_str()
        .unwrap()
        .to_string();
    let http = client();
    for _ in 0..3 {
        assert_eq!(
            http.post(&url)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let r = http.post(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("rate limit"), "{v}");
    let (_, ev, _) = s
        .call(
            Method::GET,
            &format!("{base}/deployed-triggers/{id}/events?external_user_id=u1"),
            &bearer,
            None,
            None,
        )
        .await;
    assert_eq!(ev["data"].as_array().unwrap().len(), 3, "{ev}");
}
