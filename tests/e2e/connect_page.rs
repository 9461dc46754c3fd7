//! The hosted connect page for key-based apps: the project's brand, the
//! app's fields, verification refusals shown in the form, the token spent
//! only by a saved account, the redirect or the done page with Pipedream's
//! postMessage, and clear pages for bad links.

use serde_json::json;

use crate::harness::{Backend, Instance, Project, Server, no_redirects};

/// `application/x-www-form-urlencoded`, for the few characters tests use.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc = |s: &str| {
                s.bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                            (b as char).to_string()
                        }
                        b => format!("%{b:02X}"),
                    })
                    .collect::<String>()
            };
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn get_page(s: &Server, query: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let r = no_redirects()
        .get(format!("{}/_static/connect.html?{query}", s.base))
        .send()
        .await
        .unwrap();
    let (st, h) = (r.status().as_u16(), r.headers().clone());
    (st, r.text().await.unwrap(), h)
}

async fn submit(s: &Server, pairs: &[(&str, &str)]) -> reqwest::Response {
    no_redirects()
        .post(format!("{}/_static/connect/keys", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn key_based_apps_connect_through_the_hosted_page() {
    let inst = Instance::new(Backend::Embedded);
    let p = Project::from_json(&inst.admin(&[
        "create-project",
        "--name",
        "internal name",
        "--app-name",
        "Acme <Robots>",
        "--support-email",
        "help@acme.example",
    ]));
    let s = inst.start().await;
    let bearer = s.token(&p).await;

    // Bad links get a clear page, never a form.
    let (st, body, _) = get_page(&s, "app=openai").await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("no connect token"), "{body}");
    let (st, body, _) = get_page(&s, "token=ctok_nope&app=openai").await;
    assert_eq!(st, 410);
    assert!(body.contains("expired or was already used"), "{body}");
    let ctok = s
        .connect_token_with(
            &bearer,
            &p.id,
            json!({"success_redirect_uri": "https://acme.example/done"}),
        )
        .await;
    let (st, body, _) = get_page(&s, &format!("token={ctok}&app=nosuchapp")).await;
    assert_eq!(st, 404);
    assert!(body.contains("no app called"), "{body}");

    // The form: the project's brand (escaped), the app's fields, no one else's name.
    let (st, body, h) = get_page(&s, &format!("token={ctok}&app=openai&connectLink=true")).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("Acme &lt;Robots&gt;"), "{body}");
    assert!(!body.contains("<Robots>"), "brand is escaped");
    assert!(body.contains("help@acme.example"));
    assert!(
        body.contains("<label for=\"f_api_key\">API key</label>"),
        "{body}"
    );
    assert!(
        body.contains("type=\"password\""),
        "secret fields are masked"
    );
    assert!(body.contains("Organization ID (optional)"));
    assert!(
        !body.to_lowercase().contains("switchboard"),
        "white-label: {body}"
    );
    assert!(!body.contains("pipedream"), "{body}");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");

    // A refusal shows the form again with the reason; the token stays usable.
    let r = submit(&s, &[("token", &ctok), ("app", "openai"), ("f_bogus", "x")]).await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("role=\"alert\""), "{body}");
    assert!(body.contains("unknown field"), "{body}");
    assert_eq!(
        get_page(&s, &format!("token={ctok}&app=openai")).await.0,
        200
    );

    // Saved: redirected where the token said; the token is spent.
    let r = submit(
        &s,
        &[
            ("token", &ctok),
            ("app", "openai"),
            ("f_api_key", "sk-test-1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "https://acme.example/done");
    assert_eq!(
        s.user_accounts(&bearer, &p.id, "openai", false).await.len(),
        1
    );
    let r = submit(
        &s,
        &[
            ("token", &ctok),
            ("app", "openai"),
            ("f_api_key", "sk-test-2"),
        ],
    )
    .await;
    assert_eq!(r.status(), 410, "a spent token cannot connect again");

    // No redirect given: a done page that tells the opener, as Pipedream's
    // does; the token names no origin, so the message goes to "*"
    // (tests/app/web_security.rs covers the origins).
    let ctok = s.connect_token_with(&bearer, &p.id, json!({})).await;
    let r = submit(
        &s,
        &[
            ("token", &ctok),
            ("app", "openai"),
            ("f_api_key", "sk-test-3"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("is connected"), "{body}");
    // The id goes to the embedder (docs/security.md, issue 15), by the
    // page's script file.
    assert!(body.contains("\"type\":\"success\""), "{body}");
    assert!(body.contains("\"authProvisionId\":\"apn_"), "{body}");
    assert!(
        body.contains("<script src=\"/_static/connect.js\">"),
        "{body}"
    );

    // Export: every account with its credentials, to server callers only,
    // audited in the log without the secrets.
    let (st, v, _) = s
        .call(
            reqwest::Method::GET,
            &format!("/v1/connect/{}/accounts/export", p.id),
            &bearer,
            None,
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let mut keys: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["credentials"]["api_key"].as_str().unwrap())
        .collect();
    keys.sort();
    assert_eq!(keys, ["sk-test-1", "sk-test-3"], "{v}");
    let browser = s.connect_token_with(&bearer, &p.id, json!({})).await;
    let (st, v, _) = s
        .call(
            reqwest::Method::GET,
            &format!("/v1/connect/{}/accounts/export", p.id),
            &browser,
            None,
            None,
        )
        .await;
    crate::harness::assert_client_error(
        "export with a connect token",
        st,
        &v,
        403,
        "server credentials",
    );
    s.stop().await;
    let log = std::fs::read_to_string(inst.log_path()).unwrap();
    assert!(log.contains("credentials_export"), "the export is audited");
    assert!(!log.contains("sk-test-1"), "no secret in the log");
    // The same from the command line (the embedded store needs the server stopped).
    let out = inst.admin(&["export-accounts", "--project", &p.id]);
    assert_eq!(out.as_array().unwrap().len(), 2, "{out}");
    assert!(out.to_string().contains("sk-test-3"));
}

/// Issue 15: an app override on the page in Chromium, embedded as the
/// browser SDK embeds it (`appOverrideId` in the query): its field is shown
/// read-only and its value saved, the rest is entered, and the embedder
/// hears the new account's id.
#[tokio::test(flavor = "multi_thread")]
async fn an_app_override_is_honoured_by_the_page_in_chromium() {
    let inst = Instance::new(Backend::Embedded);
    let p = Project::from_json(&inst.admin(&["create-project", "--name", "acme"]));
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    let (st, o, _) = s
        .post(
            &format!("/v1/connect/{}/app_overrides", p.id),
            &bearer,
            json!({"app": "openai", "name": "acme", "cfmap": {"organization": "org-acme"}}),
        )
        .await;
    assert_eq!(st, 200, "{o}");
    let id = o["id"].as_str().unwrap();
    let ctok = s.connect_token_with(&bearer, &p.id, json!({})).await;
    let url = format!(
        "{}/_static/connect.html?token={ctok}&app=openai&appOverrideId={id}",
        s.base
    );
    let r = tokio::task::spawn_blocking(move || {
        crate::browser::drive(json!({
            "url": url,
            "iframe": true,
            "screenshot": crate::browser::artifacts_dir().join("connect-override.png"),
            "steps": [
                {"fill": {"API key": "sk-override"}},
                {"submit": "Connect OpenAI"},
            ],
        }))
    })
    .await
    .unwrap();
    assert_eq!(r["error"], serde_json::Value::Null, "{r}");
    assert_eq!(r["console_errors"], json!([]), "{r}");
    assert!(
        r["text"].as_str().unwrap().contains("OpenAI is connected"),
        "{r}"
    );
    let accounts = s.user_accounts(&bearer, &p.id, "openai", true).await;
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0]["credentials"]["organization"], "org-acme");
    assert_eq!(accounts[0]["credentials"]["api_key"], "sk-override");
    let sent = r["messages"].to_string();
    assert!(sent.contains("\"type\":\"success\""), "{r}");
    assert!(sent.contains(accounts[0]["id"].as_str().unwrap()), "{r}");
    s.stop().await;
}
