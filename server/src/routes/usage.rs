//! `usage`: metered records per hour of the caller's project and
//! environment (`domain/src/usage.rs`). Server credentials only.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    start_ts: Option<u64>,
    end_ts: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/usage",
    tag = "usage",
    summary = "Usage records of the project.",
    params(UsageQuery),
    responses((status = 200, description = "The usage records.", body = Object))
)]
pub async fn list(ctx: Ctx, q: web::Query<UsageQuery>) -> ApiResult<HttpResponse> {
    ctx.caller.require_server("reading usage")?;
    let (Some(start), Some(end)) = (q.start_ts, q.end_ts) else {
        return Err(ApiError::bad_request(
            "start_ts and end_ts (epoch seconds) are required".into(),
        ));
    };
    let data = ctx.core.usage(&ctx.tenant, start, end).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}
