//! `actions/run`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_domain::Error as DomainError;
use switchboard_domain::actions::RunRequest;

use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::routes::components::{acting_user, props_map};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RunBody {
    id: String,
    external_user_id: Option<String>,
    version: Option<String>,
    configured_props: Option<Value>,
    dynamic_props_id: Option<String>,
    idempotency_key: Option<String>,
    #[allow(dead_code)]
    stash_id: Option<Value>,
}

#[utoipa::path(
    post,
    path = "/v1/connect/{project}/actions/run",
    tag = "actions",
    summary = "Run an action.",
    request_body = RunBody,
    responses((status = 200, description = "`{exports, os, ret, stash_id}`.", body = Object))
)]
pub async fn run(ctx: Ctx, req: HttpRequest, body: web::Json<RunBody>) -> ApiResult<HttpResponse> {
    ctx.caller.require_scope("connect:actions:run")?;
    let b = body.into_inner();
    let ext = acting_user(&ctx, b.external_user_id)?;
    let configured_props = props_map(b.configured_props)?;
    let header_key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII".into()))?;
    let reply = ctx
        .core
        .actions
        .run_action(
            &ctx.tenant,
            RunRequest {
                key: b.id,
                version: b.version,
                external_user_id: ext,
                configured_props,
                dynamic_props_id: b.dynamic_props_id,
                idempotency_key: header_key.or(b.idempotency_key),
            },
        )
        .await?;
    match reply.outcome {
        Ok(out) => {
            let mut res = HttpResponse::Ok();
            if reply.replayed {
                res.insert_header(("Idempotent-Replayed", "true"));
            }
            Ok(res.json(json!({"exports": out.exports, "ret": out.ret, "os": out.os})))
        }
        Err(f) => Err(ApiError::Domain(DomainError::ActionFailed(Box::new(f)))),
    }
}
