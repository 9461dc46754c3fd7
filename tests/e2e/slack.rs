//! The Slack app-level instant trigger `slack-new-message-in-channels`: one
//! Events API URL per OAuth app and environment, Slack's v0 request
//! signatures (signed here as Slack documents, by `tests/doubles/sign-slack.mjs`),
//! `url_verification`, routing by workspace and channel to every matching
//! deployment, dedupe on `event_id`, deliveries signed per Standard Webhooks.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{
    Backend, Doubles, Instance, Server, assert_client_error, client, eventually,
    verify_with_standardwebhooks,
};

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const TEAM_A: &str = "T0AAAAAAA";
const TEAM_B: &str = "T0BBBBBBB";
const GENERAL: &str = "C0GENERAL";
const RANDOM: &str = "C0RANDOM1";
const ELSEWHERE: &str = "C0ELSEWHR";
const KEY: &str = "slack-new-message-in-channels";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `X-Slack-Request-Timestamp` and `X-Slack-Signature` for a raw body.
fn slack_headers(secret: &str, body: &str, ts: Option<u64>) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/doubles");
    let mut cmd = std::process::Command::new("node");
    cmd.arg(dir.join("sign-slack.mjs")).args([secret, body]);
    if let Some(t) = ts {
        cmd.arg(t.to_string());
    }
    let out = cmd.output().expect("node is required");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// POSTs a raw body with the given headers; returns (status, JSON body).
async fn post_raw(url: &str, headers: &Value, body: &str) -> (u16, Value) {
    let mut rb = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    for (k, v) in headers.as_object().unwrap() {
        rb = rb.header(k.as_str(), v.as_str().unwrap());
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("non-JSON reply {status} from the ingress: {text:?}"));
    (status, v)
}

/// A body signed with `secret` now.
async fn post_signed(url: &str, secret: &str, body: &str) -> (u16, Value) {
    post_raw(url, &slack_headers(secret, body, None), body).await
}

/// An Events API `event_callback` envelope around a message event.
fn message(team: &str, channel: &str, event_id: &str, text: &str, extra: Value) -> String {
    let mut event = json!({
        "type": "message", "channel": channel, "user": "U0ALICE", "text": text,
        "ts": "1700000000.000100", "event_ts": "1700000000.000100", "channel_type": "channel",
    });
    for (k, v) in extra.as_object().unwrap() {
        event[k] = v.clone();
    }
    json!({
        "token": "XXYYZZ", "team_id": team, "api_app_id": "A0APP", "event": event,
        "type": "event_callback", "event_id": event_id, "event_time": now(),
        "authorizations": [{"team_id": team, "user_id": "U0BOT", "is_bot": true}],
    })
    .to_string()
}

struct Deployed {
    id: String,
    user: String,
    key: String,
    sink: String,
}

