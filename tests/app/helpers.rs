//! The in-process harness: the application built by `Application::build`
//! on this test's tokio runtime (API on port 0, workers running), a
//! recording webhook receiver, and `eventually` instead of sleep loops.
//!
//! The `app` target runs on the embedded store in a temporary directory;
//! the `app_redis` target (the same sources, run by `scripts/test`) runs on
//! the Redis at `SWITCHBOARD_TEST_REDIS_URL`, with a key prefix per app.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use switchboard::{Application, Roles};
use switchboard_config::{Config, Overrides};
use switchboard_domain::Core;
use switchboard_domain::model::Environment;
use switchboard_domain::tenancy::projects::{ClientCredentials, NewProject};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::receiver::{listen, read_request};

// Shared with `tests/e2e`; modules keep naming them `super::helpers::…`.
pub use super::api::{Api, Project, assert_client_error, client, hook_url, no_redirects};
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

impl Project {
    pub fn from_credentials(c: &ClientCredentials) -> Self {
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
    /// The API client (`TestApp` derefs to it); its `base` is empty in
    /// `Roles::Work` (no API).
    pub api: Api,
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
    let base = app.base_url().unwrap_or_default();
    let mut t = TestApp {
        app,
        api: Api::new(base),
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
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
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
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let st = state.clone();
        let url = listen(move |conn| serve(conn, st.clone())).await;
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
    while let Some(req) = read_request(&mut conn).await {
        let (status, delay) = {
            let mut st = state.lock().unwrap();
            let rule = st
                .rules
                .iter_mut()
                .find(|r| r.count > 0 && req.path.starts_with(&r.path_prefix));
            let planned = rule.map(|r| {
                r.count -= 1;
                (r.status, r.delay)
            });
            let (status, delay) = planned.unwrap_or((200, Duration::ZERO));
            st.received.push(Received {
                method: req.method,
                path: req.path,
                headers: req.headers,
                body: String::from_utf8_lossy(&req.body).into_owned(),
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
