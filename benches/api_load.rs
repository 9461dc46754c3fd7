//! Load benchmark: `GET accounts` and `POST tokens` at 64 concurrent
//! connections over loopback, on the embedded store and on Redis.
//!
//!     cargo bench --bench api_load
//!
//! Starts the release `switchboard` binary (and its own redis-server), so it
//! measures the real server. Client and server share this machine's cores.
//! SWITCHBOARD_BENCH_SECS sets the measured seconds per case (default 10).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Proc, drive, free_port, post_json, row, switchboard};
use serde_json::{Value, json};

const CONCURRENCY: usize = 64;

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
    let s = drive(secs, CONCURRENCY, move |_| {
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
    let s = drive(secs, CONCURRENCY, move |i| {
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
