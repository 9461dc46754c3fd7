//! Chaos on Redis: 2 API processes and 2 worker processes share one Redis;
//! 10,000 events arrive while the receiver answers 500 for its first minute,
//! and one worker is SIGKILLed mid-run. Every event must still be delivered;
//! duplicates (allowed: at-least-once) are counted and reported.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use crate::harness::{Backend, Instance, client, eventually, free_port};

const EVENTS: usize = 10_000;
const DEPLOYMENTS: usize = 10;
/// The receiver fails every request this long after it starts.
const FAILING_FOR: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Tally {
    /// 2xx receipts per event number, and per event its webhook-ids.
    delivered: HashMap<u64, u32>,
    msg_ids: HashMap<u64, String>,
    refused: u64,
}

struct Receiver {
    started: Instant,
    tally: Mutex<Tally>,
}

async fn receive(r: web::Data<Receiver>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    let n = v["event"]["body"]["n"].as_u64();
    let msg = req
        .headers()
        .get("webhook-id")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut t = r.tally.lock().unwrap();
    if r.started.elapsed() < FAILING_FOR {
        t.refused += 1;
        return HttpResponse::InternalServerError().finish();
    }
    if let Some(n) = n {
        *t.delivered.entry(n).or_default() += 1;
        let first = t.msg_ids.entry(n).or_insert_with(|| msg.clone());
        assert_eq!(*first, msg, "a redelivery keeps its webhook-id");
    }
    HttpResponse::Ok().finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_is_delivered_through_failures_and_a_killed_worker() {
    let _heavy = crate::harness::heavy().await;
    let recv = web::Data::new(Receiver {
        started: Instant::now(),
        tally: Mutex::new(Tally::default()),
    });
    let data = recv.clone();
    // Port 0: a port picked free beforehand may be taken meanwhile by
    // another process (other test runs share the machine).
    let sink = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(receive))
    })
    .workers(2)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let sink_port = sink.addrs()[0].port();
    let sink = sink.run();
    let sink_handle = sink.handle();
    tokio::spawn(sink);

    let inst = Instance::new(Backend::Redis)
        .with_env(
            "SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_NETWORKS",
            "[\"127.0.0.0/8\"]",
        )
        // Retries at about 1, 3, 8, 18, 38, 68, 98 and 128 s: the one after
        // the failing minute succeeds, and none runs out of attempts.
        .with_env(
            "SWITCHBOARD_DELIVERY__RETRY_SCHEDULE_SECS",
            "[1, 2, 5, 10, 20, 30, 30, 30, 30]",
        )
        .with_env("SWITCHBOARD_DELIVERY__TIMEOUT_SECS", "2")
        .with_env("SWITCHBOARD_DELIVERY__LEASE_SECS", "5")
        // Out of the way: 10,000 events per minute from one test client.
        .with_env("SWITCHBOARD_RATE_LIMITS__HOOK_REQUESTS_PER_MINUTE", "0");
    let p = inst.create_project("chaos");
    let api = [
        inst.start_role("serve", inst.port).await,
        inst.start_role("serve", free_port()).await,
    ];
    let mut workers = vec![
        Some(inst.start_role("work", 0).await),
        Some(inst.start_role("work", 0).await),
    ];
    let bearer = api[0].token(&p).await;
    let sink_url = format!("http://127.0.0.1:{sink_port}/sink");
    let mut hooks = Vec::new();
    for _ in 0..DEPLOYMENTS {
        let (st, v, _) = api[0]
            .post(
                &format!("/v1/connect/{}/triggers/deploy", p.id),
                &bearer,
                json!({"id": "http-new-requests", "external_user_id": "u1", "webhook_url": sink_url}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        let url = v["data"]["configured_props"]["http"]["endpoint_url"]
            .as_str()
            .unwrap()
            .to_string();
        hooks.push(url.split("/hooks/").nth(1).unwrap().to_string());
    }

    // 10,000 events, spread over both API processes, 32 at a time.
    let http = client();
    let bases: Vec<String> = api.iter().map(|s| s.base.clone()).collect();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut senders = Vec::new();
    for _ in 0..32 {
        let (http, bases, hooks, next) = (http.clone(), bases.clone(), hooks.clone(), next.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= EVENTS {
                    return;
                }
                let url = format!(
                    "{}/hooks/{}",
                    bases[n % bases.len()],
                    hooks[n % hooks.len()]
                );
                // A connection the server closed as it was reused (keep-alive
                // race) gets no answer: send again, as a provider would (a
                // duplicate is allowed and counted).
                let mut tries = 0;
                let r = loop {
                    match http.post(&url).json(&json!({"n": n})).send().await {
                        Ok(r) => break r,
                        Err(e) if tries < 3 && e.is_request() => tries += 1,
                        Err(e) => panic!("event {n}: {e}"),
                    }
                };
                assert!(r.status().is_success(), "event {n}: {}", r.status());
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    let accepted_in = recv.started.elapsed();

    // Once deliveries flow again, SIGKILL one worker in the middle of them.
    let mut killed_at = None;
    eventually(
        Duration::from_secs(300),
        &format!("all {EVENTS} events delivered"),
        || {
            let done = recv.tally.lock().unwrap().delivered.len();
            if killed_at.is_none() && done >= EVENTS / 5 {
                workers[0].take().unwrap().kill();
                killed_at = Some(done);
            }
            let seen = format!("{done} delivered, the worker killed after {killed_at:?}");
            async move { if done == EVENTS { Ok(()) } else { Err(seen) } }
        },
    )
    .await;
    {
        let t = recv.tally.lock().unwrap();
        let missing: Vec<u64> = (0..EVENTS as u64)
            .filter(|n| !t.delivered.contains_key(n))
            .collect();
        let receipts: u64 = t.delivered.values().map(|&c| c as u64).sum();
        let duplicates = receipts - t.delivered.len() as u64;
        eprintln!(
            "chaos: {EVENTS} events accepted in {accepted_in:?}; {} refused attempts in the failing minute; \
         worker killed after {killed_at:?} deliveries; {} delivered after {:?}; {duplicates} duplicates",
            t.refused,
            t.delivered.len(),
            recv.started.elapsed()
        );
        assert!(
            killed_at.is_some(),
            "deliveries never resumed after the failing minute"
        );
        assert!(
            missing.is_empty(),
            "{} events never delivered, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
        assert!(t.refused > 0, "the receiver's failing minute was exercised");
    }
    drop(workers);
    drop(api);
    sink_handle.stop(false).await;
}
