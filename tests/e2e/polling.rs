//! Polling sources: the first poll seeds and emits nothing (or a bounded
//! sample), new items are emitted once and delivered, pause/update/resume
//! lose nothing, 429 with Retry-After is waited out; on Redis, three worker
//! processes poll every tick of 1,000 deployments exactly once, also when
//! one is killed, and a worker killed between fetch and commit leads to a
//! re-poll, never a duplicate.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{
    Backend, Doubles, Instance, Project, Server, eventually, free_port, received,
};

/// A test instance polling the doubles, with short intervals allowed.
fn instance(doubles: &Doubles, backend: Backend) -> Instance {
    doubles
        .configure(Instance::new(backend), true)
        .with_env("SWITCHBOARD_TRIGGERS__MIN_INTERVAL_SECS", "1")
        .with_env("SWITCHBOARD_DELIVERY__RETRY_SCHEDULE_SECS", "[1, 1, 1]")
}

async fn add_items(doubles: &Doubles, list: &str, n: usize) {
    doubles
        .post("http", &format!("items/{list}"), json!({"count": n}))
        .await;
}

async fn deploy(
    s: &Server,
    bearer: &str,
    p: &str,
    key: &str,
    props: Value,
    extra: Value,
) -> (String, Value) {
    let mut body = json!({"id": key, "external_user_id": "u1", "configured_props": props});
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    let (st, v, _) = s
        .post(&format!("/v1/connect/{p}/triggers/deploy"), bearer, body)
        .await;
    assert_eq!(st, 200, "{v}");
    (
        v["data"]["id"].as_str().unwrap().to_string(),
        v["data"].clone(),
    )
}

/// Waits (up to `secs`) until `done` holds of the deployed trigger.
async fn trigger_until(
    s: &Server,
    bearer: &str,
    p: &str,
    id: &str,
    secs: u64,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    eventually(Duration::from_secs(secs), what, || async {
        let t = s.deployed_trigger(bearer, p, id).await;
        if done(&t) { Ok(t) } else { Err(t) }
    })
    .await
}

/// Waits (up to 25 s) until the deployed trigger has `n` events.
async fn events_until(s: &Server, bearer: &str, p: &str, id: &str, n: usize) -> Vec<Value> {
    eventually(Duration::from_secs(25), &format!("{n} events"), || async {
        let got = s.trigger_events(bearer, p, id).await;
        if got.len() >= n { Ok(got) } else { Err(got) }
    })
    .await
}

fn event_ids(evs: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = evs.iter().map(|e| e["e"]["id"].to_string()).collect();
    ids.sort();
    ids
}

