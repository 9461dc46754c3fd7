//! `app_overrides`: named per-app settings of the project (an OAuth client
//! and predefined non-secret field values; `accounts/overrides.rs`).
//! Shaped as the SDKs' `AppOverride`; server credentials only.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchboard_domain::accounts::overrides::{AppOverride, AppOverrideInput};
use switchboard_domain::clock::iso;
use switchboard_domain::paging::Page;

use crate::ctx::{Ctx, path_param};
use crate::error::ApiResult;
use crate::routes::AppPageQuery;
use crate::wire;

fn view(ctx: &Ctx, o: &AppOverride) -> ApiResult<Value> {
    Ok(json!({
        "id": o.id,
        "name": o.name,
        "app": wire::app(ctx.core.app(&o.app)?, &ctx.core.settings.public_base),
        "oauth_app_id": o.oauth_app_id,
        "cfmap": o.cfmap,
        "owner_id": ctx.tenant.project_id,
        "created_at": iso(o.created_at),
        "updated_at": iso(o.updated_at),
    }))
}

/// `oauth_app_id: null` clears it on update; absent leaves it.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = AppOverrideBody)]
pub struct Body {
    app: Option<String>,
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    oauth_app_id: Option<Option<String>>,
    cfmap: Option<Map<String, Value>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl From<Body> for AppOverrideInput {
    fn from(b: Body) -> Self {
        AppOverrideInput {
            app: b.app,
            name: b.name,
            oauth_app_id: b.oauth_app_id,
            cfmap: b.cfmap,
        }
    }
}

fn server(ctx: &Ctx) -> ApiResult<()> {
    Ok(ctx.caller.require_project_admin("managing app overrides")?)
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/app_overrides",
    tag = "app overrides",
    summary = "List the project's app overrides.",
    params(super::AppPageQuery),
    responses((status = 200, description = "A page of app overrides.", body = Object))
)]
pub async fn list(ctx: Ctx, q: web::Query<AppPageQuery>) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let (app, page) = q.into_inner().split();
    let p = ctx
        .core
        .accounts
        .list_app_overrides(&ctx.tenant.project_id, app.as_deref(), &page)
        .await?;
    let data = p
        .data
        .iter()
        .map(|o| view(&ctx, o))
        .collect::<ApiResult<Vec<_>>>()?;
    let views = Page {
        data,
        total_count: p.total_count,
        start_cursor: p.start_cursor,
        end_cursor: p.end_cursor,
    };
    Ok(HttpResponse::Ok().json(wire::page(views, |v| v)))
}

#[utoipa::path(
    post,
    path = "/v1/connect/{project}/app_overrides",
    tag = "app overrides",
    summary = "Create an app override.",
    request_body = Body,
    responses((status = 200, description = "The app override.", body = Object))
)]
pub async fn create(ctx: Ctx, body: web::Json<Body>) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let o = ctx
        .core
        .accounts
        .create_app_override(
            &ctx.caller,
            &ctx.tenant.project_id,
            body.into_inner().into(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(view(&ctx, &o)?))
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/app_overrides/{id}",
    tag = "app overrides",
    summary = "Retrieve an app override.",
    responses((status = 200, description = "The app override.", body = Object))
)]
pub async fn retrieve(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let o = ctx
        .core
        .accounts
        .get_app_override(&ctx.tenant.project_id, &path_param(&req, "id")?)
        .await?;
    Ok(HttpResponse::Ok().json(view(&ctx, &o)?))
}

#[utoipa::path(
    put,
    path = "/v1/connect/{project}/app_overrides/{id}",
    tag = "app overrides",
    summary = "Update an app override.",
    request_body = Body,
    responses((status = 200, description = "The app override.", body = Object))
)]
pub async fn update(ctx: Ctx, req: HttpRequest, body: web::Json<Body>) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let id = path_param(&req, "id")?;
    let o = ctx
        .core
        .accounts
        .update_app_override(
            &ctx.caller,
            &ctx.tenant.project_id,
            &id,
            body.into_inner().into(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(view(&ctx, &o)?))
}

#[utoipa::path(
    delete,
    path = "/v1/connect/{project}/app_overrides/{id}",
    tag = "app overrides",
    summary = "Delete an app override.",
    responses((status = 204, description = "Deleted."))
)]
pub async fn delete(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    ctx.core
        .accounts
        .delete_app_override(
            &ctx.caller,
            &ctx.tenant.project_id,
            &path_param(&req, "id")?,
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
