//! The official SDKs, unmodified, against a running switchboard.

use std::path::Path;
use std::process::Command;

use crate::harness::{Backend, Instance};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn run_scenario(name: &str, mut cmd: Command, inst: &Instance, p: &crate::harness::Project) {
    let out = cmd
        .env("SB_BASE_URL", inst.base())
        .env("SB_PROJECT_ID", &p.id)
        .env("SB_CLIENT_ID", &p.client_id)
        .env("SB_CLIENT_SECRET", &p.client_secret)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the {name} scenario: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(
        out.status.success(),
        "{name} SDK scenario failed on {:?}:\n{text}\nserver log:\n{}",
        inst.backend,
        std::fs::read_to_string(inst.log_path()).unwrap_or_default()
    );
}

pub fn node_script(script: &str) -> Command {
    let dir = root().join("tests/sdk/js");
    assert!(
        dir.join("node_modules/@pipedream/sdk").exists(),
        "@pipedream/sdk is not installed: run `npm ci --prefix tests/sdk/js` (./scripts/test does)"
    );
    let mut c = Command::new("node");
    c.arg(dir.join(script)).current_dir(dir);
    c
}

fn node() -> Command {
    node_script("scenario.mjs")
}

fn python() -> Command {
    python_script("scenario.py")
}

pub fn python_script(script: &str) -> Command {
    let py = std::env::var("SWITCHBOARD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import pipedream"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{py} cannot import the pipedream SDK: install tests/sdk/python/requirements.txt \
         (./scripts/test does, into a venv) and set SWITCHBOARD_TEST_PYTHON"
    );
    let mut c = Command::new(py);
    c.arg(root().join("tests/sdk/python").join(script));
    c
}

async fn both_sdks(backend: Backend) {
    let inst = Instance::new(backend);
    let p = inst.create_project("SDK scenario");
    let server = inst.start().await;
    run_scenario("JavaScript", node(), &inst, &p);
    run_scenario("Python", python(), &inst, &p);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn js_and_python_sdks_on_the_embedded_store() {
    both_sdks(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn js_and_python_sdks_on_redis() {
    both_sdks(Backend::Redis).await;
}

/// The components scenario: catalog, remote options, reload props, runs and
/// the proxy, through both SDKs, against the provider doubles.
async fn components_with_both_sdks(backend: Backend) {
    let w = crate::components::World::new(backend).await;
    for (name, mut cmd) in [
        ("JavaScript", node_script("components.mjs")),
        ("Python", python_script("components.py")),
    ] {
        cmd.env("SB_USER", &w.user)
            .env("SB_SLACK_ACCOUNT", &w.slack)
            .env("SB_GITHUB_ACCOUNT", &w.github);
        run_scenario(name, cmd, &w.inst, &w.project);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sdks_drive_components_on_the_embedded_store() {
    components_with_both_sdks(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdks_drive_components_on_redis() {
    components_with_both_sdks(Backend::Redis).await;
}

/// The deployed-trigger scenario through both SDKs: deploy, inbound, signed
/// delivery verified with `standardwebhooks`, events, pause, resume,
/// regenerate the key, delete.
async fn triggers_with_both_sdks(backend: Backend) {
    let doubles = crate::harness::Doubles::start();
    let inst = doubles.configure(Instance::new(backend), true);
    let p = inst.create_project("SDK triggers");
    let _server = inst.start().await;
    for (name, mut cmd) in [
        ("JavaScript", node_script("triggers.mjs")),
        ("Python", python_script("triggers.py")),
    ] {
        cmd.env("SB_HTTP_DOUBLE", doubles.url("http"));
        run_scenario(name, cmd, &inst, &p);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sdks_drive_deployed_triggers_on_the_embedded_store() {
    triggers_with_both_sdks(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdks_drive_deployed_triggers_on_redis() {
    triggers_with_both_sdks(Backend::Redis).await;
}

/// `usage.list`, the five `appOverrides` calls and
/// `fileStash.downloadFile` through both SDKs (their own parsing).
async fn usage_overrides_and_stash_with_both_sdks(backend: Backend) {
    let doubles = crate::harness::Doubles::start();
    let inst = doubles.configure(Instance::new(backend), true);
    let p = inst.create_project("SDK usage");
    let _server = inst.start().await;
    for (name, mut cmd) in [
        ("JavaScript", node_script("usage.mjs")),
        ("Python", python_script("usage.py")),
    ] {
        cmd.env("SB_HTTP_DOUBLE", doubles.url("http"));
        run_scenario(name, cmd, &inst, &p);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sdks_read_usage_overrides_and_stash_on_the_embedded_store() {
    usage_overrides_and_stash_with_both_sdks(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdks_read_usage_overrides_and_stash_on_redis() {
    usage_overrides_and_stash_with_both_sdks(Backend::Redis).await;
}
