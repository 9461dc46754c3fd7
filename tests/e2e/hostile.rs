//! The hostile end user (issue 12): with only a connect token, tenant A's
//! end user floods her own inbound URL towards a tarpit and a slow-loris
//! webhook endpoint, and deploys polls against the tarpit. Tenant B's
//! deliveries and timer runs must keep their latency, nothing may be sent
//! twice at once, nothing may crash, and once the tarpit answers, every one
//! of her events is delivered: nothing is lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::endpoints::{Behaviour, Endpoint, percentile};
use crate::harness::{BACKENDS, Backend, Instance, Server, client, eventually, hook_url};

/// Events the attacker sends to her own URL, in about 2 s.
const FLOOD: usize = 1500;
/// Polling deployments the attacker points at the tarpit.
const TARPIT_POLLS: usize = 40;
/// Below this, a p99 is noise on a shared 2-core machine: the bound is
/// twice the baseline, with the baseline taken as at least this.
const LATENCY_FLOOR: Duration = Duration::from_millis(100);

/// Tenant B, minding its own business while someone else attacks: an
/// instant trigger and a 1 s timer delivering to a healthy receiver. It
/// measures its events' latency from send to receipt.
pub struct Bystander {
    pub sink: Endpoint,
    hook: String,
    baseline: Duration,
    rounds: std::sync::atomic::AtomicUsize,
}

impl Bystander {
    /// Deploys B's triggers and measures the baseline p99 (20 events).
    pub async fn start(s: &Server, bearer: &str, project: &str) -> Bystander {
        let sink = Endpoint::start(Behaviour::Answer).await;
        let hook = hook_url(
            &s.deploy(
                bearer,
                project,
                json!({"id": "http-new-requests", "external_user_id": "bob",
                       "webhook_url": format!("{}/b/events", sink.url)}),
            )
            .await,
        );
        s.deploy(
            bearer,
            project,
            json!({"id": "schedule-custom-interval", "external_user_id": "bob",
                   "configured_props": {"timer": {"intervalSeconds": 1}},
                   "webhook_url": format!("{}/b/timer", sink.url)}),
        )
        .await;
        let mut b = Bystander {
            sink,
            hook,
            baseline: Duration::ZERO,
            rounds: Default::default(),
        };
        b.baseline = b.p99(20, Duration::from_millis(50)).await;
        b
    }

    /// The bound B's p99 must stay within: twice the baseline, the baseline
    /// taken as at least [`LATENCY_FLOOR`].
    pub fn bound(&self) -> Duration {
        2 * self.baseline.max(LATENCY_FLOOR)
    }

