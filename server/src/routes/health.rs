use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use switchboard_domain::Core;

use crate::ctx::core;
use crate::error::ApiResult;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, description = "The process answers.", body = Object, example = json!({"status": "ok"}))))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: the store answers.
#[utoipa::path(get, path = "/readyz", tag = "meta",
    responses((status = 200, description = "The store answers.", body = Object, example = json!({"status": "ok", "store": "redis"}))))]
pub async fn readyz(req: HttpRequest) -> ApiResult<HttpResponse> {
    store_ready(&core(&req)).await
}

/// 200 with the store's kind when the store answers, else its error (503
/// `store_unavailable`): what every process's `/readyz` requires.
pub async fn store_ready(core: &Core) -> ApiResult<HttpResponse> {
    core.store
        .ping()
        .await
        .map_err(switchboard_domain::Error::from)?;
    Ok(HttpResponse::Ok().json(json!({"status": "ok", "store": core.store.kind()})))
}
