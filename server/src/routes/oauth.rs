//! `POST /v1/oauth/token`: the client_credentials grant, JSON or form body.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::codes::ErrorCode;
use crate::ctx::core;
use crate::error::{ApiError, ApiResult};

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    client_assertion: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/oauth/token",
    tag = "oauth",
    summary = "Client-credentials token for a server client.",
    request_body(content = Object, content_type = "application/x-www-form-urlencoded", description = "`grant_type=client_credentials&client_id=…&client_secret=…` (form or JSON)."),
    responses((status = 200, description = "`{access_token, token_type, expires_in}`.", body = Object))
)]
pub async fn token(req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let r: TokenRequest = if is_form {
        serde_urlencoded::from_bytes(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid form body: {e}")))?
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("invalid JSON body: {e}")))?
    };
    match r.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unsupported_grant_type: {other:?}; only client_credentials is supported"
            )));
        }
        None => return Err(ApiError::bad_request("grant_type is required".into())),
    }
    if r.client_assertion.is_some() {
        return Err(ApiError::bad_request(
            "private_key_jwt client assertions are not supported; use client_secret".into(),
        ));
    }
    let (Some(id), Some(secret)) = (r.client_id, r.client_secret) else {
        return Err(ApiError::bad_request(
            "client_id and client_secret are required".into(),
        ));
    };
    let t = core(&req)
        .tenancy
        .issue_access_token(&id, &secret, r.scope.as_deref())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "access_token": t.access_token,
            "token_type": "Bearer",
            "expires_in": t.expires_in,
            "created_at": t.created_at,
            "scope": t.scopes.join(" "),
        })))
}
