//! The OAuth 2.0 authorization-code flow behind the hosted connect page,
//! with the project's own client: PKCE (S256) where the app declares it,
//! and a single-use `state` bound to the connect token (kept sealed, 10 minutes) and to the
//! browser that started the flow: a random nonce (256 bits) goes to that
//! browser as a cookie and only its SHA-256 into the sealed state, and the
//! callback requires the cookie (constant-time comparison). Without it, an
//! attacker could start a flow with her own token and send the provider's
//! authorize link to a victim, whose provider account would be saved under
//! the attacker's user (login CSRF). The callback trades the code for
//! tokens and saves the account through the same path as every other
//! account (the connect token is spent there).

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Digest;

use switchboard_components::token::{self, OAuth1Token, Secret};
use switchboard_components::{App, OAuthSpec, template};

use super::Accounts;
use crate::accounts::manage::{AccountView, NewKeyAccount, check_fields};
use crate::accounts::overrides::ConnectChoice;
use crate::accounts::refresh::TokenGrant;
use crate::crypto::{ct_eq, sha256_hex};
use crate::error::{Error, Result, invalid};
use crate::ids::random_bytes;
use crate::model::ConnectToken;
use crate::store::{Key, Op};

/// How long a user has between leaving for the provider and coming back.
pub const OAUTH_STATE_TTL_SECS: u64 = 10 * 60;
const STATE_TTL_MS: u64 = OAUTH_STATE_TTL_SECS * 1000;

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn state_key(state: &str) -> Key {
    Key::global(format!("oauthstate:{}", sha256_hex(state.as_bytes())), "s")
}

fn state_used_key(state: &str) -> Key {
    Key::global(
        format!("oauthstate:{}", sha256_hex(state.as_bytes())),
        "used",
    )
}

/// What a `state` stands for, sealed at rest (it holds the connect token).
#[derive(Serialize, Deserialize)]
struct Pending {
    connect_token: String,
    app: String,
    oauth_app_id: String,
    verifier: String,
    account_id: Option<String>,
    /// SHA-256 (hex) of the nonce the starting browser holds as a cookie.
    #[serde(default)]
    browser_sha256: String,
    /// The account fields entered before the redirect (a Shopify shop, a
    /// Salesforce host), checked; the token URL is rendered over them and
    /// the account keeps them.
    #[serde(default)]
    fields: Map<String, Value>,
    /// OAuth 1: the request token and its secret, which signs the
    /// access-token request.
    #[serde(default)]
    request_token: Option<OAuth1Token>,
}

/// A started flow: where to send the browser, and the nonce that binds the
/// flow to it (the server sets it as the cookie named `sb_oauth_<binding>`).
pub struct OAuthStart {
    pub authorize_url: String,
    pub binding: String,
    pub browser_nonce: String,
}

/// The name part that ties a browser cookie to one `state` (so flows in
/// two tabs of one browser do not overwrite each other's cookie).
pub fn oauth_binding(state: &str) -> String {
    sha256_hex(format!("binding:{state}").as_bytes())[..16].to_string()
}

/// Why a callback from a browser that did not start the flow is refused.
pub const BROWSER_MISMATCH: &str = "This sign-in was started in a different browser, or its \
     sign-in cookie is missing or expired, so it cannot be completed here. Nothing was \
     connected. Start again from the page that sent you here.";

/// A callback that saved nothing: why, and the connect token when it is
/// known (for its error redirect).
pub struct CallbackFailure {
    pub token: Option<ConnectToken>,
    pub message: String,
    /// The callback came from a browser other than the one that started
    /// the flow (or without its cookie).
    pub browser_mismatch: bool,
}

/// A finished flow: the account, and the token's redirect targets.
pub struct Connected {
    pub account: AccountView,
    pub token: ConnectToken,
}

impl Accounts {
    /// Where the provider sends the user back.
    pub fn oauth_callback_url(&self) -> String {
        format!(
            "{}/_static/connect/oauth/callback",
            self.settings.public_base
        )
    }

