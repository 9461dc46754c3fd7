//! A hostile end user with only a connect token, trying expressions that
//! used to crash or pin the process (issue 12, finding 1): a JSONPath of
//! 30,000 nested parentheses (a stack overflow in the old parser), a short
//! descendant-filter bomb over a 121-byte document (exponential work), and
//! huge or deep values in every other expression prop (cron, time zone).
//! Each is refused at deploy with a 400 naming the prop, or fails its poll
//! with a budget error; the server keeps answering and stops on SIGTERM.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::endpoints::Endpoint;
use crate::harness::{Backend, Instance, Server, eventually};

/// The 121-byte document: sixty nested arrays around a 1.
pub fn nested_doc() -> String {
    format!("{}1{}", "[".repeat(60), "]".repeat(60))
}

async fn deploy(s: &Server, ctok: &str, p: &str, key: &str, props: Value) -> (u16, Value) {
    let body = json!({"id": key, "external_user_id": "u1", "configured_props": props,
                      "emit_on_deploy": false});
    let (st, v, _) = s
        .post(&format!("/v1/connect/{p}/triggers/deploy"), ctok, body)
        .await;
    (st, v)
}

/// `/healthz` answers within `within`.
async fn healthy(s: &Server, within: Duration) {
    let t = Instant::now();
    let r = s
        .http
        .get(format!("{}/healthz", s.base))
        .timeout(within)
        .send()
        .await
        .unwrap_or_else(|e| panic!("/healthz did not answer within {within:?}: {e}"));
    assert_eq!(r.status(), 200);
    assert!(t.elapsed() <= within, "{:?}", t.elapsed());
}

fn assert_refused(what: &str, st: u16, v: &Value, prop: &str, needle: &str) {
    assert_eq!(st, 400, "{what}: {v}");
    let e = v["error"].as_str().unwrap_or_else(|| panic!("{what}: {v}"));
    assert!(e.contains(prop), "{what}: the error names {prop}: {e}");
    assert!(e.contains(needle), "{what}: {needle:?} in {e}");
    assert!(e.len() < 2000, "{what}: the error does not echo the input");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_expressions_are_refused_or_bounded() {
    let _heavy = crate::harness::heavy().await;
    let doc = Endpoint::serving_json(nested_doc()).await;
    let upstream = format!("{}/items", doc.url);
    let inst = Instance::new(Backend::Embedded)
        .with_env("SWITCHBOARD_TRIGGERS__MIN_INTERVAL_SECS", "1")
        .with_env(
            "SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_NETWORKS",
            "[\"127.0.0.0/8\"]",
        );
    let p = inst.create_project("hostile");
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    // The customer let this end user manage her own triggers.
    let ctok = s
        .scoped_connect_token(
            &bearer,
            &p.id,
            "u1",
            "connect:deployed_triggers:read connect:deployed_triggers:write",
        )
        .await;

    // (a) 30,000 nested parentheses: refused, and the server is alive.
    let deep = format!("$[?{}@.a{}]", "(".repeat(30_000), ")".repeat(30_000));
    for prop in ["itemsPath", "idPath", "timestampPath"] {
        let (st, v) = deploy(
            &s,
            &ctok,
            &p.id,
            "http-new-items-in-json",
            json!({"url": upstream, prop: deep, "timer": {"intervalSeconds": 60}}),
        )
        .await;
        assert_refused(prop, st, &v, prop, "too long");
    }
    // Within the length limit, the depth limit refuses it.
    let deep = format!("$[?{}@.a{}]", "(".repeat(100), ")".repeat(100));
    let (st, v) = deploy(
        &s,
        &ctok,
        &p.id,
        "http-new-items-in-json",
        json!({"url": upstream, "itemsPath": deep}),
    )
    .await;
    assert_refused("deep itemsPath", st, &v, "itemsPath", "nests too deeply");
    let (st, v) = deploy(
        &s,
        &ctok,
        &p.id,
        "http-new-items-in-json",
        json!({"url": upstream, "idPath": "$[?match(@.a, 'x')]"}),
    )
    .await;
    assert_refused("match()", st, &v, "idPath", "not supported");
    healthy(&s, Duration::from_secs(2)).await;

    // (c) Cron and time zone: huge or nonsense values are a 400 too.
    for (what, timer, needle) in [
        (
            "huge cron",
            json!({"cron": "1,".repeat(50_000) + "1 * * * *"}),
            "too long",
        ),
        (
            "deep cron",
            json!({"cron": format!("{}0{} * * * *", "(".repeat(30_000), ")".repeat(30_000))}),
            "too long",
        ),
        (
            "huge time zone",
            json!({"cron": "0 9 * * *", "timezone": "Europe/".repeat(20_000)}),
            "too long",
        ),
        ("bad cron", json!({"cron": "0 9 * * * * *"}), "5 fields"),
    ] {
        let (st, v) = deploy(
            &s,
            &ctok,
            &p.id,
            "schedule-custom-interval",
            json!({"timer": timer}),
        )
        .await;
        assert_refused(what, st, &v, "timer", needle);
    }
    // The polling trigger's timer is the same prop type.
    let (st, v) = deploy(
        &s,
        &ctok,
        &p.id,
        "http-new-items-in-json",
        json!({"url": upstream, "timer": {"cron": "5 ".repeat(40_000)}}),
    )
    .await;
    assert_refused("poller's cron", st, &v, "timer", "too long");
    healthy(&s, Duration::from_secs(2)).await;

    // (b) The descendant-filter bomb is short and shallow: it deploys, and
    // its poll fails with a budget error instead of pinning the cores.
    let bomb = "$..[?(@..[?(@..[?(@..[?(@..[?(@..*)])])])])]";
    assert!(bomb.len() <= 64);
    let (st, v) = deploy(
        &s,
        &ctok,
        &p.id,
        "http-new-items-in-json",
        json!({"url": upstream, "itemsPath": bomb, "timer": {"intervalSeconds": 1}}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let id = v["data"]["id"].as_str().unwrap().to_string();
    let last = eventually(
        Duration::from_secs(30),
        "the bomb's poll to fail",
        || async {
            healthy(&s, Duration::from_secs(1)).await;
            let (st, v, _) = s
                .get(
                    &format!(
                        "/v1/connect/{}/deployed-triggers/{id}?external_user_id=u1",
                        p.id
                    ),
                    &ctok,
                    None,
                )
                .await;
            assert_eq!(st, 200, "{v}");
            let d = v["data"].clone();
            if d["poll"]["last_status"] == "error" {
                Ok(d)
            } else {
                Err(d)
            }
        },
    )
    .await;
    let err = last["poll"]["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("itemsPath") && err.contains("work budget"),
        "the poll fails with a budget error: {last}"
    );
    // It keeps failing without looping hot: the server answers promptly
    // through several failed polls, and backs off.
    for _ in 0..10 {
        healthy(&s, Duration::from_secs(1)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (_, v, _) = s
        .get(
            &format!(
                "/v1/connect/{}/deployed-triggers/{id}?external_user_id=u1",
                p.id
            ),
            &ctok,
            None,
        )
        .await;
    assert!(
        v["data"]["poll"]["consecutive_failures"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "{v}"
    );
    // SIGTERM still stops it (asserted inside `stop`).
    s.stop().await;
}
