//! The OpenAPI 3.1 document served at `GET /openapi.json`, generated from
//! the code: operations come from the `#[utoipa::path]` on each handler;
//! then, from the route table, every project-scoped operation is repeated
//! under the project-less path the router also serves, every path parameter
//! a template names is declared, and every operation gets the error body.

use actix_web::HttpResponse;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::routes;

/// Every failure: `{"error": message, "code": name}` (docs/errors.md).
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"error": "external_user_id is required", "code": "invalid_request"}))]
pub struct ErrorBody {
    /// What is wrong, for a human.
    pub error: String,
    /// The catalogue's code, which fixes the status.
    pub code: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard",
        description = "Self-hosted, wire-compatible Pipedream Connect API."
    ),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        document_json,
        routes::apps::list,
        routes::apps::retrieve,
        routes::apps::categories,
        routes::apps::category,
        routes::apps::logo,
        routes::oauth::token,
        routes::components::list,
        routes::components::retrieve,
        routes::components::configure,
        routes::components::reload_props,
        routes::components::create_private,
        routes::components::update_private,
        routes::components::delete_private,
        routes::proxy::forward,
        routes::triggers::inbound,
        routes::app_hooks::inbound,
        routes::connect_page::show,
        routes::connect_page::script,
        routes::connect_page::submit_keys,
        routes::connect_page::oauth_start,
        routes::connect_page::oauth_start_form,
        routes::connect_page::oauth_callback,
        routes::accounts::export,
        routes::accounts::list,
        routes::accounts::retrieve,
        routes::accounts::create,
        routes::accounts::delete,
        routes::accounts::delete_for_app,
        routes::tokens::create,
        routes::tokens::validate,
        routes::projects::list,
        routes::projects::create,
        routes::projects::retrieve,
        routes::projects::update,
        routes::projects::delete,
        routes::projects::logo,
        routes::projects::info,
        routes::projects::show_logo,
        routes::users::list,
        routes::users::delete,
        routes::users::accounts,
        routes::usage::list,
        routes::webhook::get,
        routes::webhook::put,
        routes::webhook::delete,
        routes::webhook::regenerate,
        routes::deliveries::failed,
        routes::deliveries::attempts,
        routes::deliveries::redeliver,
        routes::deliveries::redeliver_range,
        routes::oauth_apps::list,
        routes::oauth_apps::create,
        routes::oauth_apps::retrieve,
        routes::oauth_apps::update,
        routes::oauth_apps::delete,
        routes::app_overrides::list,
        routes::app_overrides::create,
        routes::app_overrides::retrieve,
        routes::app_overrides::update,
        routes::app_overrides::delete,
        routes::file_stash::download,
        routes::actions::run,
        routes::triggers::deploy,
        routes::triggers::list,
        routes::triggers::retrieve,
        routes::triggers::update,
        routes::triggers::delete,
        routes::triggers::events,
        routes::triggers::webhooks,
        routes::triggers::set_webhooks,
        routes::triggers::webhook,
        routes::triggers::regenerate_key,
        routes::triggers::reset_delivery_state,
        routes::triggers::pipelines,
    ),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// Where the project-less twins of project-scoped routes live.
const CONNECT: &str = "/v1/connect/";

/// Documented paths a routed path shares its handler with: its
/// project-scoped form, the `components` form of an `actions`/`triggers`
/// path, the tail-less form of a `{tail}` path.
fn sources(path: &str) -> Vec<String> {
    let base = path.strip_suffix("/{tail}").unwrap_or(path);
    let catalog: Vec<&str> = base
        .split('/')
        .map(|seg| match seg {
            "actions" | "triggers" => "components",
            seg => seg,
        })
        .collect();
    let mut out = vec![base.to_string(), catalog.join("/")];
    let scoped: Vec<String> = out
        .iter()
        .filter_map(|p| Some(format!("{CONNECT}{{project}}/{}", p.strip_prefix(CONNECT)?)))
        .collect();
    out.extend(scoped);
    out
}

/// The document as JSON.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    doc["openapi"] = json!("3.1.0");
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (method, path) in routes::table::routes() {
        if paths.get(&path).and_then(|p| p.get(&method)).is_some() {
            continue;
        }
        let op = sources(&path)
            .iter()
            .find_map(|src| paths.get(src).and_then(|p| p.get(&method)).cloned());
        if let Some(op) = op {
            paths.entry(path).or_insert_with(|| json!({}))[&method] = op;
        }
    }
    for (path, item) in paths.iter_mut() {
        for (method, op) in item.as_object_mut().into_iter().flat_map(|m| m.iter_mut()) {
            // Handler names repeat (`list`, and each twin): unique by route.
            let id = format!("{method}{}", path.replace(['/', '{', '}', '.', '-'], "_"));
            op["operationId"] = json!(id);
            declare_path_params(path, op);
            op["responses"]["default"] = json!({
                "description": "An error; its code (docs/errors.md) fixes the status.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
            });
        }
    }
    doc
}

