//! The project environment's default webhook (`{p}/webhook`): where events
//! of triggers without their own webhooks are delivered.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::ctx::Ctx;
use crate::error::ApiResult;
use crate::wire;

fn server(ctx: &Ctx) -> ApiResult<()> {
    ctx.caller.require_server("managing the project webhook")?;
    ctx.caller
        .require_scope("connect:deployed_triggers:write")?;
    Ok(())
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/webhook",
    tag = "webhook",
    summary = "The project's delivery webhook.",
    responses((status = 200, description = "The webhook.", body = Object))
)]
pub async fn get(ctx: Ctx) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let v = ctx.core.delivery.default_webhook(&ctx.tenant).await?;
    Ok(HttpResponse::Ok().json(json!({"data": v.map(|v| wire::trigger_webhook(&v, false))})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = WebhookBody)]
pub struct Body {
    url: String,
}

/// The signing key is shown when the webhook is created, not on updates.
#[utoipa::path(
    put,
    path = "/v1/connect/{project}/webhook",
    tag = "webhook",
    summary = "Set the project's delivery webhook.",
    request_body = Body,
    responses((status = 200, description = "The webhook.", body = Object))
)]
pub async fn put(ctx: Ctx, body: web::Json<Body>) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let (v, created) = ctx
        .core
        .delivery
        .put_default_webhook(&ctx.tenant, &body.url)
        .await?;
    Ok(HttpResponse::Ok().json(json!({"data": wire::trigger_webhook(&v, created)})))
}

#[utoipa::path(
    delete,
    path = "/v1/connect/{project}/webhook",
    tag = "webhook",
    summary = "Remove the project's delivery webhook.",
    responses((status = 204, description = "Removed."))
)]
pub async fn delete(ctx: Ctx) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    ctx.core
        .delivery
        .delete_default_webhook(&ctx.tenant)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/v1/connect/{project}/webhook/regenerate_signing_key",
    tag = "webhook",
    summary = "Regenerate the webhook's signing key.",
    responses((status = 200, description = "The webhook with its new key.", body = Object))
)]
pub async fn regenerate(ctx: Ctx) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let v = ctx
        .core
        .delivery
        .regenerate_default_webhook_key(&ctx.tenant)
        .await?;
    Ok(HttpResponse::Ok().json(json!({"data": wire::trigger_webhook(&v, true)})))
}
