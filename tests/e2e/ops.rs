//! Operations: health, Redis outages, key checks and rotation, revocation,
//! CORS, rate limits, logs, the CLI.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Api, BIN, Backend, Instance, assert_client_error, eventually, free_port};

/// A Redis of this test's own, which it can stop and restart.
struct OwnRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnRedis {
    async fn start() -> Self {
        let mut r = OwnRedis {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        r.spawn().await;
        r
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is not installed (apt-get install redis-server)");
        self.child = Some(child);
        let port = self.port;
        eventually(Duration::from_secs(5), "redis-server to start", || {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
        })
        .await;
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_outage_answers_503_with_retry_after_and_recovers() {
    let mut redis = OwnRedis::start().await;
    let inst = Instance::new(Backend::Embedded).with_env("SWITCHBOARD_REDIS_URL", &redis.url());
    let p = inst.create_project("Outage");
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    let path = format!("/v1/connect/{}/accounts", p.id);
    let (st, _, _) = s.get(&path, &bearer, None).await;
    assert_eq!(st, 200);

    redis.stop();
    let (st, v, h) = s.get(&path, &bearer, None).await;
    assert_eq!(st, 503, "{v}");
    assert!(v["error"].as_str().unwrap().contains("unavailable"));
    assert!(h.get("retry-after").is_some(), "503 carries Retry-After");
    let r = s
        .http
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let r = s
        .http
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "still alive");

    redis.spawn().await;
    eventually(
        Duration::from_secs(10),
        "a recovery without a restart",
        || async {
            match s.get(&path, &bearer, None).await {
                (200, _, _) => Ok(()),
                (st, v, _) => Err(format!("{st} {v}")),
            }
        },
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_encryption_key_stops_startup_with_a_clear_message() {
    let (inst, p, s, bearer) = Instance::serve_project(Backend::Embedded, "Keys").await;
    s.key_account(&bearer, &p.id, None, "u", "sk_1").await;
    s.stop().await;

    // Same key id, different key material.
    let path = inst.data_dir().join("keyring.json");
    let mut ring: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let active = ring["active"].as_str().unwrap().to_string();
    ring["keys"][&active] = json!("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=");
    let original = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, ring.to_string()).unwrap();
    let (ok, err) = inst.run_expecting_exit(Duration::from_secs(15)).await;
    assert!(!ok);
    assert!(err.contains("is wrong"), "{err}");

    // A configured keyring that lacks the key the data was written with.
    std::fs::write(&path, original).unwrap();
    let other = Instance {
        env: vec![
            ("SWITCHBOARD_ENCRYPTION__ACTIVE_KEY".into(), "other".into()),
            (
                "SWITCHBOARD_ENCRYPTION__KEYS__OTHER".into(),
                "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=".into(),
            ),
        ],
        ..inst
    };
    let (ok, err) = other.run_expecting_exit(Duration::from_secs(15)).await;
    assert!(!ok);
    assert!(err.contains("not in the configured keyring"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_key_reencrypts_everything_and_retires_the_old_key() {
    let (inst, p, s, bearer) = Instance::serve_project(Backend::Embedded, "Rotate").await;
    for i in 0..3 {
        s.key_account(&bearer, &p.id, None, &format!("u{i}"), &format!("sk_{i}"))
            .await;
    }
    let (st, v, _) = s
        .call(
            reqwest::Method::POST,
            &format!("/v1/connect/{}/oauth_apps", p.id),
            &bearer,
            None,
            Some(json!({"app": "github", "client_id": "cid", "client_secret": "sealed-too"})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    s.stop().await;
    let before: Value = serde_json::from_str(
        &std::fs::read_to_string(inst.data_dir().join("keyring.json")).unwrap(),
    )
    .unwrap();
    let report = inst.admin(&["rotate-key"]);
    assert_eq!(
        report["reencrypted"], 4,
        "3 accounts and 1 OAuth app secret: {report}"
    );
    assert_ne!(report["active_key"], before["active"]);
    let after: Value = serde_json::from_str(
        &std::fs::read_to_string(inst.data_dir().join("keyring.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        after["keys"].as_object().unwrap().len(),
        1,
        "old key dropped"
    );
    assert_eq!(after["active"], report["active_key"]);

    let s = inst.start().await;
    let (_, v, _) = s
        .get(
            &format!("/v1/connect/{}/accounts?include_credentials=true", p.id),
            &bearer,
            None,
        )
        .await;
    let keys: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["credentials"]["api_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 3);
    s.stop().await;
    // Rotating again finds nothing old.
    assert_eq!(inst.admin(&["rotate-key"])["reencrypted"], 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_a_client_cuts_off_its_tokens_at_once() {
    // On Redis, admin commands run beside a live server.
    let inst = Instance::new(Backend::Redis);
    let p = inst.create_project("Revoke");
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    let path = format!("/v1/connect/{}/accounts", p.id);
    assert_eq!(s.get(&path, &bearer, None).await.0, 200);
    let out = inst.admin(&["revoke-client", "--client-id", &p.client_id]);
    assert_eq!(out["revoked"], true);
    let (st, v, _) = s.get(&path, &bearer, None).await;
    assert_client_error("revoked token", st, &v, 401, "invalid");
    let (st, _) = s.oauth(&Api::grant(&p.client_id, &p.client_secret)).await;
    assert_eq!(st, 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_answer_429_with_retry_after_and_logs_are_json() {
    let inst = Instance::new(Backend::Redis)
        .with_env("SWITCHBOARD_RATE_LIMITS__TOKENS_PER_USER_PER_MINUTE", "2")
        .with_env("SWITCHBOARD_LOG__FORMAT", "json");
    let p = inst.create_project("Limits");
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    let path = format!("/v1/connect/{}/tokens", p.id);
    let body = json!({"external_user_id": "busy"});
    for _ in 0..2 {
        assert_eq!(
            s.call(Method::POST, &path, &bearer, None, Some(body.clone()))
                .await
                .0,
            200
        );
    }
    let (st, v, h) = s.call(Method::POST, &path, &bearer, None, Some(body)).await;
    assert_client_error("rate limit", st, &v, 429, "rate limit");
    let secs: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&secs));
    // Another user is not limited.
    assert_eq!(
        s.call(
            Method::POST,
            &path,
            &bearer,
            None,
            Some(json!({"external_user_id": "calm"}))
        )
        .await
        .0,
        200
    );
    s.stop().await;
    let log = std::fs::read_to_string(inst.log_path()).unwrap();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| !l.starts_with("switchboard:"))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("\"status\":429")),
        "access log has the 429"
    );
    for l in lines {
        serde_json::from_str::<Value>(l).unwrap_or_else(|_| panic!("not a JSON log line: {l}"));
    }
    assert!(!log.contains(&bearer) && !log.contains(&p.client_secret));
}

#[test]
fn help_documents_the_flags_and_their_variables() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for (flag, var) in [
        ("--listen", "SWITCHBOARD_LISTEN"),
        ("--public-url", "SWITCHBOARD_PUBLIC_URL"),
        ("--data-dir", "SWITCHBOARD_DATA_DIR"),
        ("--redis-url", "SWITCHBOARD_REDIS_URL"),
        ("--config", "SWITCHBOARD_CONFIG"),
    ] {
        assert!(
            help.contains(flag) && help.contains(var),
            "--help lacks {flag}/{var}:\n{help}"
        );
    }
    for cmd in ["serve", "work", "all", "admin"] {
        assert!(help.contains(cmd), "--help lacks {cmd}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn first_start_bootstraps_a_project_and_prints_its_credentials() {
    let inst =
        Instance::new(Backend::Embedded).with_env("SWITCHBOARD_BOOTSTRAP__DEV_PROJECT", "true");
    let s = inst.start().await;
    let creds: Value = serde_json::from_str(
        &std::fs::read_to_string(inst.data_dir().join("credentials.json")).unwrap(),
    )
    .unwrap();
    let log = std::fs::read_to_string(inst.log_path()).unwrap();
    assert!(
        log.contains(creds["client_secret"].as_str().unwrap()),
        "printed once for the user"
    );
    let p = crate::harness::Project::from_json(&creds);
    let bearer = s.token(&p).await;
    let (st, _, _) = s
        .get(
            &format!("/v1/connect/{}/accounts", p.id),
            &bearer,
            Some("development"),
        )
        .await;
    assert_eq!(st, 200);
    let r = s
        .http
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["store"], "embedded");
    s.stop().await;
}
