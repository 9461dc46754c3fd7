//! `proxy/{url_64}`: any method, passed through to the app's API.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use switchboard_components::proxy::hop_by_hop;
use switchboard_domain::accounts::proxy::ProxyRequest;

use crate::ctx::{Ctx, path_param};
use crate::error::{ApiError, ApiResult};
use crate::routes::components::acting_user;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProxyQuery {
    external_user_id: Option<String>,
    account_id: Option<String>,
}

#[utoipa::path(
    method(get, post, put, patch, delete),
    path = "/v1/connect/{project}/proxy/{url_64}",
    tag = "proxy",
    summary = "Forward a request to the app's API with the account's credentials.",
    params(ProxyQuery),
    responses((status = 200, description = "The upstream response.", body = Object))
)]
pub async fn forward(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<ProxyQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    ctx.caller.require_scope("connect:proxy")?;
    let q = q.into_inner();
    let ext = acting_user(&ctx, q.external_user_id)?;
    let account_id = q
        .account_id
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::bad_request("account_id is required".into()))?;
    let url_64 = path_param(&req, "url_64")?;
    let headers = req
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    let r = ctx
        .core
        .accounts
        .proxy(
            &ctx.tenant,
            ProxyRequest {
                external_user_id: ext,
                account_id,
                method: req.method().as_str().to_string(),
                url_64,
                headers,
                body: body.to_vec(),
            },
        )
        .await?;
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut res = HttpResponse::build(status);
    for (k, v) in &r.headers {
        if !hop_by_hop(k) {
            res.append_header((k.as_str(), v.as_str()));
        }
    }
    Ok(res.body(r.body))
}
