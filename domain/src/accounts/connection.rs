//! Connection webhooks: `CONNECTION_SUCCESS` and `CONNECTION_ERROR`, sent
//! to a connect token's own `webhook_uri` and signed with the environment's
//! key (docs/schema/notification.v1.json).

use crate::error::Result;
use crate::model::ConnectToken;
use crate::store::Op;

use super::Accounts;

/// A connection webhook's body: `body` plus the token, environment and
/// session (docs/schema/notification.v1.json).
pub(crate) fn connection_body(
    token: &str,
    ct: &ConnectToken,
    mut body: serde_json::Value,
) -> serde_json::Value {
    body["connect_token"] = token.into();
    body["environment"] = ct.tenant.env.as_str().into();
    body["connect_session_id"] = session_id(ct).into();
    body
}

/// Connection webhooks go to a token's own URI: they count against no
/// webhook's delivery state.
const CONNECTION_WEBHOOK: &str = "connection";

/// Pipedream's `connect_session_id`: a large number, the same for every
/// webhook of one token (52 bits of its hash, exact as a JSON number).
pub(crate) fn session_id(ct: &ConnectToken) -> u64 {
    u64::from_str_radix(ct.token_sha256.get(..13).unwrap_or("0"), 16).unwrap_or(0)
}

impl Accounts {
    /// The ops that send `CONNECTION_SUCCESS` for `v` to the token's
    /// `webhook_uri`, if it has one (the account without credentials).
    pub(crate) async fn connection_success_ops(
        &self,
        token: &str,
        ct: &ConnectToken,
        v: &crate::accounts::manage::AccountView,
    ) -> Result<Vec<Op>> {
        let account = crate::accounts::render::account(v, &self.settings.public_base);
        self.connection_webhook_ops(
            token,
            ct,
            serde_json::json!({"event": "CONNECTION_SUCCESS", "account": account}),
        )
        .await
    }

    /// Sends `CONNECTION_ERROR` with `error` to the token's `webhook_uri`.
    pub async fn connection_error(
        &self,
        token: &str,
        ct: &ConnectToken,
        error: &str,
    ) -> Result<()> {
        let ops = self
            .connection_webhook_ops(
                token,
                ct,
                serde_json::json!({"event": "CONNECTION_ERROR", "error": error}),
            )
            .await?;
        if !ops.is_empty() {
            self.store.commit(ops).await?;
        }
        Ok(())
    }

    /// Pipedream's connection webhook: `body` plus the token, environment
    /// and session, signed with the environment's key.
    async fn connection_webhook_ops(
        &self,
        token: &str,
        ct: &ConnectToken,
        body: serde_json::Value,
    ) -> Result<Vec<Op>> {
        let Some(uri) = &ct.webhook_uri else {
            return Ok(Vec::new());
        };
        // The key exists before the first webhook it signs.
        self.delivery.environment_keys(&ct.tenant).await?;
        let body = connection_body(token, ct, body);
        Ok(self
            .delivery
            .notification_ops(&ct.tenant, CONNECTION_WEBHOOK, uri, &body))
    }
}
