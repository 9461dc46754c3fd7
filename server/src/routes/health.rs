use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use crate::ctx::core;
use crate::error::ApiResult;

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: the store answers.
pub async fn readyz(req: HttpRequest) -> ApiResult<HttpResponse> {
    let core = core(&req);
    core.store
        .ping()
        .await
        .map_err(switchboard_domain::Error::from)?;
    Ok(HttpResponse::Ok().json(json!({"status": "ok", "store": core.store.kind()})))
}
