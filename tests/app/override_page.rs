//! App overrides on the hosted connect page (`appOverrideId`,
//! `oauthAppId`), the OAuth start, and `tokens/{ctok}/validate`: values
//! applied by the server, fields locked, the override's OAuth client used,
//! and another app's or project's override refused.

use serde_json::{Value, json};

use super::helpers::{TestApp, assert_client_error, no_redirects, spawn_app};

/// `GET path` on the app without following redirects: status, body, Location.
async fn fetch(s: &TestApp, path: &str) -> (u16, String, String) {
    let r = no_redirects()
        .get(format!("{}{path}", s.base))
        .send()
        .await
        .unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status().as_u16(), r.text().await.unwrap(), loc)
}

async fn post_form(s: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let mut enc = reqwest::Url::parse("http://form/").unwrap();
    enc.query_pairs_mut().extend_pairs(form);
    let r = no_redirects()
        .post(format!("{}{path}", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(enc.query().unwrap_or_default().to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn new_override(s: &TestApp, bearer: &str, project: &str, body: Value) -> String {
    let (st, o, _) = s
        .post(
            &format!("/v1/connect/{project}/app_overrides"),
            bearer,
            body,
        )
        .await;
    assert_eq!(st, 200, "{o}");
    o["id"].as_str().unwrap().to_string()
}

fn client_id_of(location: &str) -> String {
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_locks_and_applies_an_overrides_fields() {
    let s = spawn_app().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let id = new_override(
        &s,
        &bearer,
        &p.id,
        json!({"app": "openai", "name": "acme", "cfmap": {"organization": "org-acme"}}),
    )
    .await;
    let ct = s.connect_token(&bearer, &p.id, None, "u1").await;
    let (st, html, _) = fetch(
        &s,
        &format!("/_static/connect.html?token={ct}&app=openai&appOverrideId={id}"),
    )
    .await;
    assert_eq!(st, 200, "{html}");
    // Shown read-only, not posted; the override travels as a hidden input.
    assert!(
        html.contains("<input id=\"f_organization\" type=\"text\" readonly aria-describedby=\"f_organization_hint\" value=\"org-acme\">"),
        "{html}"
    );
    assert!(!html.contains("name=\"f_organization\""), "{html}");
    assert!(
        html.contains(&format!(
            "<input type=\"hidden\" name=\"app_override_id\" value=\"{id}\">"
        )),
        "{html}"
    );
    assert!(
        html.contains("name=\"f_api_key\""),
        "the rest is asked: {html}"
    );

    // A posted value for a predefined field does not count.
    let (st, html) = post_form(
        &s,
        "/_static/connect/keys",
        &[
            ("token", &ct),
            ("app", "openai"),
            ("app_override_id", &id),
            ("f_api_key", "sk-test"),
            ("f_organization", "org-mine"),
        ],
    )
    .await;
    assert_eq!(st, 200, "{html}");
    assert!(html.contains("is connected"), "{html}");
    let accts = s.user_accounts(&bearer, &p.id, "openai", true).await;
    assert_eq!(accts.len(), 1);
    assert_eq!(accts[0]["credentials"]["organization"], "org-acme");
    assert_eq!(accts[0]["credentials"]["api_key"], "sk-test");

    // Another app's override, another project's, a malformed id, and an
    // OAuth client for a key app: each refused with the reason.
    let b = s.create_project("B").await;
    let tb = s.token(&b).await;
    let foreign = new_override(
        &s,
        &tb,
        &b.id,
        json!({"app": "openai", "name": "theirs", "cfmap": {"organization": "org-b"}}),
    )
    .await;
    let ct = s.connect_token(&bearer, &p.id, None, "u2").await;
    for (what, query, status, needle) in [
        (
            "another app's override",
            format!("app=stripe&appOverrideId={id}"),
            400,
            "is for openai, not stripe",
        ),
        (
            "another project's override",
            format!("app=openai&appOverrideId={foreign}"),
            400,
            "not an app override of this project",
        ),
        (
            "a malformed override id",
            "app=openai&appOverrideId=..%2Fx".to_string(),
            400,
            "app_override_id",
        ),
        (
            "an OAuth client for a key app",
            "app=openai&oauthAppId=oa_nope".to_string(),
            400,
            "does not use OAuth",
        ),
    ] {
        let (st, html, _) = fetch(&s, &format!("/_static/connect.html?token={ct}&{query}")).await;
        assert_eq!(st, status, "{what}: {html}");
        assert!(html.contains(needle), "{what}: {html}");
    }
    // Posting another project's override saves nothing.
    let (st, html) = post_form(
        &s,
        "/_static/connect/keys",
        &[
            ("token", &ct),
            ("app", "openai"),
            ("app_override_id", &foreign),
            ("f_api_key", "sk-test"),
        ],
    )
    .await;
    assert_eq!(st, 400, "{html}");
    assert!(s.user_accounts(&bearer, &p.id, "openai", false).await.len() == 1);

    // tokens/validate resolves the override (and its app) for the project.
    let (st, v, _) = s
        .get(
            &format!("/v1/connect/tokens/{ct}/validate?app_override_id={id}"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["app"]["name_slug"], "openai");
    assert_eq!(v["app_override_id"], id.as_str());
    assert_eq!(v["app_override_field_names"], json!(["organization"]));
    let (st, v, _) = s
        .get(
            &format!("/v1/connect/tokens/{ct}/validate?app_override_id={foreign}"),
            &bearer,
            None,
        )
        .await;
    assert_client_error(
        "validate: another project's override",
        st,
        &v,
        400,
        "not an app override",
    );
    let (st, v, _) = s
        .get(
            &format!("/v1/connect/tokens/{ct}/validate?app_id=stripe&app_override_id={id}"),
            &bearer,
            None,
        )
        .await;
    assert_client_error("validate: another app", st, &v, 400, "is for openai");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_oauth_start_uses_the_overrides_client() {
    let s = spawn_app().await;
    let (p, bearer) = (s.project.clone(), s.bearer.clone());
    let mut clients = Vec::new();
    for cid in ["cid-one", "cid-two"] {
        let (st, oa, _) = s
            .post(
                &format!("/v1/connect/{}/oauth_apps", p.id),
                &bearer,
                json!({"app": "github", "client_id": cid, "client_secret": "cs"}),
            )
            .await;
        assert_eq!(st, 201, "{oa}");
        clients.push((cid, oa["id"].as_str().unwrap().to_string()));
    }
    let ct = s.connect_token(&bearer, &p.id, None, "u1").await;
    let start = |q: String| format!("/_static/connect/oauth/start?token={ct}&app=github{q}");
    let (st, _, loc) = fetch(&s, &start(String::new())).await;
    assert_eq!(st, 302);
    let default = client_id_of(&loc);
    let (other_cid, other_id) = clients.iter().find(|(c, _)| *c != default).unwrap().clone();
    let id = new_override(
        &s,
        &bearer,
        &p.id,
        json!({"app": "github", "name": "gh", "oauth_app_id": other_id}),
    )
    .await;

    // The page's link carries the override; the start uses its client.
    let (st, html, _) = fetch(
        &s,
        &format!("/_static/connect.html?token={ct}&app=github&appOverrideId={id}"),
    )
    .await;
    assert_eq!(st, 200, "{html}");
    assert!(
        html.contains(&format!("&amp;appOverrideId={id}\"")),
        "{html}"
    );
    let (st, body, loc) = fetch(&s, &start(format!("&appOverrideId={id}"))).await;
    assert_eq!(st, 302, "{body}");
    assert_eq!(client_id_of(&loc), other_cid, "{loc}");
    // `oauthAppId` alone selects a client too.
    let (st, _, loc) = fetch(&s, &start(format!("&oauthAppId={other_id}"))).await;
    assert_eq!(st, 302);
    assert_eq!(client_id_of(&loc), other_cid, "{loc}");
    // One that disagrees with the override's is refused, as is an unknown one.
    let default_id = &clients.iter().find(|(c, _)| *c == default).unwrap().1;
    let (st, body, _) = fetch(
        &s,
        &start(format!("&appOverrideId={id}&oauthAppId={default_id}")),
    )
    .await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("conflicts with the app override"), "{body}");
    let (st, body, _) = fetch(&s, &start("&oauthAppId=oa_nope".to_string())).await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("not an OAuth app of this project"), "{body}");
    // validate reports the client the override selects.
    let (st, v, _) = s
        .get(
            &format!("/v1/connect/tokens/{ct}/validate?app_override_id={id}"),
            &bearer,
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["oauth_app_id"], other_id.as_str());
    assert_eq!(v["app"]["name_slug"], "github");
}
