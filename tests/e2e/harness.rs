//! Runs the real `switchboard` binary on a free loopback port, against the
//! embedded store in a temp dir or the throwaway Redis the test command
//! started (with a key prefix per server, so tests never see each other).

use std::io::BufRead;
use std::net::TcpListener;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

// Shared with `tests/app`; tests keep naming them `crate::harness::…`.
pub use crate::api::{Api, Project, assert_client_error, client, hook_url, no_redirects};
pub use crate::eventually::eventually;

pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Embedded,
    Redis,
}

pub const BACKENDS: [Backend; 2] = [Backend::Embedded, Backend::Redis];

pub fn redis_url() -> String {
    std::env::var("SWITCHBOARD_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "SWITCHBOARD_TEST_REDIS_URL is not set. Run ./scripts/test (it starts a throwaway \
             redis-server; install one with `apt-get install redis-server`)."
        )
    })
}

/// Held by the tests that load the machine on purpose (floods, chaos,
/// scale), so no two of them run at once: on 2 cores, two together starve
/// each other's servers and their timing assertions measure the overlap.
pub async fn heavy() -> tokio::sync::MutexGuard<'static, ()> {
    static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    HEAVY.lock().await
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn unique(tag: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}{n}")
}

/// Where a server keeps its state; survives restarts of the process.
pub struct Instance {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub redis_prefix: String,
    pub env: Vec<(String, String)>,
}

impl Instance {
    pub fn new(backend: Backend) -> Self {
        Instance {
            backend,
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
            redis_prefix: unique("sbe2e"),
            env: Vec::new(),
        }
    }

    pub fn with_env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("SWITCHBOARD_PUBLIC_URL", self.base())
            .env("SWITCHBOARD_DATA_DIR", self.data_dir())
            .env("SWITCHBOARD_BOOTSTRAP__DEV_PROJECT", "false")
            .env("SWITCHBOARD_LOG__LEVEL", "info")
            .env_remove("RUST_LOG");
        match self.backend {
            Backend::Embedded => c.env("SWITCHBOARD_REDIS_URL", ""),
            Backend::Redis => c
                .env("SWITCHBOARD_REDIS_URL", redis_url())
                .env("SWITCHBOARD_REDIS_KEY_PREFIX", &self.redis_prefix),
        };
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// `switchboard admin --json …`; panics with stderr on failure.
    pub fn admin(&self, args: &[&str]) -> Value {
        let out = self
            .command()
            .arg("admin")
            .arg("--json")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "admin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "admin output is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// A running server with one project and an access token for it.
    pub async fn serve_project(
        backend: Backend,
        name: &str,
    ) -> (Instance, Project, Server, String) {
        let inst = Instance::new(backend);
        let p = inst.create_project(name);
        let s = inst.start().await;
        let bearer = s.token(&p).await;
        (inst, p, s, bearer)
    }

    pub fn create_project(&self, name: &str) -> Project {
        Project::from_json(&self.admin(&["create-project", "--name", name]))
    }

    pub fn log_path(&self) -> PathBuf {
        self.data_dir().join("server.log")
    }

    /// Runs the binary with extra args and returns (success, stderr) without
    /// waiting for readiness: for start-up failures.
    pub async fn run_expecting_exit(&self, timeout: Duration) -> (bool, String) {
        let child = self
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Killed if it never exits (the timeout's panic drops it).
        let mut child = KillOnDrop(child);
        let status = eventually(timeout, "switchboard to exit", || {
            let exited = child.0.try_wait().unwrap();
            async move { exited }
        })
        .await;
        let mut err = String::new();
        use std::io::Read;
        child
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status.success(), err)
    }

    pub async fn start(&self) -> Server {
        self.start_role("all", self.port).await
    }

    /// Starts the binary as `role` (`all`, `serve` or `work`), listening on
    /// `port` (0: a free one): the API's roles serve the API there, `work`
    /// its health endpoints (`worker.health_listen`); either way `Server`'s
    /// `base`, and ready once `/readyz` answers 200. Several may share one
    /// Redis instance.
    pub async fn start_role(&self, role: &str, port: u16) -> Server {
        self.start_role_with(role, port, &[]).await
    }

    /// `start_role` with extra environment for this process only.
    pub async fn start_role_with(&self, role: &str, port: u16, env: &[(&str, &str)]) -> Server {
        // Picked here rather than bound by the process: the harness must
        // know where to probe.
        let port = if port == 0 { free_port() } else { port };
        let path = if role == "all" {
            self.log_path()
        } else {
            self.data_dir().join(format!("{role}-{port}.log"))
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let mut command = self.command();
        command.env("SWITCHBOARD_LISTEN", &addr);
        if role == "work" {
            command.env("SWITCHBOARD_WORKER__HEALTH_LISTEN", &addr);
        }
        let child = command
            .envs(env.iter().copied())
            .arg(role)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        // A `Server` at once, so a start that times out kills the process.
        let mut server = Server {
            child: Some(child),
            api: Api::new(format!("http://{addr}")),
        };
        let readyz = format!("{}/readyz", server.base);
        eventually(
            Duration::from_secs(20),
            &format!("switchboard {role} to be ready ({readyz})"),
            || {
                if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                    panic!(
                        "switchboard {role} exited with {status} before it was ready:\n{}",
                        std::fs::read_to_string(&path).unwrap_or_default()
                    );
                }
                let probe = server.api.http.get(&readyz).send();
                async move {
                    match probe.await {
                        Ok(r) if r.status().is_success() => Ok(()),
                        Ok(r) => Err(r.status().to_string()),
                        Err(e) => Err(e.without_url().to_string()),
                    }
                }
            },
        )
        .await;
        server
    }
}

/// A running `switchboard` process (killed when dropped); derefs to the
/// `Api` at its `base`.
pub struct Server {
    child: Option<Child>,
    pub api: Api,
}

impl Deref for Server {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Server {
    /// Whether the process has exited (crashed, for failpoint tests).
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_some())
    }

