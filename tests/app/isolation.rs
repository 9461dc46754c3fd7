//! Credentials of project A reach nothing of project B, nor anything of A's
//! other environment; connect tokens reach only their own user (on both
//! backends: `app` and `app_redis`).

use reqwest::Method;
use serde_json::json;

use switchboard_domain::model::Environment;

use super::helpers::{Api, assert_client_error, spawn_app};

#[tokio::test(flavor = "multi_thread")]
async fn tenants_are_isolated_by_project_and_environment() {
    let s = spawn_app().await;
    let backend = s.backend;
    let a = s.project.clone();
    let b = s.create_project("B").await;
    let prod_only = s
        .issue_client(&a.id, None, &[Environment::Production])
        .await;
    let read_only = s
        .issue_client(&a.id, Some("connect:accounts:read"), &[])
        .await;
    let minter = s
        .issue_client(&a.id, Some("connect:tokens:create"), &[])
        .await;
    let ta = s.bearer.clone();
    let tb = s.token(&b).await;
    let ctx = |w: &str| format!("{backend:?}: {w}");
    let b_acct = s.key_account(&tb, &b.id, None, "bob", "sk_b").await;
    let a_prod = s
        .key_account(&ta, &a.id, Some("production"), "alice", "sk_a")
        .await;

    // A's credentials on B's paths.
    for (m, path) in [
        (Method::GET, format!("/v1/connect/{}/accounts", b.id)),
        (
            Method::GET,
            format!("/v1/connect/{}/accounts/{b_acct}", b.id),
        ),
        (
            Method::DELETE,
            format!("/v1/connect/{}/accounts/{b_acct}", b.id),
        ),
        (Method::GET, format!("/v1/connect/{}/users", b.id)),
        (Method::DELETE, format!("/v1/connect/{}/users/bob", b.id)),
        (
            Method::DELETE,
            format!("/v1/connect/{}/apps/stripe/accounts", b.id),
        ),
        (
            Method::GET,
            format!("/v1/connect/{}/users/bob/accounts", b.id),
        ),
    ] {
        let (st, v, _) = s.call(m.clone(), &path, &ta, None, None).await;
        assert_client_error(
            &ctx(&format!("{m} {path}")),
            st,
            &v,
            403,
            "not valid for project",
        );
    }
    let (st, v, _) = s
        .call(
            Method::POST,
            &format!("/v1/connect/{}/tokens", b.id),
            &ta,
            None,
            Some(json!({"external_user_id": "x"})),
        )
        .await;
    assert_client_error(&ctx("token for B"), st, &v, 403, "not valid for project");
    // B's account id on A's own path is simply not there.
    let (st, _, _) = s
        .get(
            &format!("/v1/connect/{}/accounts/{b_acct}", a.id),
            &ta,
            None,
        )
        .await;
    assert_eq!(st, 404, "{}", ctx("B's id under A"));
    let (st, _, _) = s
        .call(
            Method::DELETE,
            &format!("/v1/connect/{}/accounts/{b_acct}", a.id),
            &ta,
            None,
            None,
        )
        .await;
    assert_eq!(st, 404);
    let (_, v, _) = s
        .get(&format!("/v1/connect/{}/accounts", a.id), &ta, None)
        .await;
    assert_eq!(
        v["data"].as_array().unwrap().len(),
        1,
        "A sees only its own account"
    );

    // A's development environment sees nothing of A's production.
    let a_acct = |id: &str| format!("/v1/connect/{}/accounts/{id}", a.id);
    let (st, v, _) = s
        .get(
            &format!("/v1/connect/{}/accounts", a.id),
            &ta,
            Some("development"),
        )
        .await;
    assert_eq!(
        (st, v["data"].as_array().unwrap().len()),
        (200, 0),
        "{}",
        ctx("dev list")
    );
    let (st, _, _) = s.get(&a_acct(&a_prod), &ta, Some("development")).await;
    assert_eq!(st, 404);
    let (st, _, _) = s
        .call(
            Method::DELETE,
            &a_acct(&a_prod),
            &ta,
            Some("development"),
            None,
        )
        .await;
    assert_eq!(st, 404);
    let (_, v, _) = s
        .get(
            &format!("/v1/connect/{}/users", a.id),
            &ta,
            Some("development"),
        )
        .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 0);
    let (st, _, _) = s
        .call(
            Method::DELETE,
            &format!("/v1/connect/{}/users/alice", a.id),
            &ta,
            Some("development"),
            None,
        )
        .await;
    assert_eq!(st, 404);
    let (st, v, _) = s.get(&a_acct(&a_prod), &ta, Some("production")).await;
    assert_eq!(st, 200, "production account still there: {v}");

    // A client limited to production cannot act in development.
    let tp = s.token(&prod_only).await;
    let (st, v, _) = s
        .get(
            &format!("/v1/connect/{}/accounts", a.id),
            &tp,
            Some("development"),
        )
        .await;
    assert_client_error(&ctx("prod-only client"), st, &v, 403, "development");

    // A client's scopes bound what its tokens may do.
    let ro = read_only;
    let tro = s.token(&ro).await;
    let (st, _, _) = s
        .get(&format!("/v1/connect/{}/accounts", a.id), &tro, None)
        .await;
    assert_eq!(st, 200);
    let (st, v, _) = s
        .call(
            Method::POST,
            &format!("/v1/connect/{}/tokens", a.id),
            &tro,
            None,
            Some(json!({"external_user_id": "x"})),
        )
        .await;
    assert_client_error(
        &ctx("read-only scope"),
        st,
        &v,
        403,
        "connect:tokens:create",
    );
    let mut wider = Api::grant(&ro.client_id, &ro.client_secret);
    wider["scope"] = json!("connect:accounts:write");
    let (st, v) = s.oauth(&wider).await;
    assert_client_error(&ctx("scope escalation"), st, &v, 400, "invalid_scope");

    // A connect token never carries more than its creator holds.
    let tm = s.token(&minter).await;
    let tokens = format!("/v1/connect/{}/tokens", a.id);
    let (st, v, _) = s
        .call(
            Method::POST,
            &tokens,
            &tm,
            None,
            Some(json!({"external_user_id": "alice", "scope": "*"})),
        )
        .await;
    assert_client_error(&ctx("scope via connect token"), st, &v, 403, "cannot grant");
    let (st, v, _) = s
        .call(
            Method::POST,
            &tokens,
            &tm,
            None,
            Some(json!({"external_user_id": "alice"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let narrow = v["token"].as_str().unwrap();
    let (st, v, _) = s.get("/v1/connect/accounts", narrow, None).await;
    assert_client_error(
        &ctx("narrow connect token"),
        st,
        &v,
        403,
        "connect:accounts:read",
    );

    // A connect token reaches only its user, its tenant, and no credentials.
    let ct = s
        .connect_token(&ta, &a.id, Some("development"), "carol")
        .await;
    let (st, v, _) = s.get("/v1/connect/accounts", &ct, None).await;
    assert_eq!((st, v["data"].as_array().unwrap().len()), (200, 0), "{v}");
    let (st, v, _) = s
        .get("/v1/connect/accounts?external_user_id=alice", &ct, None)
        .await;
    assert_client_error(&ctx("other user"), st, &v, 403, "own user");
    let (st, v, _) = s.get("/v1/connect/accounts", &ct, Some("production")).await;
    assert_client_error(&ctx("token env"), st, &v, 403, "development");
    let (st, v, _) = s
        .get("/v1/connect/accounts?include_credentials=true", &ct, None)
        .await;
    assert_client_error(&ctx("ctok credentials"), st, &v, 403, "server credentials");
    let (st, v, _) = s
        .get(&format!("/v1/connect/{}/users", a.id), &ct, None)
        .await;
    assert_client_error(&ctx("ctok users"), st, &v, 403, "server credentials");
    let (st, v, _) = s
        .get(&format!("/v1/connect/{}/accounts", b.id), &ct, None)
        .await;
    assert_client_error(
        &ctx("ctok other project"),
        st,
        &v,
        403,
        "not valid for project",
    );
    s.stop().await;
}
