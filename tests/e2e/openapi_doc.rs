//! Issue 15: the binary publishes its OpenAPI 3.1 document at
//! `GET /openapi.json` (no credentials), and the official validator
//! (`openapi-spec-validator`, tests/sdk/python/requirements.txt) accepts it.

use crate::harness::{Backend, Instance, client};

#[tokio::test]
async fn the_published_document_is_valid_openapi_3_1() {
    let inst = Instance::new(Backend::Embedded);
    let s = inst.start().await;
    let r = client()
        .get(format!("{}/openapi.json", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(
        doc["paths"]["/v1/connect/{project}/accounts"].is_object(),
        "{}",
        &text[..text.len().min(500)]
    );

    let py = std::env::var("SWITCHBOARD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let file =
        std::env::temp_dir().join(format!("switchboard-openapi-{}.json", std::process::id()));
    std::fs::write(&file, &text).unwrap();
    let out = std::process::Command::new(&py)
        .args(["-m", "openapi_spec_validator", "--schema", "3.1"])
        .arg(&file)
        .output();
    let _ = std::fs::remove_file(&file);
    let out = out.unwrap_or_else(|e| panic!("{py}: {e}: install python3"));
    assert!(
        out.status.success(),
        "{py} -m openapi_spec_validator failed (install tests/sdk/python/requirements.txt, \
         as ./scripts/test does, and set SWITCHBOARD_TEST_PYTHON):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    s.stop().await;
}
