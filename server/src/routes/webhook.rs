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

pub async fn get(ctx: Ctx) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let v = ctx.core.delivery.default_webhook(&ctx.tenant).await?;
    Ok(HttpResponse::Ok().json(json!({"data": v.map(|v| wire::trigger_webhook(&v, false))})))
}

#[derive(Deserialize)]
pub struct Body {
    url: String,
}

/// The signing key is shown when the webhook is created, not on updates.
pub async fn put(ctx: Ctx, body: web::Json<Body>) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let (v, created) = ctx
        .core
        .delivery
        .put_default_webhook(&ctx.tenant, &body.url)
        .await?;
    Ok(HttpResponse::Ok().json(json!({"data": wire::trigger_webhook(&v, created)})))
}

pub async fn delete(ctx: Ctx) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    ctx.core
        .delivery
        .delete_default_webhook(&ctx.tenant)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn regenerate(ctx: Ctx) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let v = ctx
        .core
        .delivery
        .regenerate_default_webhook_key(&ctx.tenant)
        .await?;
    Ok(HttpResponse::Ok().json(json!({"data": wire::trigger_webhook(&v, true)})))
}
