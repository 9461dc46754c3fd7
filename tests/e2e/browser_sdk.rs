//! Issue 15's acceptance for the browser SDK: the official
//! `@pipedream/sdk/browser` `connectAccount`, in headless Chromium, on a
//! customer page from another site, against the real binary behind a TLS
//! front (tests/browser/connect-sdk.mjs). A key app and an OAuth app whose
//! consent page refuses framing (so it runs in a popup), with tokens with
//! and without `allowed_origins`; Cancel; a bad token; a blocked popup.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{AuthServer, Backend, Instance, free_port};

const DRIVER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
const SDK_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/sdk/js/node_modules/@pipedream/sdk/dist/esm"
);

fn run_driver(scenario: Value) -> Value {
    for (dir, ci) in [
        (
            Path::new(DRIVER_DIR).join("node_modules/playwright-core"),
            "tests/browser",
        ),
        (Path::new(SDK_DIR).to_path_buf(), "tests/sdk/js"),
    ] {
        assert!(
            dir.exists(),
            "{} is missing: run `npm ci --prefix {ci}`",
            dir.display()
        );
    }
    let out = Command::new("node")
        .arg("connect-sdk.mjs")
        .arg(scenario.to_string())
        .current_dir(DRIVER_DIR)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (install Node.js 20+): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(2) => panic!("Chromium is missing (apt-get install chromium): {stderr}"),
        _ => panic!("connect-sdk.mjs failed ({}): {stderr}", out.status),
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("connect-sdk.mjs printed no JSON ({e}): {stdout:?} {stderr}"))
}

fn callbacks(case: &Value) -> Vec<&str> {
    case["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events: {case}"))
        .iter()
        .filter_map(|e| e["cb"].as_str())
        .collect()
}

/// A case that ended in `success` then `close`, the iframe gone, no errors:
/// the account id the SDK was given.
fn connected(case: &Value) -> String {
    assert_eq!(case["error"], Value::Null, "{case}");
    assert_eq!(callbacks(case), ["success", "close"], "{case}");
    assert_eq!(
        case["iframe_present"], false,
        "the SDK removed its iframe: {case}"
    );
    assert_eq!(case["console_errors"], json!([]), "{case}");
    let id = case["events"][0]["id"].as_str().unwrap_or_default();
    assert!(
        id.starts_with("apn_"),
        "onSuccess gets the account id: {case}"
    );
    let close = &case["events"][1];
    assert_eq!(
        (&close["successful"], &close["completed"]),
        (&json!(true), &json!(true)),
        "{case}"
    );
    id.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_browser_sdk_connects_accounts_in_chromium() {
    let auth = AuthServer::start();
    let front_port = free_port();
    let customer_port = free_port();
    let front = format!("https://127.0.0.1:{front_port}");
    let customer = format!("https://localhost:{customer_port}");
    // The server's public URL is the TLS front: links, the OAuth callback
    // and the binding cookie (`Secure`) all go through it.
    let inst = auth
        .configure(Instance::new(Backend::Embedded))
        .with_env("SWITCHBOARD_PUBLIC_URL", &front);
    let p = inst.create_project("browser-sdk");
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/oauth_apps", p.id),
            &bearer,
            json!({"app": "hubspot", "client_id": "c", "client_secret": "s"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let open = json!({});
    let named = json!({"allowed_origins": [customer]});
    let mut cases = Vec::new();
    for (tag, extra) in [("open", &open), ("named", &named)] {
        let key = s.connect_token_with(&bearer, &p.id, extra.clone()).await;
        cases.push(json!({"name": format!("keys-{tag}"), "token": key, "app": "openai", "steps": [
            {"fill": {"API key": "sk-test-123"}}, {"click": "Connect OpenAI"}, {"wait_for": "close"},
        ]}));
        let oauth = s.connect_token_with(&bearer, &p.id, extra.clone()).await;
        cases.push(
            json!({"name": format!("oauth-{tag}"), "token": oauth, "app": "hubspot", "steps": [
                {"click": "Continue to HubSpot"}, {"wait_for": "close"},
            ]}),
        );
    }
    // A blocked popup: a clear state, and Try again works.
    let blocked = s.connect_token_with(&bearer, &p.id, json!({})).await;
    cases.push(json!({"name": "oauth-blocked", "token": blocked, "app": "hubspot", "steps": [
        {"block_popup_once": true}, {"click": "Continue to HubSpot"}, {"wait_text": "Allow pop-ups"},
        {"click": "Try again"}, {"wait_for": "close"},
    ]}));
    let cancel = s.connect_token_with(&bearer, &p.id, json!({})).await;
    cases.push(
        json!({"name": "cancel", "token": cancel, "app": "openai", "steps": [
            {"click": "Cancel"}, {"wait_for": "close"},
        ]}),
    );
    cases.push(
        json!({"name": "bad-token", "token": "ctok_nonesuch", "app": "openai", "steps": [
            {"wait_for": "error"}, {"click": "Close"}, {"wait_for": "close"},
        ]}),
    );
    let scenario = json!({
        "backend": s.base, "front_port": front_port, "customer_port": customer_port,
        "sdk_dir": SDK_DIR, "cases": cases,
    });
    let r = tokio::task::spawn_blocking(move || run_driver(scenario))
        .await
        .unwrap();
    let case = |name: &str| {
        r["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name}: {r}"))
            .clone()
    };
    let mut ids = Vec::new();
    for name in [
        "keys-open",
        "keys-named",
        "oauth-open",
        "oauth-named",
        "oauth-blocked",
    ] {
        let c = case(name);
        if name.starts_with("oauth") {
            assert_eq!(c["popups"], 1, "the provider opened in one popup: {c}");
        }
        ids.push((name, connected(&c)));
    }
    // Each id is a real account of the project, of the right app.
    for (name, id) in &ids {
        let (st, a, _) = s
            .get(
                &format!("/v1/connect/{}/accounts/{id}", p.id),
                &bearer,
                None,
            )
            .await;
        assert_eq!(st, 200, "{name}: {a}");
        let app = if name.starts_with("keys") {
            "openai"
        } else {
            "hubspot"
        };
        assert_eq!(a["app"]["name_slug"], app, "{name}: {a}");
    }

    let c = case("cancel");
    assert_eq!(c["error"], Value::Null, "{c}");
    assert_eq!(callbacks(&c), ["close"], "{c}");
    assert_eq!(c["events"][0]["successful"], false, "{c}");
    assert_eq!(c["iframe_present"], false, "{c}");
    assert_eq!(c["console_errors"], json!([]), "{c}");

    let c = case("bad-token");
    assert_eq!(c["error"], Value::Null, "{c}");
    assert_eq!(callbacks(&c), ["error", "close"], "{c}");
    assert!(
        c["events"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "onError gets the reason: {c}"
    );
    assert_eq!(c["iframe_present"], false, "{c}");
    // A framed refusal answers 200, so no failed load is logged.
    assert_eq!(c["console_errors"], json!([]), "{c}");
    s.stop().await;
}
