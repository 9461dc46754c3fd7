//! Issue 15's acceptance: every public method of both official SDKs, called
//! once against the real binary (tests/sdk/js/surface.mjs,
//! tests/sdk/python/surface.py). Each script finds the methods by walking
//! its client, prints `N of M`, and names the methods documented as not
//! applicable with their error: pipelines (Switchboard has no workflows) and
//! `workflows.invoke*`, which call a workflow's own URL, not the Connect API.

use crate::components::World;
use crate::harness::Backend;
use crate::sdk::{node_script, python_script, run_scenario};

/// Methods whose failures are printed, not fatal, until they work (a
/// script fails once one does, so this list shrinks). Both SDKs' spellings.
/// Empty: every method works or is documented as not applicable.
const PENDING: &str = "";

async fn every_method(backend: Backend) {
    // `proxy.put/patch/delete` need an API that takes every method: the
    // httpbin-like double stands in for OpenAI's.
    let w = World::with(backend, |i, d| {
        i.with_env("SWITCHBOARD_APPS__OPENAI__BASE_URL", &d.url("http"))
    })
    .await;
    for (name, mut cmd) in [
        ("JavaScript", node_script("surface.mjs")),
        ("Python", python_script("surface.py")),
    ] {
        cmd.env("SB_USER", &w.user)
            .env("SB_SLACK_ACCOUNT", &w.slack)
            .env("SB_GITHUB_ACCOUNT", &w.github)
            .env("SB_OPERATOR_ID", &w.operator.client_id)
            .env("SB_OPERATOR_SECRET", &w.operator.client_secret)
            .env("SB_HTTP_DOUBLE", w.doubles.url("http"))
            .env(
                "SB_PENDING",
                std::env::var("SB_PENDING").unwrap_or_else(|_| PENDING.into()),
            );
        run_scenario(name, cmd, &w.inst, &w.project);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sdk_method_on_the_embedded_store() {
    every_method(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sdk_method_on_redis() {
    every_method(Backend::Redis).await;
}
