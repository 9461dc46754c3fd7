//! The catalog's polling triggers against their providers' doubles: each
//! seeds without a backlog, then emits exactly the new items, using the
//! provider's own way of asking for them (GitHub `since` with Link paging,
//! pull requests dropped, a free 304 on ETag; RSS/Atom conditional GET and
//! item identity; Stripe `created[gte]` with `starting_after` paging;
//! HubSpot's search window sliding on `createdate`, never paging past its
//! 10,000-result cap).

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Backend, Doubles, Instance, Server, eventually};

struct World {
    doubles: Doubles,
    s: Server,
    bearer: String,
    project: String,
    _inst: Instance,
}

async fn world(backend: Backend) -> World {
    let doubles = Doubles::start();
    let inst = doubles
        .configure(Instance::new(backend), true)
        .with_env("SWITCHBOARD_TRIGGERS__MIN_INTERVAL_SECS", "1");
    let p = inst.create_project("catalog-polling");
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    World {
        doubles,
        s,
        bearer,
        project: p.id,
        _inst: inst,
    }
}

impl World {
    /// An account for `app` with a token its double accepts.
    async fn account(&self, app: &str, token: &str, cfmap: Value) -> String {
        self.doubles.accept_token(app, token).await;
        self.s
            .import_account(&self.bearer, &self.project, "u1", app, cfmap)
            .await
    }