/// Declares each `{name}` of `path` the operation does not, and drops
/// declared path parameters the path lacks (a project-less twin's
/// `project`).
fn declare_path_params(path: &str, op: &mut Value) {
    let names: Vec<&str> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect();
    let params = op
        .as_object_mut()
        .expect("operation")
        .entry("parameters")
        .or_insert_with(|| json!([]));
    let list = params.as_array_mut().expect("parameters");
    list.retain(|p| p["in"] != "path" || names.iter().any(|n| p["name"] == *n));
    for name in names {
        if !list.iter().any(|p| p["in"] == "path" && p["name"] == name) {
            list.push(json!({
                "name": name,
                "in": "path",
                "required": true,
                "description": describe(name),
                "schema": {"type": "string"},
            }));
        }
    }
    if list.is_empty() {
        op.as_object_mut().expect("operation").remove("parameters");
    }
}

fn describe(param: &str) -> &'static str {
    match param {
        "project" => "Project id (`proj_…`); the project-less form uses the caller's own project.",
        "app" | "app_id" => "App name slug (e.g. `github`) or app id.",
        "account_id" => "Connected account id (`apn_…`).",
        "external_user_id" => "Your id for the end user.",
        "key" => "Component key (e.g. `github-create-issue`).",
        "trigger_id" => "Deployed trigger id (`dc_…`).",
        "webhook_id" => "Id of one of a deployed trigger's webhooks.",
        "delivery_id" => "Delivery id.",
        "ctok" => "Connect token.",
        "url_64" => "The upstream URL, base64url-encoded.",
        "hook_id" => "Webhook ingress id of a deployed trigger.",
        "tail" => "Any further path, passed to the trigger.",
        "ingress_id" => "An app's webhook ingress id.",
        "env" => "`development` or `production`.",
        "id" => "Record id.",
        _ => "Path segment.",
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", body = Object)))]
pub async fn document_json() -> HttpResponse {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    HttpResponse::Ok().json(DOC.get_or_init(document))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Routed but not yet documented. Shrink-only: the test fails when a
    /// listed route gets documented (or stops being routed), so take it out.
    const UNDOCUMENTED: &[(&str, &str)] = &[];

    type Routes = BTreeSet<(String, String)>;

    fn show(set: &Routes) -> String {
        set.iter()
            .map(|(m, p)| format!("    (\"{m}\", \"{p}\"),\n"))
            .collect()
    }

    #[test]
    fn document_and_router_agree() {
        let doc = document();
        let documented: Routes = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(p, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (m.clone(), p.clone()))
            })
            .collect();
        let routed: Routes = routes::table::routes().into_iter().collect();
        let pending: Routes = UNDOCUMENTED
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        let missing: Routes = &(&routed - &documented) - &pending;
        assert!(
            missing.is_empty(),
            "routed, not documented:\n{}",
            show(&missing)
        );
        let unrouted = &documented - &routed;
        assert!(
            unrouted.is_empty(),
            "documented, not routed:\n{}",
            show(&unrouted)
        );
        let done = &pending & &documented;
        assert!(
            done.is_empty(),
            "documented now, drop from UNDOCUMENTED:\n{}",
            show(&done)
        );
        let gone = &pending - &routed;
        assert!(
            gone.is_empty(),
            "no longer routed, drop from UNDOCUMENTED:\n{}",
            show(&gone)
        );
    }

    #[test]
    fn document_is_openapi_3_1_with_an_error_body() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["components"]["schemas"]["ErrorBody"]["required"],
            json!(["error", "code"])
        );
        let op = &doc["paths"]["/healthz"]["get"];
        assert!(op["responses"]["default"].is_object());
        // Each request body names its own schema: structs that share a Rust
        // name (`Body`) are renamed (`#[schema(as = …)]`), else one would
        // silently replace the others.
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        assert!(!schemas.contains_key("Body"), "{:?}", schemas.keys());
        for name in [
            "AppOverrideBody",
            "OAuthAppBody",
            "ProjectBody",
            "WebhookBody",
        ] {
            assert!(schemas.contains_key(name), "{name}: {:?}", schemas.keys());
        }
    }
}
