//! OAuth 1.0a's three legs behind the hosted connect page (RFC 5849,
//! HMAC-SHA1), inside the same flow as OAuth 2 (`oauth_flow`: sealed
//! single-use state, browser binding, connect token): a consumer-signed
//! request token whose callback carries our `state`, the provider's
//! authorize page, and the verifier traded for the access token and its
//! secret. The request token's secret stays sealed in the flow's state.

use serde_json::{Map, Value};
use switchboard_components::token::{self, OAuth1Token};
use switchboard_components::{App, OAuth1Spec};
use switchboard_net::oauth1::OAuth1Key;
use switchboard_net::outbound::HttpRequest;

use super::Accounts;
use super::oauth_flow::authorize_params;
use super::refresh::TOKEN_CALL_TIMEOUT;
use crate::error::{Error, Result, invalid};
use crate::model::Tenant;

impl Accounts {
    /// Gets a request token (its callback is ours, carrying `state`) and
    /// returns the authorize URL with it, and the token to keep sealed.
    /// Every URL is checked before anything is sent.
    pub(super) async fn oauth1_authorize_url(
        &self,
        app: &App,
        o1: &OAuth1Spec,
        (client_id, client_secret): (&str, &str),
        state: &str,
        fields: &Map<String, Value>,
    ) -> Result<(String, OAuth1Token)> {
        let mut authorize = token::render_url(
            app,
            "authorize_url",
            &o1.authorize_url,
            fields,
            token::Secret::Project,
        )
        .map_err(invalid)?;
        token::render_url(
            app,
            "access_token_url",
            &o1.access_token_url,
            fields,
            token::Secret::Project,
        )
        .map_err(invalid)?;
        let mut callback = url::Url::parse(&self.oauth_callback_url())
            .map_err(|e| Error::internal_from("callback URL", e))?;
        callback.query_pairs_mut().append_pair("state", state);
        let key = OAuth1Key {
            consumer_key: client_id,
            consumer_secret: client_secret,
            token: None,
            token_secret: "",
        };
        let req = token::oauth1_request(
            app,
            ("request_token_url", &o1.request_token_url),
            &o1.request_params,
            fields,
            &key,
            &[("oauth_callback", callback.as_str())],
        );
        let rt = self.oauth1_token_call(app, req).await?;
        let extra = authorize_params(&o1.authorize_params, fields, |k| {
            k == "oauth_token" || (k == "scope" && !o1.scopes.is_empty())
        })?;
        {
            let mut q = authorize.query_pairs_mut();
            q.append_pair("oauth_token", &rt.token);
            if !o1.scopes.is_empty() {
                q.append_pair("scope", &o1.scopes.join(&o1.scope_separator));
            }
            q.extend_pairs(extra);
        }
        Ok((authorize.to_string(), rt))
    }

    /// Trades the verifier for the access token, signed with the request
    /// token; returns the account's token fields.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn oauth1_access_token(
        &self,
        t: &Tenant,
        app: &App,
        o1: &OAuth1Spec,
        oauth_app_id: &str,
        rt: &OAuth1Token,
        verifier: &str,
        fields: &Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let (_, client_id, client_secret) = self
            .oauth_client(&t.project_id, &app.name_slug, Some(oauth_app_id))
            .await?
            .ok_or_else(|| invalid("the OAuth client of this sign-in no longer exists"))?;
        let key = OAuth1Key {
            consumer_key: &client_id,
            consumer_secret: &client_secret,
            token: Some(&rt.token),
            token_secret: &rt.secret,
        };
        let req = token::oauth1_request(
            app,
            ("access_token_url", &o1.access_token_url),
            &Default::default(),
            fields,
            &key,
            &[("oauth_verifier", verifier)],
        );
        let at = self.oauth1_token_call(app, req).await?;
        let mut out = Map::new();
        out.insert("oauth_access_token".into(), Value::String(at.token));
        out.insert("oauth_token_secret".into(), Value::String(at.secret));
        Ok(out)
    }

    /// Sends a token request through the outbound client (SSRF guard).
    async fn oauth1_token_call(
        &self,
        app: &App,
        req: std::result::Result<HttpRequest, String>,
    ) -> Result<OAuth1Token> {
        let req = req.map_err(invalid)?;
        let resp = self
            .outbound
            .send(req, TOKEN_CALL_TIMEOUT)
            .await
            .map_err(|e| Error::Upstream(format!("token request failed: {e}")))?;
        token::read_oauth1(resp.status, &resp.body).map_err(|r| {
            Error::Upstream(format!("{} refused the token request: {}", app.name, r.why))
        })
    }
}
