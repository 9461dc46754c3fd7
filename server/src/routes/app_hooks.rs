//! `POST /hooks/apps/{ingress_id}/{env}`: the one URL per OAuth app and
//! environment that app-level triggers share (a Slack app's Event
//! Subscriptions Request URL). The domain checks the signature, answers
//! handshakes and routes the event to every matching deployment, each
//! persisted before the 2xx.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiResult;
use crate::routes::triggers::inbound_request;

#[utoipa::path(
    post,
    path = "/hooks/apps/{ingress_id}/{env}",
    tag = "hooks",
    summary = "An app's webhook ingress (events fanned out to its triggers).",
    responses((status = 200, description = "Accepted.", body = Object))
)]
pub async fn inbound(req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let core = crate::ctx::core(&req);
    let ingress_id = req.match_info().get("ingress_id").unwrap_or_default();
    let env = req.match_info().get("env").unwrap_or_default();
    // The domain refuses implausible ids and environments with 404 before
    // touching the store, and counts the per-URL rate limit only for live
    // URLs, so no counter is ever built from an unknown id.
    let r = core
        .triggers
        .receive_app(ingress_id, env, inbound_request(&req, "/".into(), &body))
        .await?;
    Ok(HttpResponse::build(StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK)).json(r.body))
}
