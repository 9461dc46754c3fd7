//! The component catalog (`components`, `actions`, `triggers`): list,
//! retrieve, remote options (`configure`), reload props (`props`), and the
//! project's private components.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchboard_domain::catalog::ComponentQuery;
use switchboard_domain::components::ManifestKind;

use crate::ctx::{Ctx, path_param};
use crate::error::{ApiError, ApiResult};
use crate::wire;

/// Which of the three prefixes a route serves.
#[derive(Clone, Copy)]
pub enum Prefix {
    Components,
    Actions,
    Triggers,
}

impl Prefix {
    fn kind(self) -> Option<ManifestKind> {
        match self {
            Prefix::Components => None,
            Prefix::Actions => Some(ManifestKind::Action),
            Prefix::Triggers => Some(ManifestKind::Trigger),
        }
    }

    fn read_scope(self) -> &'static str {
        match self {
            Prefix::Triggers => "connect:triggers:read",
            _ => "connect:actions:read",
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    q: Option<String>,
    app: Option<String>,
    registry: Option<String>,
    component_type: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
    before: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/components",
    tag = "components",
    summary = "List components (the same under `actions` and `triggers`, filtered to that kind).",
    params(ListQuery),
    responses((status = 200, description = "A page of components.", body = Object))
)]
pub async fn list(
    ctx: Ctx,
    prefix: web::Data<Prefix>,
    q: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    ctx.caller.require_scope(prefix.read_scope())?;
    let q = q.into_inner();
    let kind = match (prefix.kind(), q.component_type.as_deref()) {
        (Some(k), _) => Some(k),
        (None, None) => None,
        (None, Some("action")) => Some(ManifestKind::Action),
        (None, Some("trigger" | "source")) => Some(ManifestKind::Trigger),
        (None, Some(o)) => {
            return Err(ApiError::bad_request(format!(
                "component_type must be action or trigger, not {o:?}"
            )));
        }
    };
    let page = ctx
        .core
        .components
        .list_components(
            &ctx.tenant,
            &ComponentQuery {
                kind,
                q: q.q,
                app: q.app,
                registry: q.registry,
                limit: q.limit,
                after: q.after,
                before: q.before,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(wire::page(page, |e| {
        wire::component(&e.component, e.private)
    })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RetrieveQuery {
    version: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/components/{key}",
    tag = "components",
    summary = "Retrieve a component.",
    params(RetrieveQuery),
    responses((status = 200, description = "`{data: Component}`.", body = Object))
)]
pub async fn retrieve(
    ctx: Ctx,
    prefix: web::Data<Prefix>,
    req: HttpRequest,
    q: web::Query<RetrieveQuery>,
) -> ApiResult<HttpResponse> {
    ctx.caller.require_scope(prefix.read_scope())?;
    let key = path_param(&req, "key")?;
    let e = ctx
        .core
        .components
        .component(&ctx.tenant, &key, q.version.as_deref())
        .await?;
    if prefix.kind().is_some_and(|k| k != e.component.kind) {
        return Err(ApiError::not_found(format!(
            "{key} is not {}",
            if e.component.is_action() {
                "a trigger"
            } else {
                "an action"
            }
        )));
    }
    Ok(HttpResponse::Ok().json(json!({"data": wire::component(&e.component, e.private)})))
}

/// The user a request acts for: a connect token's own, or the body's.
pub(crate) fn acting_user(ctx: &Ctx, asked: Option<String>) -> ApiResult<String> {
    match (ctx.caller.bound_user(), asked) {
        (Some(own), Some(a)) if own != a => {
            Err(ApiError::Domain(switchboard_domain::Error::Forbidden(
                "a connect token may only act for its own user".into(),
            )))
        }
        (Some(own), _) => Ok(own.to_string()),
        (None, Some(a)) => {
            switchboard_domain::validate::external_user_id_len(&a)?;
            Ok(a)
        }
        (None, None) => Err(ApiError::bad_request("external_user_id is required".into())),
    }
}

pub(crate) fn props_map(v: Option<Value>) -> ApiResult<Map<String, Value>> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(ApiError::bad_request(
            "configured_props must be an object".into(),
        )),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ConfigureBody {
    id: String,
    external_user_id: Option<String>,
    prop_name: String,
    version: Option<String>,
    configured_props: Option<Value>,
    query: Option<String>,
    prev_context: Option<Value>,
    #[allow(dead_code)]
    page: Option<u64>,
    #[allow(dead_code)]
    dynamic_props_id: Option<String>,
    #[allow(dead_code)]
    blocking: Option<bool>,
}

#[utoipa::path(
    post,
    path = "/v1/connect/{project}/components/configure",
    tag = "components",
    summary = "Options for one of a component's props.",
    request_body = ConfigureBody,
    responses((status = 200, description = "`{options, string_options, errors, ...}`.", body = Object))
)]
pub async fn configure(
    ctx: Ctx,
    prefix: web::Data<Prefix>,
    body: web::Json<ConfigureBody>,
) -> ApiResult<HttpResponse> {
    ctx.caller.require_scope(prefix.read_scope())?;
    let b = body.into_inner();
    let ext = acting_user(&ctx, b.external_user_id)?;
    let configured = props_map(b.configured_props)?;
    let r = ctx
        .core
        .components
        .configure_prop(
            &ctx.tenant,
            &b.id,
            b.version.as_deref(),
            &ext,
            &b.prop_name,
            &configured,
            b.query.as_deref(),
            b.prev_context.as_ref(),
        )
        .await?;
    // Plain string options only when that is all they are: clients prefer
    // `stringOptions` over `options`, which would lose labels and types.
    let string_options: Option<Vec<&str>> = r
        .options
        .iter()
        .map(|o| match (&o["value"], &o["label"]) {
            (Value::String(v), Value::String(l)) if v == l => Some(v.as_str()),
            _ => None,
        })
        .collect();
    // The SDKs read camelCase keys here (`stringOptions`); the snake_case
    // copy serves callers following Pipedream's REST docs.
    Ok(HttpResponse::Ok().json(json!({
        "options": r.options,
        "stringOptions": string_options,
        "string_options": string_options,
        "context": r.context,
        "observations": r.observations,
        "errors": r.errors,
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PropsBody {
    id: String,
    external_user_id: Option<String>,
    version: Option<String>,
    configured_props: Option<Value>,
    #[allow(dead_code)]
    dynamic_props_id: Option<String>,
    #[allow(dead_code)]
    blocking: Option<bool>,
}

#[utoipa::path(
    post,
    path = "/v1/connect/{project}/components/props",
    tag = "components",
    summary = "Reload a component's dynamic props.",
    request_body = PropsBody,
    responses((status = 200, description = "`{dynamic_props: {id, configurable_props}}`.", body = Object))
)]
pub async fn reload_props(
    ctx: Ctx,
    prefix: web::Data<Prefix>,
    body: web::Json<PropsBody>,
) -> ApiResult<HttpResponse> {
    ctx.caller.require_scope(prefix.read_scope())?;
    let b = body.into_inner();
    let ext = acting_user(&ctx, b.external_user_id)?;
    switchboard_domain::validate::external_user_id(&ext)?;
    let configured = props_map(b.configured_props)?;
    let (id, props) = ctx
        .core
        .components
        .reload_props(&ctx.tenant, &b.id, b.version.as_deref(), &configured)
        .await?;
    let props: Vec<Value> = props.iter().map(|p| p.wire()).collect();
    // As with `configure`, the SDKs read camelCase keys; snake_case for the docs.
    Ok(HttpResponse::Ok().json(json!({
        "observations": [],
        "errors": [],
        "dynamicProps": {"id": id, "configurableProps": props},
        "dynamic_props": {"id": id, "configurable_props": props},
    })))
}

/// `POST components`: register a private component (a manifest).
#[utoipa::path(
    post,
    path = "/v1/connect/{project}/components",
    tag = "components",
    summary = "Create a private (declarative) component.",
    request_body(content = Object, description = "A component manifest (docs/components.md)."),
    responses((status = 200, description = "The component.", body = Object))
)]
pub async fn create_private(ctx: Ctx, body: web::Json<Value>) -> ApiResult<HttpResponse> {
    ctx.caller.require_server("registering components")?;
    ctx.caller.require_scope("connect:components:write")?;
    let e = ctx
        .core
        .components
        .put_private_component(&ctx.tenant, body.into_inner(), None)
        .await?;
    Ok(HttpResponse::Created().json(json!({"data": wire::component(&e.component, true)})))
}

/// `PUT components/{key}`: replace a private component's manifest.
#[utoipa::path(
    put,
    path = "/v1/connect/{project}/components/{key}",
    tag = "components",
    summary = "Replace a private component.",
    request_body(content = Object, description = "A component manifest (docs/components.md)."),
    responses((status = 200, description = "The component.", body = Object))
)]
pub async fn update_private(
    ctx: Ctx,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    ctx.caller.require_server("updating components")?;
    ctx.caller.require_scope("connect:components:write")?;
    let key = path_param(&req, "key")?;
    let e = ctx
        .core
        .components
        .put_private_component(&ctx.tenant, body.into_inner(), Some(&key))
        .await?;
    Ok(HttpResponse::Ok().json(json!({"data": wire::component(&e.component, true)})))
}

#[utoipa::path(
    delete,
    path = "/v1/connect/{project}/components/{key}",
    tag = "components",
    summary = "Delete a private component.",
    responses((status = 204, description = "Deleted."))
)]
pub async fn delete_private(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    ctx.caller.require_server("deleting components")?;
    ctx.caller.require_scope("connect:components:write")?;
    let key = path_param(&req, "key")?;
    ctx.core
        .components
        .delete_private_component(&ctx.tenant, &key)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
