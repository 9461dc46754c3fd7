//! `Api`, the one client of Switchboard's HTTP API for both test targets:
//! `tests/app`'s `TestApp` (in-process) and `tests/e2e`'s `Server` (the
//! binary) each hold one and `Deref` to it. Included by each with
//! `#[path = "../common/api.rs"] mod api;`.

// Each target uses a different subset.
#![allow(dead_code)]

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// An HTTP client for tests. reqwest is built with rustls and no default
/// crypto provider (the server picks ring), so install it first.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// `client`, but showing redirects instead of following them.
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
    /// From admin `--json` output or `credentials.json`.
    pub fn from_json(v: &Value) -> Self {
        let field = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| panic!("no {k} in {v}"))
                .to_string()
        };
        Project {
            id: field("project_id"),
            client_id: field("client_id"),
            client_secret: field("client_secret"),
        }
    }
}

/// The API at `base` (`http://127.0.0.1:<port>`; also the base of inbound
/// URLs), through `http` (`client()`: follows redirects, no default
/// headers).
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: String) -> Self {
        Api {
            base,
            http: client(),
        }
    }

    /// The body of a client-credentials grant.
    pub fn grant(client_id: &str, client_secret: &str) -> Value {
        json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret})
    }

    /// `POST /v1/oauth/token` with any body; returns (status, JSON).
    pub async fn oauth(&self, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/v1/oauth/token", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// An access token for `p`'s credentials.
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
            .request(method, format!("{}{path}", self.base))
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

    /// `POST path` that must succeed; the string `field` of its answer.
    async fn post_for(
        &self,
        path: &str,
        bearer: &str,
        env: Option<&str>,
        body: Value,
        field: &str,
    ) -> String {
        let (st, v, _) = self.call(Method::POST, path, bearer, env, Some(body)).await;
        assert_eq!(st, 200, "{v}");
        v[field].as_str().unwrap().to_string()
    }

    async fn new_connect_token(
        &self,
        bearer: &str,
        project: &str,
        env: Option<&str>,
        body: Value,
    ) -> String {
        let path = format!("/v1/connect/{project}/tokens");
        self.post_for(&path, bearer, env, body, "token").await
    }

    /// A connect token for `user`.
    pub async fn connect_token(
        &self,
        bearer: &str,
        project: &str,
        env: Option<&str>,
        user: &str,
    ) -> String {
        let body = json!({"external_user_id": user});
        self.new_connect_token(bearer, project, env, body).await
    }

    /// A connect token for user `u1` with `extra` fields (redirects, webhook).
    pub async fn connect_token_with(&self, bearer: &str, project: &str, extra: Value) -> String {
        let mut body = json!({"external_user_id": "u1"});
        for (k, v) in extra.as_object().into_iter().flatten() {
            body[k] = v.clone();
        }
        self.new_connect_token(bearer, project, None, body).await
    }

    /// A connect token for `user` with the given scopes.
    pub async fn scoped_connect_token(
        &self,
        bearer: &str,
        project: &str,
        user: &str,
        scope: &str,
    ) -> String {
        let body = json!({"external_user_id": user, "scope": scope});
        self.new_connect_token(bearer, project, None, body).await
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
        self.import_in(bearer, project, env, user, "stripe", cfmap)
            .await
    }

    /// Imports an account of `app` for `user` with the given credential
    /// fields; returns its id.
    pub async fn import_account(
        &self,
        bearer: &str,
        project: &str,
        user: &str,
        app: &str,
        cfmap: Value,
    ) -> String {
        self.import_in(bearer, project, None, user, app, cfmap)
            .await
    }

    async fn import_in(
        &self,
        bearer: &str,
        project: &str,
        env: Option<&str>,
        user: &str,
        app: &str,
        cfmap: Value,
    ) -> String {
        let ct = self.connect_token(bearer, project, env, user).await;
        let body = json!({"app_slug": app, "cfmap_json": cfmap.to_string(), "connect_token": ct});
        let path = format!("/v1/connect/{project}/accounts");
        self.post_for(&path, bearer, env, body, "id").await
    }

    /// User `u1`'s accounts of `app` (with credentials when asked).
    pub async fn user_accounts(
        &self,
        bearer: &str,
        project: &str,
        app: &str,
        credentials: bool,
    ) -> Vec<Value> {
        let path = format!(
            "/v1/connect/{project}/accounts?external_user_id=u1&app={app}&include_credentials={credentials}"
        );
        let (st, v, _) = self.get(&path, bearer, None).await;
        assert_eq!(st, 200, "{v}");
        v["data"].as_array().unwrap().clone()
    }

    /// `POST triggers/deploy` that must succeed; the deployed trigger.
    pub async fn deploy(&self, bearer: &str, project: &str, body: Value) -> Value {
        let path = format!("/v1/connect/{project}/triggers/deploy");
        let (st, v, _) = self.post(&path, bearer, body).await;
        assert_eq!(st, 200, "deploy: {v}");
        v["data"].clone()
    }

    /// `GET deployed-triggers/{id}` of user `u1`.
    pub async fn deployed_trigger(&self, bearer: &str, project: &str, id: &str) -> Value {
        let path = format!("/v1/connect/{project}/deployed-triggers/{id}?external_user_id=u1");
        let (st, v, _) = self.get(&path, bearer, None).await;
        assert_eq!(st, 200, "{v}");
        v["data"].clone()
    }

    /// The newest 100 events of user `u1`'s deployed trigger `id`.
    pub async fn trigger_events(&self, bearer: &str, project: &str, id: &str) -> Vec<Value> {
        let path = format!(
            "/v1/connect/{project}/deployed-triggers/{id}/events?external_user_id=u1&n=100"
        );
        let (st, v, _) = self.get(&path, bearer, None).await;
        assert_eq!(st, 200, "{v}");
        v["data"].as_array().cloned().unwrap_or_default()
    }

    /// POSTs `body` to an inbound URL; returns the status.
    pub async fn send_hook(&self, url: &str, body: Value) -> u16 {
        let r = self.http.post(url).json(&body).send().await.unwrap();
        r.status().as_u16()
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