    /// Starts the flow for a live connect token: returns the provider's
    /// authorization URL (with state and PKCE challenge) and the nonce the
    /// starting browser must present at the callback. `fields` are the
    /// app's account fields the user entered first (connection config):
    /// checked like any account's, then the OAuth URLs and params are
    /// rendered over them, and a URL whose host leaves the app's domains is
    /// refused before the user is sent anywhere. `choice` (the link's
    /// app override and OAuth client) is resolved here again: the
    /// override's values replace entered ones, and its (or the asked)
    /// OAuth client replaces the project's default.
    pub async fn oauth_start(
        &self,
        connect_token: &str,
        app_slug: &str,
        account_id: Option<&str>,
        fields: Map<String, Value>,
        choice: &ConnectChoice,
    ) -> Result<OAuthStart> {
        let ct = self.tenancy.live_connect_token(connect_token).await?;
        let app = self.app(app_slug)?.clone();
        let project = ct.tenant.project_id.clone();
        if app.auth.oauth.is_none() && app.auth.oauth1.is_none() {
            return Err(invalid(format!("{} does not use OAuth", app.name)));
        }
        let resolved = self.resolve_choice(&project, &app, choice).await?;
        let fields = resolved.apply(fields);
        let (oauth_app_id, client_id, client_secret) = self
            .oauth_client(&project, &app.name_slug, resolved.oauth_app_id.as_deref())
            .await?
            .ok_or_else(|| {
                invalid(format!(
                    "this project has not registered an OAuth client for {} yet",
                    app.name
                ))
            })?;
        let fields = check_fields(&app, fields)?;
        let state = b64url(&random_bytes::<32>());
        let browser_nonce = b64url(&random_bytes::<32>());
        let mut pending = Pending {
            browser_sha256: sha256_hex(browser_nonce.as_bytes()),
            connect_token: connect_token.to_string(),
            app: app.name_slug.clone(),
            oauth_app_id,
            verifier: b64url(&random_bytes::<32>()),
            account_id: account_id.map(str::to_string),
            fields,
            request_token: None,
        };
        let authorize_url = match (&app.auth.oauth, &app.auth.oauth1) {
            (Some(oauth), _) => {
                self.oauth2_authorize_url(&app, oauth, &client_id, &state, &pending)?
            }
            (None, Some(o1)) => {
                let (url, token) = self
                    .oauth1_authorize_url(
                        &app,
                        o1,
                        (&client_id, &client_secret),
                        &state,
                        &pending.fields,
                    )
                    .await?;
                pending.request_token = Some(token);
                url
            }
            (None, None) => unreachable!("checked above"),
        };
        let sealed = self
            .keyring
            .seal(&crate::records::to_bytes(&pending), &state_aad(&state));
        self.store
            .commit(vec![Op::Put {
                key: state_key(&state),
                value: sealed.into_bytes(),
                ttl_ms: Some(STATE_TTL_MS),
            }])
            .await?;
        Ok(OAuthStart {
            authorize_url,
            binding: oauth_binding(&state),
            browser_nonce,
        })
    }

