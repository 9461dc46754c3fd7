//! Load benchmark: `GET accounts` and `POST tokens` at 64 concurrent
//! connections over loopback, on the embedded store and on Redis.
//!
//!     cargo bench --bench api_load
//!
//! Starts the release `switchboard` binary (and its own redis-server), so it
//! measures the real server. Client and server share this machine's cores.
//! SWITCHBOARD_BENCH_SECS sets the measured seconds per case (default 10).

mod common;

use std::process::Stdio;

use common::{
    Proc, access_token, bench_secs, create_project, drive, free_port, post_json, row, start_redis,
    switchboard, wait_ready,
};
use serde_json::json;

const CONCURRENCY: usize = 64;

async fn bench_backend(name: &str, redis: Option<&str>, secs: u64) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let p = create_project(switchboard(dir.path(), port, redis));
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
    wait_ready(&http, &base).await;
    let bearer = access_token(&http, &base, &p).await;
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
    let secs = bench_secs();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let redis = start_redis();
    let redis_url = redis.url.clone();
    let mut rows = rt.block_on(bench_backend("embedded", None, secs));
    rows.extend(rt.block_on(bench_backend("redis", Some(&redis_url), secs)));
    println!("{CONCURRENCY} concurrent connections, {secs} s per case after 1 s warm-up\n");
    println!("| store | request | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}
