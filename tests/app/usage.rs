//! `usage`: counters per hour of action runs, proxy calls, emitted events,
//! deliveries and connected accounts, per project and environment; and
//! each class of bad query.

use serde_json::{Value, json};
use switchboard_config::AppEndpoints;

use super::helpers::{
    TestReceiver, assert_client_error, eventually, hook_url, secs, spawn_app_with,
};

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Sums every window of the last hour and a bit.
fn totals(v: &Value) -> Value {
    let mut sum = json!({});
    for w in v["data"].as_array().unwrap() {
        for (k, n) in w.as_object().unwrap() {
            if !k.starts_with("usage_") {
                sum[k] = json!(sum[k].as_u64().unwrap_or(0) + n.as_u64().unwrap());
            }
        }
    }
    sum
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_counts_each_metered_thing_once_per_tenant() {
    let github = TestReceiver::start().await;
    let s = spawn_app_with(|c| {
        c.apps.insert(
            "github".into(),
            AppEndpoints {
                base_url: Some(github.url.clone()),
                ..Default::default()
            },
        );
    })
    .await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let base = format!("/v1/connect/{}", p.id);
    let acct = s
        .import_account(
            &bearer,
            &p.id,
            "u1",
            "github",
            json!({"oauth_access_token": "gho_x"}),
        )
        .await;
    // One proxy call, two action runs (one fails at the provider: still a run).
    use base64::Engine;
    let enc = base64::engine::general_purpose::URL_SAFE.encode("/user");
    let (st, v, _) = s
        .get(
            &format!("{base}/proxy/{enc}?external_user_id=u1&account_id={acct}"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    github.fail("/fail", 500, 10);
    for url in [github.at("/ok"), github.at("/fail")] {
        let (st, v, _) = s
            .post(
                &format!("{base}/actions/run"),
                &bearer,
                json!({"id": "http-custom-request", "external_user_id": "u1", "configured_props": {"url": url}}),
            )
            .await;
        assert!(st == 200 || st == 422, "{st} {v}");
    }
    // Two emitted events, each delivered once.
    let rx = TestReceiver::start().await;
    let d = s
        .deploy(
            &bearer,
            &p.id,
            json!({"id": "http-new-requests", "external_user_id": "u1", "webhook_url": rx.at("/sink")}),
        )
        .await;
    for i in 0..2 {
        assert_eq!(s.send_hook(&hook_url(&d), json!({"n": i})).await, 200);
    }
    rx.wait_for_path("/sink", 2, secs(10)).await;
    // Refused input is not metered: a run with a bad prop runs nothing.
    let (st, _, _) = s
        .post(
            &format!("{base}/actions/run"),
            &bearer,
            json!({"id": "http-custom-request", "external_user_id": "u1", "configured_props": {}}),
        )
        .await;
    assert_eq!(st, 400);

    let (start, end) = (now_s() - 3600, now_s() + 60);
    let q = format!("/v1/connect/usage?start_ts={start}&end_ts={end}");
    let want = json!({
        "credits_used": 5, "action_run_credits_used": 2, "proxy_credits_used": 1,
        "source_emit_credits_used": 2, "deliveries": 2, "accounts_connected": 1,
    });
    // The delivery is counted when its commit lands, just after the 2xx.
    eventually(secs(10), "usage totals", || async {
        let (st, v, _) = s.get(&q, &bearer, None).await;
        assert_eq!(st, 200, "{v}");
        if totals(&v) == want { Ok(v) } else { Err(v) }
    })
    .await;
    // The project-scoped path answers the same; windows are whole hours.
    let (st, v, _) = s
        .get(
            &format!("{base}/usage?start_ts={start}&end_ts={end}"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(totals(&v), want);
    for w in v["data"].as_array().unwrap() {
        let (a, b) = (
            w["usage_start_ts"].as_u64().unwrap(),
            w["usage_end_ts"].as_u64().unwrap(),
        );
        assert_eq!((a % 3600, b - a), (0, 3600), "{w}");
    }
    // Another environment and another project counted nothing.
    let (st, v, _) = s.get(&q, &bearer, Some("development")).await;
    assert_eq!((st, v), (200, json!({"data": []})));
    let other = s.create_project("other").await;
    let other_bearer = s.token(&other).await;
    let (st, v, _) = s.get(&q, &other_bearer, None).await;
    assert_eq!((st, v), (200, json!({"data": []})));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_refuses_each_bad_query() {
    let s = spawn_app_with(|_| {}).await;
    let bearer = s.bearer.clone();
    let now = now_s();
    let cases = [
        ("no parameters", "".to_string(), "start_ts"),
        ("end_ts missing", format!("start_ts={now}"), "end_ts"),
        (
            "not a number",
            "start_ts=yesterday&end_ts=1".to_string(),
            "invalid query",
        ),
        (
            "negative",
            "start_ts=-5&end_ts=1".to_string(),
            "invalid query",
        ),
        (
            "end before start",
            format!("start_ts={now}&end_ts={}", now - 10),
            "after",
        ),
        (
            "empty range",
            format!("start_ts={now}&end_ts={now}"),
            "after",
        ),
        (
            "over 31 days",
            format!("start_ts={}&end_ts={now}", now - 40 * 86400),
            "31 days",
        ),
        (
            "the last hour of u64",
            "start_ts=18446744073709551000&end_ts=18446744073709551615".to_string(),
            "at most",
        ),
        (
            "beyond u64",
            "start_ts=1&end_ts=99999999999999999999999".to_string(),
            "invalid query",
        ),
    ];
    for (what, q, needle) in cases {
        let (st, v, _) = s
            .get(&format!("/v1/connect/usage?{q}"), &bearer, None)
            .await;
        assert_client_error(what, st, &v, 400, needle);
    }
    // A connect token is an end user's: usage is the developer's.
    let ct = s.connect_token(&bearer, &s.project.id, None, "u1").await;
    let (st, v, _) = s
        .get("/v1/connect/usage?start_ts=1&end_ts=3600", &ct, None)
        .await;
    assert_client_error("connect token", st, &v, 403, "server credentials");
    s.stop().await;
}
