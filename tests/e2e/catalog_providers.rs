//! Issue 14, provider import: the pinned `@nangohq/providers` catalog (npm,
//! installed at test time by scripts/test; never committed) through the
//! real binary's `catalog check-providers`, then served by a server that
//! loads it from `[catalog] providers`.

use std::path::PathBuf;
use std::process::Command;

use base64::Engine;
use serde_json::Value;
use serde_json::json;

use crate::harness::{BIN, Backend, Doubles, Instance};

const MAPPED_MODES: [&str; 4] = ["OAUTH2", "OAUTH2_CC", "API_KEY", "BASIC"];

pub(crate) fn providers_yaml() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/catalog/node_modules/@nangohq/providers/providers.yaml");
    assert!(
        p.exists(),
        "{} is missing: run ./scripts/test (it runs `npm ci --prefix tests/catalog`)",
        p.display()
    );
    p
}

#[tokio::test]
async fn nango_providers_import_and_are_listed() {
    let yaml = providers_yaml();
    let out = Command::new(BIN)
        .args(["catalog", "check-providers"])
        .arg(&yaml)
        .arg("--json")
        .env("SWITCHBOARD_DATA_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check-providers failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let providers = r["providers"].as_array().unwrap();
    assert!(providers.len() >= 1000, "{} providers", providers.len());
    for e in providers {
        match e["outcome"].as_str().unwrap() {
            "refused" => assert!(
                !e["reason"].as_str().unwrap_or("").trim().is_empty(),
                "refusal without a reason: {e}"
            ),
            "imported" | "shadowed" => assert!(e["app"].as_str().is_some(), "{e}"),
            o => panic!("unknown outcome {o}: {e}"),
        }
    }

    // The counts, in the test log.
    let modes = r["modes"].as_object().unwrap();
    println!("auth mode: total imported shadowed refused");
    for (m, c) in modes {
        println!(
            "{m}: {} {} {} {}",
            c["total"], c["imported"], c["shadowed"], c["refused"]
        );
        for (reason, n) in c["reasons"].as_object().unwrap() {
            println!("    {n} x {reason}");
        }
    }
    let count = |m: &str, k: &str| modes[m][k].as_u64().unwrap();
    let (mut mapped, mut total) = (0, 0);
    for m in MAPPED_MODES {
        // A shadowed provider maps; the built-in app of its slug wins.
        let ok = count(m, "imported") + count(m, "shadowed");
        println!(
            "{m}: {ok}/{} = {:.1} % map",
            count(m, "total"),
            100.0 * ok as f64 / count(m, "total") as f64
        );
        mapped += ok;
        total += count(m, "total");
    }
    println!(
        "OAUTH2 + OAUTH2_CC + API_KEY + BASIC: {mapped}/{total} = {:.1} % map",
        100.0 * mapped as f64 / total as f64
    );
    assert!(mapped * 100 >= total * 95, "{mapped}/{total} map");
    let refusal = |name: &str| {
        providers
            .iter()
            .find(|e| e["provider"] == name)
            .unwrap_or_else(|| panic!("{name} not reported"))
            .clone()
    };
    assert_eq!(refusal("github")["outcome"], "shadowed");
    assert_eq!(refusal("twitter")["outcome"], "imported");
    assert_eq!(
        refusal("smugmug")["reason"],
        "OAUTH1 signature_method PLAINTEXT is not supported (HMAC-SHA1 only)"
    );

    // A server that loads the file at start-up lists imported apps; a
    // built-in app keeps its slug.
    let inst = Instance::new(Backend::Embedded)
        .with_env("SWITCHBOARD_CATALOG__PROVIDERS", yaml.to_str().unwrap());
    let p = inst.create_project("catalog");
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    for slug in ["google_mail", "shopify", "twilio"] {
        let (status, v, _) = s
            .get(&format!("/v1/connect/apps?q={slug}"), &bearer, None)
            .await;
        assert_eq!(status, 200, "{v}");
        assert!(
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["name_slug"] == slug),
            "{slug} not listed: {v}"
        );
    }
    let (status, v, _) = s.get("/v1/connect/apps/stripe", &bearer, None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["auth_type"], "keys", "the built-in Stripe: {v}");
    s.stop().await;

    // An unreadable catalog stops start-up, naming the file.
    let bad = Instance::new(Backend::Embedded).with_env(
        "SWITCHBOARD_CATALOG__PROVIDERS",
        "/nonexistent/providers.yaml",
    );
    let (ok, err) = bad
        .run_expecting_exit(std::time::Duration::from_secs(10))
        .await;
    assert!(!ok);
    assert!(err.contains("/nonexistent/providers.yaml"), "{err}");
}

