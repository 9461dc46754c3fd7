//! `projects`: the projects the `admin` CLI manages, over the API.
//!
//! Who may do what (docs/architecture.md, "Projects API"):
//! - any server client reads, and with `connect:*` updates (and gives a
//!   logo to), its own project; `projects` lists only that one;
//! - an operator client (`admin issue-client --operator`) creates, lists,
//!   reads, updates and deletes every project, and acts in any of them;
//! - connect tokens only read `projects/info` of their own project.
//!
//! The `{project}` path segment goes through `Ctx`, so another project is
//! refused (403, or 404 when it does not exist) exactly as on every other
//! project-scoped route.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_domain::model::Project;
use switchboard_domain::paging::PageRequest;
use switchboard_domain::tenancy::projects::{NewProject, ProjectPatch};

use crate::ctx::{Ctx, core, path_param};
use crate::error::{ApiError, ApiResult};
use crate::wire;

/// Pipedream's `Project`.
fn view(p: &Project) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "app_name": p.app_name,
        "support_email": p.support_email,
        "connect_require_key_auth_test": p.connect_require_key_auth_test,
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    q: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
    before: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/connect/projects",
    tag = "projects",
    summary = "List projects (operator: all; otherwise the own project).",
    params(ListQuery),
    responses((status = 200, description = "A page of projects.", body = Object))
)]
pub async fn list(ctx: Ctx, q: web::Query<ListQuery>) -> ApiResult<HttpResponse> {
    ctx.caller.require_server("listing projects")?;
    let q = q.into_inner();
    let page = PageRequest {
        limit: q.limit,
        after: q.after,
        before: q.before,
    };
    let tenancy = &ctx.core.tenancy;
    let p = if ctx.caller.is_operator() {
        tenancy.page_projects(q.q.as_deref(), &page).await?
    } else {
        // A project-limited client sees its own project only.
        let own = tenancy.get_project(ctx.caller.home_project()).await?;
        let needle = q.q.as_deref().map(str::to_lowercase).unwrap_or_default();
        let hits = [own]
            .into_iter()
            .filter(|p| p.name.to_lowercase().contains(needle.trim()))
            .collect();
        page.page_slice(hits, |p| p.id.clone())?
    };
    Ok(HttpResponse::Ok().json(wire::page(p, |p| view(&p))))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ProjectBody)]
pub struct Body {
    name: Option<String>,
    app_name: Option<String>,
    support_email: Option<String>,
    connect_require_key_auth_test: Option<bool>,
}

#[utoipa::path(
    post,
    path = "/v1/connect/projects",
    tag = "projects",
    summary = "Create a project (operator).",
    request_body = Body,
    responses((status = 200, description = "The project.", body = Object))
)]
pub async fn create(ctx: Ctx, body: web::Json<Body>) -> ApiResult<HttpResponse> {
    ctx.caller.require_operator("creating a project")?;
    let b = body.into_inner();
    let p = ctx
        .core
        .tenancy
        .add_project(NewProject {
            name: b
                .name
                .ok_or_else(|| ApiError::bad_request("name is required".into()))?,
            require_key_auth_test: b.connect_require_key_auth_test.unwrap_or(false),
            app_name: b.app_name,
            support_email: b.support_email,
            ..Default::default()
        })
        .await?;
    Ok(HttpResponse::Created().json(view(&p)))
}

#[utoipa::path(
    get,
    path = "/v1/connect/projects/{project}",
    tag = "projects",
    summary = "Retrieve a project.",
    responses((status = 200, description = "The project.", body = Object))
)]
pub async fn retrieve(ctx: Ctx) -> ApiResult<HttpResponse> {
    ctx.caller.require_server("reading a project")?;
    let p = ctx.core.tenancy.get_project(&ctx.tenant.project_id).await?;
    Ok(HttpResponse::Ok().json(view(&p)))
}

/// Changing a project changes it for both environments.
fn may_change(ctx: &Ctx, what: &str) -> ApiResult<()> {
    ctx.caller.require_all_environments(what)?;
    ctx.caller.require_scope("connect:*")?;
    Ok(())
}

#[utoipa::path(
    patch,
    path = "/v1/connect/projects/{project}",
    tag = "projects",
    summary = "Update a project's settings.",
    request_body = Body,
    responses((status = 200, description = "The project.", body = Object))
)]
pub async fn update(ctx: Ctx, body: web::Json<Body>) -> ApiResult<HttpResponse> {
    may_change(&ctx, "changing a project")?;
    let b = body.into_inner();
    let p = ctx
        .core
        .tenancy
        .update_project(
            &ctx.tenant.project_id,
            ProjectPatch {
                name: b.name,
                app_name: b.app_name,
                support_email: b.support_email,
                require_key_auth_test: b.connect_require_key_auth_test,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(view(&p)))
}

#[utoipa::path(
    delete,
    path = "/v1/connect/projects/{project}",
    tag = "projects",
    summary = "Delete a project (operator).",
    responses((status = 204, description = "Deleted."))
)]
pub async fn delete(ctx: Ctx) -> ApiResult<HttpResponse> {
    ctx.caller.require_operator("deleting a project")?;
    let id = &ctx.tenant.project_id;
    if id == ctx.caller.home_project() {
        return Err(ApiError::new(
            crate::codes::ErrorCode::Unprocessable,
            format!(
                "project {id} holds the credentials making this request; delete it with other operator credentials"
            ),
        ));
    }
    ctx.core.tenancy.delete_project(id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LogoBody {
    logo: String,
}

#[utoipa::path(
    post,
    path = "/v1/connect/projects/{project}/logo",
    tag = "projects",
    summary = "Set a project's logo (data URL).",
    request_body = LogoBody,
    responses((status = 204, description = "Stored."))
)]
pub async fn logo(ctx: Ctx, body: web::Json<LogoBody>) -> ApiResult<HttpResponse> {
    may_change(&ctx, "changing a project's logo")?;
    ctx.core
        .tenancy
        .set_project_logo(&ctx.tenant.project_id, &body.logo)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `projects/info`: the apps linked to the caller's project.
#[utoipa::path(
    get,
    path = "/v1/connect/{project}/projects/info",
    tag = "projects",
    summary = "The project's public info and linked apps.",
    responses((status = 200, description = "`{apps: [...]}`.", body = Object))
)]
pub async fn info(ctx: Ctx) -> ApiResult<HttpResponse> {
    let slugs = ctx
        .core
        .accounts
        .linked_apps(&ctx.tenant.project_id)
        .await?;
    let apps: Vec<Value> = slugs
        .iter()
        .map(|s| {
            let id = ctx.core.catalog.get(s).map(|a| a.id.clone());
            json!({"id": id, "name_slug": s})
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "apps": apps })))
}

/// The uploaded logo, for the connect page (no credentials: an `<img>`
/// sends none). The URL carries a version, so it may be cached. An SVG
/// logo may hold script: the CSP sandbox keeps it from running even when
/// the URL is opened directly (`<img>` never runs it).
#[utoipa::path(
    get,
    path = "/_static/connect/logo/{project}",
    tag = "connect page",
    summary = "A project's logo image.",
    responses((status = 200, description = "The image.", body = Object))
)]
pub async fn show_logo(req: HttpRequest) -> ApiResult<HttpResponse> {
    let id = path_param(&req, "project")?;
    let (content_type, bytes) = core(&req).tenancy.project_logo(&id).await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        ))
        .body(bytes))
}
