//! The hosted page's OAuth 2.0 flow against a real authorization server
//! (`oauth2-mock-server` from npm, which checks PKCE): the project's own
//! client, state bound to the connect token and usable once, the code
//! exchanged for tokens, the account saved; refusals get a clear page or
//! the token's error redirect.

use serde_json::json;

use crate::harness::{
    AuthServer, Backend, Doubles, Instance, no_redirects, received, sw_headers,
    verify_with_standardwebhooks,
};

/// The OAuth flow's browser-binding cookies (`sb_oauth_…`, one per flow,
/// so tests running at once do not collide): what one browser would hold.
static JAR: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// The `name=value` of each `sb_oauth_` cookie a response sets.
pub fn binding_cookies(r: &reqwest::Response) -> Vec<(String, String)> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .filter(|(k, _)| k.starts_with("sb_oauth_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// GET without following redirects, as the browser that started the
/// flow: the binding cookies go along and are kept.
pub async fn starter_get(url: &str) -> reqwest::Response {
    let cookie = JAR
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut req = no_redirects().get(url);
    if !cookie.is_empty() && url.contains("/_static/connect/oauth/") {
        req = req.header("cookie", cookie);
    }
    let r = req.send().await.unwrap();
    {
        let mut jar = JAR.lock().unwrap();
        for (k, v) in binding_cookies(&r) {
            jar.retain(|(n, _)| *n != k);
            if !v.is_empty() {
                jar.push((k, v));
            }
        }
    }
    r
}

pub async fn location(url: &str) -> (u16, String) {
    let r = starter_get(url).await;
    let st = r.status().as_u16();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (st, loc)
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_apps_connect_with_pkce_and_a_single_use_state() {
    let auth = AuthServer::start();
    let doubles = Doubles::start();
    let inst = Instance::new(Backend::Embedded)
        .with_env(
            "SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_NETWORKS",
            "[\"127.0.0.0/8\"]",
        )
        .with_env(
            "SWITCHBOARD_APPS__GITHUB__AUTHORIZE_URL",
            &format!("{}/authorize", auth.base),
        )
        .with_env(
            "SWITCHBOARD_APPS__GITHUB__TOKEN_URL",
            &format!("{}/token", auth.base),
        );
    let p = inst.create_project("oauth");
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/oauth_apps", p.id),
            &bearer,
            json!({"app": "github", "client_id": "acme-client", "client_secret": "acme-secret"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let ctok = s
        .connect_token_with(
            &bearer,
            &p.id,
            json!({"success_redirect_uri": "https://acme.example/ok"}),
        )
        .await;

    // The page names the app and the permissions, and links to the start.
    let page = no_redirects()
        .get(format!(
            "{}/_static/connect.html?token={ctok}&app=github",
            s.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Continue to GitHub"), "{page}");
    assert!(page.contains("admin:repo_hook"), "{page}");
    let href = page
        .split("href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    assert!(href.starts_with("/_static/connect/oauth/start?"), "{href}");

    // Off to the provider with the project's client, state and S256 PKCE.
    let (st, authorize) = location(&format!("{}{href}", s.base)).await;
    assert_eq!(st, 302);
    assert!(
        authorize.starts_with(&format!("{}/authorize?", auth.base)),
        "{authorize}"
    );
    assert_eq!(
        query_param(&authorize, "client_id").as_deref(),
        Some("acme-client")
    );
    assert_eq!(
        query_param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query_param(&authorize, "code_challenge").is_some());
    let state = query_param(&authorize, "state").unwrap();
    // PKCE where the app declares it (GitHub does); HubSpot does not.
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/oauth_apps", p.id),
            &bearer,
            json!({"app": "hubspot", "client_id": "hs-client", "client_secret": "hs-secret"}),
        )
        .await;
    assert!(st < 300, "{st} {v}");
    let (_, hubspot) = location(&format!(
        "{}/_static/connect/oauth/start?token={}&app=hubspot",
        s.base,
        s.connect_token(&bearer, &p.id, None, "u-pkce").await
    ))
    .await;
    assert!(hubspot.starts_with("https://"), "{hubspot}");
    assert_eq!(query_param(&hubspot, "code_challenge"), None, "{hubspot}");
    assert!(state.len() >= 43, "state carries 256 random bits: {state}");

    // The provider sends the user back; the code is exchanged (the server
    // checks the PKCE verifier) and the account saved.
    let (st, callback) = location(&authorize).await;
    assert_eq!(st, 302, "the authorization server redirects back");
    assert!(
        callback.starts_with(&format!("{}/_static/connect/oauth/callback?", s.base)),
        "{callback}"
    );
    let (st, done) = location(&callback).await;
    assert_eq!(st, 303, "then to the token's success_redirect_uri");
    assert_eq!(done, "https://acme.example/ok");
    let accounts = s.user_accounts(&bearer, &p.id, "github", true).await;
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    let creds = &accounts[0]["credentials"];
    assert!(
        creds["oauth_access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3),
        "a JWT from the server: {creds}"
    );
    assert!(creds["oauth_refresh_token"].as_str().is_some(), "{creds}");
    assert!(
        accounts[0]["expires_at"].as_str().is_some(),
        "{}",
        accounts[0]
    );

    // The same callback again is refused: state is single-use.
    let r = no_redirects().get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("unknown or expired"));
    // A made-up state is refused too.
    let r = no_redirects()
        .get(format!(
            "{}/_static/connect/oauth/callback?code=x&state=forged",
            s.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // The spent connect token cannot start again.
    let (st, _) = location(&format!("{}{href}", s.base)).await;
    assert_eq!(st, 410);

    // The user refuses consent: the provider's error sends them to the
    // token's error_redirect_uri, and no account is made.
    let ctok = s
        .connect_token_with(
            &bearer,
            &p.id,
            json!({"error_redirect_uri": "https://acme.example/failed"}),
        )
        .await;
    let (_, authorize) = location(&format!(
        "{}/_static/connect/oauth/start?token={ctok}&app=github",
        s.base
    ))
    .await;
    let state = query_param(&authorize, "state").unwrap();
    let (st, to) = location(&format!(
        "{}/_static/connect/oauth/callback?error=access_denied&error_description=refused&state={state}",
        s.base
    ))
    .await;
    assert_eq!((st, to.as_str()), (303, "https://acme.example/failed"));
    // Without an error redirect, a clear page, and CONNECTION_ERROR to the
    // token's webhook_uri, signed with the environment's key.
    let (_, v, _) = s
        .post(
            &format!("/v1/connect/{}/webhook/regenerate_signing_key", p.id),
            &bearer,
            json!({}),
        )
        .await;
    let env_key = v["data"]["signing_key"].as_str().unwrap().to_string();
    let ctok = s
        .connect_token_with(
            &bearer,
            &p.id,
            json!({"webhook_uri": format!("{}/anything/conn", doubles.url("http"))}),
        )
        .await;
    let (_, authorize) = location(&format!(
        "{}/_static/connect/oauth/start?token={ctok}&app=github",
        s.base
    ))
    .await;
    let state = query_param(&authorize, "state").unwrap();
    let r = starter_get(&format!(
        "{}/_static/connect/oauth/callback?error=access_denied&state={state}",
        s.base
    ))
    .await;
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("not completed"), "{body}");
    assert!(body.contains("\"type\":\"error\""), "{body}");
    let r = received(&doubles, "/anything/conn", 1).await.remove(0);
    let hook: serde_json::Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
    assert_eq!(hook["event"], "CONNECTION_ERROR", "{hook}");
    assert!(
        hook["error"].as_str().unwrap().contains("access_denied"),
        "{hook}"
    );
    assert_eq!(hook["connect_token"], ctok.as_str());
    assert!(verify_with_standardwebhooks(
        &env_key,
        r["body"].as_str().unwrap(),
        &sw_headers(&r)
    ));

    // No open redirect: redirect targets come from the token only, never
    // from the request.
    let ctok = s
        .connect_token_with(
            &bearer,
            &p.id,
            json!({"error_redirect_uri": "https://acme.example/failed"}),
        )
        .await;
    let (_, authorize) = location(&format!(
        "{}/_static/connect/oauth/start?token={ctok}&app=github&success_redirect_uri=https://evil.example/&redirect_uri=https://evil.example/",
        s.base
    ))
    .await;
    assert!(
        !authorize.contains("evil.example"),
        "the provider is sent our own callback: {authorize}"
    );
    let state = query_param(&authorize, "state").unwrap();
    let (st, to) = location(&format!(
        "{}/_static/connect/oauth/callback?error=x&state={state}&error_redirect_uri=https://evil.example/",
        s.base
    ))
    .await;
    assert_eq!((st, to.as_str()), (303, "https://acme.example/failed"));
    assert_eq!(
        s.user_accounts(&bearer, &p.id, "github", false).await.len(),
        1,
        "refusals made no account"
    );
}
