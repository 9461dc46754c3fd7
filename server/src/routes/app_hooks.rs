//! `POST /hooks/apps/{ingress_id}/{env}`: the one URL per OAuth app and
//! environment that app-level triggers share (a Slack app's Event
//! Subscriptions Request URL). The domain checks the signature, answers
//! handshakes and routes the event to every matching deployment, each
//! persisted before the 2xx.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::ctx::path_param;
use crate::error::ApiResult;
use crate::routes::triggers::inbound_request;

pub async fn inbound(req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let core = crate::ctx::core(&req);
    let ingress_id = path_param(&req, "ingress_id")?;
    let env = path_param(&req, "env")?;
    // Per shared URL, like per-deployment URLs: a flood from one sender
    // cannot swamp the store. (Malformed ids are refused below with 404.)
    let plausible = ingress_id.len() <= 64
        && ingress_id.bytes().all(|b| b.is_ascii_alphanumeric())
        && env.bytes().all(|b| b.is_ascii_lowercase());
    if plausible {
        core.rate_limit(
            &format!("appingress:{ingress_id}:{env}"),
            core.settings.hook_requests_per_minute,
            60,
            "requests to this URL",
        )
        .await?;
    }
    let r = core
        .receive_app(&ingress_id, &env, inbound_request(&req, "/".into(), &body))
        .await?;
    Ok(HttpResponse::build(StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK)).json(r.body))
}