    /// OAuth 2's authorization URL: the flow's own parameters, PKCE where
    /// declared, scopes and the app's extras rendered over the entered
    /// fields. The token endpoints are checked now, not after the user has
    /// signed in: they get the client secret.
    fn oauth2_authorize_url(
        &self,
        app: &App,
        oauth: &OAuthSpec,
        client_id: &str,
        state: &str,
        p: &Pending,
    ) -> Result<String> {
        let fields = &p.fields;
        let mut url = token::render_url(
            app,
            "authorize_url",
            &oauth.authorize_url,
            fields,
            Secret::Project,
        )
        .map_err(invalid)?;
        for (what, src) in std::iter::once(("token_url", &oauth.token_url))
            .chain(oauth.refresh_url.iter().map(|r| ("refresh_url", r)))
        {
            token::render_url(app, what, src, fields, Secret::Project).map_err(invalid)?;
        }
        // The flow's own parameters are never doubled or replaced (Nango
        // lists `response_type: code` among some providers' extras).
        const OWN: [&str; 6] = [
            "response_type",
            "client_id",
            "redirect_uri",
            "state",
            "code_challenge",
            "code_challenge_method",
        ];
        let extra = authorize_params(&oauth.extra_authorize_params, fields, |k| {
            OWN.contains(&k) || (k == "scope" && !oauth.scopes.is_empty())
        })?;
        let challenge = b64url(&sha2::Sha256::digest(p.verifier.as_bytes()));
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", &self.oauth_callback_url())
                .append_pair("state", state);
            // PKCE where the app declares it: some providers refuse
            // parameters they do not know.
            if oauth.pkce {
                q.append_pair("code_challenge", &challenge)
                    .append_pair("code_challenge_method", "S256");
            }
            if !oauth.scopes.is_empty() {
                q.append_pair("scope", &oauth.scopes.join(&oauth.scope_separator));
            }
            q.extend_pairs(extra);
        }
        Ok(url.to_string())
    }

    /// The provider's redirect back: exactly one use of `state`; the
    /// browser must present the nonce of the one that started the flow
    /// (`browser_nonce`, from its cookie), else nothing is exchanged or
    /// saved; the code is exchanged with the PKCE verifier and the account
    /// saved. A provider error (`error=…`), a foreign browser or a failed
    /// exchange sends `CONNECTION_ERROR`.
    pub async fn oauth_callback(
        &self,
        state: &str,
        browser_nonce: Option<&str>,
        code: Option<&str>,
        provider_error: Option<&str>,
    ) -> std::result::Result<Connected, CallbackFailure> {
        let fail = |token: Option<&ConnectToken>, e: Error| CallbackFailure {
            token: token.cloned(),
            message: e.to_string(),
            browser_mismatch: false,
        };
        let p = self.take_state(state).await.map_err(|e| fail(None, e))?;
        let ct = self
            .tenancy
            .live_connect_token(&p.connect_token)
            .await
            .map_err(|e| fail(None, e))?;
        // Both sides are hex of a SHA-256; compared in constant time.
        let same_browser = !p.browser_sha256.is_empty()
            && browser_nonce.is_some_and(|n| {
                ct_eq(
                    sha256_hex(n.as_bytes()).as_bytes(),
                    p.browser_sha256.as_bytes(),
                )
            });
        let done = match (provider_error, code) {
            _ if !same_browser => Err(Error::Forbidden(BROWSER_MISMATCH.into())),
            (Some(why), _) => Err(invalid(format!("The sign-in was not completed: {why}"))),
            (None, None) => Err(invalid("The provider's answer is missing its code.")),
            (None, Some(code)) => self.finish_oauth(&p, &ct, code).await,
        };
        match done {
            Ok(account) => Ok(Connected { account, token: ct }),
            Err(e) => {
                if let Err(n) = self
                    .connection_error(&p.connect_token, &ct, &e.to_string())
                    .await
                {
                    tracing::warn!(error = %n, "could not queue the CONNECTION_ERROR webhook");
                }
                let browser_mismatch = !same_browser;
                Err(CallbackFailure {
                    browser_mismatch,
                    ..fail(Some(&ct), e)
                })
            }
        }
    }

    /// Uses `state` up: only the first caller gets what it stands for.
    async fn take_state(&self, state: &str) -> Result<Pending> {
        let unknown = || invalid("this sign-in link is unknown or expired; start again");
        // Ours are 43 characters; a longer one names no key worth reading.
        if state.is_empty() || state.len() > crate::validate::MAX_OAUTH_STATE {
            return Err(unknown());
        }
        let raw = self
            .store
            .get(&state_key(state))
            .await?
            .ok_or_else(unknown)?;
        if !self
            .store
            .put_if_absent(&state_used_key(state), b"1".to_vec(), Some(STATE_TTL_MS))
            .await?
        {
            return Err(invalid("this sign-in was already completed; start again"));
        }
        self.store
            .commit(vec![Op::Delete(state_key(state))])
            .await?;
        let opened = self
            .keyring
            .open(&String::from_utf8_lossy(&raw), &state_aad(state))?;
        crate::records::from_bytes(&opened)
    }

    async fn finish_oauth(
        &self,
        p: &Pending,
        ct: &ConnectToken,
        code: &str,
    ) -> Result<AccountView> {
        let app = self.app(&p.app)?.clone();
        let (tokens, expires_in, oauth_app_id) = match (&app.auth.oauth, &app.auth.oauth1) {
            (Some(oauth), _) => {
                let mut form = vec![
                    ("grant_type".to_string(), "authorization_code".to_string()),
                    ("code".to_string(), code.to_string()),
                    ("redirect_uri".to_string(), self.oauth_callback_url()),
                ];
                if oauth.pkce {
                    form.push(("code_verifier".to_string(), p.verifier.clone()));
                }
                self.token_call(
                    &ct.tenant,
                    &app,
                    oauth,
                    TokenGrant::Code(form),
                    Some(&p.oauth_app_id),
                    &p.fields,
                )
                .await
                .map_err(|r| r.into_error())?
            }
            (None, Some(o1)) => {
                let rt = p
                    .request_token
                    .as_ref()
                    .ok_or_else(|| invalid("this sign-in has no request token; start again"))?;
                let tokens = self
                    .oauth1_access_token(&ct.tenant, &app, o1, &p.oauth_app_id, rt, code, &p.fields)
                    .await?;
                (tokens, None, p.oauth_app_id.clone())
            }
            (None, None) => return Err(invalid(format!("{} does not use OAuth", app.name))),
        };
        // The entered fields are saved with the tokens.
        let mut cfmap: Map<String, Value> = p.fields.clone();
        cfmap.extend(tokens);
        if let Some(e) = expires_in {
            cfmap.insert("expires_in".into(), Value::from(e));
        }
        cfmap.insert("oauth_app_id".into(), Value::String(oauth_app_id));
        self.create_key_account(
            &ct.tenant,
            NewKeyAccount {
                app_slug: app.name_slug.clone(),
                cfmap_json: Value::Object(cfmap).to_string(),
                connect_token: p.connect_token.clone(),
                name: None,
                account_id: p.account_id.clone(),
                external_user_id: None,
                allow_token_import: true,
                app_override_id: None,
            },
        )
        .await
    }
}

/// An authorize URL's extra params rendered over the entered fields and a
/// fresh `random` (a provider's nonce); empty values and the flow's own
/// parameters (`own`) are left out.
pub(super) fn authorize_params(
    params: &std::collections::BTreeMap<String, String>,
    fields: &Map<String, Value>,
    own: impl Fn(&str) -> bool,
) -> Result<Vec<(String, String)>> {
    let ctx = serde_json::json!({ "account": fields, "random": switchboard_net::random_nonce() });
    let mut extra = Vec::new();
    for (k, t) in params {
        if own(k) {
            continue;
        }
        let v =
            template::render(t, &ctx).map_err(|e| invalid(format!("authorize param {k}: {e}")))?;
        if !v.is_empty() {
            extra.push((k.clone(), v));
        }
    }
    Ok(extra)
}

fn state_aad(state: &str) -> String {
    format!("oauthstate:{}", sha256_hex(state.as_bytes()))
}
