//! App overrides: the five calls, what `accounts.create` does with
//! `app_override_id`, and each class of bad input.

use reqwest::Method;
use serde_json::{Value, json};

use super::helpers::{assert_client_error, spawn_app};

#[tokio::test(flavor = "multi_thread")]
async fn app_overrides_crud_and_accounts_create() {
    let s = spawn_app().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let base = format!("/v1/connect/{}/app_overrides", p.id);
    let (st, o, _) = s
        .post(
            &base,
            &bearer,
            json!({"app": "openai", "name": "acme", "cfmap": {"organization": "org-acme"}}),
        )
        .await;
    assert_eq!(st, 200, "{o}");
    let id = o["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("ao_"));
    assert_eq!(o["app"]["name_slug"], "openai");
    assert_eq!(o["cfmap"], json!({"organization": "org-acme"}));
    assert_eq!(o["owner_id"], p.id.as_str());
    assert!(o["oauth_app_id"].is_null() && o["created_at"].is_string());
    let (st, _, _) = s
        .post(&base, &bearer, json!({"app": "stripe", "name": "other"}))
        .await;
    assert_eq!(st, 200);
    // List, filtered by app (slug or id).
    let (st, v, _) = s.get(&format!("{base}?app=openai"), &bearer, None).await;
    assert_eq!(st, 200);
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["page_info"]["total_count"], 1);
    let (_, v, _) = s.get(&base, &bearer, None).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    // Retrieve, update (rename, new values), the old name is free again.
    let (st, v, _) = s.get(&format!("{base}/{id}"), &bearer, None).await;
    assert_eq!((st, v["name"].clone()), (200, json!("acme")));
    let (st, v, _) = s
        .api
        .call(
            Method::PUT,
            &format!("{base}/{id}"),
            &bearer,
            None,
            Some(json!({"name": "acme-eu", "cfmap": {"organization": "org-eu"}})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["name"].clone(), v["cfmap"]["organization"].clone()),
        (json!("acme-eu"), json!("org-eu"))
    );
    let (st, _, _) = s
        .post(&base, &bearer, json!({"app": "openai", "name": "acme"}))
        .await;
    assert_eq!(st, 200, "the old name is free");

    // accounts.create: the override's fields win over the entered ones.
    let ct = s.connect_token(&bearer, &p.id, None, "u1").await;
    let body = json!({"app_slug": "openai", "connect_token": ct, "app_override_id": id,
        "cfmap_json": json!({"api_key": "sk-test", "organization": "org-mine"}).to_string()});
    let (st, a, _) = s
        .post(&format!("/v1/connect/{}/accounts", p.id), &bearer, body)
        .await;
    assert_eq!(st, 200, "{a}");
    let accts = s.user_accounts(&bearer, &p.id, "openai", true).await;
    assert_eq!(accts[0]["credentials"]["organization"], "org-eu");
    assert_eq!(accts[0]["credentials"]["api_key"], "sk-test");
    // Another app's override, or an unknown one, is refused.
    let ct = s.connect_token(&bearer, &p.id, None, "u1").await;
    let body = json!({"app_slug": "stripe", "connect_token": ct, "app_override_id": id,
        "cfmap_json": json!({"api_key": "sk_test_x"}).to_string()});
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/accounts", p.id),
            &bearer,
            body.clone(),
        )
        .await;
    assert_client_error("another app's override", st, &v, 400, "is for openai");
    let mut unknown = body;
    unknown["app_override_id"] = json!("ao_nope");
    let (st, v, _) = s
        .post(&format!("/v1/connect/{}/accounts", p.id), &bearer, unknown)
        .await;
    assert_client_error("unknown override", st, &v, 400, "not an app override");

    // An override selecting an OAuth client connects only through OAuth.
    let (st, oa, _) = s
        .post(
            &format!("/v1/connect/{}/oauth_apps", p.id),
            &bearer,
            json!({"app": "github", "client_id": "cid", "client_secret": "cs"}),
        )
        .await;
    assert_eq!(st, 201, "{oa}");
    let oa_id = oa["id"].as_str().unwrap();
    let (st, gh, _) = s
        .post(
            &base,
            &bearer,
            json!({"app": "github", "name": "gh", "oauth_app_id": oa_id}),
        )
        .await;
    assert_eq!(st, 200, "{gh}");
    assert_eq!(gh["oauth_app_id"], oa_id);
    let ct = s.connect_token(&bearer, &p.id, None, "u1").await;
    let body = json!({"app_slug": "github", "connect_token": ct, "app_override_id": gh["id"],
        "cfmap_json": json!({"oauth_access_token": "gho_x"}).to_string()});
    let (st, v, _) = s
        .post(&format!("/v1/connect/{}/accounts", p.id), &bearer, body)
        .await;
    assert_client_error("override with an OAuth client", st, &v, 400, "OAuth flow");
    // `oauth_app_id: null` clears it.
    let gh_path = format!("{base}/{}", gh["id"].as_str().unwrap());
    let (st, v, _) = s
        .api
        .call(
            Method::PUT,
            &gh_path,
            &bearer,
            None,
            Some(json!({"oauth_app_id": null})),
        )
        .await;
    assert_eq!((st, v["oauth_app_id"].clone()), (200, Value::Null));

    // Delete; then it is gone.
    let (st, _, _) = s.delete(&format!("{base}/{id}"), &bearer).await;
    assert_eq!(st, 204);
    let (st, v, _) = s.get(&format!("{base}/{id}"), &bearer, None).await;
    assert_client_error("deleted override", st, &v, 404, "not found");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn app_overrides_refuse_each_bad_input() {
    let s = spawn_app().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let base = format!("/v1/connect/{}/app_overrides", p.id);
    let (_, stripe_oa, _) = s
        .post(
            &format!("/v1/connect/{}/oauth_apps", p.id),
            &bearer,
            json!({"app": "github", "client_id": "cid", "client_secret": "cs"}),
        )
        .await;
    let gh_oa = stripe_oa["id"].as_str().unwrap();
    let long = "x".repeat(101);
    let cases = [
        ("no app", json!({"name": "a"}), 400, "app is required"),
        (
            "unknown app",
            json!({"app": "nope", "name": "a"}),
            400,
            "unknown app",
        ),
        ("no name", json!({"app": "openai"}), 400, "name is required"),
        (
            "blank name",
            json!({"app": "openai", "name": " "}),
            400,
            "name must be",
        ),
        (
            "long name",
            json!({"app": "openai", "name": long}),
            400,
            "name must be",
        ),
        (
            "secret field",
            json!({"app": "openai", "name": "a", "cfmap": {"api_key": "sk"}}),
            400,
            "\"api_key\" is secret",
        ),
        (
            "unknown field",
            json!({"app": "openai", "name": "a", "cfmap": {"region": "eu"}}),
            400,
            "unknown field",
        ),
        (
            "object value",
            json!({"app": "openai", "name": "a", "cfmap": {"organization": {"a": 1}}}),
            400,
            "must be a string",
        ),
        (
            "empty value",
            json!({"app": "openai", "name": "a", "cfmap": {"organization": ""}}),
            400,
            "1 to 2000",
        ),
        (
            "huge value",
            json!({"app": "openai", "name": "a", "cfmap": {"organization": "o".repeat(2001)}}),
            400,
            "1 to 2000",
        ),
        (
            "cfmap not an object",
            json!({"app": "openai", "name": "a", "cfmap": "x"}),
            400,
            "expected a map",
        ),
        (
            "oauth client on a key app",
            json!({"app": "openai", "name": "a", "oauth_app_id": gh_oa}),
            400,
            "does not use OAuth",
        ),
        (
            "unknown oauth client",
            json!({"app": "github", "name": "a", "oauth_app_id": "oa_nope"}),
            400,
            "not an OAuth app",
        ),
    ];
    for (what, body, status, needle) in cases {
        let (st, v, _) = s.post(&base, &bearer, body).await;
        assert_client_error(what, st, &v, status, needle);
    }
    let (st, _, _) = s
        .post(&base, &bearer, json!({"app": "openai", "name": "dup"}))
        .await;
    assert_eq!(st, 200);
    let (st, v, _) = s
        .post(&base, &bearer, json!({"app": "stripe", "name": "dup"}))
        .await;
    assert_client_error("duplicate name", st, &v, 422, "exists");
    let (_, v, _) = s.get(&base, &bearer, None).await;
    let id = v["data"][0]["id"].as_str().unwrap().to_string();
    let (st, v, _) = s
        .api
        .call(
            Method::PUT,
            &format!("{base}/{id}"),
            &bearer,
            None,
            Some(json!({"app": "stripe"})),
        )
        .await;
    assert_client_error("changing the app", st, &v, 400, "cannot change");
    let (st, v, _) = s.get(&format!("{base}?app=nope"), &bearer, None).await;
    assert_client_error("unknown app filter", st, &v, 400, "unknown app");
    let (st, v, _) = s.get(&format!("{base}/ao_missing"), &bearer, None).await;
    assert_client_error("unknown id", st, &v, 404, "not found");
    let (st, v, _) = s
        .get(&format!("{base}/{}", "a".repeat(200)), &bearer, None)
        .await;
    assert_client_error("long id", st, &v, 400, "");
    // End users (connect tokens) cannot manage overrides, nor see another project's.
    let ct = s.connect_token(&bearer, &p.id, None, "u1").await;
    let (st, v, _) = s.get(&base, &ct, None).await;
    assert_client_error("connect token", st, &v, 403, "server credentials");
    let other = s.create_project("other").await;
    let other_bearer = s.token(&other).await;
    let (st, v, _) = s
        .get(
            &format!("/v1/connect/{}/app_overrides/{id}", other.id),
            &other_bearer,
            None,
        )
        .await;
    assert_client_error("another project's override", st, &v, 404, "not found");
    s.stop().await;
}
