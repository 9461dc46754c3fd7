//! Components as data, end to end: the catalog, remote options, reload
//! props, runAction and the proxy, against the provider test doubles.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{
    Backend, Doubles, Instance, Project, Server, assert_client_error, received, sw_headers,
    verify_with_standardwebhooks,
};

pub struct World {
    pub doubles: Doubles,
    pub inst: Instance,
    pub project: Project,
    /// A second project, for isolation checks.
    pub other: Project,
    pub server: Server,
    pub bearer: String,
    pub user: String,
    pub slack: String,
    pub github: String,
    pub stripe: String,
    /// An operator client issued in `project` (`admin issue-client --operator`).
    pub operator: Project,
}

impl World {
    pub async fn new(backend: Backend) -> Self {
        Self::with(backend, |i, _| i).await
    }

    /// `new`, with more configuration of the instance (given the doubles).
    pub async fn with(
        backend: Backend,
        extra: impl FnOnce(Instance, &Doubles) -> Instance,
    ) -> Self {
        let doubles = Doubles::start();
        let inst = extra(doubles.configure(Instance::new(backend), true), &doubles);
        let project = inst.create_project("components");
        let other = inst.create_project("other");
        let operator = Project::from_json(&inst.admin(&[
            "issue-client",
            "--project",
            &project.id,
            "--operator",
        ]));
        let server = inst.start().await;
        let bearer = server.token(&project).await;
        let user = "user-1".to_string();
        let mut accounts = Vec::new();
        for (app, token, cfmap) in [
            (
                "slack",
                "xoxb-valid",
                json!({"oauth_access_token": "xoxb-valid"}),
            ),
            (
                "github",
                "gho_valid",
                json!({"oauth_access_token": "gho_valid"}),
            ),
            (
                "stripe",
                "sk_test_valid1234",
                json!({"api_key": "sk_test_valid1234"}),
            ),
        ] {
            doubles.accept_token(app, token).await;
            accounts.push(
                server
                    .import_account(&bearer, &project.id, &user, app, cfmap)
                    .await,
            );
        }
        let [slack, github, stripe]: [String; 3] = accounts.try_into().unwrap();
        World {
            doubles,
            inst,
            project,
            other,
            server,
            bearer,
            user,
            slack,
            github,
            stripe,
            operator,
        }
    }

    pub fn path(&self, rest: &str) -> String {
        format!("/v1/connect/{}/{rest}", self.project.id)
    }

    pub async fn get(&self, rest: &str) -> (u16, Value) {
        let (s, v, _) = self.server.get(&self.path(rest), &self.bearer, None).await;
        (s, v)
    }

    pub async fn post(&self, rest: &str, body: Value) -> (u16, Value) {
        let (s, v, _) = self.server.post(&self.path(rest), &self.bearer, body).await;
        (s, v)
    }

    pub async fn run(&self, id: &str, props: Value) -> (u16, Value) {
        self.post(
            "actions/run",
            json!({"id": id, "external_user_id": self.user, "configured_props": props}),
        )
        .await
    }

    /// A Slack channel's id, found through the remote options.
    pub async fn channel(&self, name: &str) -> String {
        let (_, v) = self
            .post("actions/configure", json!({"id": "slack-send-message", "external_user_id": self.user, "prop_name": "channel",
                                              "query": name, "configured_props": {"slack": self.app(&self.slack)}}))
            .await;
        v["options"][0]["value"]
            .as_str()
            .unwrap_or_else(|| panic!("no channel {name}: {v}"))
            .to_string()
    }

    pub fn app(&self, id: &str) -> Value {
        json!({"authProvisionId": id})
    }
}

