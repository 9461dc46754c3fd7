//! Deployed triggers (`triggers/deploy`, `deployed-triggers…`) and the
//! per-deployment inbound URLs (`/hooks/{id}`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_domain::delivery::WebhookView;
use switchboard_domain::paging::PageRequest;
use switchboard_domain::triggers::ingest::InboundRequest;
use switchboard_domain::triggers::{DeployRequest, DeploymentView, TriggerUpdate};

use crate::ctx::{Ctx, path_param};
use crate::error::{ApiError, ApiResult};
use crate::routes::components::{acting_user, props_map};
use crate::wire;

/// The deployment in Pipedream's `DeployedComponent` shape; the signing key
/// only for server callers; app-level triggers (no URL of their own) carry
/// their app's shared `app_ingress_url`.
async fn view(ctx: &Ctx, v: &DeploymentView) -> ApiResult<Value> {
    let c = ctx
        .core
        .components
        .component(&ctx.tenant, &v.deployment.component_key, None)
        .await
        .ok()
        .map(|e| e.component);
    let key = ctx
        .caller
        .bound_user()
        .is_none()
        .then_some(v.signing_key.as_str());
    let mut out = wire::deployed_trigger(&v.deployment, c.as_ref(), key);
    if let Some(c) = c.as_ref().filter(|c| c.app_webhook().is_some()) {
        out["app_ingress_url"] = json!(
            ctx.core
                .accounts
                .app_ingress_url_for(&ctx.tenant, &c.app)
                .await?
        );
    }
    Ok(out)
}

const READ: &str = "connect:deployed_triggers:read";
const WRITE: &str = "connect:deployed_triggers:write";

