//! External users.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;
use switchboard_domain::paging::PageRequest;
use switchboard_domain::validate;

use super::accounts::{credentials_allowed, user_filter};
use crate::ctx::{Ctx, path_param};
use crate::error::ApiResult;
use crate::wire;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    limit: Option<usize>,
    after: Option<String>,
    before: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/users",
    tag = "users",
    summary = "List the project's end users.",
    params(ListQuery),
    responses((status = 200, description = "A page of users.", body = Object))
)]
pub async fn list(ctx: Ctx, q: web::Query<ListQuery>) -> ApiResult<HttpResponse> {
    ctx.caller.require_server("listing users")?;
    ctx.caller.require_scope("connect:users:read")?;
    let q = q.into_inner();
    let page = PageRequest {
        limit: q.limit,
        after: q.after,
        before: q.before,
    };
    let p = ctx.core.tenancy.list_users(&ctx.tenant, &page).await?;
    Ok(HttpResponse::Ok().json(wire::page(p, |u| wire::user(&u))))
}

#[utoipa::path(
    delete,
    path = "/v1/connect/{project}/users/{external_user_id}",
    tag = "users",
    summary = "Delete an end user and everything of theirs.",
    responses((status = 204, description = "Deleted."))
)]
pub async fn delete(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    ctx.caller.require_server("deleting users")?;
    ctx.caller.require_scope("connect:users:write")?;
    let ext = path_param(&req, "external_user_id")?;
    validate::external_user_id(&ext)?;
    ctx.core.ops.delete_user(&ctx.tenant, &ext).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountsQuery {
    app: Option<String>,
    #[serde(default)]
    include_credentials: bool,
}

/// `users/{id}/accounts`: a bare array.
#[utoipa::path(
    get,
    path = "/v1/connect/{project}/users/{external_user_id}/accounts",
    tag = "users",
    summary = "An end user's connected accounts.",
    params(AccountsQuery),
    responses((status = 200, description = "The accounts.", body = Object))
)]
pub async fn accounts(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<AccountsQuery>,
) -> ApiResult<HttpResponse> {
    ctx.caller.require_scope("connect:accounts:read")?;
    let include = credentials_allowed(&ctx.caller, q.include_credentials)?;
    let ext = path_param(&req, "external_user_id")?;
    let ext = user_filter(&ctx.caller, Some(ext))?.unwrap_or_default();
    ctx.core
        .accounts
        .account_rate_limit(&ctx.caller, &ctx.tenant)
        .await?;
    let list = ctx
        .core
        .accounts
        .user_accounts(&ctx.tenant, &ext, q.app.as_deref(), include)
        .await?;
    let base = &ctx.core.settings.public_base;
    let out: Vec<Value> = list.iter().map(|v| wire::account(v, base)).collect();
    Ok(HttpResponse::Ok().json(out))
}
