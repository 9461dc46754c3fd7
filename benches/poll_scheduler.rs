//! The polling scheduler at scale (issue 6): N polling deployments with a
//! 60 s interval against a local test double that answers in about 1 ms,
//! on Redis with 1 and 3 worker processes (plus one `serve` process) and on
//! the embedded store (one `all` process). For each run it reports the
//! deploy rate, polls per second sustained over a measured window, schedule
//! lateness p50/p99 (the double's receive time minus the tick's due time,
//! seed polls excluded), CPU seconds per 1,000 polls (every switchboard
//! process and redis-server) and store bytes per idle deployment.
//!
//!     cargo bench --bench poll_scheduler
//!
//! SWITCHBOARD_BENCH_POLL_N: comma list of N (default "1000,10000,100000").
//! SWITCHBOARD_BENCH_POLL_MODES: comma list of redis1, redis3, embedded
//!   (default all three).
//! SWITCHBOARD_BENCH_POLL_SECS: the measured window (default 60 s).
//! SWITCHBOARD_BENCH_POLL_DEPLOY_CAP_SECS: the deploy phase stops there
//!   (default 300 s); the run goes on with what was deployed.
//! SWITCHBOARD_BENCH_POLL_CONCURRENCY: deploy requests in flight (default 32).

mod common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use common::{
    Proc, ThrowawayRedis, access_token, cpu_ms, create_project, free_port, start_redis,
    switchboard, wait_ready,
};
use serde_json::{Value, json};

