//! Issue 12, findings 6 and 7: implausible inbound ids touch nothing (the
//! process's memory, Redis keys), and deleting an external user removes
//! everything the user owns, with a tombstone that a racing deploy cannot
//! get past. Long ids and quotas are in-process: `tests/app/data_limits.rs`.

use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{
    Backend, Doubles, Instance, Server, assert_client_error, client, eventually, hook_url,
    received, redis_url,
};

/// The pid of the `switchboard` process serving `inst` (found by its
/// data directory in the process environment).
fn server_pid(inst: &Instance) -> u32 {
    let want = format!("SWITCHBOARD_DATA_DIR={}", inst.data_dir().display());
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|v| v == want.as_bytes()) {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmd).contains("switchboard") {
                return pid;
            }
        }
    }
    panic!("no switchboard process for {}", inst.data_dir().display());
}

/// Resident memory of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// Every Redis key under `prefix`.
fn redis_keys(prefix: &str) -> Vec<String> {
    let out = Command::new("redis-cli")
        .args([
            "-u",
            &redis_url(),
            "--scan",
            "--pattern",
            &format!("{prefix}*"),
        ])
        .output()
        .expect("redis-cli is installed with redis-server");
    assert!(out.status.success(), "redis-cli failed");
    let mut keys: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    keys.sort();
    keys
}

