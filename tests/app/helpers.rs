//! The in-process harness: the application built by `Application::build`
//! on this test's tokio runtime (API on port 0, workers running), a
//! recording webhook receiver, and `eventually` instead of sleep loops.
//!
//! The `app` target runs on the embedded store in a temporary directory;
//! the `app_redis` target (the same sources, run by `scripts/test`) runs on
//! the Redis at `SWITCHBOARD_TEST_REDIS_URL`, with a key prefix per app.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use switchboard::{Application, Roles};
use switchboard_config::{Config, Overrides};
use switchboard_domain::Core;
use switchboard_domain::model::Environment;
use switchboard_domain::tenancy::projects::{ClientCredentials, NewProject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// Shared with `tests/e2e`; modules keep naming it `super::helpers::eventually`.
pub use super::eventually::eventually;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Redis,
}

/// The store this target runs on (see the module doc).
pub fn backend() -> Backend {
    if env!("CARGO_CRATE_NAME") == "app_redis" {
        Backend::Redis
    } else {
        Backend::Embedded
    }
}

fn redis_url() -> String {
    std::env::var("SWITCHBOARD_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "the app_redis target needs SWITCHBOARD_TEST_REDIS_URL (./scripts/test starts a \
             throwaway redis-server); plain `cargo test --test app` needs nothing"
        )
    })
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// An HTTP client for tests. reqwest is built with rustls and no default
/// crypto provider (the server picks ring), so install it first.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Client credentials of a project.
#[derive(Clone, Debug)]
pub struct Project {
    pub id: String,
    pub client_id: String,
    pub client_secret: String,
}

impl Project {
    fn from_credentials(c: &ClientCredentials) -> Self {
        Project {
            id: c.project_id.clone(),
            client_id: c.client_id.clone(),
            client_secret: c.client_secret.clone(),
        }
    }
}

/// A running application with one project (`project`) and an access
/// token for it (`bearer`). There is no readiness to wait for: `build`
/// returns with the listener bound and the worker loops spawned, and work
/// committed before a loop's first read is found by that read.
pub struct TestApp {
    pub app: Application,
    /// `http://127.0.0.1:<port>`: the API, and the base of inbound URLs;
    /// empty in `Roles::Work` (no API).
    pub address: String,
    pub http: reqwest::Client,
    pub project: Project,
    pub bearer: String,
    pub backend: Backend,
    _data_dir: tempfile::TempDir,
}

/// The test configuration: the defaults (and any `SWITCHBOARD_*` in the
/// environment, as the binary reads them), on port 0, in `data_dir`, on
/// this target's store, with loopback receivers allowed.
pub fn test_config(data_dir: &std::path::Path) -> Config {
    let mut cfg = Config::load(None, &Overrides::default()).expect("the default configuration");
    cfg.listen = "127.0.0.1:0".into();
    cfg.public_url = "http://127.0.0.1:0".into();
    cfg.data_dir = data_dir.to_path_buf();
    cfg.bootstrap.dev_project = false;
    cfg.http.workers = 2;
    // Test receivers listen on loopback, which the SSRF guard refuses
    // unless allowlisted.
    cfg.outbound.allow_private_networks = vec!["127.0.0.0/8".into()];
    match backend() {
        Backend::Embedded => cfg.redis_url = String::new(),
        Backend::Redis => {
            cfg.redis_url = redis_url();
            cfg.redis_key_prefix = format!("sbapp{}", switchboard_domain::ids::random_hex(6));
        }
    }
    cfg
}

/// The application with the test configuration, serving and working.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// `spawn_app` with the configuration changed by `tweak` first.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_as(Roles::All, tweak).await
}

/// `spawn_app_with` in one role (`Roles::Serve`: no workers, so a test
/// drives them with `switchboard_worker::*_once`; `Roles::Work`: no API,
/// so no `address` and no `bearer`, the project made through the domain).
pub async fn spawn_app_as(roles: Roles, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    tweak(&mut cfg);
    let app = Application::build_with(cfg, roles)
        .await
        .expect("the application builds");
    assert_eq!(app.base_url().is_some(), roles.serves());
    let address = app.base_url().unwrap_or_default();
    let mut t = TestApp {
        app,
        address,
        http: client(),
        project: Project {
            id: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
        },
        bearer: String::new(),
        backend: backend(),
        _data_dir: dir,
    };
    t.project = t.create_project("test").await;
    if roles.serves() {
        t.bearer = t.token(&t.project.clone()).await;
    }
    t
}

impl TestApp {
    pub fn core(&self) -> &Arc<Core> {
        self.app.core()
    }

