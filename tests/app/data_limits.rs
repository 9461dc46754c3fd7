//! Issue 12, finding 6 and the retention review: state built from request
//! data is bounded (long ids are refused with 400), and per-tenant quotas
//! answer 403 naming the quota. `tests/e2e/data_limits.rs` keeps what
//! needs the real process (its memory, Redis keys, the provider doubles).

use reqwest::Method;
use serde_json::{Value, json};

use super::helpers::{assert_client_error, client, spawn_app, spawn_app_with};

/// Finding 6: every class of id is bounded at the edge with a clear 400.
#[tokio::test(flavor = "multi_thread")]
async fn too_long_ids_are_refused_with_400() {
    let s = spawn_app().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let base = format!("/v1/connect/{}", p.id);
    let long_user = "u".repeat(251);
    let long_id = "d".repeat(129);
    let get = |path: String| {
        let s = &s;
        let bearer = &bearer;
        async move { s.get(&path, bearer, None).await }
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "external_user_id in a query",
            format!("{base}/deployed-triggers?external_user_id={long_user}"),
        ),
        (
            "external_user_id in a path",
            format!("{base}/users/{long_user}/accounts"),
        ),
        (
            "a deployed trigger id",
            format!("{base}/deployed-triggers/{long_id}?external_user_id=u1"),
        ),
        (
            "a deployed trigger id (events)",
            format!("{base}/deployed-triggers/{long_id}/events?external_user_id=u1"),
        ),
        ("an account id", format!("{base}/accounts/{long_id}")),
        (
            "a delivery id",
            format!("{base}/deliveries/{long_id}/attempts"),
        ),
        ("a component key", format!("{base}/components/{long_id}")),
        ("an OAuth app id", format!("{base}/oauth_apps/{long_id}")),
        (
            "a project id",
            format!("/v1/connect/{long_id}/deployed-triggers?external_user_id=u1"),
        ),
    ];
    for (what, path) in cases {
        let (st, v, _) = get(path).await;
        assert_client_error(what, st, &v, 400, "the maximum is");
    }
    let (st, v, _) = s
        .call(
            Method::DELETE,
            &format!("{base}/users/{long_user}"),
            &bearer,
            None,
            None,
        )
        .await;
    assert_client_error("deleting a long user id", st, &v, 400, "the maximum is 250");
    let (st, v, _) = s
        .post(
            &format!("{base}/tokens"),
            &bearer,
            json!({"external_user_id": long_user}),
        )
        .await;
    assert_client_error("a connect token's user", st, &v, 400, "the maximum is 250");
    let (st, v, _) = s
        .post(
            &format!("{base}/triggers/deploy"),
            &bearer,
            json!({"id": "http-new-requests", "external_user_id": long_user}),
        )
        .await;
    assert_client_error("a deploy's user", st, &v, 400, "the maximum is 250");
    let (st, v, _) = s
        .post(
            &format!("{base}/triggers/deploy"),
            &bearer,
            json!({"id": "http-new-requests", "external_user_id": "u1",
                   "webhook_url": format!("https://example.com/{}", "w".repeat(3000))}),
        )
        .await;
    assert_client_error("a webhook URL", st, &v, 400, "the maximum is 2048");
    let r = client()
        .post(format!("{}{base}/actions/run", s.base))
        .bearer_auth(&bearer)
        .header("Idempotency-Key", "k".repeat(256))
        .json(
            &json!({"id": "http-custom-request", "external_user_id": "u1", "configured_props": {}}),
        )
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    assert_client_error("an Idempotency-Key", st, &v, 400, "Idempotency-Key");
}

/// Retention review: every quota, set small, answers 403 naming itself.
#[tokio::test(flavor = "multi_thread")]
async fn quotas_answer_403_naming_the_quota() {
    let s = spawn_app_with(|c| {
        c.quotas.deployments_per_user = 2;
        c.quotas.deployments_per_environment = 3;
        c.quotas.accounts_per_user = 1;
        c.quotas.webhooks_per_deployment = 2;
        c.quotas.private_components_per_project = 1;
    })
    .await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let base = format!("/v1/connect/{}", p.id);
    let deploy = |user: &'static str| {
        let (s, bearer, base) = (&s, &bearer, &base);
        async move {
            s.post(
                &format!("{base}/triggers/deploy"),
                bearer,
                json!({"id": "http-new-requests", "external_user_id": user}),
            )
            .await
        }
    };
    let (st, first, _) = deploy("u1").await;
    assert_eq!(st, 200, "{first}");
    assert_eq!(deploy("u1").await.0, 200);
    let (st, v, _) = deploy("u1").await;
    assert_client_error(
        "3rd deploy of u1",
        st,
        &v,
        403,
        "quotas.deployments_per_user",
    );
    assert!(v["error"].as_str().unwrap().contains("at most 2"), "{v}");
    assert_eq!(deploy("u2").await.0, 200);
    let (st, v, _) = deploy("u2").await;
    assert_client_error(
        "4th deploy of the environment",
        st,
        &v,
        403,
        "quotas.deployments_per_environment",
    );
    // Another environment has its own count.
    let (st, v, _) = s
        .call(
            Method::POST,
            &format!("{base}/triggers/deploy"),
            &bearer,
            Some("development"),
            Some(json!({"id": "http-new-requests", "external_user_id": "u2"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");

    // Webhook URLs per deployment.
    let id = first["data"]["id"].as_str().unwrap();
    let hooks = format!("{base}/deployed-triggers/{id}/webhooks?external_user_id=u1");
    let urls = |n: usize| json!({"webhook_urls": (0..n).map(|i| format!("https://example.com/{i}")).collect::<Vec<_>>()});
    let (st, v, _) = s
        .call(Method::PUT, &hooks, &bearer, None, Some(urls(2)))
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v, _) = s
        .call(Method::PUT, &hooks, &bearer, None, Some(urls(3)))
        .await;
    assert_client_error(
        "3 webhook URLs",
        st,
        &v,
        403,
        "quotas.webhooks_per_deployment",
    );

    // Accounts per user (a reconnect would not count).
    s.key_account(&bearer, &p.id, None, "u1", "sk_test_one")
        .await;
    let ct = s.connect_token(&bearer, &p.id, None, "u1").await;
    let (st, v, _) = s
        .post(
            &format!("{base}/accounts"),
            &bearer,
            json!({"app_slug": "stripe", "cfmap_json": json!({"api_key": "sk_test_two"}).to_string(), "connect_token": ct}),
        )
        .await;
    assert_client_error("a 2nd account", st, &v, 403, "quotas.accounts_per_user");

    // Private components per project.
    let manifest = |key: &str| {
        json!({
            "manifest_version": 1, "kind": "action", "key": key, "name": "Echo", "version": "0.1.0", "app": "http",
            "props": [],
            "steps": [{"name": "echo", "request": {"method": "GET", "url": "https://example.com/"}}]
        })
    };
    let (st, v, _) = s
        .post(
            &format!("{base}/components"),
            &bearer,
            manifest("http-quota-one"),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, v, _) = s
        .call(
            Method::POST,
            &format!("{base}/components"),
            &bearer,
            Some("development"),
            Some(manifest("http-quota-two")),
        )
        .await;
    assert_client_error(
        "a 2nd private component (other environment, same project)",
        st,
        &v,
        403,
        "quotas.private_components_per_project",
    );
}
