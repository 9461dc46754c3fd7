//! The catalog at full size: Nango's provider catalog (1,000+ providers)
//! and GitHub's OpenAPI spec (1,000+ generated actions) loaded at start-up.
//!
//!     npm ci --prefix tests/catalog && cargo bench --bench catalog
//!
//! Measures (1) building the catalog in-process, (2) the release binary's
//! start-up to a ready `/readyz`, with and without the imported catalog,
//! (3) its resident memory, and (4) `GET apps?q=` and `GET actions?app=`
//! latency over loopback at concurrency 1 and 16. Client and server share
//! this machine's cores. SWITCHBOARD_BENCH_SECS sets the seconds per
//! latency case (default 10).

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Proc, access_token, bench_secs, create_project, drive, free_port, switchboard};
use switchboard_components::{Catalog, openapi};

const RUNS: usize = 5;

fn catalog_sources() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/catalog/node_modules");
    let providers = root.join("@nangohq/providers/providers.yaml");
    let github = root.join("@octokit/openapi/generated/api.github.com.json");
    for p in [&providers, &github] {
        assert!(
            p.exists(),
            "{} is missing: run `npm ci --prefix tests/catalog`",
            p.display()
        );
    }
    (providers, github)
}

/// The config that imports everything: every provider, and every GitHub
/// operation the importer can express.
fn full_config(dir: &Path, providers: &Path, github: &Path) -> PathBuf {
    let path = dir.join("catalog.toml");
    std::fs::write(
        &path,
        format!(
            "[catalog]\nproviders = [{:?}]\n\n[[catalog.openapi]]\napp = \"github\"\nspec = {:?}\n",
            providers.display().to_string(),
            github.display().to_string()
        ),
    )
    .unwrap();
    path
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// VmRSS and VmHWM of a process, in MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

struct Started {
    proc: Proc,
    base: String,
    ms: f64,
}

/// Starts `switchboard all` and times spawn → first 200 from `/readyz`.
async fn start(http: &reqwest::Client, dir: &Path, config: Option<&Path>) -> Started {
    let port = free_port();
    let mut cmd = switchboard(dir, port, None);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let t = Instant::now();
    let proc = Proc(cmd.arg("all").stderr(Stdio::null()).spawn().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    loop {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "not ready in 60 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Started {
        proc,
        base,
        ms: t.elapsed().as_secs_f64() * 1000.0,
    }
}

#[tokio::main]
async fn main() {
    let (providers, github) = catalog_sources();
    let secs = bench_secs();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(32)
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = full_config(dir.path(), &providers, &github);

    // (1) In-process: the same work start-up does.
    let every_operation = openapi::Selection {
        app: "github".into(),
        include: Vec::new(),
        exclude: Vec::new(),
    };
    let mut build = Vec::new();
    let (mut apps, mut actions, mut components) = (0, 0, 0);
    for _ in 0..RUNS {
        let t = Instant::now();
        let (mut c, _) = Catalog::with_providers(std::slice::from_ref(&providers)).unwrap();
        let report = c.add_openapi_file(&github, &every_operation).unwrap();
        build.push(t.elapsed().as_secs_f64() * 1000.0);
        apps = c.apps().len();
        components = c.components().len();
        actions = report.generated;
    }
    println!(
        "catalog build in-process: median {:.0} ms over {RUNS} runs ({apps} apps, {components} components of which {actions} generated from GitHub's spec)",
        median(build)
    );

    // (2) and (3): start-up and memory, with and without the catalog.
    let p = create_project(switchboard(dir.path(), free_port(), None));
    for (label, cfg) in [
        ("built-in only", None),
        ("full catalog", Some(config.as_path())),
    ] {
        let mut times = Vec::new();
        let mut mem = (0.0, 0.0);
        for _ in 0..RUNS {
            let s = start(&http, dir.path(), cfg).await;
            times.push(s.ms);
            mem = memory_mib(s.proc.0.id());
            drop(s);
        }
        println!(
            "start-up to ready, {label}: median {:.0} ms over {RUNS} runs; RSS {:.1} MiB (peak {:.1} MiB)",
            median(times),
            mem.0,
            mem.1
        );
    }

    // (4) Latency at full size.
    let s = start(&http, dir.path(), Some(&config)).await;
    let bearer = access_token(&http, &s.base, &p).await;
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "GET apps?q= (goo, shop, crm, slack, a)",
            ["goo", "shop", "crm", "slack", "a"]
                .iter()
                .map(|q| format!("{}/v1/connect/apps?q={q}", s.base))
                .collect(),
        ),
        (
            "GET apps (first page)",
            vec![format!("{}/v1/connect/apps", s.base)],
        ),
        (
            "GET actions?app=github",
            vec![format!("{}/v1/connect/actions?app=github", s.base)],
        ),
    ];
    println!("| request | concurrency | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|---|");
    for (name, urls) in cases {
        for conc in [1, 16] {
            let (http, bearer, urls) = (http.clone(), bearer.clone(), urls.clone());
            let st = drive(secs, conc, move |i| {
                let (http, bearer) = (http.clone(), bearer.clone());
                let url = urls[i % urls.len()].clone();
                async move {
                    http.get(url)
                        .bearer_auth(bearer)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
            })
            .await;
            println!(
                "| {name} | {conc} | {:.0} | {:.2} | {:.2} | {} |",
                st.rps, st.p50_ms, st.p99_ms, st.errors
            );
        }
    }
    let (rss, peak) = memory_mib(s.proc.0.id());
    println!("after the latency runs: RSS {rss:.1} MiB (peak {peak:.1} MiB)");
}
