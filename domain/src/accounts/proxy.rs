//! The Connect proxy: a request to the app's API on the user's behalf, with
//! the account's credentials injected and refreshed once on 401. The target
//! must be one of the app's domains and not a private address.

use std::sync::Arc;

use std::time::Duration;

use switchboard_components::proxy::{
    decode_url64, forbidden_header, repair_query, upstream_header,
};
use switchboard_components::runtime::{RunError, Session};
use switchboard_net::outbound::HttpRequest;

use super::Accounts;
use crate::error::{Error, Result, invalid};
use crate::model::{Account, Tenant};
use crate::records;

pub struct ProxyRequest {
    pub external_user_id: String,
    pub account_id: String,
    pub method: String,
    pub url_64: String,
    /// The caller's headers; only `x-pd-proxy-*` ones are forwarded.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub struct ProxyResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Accounts {
    pub async fn proxy(self: &Arc<Self>, t: &Tenant, req: ProxyRequest) -> Result<ProxyResponse> {
        crate::validate::external_user_id(&req.external_user_id)?;
        let _share = self.request_share(t).await?;
        let target = repair_query(&decode_url64(&req.url_64).map_err(invalid)?);
        let account: Account = self
            .read(&records::account(t, &req.account_id))
            .await?
            .filter(|a: &Account| a.external_user_id == req.external_user_id)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "account {:?} not found for this user",
                    req.account_id
                ))
            })?;
        let app = self.app(&account.app)?;
        if !app.connect.proxy_enabled {
            return Err(Error::Forbidden(format!(
                "the proxy is not enabled for {}",
                app.name_slug
            )));
        }
        let creds = self.session_credentials(t, &account).await?;
        let refresher = crate::accounts::refresh::AccountRefresher::new(self, t, &account, &creds);
        let timeout = Duration::from_secs(self.settings.proxy_timeout_secs);
        let mut s = Session::new(&self.outbound, app, Some(creds), Some(&refresher), timeout);
        let url = if target.starts_with("http://") || target.starts_with("https://") {
            url::Url::parse(&target)
                .map_err(|e| invalid(format!("url_64 is not a valid URL: {e}")))?
        } else {
            let base = app
                .connect
                .base_proxy_target_url
                .clone()
                .map(Ok)
                .unwrap_or_else(|| s.base_url())
                .map_err(|e| {
                    invalid(format!(
                        "{} has no base URL for relative paths: {e}",
                        app.name_slug
                    ))
                })?;
            let joined = format!(
                "{}/{}",
                base.trim_end_matches('/'),
                target.trim_start_matches('/')
            );
            url::Url::parse(&joined)
                .map_err(|e| invalid(format!("bad relative URL {target:?}: {e}")))?
        };
        let mut headers = Vec::new();
        for (k, v) in &req.headers {
            if let Some(name) = upstream_header(k)
                && !forbidden_header(name)
            {
                headers.push((name.to_string(), v.clone()));
            }
        }
        // The SDKs send the body's type on the proxy request itself.
        if !req.body.is_empty()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            && let Some((_, ct)) = req
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".into(), ct.clone()));
        }
        let request = HttpRequest {
            method: req.method.to_ascii_uppercase(),
            url,
            headers,
            body: req.body,
        };
        // One bound for everything, token refresh included.
        let out = tokio::time::timeout(timeout, s.send(request, false))
            .await
            .unwrap_or(Err(RunError::Timeout(timeout)));
        // Metered when a request went out (see `usage.rs`).
        if s.sent > 0 {
            self.count_usage(t, crate::usage::Metric::ProxyCall, 1)
                .await;
        }
        let replay_safe = matches!(req.method.as_str(), "GET" | "HEAD" | "PUT" | "DELETE");
        match out {
            Ok(r) => Ok(ProxyResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(RunError::Blocked(m)) => Err(Error::Forbidden(m)),
            Err(RunError::Timeout(_)) => Err(Error::UpstreamTimeout(format!(
                "{} did not answer within {} s",
                app.name,
                timeout.as_secs()
            ))),
            // Not 5xx: the SDKs would retry a refresh the provider refused.
            Err(RunError::Auth(m)) => Err(Error::Unprocessable(m)),
            Err(RunError::Invalid(m)) => Err(invalid(m)),
            // The upstream ran the request; a retry of a POST would run it twice.
            Err(RunError::TooLarge(m)) if !replay_safe => Err(Error::Unprocessable(m)),
            Err(e) => Err(Error::Upstream(e.to_string())),
        }
    }
}