/// The polling interval every deployment gets.
const INTERVAL_SECS: u64 = 60;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn env_u64(name: &str, default: u64) -> u64 {
    env_or(name, &default.to_string())
        .parse()
        .unwrap_or(default)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Resident memory of a process, in bytes.
fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// One request the double received.
#[derive(Clone, Copy)]
struct Rec {
    d: u32,
    tick: u64,
    recv: u64,
    /// The deployment's first request: its seed poll.
    seed: bool,
}

#[derive(Default)]
struct Log {
    recs: Vec<Rec>,
    seen: Vec<bool>,
    seeds: usize,
}

/// The polled provider: `GET /items?d=…&tick=…` answers `{"items": []}`
/// after about 1 ms and records who asked, for which tick, and when.
#[derive(Default)]
struct Double {
    log: Mutex<Log>,
}

impl Double {
    fn reset(&self, n: usize) {
        let mut l = self.log.lock().unwrap();
        *l = Log {
            recs: Vec::with_capacity(n * 4),
            seen: vec![false; n],
            seeds: 0,
        };
    }

    fn seeds(&self) -> usize {
        self.log.lock().unwrap().seeds
    }

    fn total(&self) -> usize {
        self.log.lock().unwrap().recs.len()
    }
}

async fn items(dbl: web::Data<Double>, req: HttpRequest) -> HttpResponse {
    let recv = now_ms();
    let (mut d, mut tick) = (None, None);
    for kv in req.query_string().split('&') {
        match kv.split_once('=') {
            Some(("d", v)) => d = v.parse::<u32>().ok(),
            Some(("tick", v)) => tick = v.parse::<u64>().ok(),
            _ => {}
        }
    }
    if let (Some(d), Some(tick)) = (d, tick) {
        let mut l = dbl.log.lock().unwrap();
        let i = d as usize;
        if l.seen.len() <= i {
            l.seen.resize(i + 1, false);
        }
        let seed = !l.seen[i];
        if seed {
            l.seen[i] = true;
            l.seeds += 1;
        }
        l.recs.push(Rec {
            d,
            tick,
            recv,
            seed,
        });
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"items":[]}"#)
}

fn probe(double_url: &str) -> Value {
    json!({
        "manifest_version": 1, "kind": "trigger", "key": "http-bench-probe", "name": "Bench probe",
        "version": "0.1.0", "app": "http",
        "props": [{"name": "n", "type": "string"}, {"name": "timer", "type": "$.interface.timer"}],
        "source": {
            "type": "polling", "default_interval_secs": INTERVAL_SECS,
            "request": {"method": "GET", "url": format!("{double_url}/items"),
                        "query": {"d": "{{ props.n }}", "tick": "{{ tick.ms }}"}},
            "items": "$.items[*]", "id": "$.id", "dedupe": "unique", "summary": "item"
        }
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Redis(usize),
    Embedded,
}

impl Mode {
    fn parse(s: &str) -> Option<Mode> {
        match s.trim() {
            "redis1" => Some(Mode::Redis(1)),
            "redis3" => Some(Mode::Redis(3)),
            "embedded" => Some(Mode::Embedded),
            _ => None,
        }
    }

    fn name(self) -> String {
        match self {
            Mode::Redis(1) => "redis, 1 worker".into(),
            Mode::Redis(n) => format!("redis, {n} workers"),
            Mode::Embedded => "embedded".into(),
        }
    }
}

struct Setup {
    procs: Vec<Proc>,
    /// Every switchboard process, then redis-server when there is one.
    pids: Vec<u32>,
    base: String,
    bearer: String,
    project: String,
    logs: Vec<std::path::PathBuf>,
}

async fn start(
    dir: &std::path::Path,
    mode: Mode,
    redis: Option<&ThrowawayRedis>,
    http: &reqwest::Client,
) -> Setup {
    let port = free_port();
    let url = redis.map(|r| r.url.clone());
    let tune = |c: &mut Command| {
        c.env("SWITCHBOARD_TRIGGERS__MIN_INTERVAL_SECS", "60")
            .env(
                "SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_NETWORKS",
                "[\"127.0.0.0/8\"]",
            )
            // One user holds every deployment here: the quotas are off.
            .env("SWITCHBOARD_QUOTAS__DEPLOYMENTS_PER_USER", "0")
            .env("SWITCHBOARD_QUOTAS__DEPLOYMENTS_PER_ENVIRONMENT", "0");
    };
    let mut admin = switchboard(dir, port, url.as_deref());
    tune(&mut admin);
    admin.stderr(Stdio::null());
    let p = create_project(admin);
    let roles: Vec<&str> = match mode {
        Mode::Embedded => vec!["all"],
        Mode::Redis(w) => std::iter::once("serve")
            .chain(std::iter::repeat_n("work", w))
            .collect(),
    };
    let (mut procs, mut logs) = (Vec::new(), Vec::new());
    for (i, role) in roles.iter().enumerate() {
        let mut c = switchboard(dir, port, url.as_deref());
        tune(&mut c);
        let log = dir.join(format!("{role}{i}.log"));
        c.stderr(std::fs::File::create(&log).unwrap())
            .stdout(Stdio::null());
        procs.push(Proc(c.arg(role).spawn().unwrap()));
        logs.push(log);
    }
    let mut pids: Vec<u32> = procs.iter().map(|p| p.0.id()).collect();
    if let Some(r) = redis {
        pids.push(r.pid());
    }
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(http, &base).await;
    let bearer = access_token(http, &base, &p).await;
    Setup {
        procs,
        pids,
        base,
        bearer,
        project: p["project_id"].as_str().unwrap().to_string(),
        logs,
    }
}

fn redis_used_memory(r: &ThrowawayRedis) -> u64 {
    let port = r
        .url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let out = Command::new("redis-cli")
        .args(["-p", &port, "info", "memory"])
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Bytes the store holds: Redis `used_memory`, or the redb file's size.
fn store_bytes(dir: &std::path::Path, redis: Option<&ThrowawayRedis>) -> u64 {
    match redis {
        Some(r) => redis_used_memory(r),
        None => std::fs::metadata(dir.join("switchboard.redb"))
            .map(|m| m.len())
            .unwrap_or(0),
    }
}

fn pct(v: &[i64], p: f64) -> i64 {
    if v.is_empty() {
        return 0;
    }
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

fn warn_lines(logs: &[std::path::PathBuf]) -> (usize, Option<String>) {
    let mut n = 0;
    let mut first = None;
    for l in logs {
        for line in std::fs::read_to_string(l).unwrap_or_default().lines() {
            if line.contains("WARN") || line.contains("ERROR") {
                n += 1;
                if first.is_none() {
                    first = Some(line.chars().take(160).collect());
                }
            }
        }
    }
    (n, first)
}

struct Deployed {
    ok: usize,
    errors: usize,
    first_error: Option<String>,
    secs: f64,
    capped: bool,
    ids: Vec<String>,
}

/// Deploys `n` deployments of the probe, `conc` requests in flight.
async fn deploy_all(
    http: &reqwest::Client,
    s: &Setup,
    n: usize,
    conc: usize,
    cap: Duration,
) -> Deployed {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let started = Instant::now();
    let deadline = started + cap;
    let url = format!("{}/v1/connect/{}/triggers/deploy", s.base, s.project);
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (next, ok, errors, first_error, ids) = (
            next.clone(),
            ok.clone(),
            errors.clone(),
            first_error.clone(),
            ids.clone(),
        );
        let (http, url, bearer) = (http.clone(), url.clone(), s.bearer.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || Instant::now() >= deadline {
                    return;
                }
                let body = json!({
                    "id": "http-bench-probe", "external_user_id": "u1",
                    "configured_props": {"n": i.to_string(), "timer": {"intervalSeconds": INTERVAL_SECS}},
                    "emit_on_deploy": false
                });
                let r = http.post(&url).bearer_auth(&bearer).json(&body).send().await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        if i < 3 {
                            let v: Value = r.json().await.unwrap_or_default();
                            if let Some(id) = v["data"]["id"].as_str() {
                                ids.lock().unwrap().push(id.to_string());
                            }
                        }
                    }
                    other => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        let msg = match other {
                            Ok(r) => format!("{}: {}", r.status(), r.text().await.unwrap_or_default()),
                            Err(e) => e.to_string(),
                        };
                        first_error.lock().unwrap().get_or_insert(msg);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let done = ok.load(Ordering::Relaxed) as usize + errors.load(Ordering::Relaxed) as usize;
    Deployed {
        ok: ok.load(Ordering::Relaxed) as usize,
        errors: errors.load(Ordering::Relaxed) as usize,
        first_error: first_error.lock().unwrap().take(),
        secs,
        capped: done < n,
        ids: ids.lock().unwrap().clone(),
    }
}

async fn run(
    mode: Mode,
    n: usize,
    window_secs: u64,
    cap: Duration,
    conc: usize,
    double: &Double,
    double_url: &str,
) -> String {
    let dir = tempfile::tempdir().unwrap();
    let redis = match mode {
        Mode::Redis(_) => Some(start_redis()),
        Mode::Embedded => None,
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(conc * 2)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let s = start(dir.path(), mode, redis.as_ref(), &http).await;
    let r = http
        .post(format!("{}/v1/connect/{}/components", s.base, s.project))
        .bearer_auth(&s.bearer)
        .json(&probe(double_url))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    double.reset(n);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mem0 = store_bytes(dir.path(), redis.as_ref());
    let rss0: u64 = s.procs.iter().map(|p| rss_bytes(p.0.id())).sum();

    // Deploy.
    let dep = deploy_all(&http, &s, n, conc, cap).await;
    let last_deploy = Instant::now();
    let deployed = dep.ok;
    eprintln!(
        "[{} N={n}] deployed {deployed} in {:.1} s ({:.0}/s), {} errors{}",
        mode.name(),
        dep.secs,
        deployed as f64 / dep.secs,
        dep.errors,
        dep.first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );

    // Seeds settle: every deployment's first poll reached the double (and
    // a moment for its commit).
    let seed_deadline = Instant::now() + Duration::from_secs(INTERVAL_SECS);
    while double.seeds() < deployed && Instant::now() < seed_deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seeds_secs = last_deploy.elapsed().as_secs_f64();
    let seeds = double.seeds();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mem1 = store_bytes(dir.path(), redis.as_ref());
    let rss1: u64 = s.procs.iter().map(|p| rss_bytes(p.0.id())).sum();
    eprintln!(
        "[{} N={n}] {seeds} seed polls seen {seeds_secs:.1} s after the last deploy; store {} -> {} bytes",
        mode.name(),
        mem0,
        mem1
    );

    // One interval after the last deploy, every deployment is on its
    // regular schedule: measure a window.
    tokio::time::sleep_until((last_deploy + Duration::from_secs(INTERVAL_SECS)).into()).await;
    let cpu0: u64 = s.pids.iter().map(|p| cpu_ms(*p)).sum();
    let (w0, t0) = (now_ms(), Instant::now());
    let total0 = double.total();
    tokio::time::sleep(Duration::from_secs(window_secs)).await;
    let cpu1: u64 = s.pids.iter().map(|p| cpu_ms(*p)).sum();
    let (w1, elapsed) = (now_ms(), t0.elapsed().as_secs_f64());
    let total1 = double.total();
    let mem2 = store_bytes(dir.path(), redis.as_ref());

    let (mut lat, mut first_half, mut second_half, mut seeds_in_window) =
        (Vec::new(), Vec::new(), Vec::new(), 0usize);
    // A tick of one deployment fetched more than once (a lease taken over).
    let mut ticks_seen = std::collections::HashSet::new();
    let mut doubled = 0usize;
    // Polls received per second of the window, for the peak.
    let mut per_sec = vec![0u64; ((w1 - w0) / 1000 + 1) as usize];
    let mid = w0 + (w1 - w0) / 2;
    {
        let l = double.log.lock().unwrap();
        for r in l.recs.iter().filter(|r| r.recv >= w0 && r.recv < w1) {
            per_sec[((r.recv - w0) / 1000) as usize] += 1;
            if r.seed {
                seeds_in_window += 1;
                continue;
            }
            if !ticks_seen.insert((r.d, r.tick)) {
                doubled += 1;
            }
            let late = r.recv as i64 - r.tick as i64;
            lat.push(late);
            if r.recv < mid {
                first_half.push(late);
            } else {
                second_half.push(late);
            }
        }
    }
    let polls = total1 - total0;
    lat.sort_unstable();
    first_half.sort_unstable();
    second_half.sort_unstable();
    let cpu = cpu1 - cpu0;
    let mut notes = Vec::new();
    if dep.capped {
        notes.push(format!(
            "deploy capped at {:.0} s: {deployed} of {n} deployed",
            dep.secs
        ));
    }
    if dep.errors > 0 {
        notes.push(format!(
            "{} deploy errors ({})",
            dep.errors,
            dep.first_error.unwrap_or_default()
        ));
    }
    if seeds < deployed {
        notes.push(format!(
            "only {seeds} of {deployed} seed polls within {INTERVAL_SECS} s of the last deploy"
        ));
    } else {
        notes.push(format!(
            "seeds done {seeds_secs:.0} s after the last deploy"
        ));
    }
    if doubled > 0 {
        notes.push(format!("{doubled} ticks fetched twice"));
    }
    if seeds_in_window > 0 {
        notes.push(format!("{seeds_in_window} seed polls still in the window"));
    }
    let (p99a, p99b) = (pct(&first_half, 0.99), pct(&second_half, 0.99));
    if p99b > 1000 && p99b > 2 * p99a.max(1) {
        notes.push(format!(
            "backlog growing: p99 {p99a} ms in the first half, {p99b} ms in the second"
        ));
    }
    notes.push(format!(
        "peak {} polls in 1 s; max lateness {} ms",
        per_sec.iter().max().copied().unwrap_or(0),
        lat.last().copied().unwrap_or(0)
    ));
    if mem1 > 0 && mem2.abs_diff(mem1) * 10 > mem1.saturating_sub(mem0).max(1) {
        notes.push(format!(
            "store after the window {:.0} B/deployment",
            mem2.saturating_sub(mem0) as f64 / deployed.max(1) as f64
        ));
    }
    notes.push(format!(
        "process RSS +{:.0} B/deployment",
        rss1.saturating_sub(rss0) as f64 / deployed.max(1) as f64
    ));
    let (warns, first_warn) = warn_lines(&s.logs);
    if warns > 0 {
        notes.push(format!(
            "{warns} WARN/ERROR log lines (first: {})",
            first_warn.unwrap_or_default()
        ));
    }
    // One deployment's own account of its polls, as a sanity check.
    if let Some(id) = dep.ids.first() {
        let r = http
            .get(format!(
                "{}/v1/connect/{}/deployed-triggers/{id}?external_user_id=u1",
                s.base, s.project
            ))
            .bearer_auth(&s.bearer)
            .send()
            .await;
        let v: Value = match r {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => Value::Null,
        };
        notes.push(format!(
            "sample deployment: {} polls, last {}",
            v["data"]["poll"]["polls"], v["data"]["poll"]["last_status"]
        ));
    }
    drop(s.procs);
    drop(redis);
    format!(
        "| {} | {n} | {deployed} ({:.0}/s) | {:.1} | {:.1} | {} | {} | {:.3} | {:.0} | {} |",
        mode.name(),
        deployed as f64 / dep.secs,
        deployed as f64 / INTERVAL_SECS as f64,
        polls as f64 / elapsed,
        pct(&lat, 0.50),
        pct(&lat, 0.99),
        cpu as f64 / polls.max(1) as f64,
        mem1.saturating_sub(mem0) as f64 / deployed.max(1) as f64,
        notes.join("; ")
    )
}

const HEADER: &str = "| store | N | deployed (deploys/s) | expected polls/s | polls/s | lateness p50 ms | lateness p99 ms | CPU s / 1,000 polls | store B / deployment | notes |\n|---|---|---|---|---|---|---|---|---|---|";

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ns: Vec<usize> = env_or("SWITCHBOARD_BENCH_POLL_N", "1000,10000,100000")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let modes: Vec<Mode> = env_or("SWITCHBOARD_BENCH_POLL_MODES", "redis1,redis3,embedded")
        .split(',')
        .filter_map(Mode::parse)
        .collect();
    let window = env_u64("SWITCHBOARD_BENCH_POLL_SECS", 60);
    let cap = Duration::from_secs(env_u64("SWITCHBOARD_BENCH_POLL_DEPLOY_CAP_SECS", 300));
    let conc = env_u64("SWITCHBOARD_BENCH_POLL_CONCURRENCY", 32).max(1) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows = rt.block_on(async {
        let double = web::Data::new(Double::default());
        let port = free_port();
        let d2 = double.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(d2.clone())
                .route("/items", web::get().to(items))
        })
        .workers(2)
        .backlog(4096)
        .bind(("127.0.0.1", port))
        .unwrap()
        .run();
        tokio::spawn(server);
        let double_url = format!("http://127.0.0.1:{port}");
        println!(
            "interval {INTERVAL_SECS} s, window {window} s, deploy concurrency {conc}\n\n{HEADER}"
        );
        let mut rows = Vec::new();
        for &mode in &modes {
            for &n in &ns {
                let row = run(mode, n, window, cap, conc, &double, &double_url).await;
                println!("{row}");
                rows.push(row);
            }
        }
        rows
    });
    println!("\n{HEADER}");
    for r in rows {
        println!("{r}");
    }
}
