//! Components in-process: the SSRF guard holds for the proxy and actions
//! even towards an app's own (private) domain. The catalog, runs, remote
//! options and the proxy against the provider doubles are in
//! `tests/e2e/components.rs`.

use serde_json::json;
use switchboard_config::AppEndpoints;

use super::helpers::{TestReceiver, assert_client_error, spawn_app_with};

/// Without the loopback allowlist, a provider on loopback is a private
/// address: the proxy and actions refuse it even though it is the app's
/// domain.
#[tokio::test(flavor = "multi_thread")]
async fn private_addresses_are_refused_unless_allowlisted() {
    let github = TestReceiver::start().await;
    let server = spawn_app_with(|c| {
        c.outbound.allow_private_networks.clear();
        c.outbound.proxy_timeout_secs = 2;
        c.apps.insert(
            "github".into(),
            AppEndpoints {
                base_url: Some(github.url.clone()),
                ..Default::default()
            },
        );
    })
    .await;
    let (p, bearer) = (server.project.clone(), server.bearer.clone());
    let acct = server
        .import_account(
            &bearer,
            &p.id,
            "u",
            "github",
            json!({"oauth_access_token": "gho_valid"}),
        )
        .await;
    use base64::Engine;
    let enc = base64::engine::general_purpose::URL_SAFE.encode("/user");
    let (s, v, _) = server
        .get(
            &format!(
                "/v1/connect/{}/proxy/{enc}?external_user_id=u&account_id={acct}",
                p.id
            ),
            &bearer,
            None,
        )
        .await;
    assert_client_error("loopback proxy target", s, &v, 403, "private");
    let (s, v, _) = server
        .post(
            &format!("/v1/connect/{}/actions/run", p.id),
            &bearer,
            json!({"id": "http-custom-request", "external_user_id": "u", "configured_props": {"url": "http://169.254.169.254/latest/meta-data"}}),
        )
        .await;
    assert_client_error("metadata address", s, &v, 403, "private");
    assert!(github.requests().is_empty());
}