async fn basics(backend: Backend) {
    let doubles = Doubles::start();
    let inst = instance(&doubles, backend);
    let p = inst.create_project("polling");
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    let http = doubles.url("http");
    let sink = format!("{http}/anything/polled");
    add_items(&doubles, "feed1", 3).await;
    let props = json!({"url": format!("{http}/items/feed1"), "timer": {"intervalSeconds": 1}});
    let (id, d) = deploy(
        &s,
        &bearer,
        &p.id,
        "http-new-items-in-json",
        props.clone(),
        json!({"webhook_url": sink, "emit_on_deploy": false}),
    )
    .await;
    assert!(d["next_run_at"].is_number(), "{d}");

    // The first poll seeds: three items upstream, no events.
    trigger_until(&s, &bearer, &p.id, &id, 10, "the first poll", |t| {
        t["poll"]["last_status"] == "ok"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        s.trigger_events(&bearer, &p.id, &id).await.is_empty(),
        "no backlog"
    );

    // New items: each emitted once, oldest first, and delivered.
    add_items(&doubles, "feed1", 2).await;
    events_until(&s, &bearer, &p.id, &id, 2).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        s.trigger_events(&bearer, &p.id, &id).await.len(),
        2,
        "each once"
    );
    received(&doubles, "/anything/polled", 2).await;
    let t = s.deployed_trigger(&bearer, &p.id, &id).await;
    assert!(t["poll"]["last_emit_at"].is_number(), "{t}");
    assert_eq!(t["poll"]["consecutive_failures"], 0, "{t}");
    assert!(t["next_run_at"].is_number(), "{t}");

    // Paused: items arriving meanwhile are polled after the resume, and a
    // timer change through an update keeps the cursor (nothing re-emitted).
    let base = format!(
        "/v1/connect/{}/deployed-triggers/{id}?external_user_id=u1",
        p.id
    );
    let (st, v, _) = s
        .call(
            Method::PUT,
            &base,
            &bearer,
            None,
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    add_items(&doubles, "feed1", 3).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        s.trigger_events(&bearer, &p.id, &id).await.len(),
        2,
        "paused: no polls"
    );
    let mut changed = props.clone();
    changed["timer"] = json!({"intervalSeconds": 2});
    let (st, v, _) = s
        .call(
            Method::PUT,
            &base,
            &bearer,
            None,
            Some(json!({"configured_props": changed, "active": true})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let evs = events_until(&s, &bearer, &p.id, &id, 5).await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let evs2 = s.trigger_events(&bearer, &p.id, &id).await;
    assert_eq!(
        evs2.len(),
        5,
        "the 3 items of the pause, once each: {evs:?}"
    );
    let ids = event_ids(&evs2);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        5,
        "no duplicates: {ids:?}"
    );

    // 429 with Retry-After: the next poll waits it out, then catches up.
    doubles
        .post(
            "http",
            "fail",
            json!({"status": 429, "count": 1, "retry_after": 4, "path_prefix": "/items/feed1"}),
        )
        .await;
    let t = trigger_until(&s, &bearer, &p.id, &id, 10, "a rate-limited poll", |t| {
        t["poll"]["last_status"] == "rate_limited"
    })
    .await;
    let limited_at = t["poll"]["last_poll_at"].as_u64().unwrap();
    assert!(
        t["next_run_at"].as_u64().unwrap() >= limited_at + 4,
        "the next poll waits for Retry-After: {t}"
    );
    add_items(&doubles, "feed1", 1).await;
    events_until(&s, &bearer, &p.id, &id, 6).await;
    let polls: Vec<u64> = doubles
        .requests("http")
        .await
        .into_iter()
        .filter(|r| r["path"] == "/items/feed1")
        .map(|r| r["ts"].as_u64().unwrap() / 1000)
        .collect();
    assert!(
        !polls
            .iter()
            .any(|&ts| ts > limited_at && ts < limited_at + 4),
        "no poll inside the Retry-After window: {polls:?} after {limited_at}"
    );

    // emit_on_deploy: a first poll emits a bounded sample of the newest.
    add_items(&doubles, "big", 25).await;
    let (id2, _) = deploy(
        &s,
        &bearer,
        &p.id,
        "http-new-items-in-json",
        json!({"url": format!("{http}/items/big"), "timer": {"intervalSeconds": 60}}),
        json!({"emit_on_deploy": true}),
    )
    .await;
    events_until(&s, &bearer, &p.id, &id2, 10).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        s.trigger_events(&bearer, &p.id, &id2).await.len(),
        10,
        "a sample of 10, not the backlog of 25"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn polling_basics_on_the_embedded_store() {
    basics(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn polling_basics_on_redis() {
    basics(Backend::Redis).await;
}

/// A private polling component whose request names its deployment and the
/// tick it serves, so the double's log shows exactly which ticks ran.
fn tick_probe(http: &str) -> Value {
    json!({
        "manifest_version": 1, "kind": "trigger", "key": "http-tick-probe", "name": "Tick probe",
        "version": "0.1.0", "app": "http",
        "props": [{"name": "n", "type": "string"}, {"name": "timer", "type": "$.interface.timer"}],
        "source": {
            "type": "polling", "default_interval_secs": 60,
            "request": {"method": "GET", "url": format!("{http}/items/probe"), "query": {"d": "{{ props.n }}", "tick": "{{ tick.ms }}"}},
            "items": "$.items[*]", "id": "$.id", "dedupe": "unique", "summary": "item"
        }
    })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Ticks the double saw, by deployment: (tick, when the request came).
async fn ticks_seen(doubles: &Doubles) -> BTreeMap<String, Vec<(u64, u64)>> {
    let mut out: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for r in doubles.requests("http").await {
        if r["path"] != "/items/probe" {
            continue;
        }
        let d = r["query"]["d"].as_str().unwrap_or_default().to_string();
        let tick = r["query"]["tick"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        out.entry(d)
            .or_default()
            .push((tick, r["ts"].as_u64().unwrap_or(0)));
    }
    out
}

/// 3 worker processes, 1,000 deployments, several ticks; one worker is
/// SIGKILLed mid-run. Every tick of every deployment is polled exactly
/// once: never twice, and none skipped between the first and the last.
#[tokio::test(flavor = "multi_thread")]
async fn every_tick_of_1000_deployments_is_polled_exactly_once_by_3_workers() {
    let _heavy = crate::harness::heavy().await;
    const N: usize = 1000;
    const INTERVAL: u64 = 6;
    let doubles = Doubles::start();
    let inst = instance(&doubles, Backend::Redis)
        .with_env("SWITCHBOARD_DELIVERY__LEASE_SECS", "2")
        .with_env("SWITCHBOARD_DELIVERY__TIMEOUT_SECS", "1")
        .with_env("SWITCHBOARD_RATE_LIMITS__HOOK_REQUESTS_PER_MINUTE", "0")
        // One user holds all 1,000 deployments.
        .with_env("SWITCHBOARD_QUOTAS__DEPLOYMENTS_PER_USER", "0");
    let p: Project = inst.create_project("scale");
    let api = inst.start_role("serve", inst.port).await;
    let mut workers: Vec<Option<Server>> = Vec::new();
    for _ in 0..3 {
        workers.push(Some(inst.start_role("work", free_port()).await));
    }
    let bearer = api.token(&p).await;
    let http = doubles.url("http");
    // Each poll takes 200 ms, so every worker always has polls in flight
    // (and the one killed leaves leases behind).
    doubles
        .post("http", "config", json!({"delay_ms": 200}))
        .await;
    let (st, v, _) = api
        .post(
            &format!("/v1/connect/{}/components", p.id),
            &bearer,
            tick_probe(&http),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let mut ids = Vec::new();
    for i in 0..N {
        let (id, _) = deploy(
            &api,
            &bearer,
            &p.id,
            "http-tick-probe",
            json!({"n": i.to_string(), "timer": {"intervalSeconds": INTERVAL}}),
            json!({"emit_on_deploy": false}),
        )
        .await;
        ids.push(id);
    }
    // Several ticks; one worker dies in the middle.
    tokio::time::sleep(Duration::from_secs(INTERVAL * 2)).await;
    let killed_at = now_ms();
    workers[0].take().unwrap().kill();
    tokio::time::sleep(Duration::from_secs(INTERVAL * 3)).await;
    // Stop the workers (SIGTERM lets polls in flight finish), then read the log.
    for w in workers.iter_mut().filter_map(Option::take) {
        w.stop().await;
    }
    let seen = ticks_seen(&doubles).await;
    assert_eq!(seen.len(), N, "every deployment polled");
    let logs: String = std::fs::read_dir(inst.data_dir())
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    let failures: Vec<&str> = logs.lines().filter(|l| l.contains("poll failed")).collect();
    assert!(failures.is_empty(), "polls failed: {failures:?}");
    let step = INTERVAL * 1000;
    let (mut polls, mut taken_over) = (0, 0);
    for (d, ticks) in &seen {
        // The seed poll runs at deploy time; then (after a random offset)
        // a tick every INTERVAL.
        let mut regular: Vec<(u64, u64)> = ticks.iter().skip(1).copied().collect();
        regular.sort();
        let mut distinct: Vec<u64> = Vec::new();
        for w in regular.chunk_by(|a, b| a.0 == b.0) {
            // A tick fetched twice is one the killed worker had in flight
            // (fetched, never committed), polled again once its lease (2 s)
            // ran out.
            if w.len() > 1 {
                assert_eq!(
                    w.len(),
                    2,
                    "deployment {d} polled tick {} {} times",
                    w[0].0,
                    w.len()
                );
                let (first, again) = (w[0].1.min(w[1].1), w[0].1.max(w[1].1));
                assert!(
                    first.abs_diff(killed_at) < 1000 && again >= first + 1900,
                    "deployment {d} polled tick {} twice, not across the kill: {w:?} (killed at {killed_at})",
                    w[0].0
                );
                taken_over += 1;
            }
            distinct.push(w[0].0);
        }
        for w in distinct.windows(2) {
            assert_eq!(
                w[1] - w[0],
                step,
                "deployment {d} skipped a tick: {ticks:?}"
            );
        }
        assert!(distinct.len() >= 3, "deployment {d} ran only {ticks:?}");
        polls += distinct.len() + 1;
    }
    assert!(
        taken_over > 0,
        "the killed worker's polls in flight were taken over"
    );
    // Each tick was committed exactly once: the deployments' own counts of
    // committed polls match the distinct ticks the provider saw.
    for (i, id) in ids.iter().enumerate() {
        let t = api.deployed_trigger(&bearer, &p.id, id).await;
        let seen_ticks = {
            let mut v: Vec<u64> = seen[&i.to_string()].iter().map(|x| x.0).collect();
            v.sort();
            v.dedup();
            v.len() as u64
        };
        assert_eq!(t["poll"]["polls"], seen_ticks, "deployment {i}: {t}");
    }
    eprintln!("{polls} polls of {N} deployments, none doubled or skipped");
    assert!(
        logs.contains("took over timer and poll ticks"),
        "the killed worker's leases moved to the others"
    );
}

async fn crash_polls(doubles: &Doubles) -> usize {
    doubles
        .requests("http")
        .await
        .iter()
        .filter(|r| r["path"] == "/items/crash")
        .count()
}

/// A worker that crashes after fetching and before committing (a
/// failpoint aborts it there): the tick is polled again by another worker
/// after the lease, and the items are emitted exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_between_fetch_and_commit_repolls_without_duplicates() {
    let doubles = Doubles::start();
    let inst = instance(&doubles, Backend::Redis)
        .with_env("SWITCHBOARD_DELIVERY__LEASE_SECS", "2")
        .with_env("SWITCHBOARD_DELIVERY__TIMEOUT_SECS", "1");
    let p = inst.create_project("crash");
    let api = inst.start_role("serve", inst.port).await;
    let bearer = api.token(&p).await;
    let http = doubles.url("http");
    add_items(&doubles, "crash", 2).await;
    // The seed poll, by a healthy worker.
    let first = inst.start_role("work", free_port()).await;
    let (id, _) = deploy(
        &api,
        &bearer,
        &p.id,
        "http-new-items-in-json",
        json!({"url": format!("{http}/items/crash"), "timer": {"intervalSeconds": 2}}),
        json!({"emit_on_deploy": false}),
    )
    .await;
    trigger_until(&api, &bearer, &p.id, &id, 10, "the seed poll", |t| {
        t["poll"]["last_status"] == "ok"
    })
    .await;
    first.stop().await;
    // The next poll fetches three new items, then its worker crashes.
    add_items(&doubles, "crash", 3).await;
    let before = crash_polls(&doubles).await;
    let mut doomed = inst
        .start_role_with(
            "work",
            free_port(),
            &[("SWITCHBOARD_FAILPOINT", "poll_before_commit")],
        )
        .await;
    eventually(
        Duration::from_secs(10),
        "the worker to reach the failpoint (and exit)",
        || {
            let exited = doomed.exited();
            async move { exited.then_some(()) }
        },
    )
    .await;
    assert_eq!(crash_polls(&doubles).await, before + 1, "it fetched");
    assert!(
        api.trigger_events(&bearer, &p.id, &id).await.is_empty(),
        "nothing committed"
    );
    // Another worker takes the tick over after the lease and polls again.
    let _second = inst.start_role("work", free_port()).await;
    events_until(&api, &bearer, &p.id, &id, 3).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let evs = api.trigger_events(&bearer, &p.id, &id).await;
    assert_eq!(evs.len(), 3, "the 3 new items, once each: {evs:?}");
    assert_eq!(event_ids(&evs).iter().collect::<HashSet<_>>().len(), 3);
    assert!(
        crash_polls(&doubles).await > before + 1,
        "the tick was polled again"
    );
}