async fn event_count(s: &Server, bearer: &str, base: &str, d: &Deployed) -> usize {
    let (st, v, _) = s
        .get(
            &format!(
                "{base}/deployed-triggers/{}/events?external_user_id={}&n=100",
                d.id, d.user
            ),
            bearer,
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    v["data"].as_array().unwrap().len()
}

/// Requests the HTTP double received under `path`.
async fn deliveries(doubles: &Doubles, path: &str) -> Vec<Value> {
    doubles
        .requests("http")
        .await
        .into_iter()
        .filter(|r| r["path"] == path)
        .collect()
}

/// Waits (up to 10 s) for `n` deliveries to `path`; returns them.
async fn wait_deliveries(doubles: &Doubles, path: &str, n: usize) -> Vec<Value> {
    let what = format!("{n} deliveries to {path}");
    eventually(std::time::Duration::from_secs(10), &what, || async {
        let got = deliveries(doubles, path).await;
        if got.len() >= n {
            Ok(got)
        } else {
            Err(got.len())
        }
    })
    .await
}

async fn slack_events(backend: Backend) {
    let doubles = Doubles::start();
    let inst = doubles.configure(Instance::new(backend), true);
    let p = inst.create_project("slack events");
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    let base = format!("/v1/connect/{}", p.id);

    // The project's Slack OAuth app, with the Slack app's signing secret.
    let (st, v, _) = s
        .post(
            &format!("{base}/oauth_apps"),
            &bearer,
            json!({"app": "slack", "client_id": "1234.5678", "client_secret": "cs-slack", "signing_secret": SIGNING_SECRET}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let oa = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["signing_secret_set"], true, "{v}");
    let url = v["app_ingress_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no app_ingress_url: {v}"))
        .to_string();
    assert!(
        url.starts_with(&format!("{}/hooks/apps/", inst.base())),
        "{url}"
    );
    assert!(url.ends_with("/production"), "{url}");
    let ingress_id = url.split('/').rev().nth(1).unwrap().to_string();
    assert!(ingress_id.len() >= 27, "at least 160 bits: {ingress_id}");
    let (_, v, _) = s
        .get(&format!("{base}/oauth_apps/{oa}"), &bearer, None)
        .await;
    assert!(
        !v.to_string().contains(SIGNING_SECRET),
        "the signing secret never comes back: {v}"
    );
    assert_eq!(v["app_ingress_url"], url.as_str());
    let (_, v, _) = s
        .get(
            &format!("{base}/oauth_apps/{oa}"),
            &bearer,
            Some("development"),
        )
        .await;
    let dev_url = v["app_ingress_url"].as_str().unwrap().to_string();
    assert_eq!(dev_url, url.replace("/production", "/development"));

    // Two workspaces: alice and carol in A, bob in B.
    for (token, team) in [("xoxb-team-a", TEAM_A), ("xoxb-team-b", TEAM_B)] {
        doubles.accept_token("slack", token).await;
        doubles
            .post("slack", "teams", json!({"token": token, "team_id": team}))
            .await;
    }
    let acct = |user: &'static str, token: &'static str| {
        s.import_account(
            &bearer,
            &p.id,
            user,
            "slack",
            json!({"oauth_access_token": token}),
        )
    };
    let alice = acct("alice", "xoxb-team-a").await;
    let carol = acct("carol", "xoxb-team-a").await;
    let bob = acct("bob", "xoxb-team-b").await;

    // The channels prop has remote options from conversations.list.
    let (st, v, _) = s
        .post(
            &format!("{base}/triggers/configure"),
            &bearer,
            json!({"id": KEY, "external_user_id": "alice", "prop_name": "conversations",
                   "configured_props": {"slack": {"authProvisionId": alice}}}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["options"][0]["label"], "#general", "{v}");
    assert!(v["options"][0]["value"].as_str().unwrap().starts_with('C'));

    let http_double = doubles.url("http");
    let mut deployed = Vec::new();
    for (name, user, acct, channels, ignore_bot) in [
        ("a1", "alice", &alice, vec![GENERAL, RANDOM], false),
        ("a2", "carol", &carol, vec![GENERAL], true),
        ("b", "bob", &bob, vec![GENERAL], false),
    ] {
        let sink = format!("/anything/slack/{name}");
        let (st, v, _) = s
            .post(
                &format!("{base}/triggers/deploy"),
                &bearer,
                json!({"id": KEY, "external_user_id": user, "webhook_url": format!("{http_double}{sink}"),
                       "configured_props": {"slack": {"authProvisionId": acct}, "conversations": channels, "ignoreBot": ignore_bot}}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        let d = &v["data"];
        assert!(
            d["configured_props"].get("http").is_none() && !d.to_string().contains("endpoint_url"),
            "an app-level trigger has no URL of its own: {d}"
        );
        assert_eq!(d["app_ingress_url"], url.as_str(), "{d}");
        deployed.push(Deployed {
            id: d["id"].as_str().unwrap().to_string(),
            user: user.to_string(),
            key: d["webhook_signing_key"].as_str().unwrap().to_string(),
            sink,
        });
    }
    let [a1, a2, b] = <[Deployed; 3]>::try_from(deployed).ok().unwrap();
    let counts = || async {
        [
            event_count(&s, &bearer, &base, &a1).await,
            event_count(&s, &bearer, &base, &a2).await,
            event_count(&s, &bearer, &base, &b).await,
        ]
    };
    let counts_a = || async {
        [
            event_count(&s, &bearer, &base, &a1).await,
            event_count(&s, &bearer, &base, &a2).await,
        ]
    };
    let (_, v, _) = s
        .get(
            &format!("{base}/deployed-triggers/{}?external_user_id=alice", a1.id),
            &bearer,
            None,
        )
        .await;
    assert_eq!(v["data"]["app_ingress_url"], url.as_str(), "{v}");

    // A deployment that routes nothing is refused.
    let (st, v, _) = s
        .post(
            &format!("{base}/triggers/deploy"),
            &bearer,
            json!({"id": KEY, "external_user_id": "alice",
                   "configured_props": {"slack": {"authProvisionId": alice}, "conversations": []}}),
        )
        .await;
    assert!((400..500).contains(&st), "{st} {v}");
    assert!(v["error"].is_string(), "{v}");

    let mut refused = 0;

    // Slack's URL check: answered with the challenge, only when signed.
    let check = json!({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "url_verification",
                       "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    .to_string();
    let (st, v) = post_signed(&url, SIGNING_SECRET, &check).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v,
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );
    let (st, v) = post_raw(&url, &json!({}), &check).await;
    assert_client_error("unsigned url_verification", st, &v, 401, "signature");
    refused += 1;

    // A message in team A's #general reaches alice's and carol's
    // deployments, once each, and not bob's (team B, same channel id).
    let ev1 = message(TEAM_A, GENERAL, "Ev0001", "hello from A", json!({}));
    let (st, v) = post_signed(&url, SIGNING_SECRET, &ev1).await;
    assert_eq!((st, &v), (200, &json!({"ok": true})));
    assert_eq!(counts().await, [1, 1, 0]);
    for d in [&a1, &a2] {
        let r = wait_deliveries(&doubles, &d.sink, 1).await.remove(0);
        let body = r["body"].as_str().unwrap();
        let env: Value = serde_json::from_str(body).unwrap();
        assert_eq!(env["event"]["text"], "hello from A", "{env}");
        assert_eq!(env["event"]["channel"], GENERAL);
        assert_eq!(env["context"]["deployment_id"], d.id.as_str());
        assert_eq!(env["context"]["component_key"], KEY);
        let h = &r["headers"];
        let headers = json!({"webhook-id": h["webhook-id"], "webhook-timestamp": h["webhook-timestamp"],
                             "webhook-signature": h["webhook-signature"]});
        assert!(
            verify_with_standardwebhooks(&d.key, body, &headers),
            "standardwebhooks rejected the delivery to {}",
            d.sink
        );
    }
    let (_, v, _) = s
        .get(
            &format!(
                "{base}/deployed-triggers/{}/events?external_user_id=alice",
                a1.id
            ),
            &bearer,
            None,
        )
        .await;
    assert_eq!(v["data"][0]["sum"], format!("New message in #{GENERAL}"));
    assert_eq!(v["data"][0]["e"]["user"], "U0ALICE");

    // Slack retries with the same event_id (and a fresh signature): no new event.
    let mut retry = slack_headers(SIGNING_SECRET, &ev1, None);
    retry["X-Slack-Retry-Num"] = json!("1");
    retry["X-Slack-Retry-Reason"] = json!("http_timeout");
    let (st, v) = post_raw(&url, &retry, &ev1).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(counts().await, [1, 1, 0]);

    // Team B's #general: only bob's.
    let ev2 = message(TEAM_B, GENERAL, "Ev0002", "hello from B", json!({}));
    assert_eq!(post_signed(&url, SIGNING_SECRET, &ev2).await.0, 200);
    assert_eq!(counts().await, [1, 1, 1]);
    let r = wait_deliveries(&doubles, &b.sink, 1).await.remove(0);
    assert!(r["body"].as_str().unwrap().contains("hello from B"));

    // #random is only alice's; a channel nobody chose makes no event.
    let ev3 = message(TEAM_A, RANDOM, "Ev0003", "random", json!({}));
    assert_eq!(post_signed(&url, SIGNING_SECRET, &ev3).await.0, 200);
    assert_eq!(counts().await, [2, 1, 1]);
    let ev4 = message(TEAM_A, ELSEWHERE, "Ev0004", "elsewhere", json!({}));
    let (st, v) = post_signed(&url, SIGNING_SECRET, &ev4).await;
    assert_eq!((st, &v), (200, &json!({"ok": true})));
    assert_eq!(counts().await, [2, 1, 1]);

    // A bot's message: carol ignores bots; an edit (message_changed) is
    // nobody's new message.
    let ev5 = message(
        TEAM_A,
        GENERAL,
        "Ev0005",
        "beep",
        json!({"subtype": "bot_message", "bot_id": "B0BOT"}),
    );
    assert_eq!(post_signed(&url, SIGNING_SECRET, &ev5).await.0, 200);
    assert_eq!(counts().await, [3, 1, 1]);
    let ev6 = message(
        TEAM_A,
        GENERAL,
        "Ev0006",
        "",
        json!({"subtype": "message_changed", "message": {"text": "edited"}}),
    );
    assert_eq!(post_signed(&url, SIGNING_SECRET, &ev6).await.0, 200);
    assert_eq!(counts().await, [3, 1, 1]);

    // Bad signatures: 401, no event.
    let ev7 = message(TEAM_A, GENERAL, "Ev0007", "forged", json!({}));
    let (st, v) = post_signed(&url, "not-the-signing-secret", &ev7).await;
    assert_client_error("wrong secret", st, &v, 401, "signature");
    let tampered = slack_headers(SIGNING_SECRET, &ev7, None);
    let (st, v) = post_raw(&url, &tampered, &ev7.replace("forged", "forgeD")).await;
    assert_client_error("tampered body", st, &v, 401, "signature");
    let zero = json!({"X-Slack-Request-Timestamp": now().to_string(), "X-Slack-Signature": format!("v0={}", "0".repeat(64))});
    let (st, v) = post_raw(&url, &zero, &ev7).await;
    assert_client_error("zero signature", st, &v, 401, "signature");
    // A correctly signed request older than Slack's 5 minutes: a replay.
    let stale = slack_headers(SIGNING_SECRET, &ev7, Some(now() - 6 * 60));
    let (st, v) = post_raw(&url, &stale, &ev7).await;
    assert_client_error("stale timestamp", st, &v, 401, "tolerance");
    let future = slack_headers(SIGNING_SECRET, &ev7, Some(now() + 6 * 60));
    let (st, v) = post_raw(&url, &future, &ev7).await;
    assert_client_error("future timestamp", st, &v, 401, "tolerance");
    refused += 5;
    assert_eq!(counts().await, [3, 1, 1]);

    // Bad input: clear 4xx JSON errors, never an event.
    let (st, v) = post_raw(&url, &json!({}), "").await;
    assert_client_error("no body, unsigned", st, &v, 401, "signature");
    refused += 1;
    let (st, v) = post_signed(&url, SIGNING_SECRET, "").await;
    assert_client_error("no body", st, &v, 400, "JSON");
    let (st, v) = post_signed(&url, SIGNING_SECRET, "payload=not-json").await;
    assert_client_error("not JSON", st, &v, 400, "JSON");
    let (st, v) = post_signed(&url, SIGNING_SECRET, "[1, 2]").await;
    assert_client_error("a JSON array", st, &v, 400, "JSON object");
    let (st, v) = post_signed(&url, SIGNING_SECRET, r#"{"type": "event_callback"}"#).await;
    assert_eq!(
        (st, &v),
        (200, &json!({"ok": true})),
        "an envelope without a team routes nowhere"
    );
    let bad_header =
        json!({"X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": "v0=zz"});
    let (st, v) = post_raw(&url, &bad_header, &ev7).await;
    assert_client_error("malformed headers", st, &v, 401, "timestamp");
    refused += 1;
    let unknown = format!("{}/hooks/apps/{}/production", inst.base(), "x".repeat(27));
    let (st, v) = post_signed(&unknown, SIGNING_SECRET, &ev7).await;
    assert_client_error("unknown ingress", st, &v, 404, "ingress");
    let bad_env = url.replace("/production", "/staging");
    let (st, v) = post_signed(&bad_env, SIGNING_SECRET, &ev7).await;
    assert_client_error("unknown environment", st, &v, 404, "ingress");
    let odd = format!("{}/hooks/apps/{}/production", inst.base(), "a%2Fb");
    let (st, v) = post_signed(&odd, SIGNING_SECRET, &ev7).await;
    assert_client_error("odd ingress id", st, &v, 404, "ingress");
    assert_eq!(counts().await, [3, 1, 1]);

    // The development environment's URL reaches development's deployments
    // only: production's see nothing.
    let ev8 = message(TEAM_A, GENERAL, "Ev0008", "dev", json!({}));
    assert_eq!(post_signed(&dev_url, SIGNING_SECRET, &ev8).await.0, 200);
    assert_eq!(counts().await, [3, 1, 1]);

    // Pause alice's: #random reaches nobody; resume: it reaches her again.
    let put = |d: &Deployed, body: Value| {
        let path = format!(
            "{base}/deployed-triggers/{}?external_user_id={}",
            d.id, d.user
        );
        let s = &s;
        let bearer = &bearer;
        async move {
            let (st, v, _) = s.call(Method::PUT, &path, bearer, None, Some(body)).await;
            assert_eq!(st, 200, "{v}");
        }
    };
    put(&a1, json!({"active": false})).await;
    let ev9 = message(TEAM_A, RANDOM, "Ev0009", "while paused", json!({}));
    assert_eq!(post_signed(&url, SIGNING_SECRET, &ev9).await.0, 200);
    assert_eq!(counts().await, [3, 1, 1]);
    put(&a1, json!({"active": true})).await;
    let ev10 = message(TEAM_A, RANDOM, "Ev0010", "resumed", json!({}));
    assert_eq!(post_signed(&url, SIGNING_SECRET, &ev10).await.0, 200);
    assert_eq!(counts().await, [4, 1, 1]);

    // Reconfigure carol's to #random only: the routing follows.
    put(
        &a2,
        json!({"configured_props": {"slack": {"authProvisionId": carol}, "conversations": [RANDOM], "ignoreBot": true}}),
    )
    .await;
    let ev11 = message(TEAM_A, GENERAL, "Ev0011", "general again", json!({}));
    assert_eq!(post_signed(&url, SIGNING_SECRET, &ev11).await.0, 200);
    assert_eq!(counts().await, [5, 1, 1]);
    let ev12 = message(TEAM_A, RANDOM, "Ev0012", "random again", json!({}));
    assert_eq!(post_signed(&url, SIGNING_SECRET, &ev12).await.0, 200);
    assert_eq!(counts().await, [6, 2, 1]);

    // Delete bob's: team B's messages are still acknowledged, and go nowhere.
    let (st, v, _) = s
        .call(
            Method::DELETE,
            &format!("{base}/deployed-triggers/{}?external_user_id=bob", b.id),
            &bearer,
            None,
            None,
        )
        .await;
    assert_eq!(st, 204, "{v}");
    let ev13 = message(TEAM_B, GENERAL, "Ev0013", "after delete", json!({}));
    assert_eq!(post_signed(&url, SIGNING_SECRET, &ev13).await.0, 200);
    assert_eq!(counts_a().await, [6, 2]);

    // Rotating the signing secret: the old one is refused at once.
    let (st, v, _) = s
        .call(
            Method::PUT,
            &format!("{base}/oauth_apps/{oa}"),
            &bearer,
            None,
            Some(json!({"signing_secret": "a-new-signing-secret"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["app_ingress_url"], url.as_str(), "the URL stays");
    let ev14 = message(TEAM_A, GENERAL, "Ev0014", "new secret", json!({}));
    let (st, v) = post_signed(&url, SIGNING_SECRET, &ev14).await;
    assert_client_error("old secret", st, &v, 401, "signature");
    refused += 1;
    assert_eq!(
        post_signed(&url, "a-new-signing-secret", &ev14).await.0,
        200
    );
    assert_eq!(counts_a().await, [7, 2]);

    // Every refusal was counted (and logged without the secret).
    let log = strip_ansi(&std::fs::read_to_string(inst.log_path()).unwrap());
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("app-level webhook refused"))
        .collect();
    assert_eq!(lines.len(), refused, "{lines:#?}");
    assert!(lines.iter().all(|l| l.contains(&oa)), "{lines:#?}");
    assert!(
        lines
            .last()
            .unwrap()
            .contains(&format!("failures_24h={refused}"))
            || lines
                .last()
                .unwrap()
                .contains(&format!("\"failures_24h\":{refused}")),
        "{lines:#?}"
    );
    assert!(!log.contains(SIGNING_SECRET) && !log.contains("a-new-signing-secret"));
}

/// The log without terminal colour codes (`ESC [ … m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_app_level_trigger_on_the_embedded_store() {
    slack_events(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_app_level_trigger_on_redis() {
    slack_events(Backend::Redis).await;
}