    /// Shuts down as SIGTERM does (draining), which must succeed.
    pub async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(30), self.app.shutdown())
            .await
            .expect("no shutdown 30 s after it was asked for")
            .expect("a clean shutdown");
    }

    /// `/v1/connect/<project>/<rest>` of the app's own project.
    pub fn path(&self, rest: &str) -> String {
        format!("/v1/connect/{}/{rest}", self.project.id)
    }

    /// A new project with `*` credentials for both environments (what
    /// `admin create-project` does).
    pub async fn create_project(&self, name: &str) -> Project {
        self.create_project_as(NewProject {
            name: name.into(),
            ..Default::default()
        })
        .await
    }

    pub async fn create_project_as(&self, p: NewProject) -> Project {
        let (_, c) = self
            .core()
            .tenancy
            .create_project(p)
            .await
            .expect("create project");
        Project::from_credentials(&c)
    }

    /// More credentials for `project` (what `admin issue-client` does);
    /// `envs` empty means both.
    pub async fn issue_client(
        &self,
        project: &str,
        scope: Option<&str>,
        envs: &[Environment],
    ) -> Project {
        let envs = if envs.is_empty() {
            Environment::ALL.to_vec()
        } else {
            envs.to_vec()
        };
        let c = self
            .core()
            .tenancy
            .issue_client(project, scope, &envs)
            .await
            .expect("issue client");
        Project::from_credentials(&c)
    }

    /// `POST /v1/oauth/token` with any body; returns (status, JSON).
    pub async fn oauth(&self, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/v1/oauth/token", self.address))
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    pub fn grant(client_id: &str, client_secret: &str) -> Value {
        json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret})
    }

    /// An access token for `p`'s credentials, through the API.
    pub async fn token(&self, p: &Project) -> String {
        let (status, v) = self
            .oauth(&Self::grant(&p.client_id, &p.client_secret))
            .await;
        assert_eq!(status, 200, "{v}");
        v["access_token"].as_str().unwrap().to_string()
    }

    /// A request with a bearer and optional environment; returns (status,
    /// JSON body or Null, headers).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
        env: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value, HeaderMap) {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(bearer);
        if let Some(e) = env {
            rb = rb.header("x-pd-environment", e);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("non-JSON body for {path}: {text}"))
        };
        (status, v, headers)
    }

    pub async fn get(
        &self,
        path: &str,
        bearer: &str,
        env: Option<&str>,
    ) -> (u16, Value, HeaderMap) {
        self.call(Method::GET, path, bearer, env, None).await
    }

    pub async fn post(&self, path: &str, bearer: &str, body: Value) -> (u16, Value, HeaderMap) {
        self.call(Method::POST, path, bearer, None, Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, bearer: &str) -> (u16, Value, HeaderMap) {
        self.call(Method::DELETE, path, bearer, None, None).await
    }

    /// A connect token for user `u1` with `extra` fields (redirects, webhook).
    pub async fn connect_token_with(&self, bearer: &str, project: &str, extra: Value) -> String {
        let mut body = json!({"external_user_id": "u1"});
        for (k, v) in extra.as_object().into_iter().flatten() {
            body[k] = v.clone();
        }
        let (st, v, _) = self
            .post(&format!("/v1/connect/{project}/tokens"), bearer, body)
            .await;
        assert_eq!(st, 200, "{v}");
        v["token"].as_str().unwrap().to_string()
    }

    pub async fn connect_token(
        &self,
        bearer: &str,
        project: &str,
        env: Option<&str>,
        user: &str,
    ) -> String {
        let (s, v, _) = self
            .call(
                Method::POST,
                &format!("/v1/connect/{project}/tokens"),
                bearer,
                env,
                Some(json!({"external_user_id": user})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["token"].as_str().unwrap().to_string()
    }

    /// Creates a key-based (stripe) account for `user`; returns its id.
    pub async fn key_account(
        &self,
        bearer: &str,
        project: &str,
        env: Option<&str>,
        user: &str,
        key: &str,
    ) -> String {
        let cfmap = json!({"api_key": key});
        self.import_account(bearer, project, env, user, "stripe", cfmap)
            .await
    }

    /// Imports an account of `app` with the given credential fields.
    pub async fn import_account(
        &self,
        bearer: &str,
        project: &str,
        env: Option<&str>,
        user: &str,
        app: &str,
        cfmap: Value,
    ) -> String {
        let ct = self.connect_token(bearer, project, env, user).await;
        let (s, v, _) = self
            .call(
                Method::POST,
                &format!("/v1/connect/{project}/accounts"),
                bearer,
                env,
                Some(
                    json!({"app_slug": app, "cfmap_json": cfmap.to_string(), "connect_token": ct}),
                ),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// `POST triggers/deploy` in the app's project that must succeed; the
    /// deployed trigger.
    pub async fn deploy(&self, body: Value) -> Value {
        let (st, v, _) = self
            .post(&self.path("triggers/deploy"), &self.bearer, body)
            .await;
        assert_eq!(st, 200, "deploy: {v}");
        v["data"].clone()
    }

    /// The newest 100 events of user `u1`'s deployed trigger `id`.
    pub async fn trigger_events(&self, id: &str) -> Vec<Value> {
        let (st, v, _) = self
            .get(
                &self.path(&format!(
                    "deployed-triggers/{id}/events?external_user_id=u1&n=100"
                )),
                &self.bearer,
                None,
            )
            .await;
        assert_eq!(st, 200, "{v}");
        v["data"].as_array().cloned().unwrap_or_default()
    }

    /// POSTs `body` to an inbound URL; returns the status.
    pub async fn send_hook(&self, url: &str, body: Value) -> u16 {
        self.http
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// A deployed trigger's inbound URL.
pub fn hook_url(deployed: &Value) -> String {
    deployed["configured_props"]["http"]["endpoint_url"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Asserts a clear JSON error with a 4xx status.
pub fn assert_client_error(what: &str, status: u16, body: &Value, expected: u16, needle: &str) {
    assert_eq!(status, expected, "{what}: got {status} {body}");
    let msg = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no error string in {body}"));
    assert!(
        msg.to_lowercase().contains(&needle.to_lowercase()),
        "{what}: error {msg:?} should mention {needle:?}"
    );
}

/// One request a `TestReceiver` got, and how it answered.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: String,
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{} body is not JSON ({e}): {}", self.path, self.body))
    }
}

/// A planned answer for the next `count` requests under `path_prefix`.
struct Rule {
    path_prefix: String,
    count: u32,
    status: u16,
    delay: Duration,
}

#[derive(Default)]
struct ReceiverState {
    received: Vec<Received>,
    rules: Vec<Rule>,
}

/// A webhook receiver on 127.0.0.1 (raw tokio, HTTP/1.1 with keep-alive)
/// that records every request and answers 200 `{}`, unless told to answer
/// some requests otherwise (`fail`, `delay`). Each answer is recorded
/// with its request.
pub struct TestReceiver {
    pub url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl TestReceiver {
    pub async fn start() -> TestReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, st.clone()));
            }
        });
        TestReceiver { url, state }
    }

    /// `url` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The next `count` requests under `path_prefix` get `status`.
    pub fn fail(&self, path_prefix: &str, status: u16, count: u32) {
        self.plan(path_prefix, count, status, Duration::ZERO);
    }

    /// The next `count` requests under `path_prefix` are answered (200)
    /// only after `delay`.
    pub fn delay(&self, path_prefix: &str, delay: Duration, count: u32) {
        self.plan(path_prefix, count, 200, delay);
    }

    fn plan(&self, path_prefix: &str, count: u32, status: u16, delay: Duration) {
        self.state.lock().unwrap().rules.push(Rule {
            path_prefix: path_prefix.into(),
            count,
            status,
            delay,
        });
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The requests whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect()
    }

    /// Waits until `n` requests have arrived (at least); returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        self.wait_for_path("", n, timeout).await
    }

    /// Waits until `n` requests under `prefix` have arrived; returns them.
    pub async fn wait_for_path(&self, prefix: &str, n: usize, timeout: Duration) -> Vec<Received> {
        let what = format!("{n} requests to {}{prefix}", self.url);
        eventually(timeout, &what, || async {
            let got = self.requests_to(prefix);
            if got.len() >= n {
                Ok(got)
            } else {
                Err(got
                    .iter()
                    .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
                    .collect::<Vec<_>>())
            }
        })
        .await
    }
}

async fn serve(mut conn: TcpStream, state: Arc<Mutex<ReceiverState>>) {
    while let Some((method, path, headers, body)) = read_request(&mut conn).await {
        let (status, delay) = {
            let mut st = state.lock().unwrap();
            let rule = st
                .rules
                .iter_mut()
                .find(|r| r.count > 0 && path.starts_with(&r.path_prefix));
            let planned = rule.map(|r| {
                r.count -= 1;
                (r.status, r.delay)
            });
            let (status, delay) = planned.unwrap_or((200, Duration::ZERO));
            st.received.push(Received {
                method,
                path,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
                status,
            });
            (status, delay)
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let answer = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}"
        );
        if conn.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads one request (head and Content-Length body, at most 1 MiB).
async fn read_request(
    conn: &mut TcpStream,
) -> Option<(String, String, HashMap<String, String>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let (method, path) = (start.next()?.to_string(), start.next()?.to_string());
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((method, path, headers, body))
}