    /// SIGKILL: the process dies with whatever it has in flight.
    pub fn kill(mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM, then expect a clean exit.
    pub async fn stop(mut self) {
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.as_ref().unwrap().id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
        // Still in `self`: if it never exits, the timeout's panic kills it.
        let status = eventually(Duration::from_secs(30), "an exit after SIGTERM", || {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            async move { exited }
        })
        .await;
        self.child = None;
        assert!(
            status.success(),
            "switchboard exited with {status} on SIGTERM"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A child process killed when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The provider test doubles (`tests/doubles/server.mjs`): one local HTTP
/// server per provider. They exit when this handle (their stdin) drops.
pub struct Doubles {
    child: Child,
    pub urls: Value,
    http: reqwest::Client,
}

impl Doubles {
    pub fn start() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/doubles");
        assert!(
            dir.join("node_modules/@octokit/fixtures").exists(),
            "the provider doubles' packages are not installed: run `npm ci --prefix tests/doubles` (./scripts/test does)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot run node (install Node.js 20)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let urls: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("doubles printed {line:?}: {e}"));
        Doubles {
            child,
            urls,
            http: client(),
        }
    }

    pub fn url(&self, provider: &str) -> String {
        self.urls[provider].as_str().unwrap().to_string()
    }

    /// Points an instance's apps at the doubles and allowlists loopback.
    pub fn configure(&self, inst: Instance, allow_loopback: bool) -> Instance {
        let mut inst = inst
            .with_env("SWITCHBOARD_APPS__GITHUB__BASE_URL", &self.url("github"))
            .with_env(
                "SWITCHBOARD_APPS__GITHUB__TOKEN_URL",
                &format!("{}/login/oauth/access_token", self.url("github")),
            )
            .with_env(
                "SWITCHBOARD_APPS__SLACK__BASE_URL",
                &format!("{}/api", self.url("slack")),
            )
            .with_env(
                "SWITCHBOARD_APPS__SLACK__TOKEN_URL",
                &format!("{}/api/oauth.v2.access", self.url("slack")),
            )
            .with_env("SWITCHBOARD_APPS__STRIPE__BASE_URL", &self.url("stripe"))
            .with_env("SWITCHBOARD_APPS__HUBSPOT__BASE_URL", &self.url("hubspot"))
            .with_env("SWITCHBOARD_OUTBOUND__PROXY_TIMEOUT_SECS", "2");
        if allow_loopback {
            inst = inst.with_env(
                "SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_NETWORKS",
                "[\"127.0.0.0/8\"]",
            );
        }
        inst
    }

    /// A control call on one provider's double.
    pub async fn control(
        &self,
        provider: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut rb = self
            .http
            .request(method, format!("{}/__control/{path}", self.url(provider)));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(
            status.is_success(),
            "control {provider} {path}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn post(&self, provider: &str, path: &str, body: Value) -> Value {
        self.control(provider, reqwest::Method::POST, path, Some(body))
            .await
    }

    /// Makes the provider's double accept `token` (no expiry).
    pub async fn accept_token(&self, provider: &str, token: &str) {
        self.post(
            provider,
            "tokens",
            json!({"token": token, "expires_in": null}),
        )
        .await;
    }

    /// Requests the double received (control calls excluded).
    pub async fn requests(&self, provider: &str) -> Vec<Value> {
        self.control(provider, reqwest::Method::GET, "requests", None)
            .await["requests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Doubles {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (up to 10 s) until the HTTP double has received `n` requests
/// whose path starts with `prefix`, and returns them.
pub async fn received(doubles: &Doubles, prefix: &str, n: usize) -> Vec<serde_json::Value> {
    let what = format!("{n} deliveries to {prefix}");
    eventually(Duration::from_secs(10), &what, || async {
        let seen: Vec<Value> = doubles
            .requests("http")
            .await
            .into_iter()
            .filter(|r| r["path"].as_str().unwrap_or_default().starts_with(prefix))
            .collect();
        if seen.len() >= n {
            Ok(seen)
        } else {
            Err(seen.len())
        }
    })
    .await
}

/// The Standard Webhooks headers of a received request.
pub fn sw_headers(r: &serde_json::Value) -> serde_json::Value {
    let h = &r["headers"];
    json!({"webhook-id": h["webhook-id"], "webhook-timestamp": h["webhook-timestamp"], "webhook-signature": h["webhook-signature"]})
}

/// Verifies a delivery with the real `standardwebhooks` package (PyPI).
pub fn verify_with_standardwebhooks(secret: &str, body: &str, headers: &serde_json::Value) -> bool {
    let py = std::env::var("SWITCHBOARD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
secret, body, headers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
Webhook(secret).verify(body, headers)
"#;
    let out = std::process::Command::new(&py)
        .args(["-c", script, secret, body, &headers.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {py}: {e}"));
    assert!(
        out.status.success()
            || String::from_utf8_lossy(&out.stderr).contains("WebhookVerificationError"),
        "{py} cannot verify (install tests/sdk/python/requirements.txt; ./scripts/test does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success()
}

/// The OAuth server, stopped on drop.
pub struct AuthServer {
    child: Child,
    pub base: String,
    http: reqwest::Client,
}

impl AuthServer {
    pub fn start() -> AuthServer {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/doubles");
        let mut child = Command::new("node")
            .arg("oauth-server.mjs")
            .current_dir(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node (install Node.js 20+): {e}"));
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            panic!("oauth-server.mjs did not start ({line:?}); run `npm ci --prefix tests/doubles`")
        });
        AuthServer {
            child,
            base: format!("http://127.0.0.1:{}", v["port"]),
            http: client(),
        }
    }

    /// A control call (see oauth-server.mjs): `config`, `revoke`,
    /// `expire`, `stats`, `reset-stats`.
    pub async fn control(&self, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/__control/{path}", self.base);
        let rb = match body {
            Some(b) => self.http.post(url).json(&b),
            None if path == "stats" => self.http.get(url),
            None => self.http.post(url),
        };
        let r = rb.send().await.unwrap();
        assert!(
            r.status().is_success(),
            "oauth control {path}: {}",
            r.status()
        );
        r.json().await.unwrap_or(Value::Null)
    }

    /// Token requests the server answered, by grant type.
    pub async fn token_requests(&self, grant: &str) -> u64 {
        self.control("stats", None).await["token_requests"][grant]
            .as_u64()
            .unwrap_or(0)
    }

    /// An instance whose HubSpot app authorizes here, with its API under
    /// `/api` (so the proxy reaches the server's protected resource).
    pub fn configure(&self, inst: Instance) -> Instance {
        inst.with_env(
            "SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_NETWORKS",
            "[\"127.0.0.0/8\"]",
        )
        .with_env(
            "SWITCHBOARD_APPS__HUBSPOT__AUTHORIZE_URL",
            &format!("{}/authorize", self.base),
        )
        .with_env(
            "SWITCHBOARD_APPS__HUBSPOT__TOKEN_URL",
            &format!("{}/token", self.base),
        )
        .with_env(
            "SWITCHBOARD_APPS__HUBSPOT__BASE_URL",
            &format!("{}/api", self.base),
        )
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
