//! Connected accounts.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use switchboard_domain::accounts::{AccountFilter, NewKeyAccount};
use switchboard_domain::paging::PageRequest;
use switchboard_domain::tenancy::auth::Caller;

use crate::ctx::{Ctx, path_param};
use crate::error::{ApiError, ApiResult};
use crate::wire;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    external_user_id: Option<String>,
    app: Option<String>,
    #[serde(default)]
    include_credentials: bool,
    limit: Option<usize>,
    after: Option<String>,
    before: Option<String>,
}

/// Credentials go only to server callers that ask for them.
pub(crate) fn credentials_allowed(caller: &Caller, include: bool) -> ApiResult<bool> {
    if include {
        caller.require_server("include_credentials")?;
    }
    Ok(include)
}

/// A connect token sees only its own user, whatever the query says.
pub(crate) fn user_filter(caller: &Caller, asked: Option<String>) -> ApiResult<Option<String>> {
    if let Some(a) = &asked {
        switchboard_domain::validate::external_user_id(a)?;
    }
    match (caller.bound_user(), asked) {
        (Some(own), Some(asked)) if own != asked => {
            Err(ApiError::Domain(switchboard_domain::Error::Forbidden(
                "a connect token may only read its own user's accounts".into(),
            )))
        }
        (Some(own), _) => Ok(Some(own.to_string())),
        (None, asked) => Ok(asked),
    }
}

/// `GET {p}/accounts/export`: every account of the environment with its
/// credentials, for leaving (or backing up). Server credentials only.
#[utoipa::path(
    get,
    path = "/v1/connect/{project}/accounts/export",
    tag = "accounts",
    summary = "Export every connected account of the project (operator backup).",
    responses((status = 200, description = "The accounts, with credentials.", body = Object))
)]
pub async fn export(ctx: Ctx) -> ApiResult<HttpResponse> {
    ctx.caller.require_server("exporting credentials")?;
    ctx.caller.require_scope("connect:accounts:read")?;
    let by = match &ctx.caller {
        Caller::Server { client_id, .. } => client_id.clone(),
        Caller::Connect(_) => String::new(),
    };
    let all = ctx.core.accounts.export_accounts(&ctx.tenant, &by).await?;
    let data: Vec<_> = all
        .iter()
        .map(|v| wire::account(v, &ctx.core.settings.public_base))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({"data": data, "total_count": data.len()})))
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/accounts",
    tag = "accounts",
    summary = "List connected accounts.",
    params(ListQuery),
    responses((status = 200, description = "A page of accounts: `{data, page_info}`.", body = Object))
)]
pub async fn list(ctx: Ctx, q: web::Query<ListQuery>) -> ApiResult<HttpResponse> {
    ctx.caller.require_scope("connect:accounts:read")?;
    let q = q.into_inner();
    let include = credentials_allowed(&ctx.caller, q.include_credentials)?;
    let filter = AccountFilter {
        app: q.app,
        external_user_id: user_filter(&ctx.caller, q.external_user_id)?,
    };
    ctx.core
        .accounts
        .account_rate_limit(&ctx.caller, &ctx.tenant)
        .await?;
    let page = PageRequest {
        limit: q.limit,
        after: q.after,
        before: q.before,
    };
    let p = ctx
        .core
        .accounts
        .list_accounts(&ctx.tenant, &filter, &page, include)
        .await?;
    let base = &ctx.core.settings.public_base;
    Ok(HttpResponse::Ok().json(wire::page(p, |v| wire::account(&v, base))))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RetrieveQuery {
    #[serde(default)]
    include_credentials: bool,
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/accounts/{account_id}",
    tag = "accounts",
    summary = "Retrieve a connected account.",
    params(RetrieveQuery),
    responses((status = 200, description = "The account.", body = Object))
)]
pub async fn retrieve(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<RetrieveQuery>,
) -> ApiResult<HttpResponse> {
    ctx.caller.require_scope("connect:accounts:read")?;
    let include = credentials_allowed(&ctx.caller, q.include_credentials)?;
    let id = path_param(&req, "account_id")?;
    ctx.core
        .accounts
        .account_rate_limit(&ctx.caller, &ctx.tenant)
        .await?;
    let v = ctx
        .core
        .accounts
        .get_account(&ctx.tenant, &id, ctx.caller.bound_user(), include)
        .await?;
    Ok(HttpResponse::Ok().json(wire::account(&v, &ctx.core.settings.public_base)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateQuery {
    external_user_id: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateBody {
    app_slug: String,
    cfmap_json: String,
    connect_token: String,
    name: Option<String>,
    account_id: Option<String>,
    app_override_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/connect/{project}/accounts",
    tag = "accounts",
    summary = "Connect a key-based account with a connect token.",
    params(CreateQuery),
    request_body = CreateBody,
    responses((status = 200, description = "The new account.", body = Object))
)]
pub async fn create(
    ctx: Ctx,
    q: web::Query<CreateQuery>,
    body: web::Json<CreateBody>,
) -> ApiResult<HttpResponse> {
    ctx.caller.require_scope("connect:accounts:write")?;
    let b = body.into_inner();
    let v = ctx
        .core
        .accounts
        .create_key_account(
            &ctx.tenant,
            NewKeyAccount {
                app_slug: b.app_slug,
                cfmap_json: b.cfmap_json,
                connect_token: b.connect_token,
                name: b.name,
                account_id: b.account_id,
                external_user_id: q.into_inner().external_user_id,
                allow_token_import: ctx.caller.bound_user().is_none(),
                app_override_id: b.app_override_id,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(wire::account(&v, &ctx.core.settings.public_base)))
}

#[utoipa::path(
    delete,
    path = "/v1/connect/{project}/accounts/{account_id}",
    tag = "accounts",
    summary = "Delete a connected account.",
    responses((status = 204, description = "Deleted."))
)]
pub async fn delete(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    ctx.caller.require_scope("connect:accounts:write")?;
    let id = path_param(&req, "account_id")?;
    ctx.core
        .accounts
        .account_rate_limit(&ctx.caller, &ctx.tenant)
        .await?;
    ctx.core
        .accounts
        .delete_account(&ctx.tenant, &id, ctx.caller.bound_user())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    delete,
    path = "/v1/connect/{project}/apps/{app_id}/accounts",
    tag = "accounts",
    summary = "Delete every account of an app in the project.",
    responses((status = 204, description = "Deleted."))
)]
pub async fn delete_for_app(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    ctx.caller
        .require_server("deleting all of an app's accounts")?;
    ctx.caller.require_scope("connect:accounts:write")?;
    let app = path_param(&req, "app_id")?;
    ctx.core
        .accounts
        .account_rate_limit(&ctx.caller, &ctx.tenant)
        .await?;
    ctx.core
        .accounts
        .delete_app_accounts(&ctx.tenant, &app)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
