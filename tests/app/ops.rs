//! Operations, in-process: CORS follows the connect token's allowed
//! origins. Outages, keys, the CLI and the logs are in `tests/e2e/ops.rs`.

use reqwest::Method;
use serde_json::json;

use super::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread")]
async fn cors_follows_the_connect_tokens_allowed_origins() {
    let s = spawn_app().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let (_, v, _) = s
        .call(
            Method::POST,
            &format!("/v1/connect/{}/tokens", p.id),
            &bearer,
            None,
            Some(json!({"external_user_id": "web", "allowed_origins": ["http://localhost:3000"]})),
        )
        .await;
    let ct = v["token"].as_str().unwrap();
    let pre = s
        .http
        .request(
            Method::OPTIONS,
            format!("{}/v1/connect/accounts", s.address),
        )
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let from = |origin: &'static str| {
        s.http
            .get(format!("{}/v1/connect/accounts", s.address))
            .bearer_auth(ct)
            .header("origin", origin)
            .send()
    };
    let ok = from("http://localhost:3000").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let bad = from("https://evil.example").await.unwrap();
    assert_eq!(bad.status(), 403);
    assert!(bad.headers().get("access-control-allow-origin").is_none());
    s.stop().await;
}