/// After the scope check: the user acted for, and the trigger in the path.
fn target(
    ctx: &Ctx,
    req: &HttpRequest,
    asked: Option<String>,
    scope: &str,
) -> ApiResult<(String, String)> {
    ctx.caller.require_scope(scope)?;
    Ok((acting_user(ctx, asked)?, path_param(req, "trigger_id")?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeployBody {
    id: String,
    external_user_id: Option<String>,
    version: Option<String>,
    configured_props: Option<Value>,
    webhook_url: Option<String>,
    emit_on_deploy: Option<bool>,
    /// Switchboard's extension: deliver in order, one at a time per webhook.
    fifo: Option<bool>,
    #[allow(dead_code)]
    dynamic_props_id: Option<String>,
    #[allow(dead_code)]
    workflow_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/connect/{project}/triggers/deploy",
    tag = "triggers",
    summary = "Deploy a trigger.",
    request_body = DeployBody,
    responses((status = 200, description = "`{data: DeployedComponent}`.", body = Object))
)]
pub async fn deploy(ctx: Ctx, body: web::Json<DeployBody>) -> ApiResult<HttpResponse> {
    ctx.caller
        .require_scope("connect:deployed_triggers:write")?;
    let b = body.into_inner();
    let ext = acting_user(&ctx, b.external_user_id)?;
    let v = ctx
        .core
        .triggers
        .deploy_trigger(
            &ctx.tenant,
            DeployRequest {
                key: b.id,
                version: b.version,
                external_user_id: ext,
                configured_props: props_map(b.configured_props)?,
                webhook_url: b.webhook_url,
                emit_on_deploy: b.emit_on_deploy,
                fifo: b.fifo,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({"data": view(&ctx, &v).await?})))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    external_user_id: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
    before: Option<String>,
    emitter_type: Option<String>,
    n: Option<usize>,
    #[serde(default)]
    ignore_hook_errors: bool,
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/deployed-triggers",
    tag = "deployed triggers",
    summary = "List an end user's deployed triggers.",
    params(UserQuery),
    responses((status = 200, description = "A page of deployed triggers.", body = Object))
)]
pub async fn list(ctx: Ctx, q: web::Query<UserQuery>) -> ApiResult<HttpResponse> {
    ctx.caller.require_scope("connect:deployed_triggers:read")?;
    let q = q.into_inner();
    let ext = acting_user(&ctx, q.external_user_id)?;
    switchboard_domain::validate::external_user_id(&ext)?;
    if let Some(t) = q.emitter_type.as_deref()
        && !matches!(t, "source" | "http" | "timer" | "email")
    {
        return Err(ApiError::bad_request(format!(
            "emitter_type must be source, http, timer or email, not {t:?}"
        )));
    }
    let page = PageRequest {
        limit: q.limit,
        after: q.after,
        before: q.before,
    };
    let p = ctx
        .core
        .triggers
        .list_deployments(&ctx.tenant, &ext, &page)
        .await?;
    let mut data = Vec::new();
    for v in &p.data {
        data.push(view(&ctx, v).await?);
    }
    let page = switchboard_domain::paging::Page {
        data,
        total_count: p.total_count,
        start_cursor: p.start_cursor,
        end_cursor: p.end_cursor,
    };
    Ok(HttpResponse::Ok().json(wire::page(page, |v| v)))
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/deployed-triggers/{trigger_id}",
    tag = "deployed triggers",
    summary = "Retrieve a deployed trigger.",
    params(UserQuery),
    responses((status = 200, description = "`{data: DeployedComponent}`.", body = Object))
)]
pub async fn retrieve(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<UserQuery>,
) -> ApiResult<HttpResponse> {
    let (ext, trigger) = target(&ctx, &req, q.into_inner().external_user_id, READ)?;
    let v = ctx
        .core
        .triggers
        .deployment(&ctx.tenant, &trigger, Some(&ext))
        .await?;
    Ok(HttpResponse::Ok().json(json!({"data": view(&ctx, &v).await?})))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UpdateBody {
    active: Option<bool>,
    configured_props: Option<Value>,
    name: Option<String>,
    emit_on_deploy: Option<bool>,
    /// Switchboard's extension: deliver in order, one at a time per webhook.
    fifo: Option<bool>,
}

#[utoipa::path(
    put,
    path = "/v1/connect/{project}/deployed-triggers/{trigger_id}",
    tag = "deployed triggers",
    summary = "Update a deployed trigger.",
    params(UserQuery),
    request_body = UpdateBody,
    responses((status = 200, description = "`{data: DeployedComponent}`.", body = Object))
)]
pub async fn update(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<UserQuery>,
    body: web::Json<UpdateBody>,
) -> ApiResult<HttpResponse> {
    let (ext, trigger) = target(&ctx, &req, q.into_inner().external_user_id, WRITE)?;
    let b = body.into_inner();
    let configured_props = match b.configured_props {
        None => None,
        some => Some(props_map(some)?),
    };
    let v = ctx
        .core
        .triggers
        .update_deployment(
            &ctx.tenant,
            &trigger,
            &ext,
            TriggerUpdate {
                active: b.active,
                configured_props,
                name: b.name,
                emit_on_deploy: b.emit_on_deploy,
                fifo: b.fifo,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({"data": view(&ctx, &v).await?})))
}

#[utoipa::path(
    delete,
    path = "/v1/connect/{project}/deployed-triggers/{trigger_id}",
    tag = "deployed triggers",
    summary = "Delete a deployed trigger.",
    params(UserQuery),
    responses((status = 204, description = "Deleted."))
)]
pub async fn delete(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<UserQuery>,
) -> ApiResult<HttpResponse> {
    let q = q.into_inner();
    let (ext, trigger) = target(&ctx, &req, q.external_user_id, WRITE)?;
    ctx.core
        .triggers
        .delete_deployment(&ctx.tenant, &trigger, &ext, q.ignore_hook_errors)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/deployed-triggers/{trigger_id}/events",
    tag = "deployed triggers",
    summary = "A deployed trigger's recent events.",
    params(UserQuery),
    responses((status = 200, description = "`{data: [...]}`.", body = Object))
)]
pub async fn events(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<UserQuery>,
) -> ApiResult<HttpResponse> {
    let q = q.into_inner();
    let (ext, trigger) = target(&ctx, &req, q.external_user_id, READ)?;
    let evs = ctx
        .core
        .triggers
        .deployment_events(&ctx.tenant, &trigger, &ext, q.n.unwrap_or(20))
        .await?;
    Ok(HttpResponse::Ok().json(json!({"data": evs})))
}

