//! `oauth_apps`: the project's own OAuth clients, one or more per app.
//! Secrets (the client secret, the optional signing secret of the app's
//! events) go in and never come out. For apps with app-level triggers the
//! view carries the caller's environment's `app_ingress_url`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_domain::accounts::oauth_apps::{OAuthApp, OAuthAppInput};
use switchboard_domain::clock::iso;
use switchboard_domain::paging::PageRequest;

use crate::ctx::{Ctx, path_param};
use crate::error::ApiResult;
use crate::wire;

fn view(ctx: &Ctx, a: &OAuthApp) -> Value {
    json!({
        "id": a.id,
        "app": a.app,
        "client_id": a.client_id,
        "name": a.name,
        "description": a.description,
        "scopes": a.scopes,
        "client_secret_set": true,
        "signing_secret_set": a.signing_secret.is_some(),
        "app_ingress_url": ctx.core.accounts.app_ingress_url(a, ctx.tenant.env),
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
    })
}

#[derive(Deserialize)]
pub struct Body {
    app: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    name: Option<String>,
    description: Option<String>,
    scopes: Option<Vec<String>>,
    signing_secret: Option<String>,
}

impl From<Body> for OAuthAppInput {
    fn from(b: Body) -> Self {
        OAuthAppInput {
            app: b.app,
            client_id: b.client_id,
            client_secret: b.client_secret,
            name: b.name,
            description: b.description,
            scopes: b.scopes,
            signing_secret: b.signing_secret,
        }
    }
}

fn server(ctx: &Ctx) -> ApiResult<()> {
    ctx.caller.require_server("managing OAuth apps")?;
    ctx.caller.require_scope("connect:*")?;
    Ok(())
}

#[derive(Deserialize)]
pub struct ListQuery {
    app: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
    before: Option<String>,
}

pub async fn list(ctx: Ctx, q: web::Query<ListQuery>) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let q = q.into_inner();
    let page = PageRequest {
        limit: q.limit,
        after: q.after,
        before: q.before,
    };
    let p = ctx
        .core
        .accounts
        .list_oauth_apps(&ctx.tenant.project_id, q.app.as_deref(), &page)
        .await?;
    Ok(HttpResponse::Ok().json(wire::page(p, |a| view(&ctx, &a))))
}

pub async fn create(ctx: Ctx, body: web::Json<Body>) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let a = ctx
        .core
        .accounts
        .create_oauth_app(
            &ctx.caller,
            &ctx.tenant.project_id,
            body.into_inner().into(),
        )
        .await?;
    Ok(HttpResponse::Created().json(json!({"data": view(&ctx, &a)})))
}

pub async fn retrieve(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let a = ctx
        .core
        .accounts
        .get_oauth_app(&ctx.tenant.project_id, &path_param(&req, "id")?)
        .await?;
    Ok(HttpResponse::Ok().json(json!({"data": view(&ctx, &a)})))
}

pub async fn update(ctx: Ctx, req: HttpRequest, body: web::Json<Body>) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let id = path_param(&req, "id")?;
    let a = ctx
        .core
        .accounts
        .update_oauth_app(
            &ctx.caller,
            &ctx.tenant.project_id,
            &id,
            body.into_inner().into(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({"data": view(&ctx, &a)})))
}

pub async fn delete(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    ctx.core
        .accounts
        .delete_oauth_app(
            &ctx.caller,
            &ctx.tenant.project_id,
            &path_param(&req, "id")?,
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
