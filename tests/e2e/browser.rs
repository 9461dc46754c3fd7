//! Headless Chromium for the e2e tests: runs `tests/browser/drive.mjs`
//! (playwright-core driving Debian's `chromium`) on one scenario and hands
//! back its result JSON. The scenario and result formats are in
//! `tests/browser/README.md`.
//!
//! `drive` blocks (it waits for a node process for up to two minutes): from
//! an async test call it as
//! `tokio::task::spawn_blocking(move || browser::drive(scenario)).await.unwrap()`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const DRIVER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");

/// Runs one browser scenario (see tests/browser/drive.mjs) and returns its
/// result JSON. Panics if node, the driver's npm packages or Chromium are
/// missing, or if the driver itself fails; a step that could not be done is
/// not a panic but the result's `error` (the test decides).
pub fn drive(scenario: Value) -> Value {
    if !Path::new(DRIVER_DIR)
        .join("node_modules/playwright-core")
        .exists()
    {
        panic!("tests/browser/node_modules is missing: run `npm ci --prefix tests/browser`");
    }
    let out = Command::new("node")
        .arg("drive.mjs")
        .arg(scenario.to_string())
        .current_dir(DRIVER_DIR)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (install Node.js 20+): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(2) => panic!("Chromium is missing (apt-get install chromium): {stderr}"),
        _ => panic!(
            "browser driver failed ({}) on {scenario}: {stderr}",
            out.status
        ),
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("browser driver printed no JSON ({e}): {stdout:?} {stderr}"))
}

/// Where screenshots go: `$SWITCHBOARD_ARTIFACTS_DIR`, else
/// `<workspace>/target/artifacts` (even when CARGO_TARGET_DIR is elsewhere);
/// created if missing.
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("SWITCHBOARD_ARTIFACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artifacts"));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}