async fn catalog(w: &World) {
    let (s, v) = w.get("actions?limit=100").await;
    assert_eq!(s, 200, "{v}");
    let keys: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    for k in [
        "slack-send-message",
        "github-create-issue",
        "stripe-create-customer",
        "http-custom-request",
    ] {
        assert!(keys.contains(&k), "{k} not in {keys:?}");
    }
    assert!(
        !keys.contains(&"rss-new-item-in-feed"),
        "triggers are not actions"
    );
    let (_, v) = w.get("triggers").await;
    let keys: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"rss-new-item-in-feed") && keys.contains(&"schedule-custom-interval"),
        "{keys:?}"
    );
    let (_, v) = w.get("components?app=slack&q=send").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["data"][0]["key"], "slack-send-message");
    // Paging walks every component exactly once.
    let (_, all) = w.get("components?limit=100").await;
    let total = all["page_info"]["total_count"].as_u64().unwrap();
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let (_, p) = w.get(&format!("components?limit=3{after}")).await;
        for c in p["data"].as_array().unwrap() {
            seen.push(c["key"].as_str().unwrap().to_string());
        }
        match p["page_info"]["end_cursor"].as_str() {
            Some(c) => after = format!("&after={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len() as u64, total);
    let (s, v) = w.get("actions/slack-send-message").await;
    assert_eq!(s, 200);
    let props = v["data"]["configurable_props"].as_array().unwrap();
    let channel = props.iter().find(|p| p["name"] == "channel").unwrap();
    assert_eq!(channel["remoteOptions"], true);
    assert!(
        channel.get("optionsRequest").is_none(),
        "internals stay internal"
    );
    let (s, _) = w.get("triggers/slack-send-message").await;
    assert_eq!(s, 404, "an action is not a trigger");
}

async fn remote_options_and_reload_props(w: &World) {
    let body = json!({"id": "slack-send-message", "external_user_id": w.user, "prop_name": "channel",
                      "configured_props": {"slack": w.app(&w.slack)}});
    let (s, v) = w.post("actions/configure", body.clone()).await;
    assert_eq!(s, 200, "{v}");
    let first = v["options"].as_array().unwrap().clone();
    assert!(
        !first.is_empty() && first[0]["label"].as_str().unwrap().starts_with('#'),
        "{v}"
    );
    assert_eq!(v["errors"], json!([]));
    // Ask with a query: only matching labels.
    let mut q = body.clone();
    q["query"] = json!("random");
    let (_, v) = w.post("actions/configure", q).await;
    let labels: Vec<&str> = v["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, vec!["#random"], "{v}");
    // Reload props: the address group appears only when asked for.
    let (s, v) = w
        .post("actions/props", json!({"id": "stripe-create-customer", "external_user_id": w.user, "configured_props": {"include_address": true}}))
        .await;
    assert_eq!(s, 200, "{v}");
    let names: Vec<&str> = v["dynamic_props"]["configurable_props"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"address_line1"), "{names:?}");
    let (_, v2) = w
        .post("actions/props", json!({"id": "stripe-create-customer", "external_user_id": w.user, "configured_props": {"include_address": false}}))
        .await;
    assert!(!v2.to_string().contains("address_line1"));
    assert_ne!(v["dynamic_props"]["id"], v2["dynamic_props"]["id"]);

    // Options page through the provider's cursor, carried in `context`.
    let picker = json!({
        "manifest_version": 1, "kind": "action", "key": "slack-pick-channel", "name": "Pick", "version": "0.1.0", "app": "slack",
        "props": [
            {"name": "slack", "type": "app", "app": "slack"},
            {"name": "channel", "type": "string", "optionsRequest": {
                "request": {"url": "/conversations.list", "query": {"limit": "10"}},
                "items": "$.channels", "label": "{{ item.name }}", "value": "{{ item.id }}"}}
        ],
        "steps": [{"name": "noop", "request": {"url": "/auth.test"}}]
    });
    assert_eq!(w.post("components", picker).await.0, 201);
    let mut seen = Vec::new();
    let mut ctx = json!(null);
    for _ in 0..10 {
        let (s, v) = w
            .post("components/configure", json!({"id": "slack-pick-channel", "external_user_id": w.user, "prop_name": "channel",
                                                 "configured_props": {"slack": w.app(&w.slack)}, "prev_context": ctx}))
            .await;
        assert_eq!(s, 200, "{v}");
        seen.extend(
            v["options"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["value"].clone()),
        );
        ctx = v["context"].clone();
        if ctx.get("next").is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 25, "every channel once across pages");
    let (s, _, _) = w
        .server
        .call(
            Method::DELETE,
            &w.path("components/slack-pick-channel"),
            &w.bearer,
            None,
            None,
        )
        .await;
    assert_eq!(s, 204);
}

async fn actions_run(w: &World) {
    let general = w.channel("general").await;
    let (s, v) = w
        .run(
            "slack-send-message",
            json!({"slack": w.app(&w.slack), "channel": general, "text": "hello from switchboard"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["exports"]["$summary"]
            .as_str()
            .unwrap()
            .contains("Successfully sent"),
        "{v}"
    );
    assert_eq!(v["ret"]["ok"], true, "{v}");
    assert!(
        v["os"].as_array().unwrap().iter().any(|o| o["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("chat.postMessage")),
        "{v}"
    );
    let msgs = w
        .doubles
        .control("slack", Method::GET, "messages", None)
        .await;
    assert!(
        msgs.to_string().contains("hello from switchboard"),
        "{msgs}"
    );

    let (s, v) = w
        .run("github-create-issue", json!({"github": w.app(&w.github), "repoFullname": "octocat/hello-world", "title": "Bug", "labels": ["bug"]}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["exports"]["$summary"]
            .as_str()
            .unwrap()
            .starts_with("Successfully created issue #"),
        "{v}"
    );
    assert_eq!(v["ret"]["title"], "Bug");
    let sent = w.doubles.requests("github").await;
    let create = sent.iter().rev().find(|r| r["method"] == "POST").unwrap();
    let body: Value = serde_json::from_str(create["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"title": "Bug", "labels": ["bug"]}),
        "unset optional props are not sent"
    );
    assert_eq!(create["headers"]["authorization"], "Bearer gho_valid");
    assert!(
        v["os"].to_string().contains("quota"),
        "rate-limit headers are observed: {}",
        v["os"]
    );

    // A GitHub personal access token works like an OAuth token.
    w.doubles.accept_token("github", "github_pat_x").await;
    let pat = w
        .server
        .import_account(
            &w.bearer,
            &w.project.id,
            &w.user,
            "github",
            json!({"personal_access_token": "github_pat_x"}),
        )
        .await;
    let (s, v) = w
        .run(
            "github-get-repository",
            json!({"github": w.app(&pat), "repoFullname": "octocat/hello-world"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let last = w.doubles.requests("github").await.pop().unwrap();
    assert_eq!(last["headers"]["authorization"], "Bearer github_pat_x");

    // Link-header pagination across pages up to maxResults.
    let (s, v) = w
        .run("github-list-issues", json!({"github": w.app(&w.github), "repoFullname": "octocat/hello-world", "state": "all", "maxResults": 40}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ret"].as_array().unwrap().len(), 40, "{}", v["exports"]);

    // Stripe: form bodies, and starting_after pagination.
    let (s, v) = w
        .run("stripe-create-customer", json!({"stripe": w.app(&w.stripe), "email": "a@example.com", "metadata": {"plan": "pro"},
                                              "include_address": true, "address_line1": "1 Main St"}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ret"]["metadata"]["plan"], "pro", "{v}");
    assert_eq!(v["ret"]["address"]["line1"], "1 Main St", "{v}");
    let (s, v) = w
        .run(
            "stripe-list-charges",
            json!({"stripe": w.app(&w.stripe), "limit": 25}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ret"].as_array().unwrap().len(), 25);
}

async fn failures_are_structured_4xx(w: &World) {
    let general = w.channel("general").await;
    // The provider refuses: a 422 naming the step, with observations.
    let (s, v) = w
        .run(
            "github-get-repository",
            json!({"github": w.app(&w.github), "repoFullname": "octocat/nope"}),
        )
        .await;
    assert_client_error("missing repo", s, &v, 422, "404");
    assert_eq!(v["code"], "step_failed");
    assert_eq!(v["details"]["status"], 404);
    assert!(!v["os"].as_array().unwrap().is_empty());
    // Slack's 200 {ok:false} is a failure too.
    let (s, v) = w
        .run(
            "slack-send-message",
            json!({"slack": w.app(&w.slack), "channel": "C9999999999", "text": "x"}),
        )
        .await;
    assert_client_error("unknown channel", s, &v, 422, "channel_not_found");
    // A 429 with Retry-After is waited out and retried.
    w.doubles.post("slack", "fail", json!({"status": 429, "count": 1, "retry_after": 1, "path_prefix": "/api/chat.postMessage"})).await;
    let (s, v) = w
        .run(
            "slack-send-message",
            json!({"slack": w.app(&w.slack), "channel": general, "text": "after a 429"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["os"].to_string().contains("retrying"), "{v}");
}

async fn idempotency(w: &World) {
    let general = w.channel("general").await;
    let body = json!({"id": "slack-send-message", "external_user_id": w.user,
                      "configured_props": {"slack": w.app(&w.slack), "channel": general, "text": "exactly once"}});
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let r = crate::harness::client()
            .post(format!("{}{}", w.inst.base(), w.path("actions/run")))
            .bearer_auth(&w.bearer)
            .header("Idempotency-Key", "key-1")
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push((
            r.status().as_u16(),
            r.headers().get("idempotent-replayed").is_some(),
        ));
    }
    assert_eq!(statuses, vec![(200, false), (200, true)]);
    let msgs = w
        .doubles
        .control("slack", Method::GET, "messages", None)
        .await;
    let n = msgs["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["text"] == "exactly once")
        .count();
    assert_eq!(n, 1, "ran twice: {msgs}");
    let mut other = body.clone();
    other["idempotency_key"] = json!("key-1");
    other["configured_props"]["text"] = json!("something else");
    let (s, v) = w.post("actions/run", other).await;
    assert_client_error("reused key", s, &v, 422, "different request");
}

async fn refresh_on_401(w: &World) {
    // An expired GitHub token with a refresh token and the project's client.
    w.doubles
        .post(
            "github",
            "clients",
            json!({"client_id": "cid", "client_secret": "csecret"}),
        )
        .await;
    w.doubles
        .post(
            "github",
            "refresh_tokens",
            json!({"refresh_token": "ghr_1", "client_id": "cid"}),
        )
        .await;
    w.doubles
        .post(
            "github",
            "tokens",
            json!({"token": "gho_expired", "expires_in": 0}),
        )
        .await;
    let (s, v) = w
        .post(
            "oauth_apps",
            json!({"app": "github", "client_id": "cid", "client_secret": "csecret"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert!(
        !v.to_string().contains("csecret"),
        "secrets never come back: {v}"
    );
    let acct = w
        .server
        .import_account(
            &w.bearer,
            &w.project.id,
            &w.user,
            "github",
            json!({"oauth_access_token": "gho_expired", "oauth_refresh_token": "ghr_1"}),
        )
        .await;
    for _ in 0..2 {
        let (s, v) = w
            .run(
                "github-get-repository",
                json!({"github": w.app(&acct), "repoFullname": "octocat/hello-world"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let stats = w
        .doubles
        .control("github", Method::GET, "stats", None)
        .await;
    assert_eq!(
        stats["refreshes"], 1,
        "refreshed once, then reused the new token: {stats}"
    );
}

async fn proxy(w: &World) {
    use base64::Engine;
    let url = "/repos/octocat/hello-world/issues?per_page=2";
    let encodings = [
        urlencode(&base64::engine::general_purpose::STANDARD.encode(url)),
        base64::engine::general_purpose::URL_SAFE.encode(url),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url),
    ];
    for enc in &encodings {
        let (s, v) = w
            .get(&format!(
                "proxy/{enc}?external_user_id={}&account_id={}",
                w.user, w.github
            ))
            .await;
        assert_eq!(s, 200, "{enc}: {v}");
        assert_eq!(v.as_array().unwrap().len(), 2);
    }
    // POST with a JSON body and an x-pd-proxy- header in any case.
    let full = format!(
        "{}/repos/octocat/hello-world/issues",
        w.doubles.url("github")
    );
    let enc = base64::engine::general_purpose::URL_SAFE.encode(&full);
    let r = crate::harness::client()
        .post(format!(
            "{}{}?external_user_id={}&account_id={}",
            w.inst.base(),
            w.path(&format!("proxy/{enc}")),
            w.user,
            w.github
        ))
        .bearer_auth(&w.bearer)
        .header("X-PD-PROXY-X-Custom", "yes")
        .json(&json!({"title": "via proxy"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let sent = w.doubles.requests("github").await;
    let last = sent.last().unwrap();
    assert_eq!(last["headers"]["x-custom"], "yes");
    assert!(last["headers"].get("x-pd-proxy-x-custom").is_none());
    assert!(
        last["headers"]["content-type"]
            .as_str()
            .unwrap()
            .starts_with("application/json"),
        "{last}"
    );
    // Upstream errors pass through with their status and body.
    let enc = base64::engine::general_purpose::URL_SAFE.encode("/repos/octocat/missing");
    let (s, v) = w
        .get(&format!(
            "proxy/{enc}?external_user_id={}&account_id={}",
            w.user, w.github
        ))
        .await;
    assert_eq!((s, v["message"].as_str()), (404, Some("Not Found")));
    // An upstream slower than the proxy timeout (2 s here) is a 504.
    w.doubles
        .post("github", "fail", json!({"delay_ms": 4000, "count": 1}))
        .await;
    let enc = base64::engine::general_purpose::URL_SAFE.encode("/user");
    let (s, v) = w
        .get(&format!(
            "proxy/{enc}?external_user_id={}&account_id={}",
            w.user, w.github
        ))
        .await;
    assert_client_error("slow upstream", s, &v, 504, "did not answer");
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

async fn private_components(w: &World) {
    let http = w.doubles.url("http");
    let manifest = json!({
        "manifest_version": 1, "kind": "action", "key": "http-echo-thing", "name": "Echo", "version": "0.1.0", "app": "http",
        "props": [{"name": "word", "type": "string"}],
        "steps": [{"name": "echo", "request": {"method": "POST", "url": format!("{http}/anything/echo"), "json": {"w": "{{ props.word }}"}}}],
        "summary": "echoed {{ steps.echo.body.json.w }}"
    });
    let (s, v) = w.post("components", manifest.clone()).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["data"]["registry"], "private");
    let (_, v) = w.get("components?registry=private").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    let (s, v) = w.run("http-echo-thing", json!({"word": "hi"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["exports"]["$summary"], "echoed hi");
    // Another project does not see it.
    let ob = w.server.token(&w.other).await;
    let (s, _, _) = w
        .server
        .get(
            &format!("/v1/connect/{}/components/http-echo-thing", w.other.id),
            &ob,
            None,
        )
        .await;
    assert_eq!(s, 404);
    // Update, then delete.
    let mut m2 = manifest.clone();
    m2["summary"] = json!("v2 {{ props.word }}");
    m2["version"] = json!("0.2.0");
    let (s, v, _) = w
        .server
        .call(
            Method::PUT,
            &w.path("components/http-echo-thing"),
            &w.bearer,
            None,
            Some(m2),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = w.run("http-echo-thing", json!({"word": "x"})).await;
    assert_eq!(v["exports"]["$summary"], "v2 x");
    let (s, _, _) = w
        .server
        .call(
            Method::DELETE,
            &w.path("components/http-echo-thing"),
            &w.bearer,
            None,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = w.run("http-echo-thing", json!({"word": "x"})).await;
    assert_eq!(s, 404);
}

async fn everything(backend: Backend) {
    let w = World::new(backend).await;
    catalog(&w).await;
    remote_options_and_reload_props(&w).await;
    actions_run(&w).await;
    failures_are_structured_4xx(&w).await;
    idempotency(&w).await;
    refresh_on_401(&w).await;
    proxy(&w).await;
    private_components(&w).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn components_catalog_run_and_proxy_on_the_embedded_store() {
    everything(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn components_catalog_run_and_proxy_on_redis() {
    everything(Backend::Redis).await;
}

/// Every class of bad input gets a clear 4xx, and nothing reaches the provider.
async fn bad_input(w: &World) {
    let general = w.channel("general").await;
    w.doubles
        .control("slack", Method::DELETE, "requests", None)
        .await;
    let slack = w.app(&w.slack);
    // Another user's account, and an account of another app.
    let theirs = w
        .server
        .import_account(
            &w.bearer,
            &w.project.id,
            "user-2",
            "slack",
            json!({"oauth_access_token": "xoxb-valid"}),
        )
        .await;
    let cases = [
        (
            "unknown component",
            json!({"id": "slack-nope", "external_user_id": w.user, "configured_props": {}}),
            404,
            "not found",
        ),
        (
            "missing prop",
            json!({"id": "slack-send-message", "external_user_id": w.user, "configured_props": {"slack": slack, "channel": general}}),
            400,
            "text: missing required prop",
        ),
        (
            "wrong type",
            json!({"id": "slack-send-message", "external_user_id": w.user, "configured_props": {"slack": slack, "channel": general, "text": 5}}),
            400,
            "text: must be a string",
        ),
        (
            "out of range",
            json!({"id": "slack-list-channels", "external_user_id": w.user, "configured_props": {"slack": slack, "pageSize": 5000}}),
            400,
            "above the maximum",
        ),
        (
            "unknown prop",
            json!({"id": "slack-send-message", "external_user_id": w.user, "configured_props": {"slack": slack, "channel": general, "text": "x", "colour": "red"}}),
            400,
            "colour: unknown prop",
        ),
        (
            "another user's account",
            json!({"id": "slack-send-message", "external_user_id": w.user, "configured_props": {"slack": w.app(&theirs), "channel": general, "text": "x"}}),
            400,
            "belongs to another user",
        ),
        (
            "another app's account",
            json!({"id": "slack-send-message", "external_user_id": w.user, "configured_props": {"slack": w.app(&w.github), "channel": general, "text": "x"}}),
            400,
            "is a github account",
        ),
        (
            "configured_props not an object",
            json!({"id": "slack-send-message", "external_user_id": w.user, "configured_props": [1]}),
            400,
            "must be an object",
        ),
        (
            "no user",
            json!({"id": "slack-send-message", "configured_props": {}}),
            400,
            "external_user_id",
        ),
        (
            "a trigger",
            json!({"id": "rss-new-item-in-feed", "external_user_id": w.user, "configured_props": {}}),
            400,
            "trigger",
        ),
    ];
    for (what, body, status, needle) in cases {
        let (s, v) = w.post("actions/run", body).await;
        assert_client_error(what, s, &v, status, needle);
    }
    // Every bad prop is named at once.
    let (s, v) = w
        .run(
            "slack-send-message",
            json!({"slack": w.app(&theirs), "text": 5, "colour": 1}),
        )
        .await;
    assert_eq!(s, 400);
    let props: Vec<&str> = v["details"]["props"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["prop"].as_str().unwrap())
        .collect();
    for p in ["slack", "channel", "text", "colour"] {
        assert!(props.contains(&p), "{p} not reported: {v}");
    }
    assert!(
        w.doubles.requests("slack").await.is_empty(),
        "nothing may run on bad input"
    );

    // Malformed manifests are refused with the path and the reason.
    let good = json!({"manifest_version": 1, "kind": "action", "key": "http-bad-one", "name": "B", "version": "0.1.0", "app": "http",
                      "props": [], "steps": [{"name": "s", "request": {"url": "https://example.com"}}]});
    let mut bad_template = good.clone();
    bad_template["summary"] = json!("{{ oops + }}");
    let mut bad_field = good.clone();
    bad_field["steps"][0]["request"]["verb"] = json!("GET");
    let mut builtin_key = good.clone();
    builtin_key["key"] = json!("http-custom-request");
    let mut as_app = good.clone();
    as_app["kind"] = json!("app");
    for (what, m, needle) in [
        ("template syntax", bad_template, "summary"),
        ("unknown field", bad_field, "steps[0].request"),
        ("built-in key", builtin_key, "built-in"),
        ("not JSON object", json!([1, 2]), "manifest"),
        ("an app", as_app, "manifest"),
    ] {
        let (s, v) = w.post("components", m).await;
        assert_client_error(what, s, &v, 400, needle);
    }
    // A template that exhausts its fuel fails before any request is sent.
    let http = w.doubles.url("http");
    let mut fuel = good.clone();
    fuel["key"] = json!("http-burns-fuel");
    fuel["steps"][0]["request"]["url"] = json!(format!(
        "{http}/anything/{{% for i in range(100000) %}}{{% for j in range(100000) %}}{{% endfor %}}{{% endfor %}}"
    ));
    let (s, v) = w.post("components", fuel).await;
    assert_eq!(s, 201, "{v}");
    w.doubles
        .control("http", Method::DELETE, "requests", None)
        .await;
    let (s, v) = w.run("http-burns-fuel", json!({})).await;
    assert_client_error("fuel", s, &v, 422, "fuel");
    assert_eq!(v["code"], "template_error");
    // A per-action timeout.
    let mut slow = good.clone();
    slow["key"] = json!("http-too-slow");
    slow["timeout_secs"] = json!(1);
    slow["steps"][0]["request"]["url"] = json!(format!("{http}/delay/3000"));
    assert_eq!(w.post("components", slow).await.0, 201);
    let (s, v) = w.run("http-too-slow", json!({})).await;
    assert_client_error("timeout", s, &v, 422, "time limit");
    assert_eq!(v["code"], "timeout");
    assert!(
        w.doubles
            .requests("http")
            .await
            .iter()
            .all(|r| !r["path"].as_str().unwrap().contains("anything"))
    );

    // Proxy: bad base64, a URL outside the app's domains.
    use base64::Engine;
    let q = format!("external_user_id={}&account_id={}", w.user, w.github);
    let (s, v) = w.get(&format!("proxy/%%%?{q}")).await;
    assert_client_error("bad base64", s, &v, 400, "base64");
    let evil = base64::engine::general_purpose::URL_SAFE.encode("https://evil.example.com/steal");
    let (s, v) = w.get(&format!("proxy/{evil}?{q}")).await;
    assert_client_error("foreign domain", s, &v, 403, "not one of github's domains");
    let (s, v) = w
        .get(&format!(
            "proxy/{evil}?external_user_id=user-2&account_id={}",
            w.github
        ))
        .await;
    assert_client_error("another user's account", s, &v, 404, "not found");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_component_input_gets_clear_errors_and_runs_nothing() {
    let w = World::new(Backend::Embedded).await;
    bad_input(&w).await;
}

/// A project that requires it tests API keys with the app's verification
/// request before saving them, and says why they failed.
#[tokio::test(flavor = "multi_thread")]
async fn key_credentials_are_verified_when_the_project_requires_it() {
    let doubles = Doubles::start();
    let inst = doubles.configure(Instance::new(Backend::Embedded), true);
    let p = Project::from_json(&inst.admin(&[
        "create-project",
        "--name",
        "strict",
        "--require-key-auth-test",
    ]));
    let server = inst.start().await;
    let bearer = server.token(&p).await;
    doubles.accept_token("stripe", "sk_test_good0001").await;
    // The environment key that signs connection webhooks (there is no
    // project webhook: regenerating is how to learn it).
    let (st, v, _) = server
        .post(
            &format!("/v1/connect/{}/webhook/regenerate_signing_key", p.id),
            &bearer,
            json!({}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let env_key = v["data"]["signing_key"].as_str().unwrap().to_string();
    let ct = server
        .connect_token_with(
            &bearer,
            &p.id,
            json!({"external_user_id": "u", "webhook_uri": format!("{}/anything/conn", doubles.url("http"))}),
        )
        .await;
    let (s, v) = {
        let (s, v, _) = server
            .post(
                &format!("/v1/connect/{}/accounts", p.id),
                &bearer,
                json!({"app_slug": "stripe", "cfmap_json": json!({"api_key": "sk_test_bad00001"}).to_string(), "connect_token": ct}),
            )
            .await;
        (s, v)
    };
    assert_client_error(
        "bad key",
        s,
        &v,
        400,
        "did not work: Stripe answered HTTP 401",
    );
    // The failure is pushed to the token's webhook_uri, signed.
    let r = received(&doubles, "/anything/conn", 1).await.remove(0);
    let body = r["body"].as_str().unwrap();
    let hook: Value = serde_json::from_str(body).unwrap();
    assert_eq!(hook["event"], "CONNECTION_ERROR", "{hook}");
    assert!(
        hook["error"].as_str().unwrap().contains("HTTP 401"),
        "{hook}"
    );
    assert_eq!(hook["connect_token"], ct.as_str());
    assert!(!body.contains("sk_test_bad"), "no credentials: {body}");
    assert!(verify_with_standardwebhooks(
        &env_key,
        body,
        &sw_headers(&r)
    ));
    let acct = server
        .import_account(
            &bearer,
            &p.id,
            "u",
            "stripe",
            json!({"api_key": "sk_test_good0001"}),
        )
        .await;
    assert!(acct.starts_with("apn_"));
}