/// An imported provider whose requests are signed (Nango's `awsSigV4(…)`,
/// here AWS IAM, a BASIC provider): the proxy signs each call with the
/// account's key pair and the user's region, and the AWS double checks the
/// signature with the `aws4` npm package.
#[tokio::test]
async fn aws_iam_proxy_calls_are_sigv4_signed() {
    let doubles = Doubles::start();
    doubles
        .post(
            "aws",
            "keys",
            json!({"access_key": "AKIDE2E", "secret_key": "s3cr3t/key+E2E"}),
        )
        .await;
    let inst = doubles
        .configure(Instance::new(Backend::Embedded), true)
        .with_env(
            "SWITCHBOARD_CATALOG__PROVIDERS",
            providers_yaml().to_str().unwrap(),
        )
        .with_env("SWITCHBOARD_APPS__AWS_IAM__BASE_URL", &doubles.url("aws"));
    let p = inst.create_project("aws");
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    let connect = |secret: &'static str| {
        let (s, bearer, p) = (&s, &bearer, &p);
        async move {
            let ct = s.connect_token(bearer, &p.id, None, "u1").await;
            let cf = json!({"username": "AKIDE2E", "password": secret, "region": "eu-west-1"});
            let (st, v, _) = s
                .post(
                    &format!("/v1/connect/{}/accounts", p.id),
                    bearer,
                    json!({"app_slug": "aws_iam", "cfmap_json": cf.to_string(), "connect_token": ct}),
                )
                .await;
            assert_eq!(st, 200, "{v}");
            v["id"]
                .as_str()
                .or(v["data"]["id"].as_str())
                .unwrap()
                .to_string()
        }
    };
    let proxy = |account: String, path: &'static str| {
        let (s, bearer, p) = (&s, &bearer, &p);
        async move {
            let enc = base64::engine::general_purpose::URL_SAFE.encode(path);
            let (st, v, _) = s
                .get(
                    &format!(
                        "/v1/connect/{}/proxy/{enc}?external_user_id=u1&account_id={account}",
                        p.id
                    ),
                    bearer,
                    None,
                )
                .await;
            (st, v)
        }
    };

    let good = connect("s3cr3t/key+E2E").await;
    let (st, v) = proxy(good.clone(), "/?Action=ListUsers&Version=2010-05-08").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["ListUsersResponse"]["ListUsersResult"]["Users"][0]["UserName"], "alice",
        "{v}"
    );
    // The scope is IAM's (global, us-east-1), as providers.yaml declares.
    let (st, v) = proxy(good.clone(), "/some/path?b=2&a=1").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (
            v["accessKey"].as_str(),
            v["region"].as_str(),
            v["service"].as_str()
        ),
        (Some("AKIDE2E"), Some("us-east-1"), Some("iam")),
        "{v}"
    );
    let seen = doubles.requests("aws").await;
    let auth = seen[0]["headers"]["authorization"].as_str().unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDE2E/"),
        "{auth}"
    );
    assert!(!auth.contains("s3cr3t"), "the secret is never sent: {auth}");

    // Any imported app's generated `<slug>-custom-request` action signs too.
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/actions/run", p.id),
            &bearer,
            json!({"id": "aws_iam-custom-request", "external_user_id": "u1", "configured_props": {
                "aws_iam": {"authProvisionId": good},
                "path": "/",
                "params": {"Action": "ListUsers", "Version": "2010-05-08"}
            }}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["ret"]["ListUsersResponse"]["ListUsersResult"]["Users"][0]["UserName"], "alice",
        "{v}"
    );
    assert_eq!(v["exports"]["$summary"], "GET / answered HTTP 200", "{v}");

    // A wrong secret signs wrongly: AWS's refusal comes back as it is.
    let bad = connect("wrong-secret").await;
    let (st, v) = proxy(bad, "/?Action=ListUsers&Version=2010-05-08").await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(v["Error"]["Code"], "SignatureDoesNotMatch", "{v}");
    s.stop().await;
}
