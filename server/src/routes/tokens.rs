//! Connect tokens: creation (server) and validation (hosted connect page).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use switchboard_domain::accounts::overrides::ConnectChoice;
use switchboard_domain::clock::iso;
use switchboard_domain::tenancy::connect_tokens::NewConnectToken;

use crate::ctx::{Ctx, core, path_param};
use crate::error::ApiResult;
use crate::wire;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateToken {
    external_user_id: String,
    #[serde(default)]
    allowed_origins: Vec<String>,
    success_redirect_uri: Option<String>,
    error_redirect_uri: Option<String>,
    webhook_uri: Option<String>,
    expires_in: Option<u64>,
    scope: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/connect/{project}/tokens",
    tag = "tokens",
    summary = "Create a connect token for an end user.",
    request_body = CreateToken,
    responses((status = 200, description = "`{token, expires_at, connect_link_url}`.", body = Object))
)]
pub async fn create(ctx: Ctx, body: web::Json<CreateToken>) -> ApiResult<HttpResponse> {
    ctx.caller.require_server("creating connect tokens")?;
    ctx.caller.require_scope("connect:tokens:create")?;
    let b = body.into_inner();
    let t = ctx
        .core
        .tenancy
        .create_connect_token(
            &ctx.tenant,
            ctx.caller.scopes(),
            NewConnectToken {
                external_user_id: b.external_user_id,
                allowed_origins: b.allowed_origins,
                success_redirect_uri: b.success_redirect_uri,
                error_redirect_uri: b.error_redirect_uri,
                webhook_uri: b.webhook_uri,
                expires_in: b.expires_in,
                scope: b.scope,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "token": t.token,
        "expires_at": iso(t.expires_at),
        "connect_link_url": t.connect_link_url,
    })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ValidateQuery {
    app_id: Option<String>,
    oauth_app_id: Option<String>,
    app_override_id: Option<String>,
}

/// `GET tokens/{ctok}/validate`: the token in the path is the credential.
#[utoipa::path(
    get,
    path = "/v1/connect/tokens/{ctok}/validate",
    tag = "tokens",
    summary = "Validate a connect token (hosted connect page).",
    params(ValidateQuery),
    responses((status = 200, description = "Whether the token is valid, and its app and project.", body = Object))
)]
pub async fn validate(req: HttpRequest, q: web::Query<ValidateQuery>) -> ApiResult<HttpResponse> {
    let core = core(&req);
    let token = path_param(&req, "ctok")?;
    let rec = match core.tenancy.live_connect_token(&token).await {
        Ok(rec) => rec,
        Err(switchboard_domain::Error::Unauthorized(msg)) => {
            return Ok(HttpResponse::Ok().json(json!({"success": false, "error": msg})));
        }
        Err(e) => return Err(e.into()),
    };
    let project = core.tenancy.project(&rec.tenant.project_id).await?;
    // The override and OAuth client must be the token's project's, and of
    // the app (which they name when app_id is left out).
    let choice = ConnectChoice {
        app_override_id: q.app_override_id.clone(),
        oauth_app_id: q.oauth_app_id.clone(),
    };
    let (app, resolved) = core
        .accounts
        .resolve_choice_for(&rec.tenant.project_id, q.app_id.as_deref(), &choice)
        .await?;
    let app = app.map(|a| wire::app(&a, &core.settings.public_base));
    let field_names = resolved
        .app_override
        .as_ref()
        .map(|o| o.cfmap.keys().cloned().collect::<Vec<_>>());
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "app": app,
        "project_id": rec.tenant.project_id,
        "project_environment": rec.tenant.env.as_str(),
        "project_app_name": project.as_ref().and_then(|p| p.app_name.clone()).or(project.as_ref().map(|p| p.name.clone())),
        "project_support_email": project.and_then(|p| p.support_email),
        "success_redirect_uri": rec.success_redirect_uri,
        "error_redirect_uri": rec.error_redirect_uri,
        "oauth_app_id": resolved.oauth_app_id,
        "app_override_id": resolved.app_override.as_ref().map(|o| o.id.clone()),
        "app_override_field_names": field_names,
    })))
}
