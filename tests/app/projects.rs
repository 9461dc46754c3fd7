//! The projects API: a project-limited client reaches only its own project,
//! an operator client manages every project; bad input is a 4xx; the
//! uploaded logo is served by the connect page. Also the `apps` filters and
//! the pipelines answer (the rest of issue 15's surface).

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::model::Environment;

use super::helpers::{Project, assert_client_error, client, spawn_app};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

fn data_uri(t: &str, bytes: &[u8]) -> String {
    format!(
        "data:{t};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn ids(v: &Value) -> Vec<&str> {
    v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data: {v}"))
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn project_clients_reach_their_own_project_and_operators_every_one() {
    let s = spawn_app().await;
    let (a, ta) = (s.project.clone(), s.bearer.clone());
    let b = s.create_project("B").await;
    let op = s
        .core()
        .tenancy
        .issue_client_as(&a.id, None, &Environment::ALL, true)
        .await
        .unwrap();
    let to = s.token(&Project::from_credentials(&op)).await;
    let dev_only = s
        .issue_client(&a.id, None, &[Environment::Development])
        .await;
    let td = s.token(&dev_only).await;
    let ctok = s.connect_token(&ta, &a.id, None, "u1").await;

    // An operator client issued narrower keeps its limits: no creating or
    // deleting projects with a read scope or one environment.
    for (scope, envs) in [
        (Some("connect:accounts:read"), &Environment::ALL[..]),
        (None, &[Environment::Development][..]),
    ] {
        let narrow = s
            .core()
            .tenancy
            .issue_client_as(&a.id, scope, envs, true)
            .await
            .unwrap();
        let tn = s.token(&Project::from_credentials(&narrow)).await;
        let (st, v, _) = s
            .post("/v1/connect/projects", &tn, json!({"name": "Narrow"}))
            .await;
        assert_eq!(st, 403, "{scope:?} {envs:?}: {v}");
        let (st, v, _) = s
            .delete(&format!("/v1/connect/projects/{}", b.id), &tn)
            .await;
        assert_eq!(st, 403, "{scope:?} {envs:?}: {v}");
    }

    // A project-limited client lists and reads only its own project.
    let (st, v, _) = s.get("/v1/connect/projects", &ta, None).await;
    assert_eq!((st, ids(&v)), (200, vec![a.id.as_str()]), "{v}");
    assert_eq!(v["page_info"]["end_cursor"], Value::Null, "{v}");
    let (st, v, _) = s
        .get(&format!("/v1/connect/projects/{}", a.id), &ta, None)
        .await;
    assert_eq!((st, v["id"].as_str()), (200, Some(a.id.as_str())), "{v}");
    assert!(v["name"].is_string() && v.get("data").is_none(), "{v}");
    let other = format!("/v1/connect/projects/{}", b.id);
    for (m, path, body) in [
        (Method::GET, other.clone(), None),
        (Method::PATCH, other.clone(), Some(json!({"name": "mine"}))),
        (Method::DELETE, other.clone(), None),
        (
            Method::POST,
            format!("{other}/logo"),
            Some(json!({"logo": data_uri("image/png", PNG)})),
        ),
        (
            Method::GET,
            format!("/v1/connect/{}/projects/info", b.id),
            None,
        ),
    ] {
        let (st, v, _) = s.call(m.clone(), &path, &ta, None, body).await;
        assert_client_error(&format!("{m} {path}"), st, &v, 403, "not valid for project");
    }
    let (st, v, _) = s
        .get("/v1/connect/projects/proj_nonexistent", &ta, None)
        .await;
    assert_client_error("unknown project", st, &v, 404, "not found");
    let (st, v, _) = s
        .post("/v1/connect/projects", &ta, json!({"name": "C"}))
        .await;
    assert_client_error("create", st, &v, 403, "operator");
    let (st, v, _) = s
        .delete(&format!("/v1/connect/projects/{}", a.id), &ta)
        .await;
    assert_client_error("delete own", st, &v, 403, "operator");
    // Its own project it may change, with credentials for both environments.
    let own = format!("/v1/connect/projects/{}", a.id);
    let (st, v, _) = s
        .call(
            Method::PATCH,
            &own,
            &ta,
            None,
            Some(json!({"app_name": "Acme", "support_email": "help@acme.test"})),
        )
        .await;
    assert_eq!(
        (st, v["app_name"].as_str(), v["support_email"].as_str()),
        (200, Some("Acme"), Some("help@acme.test")),
        "{v}"
    );
    let (st, v, _) = s
        .call(
            Method::PATCH,
            &own,
            &td,
            Some("development"),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_client_error("dev-only client renames", st, &v, 403, "project-wide");
    // A connect token reads only projects/info.
    let (st, v, _) = s.get("/v1/connect/projects", &ctok, None).await;
    assert_client_error("connect token lists", st, &v, 403, "server credentials");
    let (st, v, _) = s.get("/v1/connect/projects/info", &ctok, None).await;
    assert_eq!((st, &v), (200, &json!({"apps": []})), "{v}");

    // The operator: every project, create, act in it, delete.
    let (st, v, _) = s.get("/v1/connect/projects?limit=1", &to, None).await;
    assert_eq!((st, ids(&v).len()), (200, 1), "{v}");
    let cursor = v["page_info"]["end_cursor"].as_str().unwrap().to_string();
    let (_, v2, _) = s
        .get(&format!("/v1/connect/projects?after={cursor}"), &to, None)
        .await;
    assert_eq!(ids(&v).len() + ids(&v2).len(), 2, "{v2}");
    let (_, v, _) = s.get("/v1/connect/projects?q=b", &to, None).await;
    assert_eq!(ids(&v), vec![b.id.as_str()], "{v}");
    let (st, c, _) = s
        .post(
            "/v1/connect/projects",
            &to,
            json!({"name": "C", "app_name": "Cee", "connect_require_key_auth_test": true}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    assert_eq!(c["connect_require_key_auth_test"], true, "{c}");
    let cid = c["id"].as_str().unwrap().to_string();
    let (st, oa, _) = s
        .post(
            &format!("/v1/connect/{cid}/oauth_apps"),
            &to,
            json!({"app": "github", "client_id": "gh", "client_secret": "ghs"}),
        )
        .await;
    assert_eq!(st, 201, "the operator acts in C: {oa}");
    assert_eq!(oa["owner_id"], cid.as_str(), "{oa}");
    let (st, v, _) = s
        .get(&format!("/v1/connect/{cid}/projects/info"), &to, None)
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["apps"][0]["name_slug"], "github", "{v}");
    assert!(v["apps"][0]["id"].is_string(), "{v}");
    let one = format!("/v1/connect/projects/{cid}");
    let (st, v, _) = s.delete(&one, &to).await;
    assert_client_error("non-empty project", st, &v, 422, "OAuth apps");
    let oa_path = format!(
        "/v1/connect/{cid}/oauth_apps/{}",
        oa["id"].as_str().unwrap()
    );
    assert_eq!(s.delete(&oa_path, &to).await.0, 204);
    let (st, v, _) = s.delete(&one, &to).await;
    assert_eq!(st, 204, "{v}");
    let (st, v, _) = s.get(&one, &to, None).await;
    assert_client_error("deleted", st, &v, 404, "not found");
    let (st, v, _) = s
        .delete(&format!("/v1/connect/projects/{}", a.id), &to)
        .await;
    assert_client_error("operator's own project", st, &v, 422, "credentials");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_project_input_is_refused_and_the_logo_reaches_the_connect_page() {
    let s = spawn_app().await;
    let (a, ta) = (s.project.clone(), s.bearer.clone());
    let op = s
        .core()
        .tenancy
        .issue_client_as(&a.id, None, &Environment::ALL, true)
        .await
        .unwrap();
    let to = s.token(&Project::from_credentials(&op)).await;
    let own = format!("/v1/connect/projects/{}", a.id);
    for (what, body) in [
        ("no name", json!({})),
        ("blank name", json!({"name": "  "})),
        ("long name", json!({"name": "x".repeat(201)})),
        ("bad email", json!({"name": "n", "support_email": "nope"})),
        ("blank app name", json!({"name": "n", "app_name": ""})),
        ("wrong type", json!({"name": 5})),
    ] {
        let (st, v, _) = s.post("/v1/connect/projects", &to, body).await;
        assert!(st == 400 && v["error"].is_string(), "{what}: {st} {v}");
    }
    for q in ["limit=0", "limit=101", "limit=x"] {
        let (st, v, _) = s.get(&format!("/v1/connect/projects?{q}"), &to, None).await;
        assert!(st == 400 && v["error"].is_string(), "{q}: {st} {v}");
    }
    let (st, v, _) = s
        .call(
            Method::PATCH,
            &own,
            &ta,
            None,
            Some(json!({"support_email": "a b@c"})),
        )
        .await;
    assert_client_error("patch email", st, &v, 400, "email");

    let logo = format!("{own}/logo");
    let big = vec![0x89u8; 128 * 1024 + 1];
    for (what, l, needle) in [
        ("a URL", "https://example.com/x.png".to_string(), "data:"),
        ("gif", data_uri("image/gif", b"GIF89a"), "not one of"),
        ("html", data_uri("text/html", b"<script>"), "not one of"),
        (
            "svg as png",
            data_uri("image/png", b"<svg/>"),
            "not a image/png",
        ),
        (
            "not svg",
            data_uri("image/svg+xml", b"<html>"),
            "not a image/svg",
        ),
        ("bad base64", "data:image/png;base64,@@".into(), "base64"),
        ("too large", data_uri("image/png", &big), "KiB"),
    ] {
        let (st, v, _) = s.post(&logo, &ta, json!({"logo": l})).await;
        assert_client_error(what, st, &v, 400, needle);
    }
    let (st, v, _) = s.post(&logo, &ta, json!({})).await;
    assert!(st == 400 && v["error"].is_string(), "no logo: {st} {v}");

    // A PNG is stored and the connect page shows it from its own origin.
    let (st, v, _) = s
        .post(&logo, &ta, json!({"logo": data_uri("image/png", PNG)}))
        .await;
    assert_eq!(st, 204, "{v}");
    let ctok = s.connect_token(&ta, &a.id, None, "u1").await;
    let html = client()
        .get(format!("{}/_static/connect.html?token={ctok}", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let src = html
        .split("<img src=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap_or_else(|| panic!("no logo on the page: {html}"))
        .replace("&amp;", "&");
    assert!(
        src.starts_with(&format!("/_static/connect/logo/{}", a.id)),
        "{src}"
    );
    let r = client()
        .get(format!("{}{src}", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(&r.bytes().await.unwrap()[..], PNG);
    // An SVG with a script is served under a CSP that runs none.
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let (st, _, _) = s
        .post(&logo, &ta, json!({"logo": data_uri("image/svg+xml", svg)}))
        .await;
    assert_eq!(st, 204);
    let r = client()
        .get(format!("{}/_static/connect/logo/{}", s.base, a.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("sandbox"),
        "{csp}"
    );
    let r = client()
        .get(format!("{}/_static/connect/logo/proj_none", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn apps_filters_follow_the_catalog_and_pipelines_are_a_clear_error() {
    let s = spawn_app().await;
    let t = s.bearer.clone();
    let total = |v: &Value| v["page_info"]["total_count"].as_u64().unwrap();
    let (st, all, _) = s.get("/v1/connect/apps?limit=100", &t, None).await;
    assert_eq!(st, 200, "{all}");
    let mut counts = Vec::new();
    for f in ["has_components", "has_actions", "has_triggers"] {
        let (st, with, _) = s
            .get(&format!("/v1/connect/apps?{f}=true&limit=100"), &t, None)
            .await;
        let (_, without, _) = s
            .get(&format!("/v1/connect/apps?{f}=false&limit=100"), &t, None)
            .await;
        assert_eq!(st, 200, "{with}");
        assert!(total(&with) > 0, "{f}: {with}");
        assert_eq!(total(&with) + total(&without), total(&all), "{f}");
        counts.push(total(&with));
        let (st, v, _) = s.get(&format!("/v1/connect/apps?{f}=yes"), &t, None).await;
        assert_client_error(f, st, &v, 400, "true or false");
    }
    assert!(counts[0] >= counts[1].max(counts[2]), "{counts:?}");
    // Every app with actions really lists some.
    let (_, with, _) = s
        .get("/v1/connect/apps?has_actions=true&limit=5", &t, None)
        .await;
    for app in with["data"].as_array().unwrap() {
        let slug = app["name_slug"].as_str().unwrap();
        let (_, v, _) = s
            .get(&format!("/v1/connect/actions?app={slug}"), &t, None)
            .await;
        assert!(!v["data"].as_array().unwrap().is_empty(), "{slug}: {v}");
    }

    let p = &s.project.id;
    for m in [Method::GET, Method::PUT] {
        let (st, v, _) = s
            .call(
                m.clone(),
                &format!("/v1/connect/{p}/deployed-triggers/dc_x/pipelines"),
                &t,
                None,
                Some(json!({"workflow_ids": ["p_1"]})),
            )
            .await;
        assert_client_error(&format!("{m} pipelines"), st, &v, 422, "no workflows");
        assert_eq!(v["code"], "workflows_not_supported", "{v}");
    }
}
