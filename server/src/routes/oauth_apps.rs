//! `oauth_apps`: the project's own OAuth clients, one or more per app.
//! Secrets (the client secret, the optional signing secret of the app's
//! events) go in and never come out. For apps with app-level triggers the
//! view carries the caller's environment's `app_ingress_url`.

use crate::routes::AppPageQuery;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_domain::accounts::oauth_apps::{OAuthApp, OAuthAppInput};
use switchboard_domain::clock::iso;

use crate::ctx::{Ctx, path_param};
use crate::error::ApiResult;
use crate::wire;

/// Pipedream's `OauthApp`: the catalog's `App` the client is for, and the
/// client's own fields over it (`id` is the OAuth app's, `name` its own
/// when it has one).
fn view(ctx: &Ctx, a: &OAuthApp) -> Value {
    let base = &ctx.core.settings.public_base;
    let mut out = match ctx.core.catalog.get(&a.app) {
        Some(app) => wire::app(app, base),
        // An app since dropped from the catalog still lists its clients.
        None => json!({
            "name_slug": a.app,
            "name": a.app,
            "img_src": format!("{base}/apps/{}/logo.svg", a.app),
            "categories": [],
            "featured_weight": 0,
            "scope_profiles": [],
        }),
    };
    let own = json!({
        "id": a.id,
        "oauth_app_id": a.id,
        "app": a.app,
        "client_id": a.client_id,
        "scopes": a.scopes,
        "additional_scopes": [],
        "redirect_uri": ctx.core.accounts.oauth_callback_url(),
        "owner_id": ctx.tenant.project_id,
        "client_secret_set": true,
        "signing_secret_set": a.signing_secret.is_some(),
        "app_ingress_url": ctx.core.accounts.app_ingress_url(a, ctx.tenant.env),
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
    });
    let (Value::Object(o), Value::Object(extra)) = (&mut out, own) else {
        unreachable!("both are objects")
    };
    o.remove("connect");
    o.extend(extra);
    for (k, v) in [("name", &a.name), ("description", &a.description)] {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    }
    out
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = OAuthAppBody)]
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
    Ok(ctx.caller.require_project_admin("managing OAuth apps")?)
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/oauth_apps",
    tag = "oauth apps",
    summary = "List the project's OAuth apps.",
    params(super::AppPageQuery),
    responses((status = 200, description = "A page of OAuth apps.", body = Object))
)]
pub async fn list(ctx: Ctx, q: web::Query<AppPageQuery>) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let (app, page) = q.into_inner().split();
    let p = ctx
        .core
        .accounts
        .list_oauth_apps(&ctx.tenant.project_id, app.as_deref(), &page)
        .await?;
    Ok(HttpResponse::Ok().json(wire::page(p, |a| view(&ctx, &a))))
}

#[utoipa::path(
    post,
    path = "/v1/connect/{project}/oauth_apps",
    tag = "oauth apps",
    summary = "Register an OAuth app.",
    request_body = Body,
    responses((status = 200, description = "The OAuth app.", body = Object))
)]
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
    Ok(HttpResponse::Created().json(view(&ctx, &a)))
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/oauth_apps/{id}",
    tag = "oauth apps",
    summary = "Retrieve an OAuth app.",
    responses((status = 200, description = "The OAuth app.", body = Object))
)]
pub async fn retrieve(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    server(&ctx)?;
    let a = ctx
        .core
        .accounts
        .get_oauth_app(&ctx.tenant.project_id, &path_param(&req, "id")?)
        .await?;
    Ok(HttpResponse::Ok().json(view(&ctx, &a)))
}

#[utoipa::path(
    put,
    path = "/v1/connect/{project}/oauth_apps/{id}",
    tag = "oauth apps",
    summary = "Update an OAuth app.",
    request_body = Body,
    responses((status = 200, description = "The OAuth app.", body = Object))
)]
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
    Ok(HttpResponse::Ok().json(view(&ctx, &a)))
}

#[utoipa::path(
    delete,
    path = "/v1/connect/{project}/oauth_apps/{id}",
    tag = "oauth apps",
    summary = "Delete an OAuth app.",
    responses((status = 204, description = "Deleted."))
)]
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
