//! What runAction and the proxy add over calling the provider directly:
//! `GET /repos/octocat/hello-world` on the GitHub test double, straight, via
//! `proxy/{url_64}`, and via `actions/run` of `github-get-repository`, at 1
//! and 64 concurrent requests, on the embedded store.
//!
//!     npm ci --prefix tests/doubles && cargo bench --bench action_overhead
//!
//! Starts the release `switchboard` binary and the Node doubles; all three
//! share this machine's cores. SWITCHBOARD_BENCH_SECS sets the measured
//! seconds per case (default 10).

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};

use base64::Engine;
use common::{
    Proc, Stats, access_token, bench_secs, create_project, drive, free_port, post_json,
    switchboard, wait_ready,
};
use serde_json::{Value, json};

const USER: &str = "bench-user";

fn main() {
    let secs = bench_secs();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut doubles = Command::new("node")
        .arg(root.join("tests/doubles/server.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node is required, with `npm ci --prefix tests/doubles`");
    let mut line = String::new();
    std::io::BufReader::new(doubles.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _doubles = Proc(doubles);
    let urls: Value = serde_json::from_str(&line).expect("the doubles print their URLs");
    let github = urls["github"].as_str().unwrap().to_string();

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cmd = |c: &mut Command| {
        c.env("SWITCHBOARD_APPS__GITHUB__BASE_URL", &github).env(
            "SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_NETWORKS",
            "[\"127.0.0.0/8\"]",
        );
    };
    let mut admin = switchboard(dir.path(), port, None);
    cmd(&mut admin);
    let p = create_project(admin);
    let mut serve = switchboard(dir.path(), port, None);
    cmd(&mut serve);
    let _server = Proc(serve.arg("all").stderr(Stdio::null()).spawn().unwrap());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows = rt.block_on(async move {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(&http, &base).await;
        // The double accepts this token; the account carries it.
        post_json(&http, format!("{github}/__control/tokens"), None, json!({"token": "gho_bench", "expires_in": null})).await;
        post_json(&http, format!("{github}/__control/config"), None, json!({"rate_limit": 100_000_000})).await;
        let bearer = access_token(&http, &base, &p).await;
        let project = p["project_id"].as_str().unwrap().to_string();
        let ct = post_json(&http, format!("{base}/v1/connect/{project}/tokens"), Some(&bearer), json!({"external_user_id": USER})).await;
        let acct = post_json(
            &http,
            format!("{base}/v1/connect/{project}/accounts"),
            Some(&bearer),
            json!({"app_slug": "github", "cfmap_json": json!({"oauth_access_token": "gho_bench"}).to_string(), "connect_token": ct["token"]}),
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_string();

        let direct = format!("{github}/repos/octocat/hello-world");
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("/repos/octocat/hello-world");
        let proxy = format!("{base}/v1/connect/{project}/proxy/{enc}?external_user_id={USER}&account_id={acct}");
        let run = format!("{base}/v1/connect/{project}/actions/run");
        let run_body = json!({"id": "github-get-repository", "external_user_id": USER,
                              "configured_props": {"github": {"authProvisionId": acct}, "repoFullname": "octocat/hello-world"}});

        let mut rows = Vec::new();
        for conc in [1usize, 64] {
            let case = |kind: &'static str| {
                let (h, b, d, px, r, rb) = (http.clone(), bearer.clone(), direct.clone(), proxy.clone(), run.clone(), run_body.clone());
                move |_| {
                    let (h, b, d, px, r, rb) = (h.clone(), b.clone(), d.clone(), px.clone(), r.clone(), rb.clone());
                    async move {
                        let req = match kind {
                            "direct" => h.get(d).bearer_auth("gho_bench"),
                            "proxy" => h.get(px).bearer_auth(b),
                            _ => h.post(r).bearer_auth(b).json(&rb),
                        };
                        req.send().await.is_ok_and(|r| r.status().is_success())
                    }
                }
            };
            let d = drive(secs, conc, case("direct")).await;
            let px = drive(secs, conc, case("proxy")).await;
            let r = drive(secs, conc, case("run")).await;
            rows.push(line_for(conc, "direct to the double", &d, None));
            rows.push(line_for(conc, "proxy", &px, Some(&d)));
            rows.push(line_for(conc, "actions/run", &r, Some(&d)));
        }
        rows
    });
    println!(
        "GET /repos/octocat/hello-world on the GitHub double; {secs} s per case after 1 s warm-up\n"
    );
    println!(
        "| concurrency | path | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

fn line_for(conc: usize, what: &str, s: &Stats, base: Option<&Stats>) -> String {
    let added =
        |f: fn(&Stats) -> f64| base.map_or("–".to_string(), |b| format!("{:+.2}", f(s) - f(b)));
    format!(
        "| {conc} | {what} | {:.0} | {:.2} | {:.2} | {} | {} | {} |",
        s.rps,
        s.p50_ms,
        s.p99_ms,
        added(|s| s.p50_ms),
        added(|s| s.p99_ms),
        s.errors
    )
}
