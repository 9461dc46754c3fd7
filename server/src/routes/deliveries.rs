//! Delivery logs and replay (a Switchboard extension): failed deliveries,
//! each one's attempts, and redelivery of one or of a time range.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_domain::clock::iso;
use switchboard_domain::delivery::DeliveryJob;
use switchboard_domain::paging::PageRequest;

use crate::ctx::{Ctx, path_param};
use crate::error::{ApiError, ApiResult};
use crate::wire;

fn server(ctx: &Ctx) -> ApiResult<()> {
    ctx.caller.require_server("delivery logs")?;
    ctx.caller
        .require_scope("connect:deployed_triggers:write")?;
    Ok(())
}

fn view(j: &DeliveryJob) -> Value {
    json!({
        "id": j.id,
        // A notification belongs to no deployment: "" as it always was.
        "deployed_trigger_id": j.deployment_id().unwrap_or_default(),
        "webhook_id": j.webhook_id,
        "url": j.url,
        "webhook_message_id": j.msg_id,
        "attempts": j.attempts,
        "status": if j.failed_at.is_some() { "failed" } else { "pending" },
        "last_status": j.last_status,
        "last_error": j.last_error,
        "created_at": iso(j.created_at),
        "failed_at": j.failed_at.map(iso),
        "next_attempt_at": j.failed_at.is_none().then(|| iso(j.due_ms)),
    })
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/deliveries/failed",
    tag = "deliveries",
    summary = "Failed deliveries.",
    responses((status = 200, description = "A page of failed deliveries.", body = Object))
)]
pub async fn failed(ctx: Ctx, page: web::Query<PageRequest>) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let p = ctx
        .core
        .delivery
        .failed_deliveries(&ctx.tenant, &page)
        .await?;
    Ok(HttpResponse::Ok().json(wire::page(p, |j| view(&j))))
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/deliveries/{delivery_id}/attempts",
    tag = "deliveries",
    summary = "A delivery's attempts.",
    responses((status = 200, description = "The attempts.", body = Object))
)]
pub async fn attempts(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let a = ctx
        .core
        .delivery
        .delivery_attempts(&ctx.tenant, &path_param(&req, "delivery_id")?)
        .await?;
    Ok(HttpResponse::Ok().json(json!({"data": a})))
}

#[utoipa::path(
    post,
    path = "/v1/connect/{project}/deliveries/{delivery_id}/redeliver",
    tag = "deliveries",
    summary = "Redeliver one delivery.",
    responses((status = 202, description = "Queued.", body = Object))
)]
pub async fn redeliver(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let j = ctx
        .core
        .delivery
        .redeliver(&ctx.tenant, &path_param(&req, "delivery_id")?)
        .await?;
    Ok(HttpResponse::Ok().json(json!({"data": view(&j)})))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RangeBody {
    /// Epoch milliseconds, inclusive.
    since: u64,
    /// Epoch milliseconds, exclusive.
    until: u64,
}

#[utoipa::path(
    post,
    path = "/v1/connect/{project}/deliveries/redeliver",
    tag = "deliveries",
    summary = "Redeliver failed deliveries in a time range.",
    request_body = RangeBody,
    responses((status = 202, description = "Queued.", body = Object))
)]
pub async fn redeliver_range(ctx: Ctx, body: web::Json<RangeBody>) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let b = body.into_inner();
    if b.since >= b.until {
        return Err(ApiError::bad_request("since must be before until".into()));
    }
    let n = ctx
        .core
        .delivery
        .redeliver_range(&ctx.tenant, b.since, b.until)
        .await?;
    Ok(HttpResponse::Ok().json(json!({"redelivered": n})))
}