fn webhooks_reply(ctx: &Ctx, views: &[WebhookView]) -> Value {
    let server = ctx.caller.bound_user().is_none();
    json!({
        "webhook_urls": views.iter().map(|v| v.webhook.url.clone()).collect::<Vec<_>>(),
        "webhooks": views.iter().map(|v| wire::trigger_webhook(v, server)).collect::<Vec<_>>(),
    })
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/deployed-triggers/{trigger_id}/webhooks",
    tag = "deployed triggers",
    summary = "A deployed trigger's webhooks.",
    params(UserQuery),
    responses((status = 200, description = "`{webhook_urls}`.", body = Object))
)]
pub async fn webhooks(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<UserQuery>,
) -> ApiResult<HttpResponse> {
    let (ext, trigger) = target(&ctx, &req, q.into_inner().external_user_id, READ)?;
    let v = ctx
        .core
        .triggers
        .trigger_webhooks(&ctx.tenant, &trigger, &ext)
        .await?;
    Ok(HttpResponse::Ok().json(webhooks_reply(&ctx, &v)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct WebhooksBody {
    webhook_urls: Vec<String>,
}

#[utoipa::path(
    put,
    path = "/v1/connect/{project}/deployed-triggers/{trigger_id}/webhooks",
    tag = "deployed triggers",
    summary = "Replace a deployed trigger's webhooks.",
    params(UserQuery),
    request_body = WebhooksBody,
    responses((status = 200, description = "`{webhook_urls}`.", body = Object))
)]
pub async fn set_webhooks(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<UserQuery>,
    body: web::Json<WebhooksBody>,
) -> ApiResult<HttpResponse> {
    let (ext, trigger) = target(&ctx, &req, q.into_inner().external_user_id, WRITE)?;
    let v = ctx
        .core
        .triggers
        .set_trigger_webhooks(&ctx.tenant, &trigger, &ext, body.into_inner().webhook_urls)
        .await?;
    Ok(HttpResponse::Ok().json(webhooks_reply(&ctx, &v)))
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/deployed-triggers/{trigger_id}/webhooks/{webhook_id}",
    tag = "deployed triggers",
    summary = "One webhook of a deployed trigger.",
    params(UserQuery),
    responses((status = 200, description = "The webhook.", body = Object))
)]
pub async fn webhook(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<UserQuery>,
) -> ApiResult<HttpResponse> {
    let (ext, trigger) = target(&ctx, &req, q.into_inner().external_user_id, READ)?;
    let v = ctx
        .core
        .triggers
        .trigger_webhook(
            &ctx.tenant,
            &trigger,
            &ext,
            &path_param(&req, "webhook_id")?,
        )
        .await?;
    let server = ctx.caller.bound_user().is_none();
    Ok(HttpResponse::Ok().json(json!({"data": wire::trigger_webhook(&v, server)})))
}

/// What a POST on one webhook does.
enum WebhookOp {
    RegenerateKey,
    ResetDeliveryState,
}

async fn webhook_op(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<UserQuery>,
    op: WebhookOp,
) -> ApiResult<HttpResponse> {
    ctx.caller.require_server("changing a webhook")?;
    let (ext, trigger) = target(&ctx, &req, q.into_inner().external_user_id, WRITE)?;
    let wh = path_param(&req, "webhook_id")?;
    let core = &ctx.core;
    let v = match op {
        WebhookOp::RegenerateKey => {
            core.triggers
                .regenerate_webhook_key(&ctx.tenant, &trigger, &ext, &wh)
                .await?
        }
        WebhookOp::ResetDeliveryState => {
            core.triggers
                .reset_delivery_state(&ctx.tenant, &trigger, &ext, &wh)
                .await?
        }
    };
    Ok(HttpResponse::Ok().json(json!({"data": wire::trigger_webhook(&v, true)})))
}

