//! Helpers the benchmarks share: the switchboard process, free ports, and
//! a closed-loop load driver that reports throughput and latency percentiles.
#![allow(dead_code)]

use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Proc(pub Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn switchboard(dir: &std::path::Path, port: u16, redis: Option<&str>) -> Command {
    let mut c = Command::new(BIN);
    c.env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("SWITCHBOARD_DATA_DIR", dir)
        .env("SWITCHBOARD_REDIS_URL", redis.unwrap_or(""))
        .env("SWITCHBOARD_BOOTSTRAP__DEV_PROJECT", "false")
        .env("SWITCHBOARD_LOG__LEVEL", "warn")
        // Measure the API, not the limiter.
        .env("SWITCHBOARD_RATE_LIMITS__TOKENS_PER_USER_PER_MINUTE", "0")
        .env(
            "SWITCHBOARD_RATE_LIMITS__ACCOUNTS_PER_PROJECT_PER_5MIN",
            "0",
        )
        .env("SWITCHBOARD_RATE_LIMITS__HOOK_REQUESTS_PER_MINUTE", "0");
    c
}

pub struct Stats {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
}

/// Runs `concurrency` loops of `make` for `secs` seconds after a 1 s warm-up.
pub async fn drive<F, Fut>(secs: u64, concurrency: usize, make: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let make = Arc::new(make);
    // Warm-up: one second, not measured.
    let run = |dur: Duration| {
        let make = make.clone();
        async move {
            let deadline = Instant::now() + dur;
            let tasks: Vec<_> = (0..concurrency)
                .map(|w| {
                    let make = make.clone();
                    tokio::spawn(async move {
                        let (mut lat, mut errs, mut i) = (Vec::new(), 0usize, 0usize);
                        while Instant::now() < deadline {
                            let t = Instant::now();
                            let ok = make(w * 1_000_000 + i).await;
                            lat.push(t.elapsed().as_secs_f64() * 1000.0);
                            errs += usize::from(!ok);
                            i += 1;
                        }
                        (lat, errs)
                    })
                })
                .collect();
            let (mut all, mut errors) = (Vec::new(), 0);
            for t in tasks {
                let (l, e) = t.await.unwrap();
                all.extend(l);
                errors += e;
            }
            (all, errors)
        }
    };
    run(Duration::from_secs(1)).await;
    let start = Instant::now();
    let (mut lat, errors) = run(Duration::from_secs(secs)).await;
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Stats {
        rps: lat.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors,
    }
}

pub async fn post_json(
    http: &reqwest::Client,
    url: String,
    bearer: Option<&str>,
    body: Value,
) -> Value {
    let mut rb = http.post(url).json(&body);
    if let Some(b) = bearer {
        rb = rb.bearer_auth(b);
    }
    let r = rb.send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

pub fn row(backend: &str, case: &str, s: &Stats) -> String {
    format!(
        "| {backend} | {case} | {:.0} | {:.2} | {:.2} | {} |",
        s.rps, s.p50_ms, s.p99_ms, s.errors
    )
}

/// Measured seconds per case: `SWITCHBOARD_BENCH_SECS`, default 10.
pub fn bench_secs() -> u64 {
    std::env::var("SWITCHBOARD_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

/// A redis-server of the bench's own, persistence off, on a free port.
pub struct ThrowawayRedis {
    _proc: Proc,
    _dir: tempfile::TempDir,
    pub url: String,
}

impl ThrowawayRedis {
    pub fn pid(&self) -> u32 {
        self._proc.0.id()
    }
}

pub fn start_redis() -> ThrowawayRedis {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let proc = Proc(
        Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is required (apt-get install redis-server)"),
    );
    std::thread::sleep(Duration::from_millis(300));
    ThrowawayRedis {
        _proc: proc,
        _dir: dir,
        url: format!("redis://127.0.0.1:{port}/"),
    }
}

/// `admin create-project` with `cmd` (a configured `switchboard` command);
/// returns its JSON (project id and client credentials).
pub fn create_project(mut cmd: Command) -> Value {
    let out = cmd
        .args(["admin", "--json", "create-project", "--name", "bench"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Waits until the server at `base` is ready.
pub async fn wait_ready(http: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{base} did not become ready");
}

/// An access token for the project `create_project` returned.
pub async fn access_token(http: &reqwest::Client, base: &str, p: &Value) -> String {
    let grant = serde_json::json!({"grant_type": "client_credentials", "client_id": p["client_id"], "client_secret": p["client_secret"]});
    post_json(http, format!("{base}/v1/oauth/token"), None, grant).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// CPU time (user + system, ms) a process has used so far.
pub fn cpu_ms(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks * 1000 / 100 // USER_HZ is 100 on Linux
}
