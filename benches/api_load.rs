//! Load benchmark: `GET accounts` and `POST tokens` at 64 concurrent
//! connections over loopback, on the embedded store and on Redis.
//!
//!     cargo bench --bench api_load
//!
//! Starts the release `switchboard` binary (and its own redis-server), so it
//! measures the real server. Client and server share this machine's cores.
//! SWITCHBOARD_BENCH_SECS sets the measured seconds per case (default 10).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const CONCURRENCY: usize = 64;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn switchboard(dir: &std::path::Path, port: u16, redis: Option<&str>) -> Command {
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
        );
    c
}

struct Stats {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

async fn drive<F, Fut>(secs: u64, make: F) -> Stats
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
            let tasks: Vec<_> = (0..CONCURRENCY)
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

async fn bench_backend(name: &str, redis: Option<&str>, secs: u64) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = switchboard(dir.path(), port, redis)
        .args(["admin", "--json", "create-project", "--name", "bench"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    let _server = Proc(
        switchboard(dir.path(), port, redis)
            .arg("all")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    for _ in 0..200 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let grant = json!({"grant_type": "client_credentials", "client_id": p["client_id"], "client_secret": p["client_secret"]});
    let tok = post_json(&http, format!("{base}/v1/oauth/token"), None, grant).await;
    let bearer = tok["access_token"].as_str().unwrap().to_string();
    let project = p["project_id"].as_str().unwrap().to_string();

    // 10 accounts for the user whose accounts are listed.
    for i in 0..10 {
        let url = format!("{base}/v1/connect/{project}/tokens");
        let ct = post_json(
            &http,
            url,
            Some(&bearer),
            json!({"external_user_id": "bench-user"}),
        )
        .await;
        let body = json!({"app_slug": "stripe", "cfmap_json": json!({"api_key": format!("sk_{i}")}).to_string(), "connect_token": ct["token"]});
        post_json(
            &http,
            format!("{base}/v1/connect/{project}/accounts"),
            Some(&bearer),
            body,
        )
        .await;
    }

    let mut rows = Vec::new();
    let (h, b, pr) = (http.clone(), bearer.clone(), project.clone());
    let s = drive(secs, move |_| {
        let (h, b, pr, base) = (
            h.clone(),
            b.clone(),
            pr.clone(),
            format!("http://127.0.0.1:{port}"),
        );
        async move {
            h.get(format!(
                "{base}/v1/connect/{pr}/accounts?external_user_id=bench-user&limit=10"
            ))
            .bearer_auth(b)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    rows.push(row(name, "GET accounts (10 per page)", &s));
    let s = drive(secs, move |i| {
        let (h, b, pr, base) = (
            http.clone(),
            bearer.clone(),
            project.clone(),
            format!("http://127.0.0.1:{port}"),
        );
        async move {
            h.post(format!("{base}/v1/connect/{pr}/tokens"))
                .bearer_auth(b)
                .json(&json!({"external_user_id": format!("u{}", i % 5000)}))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    rows.push(row(name, "POST tokens", &s));
    rows
}

async fn post_json(
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

fn row(backend: &str, case: &str, s: &Stats) -> String {
    format!(
        "| {backend} | {case} | {:.0} | {:.2} | {:.2} | {} |",
        s.rps, s.p50_ms, s.p99_ms, s.errors
    )
}

fn main() {
    let secs: u64 = std::env::var("SWITCHBOARD_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let redis_port = free_port();
    let redis_dir = tempfile::tempdir().unwrap();
    let _redis = Proc(
        Command::new("redis-server")
            .args([
                "--port",
                &redis_port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(redis_dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is required (apt-get install redis-server)"),
    );
    std::thread::sleep(Duration::from_millis(300));
    let redis_url = format!("redis://127.0.0.1:{redis_port}/");
    let mut rows = rt.block_on(bench_backend("embedded", None, secs));
    rows.extend(rt.block_on(bench_backend("redis", Some(&redis_url), secs)));
    println!("{CONCURRENCY} concurrent connections, {secs} s per case after 1 s warm-up\n");
    println!("| store | request | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}
