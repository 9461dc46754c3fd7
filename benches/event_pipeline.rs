//! The event pipeline under load: inbound acceptance at the per-user URL,
//! end-to-end delivery to a local sink (latency at 100 events/s, and
//! throughput when pushed), and CPU time per delivered event, on the
//! embedded store (one process) and on Redis (1 API process + 1 or 2 worker
//! processes).
//!
//!     cargo bench --bench event_pipeline
//!
//! SWITCHBOARD_BENCH_SECS sets the seconds per phase (default 10).

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpServer, web};
use common::{
    Proc, Stats, access_token, bench_secs, cpu_ms, create_project, drive, free_port, post_json,
    start_redis, switchboard, wait_ready,
};
use serde_json::{Value, json};

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// The local sink: counts deliveries, records each one's latency (µs) from
/// the moment its inbound request was sent, and counts FIFO events that
/// arrive out of order.
#[derive(Default)]
struct Sink {
    count: AtomicU64,
    latencies: std::sync::Mutex<Vec<u64>>,
    last_seq: AtomicU64,
    out_of_order: AtomicU64,
}

async fn receive(sink: web::Data<Sink>, body: web::Bytes) -> &'static str {
    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
        if let Some(sent) = v["event"]["body"]["sent_us"].as_u64() {
            sink.latencies
                .lock()
                .unwrap()
                .push(now_us().saturating_sub(sent));
        }
        if let Some(seq) = v["event"]["body"]["seq"].as_u64()
            && sink.last_seq.swap(seq, Ordering::SeqCst) >= seq
        {
            sink.out_of_order.fetch_add(1, Ordering::Relaxed);
        }
    }
    sink.count.fetch_add(1, Ordering::Relaxed);
    "ok"
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn pct(v: &mut [u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

struct Setup {
    procs: Vec<Proc>,
    pids: Vec<u32>,
    base: String,
    bearer: String,
    project: String,
}

async fn start(
    dir: &std::path::Path,
    redis: Option<&str>,
    workers: usize,
    http: &reqwest::Client,
) -> Setup {
    let port = free_port();
    let tune = |c: &mut Command| {
        c.env(
            "SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_NETWORKS",
            "[\"127.0.0.0/8\"]",
        )
        .env("SWITCHBOARD_TRIGGERS__EVENTS_RETAINED", "100")
        .env("SWITCHBOARD_REDIS_KEY_PREFIX", format!("bench{port}"))
        .stderr(Stdio::null());
    };
    let mut admin = switchboard(dir, port, redis);
    tune(&mut admin);
    let p = create_project(admin);
    let mut procs = Vec::new();
    let roles: Vec<&str> = match redis {
        None => vec!["all"],
        Some(_) => std::iter::once("serve")
            .chain(std::iter::repeat_n("work", workers))
            .collect(),
    };
    for role in roles {
        let mut c = switchboard(dir, port, redis);
        tune(&mut c);
        procs.push(Proc(c.arg(role).spawn().unwrap()));
    }
    let pids = procs.iter().map(|p| p.0.id()).collect();
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(http, &base).await;
    let bearer = access_token(http, &base, &p).await;
    Setup {
        procs,
        pids,
        base,
        bearer,
        project: p["project_id"].as_str().unwrap().to_string(),
    }
}

async fn deploy(http: &reqwest::Client, s: &Setup, webhook: Option<&str>) -> String {
    deploy_with(
        http,
        s,
        webhook.map_or(json!({}), |w| json!({"webhook_url": w})),
    )
    .await
}

async fn deploy_with(http: &reqwest::Client, s: &Setup, extra: Value) -> String {
    let mut body = json!({"id": "http-new-requests", "external_user_id": "bench"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let v = post_json(
        http,
        format!("{}/v1/connect/{}/triggers/deploy", s.base, s.project),
        Some(&s.bearer),
        body,
    )
    .await;
    v["data"]["configured_props"]["http"]["endpoint_url"]
        .as_str()
        .unwrap()
        .to_string()
}

fn post_event(
    http: &reqwest::Client,
    url: &str,
) -> impl std::future::Future<Output = bool> + use<> {
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"order":42,"items":[1,2,3],"sent_us":{}}}"#,
            now_us()
        ))
        .send();
    async move { r.await.is_ok_and(|r| r.status().is_success()) }
}

