//! An inbound request at a deployment's URL: route, handshake, signature,
//! filter, dedupe, then the event persisted (with its deliveries) before
//! the trigger's response is sent.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use switchboard_components::component::{Source, WebhookSpec};
use switchboard_components::{signature, template};

use crate::Core;
use crate::clock::now_ms;
use crate::error::{Error, Result, invalid};
use crate::records;

/// The request as received; the raw body is kept for signature checks.
pub struct InboundRequest {
    pub method: String,
    /// The part after `/hooks/<id>`, from `/`.
    pub path: String,
    pub query: Map<String, Value>,
    pub headers: Map<String, Value>,
    pub body: Vec<u8>,
}

pub struct InboundReply {
    pub status: u16,
    pub body: Value,
}

/// How long a provider's delivery id is remembered for dedupe.
const DEDUPE_TTL_MS: u64 = 7 * 24 * 3600 * 1000;

fn gone() -> Error {
    Error::NotFound("no active trigger at this URL".into())
}

fn reply(
    r: &Option<switchboard_components::component::Response>,
    ctx: &Value,
) -> Result<InboundReply> {
    Ok(match r {
        Some(r) => InboundReply {
            status: r.status,
            body: match &r.body {
                Some(tree) => template::eval_tree(tree, ctx).map_err(|e| invalid(e.to_string()))?,
                None => json!({"ok": true}),
            },
        },
        None => InboundReply {
            status: 200,
            body: json!({"ok": true}),
        },
    })
}

impl Core {
    pub async fn receive(
        self: &Arc<Self>,
        hook_id: &str,
        req: InboundRequest,
    ) -> Result<InboundReply> {
        let (route, d) = self.hook_route(hook_id).await?.ok_or_else(gone)?;
        let t = &route.tenant;
        let c = self
            .component(t, &d.component_key, None)
            .await
            .map_err(|_| gone())?
            .component;
        let Some(Source::Webhook(w)) = &c.source else {
            return Err(gone());
        };
        let text = String::from_utf8_lossy(&req.body).into_owned();
        let body =
            serde_json::from_slice::<Value>(&req.body).unwrap_or(Value::String(text.clone()));
        let request = json!({
            "method": req.method, "path": req.path, "query": req.query, "headers": req.headers,
            "body": body, "raw_body": text, "url": self.hook_url(hook_id),
        });
        let all: Vec<_> = c.props.iter().collect();
        let state = self.state_of(t, &d)?;
        let ctx = json!({
            "request": request,
            "props": switchboard_components::action::props_context(&all, &d.configured_props),
            "state": state,
        });
        self.check_signature(t, &d.id, w, &req, &ctx).await?;
        for h in &w.handshakes {
            if template::truthy(&h.when, &ctx).map_err(|e| invalid(e.to_string()))? {
                return reply(&Some(h.response.clone()), &ctx);
            }
        }
        let wanted = match &w.filter {
            Some(f) => template::truthy(f, &ctx).map_err(|e| invalid(e.to_string()))?,
            None => true,
        };
        if wanted && self.first_delivery(t, &d.id, w, &ctx).await? {
            let e = match &w.event {
                Some(tree) => {
                    template::eval_tree(tree, &ctx).map_err(|e| invalid(e.to_string()))?
                }
                None => ctx["request"]["body"].clone(),
            };
            let sum = template::render(&w.summary, &ctx).map_err(|e| invalid(e.to_string()))?;
            self.record_event(t, &d.id, e, sum).await?;
        }
        reply(&w.response, &ctx)
    }

    /// Refuses a bad signature with 401, counting it per deployment.
    async fn check_signature(
        &self,
        t: &crate::model::Tenant,
        dc: &str,
        w: &WebhookSpec,
        req: &InboundRequest,
        ctx: &Value,
    ) -> Result<()> {
        let Some(sig) = &w.signature else {
            return Ok(());
        };
        let secret = template::render(&sig.secret, ctx).map_err(|e| invalid(e.to_string()))?;
        let checked = signature::verify(
            sig.scheme,
            &secret,
            &req.headers,
            &req.body,
            now_ms() / 1000,
            sig.tolerance_secs,
        );
        if let Err(why) = checked {
            let _ = self
                .store
                .incr_window(&records::signature_failures(t, dc), 24 * 3600 * 1000)
                .await;
            tracing::info!(deployment = dc, reason = %why, "inbound webhook refused: bad signature");
            return Err(Error::Unauthorized(format!(
                "invalid webhook signature: {why}"
            )));
        }
        Ok(())
    }

    /// False when the provider's delivery id was seen already (a retry).
    async fn first_delivery(
        &self,
        t: &crate::model::Tenant,
        dc: &str,
        w: &WebhookSpec,
        ctx: &Value,
    ) -> Result<bool> {
        let Some(id_t) = &w.id else {
            return Ok(true);
        };
        let id = template::render(id_t, ctx).map_err(|e| invalid(e.to_string()))?;
        if id.is_empty() {
            return Ok(true);
        }
        let key = records::inbound_seen(t, dc, &crate::crypto::sha256_hex(id.as_bytes()));
        Ok(self
            .store
            .put_if_absent(&key, b"1".to_vec(), Some(DEDUPE_TTL_MS))
            .await?)
    }
}
