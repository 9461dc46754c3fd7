//! The file stash: an action whose provider answers with a file returns a
//! `$stash` reference; `file_stash/download` gives the same bytes back to
//! the same tenant only; bad keys are 400, unknown or foreign ones 404.

use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::helpers::{assert_client_error, spawn_app};
use super::receiver::{listen, read_request};

/// A provider that answers every request with `body` as `content_type`.
async fn file_server(content_type: &'static str, body: Vec<u8>) -> String {
    let body = std::sync::Arc::new(body);
    listen(move |mut conn| {
        let body = body.clone();
        async move {
            while read_request(&mut conn).await.is_some() {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                if conn.write_all(head.as_bytes()).await.is_err()
                    || conn.write_all(&body).await.is_err()
                {
                    return;
                }
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_results_are_stashed_and_downloaded_by_their_tenant_only() {
    let s = spawn_app().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    // Every byte value, so nothing survives a text round trip by luck.
    let png: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let provider = file_server("image/png", png.clone()).await;
    let run = |url: String| json!({"id": "http-custom-request", "external_user_id": "u1", "configured_props": {"url": url}});
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/actions/run", p.id),
            &bearer,
            run(format!("{provider}/logo.png")),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let stash = &v["ret"]["$stash"];
    assert_eq!(stash["size"], png.len());
    assert_eq!(stash["content_type"], "image/png");
    assert!(stash["expires_at"].is_string());
    let key = stash["s3_key"].as_str().unwrap().to_string();

    let download = |project: String, bearer: String, key: String, env: Option<&'static str>| {
        let http = s.api.http.clone();
        let base = s.api.base.clone();
        async move {
            let mut rb = http
                .get(format!(
                    "{base}/v1/connect/{project}/file_stash/download?s3_key={key}"
                ))
                .bearer_auth(bearer);
            if let Some(e) = env {
                rb = rb.header("x-pd-environment", e);
            }
            rb.send().await.unwrap()
        }
    };
    let r = download(p.id.clone(), bearer.clone(), key.clone(), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().to_vec(), png, "the same bytes");

    // JSON and text answers stay inline.
    let json_provider = file_server("application/json", br#"{"ok":true}"#.to_vec()).await;
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/actions/run", p.id),
            &bearer,
            run(format!("{json_provider}/x")),
        )
        .await;
    assert_eq!((st, v["ret"].clone()), (200, json!({"ok": true})));

    // Another environment, another project: not found.
    let r = download(
        p.id.clone(),
        bearer.clone(),
        key.clone(),
        Some("development"),
    )
    .await;
    assert_eq!(r.status(), 404);
    let other = s.create_project("other").await;
    let other_bearer = s.token(&other).await;
    let r = download(other.id.clone(), other_bearer, key.clone(), None).await;
    assert_eq!(r.status(), 404);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("file stash"), "{v}");

    // Bad keys.
    let base = format!("/v1/connect/{}/file_stash/download", p.id);
    for (what, q, status, needle) in [
        ("no key", String::new(), 400, "s3_key is required"),
        (
            "malformed key",
            "?s3_key=../../etc/passwd".to_string(),
            400,
            "file stash key",
        ),
        (
            "long key",
            format!("?s3_key=fs_{}", "a".repeat(500)),
            400,
            "file stash key",
        ),
        (
            "unknown key",
            format!("?s3_key=fs_{}", "a".repeat(27)),
            404,
            "no file",
        ),
    ] {
        let (st, v, _) = s.get(&format!("{base}{q}"), &bearer, None).await;
        assert_client_error(what, st, &v, status, needle);
    }
    // A connect token without the run scope may not read the stash.
    let ct = s.connect_token(&bearer, &p.id, None, "u1").await;
    let (st, v, _) = s.get(&format!("{base}?s3_key={key}"), &ct, None).await;
    assert_client_error(
        "connect token without actions:run",
        st,
        &v,
        403,
        "connect:actions:run",
    );
    s.stop().await;
}