/// Sends `n` requests (16 at a time) to URLs made by `url`; each must be
/// answered `want` (404: refused by the id checks; 414: by the URI limit).
/// A connection the server closed under load is retried (it is not what
/// is tested here).
async fn flood(n: usize, want: u16, url: impl Fn(usize) -> String) {
    let http = client();
    let urls: Vec<String> = (0..n).map(url).collect();
    for chunk in urls.chunks(16) {
        let sends = chunk.iter().map(|u| {
            let (http, u) = (http.clone(), u.clone());
            async move {
                let mut last = None;
                for _ in 0..5 {
                    match http.post(&u).body("{}").send().await {
                        Ok(r) => return r.status().as_u16(),
                        Err(e) => last = Some(e.without_url().to_string()),
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                panic!("no answer: {last:?}");
            }
        });
        for st in futures_join(sends).await {
            assert_eq!(st, want, "an implausible id");
        }
    }
}

/// Awaits all futures concurrently (without a `futures` dependency).
async fn futures_join<F, T>(fs: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// A 500-character id, different each time: under the 512-byte path
/// segment limit, so the id checks themselves refuse it.
fn long_id(i: usize) -> String {
    format!("{i:08}{}", "x".repeat(492))
}

/// A 30,000-character id, different each time: refused before routing.
fn huge_id(i: usize) -> String {
    format!("{i:08}{}", "x".repeat(29_992))
}

/// Finding 6: 1,000 requests with 500-character ids and 1,000 with
/// 30,000-character ids (before the fix each left a rate-limit counter
/// keyed by the id behind, +30 MiB or more here) leave the process's memory
/// where it was.
#[tokio::test(flavor = "multi_thread")]
async fn long_inbound_ids_do_not_grow_memory() {
    let inst = Instance::new(Backend::Embedded);
    let s = inst.start().await;
    let pid = server_pid(&inst);
    let base = s.base.clone();
    // Warm up the connection pools and allocator with a few of each.
    flood(64, 404, |i| format!("{base}/hooks/{}", long_id(i))).await;
    let before = rss_kib(pid);
    flood(1_000, 404, |i| format!("{base}/hooks/{}", long_id(i))).await;
    flood(1_000, 414, |i| format!("{base}/hooks/{}", huge_id(i))).await;
    flood(100, 404, |i| {
        format!("{base}/hooks/apps/{}/production", long_id(i))
    })
    .await;
    let after = rss_kib(pid);
    eprintln!("RSS before {before} KiB, after {after} KiB");
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    // The hook errors are clear JSON.
    let r = client()
        .get(format!("{base}/hooks/{}", long_id(1)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("no active trigger"),
        "{v}"
    );
}

/// Finding 6 on Redis: implausible ids, and plausible ones that name no
/// URL, create no keys at all (no rate-limit counter per id asked for).
#[tokio::test(flavor = "multi_thread")]
async fn unknown_inbound_ids_create_no_redis_keys() {
    let inst = Instance::new(Backend::Redis);
    let s = inst.start().await;
    let base = s.base.clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = redis_keys(&inst.redis_prefix);
    flood(300, 404, |i| format!("{base}/hooks/{}", long_id(i))).await;
    flood(100, 414, |i| format!("{base}/hooks/{}", huge_id(i))).await;
    flood(100, 404, |i| {
        format!("{base}/hooks/apps/{}/production", long_id(i))
    })
    .await;
    // Plausible but unknown: 27 base62 characters.
    flood(200, 404, |i| format!("{base}/hooks/{i:027}")).await;
    flood(50, 404, |i| format!("{base}/hooks/apps/{i:027}/production")).await;
    flood(50, 404, |i| {
        format!("{base}/hooks/apps/{i:027}/{}", "p".repeat(500))
    })
    .await;
    let after = redis_keys(&inst.redis_prefix);
    let new: Vec<&String> = after.iter().filter(|k| !before.contains(k)).collect();
    assert!(new.is_empty(), "keys created by unknown ids: {new:?}");
}

async fn requests_to(doubles: &Doubles, prefix: &str) -> usize {
    doubles
        .requests("http")
        .await
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or_default().starts_with(prefix))
        .count()
}

async fn delete_user(s: &Server, bearer: &str, project: &str, user: &str) -> (u16, Value) {
    let (st, v, _) = s
        .call(
            Method::DELETE,
            &format!("/v1/connect/{project}/users/{user}"),
            bearer,
            None,
            None,
        )
        .await;
    (st, v)
}

/// Finding 7: deleting an external user removes what the user owns. The
/// inbound URL 404s, events are gone, nothing more is delivered (not even
/// a retry already scheduled), the polling trigger stops, the dead letters
/// go, and deploys racing the delete leave nothing live; afterwards the
/// tombstone refuses the user with 409.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_user_removes_everything_they_own() {
    let doubles = Doubles::start();
    let inst = doubles
        .configure(Instance::new(Backend::Embedded), true)
        .with_env("SWITCHBOARD_TRIGGERS__MIN_INTERVAL_SECS", "1")
        .with_env("SWITCHBOARD_DELIVERY__RETRY_SCHEDULE_SECS", "[2, 2, 2]");
    let p = inst.create_project("gdpr");
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    let base = format!("/v1/connect/{}", p.id);
    let http = doubles.url("http");
    let account = s
        .key_account(&bearer, &p.id, None, "u1", "sk_test_gdpr")
        .await;
    // Another user's things stay.
    let other = s
        .deploy(
            &bearer,
            &p.id,
            json!({"id": "http-new-requests", "external_user_id": "u2"}),
        )
        .await;

    // An instant trigger with events and deliveries, plus a dead letter.
    let v = s
        .deploy(
            &bearer,
            &p.id,
            json!({"id": "http-new-requests", "external_user_id": "u1",
                   "webhook_url": format!("{http}/anything/gdpr-instant")}),
        )
        .await;
    let instant = v["id"].as_str().unwrap().to_string();
    let hook = hook_url(&v);
    let dead_hook = hook_url(
        &s.deploy(
            &bearer,
            &p.id,
            json!({"id": "http-new-requests", "external_user_id": "u1",
                   "webhook_url": format!("{http}/status/410")}),
        )
        .await,
    );
    let web = client();
    for i in 0..2 {
        let r = web.post(&hook).json(&json!({"n": i})).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        web.post(&dead_hook)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    received(&doubles, "/anything/gdpr-instant", 2).await;
    assert_eq!(s.trigger_events(&bearer, &p.id, &instant).await.len(), 2);
    let dead = eventually(Duration::from_secs(10), "a dead letter", || async {
        let (_, v, _) = s
            .get(&format!("{base}/deliveries/failed"), &bearer, None)
            .await;
        Some(v["data"].as_array().map_or(0, Vec::len)).filter(|&n| n > 0)
    })
    .await;
    assert_eq!(dead, 1, "the 410 left a dead letter");

    // A polling trigger.
    doubles
        .post("http", "items/gdpr", json!({"count": 2}))
        .await;
    let polling = s
        .deploy(
            &bearer,
            &p.id,
            json!({"id": "http-new-items-in-json", "external_user_id": "u1",
                   "configured_props": {"url": format!("{http}/items/gdpr"), "timer": {"intervalSeconds": 1}},
                   "emit_on_deploy": false,
                   "webhook_url": format!("{http}/anything/gdpr-poll")}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(Duration::from_secs(10), "two polls (it polls)", || async {
        match requests_to(&doubles, "/items/gdpr").await {
            n if n >= 2 => Ok(()),
            n => Err(n),
        }
    })
    .await;

    // A delivery that fails once: its retry is pending when the user goes.
    doubles
        .post(
            "http",
            "fail",
            json!({"status": 500, "count": 1, "path_prefix": "/anything/gdpr-instant"}),
        )
        .await;
    assert_eq!(
        web.post(&hook)
            .json(&json!({"n": 3}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    received(&doubles, "/anything/gdpr-instant", 3).await;

    // The delete, with deploys for the same user racing it.
    let deploy_url = format!("{}{base}/triggers/deploy", s.base);
    let racing: Vec<_> = (0..6)
        .map(|i| (i, client(), deploy_url.clone(), bearer.clone()))
        .collect();
    let racing = racing.into_iter().map(|(i, web, url, bearer)| async move {
        tokio::time::sleep(Duration::from_millis(i * 15)).await;
        let r = web
            .post(url)
            .bearer_auth(bearer)
            .json(&json!({"id": "http-new-requests", "external_user_id": "u1"}))
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    });
    let racers = tokio::spawn(futures_join(racing));
    let (st, v) = delete_user(&s, &bearer, &p.id, "u1").await;
    assert_eq!(st, 204, "{v}");
    let statuses = racers.await.unwrap();
    assert!(
        statuses.iter().all(|st| *st == 200 || *st == 409),
        "{statuses:?}"
    );
    let delivered_at_delete = requests_to(&doubles, "/anything/gdpr-instant").await;
    let polls_at_delete = requests_to(&doubles, "/items/gdpr").await;
    let poll_deliveries_at_delete = requests_to(&doubles, "/anything/gdpr-poll").await;

    // The inbound URLs are gone.
    assert_eq!(
        web.post(&hook)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        web.post(&dead_hook)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // The events and deployments are gone, racing deploys included.
    let (st, v, _) = s
        .get(
            &format!("{base}/deployed-triggers/{instant}/events?external_user_id=u1"),
            &bearer,
            None,
        )
        .await;
    assert_client_error("events of a deleted user", st, &v, 404, "not found");
    let (st, v, _) = s
        .get(
            &format!("{base}/deployed-triggers?external_user_id=u1"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"], json!([]), "no live deployment: {v}");
    // Accounts and dead letters are gone; the other user's deployment stays.
    let (st, v, _) = s
        .get(&format!("{base}/accounts/{account}"), &bearer, None)
        .await;
    assert_eq!(st, 404, "{v}");
    let (_, v, _) = s
        .get(&format!("{base}/deliveries/failed"), &bearer, None)
        .await;
    assert_eq!(v["data"], json!([]), "{v}");
    let other_id = other["id"].as_str().unwrap();
    let (st, _, _) = s
        .get(
            &format!("{base}/deployed-triggers/{other_id}?external_user_id=u2"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(st, 200);

    // The tombstone: the user cannot come back for now.
    let (st, v, headers) = s
        .post(
            &format!("{base}/triggers/deploy"),
            &bearer,
            json!({"id": "http-new-requests", "external_user_id": "u1"}),
        )
        .await;
    assert_client_error("deploy after the delete", st, &v, 409, "deleted");
    assert!(headers.get("retry-after").is_some());
    let (st, v, _) = s
        .post(
            &format!("{base}/tokens"),
            &bearer,
            json!({"external_user_id": "u1"}),
        )
        .await;
    assert_client_error("connect token after the delete", st, &v, 409, "deleted");

    // Nothing more is delivered (the pending retry included) and the
    // polling trigger stops.
    doubles
        .post("http", "items/gdpr", json!({"count": 2}))
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        requests_to(&doubles, "/anything/gdpr-instant").await,
        delivered_at_delete,
        "no delivery after the delete"
    );
    assert_eq!(
        requests_to(&doubles, "/anything/gdpr-poll").await,
        poll_deliveries_at_delete,
        "no events of the polling trigger after the delete"
    );
    assert!(
        requests_to(&doubles, "/items/gdpr").await <= polls_at_delete + 1,
        "the polling trigger stopped"
    );
    let (st, v, _) = s
        .get(
            &format!("{base}/deployed-triggers/{polling}?external_user_id=u1"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(st, 404, "{v}");
    let (st, v) = delete_user(&s, &bearer, &p.id, "u1").await;
    assert_client_error("deleting again", st, &v, 404, "not found");
}
