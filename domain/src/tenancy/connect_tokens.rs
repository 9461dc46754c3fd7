//! Connect tokens: short-lived, single-use credentials that let one external
//! user connect an account, and authenticate that user's browser calls.

use super::Tenancy;
use crate::clock::now_ms;
use crate::crypto::sha256_hex;
use crate::error::{Error, Result, invalid};
use crate::ids::random_hex;
use crate::model::{ConnectToken, Tenant};
use crate::records;
use crate::store::{IndexRange, Op};
use crate::tenancy::auth::{END_USER_DEFAULT_SCOPES, parse_scopes, scope_allows};
use crate::validate;

/// Tombstones outlive a token by this much, to tell "expired" from "unknown".
const TOMBSTONE_MS: u64 = 24 * 3600 * 1000;

/// `<expires at, zero-padded ms>:<sha256>`
fn token_member(expires_at: u64, sha: &str) -> String {
    format!("{expires_at:016}:{sha}")
}

fn member_expiry(member: &str) -> Option<u64> {
    member.split(':').next()?.parse().ok()
}

#[derive(Debug, Clone, Default)]
pub struct NewConnectToken {
    pub external_user_id: String,
    pub allowed_origins: Vec<String>,
    pub success_redirect_uri: Option<String>,
    pub error_redirect_uri: Option<String>,
    pub webhook_uri: Option<String>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
}

#[derive(Debug, Clone)]
pub struct IssuedConnectToken {
    pub token: String,
    pub expires_at: u64,
    pub connect_link_url: String,
}

impl Tenancy {
    /// `granted` are the creating caller's scopes: a connect token never
    /// carries more than its creator holds.
    pub async fn create_connect_token(
        &self,
        tenant: &Tenant,
        granted: &[String],
        req: NewConnectToken,
    ) -> Result<IssuedConnectToken> {
        validate::external_user_id(&req.external_user_id)?;
        for o in &req.allowed_origins {
            validate::origin("allowed_origins", o)?;
        }
        for (field, url) in [
            ("success_redirect_uri", &req.success_redirect_uri),
            ("error_redirect_uri", &req.error_redirect_uri),
            ("webhook_uri", &req.webhook_uri),
        ] {
            if let Some(u) = url {
                validate::http_url(field, u)?;
            }
        }
        self.check_user_live(tenant, &req.external_user_id).await?;
        let max = self.settings.connect_token_ttl_secs;
        let ttl = req.expires_in.unwrap_or(max);
        if ttl == 0 || ttl > max {
            return Err(invalid(format!(
                "expires_in must be between 1 and {max} seconds"
            )));
        }
        let scopes = match req.scope.as_deref() {
            Some(s) => {
                let wanted = parse_scopes(s)?;
                if let Some(bad) = wanted.iter().find(|w| !scope_allows(granted, w)) {
                    return Err(Error::Forbidden(format!(
                        "cannot grant scope {bad:?}: these credentials do not hold it"
                    )));
                }
                wanted
            }
            // The end-user minimum, never more than the creator holds.
            None => END_USER_DEFAULT_SCOPES
                .iter()
                .filter(|s| scope_allows(granted, s))
                .map(|s| s.to_string())
                .collect(),
        };
        self.rate_limit(
            &format!(
                "tok:{}:{}:{}",
                tenant.project_id,
                tenant.env.as_str(),
                req.external_user_id
            ),
            self.settings.tokens_per_user_per_minute,
            60,
            "connect tokens per external user",
        )
        .await?;

        let token = format!("ctok_{}", random_hex(16));
        let sha = sha256_hex(token.as_bytes());
        let now = now_ms();
        let expires_at = now + ttl * 1000;
        let rec = ConnectToken {
            token_sha256: sha.clone(),
            tenant: tenant.clone(),
            external_user_id: req.external_user_id.clone(),
            allowed_origins: req.allowed_origins,
            success_redirect_uri: req.success_redirect_uri,
            error_redirect_uri: req.error_redirect_uri,
            webhook_uri: req.webhook_uri,
            scopes,
            created_at: now,
            expires_at,
        };
        // Index members sort by expiry, so expired ones are pruned from the front.
        let index = records::user_tokens(tenant, &req.external_user_id);
        let mut ops = vec![
            Op::Put {
                key: records::connect_token(&sha),
                value: records::to_bytes(&rec),
                ttl_ms: Some(ttl * 1000 + TOMBSTONE_MS),
            },
            records::index_add(index.clone(), &token_member(expires_at, &sha)),
        ];
        let oldest = self
            .store
            .index_range(
                &index,
                &IndexRange {
                    limit: 20,
                    ..Default::default()
                },
            )
            .await?;
        ops.extend(
            oldest
                .iter()
                .filter(|m| member_expiry(m).is_some_and(|e| e <= now))
                .map(|m| records::index_remove(index.clone(), m)),
        );
        self.store.commit(ops).await?;
        // A delete of this user that started meanwhile may have missed
        // this token: revoke it rather than hand it out.
        if self
            .user_deleted_meanwhile(tenant, &req.external_user_id)
            .await?
        {
            self.store
                .commit(vec![Op::Delete(records::connect_token(&sha))])
                .await?;
            self.check_user_live(tenant, &req.external_user_id).await?;
        }
        let connect_link_url = format!(
            "{}/_static/connect.html?token={token}&connectLink=true",
            self.settings.public_base
        );
        Ok(IssuedConnectToken {
            token,
            expires_at,
            connect_link_url,
        })
    }

    /// The token's record if it is known, unexpired and unused.
    pub async fn live_connect_token(&self, token: &str) -> Result<ConnectToken> {
        let sha = sha256_hex(token.as_bytes());
        let got = self
            .store
            .get_many(&[
                records::connect_token(&sha),
                records::connect_token_used(&sha),
            ])
            .await?;
        let rec: ConnectToken = match &got[0] {
            Some(raw) => records::from_bytes(raw)?,
            None => return Err(Error::Unauthorized("invalid connect token".into())),
        };
        if got[1].is_some() {
            return Err(Error::Unauthorized(
                "connect token has already been used".into(),
            ));
        }
        if rec.expires_at <= now_ms() {
            return Err(Error::Unauthorized("connect token has expired".into()));
        }
        Ok(rec)
    }

    /// Marks a token used; only one caller ever succeeds.
    pub(crate) async fn consume_connect_token(&self, rec: &ConnectToken) -> Result<()> {
        let left = rec.expires_at.saturating_sub(now_ms()) + TOMBSTONE_MS;
        let won = self
            .store
            .put_if_absent(
                &records::connect_token_used(&rec.token_sha256),
                b"1".to_vec(),
                Some(left),
            )
            .await?;
        if won {
            Ok(())
        } else {
            Err(Error::Unauthorized(
                "connect token has already been used".into(),
            ))
        }
    }

    /// Deletes every connect token of one user (GDPR delete).
    pub(crate) async fn revoke_user_tokens(&self, tenant: &Tenant, ext: &str) -> Result<()> {
        let index = records::user_tokens(tenant, ext);
        loop {
            let members = self
                .store
                .index_range(
                    &index,
                    &IndexRange {
                        limit: 500,
                        ..Default::default()
                    },
                )
                .await?;
            if members.is_empty() {
                return Ok(());
            }
            let mut ops = Vec::with_capacity(members.len() * 2);
            for m in &members {
                let sha = m.rsplit(':').next().unwrap_or(m);
                ops.push(Op::Delete(records::connect_token(sha)));
                ops.push(records::index_remove(index.clone(), m));
            }
            self.store.commit(ops).await?;
        }
    }
}
