//! Issue 12, finding 4, tried as the attacker would: login CSRF through a
//! provider authorize link sent to a victim (in Chromium). The other
//! web-facing findings run in-process: `tests/app/web_security.rs`.

use serde_json::{Value, json};

use crate::browser;
use crate::connect_oauth::{binding_cookies, query_param};
use crate::harness::{AuthServer, Backend, Doubles, Instance, no_redirects, received};

/// Finding 4: login CSRF. Mallory starts a flow with her own connect
/// token and sends the provider's authorize link to a victim; the victim's
/// browser (fresh cookies) consents and comes back to the callback, which
/// refuses: no account is saved under Mallory's user.
#[tokio::test(flavor = "multi_thread")]
async fn a_victims_browser_cannot_finish_an_attackers_oauth_flow() {
    let auth = AuthServer::start();
    let doubles = Doubles::start();
    let inst = auth.configure(Instance::new(Backend::Embedded)).with_env(
        "SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_NETWORKS",
        "[\"127.0.0.0/8\"]",
    );
    let p = inst.create_project("csrf");
    let s = inst.start().await;
    let bearer = s.token(&p).await;
    let (st, v, _) = s
        .post(
            &format!("/v1/connect/{}/oauth_apps", p.id),
            &bearer,
            json!({"app": "hubspot", "client_id": "acme-client", "client_secret": "acme-secret"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let token_for = |user: &'static str| {
        let (s, bearer, p) = (&s, &bearer, &p);
        let hook = format!("{}/anything/csrf-{user}", doubles.url("http"));
        async move {
            let (st, v, _) = s
                .post(
                    &format!("/v1/connect/{}/tokens", p.id),
                    bearer,
                    json!({"external_user_id": user, "webhook_uri": hook}),
                )
                .await;
            assert_eq!(st, 200, "{v}");
            v["token"].as_str().unwrap().to_string()
        }
    };

    // Mallory starts the flow and keeps the authorize URL (and her cookie).
    let mallory = token_for("mallory").await;
    let r = no_redirects()
        .get(format!(
            "{}/_static/connect/oauth/start?token={mallory}&app=hubspot",
            s.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let set_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>();
    let cookie = set_cookie
        .iter()
        .find(|c| c.starts_with("sb_oauth_"))
        .unwrap_or_else(|| panic!("the start sets the binding cookie: {set_cookie:?}"));
    for attr in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/_static/connect/oauth",
        "Max-Age=600",
    ] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "not Secure on http: {cookie}");
    let (name, nonce) = binding_cookies(&r).remove(0);
    assert!(
        nonce.len() >= 43,
        "the nonce carries 256 random bits: {nonce}"
    );
    let authorize = r.headers()["location"].to_str().unwrap().to_string();
    assert!(authorize.starts_with(&auth.base), "{authorize}");
    assert!(
        !authorize.contains(&nonce),
        "the nonce never leaves for the provider: {authorize}"
    );

    // The victim opens the link in her own browser and consents.
    let callback = format!("{}/_static/connect/oauth/callback", s.base);
    let scenario = json!({"url": authorize, "steps": [{"wait_for_url_prefix": callback}]});
    let r = tokio::task::spawn_blocking(move || browser::drive(scenario))
        .await
        .unwrap();
    assert_eq!(r["error"], Value::Null, "{r}");
    assert_eq!(r["status"], 403, "the callback refuses: {r}");
    let text = r["text"].as_str().unwrap();
    assert!(text.contains("different browser"), "a clear page: {r}");
    assert!(text.contains("Nothing was connected"), "{r}");
    let (st, v, _) = s
        .get(
            &format!("/v1/connect/{}/users/mallory/accounts", p.id),
            &bearer,
            None,
        )
        .await;
    assert_eq!((st, v.as_array().map(Vec::len)), (200, Some(0)), "{v}");
    // The customer hears of it, as of any failed connection.
    let hook = received(&doubles, "/anything/csrf-mallory", 1)
        .await
        .remove(0);
    let hook: Value = serde_json::from_str(hook["body"].as_str().unwrap()).unwrap();
    assert_eq!(hook["event"], "CONNECTION_ERROR", "{hook}");
    assert!(
        hook["error"]
            .as_str()
            .unwrap()
            .contains("different browser"),
        "{hook}"
    );
    // The state is spent: Mallory cannot replay the victim's code either.
    let code_url = format!(
        "{callback}?code=x&state={}",
        query_param(&authorize, "state").unwrap()
    );
    let r = no_redirects()
        .get(&code_url)
        .header("cookie", format!("{name}={nonce}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // A guessed or missing cookie is no better than none, and saves nothing.
    let eve = token_for("eve").await;
    let r = no_redirects()
        .get(format!(
            "{}/_static/connect/oauth/start?token={eve}&app=hubspot",
            s.base
        ))
        .send()
        .await
        .unwrap();
    let (name, _) = binding_cookies(&r).remove(0);
    let authorize = r.headers()["location"].to_str().unwrap().to_string();
    let back = no_redirects()
        .get(&authorize)
        .send()
        .await
        .unwrap()
        .headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let r = no_redirects()
        .get(&back)
        .header(
            "cookie",
            format!("{name}=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let cleared = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().contains("Max-Age=0"));
    assert!(cleared, "the callback clears the cookie");
    assert!(r.text().await.unwrap().contains("different browser"));
    let (_, v, _) = s
        .get(
            &format!("/v1/connect/{}/users/eve/accounts", p.id),
            &bearer,
            None,
        )
        .await;
    assert_eq!(v.as_array().map(Vec::len), Some(0), "{v}");

    // The browser that started the flow finishes it (Chromium, whole flow).
    let alice = token_for("alice").await;
    let scenario = json!({
        "url": format!("{}/_static/connect.html?token={alice}&app=hubspot", s.base),
        "steps": [{"click": "Continue to HubSpot"}, {"wait_for_url_prefix": callback}],
    });
    let r = tokio::task::spawn_blocking(move || browser::drive(scenario))
        .await
        .unwrap();
    assert_eq!(r["error"], Value::Null, "{r}");
    assert!(
        r["text"].as_str().unwrap().contains("HubSpot is connected"),
        "{r}"
    );
    let (_, v, _) = s
        .get(
            &format!("/v1/connect/{}/users/alice/accounts", p.id),
            &bearer,
            None,
        )
        .await;
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    s.stop().await;
}