async fn case(
    name: &str,
    redis: Option<&str>,
    workers: usize,
    secs: u64,
    sink_url: &str,
    sink: &Sink,
    redis_pid: Option<u32>,
) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let s = start(dir.path(), redis, workers, &http).await;
    let mut rows = Vec::new();

    // A. Inbound acceptance: durable persist then 2xx, no delivery.
    let quiet = deploy(&http, &s, None).await;
    let h = http.clone();
    let a: Stats = drive(secs, 64, move |_| post_event(&h, &quiet)).await;
    rows.push(format!("| {name} | inbound accept, 64 conns | {:.0} req/s | p50 {:.2} ms | p99 {:.2} ms | errors {} |", a.rps, a.p50_ms, a.p99_ms, a.errors));

    // B. Latency from ingest to receipt at 100 events/s.
    let url = deploy(&http, &s, Some(sink_url)).await;
    sink.latencies.lock().unwrap().clear();
    let before = sink.count.load(Ordering::Relaxed);
    let n = secs * 100;
    let accepted = Arc::new(AtomicU64::new(0));
    let start_b = Instant::now();
    let mut posts = Vec::new();
    for i in 0..n {
        let due = start_b + Duration::from_millis(i * 10);
        tokio::time::sleep_until(due.into()).await;
        let (req, acc) = (post_event(&http, &url), accepted.clone());
        posts.push(tokio::spawn(async move {
            if req.await {
                acc.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for p in posts {
        let _ = p.await;
    }
    let n = accepted.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.count.load(Ordering::Relaxed) - before < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut lat = std::mem::take(&mut *sink.latencies.lock().unwrap());
    rows.push(format!(
        "| {name} | end to end at 100 events/s | {} delivered of {n} accepted | p50 {:.2} ms | p99 {:.2} ms | from sending the inbound request to receipt |",
        sink.count.load(Ordering::Relaxed) - before,
        ms(pct(&mut lat, 0.50)),
        ms(pct(&mut lat, 0.99))
    ));

    // C. Throughput pushed from 64 connections; CPU per delivered event.
    let cpu0: u64 = s.pids.iter().map(|p| cpu_ms(*p)).sum::<u64>() + redis_pid.map_or(0, cpu_ms);
    let before = sink.count.load(Ordering::Relaxed);
    let started = Instant::now();
    let h = http.clone();
    let u = url.clone();
    let pushed = drive(secs, 64, move |_| post_event(&h, &u)).await;
    let accepted = (pushed.rps * secs as f64) as u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.count.load(Ordering::Relaxed) - before < accepted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered = sink.count.load(Ordering::Relaxed) - before;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu: u64 =
        s.pids.iter().map(|p| cpu_ms(*p)).sum::<u64>() + redis_pid.map_or(0, cpu_ms) - cpu0;
    rows.push(format!(
        "| {name} | end to end pushed, 64 conns | {:.0} delivered/s ({delivered} in {elapsed:.1} s) | accepted {:.0} req/s | CPU {:.2} ms/event (switchboard processes and redis-server; ingest included) | |",
        delivered as f64 / elapsed,
        pushed.rps,
        cpu as f64 / delivered.max(1) as f64
    ));

    // D. FIFO: one sender, numbered events, each sent after the last was
    // accepted; the sink counts any that arrive out of order.
    let fifo = deploy_with(&http, &s, json!({"webhook_url": sink_url, "fifo": true})).await;
    sink.last_seq.store(0, Ordering::SeqCst);
    sink.out_of_order.store(0, Ordering::SeqCst);
    let before = sink.count.load(Ordering::Relaxed);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut sent = 0u64;
    while Instant::now() < end {
        sent += 1;
        let ok = http
            .post(&fifo)
            .json(&json!({"seq": sent, "sent_us": now_us()}))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        assert!(ok, "FIFO event {sent} refused");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.count.load(Ordering::Relaxed) - before < sent && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rows.push(format!(
        "| {name} | FIFO, 1 sender | {} delivered of {sent} | {} out of order | | |",
        sink.count.load(Ordering::Relaxed) - before,
        sink.out_of_order.load(Ordering::Relaxed)
    ));
    drop(s.procs);
    rows
}

fn main() {
    let secs = bench_secs();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let redis = start_redis();
    let redis_url = redis.url.clone();
    let redis_pid = redis.pid();
    let rows = rt.block_on(async {
        let sink = web::Data::new(Sink::default());
        let sink_port = free_port();
        let s2 = sink.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(s2.clone())
                .route("/sink", web::post().to(receive))
        })
        .workers(1)
        .bind(("127.0.0.1", sink_port))
        .unwrap()
        .run();
        tokio::spawn(server);
        let sink_url = format!("http://127.0.0.1:{sink_port}/sink");
        let sink_ref: Arc<Sink> = sink.into_inner();
        let mut rows = case("embedded", None, 1, secs, &sink_url, &sink_ref, None).await;
        rows.extend(
            case(
                "redis, 1 worker",
                Some(&redis_url),
                1,
                secs,
                &sink_url,
                &sink_ref,
                Some(redis_pid),
            )
            .await,
        );
        rows.extend(
            case(
                "redis, 2 workers",
                Some(&redis_url),
                2,
                secs,
                &sink_url,
                &sink_ref,
                Some(redis_pid),
            )
            .await,
        );
        rows
    });
    println!("{secs} s per phase\n");
    println!("| setup | phase | rate | p50 | p99 | notes |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}
