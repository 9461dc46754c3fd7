//! Every class of bad input gets a 4xx with a JSON error that says what is
//! wrong, never a 500 (on both backends: `app` and `app_redis`).

use reqwest::Method;
use serde_json::json;

use super::helpers::{Api, assert_client_error, spawn_app_with};

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_get_clear_4xx_errors() {
    let s = spawn_app_with(|c| c.http.max_body_bytes = 4096).await;
    let backend = s.backend;
    let a = s.project.clone();
    let b = s.create_project("B").await;
    let ta = s.bearer.clone();
    let tb = s.token(&b).await;
    let tokens = format!("/v1/connect/{}/tokens", a.id);
    let accounts = format!("/v1/connect/{}/accounts", a.id);
    let ctx = |w: &str| format!("{backend:?}: {w}");

    // Unknown project.
    let (st, v, _) = s
        .get("/v1/connect/proj_doesnotexist/accounts", &ta, None)
        .await;
    assert_client_error(&ctx("unknown project"), st, &v, 404, "not found");
    let (st, v, _) = s.get("/v1/connect/not-a-project/accounts", &ta, None).await;
    assert_client_error(&ctx("malformed project"), st, &v, 404, "not found");

    // Wrong environment.
    let (st, v, _) = s.get(&accounts, &ta, Some("staging")).await;
    assert_client_error(&ctx("wrong environment"), st, &v, 400, "x-pd-environment");

    // Malformed JSON, and JSON of the wrong shape.
    let r = s
        .http
        .post(format!("{}{tokens}", s.base))
        .bearer_auth(&ta)
        .header("content-type", "application/json")
        .body("{\"external_user_id\":")
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    assert_client_error(
        &ctx("malformed JSON"),
        st,
        &r.json().await.unwrap(),
        400,
        "invalid JSON",
    );
    let (st, v, _) = s
        .call(
            Method::POST,
            &tokens,
            &ta,
            None,
            Some(json!({"allowed_origins": []})),
        )
        .await;
    assert_client_error(&ctx("missing field"), st, &v, 400, "external_user_id");
    let (st, v, _) = s
        .call(
            Method::POST,
            &tokens,
            &ta,
            None,
            Some(json!({"external_user_id": 5})),
        )
        .await;
    assert_client_error(&ctx("wrong type"), st, &v, 400, "invalid type");

    // Oversized bodies, on a JSON endpoint and on the token endpoint.
    let big = json!({"external_user_id": "u", "webhook_uri": format!("https://x/{}", "a".repeat(10_000))});
    let (st, v, _) = s
        .call(Method::POST, &tokens, &ta, None, Some(big.clone()))
        .await;
    assert_client_error(&ctx("oversized body"), st, &v, 413, "large");
    let (st, v) = s.oauth(&big).await;
    assert_client_error(&ctx("oversized token body"), st, &v, 413, "large");

    // Over-long or non-URL-safe external user ids.
    let (st, v, _) = s
        .call(
            Method::POST,
            &tokens,
            &ta,
            None,
            Some(json!({"external_user_id": "a".repeat(251)})),
        )
        .await;
    assert_client_error(&ctx("long user id"), st, &v, 400, "251");
    let (st, v, _) = s
        .call(
            Method::POST,
            &tokens,
            &ta,
            None,
            Some(json!({"external_user_id": "a/b c"})),
        )
        .await;
    assert_client_error(&ctx("unsafe user id"), st, &v, 400, "may only contain");
    let (st, v, _) = s
        .call(
            Method::DELETE,
            &format!("/v1/connect/{}/users/a%20b", a.id),
            &ta,
            None,
            None,
        )
        .await;
    assert_client_error(
        &ctx("unsafe user id in path"),
        st,
        &v,
        400,
        "may only contain",
    );

    // Other token-request errors.
    for (body, needle) in [
        (
            json!({"external_user_id": "u", "expires_in": 99999}),
            "expires_in",
        ),
        (
            json!({"external_user_id": "u", "success_redirect_uri": "javascript:alert(1)"}),
            "success_redirect_uri",
        ),
        (
            json!({"external_user_id": "u", "allowed_origins": ["https://a.example/path"]}),
            "origin",
        ),
        (
            json!({"external_user_id": "u", "scope": "connect:everything"}),
            "scope",
        ),
    ] {
        let (st, v, _) = s.call(Method::POST, &tokens, &ta, None, Some(body)).await;
        assert_client_error(&ctx(needle), st, &v, 400, needle);
    }

    // Expired connect token, in a body and as a bearer.
    let (_, v, _) = s
        .call(
            Method::POST,
            &tokens,
            &ta,
            None,
            Some(json!({"external_user_id": "exp", "expires_in": 1})),
        )
        .await;
    let expired = v["token"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let create = |ct: &str| json!({"app_slug": "stripe", "cfmap_json": "{\"api_key\":\"sk\"}", "connect_token": ct});
    let (st, v, _) = s
        .call(Method::POST, &accounts, &ta, None, Some(create(&expired)))
        .await;
    assert_client_error(&ctx("expired token"), st, &v, 400, "expired");
    let (st, v, _) = s.get("/v1/connect/accounts", &expired, None).await;
    assert_client_error(&ctx("expired bearer"), st, &v, 401, "expired");

    // Already-used connect token.
    let used = s.connect_token(&ta, &a.id, None, "used").await;
    let (st, _, _) = s
        .call(Method::POST, &accounts, &ta, None, Some(create(&used)))
        .await;
    assert_eq!(st, 200);
    let (st, v, _) = s
        .call(Method::POST, &accounts, &ta, None, Some(create(&used)))
        .await;
    assert_client_error(&ctx("used token"), st, &v, 400, "already been used");
    let (st, v, _) = s.get("/v1/connect/accounts", &used, None).await;
    assert_client_error(&ctx("used bearer"), st, &v, 401, "already been used");

    // Path ids are percent-decoded, however the SDK escaped them.
    let (st, v, _) = s
        .get(
            &format!("/v1/connect/{}/users/%75se%64/accounts", a.id),
            &ta,
            None,
        )
        .await;
    assert_eq!(
        (st, v.as_array().map(Vec::len)),
        (200, Some(1)),
        "{}",
        ctx("decoded path id")
    );

    // A connect token of another project.
    let foreign = s.connect_token(&tb, &b.id, None, "someone").await;
    let (st, v, _) = s
        .call(Method::POST, &accounts, &ta, None, Some(create(&foreign)))
        .await;
    assert_client_error(&ctx("foreign token"), st, &v, 403, "another project");

    // Wrong client secret, unknown client, bad bearers.
    for (id, secret) in [
        (a.client_id.as_str(), "sbcs_wrong"),
        ("cl_unknown", a.client_secret.as_str()),
    ] {
        let (st, v) = s.oauth(&Api::grant(id, secret)).await;
        assert_client_error(&ctx("wrong secret"), st, &v, 401, "invalid client");
    }
    let mut grant = Api::grant(&a.client_id, &a.client_secret);
    grant["grant_type"] = json!("password");
    let (st, v) = s.oauth(&grant).await;
    assert_client_error(&ctx("grant type"), st, &v, 400, "unsupported_grant_type");
    let (st, v, _) = s.get(&accounts, "sbat.nope.nope", None).await;
    assert_client_error(&ctx("bad bearer"), st, &v, 401, "invalid");
    let r = s
        .http
        .get(format!("{}{accounts}", s.base))
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    assert_client_error(
        &ctx("no bearer"),
        st,
        &r.json().await.unwrap(),
        401,
        "bearer",
    );

    // Bad account requests.
    let ct = s.connect_token(&ta, &a.id, None, "acct-errors").await;
    for (body, needle) in [
        (
            json!({"app_slug": "nope", "cfmap_json": "{}", "connect_token": ct}),
            "unknown app",
        ),
        (
            json!({"app_slug": "github", "cfmap_json": "{}", "connect_token": ct}),
            "OAuth",
        ),
        (
            json!({"app_slug": "stripe", "cfmap_json": "{}", "connect_token": ct}),
            "api_key",
        ),
        (
            json!({"app_slug": "stripe", "cfmap_json": "[1,2", "connect_token": ct}),
            "cfmap_json",
        ),
        (
            json!({"app_slug": "stripe", "cfmap_json": "{\"api_key\":\"k\",\"x\":\"y\"}", "connect_token": ct}),
            "unknown field",
        ),
    ] {
        let (st, v, _) = s.call(Method::POST, &accounts, &ta, None, Some(body)).await;
        assert_client_error(&ctx(needle), st, &v, 400, needle);
    }
    for (q, needle) in [
        ("?limit=abc", "query"),
        ("?limit=0", "limit"),
        ("?limit=1000", "limit"),
        ("?app=nope", "unknown app"),
        ("?external_user_id=a%3Ab", "may only contain"),
    ] {
        let (st, v, _) = s.get(&format!("{accounts}{q}"), &ta, None).await;
        assert_client_error(&ctx(q), st, &v, 400, needle);
    }
    let (st, v, _) = s.get(&format!("{accounts}/apn_missing"), &ta, None).await;
    assert_client_error(&ctx("missing account"), st, &v, 404, "not found");
    let (st, v, _) = s.get("/v1/nothing/here", &ta, None).await;
    assert_client_error(&ctx("no route"), st, &v, 404, "no route");
    s.stop().await;
}