    /// Sends `n` events `gap` apart; all must arrive, each once; their p99.
    pub async fn p99(&self, n: usize, gap: Duration) -> Duration {
        let round = self
            .rounds
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag = format!("r{round}");
        let http = client();
        let mut sent = Vec::new();
        for i in 0..n {
            sent.push(Instant::now());
            let r = http
                .post(&self.hook)
                .json(&json!({"tag": tag, "n": i}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "B's event {i}: {}", r.status());
            tokio::time::sleep(gap).await;
        }
        let got = eventually(
            Duration::from_secs(60),
            &format!("all {n} of B's events of round {tag}"),
            || async {
                let got: Vec<_> = self
                    .sink
                    .seen
                    .with_prefix("/b/events")
                    .into_iter()
                    .filter(|r| r.body["event"]["body"]["tag"] == tag.as_str())
                    .collect();
                if got.len() >= n {
                    Ok(got)
                } else {
                    Err(got.len())
                }
            },
        )
        .await;
        assert_eq!(got.len(), n, "every event of B arrives, once");
        let lat: Vec<_> = got
            .iter()
            .map(|r| r.at - sent[r.body["event"]["body"]["n"].as_u64().unwrap() as usize])
            .collect();
        percentile(&lat, 99.0)
    }

    /// B is unharmed: its latency within bounds, nothing delivered twice,
    /// its timer still running, and the server still answering.
    pub async fn assert_unharmed(&self, s: &Server, what: &str) {
        let timer_before = self.sink.seen.count("/b/timer");
        let window = Instant::now();
        let p99 = self.p99(20, Duration::from_millis(100)).await;
        let window = window.elapsed();
        let ticks = self.sink.seen.count("/b/timer") - timer_before;
        eprintln!(
            "{what}: B p99 {p99:?} (baseline {:?}, bound {:?}); timer ran {ticks} times in {window:?}",
            self.baseline,
            self.bound()
        );
        assert!(
            p99 <= self.bound(),
            "{what}: B's p99 rose from {:?} to {p99:?}",
            self.baseline
        );
        let expected = window.as_secs().saturating_sub(2) as usize;
        assert!(
            ticks >= expected,
            "{what}: B's timer ran {ticks} times in {window:?} (starved)"
        );
        let events = self.sink.seen.with_prefix("/b/events");
        let ids: std::collections::HashSet<_> = events.iter().map(|r| &r.webhook_id).collect();
        assert_eq!(ids.len(), events.len(), "{what}: B got an event twice");
        let health = client().get(format!("{}/healthz", s.base)).send().await;
        assert!(
            health.is_ok_and(|r| r.status() == 200),
            "{what}: the server no longer answers"
        );
    }
}

async fn one_tenant_cannot_starve_another(backend: Backend) {
    let _heavy = crate::harness::heavy().await;
    let tarpit = Endpoint::start(Behaviour::Tarpit).await;
    let loris = Endpoint::start(Behaviour::SlowLoris).await;
    let inst = Instance::new(backend)
        .with_env(
            "SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_NETWORKS",
            "[\"127.0.0.0/8\"]",
        )
        .with_env("SWITCHBOARD_DELIVERY__TIMEOUT_SECS", "3")
        // A short lease: a delivery left waiting past it would be taken back
        // and sent a second time while the first is still open.
        .with_env("SWITCHBOARD_DELIVERY__LEASE_SECS", "8")
        .with_env("SWITCHBOARD_DELIVERY__RETRY_SCHEDULE_SECS", "[20, 20, 20]")
        .with_env("SWITCHBOARD_TRIGGERS__MIN_INTERVAL_SECS", "1");
    let a = inst.create_project("A");
    let b = inst.create_project("B");
    let s = inst.start().await;
    let (ta, tb) = (s.token(&a).await, s.token(&b).await);
    let ctx = |w: &str| format!("{backend:?}: {w}");

    let bystander = Bystander::start(&s, &tb, &b.id).await;

    // Mallory, A's end user, holds a connect token (the customer opted her
    // into managing her own triggers' webhooks) and nothing else.
    let ctok = s
        .scoped_connect_token(&ta, &a.id, "mallory", "connect:*")
        .await;
    let mut m_hooks = Vec::new();
    for sink_url in [format!("{}/t", tarpit.url), format!("{}/s", loris.url)] {
        m_hooks.push(hook_url(
            &s.deploy(
                &ctok,
                &a.id,
                json!({"id": "http-new-requests", "external_user_id": "mallory",
                       "webhook_url": sink_url}),
            )
            .await,
        ));
    }
    for i in 0..TARPIT_POLLS {
        s.deploy(
            &ctok,
            &a.id,
            json!({"id": "http-new-items-in-json", "external_user_id": "mallory",
                   "configured_props": {"url": format!("{}/poll/{i}", tarpit.url),
                        "itemsPath": "$.items", "idPath": "$.id",
                        "timer": {"intervalSeconds": 1}},
                   "webhook_url": format!("{}/t", tarpit.url)}),
        )
        .await;
    }

    // The flood: 1,500 events to her own URL in about 2 s.
    let started = Instant::now();
    let http = client();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut senders = Vec::new();
    for _ in 0..32 {
        let (http, urls, next) = (http.clone(), m_hooks.clone(), next.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= FLOOD {
                    return;
                }
                let url = &urls[n % 2];
                let r = http.post(url).json(&json!({"m": n})).send().await.unwrap();
                assert!(r.status().is_success(), "flood {n}: {}", r.status());
            }
        }));
    }
    for t in senders {
        t.await.unwrap();
    }
    let flood_took = started.elapsed();

    eprintln!(
        "{backend:?}: flood of {FLOOD} accepted in {flood_took:?}; tarpit saw {} requests, slow-loris {}",
        tarpit.seen.receipts.lock().unwrap().len(),
        loris.seen.receipts.lock().unwrap().len(),
    );
    // Under attack: B's events and timer runs, while the tarpit holds
    // everything of Mallory's it can.
    bystander
        .assert_unharmed(&s, &ctx("tarpit and slow-loris flood"))
        .await;
    for e in [&tarpit, &loris, &bystander.sink] {
        assert_eq!(
            e.seen
                .concurrent_duplicates
                .load(std::sync::atomic::Ordering::Relaxed),
            0,
            "{}",
            ctx("a delivery was sent again while its first send was still open")
        );
    }

    // Lose nothing: once the tarpit answers, each of her events arrives.
    tarpit.release();
    let released = Instant::now();
    let want = FLOOD / 2;
    eventually(
        Duration::from_secs(150),
        &ctx(&format!(
            "all {want} flood events to reach the tarpit once it answered"
        )),
        || async {
            let got = tarpit
                .seen
                .with_prefix("/t")
                .iter()
                .filter(|r| r.at >= released && r.body["event"]["body"]["m"].is_u64())
                .map(|r| r.body["event"]["body"]["m"].as_u64().unwrap())
                .collect::<std::collections::HashSet<_>>()
                .len();
            if got == want { Ok(()) } else { Err(got) }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooding_tenant_cannot_starve_another_on_the_embedded_store() {
    one_tenant_cannot_starve_another(BACKENDS[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooding_tenant_cannot_starve_another_on_redis() {
    one_tenant_cannot_starve_another(BACKENDS[1]).await;
}

/// A tenant flooding its inbound URLs faster than one API process handles
/// them gets 429s beyond its share of in-flight requests; another tenant's
/// requests meanwhile are all accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_inbound_flood_is_refused_beyond_the_tenants_share() {
    let _heavy = crate::harness::heavy().await;
    let inst = Instance::new(Backend::Embedded)
        .with_env("SWITCHBOARD_RATE_LIMITS__IN_FLIGHT_PER_TENANT", "2")
        .with_env("SWITCHBOARD_RATE_LIMITS__HOOK_REQUESTS_PER_MINUTE", "0");
    let (a, b) = (inst.create_project("A"), inst.create_project("B"));
    let s = inst.start().await;
    let (ta, tb) = (s.token(&a).await, s.token(&b).await);
    let hook = |t: &str, p: &str| {
        let (s, t, p) = (&s, t.to_string(), p.to_string());
        async move {
            hook_url(
                &s.deploy(
                    &t,
                    &p,
                    json!({"id": "http-new-requests", "external_user_id": "u"}),
                )
                .await,
            )
        }
    };
    let (a_url, b_url) = (hook(&ta, &a.id).await, hook(&tb, &b.id).await);
    let http = client();
    let flood: Vec<_> = (0..64)
        .map(|i| {
            let (http, url) = (http.clone(), a_url.clone());
            tokio::spawn(async move {
                let mut codes = Vec::new();
                for n in 0..20 {
                    let body = json!({"i": i, "n": n, "pad": "x".repeat(100_000)});
                    let r = http.post(&url).json(&body).send().await.unwrap();
                    codes.push(r.status().as_u16());
                }
                codes
            })
        })
        .collect();
    let mut b_codes = Vec::new();
    for n in 0..20 {
        let r = http
            .post(&b_url)
            .json(&json!({"n": n}))
            .send()
            .await
            .unwrap();
        b_codes.push(r.status().as_u16());
    }
    let mut refused = 0;
    for t in flood {
        for c in t.await.unwrap() {
            assert!(c == 200 || c == 429, "flood answered {c}");
            refused += usize::from(c == 429);
        }
    }
    eprintln!("inbound flood: {refused} of 1280 refused with 429; B: {b_codes:?}");
    assert!(
        refused > 0,
        "the flood went beyond its share and was never refused"
    );
    assert!(
        b_codes.iter().all(|&c| c == 200),
        "B was refused: {b_codes:?}"
    );
}

/// Every other class of abuse an end user can try with her connect token,
/// one after another on one server, with tenant B checked after each:
/// hostile expressions in every prop that is one (and a budget bomb that
/// deploys and keeps polling), long ids on every path that takes one,
/// oversized and deeply nested bodies, and many deployments. Each is refused
/// with a 4xx JSON error or bounded; nothing crashes and B is unharmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_abuse_class_leaves_another_tenant_unharmed() {
    let _heavy = crate::harness::heavy().await;
    let doc = Endpoint::serving_json(crate::hostile_expressions::nested_doc()).await;
    let inst = Instance::new(Backend::Embedded)
        .with_env(
            "SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_NETWORKS",
            "[\"127.0.0.0/8\"]",
        )
        .with_env("SWITCHBOARD_TRIGGERS__MIN_INTERVAL_SECS", "1");
    let (a, b) = (inst.create_project("A"), inst.create_project("B"));
    let s = inst.start().await;
    let (ta, tb) = (s.token(&a).await, s.token(&b).await);
    let bystander = Bystander::start(&s, &tb, &b.id).await;
    let ctok = s
        .scoped_connect_token(&ta, &a.id, "mallory", "connect:*")
        .await;
    let base = format!("/v1/connect/{}", a.id);
    let t0 = Instant::now();
    let refused = |what: &str, st: u16, v: &Value| {
        assert!(
            (400..500).contains(&st) && v["error"].is_string(),
            "{what}: expected a 4xx JSON error, got {st} {v}"
        );
    };

    // Expressions: every prop that is one, too long and too deep.
    let deep = format!("$.{}a{}", "(".repeat(30_000), ")".repeat(30_000));
    let long = format!("$.{}", "a".repeat(200_000));
    for prop in ["itemsPath", "idPath", "timestampPath"] {
        for (kind, bad) in [("deep", &deep), ("long", &long)] {
            let mut props = json!({"url": format!("{}/items", doc.url), "itemsPath": "$[*]",
                                   "idPath": "$", "timer": {"intervalSeconds": 1}});
            props[prop] = json!(bad);
            let (st, v, _) = s
                .post(
                    &format!("{base}/triggers/deploy"),
                    &ctok,
                    json!({"id": "http-new-items-in-json", "external_user_id": "mallory",
                           "configured_props": props}),
                )
                .await;
            refused(&format!("{kind} {prop}"), st, &v);
        }
    }
    for timer in [
        json!({"cron": "* ".repeat(50_000)}),
        json!({"cron": "0 9 * * *", "timezone": "Europe/".repeat(10_000)}),
    ] {
        let (st, v, _) = s
            .post(
                &format!("{base}/triggers/deploy"),
                &ctok,
                json!({"id": "schedule-custom-interval", "external_user_id": "mallory",
                       "configured_props": {"timer": timer}}),
            )
            .await;
        refused("hostile timer", st, &v);
    }
    // A budget bomb is short and shallow: it deploys, and its polls keep
    // failing on their budget, every second, off the async workers.
    let bomb = "$..[?(@..[?(@..[?(@..[?(@..[?(@..*)])])])])]";
    for _ in 0..2 {
        s.deploy(
            &ctok,
            &a.id,
            json!({"id": "http-new-items-in-json", "external_user_id": "mallory",
                   "configured_props": {"url": format!("{}/items", doc.url), "itemsPath": bomb,
                        "idPath": "$", "timer": {"intervalSeconds": 1}}}),
        )
        .await;
    }
    eprintln!("expressions refused after {:?}", t0.elapsed());
    tokio::time::sleep(Duration::from_secs(3)).await;
    bystander
        .assert_unharmed(&s, "hostile expressions and budget bombs")
        .await;

    // Long ids, on every path that takes one, unauthenticated or not: ids
    // under the 512-byte path segment limit reach the handlers' checks;
    // longer ones are refused before routing.
    let (id, huge) = ("y".repeat(500), "x".repeat(30_000));
    let http = client();
    eprintln!("long ids from {:?}", t0.elapsed());
    for i in 0..2_000 {
        let hook = if i % 2 == 0 { &id } else { &huge };
        let r = http
            .post(format!("{}/hooks/{hook}{i}", s.base))
            .body("{}")
            .send()
            .await
            .unwrap();
        let want = if i % 2 == 0 { 404 } else { 414 };
        assert_eq!(r.status(), want, "a long hook id");
    }
    for path in [
        format!("{base}/deployed-triggers/{id}?external_user_id=mallory"),
        format!("{base}/deployed-triggers/{id}/events?external_user_id=mallory"),
        format!("{base}/accounts/{id}"),
        format!("{base}/users/{id}/accounts"),
        format!("{base}/deployed-triggers?external_user_id={id}"),
    ] {
        let (st, v, _) = s.get(&path, &ctok, None).await;
        refused(&format!("GET {}", &path[..60]), st, &v);
    }
    let r = http
        .get(format!("{}{base}/accounts/{huge}", s.base))
        .bearer_auth(&ctok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 414, "a 30,000-character path");
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("maximum"), "{v}");
    eprintln!("long ids done at {:?}", t0.elapsed());
    bystander.assert_unharmed(&s, "long ids").await;

    // Oversized and deeply nested bodies.
    let big = json!({"id": "http-new-requests", "external_user_id": "mallory",
                     "configured_props": {"pad": "x".repeat(1 << 20)}});
    let (st, v, _) = s.post(&format!("{base}/triggers/deploy"), &ctok, big).await;
    refused("a 1 MiB deploy", st, &v);
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = http
        .post(format!("{}{base}/triggers/deploy", s.base))
        .bearer_auth(&ctok)
        .header("content-type", "application/json")
        .body(nested)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or_default();
    refused("a 100,000-deep body", st, &v);
    bystander
        .assert_unharmed(&s, "oversized and nested bodies")
        .await;
}