#[utoipa::path(
    post,
    path = "/v1/connect/{project}/deployed-triggers/{trigger_id}/webhooks/{webhook_id}/regenerate_signing_key",
    tag = "deployed triggers",
    summary = "Regenerate a trigger webhook's signing key.",
    params(UserQuery),
    responses((status = 200, description = "The webhook with its new key.", body = Object))
)]
pub async fn regenerate_key(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<UserQuery>,
) -> ApiResult<HttpResponse> {
    webhook_op(ctx, req, q, WebhookOp::RegenerateKey).await
}

/// Re-enables a webhook the delivery state machine deactivated.
#[utoipa::path(
    post,
    path = "/v1/connect/{project}/deployed-triggers/{trigger_id}/webhooks/{webhook_id}/reset_delivery_state",
    tag = "deployed triggers",
    summary = "Reset a trigger webhook's delivery state.",
    params(UserQuery),
    responses((status = 200, description = "The webhook.", body = Object))
)]
pub async fn reset_delivery_state(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<UserQuery>,
) -> ApiResult<HttpResponse> {
    webhook_op(ctx, req, q, WebhookOp::ResetDeliveryState).await
}

/// An inbound request as received: method, path, query, headers (those
/// that are text) and the raw body, which signature checks need.
pub(crate) fn inbound_request(req: &HttpRequest, path: String, body: &[u8]) -> InboundRequest {
    InboundRequest {
        method: req.method().as_str().to_string(),
        path,
        query: serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
        headers: req
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_string(), Value::String(v.to_string())))
            })
            .collect(),
        body: body.to_vec(),
    }
}

/// `ANY /hooks/{hook_id}[/…]`: the request becomes an event, persisted
/// before it is acknowledged. Unknown, paused and deleted hooks are 404.
/// An id that cannot be one (not 27 base62 characters) is a 404 before
/// anything is read or counted; the per-URL rate limit counts only live
/// URLs (in the domain, after the route is found).
#[utoipa::path(
    method(get, post, put, patch, delete),
    path = "/hooks/{hook_id}",
    tag = "hooks",
    summary = "A deployed trigger's webhook ingress.",
    responses((status = 200, description = "Accepted.", body = Object))
)]
pub async fn inbound(req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let core = crate::ctx::core(&req);
    let hook_id = req.match_info().get("hook_id").unwrap_or_default();
    if !switchboard_domain::validate::hook_id(hook_id) {
        return Err(ApiError::not_found("no active trigger at this URL".into()));
    }
    let hook_id = hook_id.to_string();
    let r = core
        .triggers
        .receive(
            &hook_id,
            inbound_request(
                &req,
                format!("/{}", req.match_info().get("tail").unwrap_or_default()),
                &body,
            ),
        )
        .await?;
    Ok(HttpResponse::build(StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK)).json(r.body))
}

/// `deployed-triggers/{id}/pipelines` (`listWorkflows`/`updateWorkflows`):
/// Switchboard runs no workflows, so there is nothing to map them to. A
/// 422 with its own code rather than 404 (the route exists) or 501 (both
/// SDKs retry 5xx answers).
#[utoipa::path(
    method(get, put),
    path = "/v1/connect/{project}/deployed-triggers/{trigger_id}/pipelines",
    tag = "deployed triggers",
    summary = "Workflow pipelines (not supported: always empty).",
    responses((status = 200, description = "`{data: []}`.", body = Object))
)]
pub async fn pipelines(_ctx: Ctx) -> ApiResult<HttpResponse> {
    Err(ApiError::new(
        crate::codes::ErrorCode::WorkflowsNotSupported,
        "Switchboard has no workflows: deployed triggers deliver their events to webhooks \
         (deployedTriggers.listWebhooks / updateWebhooks), not to pipelines",
    ))
}