    /// Deploys `key`; its events are delivered to `/anything/<key>` on the
    /// HTTP double.
    async fn deploy(&self, key: &str, props: Value) -> String {
        let sink = format!("{}/anything/{key}", self.doubles.url("http"));
        let (st, v, _) = self
            .s
            .post(
                &format!("/v1/connect/{}/triggers/deploy", self.project),
                &self.bearer,
                json!({"id": key, "external_user_id": "u1", "configured_props": props,
                       "emit_on_deploy": false, "webhook_url": sink}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        v["data"]["id"].as_str().unwrap().to_string()
    }

    async fn trigger(&self, id: &str) -> Value {
        self.s
            .deployed_trigger(&self.bearer, &self.project, id)
            .await
    }

    /// Waits (up to 20 s) until the deployment has committed `n` polls;
    /// returns it.
    async fn polls(&self, id: &str, n: u64) -> Value {
        eventually(Duration::from_secs(20), &format!("{n} polls"), || async {
            let t = self.trigger(id).await;
            if t["poll"]["polls"].as_u64().unwrap_or(0) >= n {
                Ok(t)
            } else {
                Err(t)
            }
        })
        .await
    }

    async fn events(&self, id: &str) -> Vec<Value> {
        self.s.trigger_events(&self.bearer, &self.project, id).await
    }

    /// Events after the next complete poll.
    async fn events_after_next_poll(&self, id: &str) -> Vec<Value> {
        let done = self.trigger(id).await["poll"]["polls"]
            .as_u64()
            .unwrap_or(0);
        self.polls(id, done + 2).await;
        self.events(id).await
    }

    async fn requests(&self, provider: &str, path: &str) -> Vec<Value> {
        self.doubles
            .requests(provider)
            .await
            .into_iter()
            .filter(|r| r["path"] == path)
            .collect()
    }
}

/// The item ids delivered for `key`, once `n` arrived (and a moment more,
/// for any duplicate to show).
async fn delivered_ids(w: &World, key: &str, id_of: fn(&Value) -> String, n: usize) -> Vec<String> {
    crate::harness::received(&w.doubles, &format!("/anything/{key}"), n).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    w.doubles
        .requests("http")
        .await
        .into_iter()
        .filter(|r| r["path"] == format!("/anything/{key}").as_str())
        .map(|r| {
            let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            id_of(&body["event"])
        })
        .collect()
}

fn distinct(ids: &[String]) -> usize {
    ids.iter().collect::<std::collections::HashSet<_>>().len()
}

fn summaries(evs: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = evs
        .iter()
        .map(|e| e["sum"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn github_new_issue_polling() {
    let w = world(Backend::Embedded).await;
    let acct = w
        .account(
            "github",
            "ghp_polling1",
            json!({"oauth_access_token": "ghp_polling1"}),
        )
        .await;
    let repo = "octocat/Hello-World";
    let id = w
        .deploy(
            "github-new-issue-polling",
            json!({"github": {"authProvisionId": acct}, "repoFullname": repo, "timer": {"intervalSeconds": 1}}),
        )
        .await;
    w.polls(&id, 1).await;
    assert!(w.events(&id).await.is_empty(), "the seed emits no backlog");
    // Two issues and a pull request: the pull request is dropped.
    w.doubles
        .post("github", "issues", json!({"repo": repo, "count": 2}))
        .await;
    w.doubles
        .post(
            "github",
            "issues",
            json!({"repo": repo, "count": 1, "pull_request": true}),
        )
        .await;
    let evs = w.events_after_next_poll(&id).await;
    assert_eq!(
        evs.len(),
        2,
        "issues only, once each: {:?}",
        summaries(&evs)
    );
    assert!(evs.iter().all(|e| e["e"]["pull_request"].is_null()));
    // Nothing new: `since` is the newest update seen, and the ETag makes
    // the unchanged answer a free 304.
    let t = w
        .polls(
            &id,
            w.trigger(&id).await["poll"]["polls"].as_u64().unwrap() + 2,
        )
        .await;
    assert_eq!(t["poll"]["last_status"], "not_modified", "{t}");
    let path = format!("/repos/{repo}/issues");
    let reqs = w.requests("github", &path).await;
    let last = reqs.last().unwrap();
    assert!(last["query"]["since"].is_string(), "{last}");
    assert!(last["headers"]["if-none-match"].is_string(), "{last}");
    assert_eq!(last["status"], 304);
    // A burst bigger than a page is read through the Link header.
    w.doubles
        .post("github", "issues", json!({"repo": repo, "count": 130}))
        .await;
    let evs = w.events_after_next_poll(&id).await;
    assert_eq!(w.events(&id).await.len(), 100.min(evs.len()));
    let pages = w
        .requests("github", &path)
        .await
        .into_iter()
        .filter(|r| r["query"]["page"] == "2")
        .count();
    assert!(pages >= 1, "the second page was followed");
    let t = w.trigger(&id).await;
    assert_eq!(t["poll"]["consecutive_failures"], 0, "{t}");
    // The token's hourly quota runs out: GitHub answers 403 with
    // x-ratelimit-remaining 0, and the next poll waits for the reset.
    // (A 304 costs nothing, so new issues keep the answers full.)
    w.doubles
        .post("github", "config", json!({"rate_limit": 1}))
        .await;
    let new_issues = async {
        loop {
            w.doubles
                .post("github", "issues", json!({"repo": repo, "count": 1}))
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let limited = eventually(Duration::from_secs(30), "a rate-limited poll", || async {
        let t = w.trigger(&id).await;
        if t["poll"]["last_status"] == "rate_limited" {
            Ok(t)
        } else {
            Err(t)
        }
    });
    let t = tokio::select! {
        t = limited => t,
        _ = new_issues => unreachable!("new issues keep coming"),
    };
    let polled = t["poll"]["last_poll_at"].as_u64().unwrap();
    assert!(
        t["next_run_at"].as_u64().unwrap() >= polled + 3000,
        "the next poll waits for the quota's reset (an hour away): {t}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rss_and_atom_new_items() {
    let w = world(Backend::Embedded).await;
    let rss = w.doubles.url("rss");
    for (feed, ext) in [("news", "xml"), ("blog", "atom")] {
        let id = w
            .deploy(
                "rss-new-item-in-feed",
                json!({"url": format!("{rss}/feeds/{feed}.{ext}"), "timer": {"intervalSeconds": 1}}),
            )
            .await;
        w.doubles
            .post(
                "rss",
                "items",
                json!({"feed": feed, "title": "before deploy"}),
            )
            .await;
        w.polls(&id, 1).await;
        assert!(w.events(&id).await.is_empty(), "{feed}: no backlog");
        // With a guid; without one (the link tells it apart); with neither
        // (a hash of its content does).
        w.doubles
            .post("rss", "items", json!({"feed": feed, "title": "one"}))
            .await;
        w.doubles
            .post(
                "rss",
                "items",
                json!({"feed": feed, "title": "two", "guid": false}),
            )
            .await;
        w.doubles
            .post(
                "rss",
                "items",
                json!({"feed": feed, "title": "three", "guid": false, "link": null}),
            )
            .await;
        let evs = w.events_after_next_poll(&id).await;
        assert_eq!(summaries(&evs), ["one", "three", "two"], "{feed}");
        // Oldest first.
        let order: Vec<&str> = evs
            .iter()
            .rev()
            .map(|e| e["sum"].as_str().unwrap())
            .collect();
        assert!(
            order == ["one", "two", "three"] || order == ["three", "two", "one"],
            "{order:?}"
        );
        let t = w.events_after_next_poll(&id).await;
        assert_eq!(t.len(), 3, "{feed}: nothing twice");
        let tr = w.trigger(&id).await;
        assert_eq!(tr["poll"]["last_status"], "not_modified", "{feed}: {tr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stripe_new_charges_and_customers() {
    let w = world(Backend::Embedded).await;
    let acct = w
        .account(
            "stripe",
            "sk_test_polling01",
            json!({"api_key": "sk_test_polling01"}),
        )
        .await;
    let charges = w
        .deploy(
            "stripe-new-charge",
            json!({"stripe": {"authProvisionId": acct}, "timer": {"intervalSeconds": 1}}),
        )
        .await;
    let customers = w
        .deploy(
            "stripe-new-customer",
            json!({"stripe": {"authProvisionId": acct}, "timer": {"intervalSeconds": 1}}),
        )
        .await;
    w.polls(&charges, 1).await;
    w.polls(&customers, 1).await;
    assert!(w.events(&charges).await.is_empty());
    w.doubles
        .post("stripe", "charges", json!({"count": 3}))
        .await;
    w.doubles
        .post("stripe", "customers", json!({"count": 2}))
        .await;
    let evs = w.events_after_next_poll(&charges).await;
    assert_eq!(evs.len(), 3, "{:?}", summaries(&evs));
    let evs = w.events_after_next_poll(&customers).await;
    assert_eq!(evs.len(), 2, "{:?}", summaries(&evs));
    // More than a page (limit 100): starting_after pages through.
    w.doubles
        .post("stripe", "charges", json!({"count": 120}))
        .await;
    w.events_after_next_poll(&charges).await;
    let t = w.trigger(&charges).await;
    assert_eq!(t["poll"]["consecutive_failures"], 0, "{t}");
    let reqs = w.requests("stripe", "/v1/charges").await;
    assert!(
        reqs.iter()
            .any(|r| r["query"]["starting_after"].is_string()),
        "paged with starting_after"
    );
    assert!(
        reqs.iter().any(|r| r["query"]["created[gte]"].is_string()),
        "asked only for what is new"
    );
    // All 123 charges were delivered, each once.
    let ids = delivered_ids(
        &w,
        "stripe-new-charge",
        |e| e["id"].as_str().unwrap().into(),
        123,
    )
    .await;
    assert_eq!((ids.len(), distinct(&ids)), (123, 123));
}

#[tokio::test(flavor = "multi_thread")]
async fn hubspot_new_contacts_slide_their_search_window() {
    let w = world(Backend::Embedded).await;
    let acct = w
        .account(
            "hubspot",
            "hs_polling1",
            json!({"oauth_access_token": "hs_polling1"}),
        )
        .await;
    w.doubles
        .post("hubspot", "contacts", json!({"count": 30}))
        .await;
    let id = w
        .deploy(
            "hubspot-new-contact",
            json!({"hubspot": {"authProvisionId": acct}, "timer": {"intervalSeconds": 1}}),
        )
        .await;
    w.polls(&id, 1).await;
    assert!(w.events(&id).await.is_empty(), "no backlog");
    // 250 new contacts: windows of 100 slide forward on createdate within
    // one poll; never a deep `after` page (HubSpot refuses past 10,000).
    w.doubles
        .post(
            "hubspot",
            "contacts",
            json!({"count": 250, "step_ms": 1000}),
        )
        .await;
    w.events_after_next_poll(&id).await;
    let t = w.trigger(&id).await;
    assert_eq!(t["poll"]["consecutive_failures"], 0, "{t}");
    let reqs = w
        .requests("hubspot", "/crm/v3/objects/contacts/search")
        .await;
    assert!(reqs.len() >= 4, "several windows: {}", reqs.len());
    for r in &reqs {
        let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        assert!(
            body.get("after").is_none_or(Value::is_null),
            "no deep paging: {body}"
        );
    }
    // Each contact exactly once.
    let ids = delivered_ids(
        &w,
        "hubspot-new-contact",
        |e| e["id"].as_str().unwrap().into(),
        250,
    )
    .await;
    assert_eq!((ids.len(), distinct(&ids)), (250, 250));
}

/// A trigger that keeps failing tells the project webhook, once, signed;
/// and again when it recovers. A project's own minimum interval holds.
#[tokio::test(flavor = "multi_thread")]
async fn failing_triggers_notify_the_project_and_intervals_respect_the_minimum() {
    let doubles = Doubles::start();
    let inst = doubles
        .configure(Instance::new(Backend::Embedded), true)
        .with_env("SWITCHBOARD_TRIGGERS__MIN_INTERVAL_SECS", "1")
        .with_env("SWITCHBOARD_TRIGGERS__POLL_FAILURES_NOTIFY_AFTER", "2");
    let strict = crate::harness::Project::from_json(&inst.admin(&[
        "create-project",
        "--name",
        "strict",
        "--min-interval-secs",
        "120",
    ]));
    let p = inst.create_project("notify");
    let s = inst.start().await;
    let http = doubles.url("http");
    // The project's minimum, not the configured one.
    let sb = s.token(&strict).await;
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/triggers/deploy", strict.id),
            &sb,
            json!({"id": "http-new-items-in-json", "external_user_id": "u1",
                   "configured_props": {"url": format!("{http}/items/x"), "timer": {"intervalSeconds": 60}}}),
        )
        .await;
    crate::harness::assert_client_error(
        "interval under the project's minimum",
        st,
        &v,
        400,
        "at least 120",
    );
    let bearer = s.token(&p).await;
    let (st, v, _) = s
        .call(
            reqwest::Method::PUT,
            &format!("/v1/connect/{}/webhook", p.id),
            &bearer,
            None,
            Some(json!({"url": format!("{http}/anything/project")})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let key = v["data"]["signing_key"].as_str().unwrap().to_string();
    doubles
        .post(
            "http",
            "fail",
            json!({"status": 500, "count": 3, "path_prefix": "/items/flaky"}),
        )
        .await;
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/triggers/deploy", p.id),
            &bearer,
            json!({"id": "http-new-items-in-json", "external_user_id": "u1", "emit_on_deploy": false,
                   "configured_props": {"url": format!("{http}/items/flaky"), "timer": {"intervalSeconds": 1}}}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let dc = v["data"]["id"].as_str().unwrap().to_string();
    let notes = |event: &'static str| {
        let doubles = &doubles;
        async move {
            crate::harness::received(doubles, "/anything/project", 1).await;
            doubles
                .requests("http")
                .await
                .into_iter()
                .filter(|r| r["path"] == "/anything/project")
                .filter(|r| r["body"].as_str().unwrap_or("").contains(event))
                .collect::<Vec<_>>()
        }
    };
    let failing = eventually(
        Duration::from_secs(10),
        "a TRIGGER_FAILING notification",
        || async { Some(notes("TRIGGER_FAILING").await).filter(|n| !n.is_empty()) },
    )
    .await;
    assert_eq!(failing.len(), 1, "told once");
    let body = failing[0]["body"].as_str().unwrap();
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["deployment_id"], dc.as_str());
    assert!(v["error"].as_str().unwrap().contains("500"), "{v}");
    assert!(crate::harness::verify_with_standardwebhooks(
        &key,
        body,
        &crate::harness::sw_headers(&failing[0])
    ));
    // The failures stop (3 injected); the recovery is told too.
    let recovered = eventually(
        Duration::from_secs(20),
        "a TRIGGER_RECOVERED notification",
        || async { Some(notes("TRIGGER_RECOVERED").await).filter(|n| !n.is_empty()) },
    )
    .await;
    assert_eq!(recovered.len(), 1, "recovery told once");
    assert_eq!(
        notes("TRIGGER_FAILING").await.len(),
        1,
        "failing told only once"
    );
}
